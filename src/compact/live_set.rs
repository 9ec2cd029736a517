//! The reader's view of a table: its live splits with URLs, typed key ranges,
//! time bounds and sequence ranges (`table ls --json`, see docs/live-set.md).

use super::catalog::{Split, Tombstone};
use super::table::Table;
use crate::Result;
use serde::Serialize;

/// Version of the [`LiveSet`] JSON document; bumped on incompatible changes.
/// 2: pending tombstones (`tombstones`) and each split's `applied_seq`; a
/// reader must apply the tombstones, so a version-1 reader would show deleted
/// rows.
pub const LIVE_SET_VERSION: u32 = 2;

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
    /// Pending tombstones, in sequence order: a reader deletes the rows a
    /// tombstone matches from every split whose `seq_max` and `applied_seq`
    /// are both below the tombstone's `seq`.
    pub tombstones: Vec<Tombstone>,
}

/// One split of a [`LiveSet`]: where to read it, and its catalog entry
/// ([`Split`]: rows, bytes, window, level, sequence range, typed prefix keys
/// and time bounds, state).
#[derive(Debug, Clone, Serialize)]
pub struct LiveSplit {
    /// Where to read it: an absolute file path, or an object URL (s3://...).
    pub url: String,
    /// The catalog's record of the split.
    #[serde(flatten)]
    pub split: Split,
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
        let tombstones = self
            .catalog()
            .tombstones()?
            .into_iter()
            .filter(|t| at.is_none_or(|at| t.created_at <= at))
            .collect();
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
            tombstones,
        })
    }

    fn live_split(&self, split: Split) -> Result<LiveSplit> {
        let path = self.split_path(&split.id);
        let url = if crate::storage::is_url(&path.to_string_lossy()) {
            path.display().to_string()
        } else {
            std::path::absolute(&path)
                .map_err(|e| crate::Error::io(&path, e))?
                .display()
                .to_string()
        };
        Ok(LiveSplit { url, split })
    }
}
