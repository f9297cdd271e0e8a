//! What went wrong, as every front end sees it: a kind and a message for people. No wire
//! format lives here; the socket maps a kind to its JSON-RPC code, the HTTP API to a status.

use std::fmt;

/// A stable kind of failure. Its name is the `code` scripts branch on (and the audit
/// trail's outcome), so the strings never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A value broke a rule (name, limit, count…).
    InvalidInput,
    /// No such key.
    NotFound,
    /// The request collides with existing state (a duplicate name, a deleted key).
    Conflict,
    /// The core cannot be reached and the request needs it now.
    CoreUnavailable,
    /// No valid credentials: an API token that is unknown, revoked or expired.
    Unauthorized,
    /// Something failed inside the daemon, or it is stopping; the log has details.
    Internal,
    /// A fleet node cannot reach the registry and the change needs it.
    RegistryUnavailable,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::CoreUnavailable => "core_unavailable",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Internal => "internal",
            ErrorKind::RegistryUnavailable => "registry_unavailable",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused or failed service call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ServiceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}
