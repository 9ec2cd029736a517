//! The data set's parameters ([`GenConfig`]) and the files written from them.

use super::metrics::{self, sort_schema, WINDOW_START};
use crate::input::Window;
use crate::write::{write_split, SplitConfig, SplitSummary};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// How row groups are cut in generated files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Layout {
    /// P = 1: one row group per metric.
    Aligned,
    /// P = 0: row groups cut every 10,000 rows.
    Legacy,
    /// P = 0: one row group.
    Single,
}

/// How files relate in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Overlap {
    /// Each file is a consecutive time slice.
    Disjoint,
    /// Files alternate timestamps within every series.
    Interleave,
}

/// Rows per row group of the legacy layout.
pub const LEGACY_ROW_GROUP_ROWS: usize = 10_000;

/// Parameters of a generated data set.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Files to write.
    pub files: usize,
    /// Rows per file.
    pub rows: usize,
    /// Distinct metric names.
    pub metrics: usize,
    /// Distinct series in the data set (default: one per 60 rows of a file).
    pub series: Option<usize>,
    /// How row groups are cut.
    pub layout: Layout,
    /// How the files' time ranges relate.
    pub overlap: Overlap,
    /// Seed of the value generator.
    pub seed: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            files: 4,
            rows: 10_000,
            metrics: 20,
            series: None,
            layout: Layout::Aligned,
            overlap: Overlap::Disjoint,
            seed: 42,
        }
    }
}

/// Write `config.files` files named `split_NNN.parquet` into `dir` (created if
/// missing). Returns one summary per file.
pub fn generate(dir: &Path, config: &GenConfig) -> Result<Vec<SplitSummary>> {
    generate_windows(dir, config, 1)
}

/// Like [`generate`], with the files dealt round-robin over `windows` consecutive
/// time windows (file `f` in window `f % windows`, its timestamps shifted there).
pub fn generate_windows(
    dir: &Path,
    config: &GenConfig,
    windows: usize,
) -> Result<Vec<SplitSummary>> {
    if config.files == 0 || config.metrics == 0 || windows == 0 {
        return Err(Error::InvalidArgument(
            "files, metrics and windows must be > 0".into(),
        ));
    }
    crate::output::create_dir(dir)?;
    (0..config.files)
        .map(|f| {
            let path: PathBuf = dir.join(format!("split_{f:03}.parquet"));
            generate_split(&path, config, f, f % windows, config.seed)
        })
        .collect()
}

/// Write file `file` of `config` at `path`, in time window number `window`
/// (counted from [`WINDOW_START`]), its values drawn with `value_seed`: the same
/// file and window with another value seed give the same sort keys, other values.
pub fn generate_split(
    path: &Path,
    config: &GenConfig,
    file: usize,
    window: usize,
    value_seed: u64,
) -> Result<SplitSummary> {
    let (prefix_len, max_rows) = match config.layout {
        Layout::Aligned => (1, None),
        Layout::Legacy => (0, Some(LEGACY_ROW_GROUP_ROWS)),
        Layout::Single => (0, None),
    };
    let mut split = SplitConfig::new(sort_schema(), prefix_len);
    split.max_row_group_rows = max_rows;
    let duration_secs = metrics::window_duration(config);
    let start = WINDOW_START + (window as i64) * duration_secs as i64;
    split.window = Some(Window {
        start,
        duration_secs,
    });
    let batch = metrics::metrics_batch_at(config, file, start, value_seed)?;
    write_split(path, batch.schema(), &[batch], &split)
}
