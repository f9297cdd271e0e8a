//! `veild`: the Veil daemon. It alone owns the key database, the link to the core and the
//! core's config file, and serves clients on a Unix socket.
//!
//! This file is process plumbing (arguments, logging, runtime); the daemon itself is the
//! `veild` library, started by [`veild::daemon::run`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use veild::config;

#[derive(Debug, Parser)]
#[command(
    name = "veild",
    version,
    about = "Veil daemon: keys, core link and config file for an Xray VLESS server"
)]
struct Args {
    /// The config file.
    #[arg(long, short, default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Log level or filter (e.g. `debug`, `veild=trace`); overrides RUST_LOG.
    #[arg(long)]
    log_level: Option<String>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Check the config file and exit.
    #[arg(long)]
    check: bool,
    /// Inspect the setup (core config, database, socket) without starting, print each
    /// problem with its fix, and exit non-zero if anything is wrong. Works while veild is
    /// stopped; `veil doctor` asks a running veild instead.
    #[arg(long, conflicts_with = "check")]
    doctor: bool,
    /// With --doctor: print the report as JSON.
    #[arg(long, requires = "doctor")]
    json: bool,
    /// Put the backup FILE in place of the database (veild must be stopped; the current
    /// files are moved aside, never deleted), then exit. The next start resyncs the core.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check", "doctor"])]
    restore: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// The fleet's registry in PostgreSQL, as its owner (not a node) runs it.
    #[command(subcommand)]
    Fleet(FleetCommand),
}

#[derive(Debug, clap::Subcommand)]
enum FleetCommand {
    /// Creates the registry's schema, or brings it up to this veild's.
    Init {
        /// The owner's connection string (better in the environment than on the command
        /// line, where other users can read it).
        #[arg(long, env = "VEIL_FLEET_OWNER", hide_env_values = true)]
        database: String,
        /// PEM file of the CA that signed the server's certificate (default: the system's).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
    },
    /// Registers a node (or gives a registered one a new password): a PostgreSQL role of
    /// its own that may read the registry and write only its own rows.
    AddNode {
        /// The node's name, as `[fleet] node` will say.
        name: String,
        #[arg(long, env = "VEIL_FLEET_OWNER", hide_env_values = true)]
        database: String,
        /// PEM file of the CA that signed the server's certificate (default: the system's).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// Write the password to this file (mode 0600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Keeps the log file's writer thread alive (and flushes it) until `main` returns.
type LogGuard = Option<tracing_appender::non_blocking::WorkerGuard>;

/// Logs go to stderr, scrubbed; the time is left out when stderr is the journal (which
/// stamps every line); `[log] directory` adds daily files. The level: `--log-level`, else
/// `RUST_LOG`, else `[log] level`, else `info`.
fn init_logging(args: &Args) -> anyhow::Result<LogGuard> {
    // The config is read here only for [log]; a broken one is reported by the start itself.
    let log = std::fs::read_to_string(&args.config)
        .ok()
        .and_then(|text| config::Config::parse_offline(&text, &args.config).ok())
        .map(|c| c.log)
        .unwrap_or_default();
    let filter = match (&args.log_level, &log.level) {
        (Some(level), _) => {
            EnvFilter::try_new(level).with_context(|| format!("--log-level '{level}'"))?
        }
        (None, fallback) => EnvFilter::try_from_default_env().or_else(|_| {
            EnvFilter::try_new(fallback.as_deref().unwrap_or("info"))
                .with_context(|| format!("[log] level = {fallback:?}"))
        })?,
    };
    let (file, guard) = match &log.directory {
        Some(dir) => {
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("veild.log")
                .max_log_files(log.keep)
                .build(dir)
                .with_context(|| format!("[log] directory = {}", dir.display()))?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (Some(writer), Some(guard))
        }
        None => (None, None),
    };
    let writer = veild::logging::Sinks { file };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(veild::logging::Scrubbed(writer))
        // No colours: the scrubber escapes every control character, the formatter's too.
        .with_ansi(false);
    match (args.log_format, veild::logging::stderr_is_journal()) {
        (LogFormat::Text, false) => builder.init(),
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Json, _) => builder.json().init(),
    }
    Ok(guard)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _log_guard = match init_logging(&args) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("veild: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("veild: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        return match config::Config::load(&args.config) {
            Ok(cfg) => {
                println!("{}: OK", args.config.display());
                println!("core test command: {}", cfg.test_command().join(" "));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("veild: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Fleet(command)) = &args.command {
        return fleet_admin(command);
    }
    if let Some(backup) = &args.restore {
        return restore(&args.config, backup);
    }
    if args.doctor {
        let report = runtime.block_on(veild::doctor::run_offline(&args.config));
        let text = if args.json {
            serde_json::to_string_pretty(&report).map(|mut t| {
                t.push('\n');
                t
            })
        } else {
            Ok(report.render_text())
        };
        return match text {
            Ok(text) => {
                print!("{text}");
                if report.ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("veild: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(veild::daemon::run(&args.config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("veild: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `veild --restore FILE`: the backup in place of the database, veild stopped.
fn restore(config: &std::path::Path, backup: &std::path::Path) -> ExitCode {
    let restored = config::Config::load(config)
        .map_err(|e| e.to_string())
        .and_then(|cfg| veild::restore::run(&cfg, backup));
    match restored {
        Ok(r) => {
            println!(
                "restored {} ({} keys) from {}",
                r.database.display(),
                r.keys,
                backup.display()
            );
            for aside in &r.moved_aside {
                println!("kept the replaced file as {}", aside.display());
            }
            println!("start veild to put every active key back into the core");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("veild: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `veild fleet …`: the registry's owner at work; no daemon starts.
fn fleet_admin(command: &FleetCommand) -> ExitCode {
    use veild::fleet::admin::Owner;
    let done = match command {
        FleetCommand::Init { database, ca_file } => veild::fleet::admin::init(&Owner {
            url: database,
            ca_file: ca_file.as_deref(),
        })
        .map(|(before, after)| {
            if before == after {
                println!("the registry's schema is up to date (version {after})");
            } else {
                println!("the registry's schema went from version {before} to {after}");
            }
        }),
        FleetCommand::AddNode {
            name,
            database,
            ca_file,
            password_file,
        } => veild::fleet::admin::add_node(
            &Owner {
                url: database,
                ca_file: ca_file.as_deref(),
            },
            name,
        )
        .and_then(|(role, password)| {
            println!("node {name}: PostgreSQL role {role}");
            match password_file {
                Some(path) => write_secret(path, &password).map(|()| {
                    println!("password written to {}", path.display());
                }),
                None => {
                    println!("password: {password}");
                    Ok(())
                }
            }
            .map(|()| {
                println!(
                    "in that node's veild.toml: [fleet] node = \"{name}\", database = \"host=… dbname=… user={role} password=…\""
                );
            })
        }),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("veild: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A new file only its owner reads.
fn write_secret(path: &std::path::Path, secret: &str) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    writeln!(file, "{secret}").map_err(|e| format!("writing {}: {e}", path.display()))
}
