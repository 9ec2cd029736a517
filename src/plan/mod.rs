//! Planning from metadata only (no data read): validation of the inputs, regions,
//! the output targets the merge cuts toward, the estimated peak memory, and the
//! merge plan that puts them together.
//!
//! - [`alignment`]: the alignment report (PA-1..PA-3 from footers);
//! - [`memory`]: the estimated peak memory of a merge;
//! - [`regions`]: regions (one prefix key each) and their members;
//! - [`validate`]: checks that the inputs can be merged together;
//! - [`merge_plan`]: the plan a merge executes, and [`MergePlan`], what
//!   `prepare()` shows of it.

pub mod alignment;
pub mod memory;
pub mod merge_plan;
pub mod regions;
pub mod validate;

pub use alignment::{check_alignment, AlignmentReport, Violation};
pub use memory::{estimate_memory, MemoryEstimate};
pub use merge_plan::MergePlan;
pub(crate) use merge_plan::{plan_merge, Plan, PlanRequest};
pub use regions::{build_regions, Region, RegionMember};
pub use validate::validate_inputs;

/// Where the merge should cut outputs: output `i` closes at the first series
/// transition after `cut_rows[i]` rows in total have been written.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTargets {
    /// Outputs planned (at least 1).
    pub num_outputs: usize,
    /// Per output but the last: the total rows after which it closes.
    pub cut_rows: Vec<u64>,
}

impl OutputTargets {
    /// Even shares of `total_rows` over at most `num_outputs` outputs.
    pub fn even(total_rows: u64, num_outputs: usize) -> Self {
        let m = num_outputs.max(1) as u64;
        let cut_rows = (1..m).map(|i| (total_rows * i).div_ceil(m)).collect();
        OutputTargets {
            num_outputs: m as usize,
            cut_rows,
        }
    }
}
