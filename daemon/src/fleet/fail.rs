//! What a step with the registry can end in, and how much of it a sync reads.

use crate::store::StoreError;

/// What went wrong in a step: the registry, the local database, or the change itself.
pub(super) enum Fail {
    Pg(postgres::Error),
    Store(StoreError),
    /// The change refused itself (a bad name, an unknown key): the caller's answer.
    Change(StoreError),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Store(e.into())
    }
}

/// How much of the registry a sync reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// What changed since the last version seen.
    Changes,
    /// Every row, compared with the local copy (after a reconnect, and on the slow timer).
    Full,
}
