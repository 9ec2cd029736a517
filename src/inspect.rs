//! The report behind `prefix-merge inspect`: a file's contract, row groups with
//! decoded prefix keys, and its alignment verdict.

use crate::input::{FileContract, InputFile, KeySource};
use crate::key::describe;
use crate::plan::{check_alignment, AlignmentReport};
use serde::Serialize;
use std::fmt::Write as _;

/// One row group as reported.
#[derive(Debug, Clone, Serialize)]
pub struct RowGroupReport {
    /// Index of the row group in the file.
    pub index: usize,
    /// Rows in it.
    pub rows: u64,
    /// Compressed bytes of its column chunks.
    pub bytes: u64,
    /// Decoded prefix, e.g. `metric_name="cpu.usage"`; absent when P = 0.
    pub prefix: Option<String>,
    /// Whether the prefix came from statistics or from reading the column.
    pub prefix_source: Option<KeySource>,
}

/// Everything `inspect` shows about one file.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    /// The file, as given.
    pub path: String,
    /// The sort schema, in text form.
    pub sort_schema: String,
    /// What the file claims (`qh.*` keys).
    pub contract: FileContract,
    /// Rows in the file.
    pub rows: u64,
    /// Compressed bytes of all row groups.
    pub bytes: u64,
    /// Every row group.
    pub row_groups: Vec<RowGroupReport>,
    /// The alignment check against the file's claim.
    pub alignment: AlignmentReport,
    /// True when the file keeps its claim (or claims nothing).
    pub ok: bool,
    /// One line: `ok (...)` or the broken rule.
    pub verdict: String,
}

impl InspectReport {
    /// Build the report for an opened file.
    pub fn new(input: &InputFile) -> Self {
        let p = input.prefix_len();
        let names: Vec<&str> = input.sort_schema().column_names().take(p).collect();
        let row_groups: Vec<RowGroupReport> = input
            .row_groups
            .iter()
            .map(|rg| RowGroupReport {
                index: rg.index,
                rows: rg.rows,
                bytes: rg.bytes,
                prefix: rg.prefix.as_ref().map(|k| describe(&names, &k.values)),
                prefix_source: rg.prefix.as_ref().map(|k| k.source),
            })
            .collect();
        let alignment = check_alignment(input);
        InspectReport {
            path: input.path.display().to_string(),
            sort_schema: input.sort_schema().to_string(),
            contract: input.contract.clone(),
            rows: input.num_rows(),
            bytes: row_groups.iter().map(|r| r.bytes).sum(),
            row_groups,
            ok: alignment.ok(),
            verdict: alignment.verdict(),
            alignment,
        }
    }

    /// Human-readable rendering.
    pub fn render_text(&self) -> String {
        let c = &self.contract;
        let mut s = String::new();
        let _ = writeln!(s, "file:         {}", self.path);
        let _ = writeln!(
            s,
            "sort schema:  {} (from {})",
            self.sort_schema, c.schema_source
        );
        let _ = writeln!(s, "prefix len P: {}", c.prefix_len);
        match c.window {
            Some(w) => {
                let _ = writeln!(
                    s,
                    "window:       start {} duration {}s",
                    w.start, w.duration_secs
                );
            }
            None => {
                let _ = writeln!(s, "window:       none");
            }
        }
        let _ = writeln!(s, "merge ops:    {}", c.num_merge_ops);
        let _ = writeln!(
            s,
            "rows:         {} in {} row groups, {} bytes",
            self.rows,
            self.row_groups.len(),
            self.bytes
        );
        let _ = writeln!(s, "row groups:");
        let _ = writeln!(s, "  {:>5} {:>10} {:>12}  prefix", "#", "rows", "bytes");
        for rg in &self.row_groups {
            let prefix = rg.prefix.as_deref().unwrap_or("-");
            let _ = writeln!(
                s,
                "  {:>5} {:>10} {:>12}  {}",
                rg.index, rg.rows, rg.bytes, prefix
            );
        }
        let _ = writeln!(s, "alignment:    {}", self.verdict);
        for v in &self.alignment.violations {
            let _ = writeln!(s, "  {}: {}", v.rule, v.detail);
        }
        s
    }
}
