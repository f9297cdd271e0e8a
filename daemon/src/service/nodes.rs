//! The fleet's nodes (`node.list`, `node.drain`), on a fleet node; a single server says it
//! has none.

use veil_shared::api::Actor;
use veil_shared::fleet::{NodeDrainParams, NodeInfo, NodeList};

use super::pipeline::Mutation;
use super::{Service, ServiceError, ServiceResult};
use crate::store::StoreError;

impl Service {
    fn registry(&self) -> ServiceResult<&std::sync::Arc<crate::fleet::Registry>> {
        self.fleet.as_ref().ok_or_else(|| {
            ServiceError::invalid(
                "this veild is a single server, not a fleet node ([fleet] is not set)",
            )
        })
    }

    pub async fn node_list(&self) -> ServiceResult<NodeList> {
        let registry = self.registry()?;
        let report = registry.report();
        let nodes = self.store.read(crate::fleet::nodes::list).await?;
        Ok(NodeList {
            this: report.node,
            registry_up: report.up,
            nodes,
        })
    }

    pub async fn node_drain(&self, actor: &Actor, p: NodeDrainParams) -> ServiceResult<NodeInfo> {
        let registry = std::sync::Arc::clone(self.registry()?);
        let what = Mutation {
            method: "node.drain",
            key_ref: None,
        };
        let by = actor.describe();
        let name = p.node.clone();
        self.mutate(actor, what, move |c| {
            registry.drain(c, &p.node, &by, p.undo)?;
            let detail = format!(
                "{} node {}",
                if p.undo { "restored" } else { "drained" },
                p.node
            );
            let node = crate::fleet::nodes::list(c)?
                .into_iter()
                .find(|n| n.name == p.node)
                .ok_or_else(|| {
                    StoreError::rejected(
                        crate::error::ErrorKind::NotFound,
                        format!("no node {:?}", p.node),
                    )
                })?;
            Ok(super::pipeline::Changed {
                value: node,
                key_id: None,
                detail: Some(detail),
                events: Vec::new(),
            })
        })
        .await
        .inspect_err(|e| {
            tracing::info!(node = %name, error = %e.message, "node.drain refused");
        })
    }
}
