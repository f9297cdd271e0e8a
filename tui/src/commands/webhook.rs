//! `veil webhook list`.

use veil_shared::api::WebhookList;

use crate::cli::webhook::WebhookCommand;
use crate::failure::Failure;
use crate::output;
use crate::session::{Reply, Session};

pub async fn run(session: &mut Session<'_>, cmd: WebhookCommand) -> Result<Reply, Failure> {
    match cmd {
        WebhookCommand::List => {
            let (raw, page) = session.call(WebhookList {}).await?;
            Ok(Reply {
                raw,
                human: output::webhook::list(&page),
            })
        }
    }
}
