//! The page a browser gets at a subscription URL: the key's name, its state, usage against
//! the limit, the expiry, QR codes of the subscription URL and of the link, and one-tap
//! import links. One self-contained document: inline CSS and SVG, no script, no external
//! asset; every value from the key is HTML-escaped.

use std::fmt::Write;

use veil_shared::link::encode_component;
use veil_shared::subscription::{self, render};

use crate::service::subs::SubView;

/// Text safe in element content and in double- or single-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Bytes for people: `1.5 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn date(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
background:#f3f4f6;color:#111827}\
main{max-width:32rem;margin:0 auto;padding:1rem}\
h1{font-size:1.4rem;margin:.2rem 0 .6rem;overflow-wrap:anywhere}\
section{background:#fff;border-radius:.8rem;padding:1rem;margin:0 0 1rem;\
box-shadow:0 1px 3px rgba(0,0,0,.08)}\
h2{font-size:1rem;margin:0 0 .6rem}\
.state{display:inline-block;padding:.1rem .6rem;border-radius:1rem;font-size:.9rem}\
.ok{background:#dcfce7;color:#166534}.off{background:#fee2e2;color:#991b1b}\
meter{width:100%;height:1.1rem}\
.qr{width:100%;max-width:18rem;display:block;margin:.4rem auto}\
.qr svg{width:100%;height:auto;display:block}\
.apps a{display:block;text-align:center;padding:.75rem;margin:.4rem 0;border-radius:.6rem;\
background:#1d4ed8;color:#fff;text-decoration:none;font-weight:600}\
input{width:100%;font:inherit;font-size:.8rem;padding:.5rem;border:1px solid #d1d5db;\
border-radius:.4rem}\
small{color:#6b7280}\
@media (prefers-color-scheme:dark){body{background:#111827;color:#f9fafb}\
section{background:#1f2937}small{color:#9ca3af}}";

fn usage(view: &SubView, out: &mut String) {
    let s = &view.sub;
    let used = s.upload.saturating_add(s.download);
    out.push_str("<section><h2>Usage</h2>");
    match s.data_limit {
        Some(limit) if limit > 0 => {
            let _ = write!(
                out,
                "<meter min=\"0\" max=\"{limit}\" low=\"{}\" high=\"{}\" value=\"{}\"></meter>\
                 <p>{} of {} ({}%)</p>",
                limit / 10 * 7,
                limit / 10 * 9,
                used.min(limit),
                size(used),
                size(limit),
                used.saturating_mul(100) / limit
            );
        }
        _ => {
            let _ = write!(out, "<p>{} used, no data limit</p>", size(used));
        }
    }
    let _ = write!(
        out,
        "<small>up {} · down {}</small></section>",
        size(s.upload),
        size(s.download)
    );
}

fn expiry(view: &SubView, now: i64, out: &mut String) {
    out.push_str("<section><h2>Expiry</h2><p>");
    match view.sub.expires_at {
        Some(at) if at > now => {
            let days = (at - now) / 86_400;
            let _ = write!(out, "{} (in {days} days)", date(at));
        }
        Some(at) => {
            let _ = write!(out, "expired {}", date(at));
        }
        None => out.push_str("never"),
    }
    out.push_str("</p></section>");
}

fn qr(title: &str, data: &str, out: &mut String) {
    out.push_str("<section><h2>");
    out.push_str(title);
    out.push_str("</h2>");
    match veil_shared::qr::svg(data) {
        Ok(svg) => {
            let _ = write!(out, "<div class=\"qr\" role=\"img\">{svg}</div>");
        }
        Err(_) => out.push_str("<p>too long for a QR code</p>"),
    }
    let _ = write!(
        out,
        "<input readonly value=\"{}\" aria-label=\"{}\"></section>",
        escape(data),
        escape(title)
    );
}

/// One-tap import links for the common apps, each carrying the percent-encoded URL.
pub fn import_links(url: &str, name: &str) -> Vec<(&'static str, String)> {
    let u = encode_component(url);
    let n = encode_component(name);
    vec![
        ("v2rayNG", format!("v2rayng://install-config?url={u}#{n}")),
        (
            "sing-box (SFA, SFI)",
            format!("sing-box://import-remote-profile?url={u}#{n}"),
        ),
        ("Hiddify", format!("hiddify://import/{url}#{n}")),
        (
            "Clash Verge, FlClash, mihomo",
            format!("clash://install-config?url={u}&name={n}"),
        ),
        ("Streisand", format!("streisand://import/{url}#{n}")),
        ("Happ", format!("happ://add/{url}")),
    ]
}

/// The whole page for `view`, whose subscription URL is `url`, at `now`.
pub fn render(view: &SubView, url: &str, now: i64) -> String {
    let name = escape(&view.sub.name);
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta name=\"robots\" content=\"noindex,nofollow\">\
         <title>{name} · Veil</title><style>{STYLE}</style></head><body><main>\
         <h1>{name}</h1>"
    );
    match view.sub.inactive(now) {
        None => out.push_str("<p><span class=\"state ok\">active</span></p>"),
        Some(why) => {
            let _ = write!(
                out,
                "<p><span class=\"state off\">{}</span></p>",
                escape(why.label())
            );
        }
    }
    usage(view, &mut out);
    expiry(view, now, &mut out);
    out.push_str("<section class=\"apps\"><h2>Add to your app</h2>");
    for (app, link) in import_links(url, &view.sub.name) {
        let _ = write!(
            out,
            "<a href=\"{}\" rel=\"noreferrer\">{}</a>",
            escape(&link),
            escape(app)
        );
    }
    out.push_str(
        "<small>Or scan the code below in the app; it refreshes the profile by itself.</small>\
         </section>",
    );
    qr("Subscription URL", url, &mut out);
    let entries = subscription::entries(&view.sub, &view.servers, now);
    if view.sub.inactive(now).is_none() {
        qr("Share link", &render::links(&entries), &mut out);
    }
    out.push_str("<small>Keep this page to yourself: the address is your key.</small>");
    out.push_str("</main></body></html>");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use veil_shared::model::KeyState;
    use veil_shared::reality::{Endpoint, Security};
    use veil_shared::subscription::headers::HeaderSettings;
    use veil_shared::subscription::{Server, SubKey};

    use super::*;

    fn view(name: &str) -> SubView {
        let key = SubKey {
            name: name.into(),
            uuid: uuid::Uuid::from_u128(9),
            state: KeyState::Active,
            disable_reason: None,
            upload: 1024,
            download: 3 * 1024 * 1024,
            data_limit: Some(10 * 1024 * 1024 * 1024),
            expires_at: Some(2_000_000_000),
        };
        SubView {
            key: veil_shared::model::Key {
                id: 1,
                uuid: key.uuid,
                name: key.name.clone(),
                note: String::new(),
                created_at: 0,
                updated_at: 0,
                state: KeyState::Active,
                applied: None,
                pending: false,
                disable_reason: None,
                data_limit: key.data_limit,
                expires_at: key.expires_at,
                apply_error: None,
                nodes: None,
            },
            sub: key,
            servers: vec![Server {
                host: "vpn.example.com".into(),
                endpoint: Endpoint {
                    port: 443,
                    network: "tcp".into(),
                    flow: String::new(),
                    security: Security::None,
                },
                label: None,
            }],
            settings: HeaderSettings::default(),
            base: None,
        }
    }

    #[test]
    fn hostile_names_are_escaped_everywhere() {
        let name = "</title><script>alert(1)</script>\"'&";
        let html = render(&view(name), "https://v.example/sub/abc", 1_900_000_000);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;/title&gt;&lt;script&gt;"));
        assert!(html.contains("&quot;&#39;&amp;"));
        assert_eq!(html.matches("<title>").count(), 1);
        assert!(html.contains("<meter") && html.contains("<svg"));
        assert!(!html.contains("http://") || html.contains("http://www.w3.org/2000/svg"));
    }

    #[test]
    fn import_links_carry_the_encoded_url() {
        let links = import_links("https://v.example/sub/a_b-c", "Ж x");
        let v2rayng = &links[0].1;
        assert_eq!(
            v2rayng,
            "v2rayng://install-config?url=https%3A%2F%2Fv.example%2Fsub%2Fa_b-c#%D0%96%20x"
        );
        assert!(links[1].1.starts_with(
            "sing-box://import-remote-profile?url=https%3A%2F%2Fv.example%2Fsub%2Fa_b-c#"
        ));
        assert_eq!(escape("a\u{7}b"), "a\u{FFFD}b");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(12), "12 B");
    }
}
