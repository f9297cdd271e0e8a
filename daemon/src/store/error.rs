//! What the store reports: a database failure, or a broken rule of the data that is the
//! caller's to hear about (with the kind the service passes on).

use thiserror::Error;

use crate::error::{ErrorKind, ServiceError};

#[derive(Debug, Error, Clone)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(String),
    #[error("database schema: {0}")]
    Schema(String),
    #[error("the database writer has stopped")]
    Closed,
    /// A rule of the data was broken (duplicate name, unknown key…): the caller's fault,
    /// reported to it with this kind and message.
    #[error("{message}")]
    Rejected { kind: ErrorKind, message: String },
}

impl StoreError {
    pub fn rejected(kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError::Rejected {
            kind,
            message: message.into(),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e.to_string())
    }
}

impl From<StoreError> for ServiceError {
    /// A broken rule keeps its kind and words; anything else is internal and logged here,
    /// once, where it surfaces.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rejected { kind, message } => ServiceError { kind, message },
            other => {
                tracing::error!(error = %other, "request failed inside the daemon");
                ServiceError::internal(format!("internal error: {other}"))
            }
        }
    }
}
