//! Runs one command: connect, make the call, print the result (JSON or for people).
//!
//! One file per command group ([`key`], [`traffic`], [`share`], [`audit`], [`doctor`],
//! [`health`], [`watch`], [`token`]); each makes its calls through a [`Session`] and hands back a [`Reply`] (or,
//! for the streaming and checking ones, writes itself). They use the layers below them
//! (`cli`, `session`, `output`, `sink`, `failure`), never this module; only [`key`] uses
//! a sibling ([`share`], for `key link|config|qr`).

use std::io::Write;
use std::path::Path;

use crate::cli::Command;
use crate::failure::Failure;
use crate::output;
use crate::session::Session;
use crate::sink::write;

pub mod audit;
pub mod doctor;
pub mod health;
pub mod key;
pub mod node;
pub mod share;
pub mod token;
pub mod traffic;
pub mod watch;
pub mod webhook;

/// Connects to the daemon at `socket` and runs `command`, printing to `out`.
pub async fn execute(
    command: Command,
    socket: &Path,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    // Completions and the manual page describe the command line; no daemon needed.
    match &command {
        Command::Completions { shell } => {
            let mut cli = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cli, "veil", &mut script);
            return write(out, &String::from_utf8_lossy(&script)).map(|_| ());
        }
        Command::Restore { file, config } => return restore(file, config),
        Command::Manpage => {
            let cli = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(cli)
                .render(&mut page)
                .map_err(|e| Failure::Local(format!("rendering the manual page: {e}")))?;
            return write(out, &String::from_utf8_lossy(&page)).map(|_| ());
        }
        _ => {}
    }
    // `init` writes files and needs no daemon.
    if let Command::Init(args) = &command {
        let written = crate::init::run(args, socket)?;
        let text = if json {
            output::json(&serde_json::to_value(&written).unwrap_or_default())
        } else {
            crate::init::summary(&written)
        };
        return write(out, &text).map(|_| ());
    }
    let mut session = match Session::connect(socket).await {
        Ok(session) => session,
        Err(failure) => {
            if matches!(command, Command::Doctor) {
                eprint!("{}", doctor::OFFLINE_HINT);
            }
            return Err(failure);
        }
    };
    let reply = match command {
        Command::Key(cmd) => key::run(&mut session, cmd).await?,
        Command::Health => return health::run(&mut session, json, out).await,
        Command::Audit(args) => audit::run(&mut session, args).await?,
        Command::Token(cmd) => token::run(&mut session, cmd).await?,
        Command::Webhook(cmd) => webhook::run(&mut session, cmd).await?,
        Command::Node(cmd) => node::run(&mut session, cmd).await?,
        Command::Traffic(args) => traffic::run(&mut session, args).await?,
        Command::Watch => return watch::run(&mut session, json, out).await,
        Command::Doctor => return doctor::run(&mut session, json, out).await,
        // Handled above, before connecting.
        Command::Backup { to } => {
            let (raw, done) = session.call(veil_shared::api::BackupParams { to }).await?;
            crate::session::Reply {
                raw,
                human: output::backup(&done),
            }
        }
        Command::Init(_)
        | Command::Completions { .. }
        | Command::Manpage
        | Command::Restore { .. } => return Ok(()),
    };
    let text = if json {
        output::json(&reply.raw)
    } else {
        reply.human
    };
    write(out, &text).map(|_| ())
}

/// `veil restore`: runs `veild --restore` (found beside `veil`, else on the PATH), which
/// refuses while veild runs; its output and exit code are the command's.
fn restore(file: &Path, config: &Path) -> Result<(), Failure> {
    let beside = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("veild"))
        .filter(|p| p.exists());
    let veild = beside.unwrap_or_else(|| "veild".into());
    let status = std::process::Command::new(&veild)
        .arg("--config")
        .arg(config)
        .arg("--restore")
        .arg(file)
        .status()
        .map_err(|e| Failure::Local(format!("running {}: {e}", veild.display())))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::Local(
            "the restore did not happen (see above)".into(),
        ))
    }
}
