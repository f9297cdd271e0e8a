//! `veil key link|config|qr`: a key's share link, client config and QR code.

use veil_shared::api::{KeyConfig, KeyGet, KeyLink};
use veil_shared::qr::{self, Colors, TERMINAL_COLUMNS};

use crate::cli::{ConfigArgs, KeyArg, QrArgs};
use crate::commands::{Reply, Session};
use crate::failure::Failure;
use crate::table::one_line;

pub async fn link(session: &mut Session<'_>, arg: KeyArg) -> Result<Reply, Failure> {
    let (raw, result) = session.call(KeyLink { key: arg.key }).await?;
    Ok(Reply {
        raw,
        human: format!("{}\n", result.link),
    })
}

/// For people, the config itself (so `veil key config alice > config.json` works); with
/// `--json`, the result object `{config}`.
pub async fn config(session: &mut Session<'_>, args: ConfigArgs) -> Result<Reply, Failure> {
    let params = KeyConfig {
        key: args.key,
        socks_port: args.socks_port,
        http_port: args.http_port,
    };
    let (raw, result) = session.call(params).await?;
    let mut human = serde_json::to_string_pretty(&result.config)
        .map_err(|e| Failure::Local(format!("cannot write the config: {e}")))?;
    human.push('\n');
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
    let mut human = format!("{}\n\n", code.text);
    if !code.fits() {
        human.push_str(&format!(
            "(this code is {} columns wide, more than {TERMINAL_COLUMNS}: widen the terminal, or \
             shorten the key's name)\n",
            code.columns
        ));
    }
    human.push_str(&format!(
        "key {} '{}'\n{}\n",
        key.id,
        one_line(&key.name),
        result.link
    ));
    Ok(Reply { raw, human })
}
