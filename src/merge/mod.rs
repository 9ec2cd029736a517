//! The streaming merge engine (docs/architecture.md, "Merge").
//!
//! - [`builder`]: the public API (`MergeBuilder`, `MergeResult`), a thin front
//!   over plan -> engine -> manifest;
//! - [`options`]: the tuning knobs (`MergeOptions`) and their defaults;
//! - `counts`: rows per input written, dropped and deleted, and MC-1 over them;
//! - `stream`: one region member read as sorted batches, SS-1 checked;
//! - `prefix_check`: PA-1 from the data (rows carry their region's prefix);
//! - `key_layout`: which sort columns make the merge key (series and time);
//! - `keys`: a batch's merge keys (series encoded once per run of rows);
//! - `order`: k-way merge order with run detection;
//! - `assemble`: interleave of the picked rows into output batches;
//! - `engine`: the driver that walks regions and cuts outputs at series boundaries;
//! - `memory`: merge order and assembly over in-memory batches (no files).

mod assemble;
pub mod builder;
mod counts;
mod engine;
mod key_layout;
mod keys;
mod memory;
pub mod options;
mod order;
mod prefix_check;
mod stream;

pub use crate::plan::MergePlan;
pub use builder::{MergeBuilder, MergeResult, PreparedMerge};
pub use memory::{merge_batches, merge_order};
pub use options::{
    MergeOptions, ProgressFn, DEFAULT_BATCH_ROWS, DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_ROWS,
    DEFAULT_THREADS, DEFAULT_VERBATIM_COPY,
};
