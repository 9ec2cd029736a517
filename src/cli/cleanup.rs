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
    /// Object-store option KEY=VALUE for the URLs in journals (repeatable; as
    /// for `merge`).
    #[arg(long = "storage-option", value_name = "KEY=VALUE")]
    storage_options: Vec<String>,
}

pub fn run(a: CleanupArgs) -> CliResult {
    let storage = prefix_merge::storage::Storage::with_options(&a.storage_options)
        .map_err(|e| Box::new((EXIT_USAGE, e)))?;
    let report = prefix_merge::output::cleanup_dir_with(&a.dir, &storage)
        .map_err(|e| Box::new((EXIT_USAGE, e)))?;
    if a.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| prefix_merge::Error::json("cleanup report", e))
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
    for upload in &report.aborted_uploads {
        println!("aborted upload {upload}");
    }
    for run in &report.live_runs {
        println!("left live run {run} alone");
    }
    println!(
        "cleanup: {} files removed, {} uploads aborted, {} runs rolled back, {} live runs",
        report.removed.len(),
        report.aborted_uploads.len(),
        report.rolled_back_runs.len(),
        report.live_runs.len()
    );
    Ok(ExitCode::SUCCESS)
}
