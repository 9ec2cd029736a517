//! The run manifest: the hand-off document of one merge (what was read, what was
//! written, with the typed keys, time ranges and values a metastore prunes with).
//! `--json` prints it, `--manifest PATH` publishes it after every output is
//! durable, and the library returns it as the merge result. Its schema is
//! documented in `docs/manifest.md`.

use super::summary::OutputSummary;
use crate::input::Window;
use serde::Serialize;
use std::path::PathBuf;

/// Version of the manifest document layout; bumped on incompatible changes.
pub const MANIFEST_VERSION: u32 = 1;

/// One sort column as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SortColumnEntry {
    pub name: String,
    /// `asc` or `desc`.
    pub direction: &'static str,
    /// Arrow type of the column in the outputs (`null` when no input has it).
    pub data_type: Option<String>,
}

/// One input as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputEntry {
    pub path: PathBuf,
    pub bytes: u64,
    pub rows: u64,
    /// `xxh3:<hex>` of the footer at the time the merge opened the file.
    pub footer_fingerprint: String,
}

/// What a merge read and wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub run_id: String,
    pub engine: &'static str,
    pub engine_version: &'static str,
    /// RFC 3339 UTC timestamps.
    pub started_at: String,
    pub finished_at: String,
    pub elapsed_secs: f64,
    pub sort_schema: String,
    pub sort_columns: Vec<SortColumnEntry>,
    /// Prefix length P of the outputs.
    pub prefix_len: usize,
    pub window: Option<Window>,
    /// `qh.num_merge_ops` of the outputs.
    pub num_merge_ops: u64,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written: `rows_in - duplicates_dropped - rows_deleted`.
    pub rows_out: u64,
    /// Rows dropped by last-write-wins dedup (`merge --dedup`); absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicates_dropped: u64,
    /// Rows deleted by the row filter (tombstones applied by compaction);
    /// absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub rows_deleted: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub inputs: Vec<InputEntry>,
    pub outputs: Vec<OutputSummary>,
}

impl Manifest {
    /// The document as pretty-printed JSON.
    pub fn to_json(&self) -> crate::Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| crate::Error::json("manifest", e))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `t` as RFC 3339 UTC with millisecond precision.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}
