//! The reader's view of a table: its live splits with URLs, typed key ranges,
//! time bounds and sequence ranges (`table ls --json`, see docs/live-set.md).

use super::catalog::Split;
use super::table::Table;
use crate::Result;
use serde::Serialize;

/// Version of the [`LiveSet`] JSON document; bumped on incompatible changes.
pub const LIVE_SET_VERSION: u32 = 1;

/// The splits a reader must read to see the table (now or at `at`).
#[derive(Debug, Clone, Serialize)]
pub struct LiveSet {
    /// [`LIVE_SET_VERSION`].
    pub version: u32,
    /// The table directory (absolute).
    pub table: String,
    /// The moment shown (Unix seconds), when not now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    /// The table's sort schema.
    pub sort_schema: String,
    /// P: the number of leading sort columns each row group holds one value of.
    pub prefix_len: usize,
    /// The table keeps one row per full sort key (last write wins).
    pub dedup: bool,
    /// Rows in all listed splits.
    pub rows: u64,
    /// The splits, in sequence order.
    pub splits: Vec<LiveSplit>,
}

/// One split of a [`LiveSet`].
#[derive(Debug, Clone, Serialize)]
pub struct LiveSplit {
    /// The split's id.
    pub id: String,
    /// Where to read it: an absolute file path, or an object URL (s3://...).
    pub url: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size of the file.
    pub bytes: u64,
    /// Start of the split's time window (Unix seconds; absent without one).
    pub window_start: Option<i64>,
    /// Length of the window in seconds.
    pub window_secs: Option<u64>,
    /// `qh.num_merge_ops`.
    pub level: u64,
    /// The sequence numbers of the adds whose rows it holds.
    pub seq_min: u64,
    /// See `seq_min`.
    pub seq_max: u64,
    /// Smallest value of the time column, as stored (absent: unknown).
    pub time_min: Option<serde_json::Value>,
    /// Largest value of the time column.
    pub time_max: Option<serde_json::Value>,
    /// The first prefix key: one typed JSON value per prefix column (absent
    /// when P = 0).
    pub first_prefix: Option<serde_json::Value>,
    /// The last prefix key.
    pub last_prefix: Option<serde_json::Value>,
    /// Why the compactor skips it (it is still live and must be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl Table {
    /// The live set now, or at `at` (Unix seconds) while gc has not yet removed
    /// the files of that earlier set.
    pub fn live_set(&mut self, at: Option<i64>) -> Result<LiveSet> {
        let mut splits = match at {
            Some(t) => self.catalog().live_at(t)?,
            None => self.live()?,
        };
        splits.sort_by(|a, b| (a.seq_min, &a.id).cmp(&(b.seq_min, &b.id)));
        let dir = std::path::absolute(self.dir()).map_err(|e| crate::Error::io(self.dir(), e))?;
        let settings = self.settings().clone();
        Ok(LiveSet {
            version: LIVE_SET_VERSION,
            table: dir.display().to_string(),
            at,
            sort_schema: settings.sort_schema,
            prefix_len: settings.prefix_len,
            dedup: settings.dedup,
            rows: splits.iter().map(|s| s.rows).sum(),
            splits: splits
                .into_iter()
                .map(|s| self.live_split(s))
                .collect::<Result<_>>()?,
        })
    }

    fn live_split(&self, s: Split) -> Result<LiveSplit> {
        let path = self.split_path(&s.id);
        let url = if crate::storage::is_url(&path.to_string_lossy()) {
            path.display().to_string()
        } else {
            std::path::absolute(&path)
                .map_err(|e| crate::Error::io(&path, e))?
                .display()
                .to_string()
        };
        Ok(LiveSplit {
            id: s.id,
            url,
            rows: s.rows,
            bytes: s.bytes,
            window_start: s.window_start,
            window_secs: s.window_secs,
            level: s.level,
            seq_min: s.seq_min,
            seq_max: s.seq_max,
            time_min: s.time_min,
            time_max: s.time_max,
            first_prefix: s.first_prefix,
            last_prefix: s.last_prefix,
            skipped: s.skipped,
        })
    }
}
