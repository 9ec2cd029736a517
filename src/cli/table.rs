//! `prefix-merge table create|add|ls|skipped|gc`: a table of splits and its catalog.

use super::signals::Interrupts;
use super::{open_table, print_json, CliResult, StorageArgs, EXIT_USAGE, EXIT_VIOLATION};
use prefix_merge::compact::{gc, Split, Table, TableSettings, Worker};
use prefix_merge::SortSchema;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct TableArgs {
    #[command(subcommand)]
    command: TableCommand,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, clap::Subcommand)]
enum TableCommand {
    /// Create a table: a directory with `splits/` and `catalog.sqlite`.
    Create {
        table: PathBuf,
        /// The sort schema every split must have.
        #[arg(long, default_value_t = prefix_merge::gen::sort_schema())]
        sort_schema: SortSchema,
        /// P of every split.
        #[arg(long, default_value_t = 1)]
        prefix_len: usize,
        /// Keep one row per full sort key when compacting (newest wins; see
        /// `merge --dedup`).
        #[arg(long)]
        dedup: bool,
        /// Keep the split files in a bucket under this URL prefix
        /// (s3://bucket/prefix, gs://, az://); the catalog stays in TABLE.
        #[arg(long)]
        splits_url: Option<String>,
    },
    /// Validate files (as `merge` would), copy them in durably and register them.
    Add {
        table: PathBuf,
        /// Rewrite a file whose P differs from the table's at the table's P.
        #[arg(long)]
        promote: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Live splits: name, rows, bytes, window, level, prefix-key range.
    Ls {
        table: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Splits the compactor skipped, and why (`compact --retry-skipped` retries).
    Skipped {
        table: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Delete splits replaced longer than the grace period ago, orphans of dead
    /// jobs, and leftovers of dead merge runs.
    Gc {
        table: PathBuf,
        /// Replaced splits stay this long for readers that still hold them.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        grace: Duration,
        #[arg(long)]
        json: bool,
    },
}

fn usage<T>(r: prefix_merge::Result<T>) -> Result<T, Box<(u8, prefix_merge::Error)>> {
    r.map_err(|e| Box::new((EXIT_USAGE, e)))
}

pub fn run(a: TableArgs) -> CliResult {
    match a.command {
        TableCommand::Create {
            table,
            sort_schema,
            prefix_len,
            dedup,
            splits_url,
        } => {
            let settings = TableSettings {
                sort_schema: sort_schema.to_string(),
                prefix_len,
                dedup,
            };
            match &splits_url {
                Some(url) => {
                    let storage = usage(a.storage.storage())?;
                    usage(Table::create_in_bucket(&table, settings, url, storage))?
                }
                None => usage(Table::create(&table, settings))?,
            };
            println!(
                "created table {} (sort schema {sort_schema}, P={prefix_len}, dedup {})",
                table.display(),
                if dedup { "on" } else { "off" }
            );
            Ok(ExitCode::SUCCESS)
        }
        TableCommand::Add {
            table,
            promote,
            files,
        } => add_files(&table, &a.storage, promote, &files),
        TableCommand::Ls { table, json } => {
            let live = usage(open_table(&table, &a.storage)?.live())?;
            print_splits(&live, json)
        }
        TableCommand::Skipped { table, json } => {
            let skipped = usage(open_table(&table, &a.storage)?.skipped())?;
            if json {
                return print_json(&skipped);
            }
            for s in &skipped {
                println!("{}\t{}", s.id, s.skipped.as_deref().unwrap_or(""));
            }
            println!("{} skipped splits", skipped.len());
            Ok(ExitCode::SUCCESS)
        }
        TableCommand::Gc { table, grace, json } => {
            let mut t = open_table(&table, &a.storage)?;
            let now = prefix_merge::compact::worker::now_secs();
            let report = gc(&mut t, grace, now).map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
            if json {
                return print_json(&report);
            }
            println!(
                "gc: {} replaced splits deleted, {} orphans, {} temporaries, {} dead jobs, {} bytes freed",
                report.deleted_splits.len(),
                report.orphans.len(),
                report.temporaries.len(),
                report.expired_jobs.len(),
                report.bytes_freed
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `table add`: each file in turn; SIGINT/SIGTERM stops it between files or
/// abandons the file being added (nothing of it is left or registered).
fn add_files(table: &Path, storage: &StorageArgs, promote: bool, files: &[PathBuf]) -> CliResult {
    let cancel = Arc::new(AtomicBool::new(false));
    let mut t = open_table(table, storage)?.with_cancel(cancel.clone());
    let interrupts = Interrupts::watch(cancel, &t.splits_dir())?;
    let worker = Worker::new(Duration::from_secs(600));
    let n = files.len();
    for (i, f) in files.iter().enumerate() {
        if interrupts.signal().is_some() {
            let line = format!("table add stopped after {i} of {n} files; the rest were not added");
            return Ok(interrupts.report(&line));
        }
        let added = t.add(f, promote, &worker);
        let line = format!(
            "table add stopped, {} not added ({i} of {n} files added before it)",
            f.display()
        );
        if let Some(code) = interrupts.stopped(&added, &line) {
            return Ok(code);
        }
        let split = added.map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
        println!(
            "added {} as {} ({} rows)",
            f.display(),
            split.id,
            split.rows
        );
    }
    if interrupts.signal().is_some() {
        eprintln!("interrupted: too late, every file was already added");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_splits(splits: &[Split], json: bool) -> CliResult {
    if json {
        return print_json(&splits);
    }
    println!("split\trows\tbytes\twindow\tlevel\tkeys");
    for s in splits {
        let window = match (s.window_start, s.window_secs) {
            (Some(start), Some(secs)) => format!("{start}+{secs}s"),
            _ => "-".into(),
        };
        println!(
            "{}\t{}\t{}\t{window}\t{}\t{}..{}{}",
            s.id,
            s.rows,
            s.bytes,
            s.level,
            s.min_key,
            s.max_key,
            if s.skipped.is_some() { "\tSKIPPED" } else { "" }
        );
    }
    let rows: u64 = splits.iter().map(|s| s.rows).sum();
    let bytes: u64 = splits.iter().map(|s| s.bytes).sum();
    println!("{} live splits, {rows} rows, {bytes} bytes", splits.len());
    Ok(ExitCode::SUCCESS)
}
