//! The run manifest: the hand-off document of one merge (what was read, what was
//! written, with the typed keys, time ranges and values a metastore prunes with).
//! `--json` prints it, `--manifest PATH` publishes it after every output is
//! durable, and the library returns it as the merge result. Its schema is
//! documented in `docs/manifest.md`.

use super::summary::OutputSummary;
use crate::input::{FileContract, InputFile, Window};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

/// Version of the manifest document layout; bumped on incompatible changes.
pub const MANIFEST_VERSION: u32 = 1;

/// One sort column as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SortColumnEntry {
    /// Column name.
    pub name: String,
    /// `asc` or `desc`.
    pub direction: &'static str,
    /// Arrow type of the column in the outputs (`null` when no input has it).
    pub data_type: Option<String>,
}

/// One input as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputEntry {
    /// Path or URL, as given.
    pub path: PathBuf,
    /// Size of the file.
    pub bytes: u64,
    /// Rows of the file.
    pub rows: u64,
    /// `xxh3:<hex>` of the footer at the time the merge opened the file.
    pub footer_fingerprint: String,
}

/// What a merge read and wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`] of this document.
    pub manifest_version: u32,
    /// The run's id (a ULID; output names and the journal carry it).
    pub run_id: String,
    /// `prefix-merge`.
    pub engine: &'static str,
    /// The crate version that wrote the outputs.
    pub engine_version: &'static str,
    /// RFC 3339 UTC timestamps.
    pub started_at: String,
    /// See `started_at`.
    pub finished_at: String,
    /// Wall time of the run.
    pub elapsed_secs: f64,
    /// The outputs' sort schema (docs/contract.md grammar).
    pub sort_schema: String,
    /// The sort columns, one entry each.
    pub sort_columns: Vec<SortColumnEntry>,
    /// Prefix length P of the outputs.
    pub prefix_len: usize,
    /// The outputs' time window (`qh.window_start` / `qh.window_duration_secs`).
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
    /// Bytes read (the inputs' sizes).
    pub bytes_in: u64,
    /// Bytes written (the outputs' sizes).
    pub bytes_out: u64,
    /// The inputs, in the order given.
    pub inputs: Vec<InputEntry>,
    /// The outputs, in key order.
    pub outputs: Vec<OutputSummary>,
}

/// What one run read and wrote: the facts the manifest is built from.
pub(crate) struct RunRecord<'a> {
    pub run_id: &'a str,
    /// When the run started (monotonic, for the elapsed time; and wall clock).
    pub started: (Instant, SystemTime),
    /// The outputs' contract (sort schema, P, window, merge ops).
    pub contract: &'a FileContract,
    /// The outputs' Arrow schema (the sort columns' types).
    pub schema: &'a arrow_schema::Schema,
    pub rows_in: u64,
    pub bytes_in: u64,
    /// Rows dropped by dedup and deleted by the row filter (MC-1 checked).
    pub duplicates_dropped: u64,
    pub rows_deleted: u64,
    pub inputs: &'a [InputFile],
    pub outputs: Vec<OutputSummary>,
}

impl Manifest {
    /// The manifest of a finished run (its finish time is now).
    pub(crate) fn from_run(run: RunRecord<'_>) -> Manifest {
        let RunRecord {
            run_id,
            started,
            contract,
            schema,
            rows_in,
            bytes_in,
            duplicates_dropped,
            rows_deleted,
            inputs,
            outputs,
        } = run;
        let finished = SystemTime::now();
        Manifest {
            manifest_version: MANIFEST_VERSION,
            run_id: run_id.to_string(),
            engine: env!("CARGO_PKG_NAME"),
            engine_version: env!("CARGO_PKG_VERSION"),
            started_at: rfc3339(started.1),
            finished_at: rfc3339(finished),
            elapsed_secs: started.0.elapsed().as_secs_f64(),
            sort_schema: contract.sort_schema.to_string(),
            sort_columns: sort_column_entries(contract, schema),
            prefix_len: contract.prefix_len,
            window: contract.window,
            num_merge_ops: contract.num_merge_ops,
            rows_in,
            rows_out: outputs.iter().map(|s| s.rows).sum(),
            duplicates_dropped,
            rows_deleted,
            bytes_in,
            bytes_out: outputs.iter().map(|s| s.bytes).sum(),
            inputs: inputs.iter().map(InputEntry::of).collect(),
            outputs,
        }
    }

    /// The document as pretty-printed JSON.
    pub fn to_json(&self) -> crate::Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| crate::Error::json("manifest", e))
    }
}

impl InputEntry {
    /// The entry of an opened input.
    fn of(input: &InputFile) -> InputEntry {
        InputEntry {
            path: input.path.clone(),
            bytes: input.file_bytes,
            rows: input.num_rows(),
            footer_fingerprint: input.footer_fingerprint.clone(),
        }
    }
}

/// The contract's sort columns with their direction and type in `schema`.
fn sort_column_entries(
    contract: &FileContract,
    schema: &arrow_schema::Schema,
) -> Vec<SortColumnEntry> {
    contract
        .sort_schema
        .columns
        .iter()
        .map(|c| SortColumnEntry {
            name: c.name.clone(),
            direction: if c.direction.is_descending() {
                "desc"
            } else {
                "asc"
            },
            data_type: schema
                .field_with_name(&c.name)
                .ok()
                .map(|f| f.data_type().to_string()),
        })
        .collect()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `t` as RFC 3339 UTC with millisecond precision.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}
