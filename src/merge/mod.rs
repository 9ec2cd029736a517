//! The streaming merge engine (docs/architecture.md, "Merge").
//!
//! - [`builder`]: the public API (`MergeBuilder`, `MergeResult`);
//! - `stream`: one region member read as sorted batches, SS-1 checked;
//! - `prefix_check`: PA-1 from the data (rows carry their region's prefix);
//! - `key_layout`: merge keys as arrow `Rows`, series boundaries;
//! - `order`: k-way merge order with run detection;
//! - `assemble`: interleave of the picked rows into output batches;
//! - `engine`: the driver that walks regions and cuts outputs at series boundaries;
//! - `memory`: merge order and assembly over in-memory batches (no files).

mod assemble;
pub mod builder;
mod engine;
mod key_layout;
mod memory;
mod order;
mod prefix_check;
mod stream;

pub use builder::{MergeBuilder, MergeOptions, MergePlan, MergeResult, PreparedMerge, ProgressFn};
pub use memory::{merge_batches, merge_order};
