//! `veil`: the command-line client of `veild`; with no subcommand, its dashboard
//! (`veil::dash`, in the library).
//!
//! - [`cli`]: the command line (clap types).
//! - [`commands`]: connect, call, print.
//! - [`output`]: the text for people; [`table`] and [`humanize`] help it.
//! - [`failure`]: exit codes and error messages.

mod cli;
mod commands;
mod doctor;
mod failure;
mod humanize;
mod init;
mod output;
mod share;
mod table;
mod traffic;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    // clap prints its own errors and exits 2 for usage mistakes, 0 for --help/--version.
    let cli = Cli::parse();
    let socket = cli.socket_path();
    let result = match cli.command {
        Some(command) => run(command, &socket, cli.json),
        // No subcommand: the dashboard (on a terminal; elsewhere a usage error, exit 2).
        None => veil::dash::run(&socket).map_err(|e| match e {
            veil::dash::RunError::NotATerminal => Failure::Usage(e.to_string()),
            veil::dash::RunError::Io(_) => Failure::Local(e.to_string()),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Nowhere is left to report a failing stderr; the exit code still tells.
            let _ = io::stderr().write_all(failure.message().as_bytes());
            ExitCode::from(failure.exit_code())
        }
    }
}

/// One command on a current-thread runtime: `veil` makes one connection at a time.
fn run(command: Command, socket: &Path, json: bool) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Local(format!("cannot start the async runtime: {e}")))?;
    let mut stdout = io::stdout().lock();
    runtime.block_on(commands::execute(command, socket, json, &mut stdout))
}
