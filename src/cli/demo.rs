//! `prefix-merge demo`: generate a small sample data set, show what the engine sees
//! in it, merge it and print the merge summary.

use super::merge::render_summary;
use super::{CliResult, EXIT_VIOLATION};
use prefix_merge::gen::{generate, GenConfig, Overlap};
use prefix_merge::inspect::InspectReport;
use prefix_merge::write::SplitSummary;
use prefix_merge::{InputFile, MergeBuilder, MergeResult};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to put the sample data and outputs (default: a folder in the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Remove `dir` if it exists (the demo starts from nothing).
fn fresh(dir: &Path) -> Result<(), Box<(u8, prefix_merge::Error)>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| Box::new((EXIT_VIOLATION, prefix_merge::Error::io(dir, e))))?;
    }
    Ok(())
}

/// A CLI failure of the demo (every step's errors exit with EXIT_VIOLATION).
type DemoError = Box<(u8, prefix_merge::Error)>;

fn failed(e: prefix_merge::Error) -> DemoError {
    Box::new((EXIT_VIOLATION, e))
}

pub fn run(a: DemoArgs) -> CliResult {
    let dir = a
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("prefix-merge-demo"));
    let (inputs, outputs) = (dir.join("inputs"), dir.join("outputs"));
    fresh(&inputs)?;
    fresh(&outputs)?;
    let splits = generate_splits(&inputs)?;
    let inputs_ok = show_splits(&splits)?;
    let result = merge_splits(&splits, &outputs)?;
    let outputs_ok = show_outputs(&result)?;
    Ok(if inputs_ok && outputs_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATION)
    })
}

/// Step 1: four interleaved, aligned sample splits in `inputs`.
fn generate_splits(inputs: &Path) -> Result<Vec<SplitSummary>, DemoError> {
    let config = GenConfig {
        files: 4,
        rows: 50_000,
        metrics: 20,
        overlap: Overlap::Interleave,
        ..GenConfig::default()
    };
    println!(
        "1. generating {} splits x {} rows ({} metrics, aligned P=1, interleaved in time) in {}",
        config.files,
        config.rows,
        config.metrics,
        inputs.display()
    );
    generate(inputs, &config).map_err(failed)
}

/// Step 2: each split as the engine sees it; whether all keep their claim.
fn show_splits(splits: &[SplitSummary]) -> Result<bool, DemoError> {
    println!();
    println!("2. what the engine sees in each split");
    println!(
        "{:<20} {:>8} {:>11} {:>10}  alignment",
        "split", "rows", "row groups", "bytes"
    );
    let mut all_ok = true;
    for s in splits {
        let input = InputFile::open(&s.path).map_err(failed)?;
        let report = InspectReport::new(&input);
        all_ok &= report.ok;
        println!(
            "{:<20} {:>8} {:>11} {:>10}  {}",
            file_name(&s.path),
            report.rows,
            report.row_groups.len(),
            report.bytes,
            report.verdict
        );
    }
    Ok(all_ok)
}

/// Step 3: merge the splits into at most 3 outputs with a manifest, and print
/// the summary.
fn merge_splits(splits: &[SplitSummary], outputs: &Path) -> Result<MergeResult, DemoError> {
    println!();
    println!(
        "3. merging them into at most 3 sorted, non-overlapping outputs in {}",
        outputs.display()
    );
    let paths: Vec<&PathBuf> = splits.iter().map(|s| &s.path).collect();
    let manifest = outputs.join("manifest.json");
    let result = MergeBuilder::new(paths, outputs)
        .num_outputs(3)
        .manifest_path(&manifest)
        .summary_columns(["service"])
        .run()
        .map_err(failed)?;
    print!("{}", render_summary(&result));
    println!();
    println!(
        "   run {} published {} outputs (fsynced, never replacing a file), then its manifest {}",
        result.run_id,
        result.outputs.len(),
        manifest.display()
    );
    Ok(result)
}

/// Step 4: each output's alignment verdict; whether all keep the claim.
fn show_outputs(result: &MergeResult) -> Result<bool, DemoError> {
    println!();
    println!("4. every output keeps the alignment claim");
    let mut all_ok = true;
    for o in &result.outputs {
        let input = InputFile::open(&o.path).map_err(failed)?;
        let report = InspectReport::new(&input);
        all_ok &= report.ok;
        println!("{:<48} {}", file_name(&o.path), report.verdict);
    }
    Ok(all_ok)
}

/// The last component of `path`, for the tables.
fn file_name(path: &Path) -> std::borrow::Cow<'_, str> {
    path.file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default()
}
