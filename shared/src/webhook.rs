//! Webhooks on the wire: `webhook.list` and the webhooks' part of `health`. What a receiver
//! gets (the signed POST) is described in the README; veild builds it.

use serde::{Deserialize, Serialize};

/// `webhook.list`: every configured webhook with its delivery status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookList {}

/// The answer to `webhook.list`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookPage {
    pub webhooks: Vec<WebhookStatus>,
}

/// One webhook as `health` and `webhook.list` report it: never its secret, and its URL
/// without user info or query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookStatus {
    pub name: String,
    pub url: String,
    /// Event kinds it wants (`*`: all).
    pub events: Vec<String>,
    /// Deliveries waiting for their (next) attempt.
    pub pending: u64,
    /// Deliveries given up on (too many attempts, or too old).
    pub failed: u64,
    /// Deliveries the receiver accepted (2xx).
    pub delivered: u64,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<i64>,
    /// The last failed attempt's status or error, cleared by the next success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
