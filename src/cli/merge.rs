//! `prefix-merge merge`: exit 0 with a summary on success; exit 1 with one
//! `error: ...` line on failure, leaving no file the run created; exit 2 with
//! one line for a bad writer option (`--compression`, `--data-page-size`,
//! `--max-row-group-rows`, `--bloom-filter`), checked before any work.

use super::signals::Interrupts;
use super::{flag_error, print_io_stats, CliResult, StorageArgs, EXIT_USAGE, EXIT_VIOLATION};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prefix_merge::key::describe;
use prefix_merge::merge::MergeOptions;
use prefix_merge::output::run::default_journal_dir;
use prefix_merge::output::{OutputSummary, SortKey};
use prefix_merge::storage::{Location, Storage};
use prefix_merge::{MergeBuilder, MergeResult, SortSchema, WriterOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Directory for the outputs (created if missing), or a URL prefix
    /// (s3://bucket/dir, gs://, az://) the outputs are uploaded under.
    #[arg(long)]
    output_dir: PathBuf,
    /// Upper bound on the number of outputs.
    #[arg(long, conflicts_with = "target_output_size")]
    num_outputs: Option<usize>,
    /// Target size of each output, e.g. 256MiB, 1GiB, 500MB.
    #[arg(long, value_parser = parse_size)]
    target_output_size: Option<u64>,
    /// Sort schema to use instead of the inputs' own.
    #[arg(long)]
    sort_schema: Option<SortSchema>,
    /// Write outputs aligned to this prefix length, cutting inputs with another P
    /// (e.g. legacy P = 0 files) into virtual regions.
    #[arg(long)]
    promote_prefix_len: Option<usize>,
    /// Do not trust the inputs' alignment claims: re-derive their regions from the
    /// data (repairs files whose claim is false).
    #[arg(long)]
    rescan_alignment: bool,
    /// Name outputs PREFIX_NNNNN.parquet (default merged_RUNID, unique per run).
    #[arg(long)]
    output_prefix: Option<String>,
    /// Publish the run manifest (JSON) at this path or URL once every output is
    /// durable (and, for uploads, visible).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Columns whose distinct values the manifest lists per output (comma-separated),
    /// besides the prefix columns.
    #[arg(long, value_delimiter = ',')]
    summary_columns: Vec<String>,
    /// Last-write-wins dedup: keep one row per full sort key (all sort columns,
    /// series and timestamp). The input order is the write order: list inputs
    /// oldest first; the row kept comes from the latest file in the list that
    /// has the key, and within one file the later row wins. Rows out = distinct
    /// keys; the manifest reports duplicates_dropped. Off by default.
    #[arg(long)]
    dedup: bool,
    /// Codec of every column chunk written: zstd(N) with N in 1..=22, lz4
    /// (LZ4_RAW), snappy or none [default: zstd(3)].
    #[arg(long, value_name = "CODEC")]
    compression: Option<String>,
    /// Data page size limit, e.g. 65536, 64KiB, 1MiB [default: 1MiB].
    #[arg(long, value_name = "BYTES")]
    data_page_size: Option<String>,
    /// Cap on the rows of an output row group (closed at the next series start).
    /// With P > 0 a prefix value with more rows continues in the next output
    /// file (no two row groups of a file share a prefix), so more outputs than
    /// asked for may be written.
    #[arg(long, value_name = "N")]
    max_row_group_rows: Option<String>,
    /// Write bloom filters for these columns (comma-separated), besides the
    /// columns that have one in any input.
    #[arg(long, value_name = "COL[,COL]")]
    bloom_filter: Option<String>,
    /// Threads that merge and encode: the merge on one, the outputs' columns
    /// encoded in parallel on the others; 0 = one per core. The
    /// bytes written are the same for every N.
    #[arg(long, value_name = "N", default_value_t = prefix_merge::merge::DEFAULT_THREADS)]
    threads: usize,
    /// Print the manifest (JSON) instead of the summary table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    storage: StorageArgs,
    /// Input Parquet files: paths or URLs (s3://bucket/key, gs://, az://, https://).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

pub(super) use prefix_merge::storage::parse_size;

/// The writer options the flags ask for (`None` without any writer flag, so
/// that verbatim copies keep the inputs' chunks as before); a bad value is a
/// usage error naming its flag.
fn writer_options(a: &MergeArgs) -> Result<Option<WriterOptions>, prefix_merge::Error> {
    let flags = [
        ("compression", "--compression", &a.compression),
        ("data_page_size", "--data-page-size", &a.data_page_size),
        (
            "max_row_group_rows",
            "--max-row-group-rows",
            &a.max_row_group_rows,
        ),
        ("bloom_filter", "--bloom-filter", &a.bloom_filter),
    ];
    let mut options = None;
    for (key, flag, value) in flags {
        if let Some(value) = value {
            options
                .get_or_insert_with(WriterOptions::default)
                .set_labeled(key, value, flag)?;
        }
    }
    Ok(options)
}

pub fn run(a: MergeArgs) -> CliResult {
    if a.num_outputs == Some(0) {
        return Err(flag_error("--num-outputs must be at least 1"));
    }
    if a.target_output_size == Some(0) {
        return Err(flag_error("--target-output-size must be more than 0 bytes"));
    }
    let storage = a.storage.storage().map_err(|e| Box::new((EXIT_USAGE, e)))?;
    let leftovers = leftovers_dir(&a, &storage);
    let writer_options = writer_options(&a).map_err(|e| Box::new((EXIT_USAGE, e)))?;
    let mut builder = MergeBuilder::new(&a.inputs, &a.output_dir).storage(storage);
    if let Some(dir) = &a.storage.journal_dir {
        builder = builder.journal_dir(dir);
    }
    if let Some(n) = a.num_outputs {
        builder = builder.num_outputs(n);
    }
    if let Some(t) = a.target_output_size {
        builder = builder.target_output_size(t);
    }
    if let Some(s) = a.sort_schema {
        builder = builder.sort_schema(s);
    }
    if let Some(p) = a.promote_prefix_len {
        builder = builder.promote_prefix_len(p);
    }
    builder = builder.rescan_alignment(a.rescan_alignment);
    if let Some(p) = a.output_prefix {
        builder = builder.output_prefix(p);
    }
    if let Some(m) = &a.manifest {
        builder = builder.manifest_path(m);
    }
    builder = builder.summary_columns(a.summary_columns);
    builder = builder.dedup(a.dedup);
    builder = builder.options(MergeOptions::default().with_threads(a.threads));
    if let Some(options) = writer_options {
        builder = builder.writer_options(options);
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = bar.clone();
    builder = builder.on_progress(move |done, total| {
        progress.set_length(total);
        progress.set_position(done);
    });
    let interrupts = Interrupts::watch(builder.cancel_flag(), &leftovers)?;
    let result = builder.run();
    bar.finish_and_clear();
    if let Some(code) = interrupts.stopped(&result, "merge stopped, no output written") {
        return Ok(code);
    }
    if interrupts.signal().is_some() && result.is_ok() {
        eprintln!("interrupted: too late, the merge had already published its outputs");
    }
    let result = result.map_err(|e| match e {
        // Only writer options name columns this way: a usage error.
        e @ prefix_merge::Error::UnknownColumn { .. } => Box::new((
            EXIT_USAGE,
            prefix_merge::Error::InvalidArgument(format!("--bloom-filter: {e}")),
        )),
        e => Box::new((EXIT_VIOLATION, e)),
    })?;
    if a.json {
        let text = result
            .to_json()
            .map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
        println!("{text}");
    } else {
        print!("{}", render_summary(&result));
        print_io_stats();
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a run killed mid-way leaves its files for `cleanup`: the output
/// directory, or the journal directory when the outputs are uploaded.
fn leftovers_dir(a: &MergeArgs, storage: &Storage) -> PathBuf {
    match storage.resolve(&a.output_dir) {
        Ok(Location::Remote(_)) => a
            .storage
            .journal_dir
            .clone()
            .unwrap_or_else(default_journal_dir),
        Ok(Location::Local(dir)) => dir,
        Err(_) => a.output_dir.clone(),
    }
}

/// The human-readable merge summary.
pub fn render_summary(r: &MergeResult) -> String {
    let names: Vec<&str> = r.sort_columns.iter().map(|c| c.name.as_str()).collect();
    let width = r
        .outputs
        .iter()
        .map(|o| file_name(&o.path).len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut s = String::new();
    summary_header(&mut s, &r.run_id, width);
    for o in &r.outputs {
        summary_output(&mut s, o, &names, r.prefix_len, width);
    }
    summary_totals(&mut s, r);
    s
}

/// The last component of `path`, for the summary table.
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The summary's run line and column headings.
fn summary_header(s: &mut String, run_id: &str, width: usize) {
    use std::fmt::Write as _;
    let _ = writeln!(s, "run {run_id}");
    let _ = writeln!(
        s,
        "{:<w$} {:>10} {:>4} {:>12} {:>21}  first key .. last key",
        "output",
        "rows",
        "rgs",
        "bytes",
        "time range",
        w = width
    );
}

/// One output's line, and its first prefixes when it has any.
fn summary_output(
    s: &mut String,
    o: &OutputSummary,
    names: &[&str],
    prefix_len: usize,
    width: usize,
) {
    use std::fmt::Write as _;
    let key = |k: &Option<SortKey>| {
        k.as_ref()
            .map(|k| describe(names, &k.values))
            .unwrap_or_default()
    };
    let time = match (&o.time_min, &o.time_max) {
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => "-".into(),
    };
    let _ = writeln!(
        s,
        "{:<w$} {:>10} {:>4} {:>12} {:>21}  [{}] .. [{}]",
        file_name(&o.path),
        o.rows,
        o.row_groups,
        o.bytes,
        time,
        key(&o.first_key),
        key(&o.last_key),
        w = width
    );
    if !o.prefixes.is_empty() {
        let prefix_names = &names[..prefix_len.min(names.len())];
        let shown: Vec<String> = o
            .prefixes
            .iter()
            .take(4)
            .map(|p| describe(prefix_names, p))
            .collect();
        let more = o.prefixes.len().saturating_sub(shown.len());
        let tail = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        let _ = writeln!(s, "{:<width$} prefixes: {}{}", "", shown.join("; "), tail);
    }
}

/// The totals line, and the dedup line when rows were dropped.
fn summary_totals(s: &mut String, r: &MergeResult) {
    use std::fmt::Write as _;
    let secs = r.elapsed_secs;
    let _ = writeln!(
        s,
        "total: {} rows in -> {} rows out, {} bytes in -> {} bytes out, {} outputs, {:.3}s ({:.1} M rows/s)",
        r.rows_in,
        r.rows_out,
        r.bytes_in,
        r.bytes_out,
        r.outputs.len(),
        secs,
        r.rows_in as f64 / secs.max(1e-9) / 1e6
    );
    if r.duplicates_dropped > 0 {
        let _ = writeln!(
            s,
            "dedup: {} duplicate rows dropped (last write wins)",
            r.duplicates_dropped
        );
    }
}
