//! `veil key link|config|qr|sub`: a key's share link, client config, QR code and
//! subscription URL.

use veil_shared::api::{KeyConfig, KeyGet, KeyLink, KeySub};
use veil_shared::qr::{self, Colors};

use crate::cli::key::{ConfigArgs, KeyArg, QrArgs, SubArgs};
use crate::failure::Failure;
use crate::output::share;
use crate::session::{Reply, Session};

pub async fn link(session: &mut Session<'_>, arg: KeyArg) -> Result<Reply, Failure> {
    let (raw, result) = session.call(KeyLink { key: arg.key }).await?;
    let human = share::link(&result.link);
    Ok(Reply { raw, human })
}

/// For people, the config itself; with `--json`, the result object `{config}`.
pub async fn config(session: &mut Session<'_>, args: ConfigArgs) -> Result<Reply, Failure> {
    let params = KeyConfig {
        key: args.key,
        socks_port: args.socks_port,
        http_port: args.http_port,
    };
    let (raw, result) = session.call(params).await?;
    let human = share::config(&result.config)
        .map_err(|e| Failure::Local(format!("cannot write the config: {e}")))?;
    Ok(Reply { raw, human })
}

pub async fn qr(session: &mut Session<'_>, args: QrArgs) -> Result<Reply, Failure> {
    let (raw, result) = session
        .call(KeyLink {
            key: args.key.clone(),
        })
        .await?;
    let (_, key) = session.call(KeyGet { key: args.key }).await?;
    let colors = if args.invert {
        Colors::Inverted
    } else {
        Colors::DarkTerminal
    };
    let code = qr::render(&result.link, colors)
        .map_err(|e| Failure::Local(format!("{e}; use `veil key link` instead")))?;
    let human = share::qr(&code, &key, &result.link);
    Ok(Reply { raw, human })
}

/// The subscription URL and its QR code; `--revoke` says it ended.
pub async fn sub(session: &mut Session<'_>, args: SubArgs) -> Result<Reply, Failure> {
    let (raw, result) = session
        .call(KeySub {
            key: args.key.clone(),
            rotate: args.rotate,
            revoke: args.revoke,
        })
        .await?;
    let (_, key) = session.call(KeyGet { key: args.key }).await?;
    let code = match result.url.as_deref() {
        Some(url) if !args.no_qr => {
            let colors = if args.invert {
                Colors::Inverted
            } else {
                Colors::DarkTerminal
            };
            qr::render(url, colors).ok()
        }
        _ => None,
    };
    let human = share::sub(&result, &key, code.as_ref(), args.rotate);
    Ok(Reply { raw, human })
}
