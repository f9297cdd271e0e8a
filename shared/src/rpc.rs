//! The JSON-RPC 2.0 envelope. One JSON object per line in each direction.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const JSONRPC: &str = "2.0";

/// A stable, machine-readable error kind carried in `error.data.code`. Scripts branch on
/// this, never on message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request was malformed, a parameter had the wrong type, or a value broke a rule.
    InvalidInput,
    /// No such method.
    UnknownMethod,
    /// No such key (or audit entry…).
    NotFound,
    /// The request collides with existing state (a duplicate name, a deleted key).
    Conflict,
    /// The core cannot be reached and the request needs it now.
    CoreUnavailable,
    /// The peer is not root and not in the socket group.
    Forbidden,
    /// The client speaks another protocol version.
    VersionMismatch,
    /// Every connection slot open to this caller is taken (its uid's cap, or the total);
    /// close idle connections or try again later.
    TooManyConnections,
    /// Something failed inside the daemon; the log has details.
    Internal,
    /// A fleet node cannot reach the registry (PostgreSQL): changes are refused until it
    /// returns; every key keeps working.
    RegistryUnavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::InvalidInput,
        ErrorCode::UnknownMethod,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::CoreUnavailable,
        ErrorCode::Forbidden,
        ErrorCode::VersionMismatch,
        ErrorCode::TooManyConnections,
        ErrorCode::Internal,
        ErrorCode::RegistryUnavailable,
    ];

    /// The numeric JSON-RPC code: the standard ones where they fit, the server range
    /// (-32000…-32099) for the rest.
    pub fn rpc_code(self) -> i64 {
        match self {
            ErrorCode::InvalidInput => -32602,
            ErrorCode::UnknownMethod => -32601,
            ErrorCode::Internal => -32603,
            ErrorCode::NotFound => -32001,
            ErrorCode::Conflict => -32002,
            ErrorCode::CoreUnavailable => -32003,
            ErrorCode::Forbidden => -32004,
            ErrorCode::VersionMismatch => -32005,
            ErrorCode::TooManyConnections => -32006,
            ErrorCode::RegistryUnavailable => -32007,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::UnknownMethod => "unknown_method",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::CoreUnavailable => "core_unavailable",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::Internal => "internal",
            ErrorCode::RegistryUnavailable => "registry_unavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// JSON-RPC's code for a line that is not JSON at all.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC's code for JSON that is not a request object.
pub const INVALID_REQUEST: i64 = -32600;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorData {
    pub code: ErrorCode,
}

/// The `error` member of a response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: ErrorData,
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: code.rpc_code(),
            message: message.into(),
            data: ErrorData { code },
        }
    }

    /// For a line that is not JSON.
    pub fn parse_error(message: impl Into<String>) -> Self {
        Self {
            code: PARSE_ERROR,
            ..Self::new(ErrorCode::InvalidInput, message)
        }
    }

    /// For JSON that is not a request object, or a line over the cap.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self {
            code: INVALID_REQUEST,
            ..Self::new(ErrorCode::InvalidInput, message)
        }
    }

    pub fn kind(&self) -> ErrorCode {
        self.data.code
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.data.code)
    }
}

impl std::error::Error for RpcError {}

/// A request as it arrives. `id` absent makes it a notification, which this daemon still
/// executes but does not answer (JSON-RPC 2.0 §4.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    pub jsonrpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// A response: exactly one of `result` and `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    pub jsonrpc: String,
    pub id: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

impl ResponseEnvelope {
    pub fn ok(id: Value, result: Value) -> Self {
        Self {
            jsonrpc: JSONRPC.into(),
            id,
            result: Some(result),
            error: None,
        }
    }

    pub fn err(id: Value, error: RpcError) -> Self {
        Self {
            jsonrpc: JSONRPC.into(),
            id,
            result: None,
            error: Some(error),
        }
    }
}

/// A server-to-client notification (`event.*`): no id, never answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationEnvelope {
    pub jsonrpc: String,
    pub method: String,
    pub params: Value,
}

/// Anything the server may send on a line: a response or a notification.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ServerMessage {
    Response(ResponseEnvelope),
    Notification(NotificationEnvelope),
}
