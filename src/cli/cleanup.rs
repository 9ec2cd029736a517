//! `prefix-merge cleanup DIR`: remove the temporary files, lock files and
//! unpublished outputs of dead runs; live runs (holding their lock) are left alone.

use super::{CliResult, EXIT_USAGE};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    /// Output directory (or manifest directory) of earlier runs.
    dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: CleanupArgs) -> CliResult {
    let report =
        prefix_merge::output::cleanup_dir(&a.dir).map_err(|e| Box::new((EXIT_USAGE, e)))?;
    if a.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| prefix_merge::Error::InvalidData(format!("json: {e}")))
            .map_err(|e| Box::new((EXIT_USAGE, e)))?;
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &report.removed {
        println!("removed {}", p.display());
    }
    for run in &report.rolled_back_runs {
        println!("rolled back unfinished run {run}");
    }
    for run in &report.live_runs {
        println!("left live run {run} alone");
    }
    println!(
        "cleanup: {} files removed, {} runs rolled back, {} live runs",
        report.removed.len(),
        report.rolled_back_runs.len(),
        report.live_runs.len()
    );
    Ok(ExitCode::SUCCESS)
}
