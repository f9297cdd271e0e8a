//! The command line as clap types. Parsing only: nothing here talks to the daemon.
//!
//! Values that can be checked without the daemon (key references, states, bulk counts,
//! sizes and dates) are checked here, so a typo is a usage error (exit 2) before any
//! connection is made. [`key`] and [`traffic`] hold their command groups' flags;
//! [`values`] the value parsers they share.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use veil_shared::model::KeyRef;
use veil_shared::{DEFAULT_SOCKET, SOCKET_ENV};

pub mod key;
pub mod node;
pub mod token;
pub mod traffic;
pub mod values;
pub mod webhook;

use self::key::KeyCommand;
use self::traffic::TrafficArgs;

/// Manage the keys of a Veil (Xray) server through veild.
#[derive(Debug, Parser)]
#[command(name = "veil", version, max_term_width = 100)]
pub struct Cli {
    /// The daemon's socket [default: $VEIL_SOCKET, else /run/veil/veil.sock].
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help_heading = "Global options"
    )]
    pub socket: Option<PathBuf>,

    /// Print the method's result as JSON on stdout, for scripts.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// The dashboard's own log: append to FILE (created 0600) the connections to veild,
    /// the calls and their failures. Off by default; never written to the terminal.
    #[arg(long, value_name = "FILE", env = "VEIL_LOG_FILE")]
    pub log_file: Option<PathBuf>,

    /// The level of `--log-file`: error, warn, info, debug, trace, or a filter.
    #[arg(long, value_name = "LEVEL", default_value = "info", env = "VEIL_LOG")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The socket to use: `--socket`, else a non-empty `VEIL_SOCKET`, else the default.
    pub fn socket_path(&self) -> PathBuf {
        resolve_socket(self.socket.clone(), std::env::var_os(SOCKET_ENV))
    }
}

/// Kept apart from the environment so the precedence can be tested without touching it.
/// An empty variable counts as unset: `VEIL_SOCKET= veil …` should not mean "connect to ''".
pub fn resolve_socket(flag: Option<PathBuf>, env: Option<OsString>) -> PathBuf {
    flag.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, change and delete keys.
    #[command(subcommand)]
    #[command(after_help = key::HYPHEN_NAMES)]
    Key(KeyCommand),
    /// Show the daemon's, the database's and the core's health. Exit 0 when healthy, 4 when
    /// the core is down, 5 when changes are stuck (refused by the core, config not written).
    Health,
    /// Show recorded changes, newest first.
    Audit(AuditArgs),
    /// API tokens of veild's HTTP API: add (prints the secret once), list, revoke.
    #[command(subcommand)]
    Token(self::token::TokenCommand),
    /// Webhooks veild delivers events to (set in veild.toml): their queues and last errors.
    #[command(subcommand)]
    Webhook(self::webhook::WebhookCommand),
    /// A fleet node: every node of the fleet, one in full, drain one (or put it back).
    #[command(subcommand)]
    Node(self::node::NodeCommand),
    /// Print key events as they happen, until veild closes or Ctrl-C.
    Watch,
    /// Per-key traffic: totals, live rates, history, resets (default: the list).
    Traffic(TrafficArgs),
    /// Write a ready-to-run core config (VLESS + REALITY + Vision) and veild.toml.
    Init(crate::init::InitArgs),
    /// Check the setup through veild and print each problem with its fix (exit 1 if any).
    Doctor,
    /// Print a shell completion script: `veil completions bash > /etc/bash_completion.d/veil`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `veil manpage | gzip > /usr/share/man/man1/veil.1.gz`.
    Manpage,
    /// Back the database up now: a consistent, verified copy, 0600, taken while veild runs.
    Backup {
        /// An absolute path on veild's machine (not existing yet); default: a new file in
        /// `[backup] directory`, older ones rotated out.
        #[arg(long, value_name = "FILE")]
        to: Option<String>,
    },
    /// Put a backup in place of the database. veild must be stopped; the replaced files are
    /// kept beside it. Runs `veild --restore` with veild's config.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
        /// veild's config file (for the database and socket paths).
        #[arg(long, value_name = "PATH", default_value = "/etc/veil/veild.toml")]
        config: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries about this key (id, UUID or name).
    #[arg(long, value_name = "KEY", value_parser = values::key_ref)]
    pub key: Option<KeyRef>,

    /// Show at most N entries (the daemon's default is 100).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use clap::CommandFactory;
    use clap::error::ErrorKind;

    use veil_shared::api::BULK_MAX;
    use veil_shared::model::KeyState;

    use super::key::StateArg;
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("veil").chain(args.iter().copied()))
    }

    fn key_command(args: &[&str]) -> KeyCommand {
        match parse(args).unwrap().command {
            Some(Command::Key(cmd)) => cmd,
            other => panic!("not a key command: {other:?}"),
        }
    }

    /// Asserts a usage error of the given kind, which clap turns into exit code 2.
    fn assert_usage_error(args: &[&str], kind: ErrorKind) {
        let err = parse(args).expect_err("should not parse");
        assert_eq!(err.kind(), kind, "{args:?}: {err}");
        assert_eq!(err.exit_code(), 2, "{args:?}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn add_takes_a_name_and_a_note() {
        let KeyCommand::Add(add) = key_command(&["key", "add", "alice", "--note", "phone"]) else {
            panic!("not add");
        };
        assert_eq!(add.name.as_deref(), Some("alice"));
        assert_eq!(add.note.as_deref(), Some("phone"));
        assert_eq!(add.count, None);
    }

    #[test]
    fn add_in_bulk_needs_count_and_prefix_together() {
        let KeyCommand::Add(add) = key_command(&["key", "add", "--count", "5", "--prefix", "p"])
        else {
            panic!("not add");
        };
        assert_eq!((add.count, add.prefix.as_deref()), (Some(5), Some("p")));

        assert_usage_error(
            &["key", "add", "--count", "5"],
            ErrorKind::MissingRequiredArgument,
        );
        assert_usage_error(
            &["key", "add", "--prefix", "p"],
            ErrorKind::MissingRequiredArgument,
        );
        assert_usage_error(&["key", "add"], ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn add_refuses_a_name_with_count() {
        let args = ["key", "add", "bob", "--count", "3", "--prefix", "p"];
        assert_usage_error(&args, ErrorKind::ArgumentConflict);
        let args = ["key", "add", "--count", "3", "--prefix", "p", "--note", "n"];
        assert_usage_error(&args, ErrorKind::ArgumentConflict);
    }

    #[test]
    fn add_count_is_bounded() {
        for bad in ["0", "-1", "10001", "many"] {
            let args = ["key", "add", "--count", bad, "--prefix", "p"];
            let err = parse(&args).expect_err(bad);
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        let max = BULK_MAX.to_string();
        assert!(parse(&["key", "add", "--count", &max, "--prefix", "p"]).is_ok());
    }

    #[test]
    fn key_references_are_checked_locally() {
        let KeyCommand::Show(arg) = key_command(&["key", "show", "17"]) else {
            panic!("not show");
        };
        assert_eq!(arg.key, KeyRef::Id(17));
        let KeyCommand::Disable(arg) = key_command(&["key", "disable", "bob"]) else {
            panic!("not disable");
        };
        assert_eq!(arg.key, KeyRef::Name("bob".into()));
        let uuid = "6F1C1F4E-8A5E-4D43-9A57-1B0A4B3C2D1E";
        let KeyCommand::Rm(arg) = key_command(&["key", "rm", uuid]) else {
            panic!("not rm");
        };
        assert!(matches!(arg.key, KeyRef::Uuid(_)));

        assert_usage_error(&["key", "show", "0"], ErrorKind::ValueValidation);
        assert_usage_error(&["key", "show", ""], ErrorKind::ValueValidation);
        assert_usage_error(&["key", "enable", "  "], ErrorKind::ValueValidation);
        assert_usage_error(&["audit", "--key", "0"], ErrorKind::ValueValidation);
        // A negative number reads as an unknown flag before it reaches the parser; still 2.
        assert_eq!(parse(&["key", "show", "-3"]).unwrap_err().exit_code(), 2);
        assert_eq!(
            parse(&["key", "show", "--", "-3"]).unwrap_err().exit_code(),
            2
        );
    }

    #[test]
    fn add_reads_sizes_and_dates_with_the_shared_rules() {
        let args = [
            "key",
            "add",
            "x",
            "--limit",
            "10GB",
            "--expires",
            "2027-01-31",
        ];
        let KeyCommand::Add(add) = key_command(&args) else {
            panic!("not add");
        };
        let create = add.create_params().unwrap();
        assert_eq!(create.data_limit, Some(10_000_000_000));
        assert_eq!(create.expires_at, Some(1_801_439_999));
        assert_usage_error(
            &["key", "add", "x", "--limit", "lots"],
            ErrorKind::ValueValidation,
        );
        assert_usage_error(
            &["key", "add", "x", "--expires", "3y"],
            ErrorKind::ValueValidation,
        );
    }

    #[test]
    fn rename_and_note_take_two_values() {
        let KeyCommand::Rename { key, name } = key_command(&["key", "rename", "7", "новое имя"])
        else {
            panic!("not rename");
        };
        assert_eq!((key, name.as_str()), (KeyRef::Id(7), "новое имя"));
        // An empty note is how a note is cleared, so it must parse.
        let KeyCommand::Note { text, .. } = key_command(&["key", "note", "bob", ""]) else {
            panic!("not note");
        };
        assert_eq!(text, "");
        assert_usage_error(
            &["key", "rename", "bob"],
            ErrorKind::MissingRequiredArgument,
        );
    }

    #[test]
    fn list_filters_parse() {
        let args = [
            "key", "list", "--state", "disabled", "--search", "ph", "--offset", "10", "--limit",
            "5",
        ];
        let KeyCommand::List(list) = key_command(&args) else {
            panic!("not list");
        };
        assert_eq!(list.state, Some(StateArg::Disabled));
        assert_eq!(KeyState::from(StateArg::Disabled), KeyState::Disabled);
        assert_eq!(list.search.as_deref(), Some("ph"));
        assert_eq!((list.offset, list.limit), (Some(10), Some(5)));
        assert_usage_error(
            &["key", "list", "--state", "frozen"],
            ErrorKind::InvalidValue,
        );
        assert_usage_error(
            &["key", "list", "--limit", "-1"],
            ErrorKind::UnknownArgument,
        );
    }

    #[test]
    fn token_commands_parse() {
        let cli = parse(&["token", "add", "billing", "--read-only", "--expires", "30d"]).unwrap();
        let Some(Command::Token(self::token::TokenCommand::Add(add))) = cli.command else {
            panic!("not token add");
        };
        assert_eq!(add.name, "billing");
        assert!(add.read_only);
        assert!(add.expires.and_then(|e| e.0).is_some());
        assert!(parse(&["token", "list"]).is_ok());
        assert!(parse(&["token", "revoke", "billing"]).is_ok());
        assert_usage_error(&["token", "revoke"], ErrorKind::MissingRequiredArgument);
        assert_usage_error(
            &["token", "add", "x", "--expires", "soon"],
            ErrorKind::ValueValidation,
        );
    }

    #[test]
    fn webhook_list_parses() {
        let cli = parse(&["webhook", "list", "--json"]).unwrap();
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Some(Command::Webhook(self::webhook::WebhookCommand::List))
        ));
        assert_usage_error(
            &["webhook"],
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand,
        );
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = parse(&["key", "list", "--json", "--socket", "/tmp/s"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s")));
        let cli = parse(&["--json", "health"]).unwrap();
        assert!(cli.json);
        assert!(matches!(cli.command, Some(Command::Health)));
    }

    #[test]
    fn no_subcommand_parses_for_the_dashboard_hint() {
        assert!(parse(&[]).unwrap().command.is_none());
        assert_usage_error(&["frobnicate"], ErrorKind::InvalidSubcommand);
        assert_usage_error(
            &["key"],
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand,
        );
    }

    #[test]
    fn socket_flag_beats_env_beats_default() {
        let flag = Some(PathBuf::from("/flag"));
        let env = Some(OsString::from("/env"));
        assert_eq!(resolve_socket(flag, env.clone()), PathBuf::from("/flag"));
        assert_eq!(resolve_socket(None, env), PathBuf::from("/env"));
        assert_eq!(resolve_socket(None, None), PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(
            resolve_socket(None, Some(OsString::new())),
            PathBuf::from(DEFAULT_SOCKET)
        );
    }
}
