//! Delete predicates: a conjunction of tests on sort columns plus an optional
//! time range, checked against rows, region prefixes and split metadata.
//!
//! - `parse`: the grammar (`col = 'v' AND col IN ('a','b') AND col LIKE 'p%'`),
//!   resolved against a sort schema with positioned errors;
//! - `value`: a literal against one typed value, and against a value range;
//! - `rows`: the mask of the rows of a batch a predicate matches.
//!
//! The merge engine takes predicates per input as a row filter
//! ([`crate::merge::MergeBuilder::delete_rows`]); the compactor stores them as
//! tombstones.

mod parse;
mod rows;
mod value;

pub use parse::{Cond, Literal, Predicate, Test, TimeRange};
pub use rows::delete_mask;

use crate::key::KeyValue;

/// A typed value from its JSON form (the catalog's prefix keys and time
/// bounds): text, integers, floats, booleans; anything else is null.
pub fn key_value_from_json(v: &serde_json::Value) -> KeyValue {
    match v {
        serde_json::Value::String(s) => KeyValue::Utf8(s.clone()),
        serde_json::Value::Bool(b) => KeyValue::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => KeyValue::Int(i),
            (None, Some(u), _) => KeyValue::UInt(u),
            (None, None, Some(f)) => KeyValue::Float64(f),
            _ => KeyValue::Null,
        },
        _ => KeyValue::Null,
    }
}

/// How much of a set of rows (a region, a split) a predicate can match,
/// decided from metadata alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// No row can match: leave the rows alone.
    None,
    /// Some rows may match: test each row.
    Some,
    /// Every row matches: drop them all without reading them.
    All,
}
