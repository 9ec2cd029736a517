//! `prefix-merge inspect FILE [--json]`: exit 0 when the file keeps its alignment
//! claim (or claims nothing), 1 when it breaks it, 2 on usage errors or an
//! unreadable file.

use super::{CliResult, EXIT_USAGE, EXIT_VIOLATION};
use prefix_merge::inspect::InspectReport;
use prefix_merge::{InputFile, SortSchema};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The Parquet file to inspect.
    file: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Sort schema to use instead of the file's own.
    #[arg(long)]
    sort_schema: Option<SortSchema>,
}

pub fn run(a: InspectArgs) -> CliResult {
    let input = InputFile::open_with_schema(&a.file, a.sort_schema.as_ref())
        .map_err(|e| Box::new((EXIT_USAGE, e)))?;
    let report = InspectReport::new(&input);
    if a.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| (EXIT_USAGE, prefix_merge::Error::json("inspect report", e)))?;
        println!("{text}");
    } else {
        print!("{}", report.render_text());
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATION)
    })
}
