//! Process-wide counters of object-store requests and bytes, read by benchmarks
//! and printed by the CLI after a remote run.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

static GETS: AtomicU64 = AtomicU64::new(0);
static BYTES_FETCHED: AtomicU64 = AtomicU64::new(0);
static PUTS: AtomicU64 = AtomicU64::new(0);
static BYTES_UPLOADED: AtomicU64 = AtomicU64::new(0);

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct IoStats {
    /// GET requests (ranged or whole), footers included.
    pub gets: u64,
    /// Bytes those GET requests returned.
    pub bytes_fetched: u64,
    /// PUT requests: parts of multipart uploads and single-request puts.
    pub puts: u64,
    /// Bytes those PUT requests sent.
    pub bytes_uploaded: u64,
}

/// The counters since the process started.
pub fn snapshot() -> IoStats {
    IoStats {
        gets: GETS.load(Ordering::Relaxed),
        bytes_fetched: BYTES_FETCHED.load(Ordering::Relaxed),
        puts: PUTS.load(Ordering::Relaxed),
        bytes_uploaded: BYTES_UPLOADED.load(Ordering::Relaxed),
    }
}

#[cfg(feature = "object-store")]
pub(crate) fn count_get(bytes: u64) {
    GETS.fetch_add(1, Ordering::Relaxed);
    BYTES_FETCHED.fetch_add(bytes, Ordering::Relaxed);
}

#[cfg(feature = "object-store")]
pub(crate) fn count_put(bytes: u64) {
    PUTS.fetch_add(1, Ordering::Relaxed);
    BYTES_UPLOADED.fetch_add(bytes, Ordering::Relaxed);
}
