//! The catalog: which splits of a table are live, who holds them, and the record
//! of every committed job, behind a small trait (SQLite for a table directory,
//! PostgreSQL for tables shared by several machines).

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
    /// The state's name as stored in the catalog (`live`, `replaced`, `dropped`).
    pub fn as_str(self) -> &'static str {
        match self {
            SplitState::Live => "live",
            SplitState::Replaced => "replaced",
            SplitState::Dropped => "dropped",
        }
    }

    /// The state named `s` (as [`SplitState::as_str`] writes it), or None.
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
    /// Rows in the file.
    pub rows: u64,
    /// Size of the file.
    pub bytes: u64,
    /// `qh.window_start` (None: the split has no window).
    pub window_start: Option<i64>,
    /// `qh.window_duration_secs`.
    pub window_secs: Option<u64>,
    /// `qh.num_merge_ops`: the split's level.
    pub level: u64,
    /// Sequence numbers of the adds whose rows the split holds: an added split
    /// gets the table's next number when its add commits; a merge output spans
    /// its inputs' range. 0 until the catalog assigns them.
    pub seq_min: u64,
    /// See `seq_min`.
    pub seq_max: u64,
    /// Every tombstone with a sequence number up to this one has been applied
    /// to the split's rows (0: none beyond those its own range implies). A
    /// tombstone is pending for the split when its number is above both this
    /// and `seq_max`.
    #[serde(default)]
    pub applied_seq: u64,
    /// First and last prefix key, as readable text (`v1|v2`).
    pub min_key: String,
    /// See `min_key`.
    pub max_key: String,
    /// First and last prefix key as typed JSON values (an array per key, one
    /// value per prefix column); None when P = 0.
    pub first_prefix: Option<serde_json::Value>,
    /// See `first_prefix`.
    pub last_prefix: Option<serde_json::Value>,
    /// Smallest and largest value of the time column, typed (None: no time
    /// column, or no statistics).
    pub time_min: Option<serde_json::Value>,
    /// See `time_min`.
    pub time_max: Option<serde_json::Value>,
    /// For an added split: the identity of the file it was added from (size,
    /// footer fingerprint, hash of all its bytes), so that adding the same
    /// content again is a no-op.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Unix seconds when the split was registered.
    pub created_at: i64,
    /// Whether readers see the split, or why not.
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
    /// Tombstones up to this sequence number no longer apply to the split:
    /// older than its rows, or already applied.
    pub fn deletes_applied_through(&self) -> u64 {
        self.seq_max.max(self.applied_seq)
    }

    /// End of the split's window (exclusive), in Unix seconds.
    pub fn window_end(&self) -> Option<i64> {
        Some(self.window_start? + i64::try_from(self.window_secs?).ok()?)
    }
}

#[cfg(test)]
impl Split {
    /// A live split with one row and nothing else set (unit tests).
    pub(crate) fn for_test(id: &str) -> Split {
        Split {
            id: id.into(),
            rows: 1,
            bytes: 1,
            window_start: None,
            window_secs: None,
            level: 0,
            seq_min: 0,
            seq_max: 0,
            applied_seq: 0,
            min_key: String::new(),
            max_key: String::new(),
            first_prefix: None,
            last_prefix: None,
            time_min: None,
            time_max: None,
            source: None,
            created_at: 0,
            state: SplitState::Live,
            retired_at: None,
            skipped: None,
            lease_until: None,
        }
    }
}

/// A delete recorded in the catalog: rows matching `predicate` (and the time
/// range) in splits added before it (lower sequence numbers) are deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tombstone {
    /// The catalog's id of the tombstone.
    pub id: u64,
    /// Its place in the table's sequence: rows of adds numbered below it are
    /// deleted, rows of later adds are not.
    pub seq: u64,
    /// The predicate text (see [`crate::predicate`]).
    pub predicate: String,
    /// Time range `[from, to)` of the time column, in its unit.
    pub from: Option<i64>,
    /// See `from` (exclusive end).
    pub to: Option<i64>,
    /// Unix seconds when it was recorded.
    pub created_at: i64,
}

/// A job's claim on splits, valid until `until` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job holding the lease.
    pub job: String,
    /// Who runs the job (host and process id), for operators.
    pub owner: String,
    /// Unix seconds after which the lease is void unless renewed.
    pub until: i64,
}

/// What a committed job did (kept for audit and write amplification).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    /// The job's id.
    pub job: String,
    /// `add`, `merge` or `retention`.
    pub kind: String,
    /// Ids of the splits the job replaced (or dropped).
    pub inputs: Vec<String>,
    /// Ids of the splits it made live.
    pub outputs: Vec<String>,
    /// Bytes of its input splits.
    pub bytes_in: u64,
    /// Bytes of its output splits.
    pub bytes_out: u64,
    /// Unix seconds of its commit.
    pub committed_at: i64,
}

/// A table's settings, stored in its catalog: the sort schema and P are fixed
/// at creation; the rest can be changed (`table settings --set`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TableSettings {
    /// The sort schema every split must have (text form).
    pub sort_schema: String,
    /// P of every split.
    pub prefix_len: usize,
    /// Keep one row per full sort key when merging: the row from the latest add
    /// wins (see the policy's sequence rule).
    pub dedup: bool,
    /// The compaction policy `compact` and `plan` use unless a flag overrides it.
    #[serde(default)]
    pub policy: super::policy::Policy,
    /// How compactions write their outputs (codec, page size, row-group cap,
    /// bloom-filter columns).
    #[serde(default)]
    pub writer: crate::output::WriterOptions,
}

impl TableSettings {
    /// Settings for a new table with the default policy.
    pub fn new(sort_schema: String, prefix_len: usize, dedup: bool) -> Self {
        TableSettings {
            sort_schema,
            prefix_len,
            dedup,
            policy: super::policy::Policy::default(),
            writer: crate::output::WriterOptions::default(),
        }
    }

    /// Change settings from `(key, text)` pairs: `dedup` (true/false), policy
    /// keys ([`super::policy::POLICY_KEYS`], checked together) or writer
    /// options ([`crate::output::writer_options::WRITER_OPTION_KEYS`]). The
    /// sort schema and P are fixed. On error nothing changes.
    pub fn apply(&mut self, pairs: &[(&str, &str)]) -> Result<()> {
        let mut next = self.clone();
        let mut policy = Vec::new();
        for (key, value) in pairs {
            if super::policy::POLICY_KEYS.contains(key) {
                policy.push((*key, *value));
            } else if crate::output::writer_options::WRITER_OPTION_KEYS.contains(key) {
                next.writer.set(key, value)?;
            } else {
                next.set_plain(key, value)?;
            }
        }
        next.policy.apply(&policy)?;
        *self = next;
        Ok(())
    }

    /// A setting that is not part of the policy.
    fn set_plain(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "sort_schema" | "prefix_len" => Err(crate::Error::InvalidArgument(format!(
                "{key} is fixed when the table is created"
            ))),
            "dedup" => {
                self.dedup = value.trim().parse().map_err(|_| {
                    crate::Error::InvalidArgument(format!(
                        "dedup = '{value}': expected true or false"
                    ))
                })?;
                Ok(())
            }
            _ => Err(crate::Error::InvalidArgument(format!(
                "unknown table setting '{key}' (known: dedup, {}, {})",
                super::policy::POLICY_KEYS.join(", "),
                crate::output::writer_options::WRITER_OPTION_KEYS.join(", ")
            ))),
        }
    }

    /// Every setting as `(key, text)`: the fixed ones first, then `dedup` and
    /// the policy.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("sort_schema", self.sort_schema.clone()),
            ("prefix_len", self.prefix_len.to_string()),
            ("dedup", self.dedup.to_string()),
        ];
        out.extend(self.policy.entries());
        out.extend(self.writer.entries());
        out
    }
}

/// The result of adding a file to a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Added {
    /// The file became this new live split.
    New(Split),
    /// The same content (the same bytes) is already in the table as this split
    /// (live, or retired and not yet collected): nothing added.
    Existing(Split),
}

/// A transactional store of a table's splits and jobs. Every method is atomic.
///
/// Times (`now`, a lease's `until`) are the caller's clock. An implementation
/// shared by several machines may use its own clock instead for expiry and
/// timestamps, taking only a lease's length from `until - now`
/// (see [`super::postgres`]).
pub trait Catalog: Send {
    /// Another connection to the same catalog (for another thread).
    fn connect(&self) -> Result<Box<dyn Catalog>>;
    /// The table's settings (None before `init`).
    fn settings(&mut self) -> Result<Option<TableSettings>>;
    /// Create the schema and store the settings; fails if already initialized.
    fn init(&mut self, settings: &TableSettings) -> Result<()>;

    /// Splits in the given states, ordered by id.
    fn splits(&mut self, states: &[SplitState]) -> Result<Vec<Split>>;
    /// Replace the stored settings (sort schema and P must not change).
    fn set_settings(&mut self, settings: &TableSettings) -> Result<()>;
    /// The split added from content `source` (see [`Split::source`]), if the
    /// catalog still knows it (live, or retired and not yet forgotten).
    fn find_source(&mut self, source: &str) -> Result<Option<Split>>;
    /// The splits that were live at `at` (Unix seconds): registered by then and
    /// not retired by then. Fails when gc has already forgotten splits that were
    /// retired after `at` (that set can no longer be shown whole).
    fn live_at(&mut self, at: i64) -> Result<Vec<Split>>;

    /// Record that `lease.job` is running and claims `splits` (all must be live,
    /// not skipped, and not claimed by an unexpired lease of another job). Returns
    /// false, claiming nothing, when any is taken. `splits` may be empty (a job
    /// that only writes, e.g. `table add`).
    fn begin_job(&mut self, lease: &Lease, splits: &[String], now: i64) -> Result<bool>;
    /// Extend a running job's lease (and its splits'). False if the job is gone.
    fn renew(&mut self, job: &str, until: i64) -> Result<bool>;
    /// In one transaction: the job's inputs become `retire_as`, `outputs` become
    /// live, the job record is written and the job's lease ends. Outputs get
    /// their sequence numbers here: an add's output (a job without inputs) the
    /// table's next number, a merge's outputs the range of its inputs. Fails,
    /// changing nothing: with [`crate::Error::LeaseLost`] when the job's lease
    /// is gone or expired or an input is no longer held by the job (fencing:
    /// the caller reports the job fenced), with
    /// [`crate::Error::DuplicateContent`] when an output's `source` is already
    /// in the table.
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

    /// Record a tombstone, in one transaction with the table's next sequence
    /// number (which it takes, as an add does).
    fn add_tombstone(
        &mut self,
        predicate: &str,
        from: Option<i64>,
        to: Option<i64>,
        now: i64,
    ) -> Result<Tombstone>;
    /// The pending tombstones (not retired), in sequence order.
    fn tombstones(&mut self) -> Result<Vec<Tombstone>>;
    /// Retire a tombstone: no live split it applies to can hold rows it
    /// matches. Retiring one already retired is a no-op.
    fn retire_tombstone(&mut self, id: u64, now: i64) -> Result<()>;
}
