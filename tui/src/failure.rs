//! Why a command failed, and the exit code and message each reason gets.
//!
//! Scripts branch on the exit code: 1 the daemon refused (or could not be understood),
//! 2 usage (clap's own, or the dashboard without a terminal), 3 the daemon could not be reached
//! or went away. The message is for people and goes to stderr.

use std::io;
use std::path::{Path, PathBuf};

use veil::text::one_line;
use veil_shared::client::ClientError;
use veil_shared::rpc::RpcError;

pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;
/// `veil health`: the core is down (or not checked yet).
pub const EXIT_CORE_DOWN: u8 = 4;
/// `veil health`: changes are stuck (refused by the core, or the config not written).
pub const EXIT_STUCK: u8 = 5;

#[derive(Debug)]
pub enum Failure {
    /// The daemon answered the request with an error.
    Refused(RpcError),
    /// The daemon speaks another protocol or sent something unreadable.
    Protocol(String),
    /// No connection could be made.
    Unreachable { socket: PathBuf, source: io::Error },
    /// The connection broke, or the daemon closed it (`detail` says which).
    Lost { socket: PathBuf, detail: String },
    /// The command line asked for something `veil` cannot do.
    Usage(String),
    /// Something on this side failed (the async runtime, writing to stdout).
    Local(String),
    /// `veil health` printed a state that is not healthy: its exit code and why.
    Unhealthy { code: u8, why: String },
}

impl Failure {
    pub fn from_client(err: ClientError, socket: &Path) -> Self {
        match err {
            ClientError::Rpc(e) => Failure::Refused(e),
            ClientError::Connect { path, source } => Failure::Unreachable {
                socket: path,
                source,
            },
            ClientError::Io(e) => Failure::Lost {
                socket: socket.to_owned(),
                detail: e.to_string(),
            },
            e @ (ClientError::Protocol(_) | ClientError::Version { .. }) => {
                Failure::Protocol(e.to_string())
            }
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused(_) | Failure::Protocol(_) | Failure::Local(_) => EXIT_REFUSED,
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Unreachable { .. } | Failure::Lost { .. } => EXIT_UNREACHABLE,
            Failure::Unhealthy { code, .. } => *code,
        }
    }

    /// The lines for stderr, each starting `veil: `. Whatever came from the daemon (or from
    /// the user's own input echoed back) is made one line without control characters: an
    /// error message must not recolor the terminal or forge a line.
    pub fn message(&self) -> String {
        match self {
            // RpcError shows as "message (code)": the code is what a reader can search for.
            Failure::Refused(e) => format!("veil: {}\n", one_line(&e.to_string())),
            Failure::Unreachable { socket, source } => format!(
                "veil: cannot connect to veild at {}: {source}\n{}",
                socket.display(),
                hint(socket)
            ),
            // It was reachable a moment ago, so permissions are not the question.
            Failure::Lost { socket, detail } => format!(
                "veil: lost the connection to veild at {}: {}\n\
                 veil: check that veild is still running (systemctl status veild)\n",
                socket.display(),
                one_line(detail)
            ),
            Failure::Protocol(detail)
            | Failure::Usage(detail)
            | Failure::Local(detail)
            | Failure::Unhealthy { why: detail, .. } => {
                format!("veil: {}\n", one_line(detail))
            }
        }
    }
}

/// Both usual causes in one line: no daemon, or a user outside the socket's group.
fn hint(socket: &Path) -> String {
    format!(
        "veil: check that veild is running (systemctl status veild) and that you are in the \
         group that owns the socket (ls -l {}); use --socket or VEIL_SOCKET for another path\n",
        socket.display()
    )
}

#[cfg(test)]
mod tests {
    use veil_shared::rpc::ErrorCode;

    use super::*;

    #[test]
    fn refusals_exit_1_with_the_daemon_message_and_code() {
        let err = ClientError::Rpc(RpcError::new(ErrorCode::NotFound, "key 'bob' not found"));
        let failure = Failure::from_client(err, Path::new("/s"));
        assert_eq!(failure.exit_code(), 1);
        assert_eq!(failure.message(), "veil: key 'bob' not found (not_found)\n");
    }

    #[test]
    fn unreachable_exits_3_and_names_the_socket() {
        let err = ClientError::Connect {
            path: "/run/veil/veil.sock".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        let failure = Failure::from_client(err, Path::new("/ignored"));
        assert_eq!(failure.exit_code(), 3);
        let msg = failure.message();
        assert!(msg.starts_with("veil: cannot connect to veild at /run/veil/veil.sock: "));
        assert!(msg.contains("veild is running"), "{msg}");
        assert!(msg.contains("group"), "{msg}");
    }

    #[test]
    fn a_lost_connection_exits_3() {
        let err = ClientError::Io(io::Error::from(io::ErrorKind::UnexpectedEof));
        let failure = Failure::from_client(err, Path::new("/s"));
        assert_eq!(failure.exit_code(), 3);
        assert!(failure.message().contains("veild at /s"));
    }

    #[test]
    fn incompatible_daemons_exit_1() {
        let err = ClientError::Version {
            daemon: 2,
            client: 1,
        };
        let failure = Failure::from_client(err, Path::new("/s"));
        assert_eq!(failure.exit_code(), 1);
        assert!(failure.message().contains("protocol 2"));
    }
}
