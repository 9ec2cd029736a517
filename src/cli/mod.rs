//! Command-line front end: argument parsing and dispatch to subcommands.

mod cleanup;
mod compact;
mod compactor;
mod defaults;
mod demo;
mod gen;
mod inspect;
mod merge;
mod signals;
mod table;
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
    /// Manage a table of splits: create, add, ls, skipped, gc.
    Table(table::TableArgs),
    /// Show the jobs the compaction policy would run now (no side effects).
    Plan(compact::PlanArgs),
    /// Compact a table: run the policy's jobs under a memory budget.
    Compact(compact::CompactArgs),
    /// The compactor service: compact the tables of a shared catalog until stopped.
    Compactor(compactor::CompactorArgs),
}

/// Options for URLs (object storage), shared by the commands that take them.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Object-store option KEY=VALUE (repeatable): client keys such as
    /// aws_endpoint, aws_region, allow_http, aws_access_key_id, or tuning keys
    /// part_size, upload_concurrency, fetch_size, prefetch, max_retries,
    /// retry_timeout. Credentials otherwise come from the environment (AWS_*,
    /// GOOGLE_*, AZURE_*).
    #[arg(long = "storage-option", value_name = "KEY=VALUE", global = true)]
    pub options: Vec<String>,
    /// Local directory for the journal of runs whose outputs are uploaded
    /// (default $PREFIX_MERGE_JOURNAL_DIR, else ~/.local/state/prefix-merge/journal).
    #[arg(long, global = true)]
    pub journal_dir: Option<std::path::PathBuf>,
}

impl StorageArgs {
    /// The storage these options describe.
    pub fn storage(
        &self,
    ) -> Result<std::sync::Arc<prefix_merge::storage::Storage>, prefix_merge::Error> {
        prefix_merge::storage::Storage::with_options(&self.options).map(std::sync::Arc::new)
    }
}

/// Where a table's catalog is: a shared catalog server, or (without one) the
/// SQLite file inside the table's directory.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogArgs {
    /// A shared catalog, postgres://USER@HOST:PORT/DB (default
    /// $PREFIX_MERGE_CATALOG): TABLE is then a table name in it. Without one,
    /// TABLE is a directory with its own SQLite catalog.
    #[arg(long, global = true, value_name = "URL")]
    pub catalog: Option<String>,
    /// Local work directory root for shared-catalog tables whose splits are in
    /// a bucket: DIR/NAME holds the journals of a table's jobs, so that a
    /// worker restarted on this machine cleans up after a dead one (default
    /// $PREFIX_MERGE_WORK_DIR, else TMPDIR/prefix-merge-work).
    #[arg(long, global = true, value_name = "DIR")]
    pub work_dir: Option<std::path::PathBuf>,
}

/// Environment variable naming the shared catalog when --catalog is not given.
pub const CATALOG_ENV: &str = "PREFIX_MERGE_CATALOG";
/// Environment variable naming the work directory root when --work-dir is not given.
pub const WORK_DIR_ENV: &str = "PREFIX_MERGE_WORK_DIR";

impl CatalogArgs {
    /// The shared catalog's URL, if one is named (flag, else environment).
    pub fn url(&self) -> Option<String> {
        self.catalog
            .clone()
            .or_else(|| std::env::var(CATALOG_ENV).ok())
            .filter(|u| !u.is_empty())
    }

    /// The root of the tables' work directories (see the flag).
    pub fn work_root(&self) -> std::path::PathBuf {
        match &self.work_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os(WORK_DIR_ENV)
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("prefix-merge-work")),
        }
    }

    /// The work directory of table `name`.
    pub fn work_dir(&self, name: &str) -> std::path::PathBuf {
        self.work_root().join(name)
    }
}

/// The table name TABLE gives in a shared catalog.
pub fn table_name(table: &std::path::Path) -> Result<&str, prefix_merge::Error> {
    table
        .to_str()
        .filter(|n| prefix_merge::compact::postgres::valid_table_name(n))
        .ok_or_else(|| {
            prefix_merge::Error::InvalidArgument(format!(
                "'{}': with --catalog, TABLE is a table name (letters, digits, '_', '-', '.')",
                table.display()
            ))
        })
}

/// Open the table `table` with these storage options: a directory with its
/// own SQLite catalog, or a name in the shared catalog.
pub fn open_table(
    table: &std::path::Path,
    storage: &StorageArgs,
    catalog: &CatalogArgs,
) -> Result<prefix_merge::compact::Table, Box<(u8, prefix_merge::Error)>> {
    let usage = |e| Box::new((EXIT_USAGE, e));
    let storage = storage.storage().map_err(usage)?;
    match catalog.url() {
        Some(url) => {
            let name = table_name(table).map_err(usage)?;
            prefix_merge::compact::Table::open_in_catalog(
                &url,
                name,
                &catalog.work_dir(name),
                storage,
            )
            .map_err(usage)
        }
        None => prefix_merge::compact::Table::open(table)
            .map(|t| t.with_storage(storage))
            .map_err(usage),
    }
}

/// After a run that touched object storage: its request and byte counts.
pub fn print_io_stats() {
    let s = prefix_merge::storage::stats::snapshot();
    if s.gets + s.puts > 0 {
        println!(
            "storage: {} GETs ({} bytes fetched), {} PUTs ({} bytes uploaded)",
            s.gets, s.bytes_fetched, s.puts, s.bytes_uploaded
        );
    }
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

/// What a subcommand returns: an exit code, or an error with the code to exit with.
pub type CliResult = Result<ExitCode, Box<(u8, prefix_merge::Error)>>;

/// A usage error about a flag (exit 2), checked before the library is called so
/// that the message names the flag (`--num-outputs`) rather than a library field.
pub fn flag_error(text: impl Into<String>) -> Box<(u8, prefix_merge::Error)> {
    Box::new((
        EXIT_USAGE,
        prefix_merge::Error::InvalidArgument(text.into()),
    ))
}

/// Print `value` as pretty JSON.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Box::new((EXIT_USAGE, prefix_merge::Error::json("report", e))))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
