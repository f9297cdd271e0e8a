//! `veil webhook …`: the webhooks veild delivers events to (configured in veild.toml).

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// List the webhooks with their queues: pending, failed, delivered, the last error.
    List,
}
