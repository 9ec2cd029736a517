//! The indexing-side writer: turns record batches of one split into a file that
//! keeps the file contract of docs/contract.md (one row group per prefix key when P > 0,
//! `qh.*` keys, `sorting_columns`, statistics and page index).
//!
//! - [`SortedSplitWriter`]: streaming, takes batches already in order and checks
//!   it (SS-1) as they arrive;
//! - [`write_split`]: takes batches in any order, sorts them stably, then writes.

mod config;
mod sort;
mod sorted_writer;
mod split;

pub use config::SplitConfig;
pub use sort::sort_batch;
pub use sorted_writer::{SortedSplitWriter, SplitSummary};
pub use split::write_split;
