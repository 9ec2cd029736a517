//! `prefix-merge verify FILE... [--json] [--sort-schema S]`: exit 0 when every file is sorted and
//! keeps its claims, 1 on a violation (named, with row group and row), 2 when a
//! file cannot be read.

use super::{CliResult, EXIT_USAGE, EXIT_VIOLATION};
use prefix_merge::verify::{verify_file_with_schema, VerifyReport};
use prefix_merge::SortSchema;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Files to verify.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print one JSON report per file.
    #[arg(long)]
    json: bool,
    /// Sort schema to verify against instead of the files' own (for files that
    /// declare none), e.g. metric_name|host|timestamp_secs/V2.
    #[arg(long)]
    sort_schema: Option<SortSchema>,
}

pub fn run(a: VerifyArgs) -> CliResult {
    let mut reports: Vec<VerifyReport> = Vec::new();
    let mut unreadable = false;
    for f in &a.files {
        match verify_file_with_schema(f, a.sort_schema.as_ref()) {
            Ok(r) => reports.push(r),
            Err(e) => {
                unreadable = true;
                eprintln!("error: {}", e.to_string().replace('\n', " "));
            }
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&reports)
            .map_err(|e| Box::new((EXIT_USAGE, prefix_merge::Error::json("verify report", e))))?;
        println!("{text}");
    } else {
        for r in &reports {
            if r.ok() {
                println!(
                    "{}: ok ({} rows, P={}; SS-1, PA-1, PA-3, MS-2 hold)",
                    r.path, r.rows, r.prefix_len
                );
            } else {
                println!("{}: VIOLATED", r.path);
                for v in &r.violations {
                    println!("  {}: {}", v.rule, v.detail);
                }
            }
        }
    }
    Ok(if unreadable {
        ExitCode::from(EXIT_USAGE)
    } else if reports.iter().all(VerifyReport::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATION)
    })
}
