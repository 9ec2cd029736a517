//! Planning from metadata only (no data read): validation of the inputs, regions,
//! the output targets the merge cuts toward, the estimated peak memory, and the
//! merge plan that puts them together.
//!
//! - [`alignment`]: the alignment report (PA-1..PA-3 from footers);
//! - [`memory`]: the estimated peak memory of a merge;
//! - [`regions`]: regions (one prefix key each) and their members;
//! - [`targets`]: where the merge cuts outputs;
//! - [`validate`]: checks that the inputs can be merged together;
//! - [`merge_plan`]: the plan a merge executes, and [`MergePlan`], what
//!   `prepare()` shows of it.

pub mod alignment;
pub mod memory;
pub mod merge_plan;
pub mod regions;
pub mod targets;
pub mod validate;

pub use alignment::{check_alignment, AlignmentReport, Violation};
pub use memory::{estimate_memory, MemoryEstimate};
pub use merge_plan::MergePlan;
pub(crate) use merge_plan::{plan_merge, Plan, PlanRequest};
pub use regions::{build_regions, Region, RegionMember};
pub use targets::OutputTargets;
pub use validate::validate_inputs;
