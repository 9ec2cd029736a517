//! Deep verification (`prefix-merge verify`): proves from the data itself, not only
//! statistics, that a file is sorted (SS-1) and keeps its alignment claim (PA-1,
//! PA-3, MS-2), that its `qh.*` keys parse and that Parquet `sorting_columns` agree
//! with the sort schema.

use crate::input::{read_row_group_columns, InputFile};
use crate::plan::Violation;
use crate::schema::{describe_sorting_columns, to_sorting_columns};
use crate::write::sort_converter;
use crate::{Error, Result};
use arrow_row::OwnedRow;
use serde::Serialize;
use std::path::Path;

/// At most this many violations are listed per file.
const MAX_VIOLATIONS: usize = 20;

/// The outcome of verifying one file.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub path: String,
    pub rows: u64,
    pub prefix_len: usize,
    pub violations: Vec<Violation>,
}

impl VerifyReport {
    /// True when no rule is broken.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Verify one file. `Err` means the file could not be read at all (not Parquet,
/// I/O error, corrupt pages); broken rules are listed in the report.
pub fn verify_file(path: &Path) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        path: path.display().to_string(),
        rows: 0,
        prefix_len: 0,
        violations: Vec::new(),
    };
    let opened = crate::storage::Storage::default()
        .resolve(path)
        .and_then(|location| InputFile::open_location(&location, None));
    let input = match opened {
        Ok(i) => i,
        Err(
            e @ (Error::BadMetadata { .. }
            | Error::SortSchemaSyntax { .. }
            | Error::SortSchemaMissing { .. }
            | Error::UnorderableColumn { .. }),
        ) => {
            report.violations.push(Violation {
                rule: "QH-KEYS",
                row_group: 0,
                row: None,
                detail: e.to_string(),
            });
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    report.rows = input.num_rows();
    report.prefix_len = input.prefix_len();
    check_sorting_columns(&input, &mut report.violations);
    check_data(&input, &mut report.violations)?;
    report.violations.truncate(MAX_VIOLATIONS);
    Ok(report)
}

fn check_sorting_columns(input: &InputFile, out: &mut Vec<Violation>) {
    let meta = input.metadata.metadata();
    let expected = to_sorting_columns(input.sort_schema(), meta.file_metadata().schema_descr());
    for (i, rg) in meta.row_groups().iter().enumerate() {
        if let Some(found) = rg.sorting_columns() {
            if *found != expected {
                out.push(Violation {
                    rule: "SORTING-COLUMNS",
                    row_group: i,
                    row: None,
                    detail: format!(
                        "row group {i} sorting_columns ({}) disagree with sort schema {} ({})",
                        describe_sorting_columns(found, meta.file_metadata().schema_descr()),
                        input.sort_schema(),
                        describe_sorting_columns(&expected, meta.file_metadata().schema_descr()),
                    ),
                });
                return;
            }
        }
    }
}

fn check_data(input: &InputFile, out: &mut Vec<Violation>) -> Result<()> {
    let schema = input.metadata.schema();
    let sort = input.sort_schema();
    let p = input.prefix_len();
    let (sort_rows, sort_fields) = sort_converter(sort, schema, usize::MAX)?;
    let (prefix_rows, prefix_fields) = sort_converter(sort, schema, p)?;
    let fields: Vec<usize> = sort_fields.clone();
    let mut previous: Option<OwnedRow> = None;
    let mut previous_prefix: Option<(usize, OwnedRow)> = None;
    let arrow = |e| Error::arrow(&input.path, e);
    for rg in input.row_groups.iter().filter(|r| r.rows > 0) {
        if fields.is_empty() {
            break;
        }
        let mut offset = 0u64;
        let mut rg_prefix: Option<OwnedRow> = None;
        let mut mixed = false;
        for batch in read_row_group_columns(input, rg.index, &fields)? {
            let batch = batch.map_err(arrow)?;
            // Columns of the projected batch, in sort order.
            let column = |i: usize| batch.column_by_name(schema.field(i).name()).cloned();
            let sort_cols = sort_fields
                .iter()
                .map(|&i| column(i))
                .collect::<Option<Vec<_>>>();
            let prefix_cols = prefix_fields
                .iter()
                .map(|&i| column(i))
                .collect::<Option<Vec<_>>>();
            let (Some(sort_cols), Some(prefix_cols)) = (sort_cols, prefix_cols) else {
                return Err(Error::InvalidData(format!(
                    "{}: sort column missing in data",
                    input.path.display()
                )));
            };
            let rows = sort_rows.convert_columns(&sort_cols).map_err(arrow)?;
            let prefixes = if p > 0 && !prefix_fields.is_empty() {
                Some(prefix_rows.convert_columns(&prefix_cols).map_err(arrow)?)
            } else {
                None
            };
            for i in 0..rows.num_rows() {
                let row = rows.row(i);
                if previous.as_ref().is_some_and(|p| row < p.row()) {
                    let at = offset + i as u64;
                    // At a row group's first row with a smaller prefix than the row
                    // group before, the cause is row-group order (MS-2).
                    let ms2 = at == 0
                        && matches!((&prefixes, &previous_prefix), (Some(px), Some((_, prev))) if px.row(0) < prev.row());
                    if ms2 {
                        let prev_rg = previous_prefix.as_ref().map_or(0, |(r, _)| *r);
                        out.push(Violation {
                            rule: "MS-2",
                            row_group: rg.index,
                            row: Some(0),
                            detail: format!(
                                "row group {} sorts before row group {prev_rg}",
                                rg.index
                            ),
                        });
                    } else {
                        out.push(Violation {
                            rule: "SS-1",
                            row_group: rg.index,
                            row: Some(at),
                            detail: format!(
                                "row group {}, row {at}: row sorts before the row preceding it",
                                rg.index
                            ),
                        });
                    }
                    return Ok(());
                }
                previous = Some(row.owned());
            }
            if let Some(prefixes) = prefixes.as_ref().filter(|_| !mixed) {
                for i in 0..prefixes.num_rows() {
                    match &rg_prefix {
                        None => rg_prefix = Some(prefixes.row(i).owned()),
                        Some(first) if first.row() != prefixes.row(i) => {
                            out.push(Violation {
                                rule: "PA-1",
                                row_group: rg.index,
                                row: Some(offset + i as u64),
                                detail: format!(
                                    "row group {} holds more than one prefix value (row {} differs from row 0)",
                                    rg.index,
                                    offset + i as u64
                                ),
                            });
                            mixed = true;
                            break;
                        }
                        Some(_) => {}
                    }
                }
            }
            offset += batch.num_rows() as u64;
        }
        if let Some(prefix) = rg_prefix {
            if let Some((prev_rg, prev)) = &previous_prefix {
                let (rule, what) = match prefix.row().cmp(&prev.row()) {
                    std::cmp::Ordering::Equal => ("PA-3", "repeats the prefix of"),
                    std::cmp::Ordering::Less => ("MS-2", "sorts before"),
                    std::cmp::Ordering::Greater => ("", ""),
                };
                if !rule.is_empty() {
                    out.push(Violation {
                        rule,
                        row_group: rg.index,
                        row: None,
                        detail: format!("row group {} {what} row group {prev_rg}", rg.index),
                    });
                }
            }
            previous_prefix = Some((rg.index, prefix));
        }
    }
    Ok(())
}
