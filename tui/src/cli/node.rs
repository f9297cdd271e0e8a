//! `veil node …`: the fleet's nodes, on a fleet node.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Every node of the fleet: core, keys active/pending, traffic, last seen, drained.
    List,
    /// One node in full.
    Show {
        /// The node's name.
        name: String,
    },
    /// Leave a node out of every subscription (phones move to the other nodes at their
    /// next refresh); it keeps serving its keys. `--undo` puts it back.
    Drain {
        /// The node's name.
        name: String,
        #[arg(long)]
        undo: bool,
    },
}
