//! The usable API tokens kept in memory, so a request's authentication reads no database
//! (filled and used by `tokens`).

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use veil_shared::api::TokenInfo;

use crate::store::tokens;

/// `last_used` of a token never used.
pub(super) const NEVER_USED: i64 = i64::MIN;

/// The usable tokens (not revoked) as last read, so authentication reads no database on
/// every request. Every token change through the service empties it after its commit and
/// before it is answered (a revocation holds from then on); the generation keeps a read
/// that raced with a change from refilling it with what was there before. veild alone
/// writes the database, so no change bypasses this.
#[derive(Default)]
pub(super) struct TokenCache {
    pub(super) inner: Mutex<Cached>,
}

#[derive(Default)]
pub(super) struct Cached {
    /// Changes so far; a read started before one is not kept.
    pub(super) generation: u64,
    pub(super) tokens: Option<Arc<[Usable]>>,
}

/// One usable token, its digest and when it was last noted as used.
pub(super) struct Usable {
    pub(super) info: TokenInfo,
    pub(super) hash: String,
    /// `last_used_at`, or [`NEVER_USED`]; moved on in memory when a touch is sent.
    pub(super) last_used: AtomicI64,
}

impl From<tokens::Stored> for Usable {
    fn from(stored: tokens::Stored) -> Self {
        let last_used = AtomicI64::new(stored.info.last_used_at.unwrap_or(NEVER_USED));
        Self {
            info: stored.info,
            hash: stored.hash,
            last_used,
        }
    }
}

impl TokenCache {
    pub(super) fn lock(&self) -> MutexGuard<'_, Cached> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the tokens: the next authentication reads them again.
    pub(super) fn changed(&self) {
        let mut cached = self.lock();
        cached.generation = cached.generation.wrapping_add(1);
        cached.tokens = None;
    }
}
