//! The catalog: which splits of a table are live, who holds them, and the record
//! of every committed job, behind a small trait (SQLite today, a server later).

use crate::Result;
use serde::Serialize;

/// A split's state in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitState {
    /// Part of the table: readers see it.
    Live,
    /// Merged into other splits; its file is deleted by gc after the grace period.
    Replaced,
    /// Dropped by retention; its file is deleted by gc after the grace period.
    Dropped,
}

impl SplitState {
    pub fn as_str(self) -> &'static str {
        match self {
            SplitState::Live => "live",
            SplitState::Replaced => "replaced",
            SplitState::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(SplitState::Live),
            "replaced" => Some(SplitState::Replaced),
            "dropped" => Some(SplitState::Dropped),
            _ => None,
        }
    }
}

/// One split file of a table, as the catalog records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    /// Unique id; the file is `splits/ID.parquet`.
    pub id: String,
    pub rows: u64,
    pub bytes: u64,
    /// `qh.window_start` (None: the split has no window).
    pub window_start: Option<i64>,
    pub window_secs: Option<u64>,
    /// `qh.num_merge_ops`: the split's level.
    pub level: u64,
    /// First and last sort key, as readable text.
    pub min_key: String,
    pub max_key: String,
    /// Unix seconds when the split was registered.
    pub created_at: i64,
    pub state: SplitState,
    /// Unix seconds when it stopped being live.
    pub retired_at: Option<i64>,
    /// The error that made the compactor skip it (it stays live, left alone).
    pub skipped: Option<String>,
    /// Until when a job holds it (None: free).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
}

impl Split {
    /// End of the split's window (exclusive), in Unix seconds.
    pub fn window_end(&self) -> Option<i64> {
        Some(self.window_start? + i64::try_from(self.window_secs?).ok()?)
    }
}

/// A job's claim on splits, valid until `until` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job: String,
    /// Who runs the job (host and process id), for operators.
    pub owner: String,
    pub until: i64,
}

/// What a committed job did (kept for audit and write amplification).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub job: String,
    /// `add`, `merge` or `retention`.
    pub kind: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub committed_at: i64,
}

/// Settings fixed when the table is created.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TableSettings {
    /// The sort schema every split must have (text form).
    pub sort_schema: String,
    /// P of every split.
    pub prefix_len: usize,
    /// Keep one row per full sort key when merging (newest wins).
    pub dedup: bool,
}

/// A transactional store of a table's splits and jobs. Every method is atomic.
pub trait Catalog: Send {
    /// Another connection to the same catalog (for another thread).
    fn connect(&self) -> Result<Box<dyn Catalog>>;
    /// The table's settings (None before `init`).
    fn settings(&mut self) -> Result<Option<TableSettings>>;
    /// Create the schema and store the settings; fails if already initialized.
    fn init(&mut self, settings: &TableSettings) -> Result<()>;

    /// Splits in the given states, ordered by id.
    fn splits(&mut self, states: &[SplitState]) -> Result<Vec<Split>>;

    /// Record that `lease.job` is running and claims `splits` (all must be live,
    /// not skipped, and not claimed by an unexpired lease of another job). Returns
    /// false, claiming nothing, when any is taken. `splits` may be empty (a job
    /// that only writes, e.g. `table add`).
    fn begin_job(&mut self, lease: &Lease, splits: &[String], now: i64) -> Result<bool>;
    /// Extend a running job's lease (and its splits'). False if the job is gone.
    fn renew(&mut self, job: &str, until: i64) -> Result<bool>;
    /// In one transaction: the job's inputs become `retire_as`, `outputs` become
    /// live, the job record is written and the job's lease ends. Fails, changing
    /// nothing, when an input is no longer live or is claimed by another job.
    fn commit_job(
        &mut self,
        record: &JobRecord,
        outputs: &[Split],
        retire_as: SplitState,
        now: i64,
    ) -> Result<()>;
    /// End a job without committing: its claims are released.
    fn abandon_job(&mut self, job: &str) -> Result<()>;
    /// Jobs whose lease has not expired at `now`.
    fn live_jobs(&mut self, now: i64) -> Result<Vec<Lease>>;
    /// Forget jobs whose lease expired before `now` (their workers died).
    fn expire_jobs(&mut self, now: i64) -> Result<Vec<String>>;

    /// Mark a split skipped with the error text, or clear it (`None`).
    fn set_skipped(&mut self, split: &str, error: Option<&str>) -> Result<()>;
    /// Forget retired splits (their files are gone).
    fn forget(&mut self, splits: &[String]) -> Result<()>;
    /// Every committed job, oldest first.
    fn history(&mut self) -> Result<Vec<JobRecord>>;
}
