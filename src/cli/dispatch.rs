//! The command line's top level: subcommands parsed and run, errors printed.

use super::{cleanup, compact, compactor, demo, gen, inspect, merge, table, verify};
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
    /// Manage a table of splits: create, add, ls, skipped, gc.
    Table(table::TableArgs),
    /// Show the jobs the compaction policy would run now (no side effects).
    Plan(compact::PlanArgs),
    /// Compact a table: run the policy's jobs under a memory budget.
    Compact(compact::CompactArgs),
    /// The compactor service: compact the tables of a shared catalog until stopped.
    Compactor(compactor::CompactorArgs),
}

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
        Command::Table(a) => table::run(a),
        Command::Plan(a) => compact::run_plan(a),
        Command::Compact(a) => compact::run_compact(a),
        Command::Compactor(a) => compactor::run(a),
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
