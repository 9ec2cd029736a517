//! Tuning knobs of a merge ([`MergeOptions`], each default a named constant) and
//! the per-run controls the builder owns (dedup, deletes, progress, cancel flag).

use crate::predicate::Predicate;
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Default [`MergeOptions::batch_rows`]: 8192 rows.
pub const DEFAULT_BATCH_ROWS: usize = 8192;
/// Default [`MergeOptions::row_group_rows`]: 1 Mi rows (1 << 20).
pub const DEFAULT_ROW_GROUP_ROWS: usize = 1 << 20;
/// Default [`MergeOptions::row_group_bytes`]: 64 MiB.
pub const DEFAULT_ROW_GROUP_BYTES: usize = 64 << 20;
/// Default [`MergeOptions::verbatim_copy`]: on.
pub const DEFAULT_VERBATIM_COPY: bool = true;
/// Default [`MergeOptions::threads`]: 0, one thread per core the process may use.
pub const DEFAULT_THREADS: usize = 0;

/// Progress callback: `f(rows_done, rows_total)`, called on the merging thread
/// after every merge window and every region copied verbatim. `rows_done` counts
/// input rows merged so far (rows dropped as duplicates included, so it reaches
/// `rows_total`, the rows of all inputs, when the merge is done); rows deleted
/// without being read are not counted. Keep it cheap: the merge waits for it.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Tuning knobs of a merge, set with the `with_*` methods; [`Default`] gives the
/// `DEFAULT_*` constants. They change how the merge reads and cuts, never what
/// it writes: the rows and their order are the same under any options.
///
/// What a run does (dedup, deletes, progress, cancellation) is set on
/// [`MergeBuilder`](super::MergeBuilder) instead, so that
/// [`MergeBuilder::options`](super::MergeBuilder::options) replaces tuning only.
///
/// ```
/// use prefix_merge::merge::{MergeOptions, DEFAULT_ROW_GROUP_BYTES};
///
/// let options = MergeOptions::default().with_batch_rows(1024);
/// assert_eq!(options.batch_rows(), 1024);
/// assert_eq!(options.row_group_bytes(), DEFAULT_ROW_GROUP_BYTES);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOptions {
    batch_rows: usize,
    row_group_rows: usize,
    row_group_bytes: usize,
    verbatim_copy: bool,
    threads: usize,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            batch_rows: DEFAULT_BATCH_ROWS,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            verbatim_copy: DEFAULT_VERBATIM_COPY,
            threads: DEFAULT_THREADS,
        }
    }
}

impl MergeOptions {
    /// Rows per decoded input batch and per merge window (default
    /// [`DEFAULT_BATCH_ROWS`]; must be > 0). Smaller windows lower memory and
    /// raise per-window overhead.
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows;
        self
    }

    /// P = 0 outputs: close a row group at the next series transition after
    /// this many rows (input rows, duplicates dropped by dedup counted; default
    /// [`DEFAULT_ROW_GROUP_ROWS`]; must be > 0). Aligned outputs (P > 0) hold
    /// one row group per prefix value and ignore it.
    pub fn with_row_group_rows(mut self, rows: usize) -> Self {
        self.row_group_rows = rows;
        self
    }

    /// P = 0 outputs: ...or once the row group's buffered decoded size reaches
    /// this many bytes (default [`DEFAULT_ROW_GROUP_BYTES`]).
    pub fn with_row_group_bytes(mut self, bytes: usize) -> Self {
        self.row_group_bytes = bytes;
        self
    }

    /// Copy a region's row group verbatim (no decode, no re-encode) when it is
    /// the region's only contributor and its Parquet schema equals the output's
    /// (default [`DEFAULT_VERBATIM_COPY`]). Off: every row is re-encoded.
    pub fn with_verbatim_copy(mut self, verbatim: bool) -> Self {
        self.verbatim_copy = verbatim;
        self
    }

    /// Threads that encode (default [`DEFAULT_THREADS`]; 0: one per core the
    /// process may use). 1: the caller's thread merges and encodes; N > 1: the
    /// caller's thread reads and merges while a fixed pool of N threads,
    /// started once per run, encodes the outputs' columns in parallel (the
    /// pool's threads: `prefix-merge-encode-K`). With as many encoding threads
    /// as cores the merge thread is one more, so the OS can give the cores to
    /// whichever stage is behind (interleaved inputs load the encoders, disjoint
    /// ones the merge). The bytes written are the same for every N.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// See [`with_threads`](Self::with_threads): the configured value (0: all cores).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The threads a run uses: [`threads`](Self::threads), or one per core the
    /// process may use when it is 0.
    pub fn resolved_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// See [`with_batch_rows`](Self::with_batch_rows).
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
    }

    /// See [`with_row_group_rows`](Self::with_row_group_rows).
    pub fn row_group_rows(&self) -> usize {
        self.row_group_rows
    }

    /// See [`with_row_group_bytes`](Self::with_row_group_bytes).
    pub fn row_group_bytes(&self) -> usize {
        self.row_group_bytes
    }

    /// See [`with_verbatim_copy`](Self::with_verbatim_copy).
    pub fn verbatim_copy(&self) -> bool {
        self.verbatim_copy
    }

    /// Values that are wrong whatever the inputs.
    pub(crate) fn check(&self) -> Result<()> {
        if self.batch_rows == 0 || self.row_group_rows == 0 {
            return Err(Error::InvalidArgument(
                "batch and row-group rows must be > 0".into(),
            ));
        }
        Ok(())
    }
}

/// What one run does besides its inputs and outputs, set through the
/// builder's own methods (never replaced by [`MergeOptions`]).
#[derive(Clone, Default)]
pub(crate) struct RunControls {
    /// Last-write-wins dedup (see [`MergeBuilder::dedup`](super::MergeBuilder::dedup)).
    pub dedup: bool,
    /// Delete predicates per input (empty: none).
    pub deletes: Vec<Vec<Arc<Predicate>>>,
    /// Progress callback, if any.
    pub progress: Option<ProgressFn>,
    /// Set to stop the merge ([`Error::Cancelled`]); its outputs are removed.
    pub cancel: Arc<AtomicBool>,
    /// The caller's flags that also stop it (`MergeBuilder::cancel_on`).
    pub also_cancel: Vec<Arc<AtomicBool>>,
}

impl RunControls {
    /// [`Error::Cancelled`] once the cancel flag (or one of the caller's) is set.
    pub fn check_cancel(&self) -> Result<()> {
        let set = |f: &Arc<AtomicBool>| f.load(Ordering::Relaxed);
        if set(&self.cancel) || self.also_cancel.iter().any(set) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }

    /// Tell the progress callback, if any.
    pub fn report_progress(&self, done: u64, total: u64) {
        if let Some(progress) = &self.progress {
            progress(done, total);
        }
    }
}
