//! Webhooks' delivery status: `webhook.list` and the webhooks' part of `health`. The
//! figures come from the outbox; names, URLs (scrubbed) and kinds from the config.

use veil_shared::api::{WebhookPage, WebhookStatus};

use super::{Service, ServiceResult};
use crate::store::webhooks;

impl Service {
    /// Every configured webhook with its queue and last attempt.
    pub async fn webhook_list(&self) -> ServiceResult<WebhookPage> {
        if self.config.webhooks.is_empty() {
            return Ok(WebhookPage::default());
        }
        let stats = self.store.read(webhooks::stats).await?;
        let list = self
            .config
            .webhooks
            .iter()
            .map(|hook| {
                let found = stats.iter().find(|s| s.name == hook.name);
                let s = found.cloned().unwrap_or_default();
                WebhookStatus {
                    name: hook.name.clone(),
                    url: hook.shown_url.clone(),
                    events: hook.events.clone(),
                    pending: s.pending,
                    failed: s.failed,
                    delivered: s.delivered,
                    last_attempt_at: s.last_attempt_at,
                    last_success_at: s.last_success_at,
                    last_error: s.last_error,
                }
            })
            .collect();
        Ok(WebhookPage { webhooks: list })
    }
}
