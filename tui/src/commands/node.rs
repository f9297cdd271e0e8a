//! `veil node list|show|drain`.

use veil_shared::fleet::{NodeDrainParams, NodeListParams};
use veil_shared::rpc::{ErrorCode, RpcError};

use crate::cli::node::NodeCommand;
use crate::failure::Failure;
use crate::output;
use crate::session::{Reply, Session};

pub async fn run(session: &mut Session<'_>, cmd: NodeCommand) -> Result<Reply, Failure> {
    match cmd {
        NodeCommand::List => {
            let (raw, list) = session.call(NodeListParams {}).await?;
            Ok(Reply {
                raw,
                human: output::node::list(&list, now()),
            })
        }
        NodeCommand::Show { name } => {
            let (_, list) = session.call(NodeListParams {}).await?;
            let Some(node) = list.nodes.iter().find(|n| n.name == name) else {
                return Err(Failure::Refused(RpcError::new(
                    ErrorCode::NotFound,
                    format!("no node {name:?} in the fleet (`veil node list` lists them)"),
                )));
            };
            Ok(Reply {
                raw: serde_json::to_value(node).unwrap_or_default(),
                human: output::node::show(node, now()),
            })
        }
        NodeCommand::Drain { name, undo } => {
            let (raw, node) = session.call(NodeDrainParams { node: name, undo }).await?;
            Ok(Reply {
                raw,
                human: format!(
                    "node {} {}\n",
                    veil::text::one_line(&node.name),
                    if node.draining {
                        "drained: left out of subscriptions, still serving its keys"
                    } else {
                        "in service: listed in subscriptions"
                    }
                ),
            })
        }
    }
}

/// Unix seconds now, for "last seen … ago".
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
