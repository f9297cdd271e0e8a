//! Errors from the core link, split by what the caller should do about them.

use tonic::{Code, Status};

/// Why a call to the core failed.
///
/// The split matters for recovery: only [`CoreError::Transport`] is worth
/// retrying (the core is restarting or unreachable); a [`CoreError::Rejected`]
/// call will fail the same way again.
#[derive(thiserror::Error, Debug)]
pub enum CoreError {
    /// The core could not be reached or did not answer in time: connection
    /// refused, UNAVAILABLE, deadline exceeded, cancelled, broken HTTP/2.
    #[error("core unreachable: {0}")]
    Transport(String),
    /// The core answered with an error status (e.g. unknown inbound tag, bad
    /// UUID). `code` is the gRPC status code; the message is the core's text.
    #[error("core rejected the call (gRPC code {code}): {message}")]
    Rejected { code: i32, message: String },
    /// The operation does not exist on this core flavor.
    #[error("not supported by this core: {0}")]
    Unsupported(&'static str),
    /// The link's own settings are unusable (e.g. a malformed API address).
    #[error("invalid core link settings: {0}")]
    Config(String),
    /// The core answered, but its reply could not be understood.
    #[error("unexpected reply from the core: {0}")]
    Protocol(String),
}

impl CoreError {
    /// True for errors that a later retry may cure.
    pub fn is_transient(&self) -> bool {
        matches!(self, CoreError::Transport(_))
    }

    /// The core's message if it rejected the call with gRPC code 2 (UNKNOWN),
    /// which is how both cores report plain Go errors such as
    /// "User X already exists.".
    pub(super) fn go_error_text(&self) -> Option<&str> {
        match self {
            CoreError::Rejected { code, message } if *code == Code::Unknown as i32 => {
                Some(message.as_str())
            }
            _ => None,
        }
    }
}

impl From<Status> for CoreError {
    /// Classifies a status. Codes that mean "the call never got a real answer"
    /// become `Transport`. An UNKNOWN status that carries a local error source
    /// was produced by our own HTTP/2 stack (e.g. the core died mid-call),
    /// not sent by the core, so it is a transport failure too.
    fn from(status: Status) -> Self {
        let code = status.code();
        let local_failure = code == Code::Unknown && std::error::Error::source(&status).is_some();
        match code {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                CoreError::Transport(format!("{code:?}: {}", status.message()))
            }
            _ if local_failure => CoreError::Transport(format!("{code:?}: {}", status.message())),
            _ => CoreError::Rejected {
                code: code as i32,
                message: status.message().to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(CoreError::from(Status::unavailable("down")).is_transient());
        assert!(CoreError::from(Status::deadline_exceeded("slow")).is_transient());
        assert!(CoreError::from(Status::cancelled("Timeout expired")).is_transient());
        let rejected = CoreError::from(Status::unknown("x: User a@b already exists."));
        assert!(!rejected.is_transient());
        assert_eq!(
            rejected.go_error_text(),
            Some("x: User a@b already exists.")
        );
        let unimplemented = CoreError::from(Status::unimplemented("unknown method"));
        assert!(matches!(
            unimplemented,
            CoreError::Rejected { code: 12, .. }
        ));
        assert_eq!(unimplemented.go_error_text(), None);
    }
}
