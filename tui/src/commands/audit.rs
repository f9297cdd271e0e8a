//! `veil audit`.

use veil_shared::api::AuditList;

use crate::cli::AuditArgs;
use crate::failure::Failure;
use crate::output;
use crate::session::{Reply, Session};

pub async fn run(session: &mut Session<'_>, args: AuditArgs) -> Result<Reply, Failure> {
    let params = AuditList {
        key: args.key,
        limit: args.limit,
    };
    let (raw, page) = session.call(params).await?;
    let human = output::audit::audit(&page);
    Ok(Reply { raw, human })
}
