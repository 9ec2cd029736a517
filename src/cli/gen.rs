//! `prefix-merge gen`: write deterministic sample metrics files.

use super::{flag_error, CliResult, EXIT_USAGE};
use prefix_merge::gen::{generate_windows, GenConfig, Layout, Overlap};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Directory to write split_NNN.parquet files into (created if missing).
    #[arg(long)]
    output_dir: PathBuf,
    /// Number of files.
    #[arg(long, default_value_t = 4)]
    files: usize,
    /// Rows per file.
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// Number of distinct metric names.
    #[arg(long, default_value_t = 20)]
    metrics: usize,
    /// Distinct series (default: one per 60 rows of a file). With many metrics and
    /// few rows, e.g. `--rows 3650 --metrics 3000 --series 3650`, regions get tiny.
    #[arg(long)]
    series: Option<usize>,
    /// Row-group layout.
    #[arg(long, value_enum, default_value_t = Layout::Aligned)]
    layout: Layout,
    /// How files relate in time.
    #[arg(long, value_enum, default_value_t = Overlap::Disjoint)]
    overlap: Overlap,
    /// Deal the files round-robin over this many consecutive time windows.
    #[arg(long, default_value_t = 1)]
    windows: usize,
    /// Seed of the deterministic generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub fn run(a: GenArgs) -> CliResult {
    for (flag, value) in [
        ("--files", a.files),
        ("--metrics", a.metrics),
        ("--windows", a.windows),
    ] {
        if value == 0 {
            return Err(flag_error(format!("{flag} must be at least 1")));
        }
    }
    let config = GenConfig {
        files: a.files,
        rows: a.rows,
        metrics: a.metrics,
        series: a.series,
        layout: a.layout,
        overlap: a.overlap,
        seed: a.seed,
    };
    let summaries = generate_windows(&a.output_dir, &config, a.windows)
        .map_err(|e| Box::new((EXIT_USAGE, e)))?;
    for s in summaries {
        println!(
            "{}\t{} rows\t{} row groups",
            s.path.display(),
            s.rows,
            s.row_groups
        );
    }
    Ok(ExitCode::SUCCESS)
}
