//! Command-line front end: argument parsing and dispatch to subcommands.

mod cleanup;
mod demo;
mod gen;
mod inspect;
mod merge;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Merge many sorted Parquet files into a few larger sorted ones, streaming.
#[derive(Debug, Parser)]
#[command(name = "prefix-merge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate deterministic sample metrics files.
    Gen(gen::GenArgs),
    /// Show a file's sort schema, prefix length, row groups and alignment verdict.
    Inspect(inspect::InspectArgs),
    /// Merge sorted Parquet files into at most N sorted, non-overlapping outputs.
    Merge(merge::MergeArgs),
    /// Prove from the data that files are sorted and keep their alignment claim.
    Verify(verify::VerifyArgs),
    /// Remove what dead runs left in a directory (temporary files, unpublished
    /// outputs); live runs are left alone.
    Cleanup(cleanup::CleanupArgs),
    /// Run the main job on built-in sample data.
    Demo(demo::DemoArgs),
}

/// Exit code for a file that breaks its claim or a failed job.
pub const EXIT_VIOLATION: u8 = 1;
/// Exit code for usage errors and unreadable files.
pub const EXIT_USAGE: u8 = 2;

/// Parse arguments and run the chosen subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(a) => gen::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Cleanup(a) => cleanup::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Verify(a) => verify::run(a),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            let (code, err) = *failure;
            let line = err.to_string().replace('\n', " ");
            eprintln!("error: {line}");
            ExitCode::from(code)
        }
    }
}

/// What a subcommand returns: an exit code, or an error with the code to exit with.
pub type CliResult = Result<ExitCode, Box<(u8, prefix_merge::Error)>>;
