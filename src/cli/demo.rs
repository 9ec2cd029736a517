//! `prefix-merge demo`: generate a small sample data set and show what the engine
//! sees in it.

use super::{CliResult, EXIT_VIOLATION};
use prefix_merge::gen::{generate, GenConfig};
use prefix_merge::inspect::InspectReport;
use prefix_merge::InputFile;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to put the sample data (default: a folder in the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(a: DemoArgs) -> CliResult {
    let dir = a
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("prefix-merge-demo"));
    let inputs = dir.join("inputs");
    if inputs.exists() {
        std::fs::remove_dir_all(&inputs)
            .map_err(|e| Box::new((EXIT_VIOLATION, prefix_merge::Error::io(&inputs, e))))?;
    }
    let config = GenConfig {
        files: 4,
        rows: 20_000,
        metrics: 20,
        ..GenConfig::default()
    };
    println!(
        "generating {} files x {} rows ({} metrics, aligned, P=1) in {}",
        config.files,
        config.rows,
        config.metrics,
        inputs.display()
    );
    let splits = generate(&inputs, &config).map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
    println!();
    println!(
        "{:<40} {:>8} {:>11} {:>10}  alignment",
        "file", "rows", "row groups", "bytes"
    );
    let mut all_ok = true;
    for s in &splits {
        let input = InputFile::open(&s.path).map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
        let report = InspectReport::new(&input);
        all_ok &= report.ok;
        println!(
            "{:<40} {:>8} {:>11} {:>10}  {}",
            s.path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            report.rows,
            report.row_groups.len(),
            report.bytes,
            report.verdict
        );
    }
    if let Some(first) = splits.first() {
        let input = InputFile::open(&first.path).map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
        println!();
        print!("{}", InspectReport::new(&input).render_text());
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATION)
    })
}
