//! Output targets: the row counts after which each output closes.

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
