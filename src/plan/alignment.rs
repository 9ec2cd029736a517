//! The alignment claim `qh.rg_partition_prefix_len = P` (docs/contract.md):
//! PA-1 each row group holds one prefix value, PA-3 no prefix key repeats,
//! MS-2 row groups appear in prefix-key order.

use crate::input::InputFile;
use crate::key::describe;
use serde::Serialize;
use std::collections::HashMap;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// `PA-1`, `PA-3` or `MS-2`.
    pub rule: &'static str,
    /// The row group where the rule breaks.
    pub row_group: usize,
    /// Row within the row group, where known.
    pub row: Option<u64>,
    /// What was found, with the prefix values.
    pub detail: String,
}

/// Outcome of checking a file against its own alignment claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlignmentReport {
    /// The P the file claims.
    pub prefix_len: usize,
    /// Every broken rule found (empty: the claim holds).
    pub violations: Vec<Violation>,
}

impl AlignmentReport {
    /// True when the file keeps its claim (or claims nothing).
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// A one-line verdict naming the rules that fail.
    pub fn verdict(&self) -> String {
        if self.prefix_len == 0 {
            return "ok (P=0: no alignment claim)".to_string();
        }
        if self.ok() {
            return format!("ok (P={}: PA-1, PA-3, MS-2 hold)", self.prefix_len);
        }
        let mut rules: Vec<&str> = self.violations.iter().map(|v| v.rule).collect();
        rules.dedup();
        rules.sort_unstable();
        rules.dedup();
        format!("VIOLATED {} (P={})", rules.join(", "), self.prefix_len)
    }
}

/// Check a file's row groups against its claimed P. Empty row groups are ignored.
pub fn check_alignment(input: &InputFile) -> AlignmentReport {
    let p = input.prefix_len();
    let mut violations = Vec::new();
    let names: Vec<&str> = input.sort_schema().column_names().take(p).collect();
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    let mut previous: Option<(usize, &crate::input::RowGroupPrefix)> = None;
    for rg in input.row_groups.iter().filter(|rg| rg.rows > 0) {
        let Some(prefix) = &rg.prefix else { continue };
        if let Some(m) = &prefix.mixed {
            violations.push(Violation {
                rule: "PA-1",
                row_group: rg.index,
                row: Some(m.row),
                detail: format!(
                    "row group {} holds more than one prefix value: row 0 has {}, row {} has {}",
                    rg.index,
                    describe(&names, &prefix.values),
                    m.row,
                    describe(&names, &m.values)
                ),
            });
        }
        let key = prefix.key.as_bytes();
        if let Some(&first) = seen.get(key) {
            violations.push(Violation {
                rule: "PA-3",
                row_group: rg.index,
                row: None,
                detail: format!(
                    "prefix key {} of row group {} repeats row group {}",
                    describe(&names, &prefix.values),
                    rg.index,
                    first
                ),
            });
        } else {
            seen.insert(key, rg.index);
        }
        if let Some((prev_index, prev)) = previous {
            if prefix.key < prev.key {
                violations.push(Violation {
                    rule: "MS-2",
                    row_group: rg.index,
                    row: None,
                    detail: format!(
                        "row group {} ({}) sorts before row group {} ({})",
                        rg.index,
                        describe(&names, &prefix.values),
                        prev_index,
                        describe(&names, &prev.values)
                    ),
                });
            }
        }
        previous = Some((rg.index, prefix));
    }
    AlignmentReport {
        prefix_len: p,
        violations,
    }
}
