//! Up-front validation of a set of inputs (docs/contract.md): everything that can be
//! known from footers is checked before a byte is written.

use crate::input::{describe_window, FileIdentity, InputFile};
use crate::plan::check_alignment;
use crate::{Error, Result};
use std::path::Path;

/// Check that inputs agree on sort schema and window, and on P unless the merge
/// promotes them to `target_prefix_len`; that the output P stays within the series
/// columns; and that every input used as-is keeps its alignment claim (with
/// `rescan`, no input is used as-is: all are re-derived by the legacy adapter).
pub fn validate_inputs(
    inputs: &[InputFile],
    target_prefix_len: Option<usize>,
    rescan: bool,
) -> Result<()> {
    let Some(first) = inputs.first() else {
        return Err(Error::InvalidArgument("no input files".into()));
    };
    check_distinct(inputs)?;
    check_sort_columns_exist(inputs)?;
    for input in &inputs[1..] {
        let mismatch = |what: &'static str, found: String, expected: String| Error::InputMismatch {
            path: input.path.clone(),
            other_path: first.path.clone(),
            what,
            found,
            expected,
        };
        if !input.sort_schema().same_order(first.sort_schema()) {
            return Err(mismatch(
                "sort schema",
                input.sort_schema().to_string(),
                first.sort_schema().to_string(),
            ));
        }
        if target_prefix_len.is_none() && input.prefix_len() != first.prefix_len() {
            return Err(mismatch(
                "prefix length P",
                input.prefix_len().to_string(),
                first.prefix_len().to_string(),
            ));
        }
        if input.contract.window != first.contract.window {
            return Err(mismatch(
                "window",
                describe_window(input.contract.window),
                describe_window(first.contract.window),
            ));
        }
    }
    let target = target_prefix_len.unwrap_or(first.prefix_len());
    let series_len = first.sort_schema().series_len();
    if target > series_len {
        return Err(match target_prefix_len {
            Some(p) => Error::InvalidArgument(format!(
                "prefix length {p} exceeds the {series_len} series columns of the sort schema"
            )),
            None => Error::BadMetadata {
                path: first.path.clone(),
                key: crate::input::KEY_PREFIX_LEN.into(),
                value: target.to_string(),
                reason: format!("P exceeds the {series_len} series columns"),
            },
        });
    }
    for input in inputs {
        if rescan || input.prefix_len() != target {
            continue; // re-derived from the data by the legacy adapter
        }
        let report = check_alignment(input);
        if let Some(v) = report.violations.first() {
            return Err(Error::Alignment {
                path: input.path.clone(),
                rule: v.rule,
                detail: v.detail.clone(),
            });
        }
    }
    Ok(())
}

/// Every input is a different file: not the same canonical path, and (on Unix) not
/// the same device and inode (a hard link). Merging a file twice would duplicate
/// every row.
fn check_distinct(inputs: &[InputFile]) -> Result<()> {
    let mut seen: Vec<(FileIdentity, &Path)> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let id = FileIdentity::of(&input.path)?;
        if let Some((_, other)) = seen.iter().find(|(s, _)| s.same_file(&id)) {
            return Err(Error::DuplicateInput {
                path: input.path.clone(),
                other_path: other.to_path_buf(),
            });
        }
        seen.push((id, &input.path));
    }
    Ok(())
}

/// Each sort column exists in at least one input (a column missing from only some
/// inputs is null there, MC-4); a column in none is almost surely a typo.
fn check_sort_columns_exist(inputs: &[InputFile]) -> Result<()> {
    let Some(first) = inputs.first() else {
        return Ok(());
    };
    for column in first.sort_schema().column_names() {
        let present = inputs
            .iter()
            .any(|i| i.metadata.schema().index_of(column).is_ok());
        if !present {
            let mut available: Vec<&str> = Vec::new();
            for input in inputs {
                for f in input.metadata.schema().fields() {
                    if !available.contains(&f.name().as_str()) {
                        available.push(f.name());
                    }
                }
            }
            return Err(Error::UnknownSortColumn {
                column: column.to_string(),
                available: available.join(", "),
            });
        }
    }
    Ok(())
}
