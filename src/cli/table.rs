//! `prefix-merge table create|add|ls|delete|tombstones|settings|skipped|gc`: a table of splits and its catalog.

use super::defaults;
use super::signals::Interrupts;
use super::{
    open_table, print_json, CatalogArgs, CliResult, StorageArgs, EXIT_USAGE, EXIT_VIOLATION,
};
use prefix_merge::compact::compactor::DEFAULT_LEASE;
use prefix_merge::compact::gc::DEFAULT_GRACE;
use prefix_merge::compact::{gc, Added, Split, Table, TableSettings, Worker};
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
    #[command(flatten)]
    catalog: CatalogArgs,
}

#[derive(Debug, clap::Subcommand)]
enum TableCommand {
    /// Create a table: a directory with `splits/` and `catalog.sqlite`, and its
    /// stored settings (sort schema, P, dedup, compaction policy).
    Create {
        table: PathBuf,
        /// The sort schema every split must have (required unless --like).
        #[arg(long, required_unless_present = "like", conflicts_with = "like")]
        sort_schema: Option<SortSchema>,
        /// Take the sort schema (and P, unless --prefix-len) from this split file.
        #[arg(long, value_name = "FILE")]
        like: Option<PathBuf>,
        /// P of every split (default: the --like file's, else 1).
        #[arg(long)]
        prefix_len: Option<usize>,
        /// Keep one row per full sort key when compacting: the row from the
        /// latest add wins.
        #[arg(long)]
        dedup: bool,
        /// Keep the split files in a bucket under this URL prefix
        /// (s3://bucket/prefix, gs://, az://); the catalog stays in TABLE. With
        /// --catalog (TABLE is then a name) it is required and may also be an
        /// absolute local directory.
        #[arg(long)]
        splits_url: Option<String>,
        /// Store a setting KEY=VALUE (repeatable; see `table settings`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Validate files (as `merge` would), copy them in durably and register them.
    /// A file whose content is already in the table is not added again.
    Add {
        table: PathBuf,
        /// Rewrite a file whose P differs from the table's at the table's P.
        #[arg(long)]
        promote: bool,
        /// The sort order of files that carry no sort schema.
        #[arg(long)]
        sort_schema: Option<SortSchema>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Live splits: name, rows, bytes, window, level, sequence and key ranges.
    Ls {
        table: PathBuf,
        /// The reader's view as JSON: URLs, typed keys, time bounds (docs/live-set.md).
        #[arg(long)]
        json: bool,
        /// Show the live set at this moment (Unix seconds or RFC 3339), as long
        /// as gc has not removed its files.
        #[arg(long, value_name = "TIMESTAMP", value_parser = parse_timestamp)]
        at: Option<i64>,
    },
    /// Record a delete (a tombstone, with the table's next sequence number):
    /// rows matching PRED in splits added before it are deleted; compaction
    /// drops them, readers apply pending tombstones (`ls --json`).
    Delete {
        table: PathBuf,
        /// A conjunction of tests on sort columns: `col = 'v'`, `col IN ('a',
        /// 'b')`, `col LIKE 'prefix%'`, numbers unquoted, joined by AND.
        #[arg(long = "where", value_name = "PRED")]
        predicate: String,
        /// Only rows whose time column is at or after this value (in the
        /// column's unit; an RFC 3339 time is taken as Unix seconds).
        #[arg(long, value_parser = parse_timestamp)]
        from: Option<i64>,
        /// Only rows whose time column is before this value.
        #[arg(long, value_parser = parse_timestamp)]
        to: Option<i64>,
    },
    /// Pending tombstones, with the live splits and rows each may still
    /// delete (estimated from metadata).
    Tombstones {
        table: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show the table's stored settings, or change them with --set KEY=VALUE.
    Settings {
        table: PathBuf,
        /// Change a setting (repeatable): dedup; the policy: merge_factor,
        /// max_merge_factor, target_split_size, maturity_size, maturity_age,
        /// final_splits, retention; the compactor's writer options: compression,
        /// data_page_size, max_row_group_rows, bloom_filter.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
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
    /// jobs, and leftovers of dead merge runs; report the replaced splits still
    /// waiting for their grace period and when the first becomes collectable.
    Gc {
        table: PathBuf,
        /// Replaced splits stay this long for readers that still hold them.
        #[arg(long, default_value = defaults::duration(DEFAULT_GRACE), value_parser = humantime::parse_duration)]
        grace: Duration,
        #[arg(long)]
        json: bool,
    },
}

/// P of a table created with --sort-schema and no --prefix-len.
const DEFAULT_PREFIX_LEN: usize = 1;

fn usage<T>(r: prefix_merge::Result<T>) -> Result<T, Box<(u8, prefix_merge::Error)>> {
    r.map_err(|e| Box::new((EXIT_USAGE, e)))
}

pub fn run(a: TableArgs) -> CliResult {
    let (storage, catalog) = (&a.storage, &a.catalog);
    match a.command {
        TableCommand::Create {
            table,
            sort_schema,
            like,
            prefix_len,
            dedup,
            splits_url,
            set,
        } => {
            let (sort_schema, prefix_len) = usage(create_schema(sort_schema, like, prefix_len))?;
            let mut settings = TableSettings::new(sort_schema.to_string(), prefix_len, dedup);
            usage(apply_sets(&mut settings, &set))?;
            create(&table, settings, splits_url.as_deref(), storage, catalog)?;
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
            sort_schema,
            files,
        } => add(
            &table,
            storage,
            catalog,
            promote,
            sort_schema.as_ref(),
            &files,
        ),
        TableCommand::Ls { table, json, at } => ls(open_table(&table, storage, catalog)?, json, at),
        TableCommand::Settings { table, set, json } => {
            settings(open_table(&table, storage, catalog)?, &set, json)
        }
        TableCommand::Delete {
            table,
            predicate,
            from,
            to,
        } => {
            let mut t = open_table(&table, storage, catalog)?;
            let tombstone = usage(t.delete(&predicate, from, to))?;
            println!(
                "tombstone {} recorded at seq {}: {}",
                tombstone.id, tombstone.seq, tombstone.predicate
            );
            Ok(ExitCode::SUCCESS)
        }
        TableCommand::Tombstones { table, json } => {
            tombstones(open_table(&table, storage, catalog)?, json)
        }
        TableCommand::Skipped { table, json } => {
            let skipped = usage(open_table(&table, storage, catalog)?.skipped())?;
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
            gc_table(open_table(&table, storage, catalog)?, grace, json)
        }
    }
}

/// `table create`: in a shared catalog (with a splits URL), with its splits
/// in a bucket, or all local.
fn create(
    table: &Path,
    settings: TableSettings,
    splits_url: Option<&str>,
    storage: &StorageArgs,
    catalog: &CatalogArgs,
) -> Result<(), Box<(u8, prefix_merge::Error)>> {
    match (catalog.url(), splits_url) {
        (Some(catalog_url), Some(url)) => {
            let storage = usage(storage.storage())?;
            let name = usage(super::table_name(table))?;
            let work = catalog.work_dir(name);
            usage(Table::create_in_catalog(
                &catalog_url,
                name,
                settings,
                url,
                &work,
                storage,
            ))?;
        }
        (Some(_), None) => {
            return Err(super::flag_error(
                "a table in a shared catalog needs --splits-url (a bucket URL or an absolute directory)",
            ))
        }
        (None, Some(url)) => {
            let storage = usage(storage.storage())?;
            usage(Table::create_in_bucket(table, settings, url, storage))?;
        }
        (None, None) => {
            usage(Table::create(table, settings))?;
        }
    }
    Ok(())
}

/// `table ls`: the live splits (at a moment, with `at`), or the reader's
/// view as JSON.
fn ls(mut t: Table, json: bool, at: Option<i64>) -> CliResult {
    if json {
        return print_json(&usage(t.live_set(at))?);
    }
    let splits = match at {
        Some(at) => usage(t.catalog().live_at(at))?,
        None => usage(t.live())?,
    };
    print_splits(&splits)?;
    let pending = usage(t.catalog().tombstones())?.len();
    if pending > 0 {
        println!("{pending} pending tombstones (see `table tombstones`; readers must apply them)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `table settings`: apply `--set` pairs, then show the settings.
fn settings(mut t: Table, set: &[String], json: bool) -> CliResult {
    if !set.is_empty() {
        let mut settings = t.settings().clone();
        usage(apply_sets(&mut settings, set))?;
        usage(t.set_settings(settings))?;
    }
    let entries = t.settings().entries();
    if json {
        let map: serde_json::Map<String, serde_json::Value> = entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
            .collect();
        return print_json(&map);
    }
    for (k, v) in entries {
        println!("{k} = {v}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `table tombstones`: pending tombstones with what they may still delete.
fn tombstones(mut t: Table, json: bool) -> CliResult {
    let reports = usage(t.tombstone_reports())?;
    if json {
        return print_json(&reports);
    }
    println!("id\tseq\tsplits\trows\tpredicate");
    for r in &reports {
        let t = &r.tombstone;
        let range = match (t.from, t.to) {
            (None, None) => String::new(),
            (f, e) => format!(
                " [{}, {})",
                f.map_or("-inf".into(), |v| v.to_string()),
                e.map_or("+inf".into(), |v| v.to_string())
            ),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}{range}",
            t.id, t.seq, r.splits, r.rows_covered, t.predicate
        );
    }
    println!("{} pending tombstones", reports.len());
    Ok(ExitCode::SUCCESS)
}

/// `table gc`: collect what is past its grace period, and say when the rest is.
fn gc_table(mut t: Table, grace: Duration, json: bool) -> CliResult {
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
    if let Some(w) = &report.waiting {
        println!(
            "gc: {} replaced splits wait for their grace period ({}); the first is collectable at {} (in {})",
            w.splits,
            humantime::format_duration(grace),
            w.first_collectable_at,
            approx_duration(w.first_collectable_in_secs)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `42s` below a minute, else whole minutes: `55m`, `1h 5m`.
fn approx_duration(secs: u64) -> String {
    let rounded = if secs < 60 {
        secs
    } else {
        (secs + 30) / 60 * 60
    };
    humantime::format_duration(Duration::from_secs(rounded)).to_string()
}

fn print_splits(splits: &[Split]) -> CliResult {
    println!("split\trows\tbytes\twindow\tlevel\tseq\tkeys");
    for s in splits {
        let window = match (s.window_start, s.window_secs) {
            (Some(start), Some(secs)) => format!("{start}+{secs}s"),
            _ => "-".into(),
        };
        println!(
            "{}\t{}\t{}\t{window}\t{}\t{}..{}\t{}..{}{}",
            s.id,
            s.rows,
            s.bytes,
            s.level,
            s.seq_min,
            s.seq_max,
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

/// The new table's sort schema and P: given, or taken from a `--like` file.
fn create_schema(
    sort_schema: Option<SortSchema>,
    like: Option<PathBuf>,
    prefix_len: Option<usize>,
) -> prefix_merge::Result<(SortSchema, usize)> {
    match (sort_schema, like) {
        (Some(schema), _) => Ok((schema, prefix_len.unwrap_or(DEFAULT_PREFIX_LEN))),
        (None, Some(file)) => {
            let input = prefix_merge::InputFile::open(&file)?;
            let p = prefix_len.unwrap_or(input.prefix_len());
            Ok((input.sort_schema().clone(), p))
        }
        (None, None) => Err(prefix_merge::Error::InvalidArgument(
            "a table needs its sort schema: --sort-schema SCHEMA, or --like FILE".into(),
        )),
    }
}

/// Apply `KEY=VALUE` settings together (checked as a whole).
fn apply_sets(settings: &mut TableSettings, sets: &[String]) -> prefix_merge::Result<()> {
    let pairs = sets
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim(), v))
                .ok_or_else(|| {
                    prefix_merge::Error::InvalidArgument(format!(
                        "--set '{kv}': expected KEY=VALUE"
                    ))
                })
        })
        .collect::<prefix_merge::Result<Vec<_>>>()?;
    settings.apply(&pairs)
}

/// `table add`: each file in turn, added or reported as already in the table.
/// SIGINT/SIGTERM stops it between files or abandons the file being added
/// (nothing of it is left or registered).
fn add(
    table: &Path,
    storage: &StorageArgs,
    catalog: &CatalogArgs,
    promote: bool,
    sort_schema: Option<&SortSchema>,
    files: &[PathBuf],
) -> CliResult {
    let cancel = Arc::new(AtomicBool::new(false));
    let mut t = open_table(table, storage, catalog)?.with_cancel(cancel.clone());
    let interrupts = Interrupts::watch(cancel, &t.splits_dir())?;
    let worker = Worker::new(DEFAULT_LEASE);
    let n = files.len();
    for (i, f) in files.iter().enumerate() {
        if interrupts.signal().is_some() {
            let line = format!("table add stopped after {i} of {n} files; the rest were not added");
            return Ok(interrupts.report(&line));
        }
        let added = t.add(f, promote, sort_schema, &worker);
        let line = format!(
            "table add stopped, {} not added ({i} of {n} files added before it)",
            f.display()
        );
        if let Some(code) = interrupts.stopped(&added, &line) {
            return Ok(code);
        }
        match added.map_err(|e| Box::new((EXIT_VIOLATION, promote_flag(e))))? {
            Added::New(split) => println!(
                "added {} as {} ({} rows, seq {})",
                f.display(),
                split.id,
                split.rows,
                split.seq_min
            ),
            Added::Existing(split) => println!(
                "{}: already in the table as {} ({}); nothing added",
                f.display(),
                split.id,
                split.state.as_str()
            ),
        }
    }
    if interrupts.signal().is_some() {
        eprintln!("interrupted: too late, every file was already added");
    }
    Ok(ExitCode::SUCCESS)
}

/// A moment as Unix seconds, or an RFC 3339 time.
fn parse_timestamp(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.trim().parse::<i64>() {
        return Ok(secs);
    }
    let t = humantime::parse_rfc3339_weak(s.trim())
        .map_err(|_| format!("'{s}': expected Unix seconds or an RFC 3339 time"))?;
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("'{s}': before 1970"))?;
    i64::try_from(d.as_secs()).map_err(|_| format!("'{s}': out of range"))
}

/// The library's "promote it" hint of a P mismatch, as this command's flag.
fn promote_flag(e: prefix_merge::Error) -> prefix_merge::Error {
    match e {
        prefix_merge::Error::InputMismatch {
            what: what @ "prefix length",
            path,
            found,
            other_path,
            expected,
        } => prefix_merge::Error::InputMismatch {
            what,
            path,
            found,
            other_path,
            expected: expected.replace("(promote it to", "(add with --promote to"),
        },
        other => other,
    }
}
