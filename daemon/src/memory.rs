//! Giving freed heap back to the system.
//!
//! glibc's allocator keeps what a burst of work freed (a bulk of 10,000 keys, a traffic cycle
//! over 100,000 counters) in its arenas, and gives back only the free space at an arena's very
//! top. After such a burst, most of veild's resident memory was free heap scattered between
//! live chunks: with 10,000 keys made by bulk, 99 MB resident of which `malloc_trim` gave 66
//! MB back. [`trim`] hands the free pages back (`madvise`), once enough free heap is
//! resident for it to matter; the poller calls it after each cycle.

/// Free bytes in the arenas below which a trim is not worth its walk over them.
pub const WORTH_TRIMMING: usize = 4 << 20;

/// What a trim found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Free heap bytes still resident before (as near as the allocator and
    /// `/proc/self/statm` tell).
    pub free_before: usize,
    /// Whether it gave memory back (a trim ran and released something).
    pub released: bool,
}

/// Gives free heap pages back to the system when at least `threshold` bytes of free heap
/// are resident. A no-op where the allocator is not glibc's.
pub fn trim(threshold: usize) -> Trimmed {
    imp::trim(threshold)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(
    unsafe_code,
    reason = "two glibc calls with no pointers and no preconditions; see the SAFETY notes"
)]
mod imp {
    use super::Trimmed;

    pub fn trim(threshold: usize) -> Trimmed {
        // SAFETY: mallinfo2 takes nothing and returns a struct by value; it only reads the
        // allocator's state under the arenas' own locks.
        let info = unsafe { libc::mallinfo2() };
        // Free bytes count whether or not their pages are still resident (a trim leaves
        // them free), so what decides is the anonymous memory resident beyond the heap in
        // use: once that is trimmed, a cycle that touched no new free pages costs nothing.
        let in_use = info.uordblks.saturating_add(info.hblkhd);
        let slack = resident_anon().map_or(info.fordblks, |anon| anon.saturating_sub(in_use));
        let free_before = info.fordblks.min(slack);
        if free_before < threshold {
            return Trimmed {
                free_before,
                released: false,
            };
        }
        // SAFETY: malloc_trim takes a byte count (0: keep no slack) and locks each arena
        // while it returns that arena's free pages; no pointer of ours is involved.
        let released = unsafe { libc::malloc_trim(0) } == 1;
        Trimmed {
            free_before,
            released,
        }
    }

    /// Resident anonymous bytes (resident minus file-backed, from `/proc/self/statm`).
    fn resident_anon() -> Option<usize> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let mut fields = statm.split_whitespace().skip(1);
        let resident: usize = fields.next()?.parse().ok()?;
        let shared: usize = fields.next()?.parse().ok()?;
        // SAFETY: sysconf reads a constant of the system; no pointers.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        Some(resident.saturating_sub(shared).saturating_mul(page))
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    use super::Trimmed;

    pub fn trim(_threshold: usize) -> Trimmed {
        Trimmed::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_freed_heap_is_trimmed_and_a_small_one_is_left() {
        // Many small blocks (each under the mmap threshold, so they live in an arena); every
        // other one freed leaves holes between live ones, which only a trim gives back.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![(i % 251) as u8; 1_000]).collect();
        let (kept, freed): (Vec<_>, Vec<_>) = blocks
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        drop(freed);
        let done = trim(WORTH_TRIMMING);
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(done.free_before >= WORTH_TRIMMING, "{done:?}");
        }
        let none = trim(usize::MAX);
        assert!(!none.released);
        assert_eq!(kept.len(), 10_000);
    }
}
