//! `veil webhook list` for people, and the webhooks' lines of `veil health`.

use veil::format::utc_minute;
use veil::text::one_line;
use veil_shared::api::{WebhookPage, WebhookStatus};

use super::table::{Align, Table};

/// `veil webhook list`: one row per webhook, then each one's last error.
pub fn list(page: &WebhookPage) -> String {
    if page.webhooks.is_empty() {
        return "no webhooks (add a [[webhook]] to veild.toml and restart veild)\n".to_owned();
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("URL", Align::Left),
        ("EVENTS", Align::Left),
        ("PENDING", Align::Right),
        ("FAILED", Align::Right),
        ("DELIVERED", Align::Right),
        ("LAST SUCCESS (UTC)", Align::Left),
    ]);
    for w in &page.webhooks {
        table.push(vec![
            one_line(&w.name).into_owned(),
            one_line(&w.url).into_owned(),
            one_line(&w.events.join(",")).into_owned(),
            w.pending.to_string(),
            w.failed.to_string(),
            w.delivered.to_string(),
            w.last_success_at.map_or_else(|| "-".to_owned(), utc_minute),
        ]);
    }
    let mut out = table.render();
    for w in &page.webhooks {
        if let Some(error) = &w.last_error {
            out.push_str(&format!(
                "{}: last error{}: {}\n",
                one_line(&w.name),
                w.last_attempt_at
                    .map(|at| format!(" at {} UTC", utc_minute(at)))
                    .unwrap_or_default(),
                one_line(error)
            ));
        }
    }
    out
}

/// One webhook on one line of `veil health`.
pub fn health_line(w: &WebhookStatus) -> String {
    let mut line = format!(
        "{} → {}: {} pending, {} failed, {} delivered",
        one_line(&w.name),
        one_line(&w.url),
        w.pending,
        w.failed,
        w.delivered
    );
    if let Some(at) = w.last_success_at {
        line.push_str(&format!(", last success {} UTC", utc_minute(at)));
    }
    if let Some(error) = &w.last_error {
        line.push_str(&format!("; last error: {}", one_line(error)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WebhookStatus {
        WebhookStatus {
            name: "billing".into(),
            url: "https://admin.example.com/hook".into(),
            events: vec!["key.created".into(), "key.disabled".into()],
            pending: 2,
            failed: 1,
            delivered: 40,
            last_attempt_at: Some(1_795_708_000),
            last_success_at: Some(1_795_707_960),
            last_error: Some("HTTP 500 Internal Server Error".into()),
        }
    }

    #[test]
    fn list_shows_queues_and_the_last_error() {
        let text = list(&WebhookPage {
            webhooks: vec![sample()],
        });
        assert!(text.contains("billing"), "{text}");
        assert!(text.contains("https://admin.example.com/hook"), "{text}");
        assert!(text.contains("key.created,key.disabled"), "{text}");
        assert!(text.contains("billing: last error at"), "{text}");
        assert!(text.contains("HTTP 500"), "{text}");
        assert!(list(&WebhookPage::default()).starts_with("no webhooks"));
    }

    #[test]
    fn health_line_says_how_many_wait_and_why() {
        let line = health_line(&sample());
        assert!(
            line.starts_with(
                "billing → https://admin.example.com/hook: 2 pending, 1 failed, 40 delivered"
            ),
            "{line}"
        );
        assert!(line.contains("HTTP 500"), "{line}");
    }
}
