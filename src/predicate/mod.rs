//! Delete predicates: a conjunction of tests on sort columns plus an optional
//! time range, checked against rows, region prefixes and split metadata.
//!
//! - `parse`: the grammar (`col = 'v' AND col IN ('a','b') AND col LIKE 'p%'`),
//!   resolved against a sort schema with positioned errors;
//! - `value`: a literal against one typed value, and against a value range;
//! - [`Coverage`]: how much of a set of rows a predicate can match;
//! - `rows`: the mask of the rows of a batch a predicate matches.
//!
//! The merge engine takes predicates per input as a row filter
//! ([`crate::merge::MergeBuilder::delete_rows`]); the compactor stores them as
//! tombstones.

mod coverage;
mod parse;
mod rows;
mod value;

pub use crate::key::key_value_from_json;
pub use coverage::Coverage;
pub use parse::{Cond, Literal, Predicate, Test, TimeRange};
pub use rows::delete_mask;
