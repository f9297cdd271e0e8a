//! `veil traffic …`: totals, live rates, history, resets and a sync of the counters.

use veil_shared::model::{KeyRef, KeyState};
use veil_shared::traffic::{
    Resolution, TrafficGet, TrafficHistory, TrafficList, TrafficResetParams, TrafficSort,
    TrafficSync,
};

use crate::cli::traffic::{ByChoice, SortChoice, StateChoice, TrafficArgs, TrafficCommand};
use crate::failure::Failure;
use crate::output::traffic as out;
use crate::session::{Reply, Session};

pub async fn run(session: &mut Session<'_>, args: TrafficArgs) -> Result<Reply, Failure> {
    match args.command.unwrap_or(TrafficCommand::List(args.list)) {
        TrafficCommand::List(list) => {
            let offset = list.offset.unwrap_or(0);
            let params = TrafficList {
                state: list.state.map(|s| match s {
                    StateChoice::Active => KeyState::Active,
                    StateChoice::Disabled => KeyState::Disabled,
                    StateChoice::Deleted => KeyState::Deleted,
                }),
                search: list.search,
                sort: Some(match list.sort {
                    SortChoice::Id => TrafficSort::Id,
                    SortChoice::Usage => TrafficSort::Usage,
                    SortChoice::Rate => TrafficSort::Rate,
                    SortChoice::Active => TrafficSort::Active,
                }),
                offset: list.offset,
                limit: list.limit,
            };
            let (raw, page) = session.call(params).await?;
            let human = out::page_text(&page, offset);
            Ok(Reply { raw, human })
        }
        TrafficCommand::Show(arg) => {
            let (raw, detail) = session.call(TrafficGet { key: arg.key }).await?;
            let human = out::detail_text(&detail);
            Ok(Reply { raw, human })
        }
        TrafficCommand::Reset(arg) => {
            let (raw, after) = session.call(TrafficResetParams { key: arg.key }).await?;
            // The usage cleared is the newest entry of the key's resets.
            let (_, detail) = session
                .call(TrafficGet {
                    key: KeyRef::Id(after.id),
                })
                .await?;
            let human = out::reset_text(&after, &detail);
            Ok(Reply { raw, human })
        }
        TrafficCommand::Sync => {
            let (raw, report) = session.call(TrafficSync {}).await?;
            let human = out::sync_text(&report);
            Ok(Reply { raw, human })
        }
        TrafficCommand::History(args) => {
            let resolution = match args.by {
                ByChoice::Minute => Resolution::Minute,
                ByChoice::Hour => Resolution::Hour,
                ByChoice::Day => Resolution::Day,
            };
            let params = TrafficHistory {
                key: args.key,
                resolution: Some(resolution),
                since: args.since,
                until: None,
            };
            let (raw, page) = session.call(params).await?;
            let human = out::history_text(&page);
            Ok(Reply { raw, human })
        }
    }
}
