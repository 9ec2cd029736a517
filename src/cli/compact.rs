//! `prefix-merge plan TABLE` (the jobs the policy would run now, no side effects)
//! and `prefix-merge compact TABLE` (run them).

use super::defaults;
use super::merge::parse_size;
use super::signals::Interrupts;
use super::{
    open_table, print_json, CatalogArgs, CliResult, StorageArgs, EXIT_USAGE, EXIT_VIOLATION,
};
use prefix_merge::compact::compactor::{
    idle_windows, DEFAULT_JOBS, DEFAULT_LEASE, DEFAULT_MAX_MEMORY,
};
use prefix_merge::compact::{compact, plan, CompactOptions, CompactReport, Outcome, Policy, Table};
use prefix_merge::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Policy knobs shared by `plan` and `compact`. Each overrides the table's
/// stored setting (`table settings`) for this run only.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// Merge when a level of an open window holds this many splits.
    #[arg(long)]
    merge_factor: Option<usize>,
    /// At most this many splits per merge.
    #[arg(long)]
    max_merge_factor: Option<usize>,
    /// Target size of merge outputs (e.g. 256MiB).
    #[arg(long)]
    target_split_size: Option<String>,
    /// Splits of at least this size are mature: level merges leave them alone.
    #[arg(long)]
    maturity_size: Option<String>,
    /// A window is closed this long after its end: its splits get one final merge.
    #[arg(long)]
    maturity_age: Option<String>,
    /// The final merge of a closed window leaves at most this many splits.
    #[arg(long)]
    final_splits: Option<usize>,
    /// Drop windows that ended longer ago than this (e.g. 30d, or none).
    #[arg(long)]
    retention: Option<String>,
    /// Budget for the estimated peak memory of the jobs running at once.
    #[arg(long, default_value = defaults::size(DEFAULT_MAX_MEMORY), value_parser = parse_size)]
    max_memory: u64,
    /// Policy clock, Unix seconds (default: now). For simulations and replays.
    #[arg(long)]
    now: Option<i64>,
}

impl PolicyArgs {
    /// The flags given, as (setting key, value).
    fn overrides(&self) -> Vec<(&'static str, String)> {
        let given = [
            ("merge_factor", self.merge_factor.map(|v| v.to_string())),
            (
                "max_merge_factor",
                self.max_merge_factor.map(|v| v.to_string()),
            ),
            ("target_split_size", self.target_split_size.clone()),
            ("maturity_size", self.maturity_size.clone()),
            ("maturity_age", self.maturity_age.clone()),
            ("final_splits", self.final_splits.map(|v| v.to_string())),
            ("retention", self.retention.clone()),
        ];
        given
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }

    /// The run's options: the table's stored policy with the flags applied,
    /// each override reported on stderr (and not stored).
    fn options(&self, table: &Table) -> Result<CompactOptions, Box<(u8, prefix_merge::Error)>> {
        if self.max_memory == 0 {
            return Err(super::flag_error("--max-memory must be more than 0 bytes"));
        }
        let stored = table.settings().policy.clone();
        let overrides = self.overrides();
        for (key, value) in &overrides {
            Policy::parse_value(key, value)
                .map_err(|e| Box::new((EXIT_USAGE, flag_error(key, e))))?;
        }
        let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut policy = stored.clone();
        policy.apply(&pairs).map_err(|e| {
            let detail = match e {
                prefix_merge::Error::InvalidArgument(m) => m,
                other => other.to_string(),
            };
            super::flag_error(format!(
                "the policy flags with the stored settings: {detail}"
            ))
        })?;
        for (key, value) in &overrides {
            let was = stored.entries().into_iter().find(|(k, _)| k == key);
            eprintln!(
                "override for this run: {key} = {value} (stored: {}; not saved)",
                was.map(|(_, v)| v).unwrap_or_default()
            );
        }
        Ok(CompactOptions {
            policy: Some(policy),
            max_memory: self.max_memory,
            now: self.now,
            ..CompactOptions::default()
        })
    }
}

/// A policy error from a flag, naming the flag.
fn flag_error(key: &str, e: prefix_merge::Error) -> prefix_merge::Error {
    let flag = format!("--{}", key.replace('_', "-"));
    match e {
        prefix_merge::Error::InvalidArgument(m) => {
            prefix_merge::Error::InvalidArgument(format!("{flag}: {m}"))
        }
        other => other,
    }
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    table: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    catalog: CatalogArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    table: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    catalog: CatalogArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Repeat until the policy has nothing left to do.
    #[arg(long)]
    until_stable: bool,
    /// Jobs run at once (within --max-memory).
    #[arg(long, default_value_t = DEFAULT_JOBS)]
    jobs: usize,
    /// Clear the skip list first and try skipped splits again.
    #[arg(long)]
    retry_skipped: bool,
    /// Lease length: a dead worker's splits are free again after this.
    #[arg(long, default_value = defaults::duration(DEFAULT_LEASE), value_parser = humantime::parse_duration)]
    lease: Duration,
    #[arg(long)]
    json: bool,
}

pub fn run_plan(a: PlanArgs) -> CliResult {
    let mut table = open_table(&a.table, &a.storage, &a.catalog)?;
    let options = a.policy.options(&table)?;
    let jobs = plan(&mut table, &options).map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
    let idle = idle_windows(&mut table, &options).map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
    if a.json {
        return print_json(&serde_json::json!({ "jobs": jobs, "idle_windows": idle }));
    }
    println!("kind\twindow\tlevel\tinputs\trows\tbytes\toutputs\test_peak_mib");
    for j in &jobs {
        println!(
            "{}\t{}\t{}\t{}{}\t{}\t{}\t{}\t{:.1}",
            j.spec.kind.as_str(),
            j.spec.window_start.map_or("-".into(), |w| w.to_string()),
            j.spec.level,
            j.spec.inputs.len(),
            if j.deferred_inputs > 0 {
                format!(" (+{} later)", j.deferred_inputs)
            } else {
                String::new()
            },
            j.spec.rows,
            j.spec.bytes,
            j.spec.num_outputs,
            j.estimated_peak_bytes as f64 / (1 << 20) as f64
        );
    }
    for w in &idle {
        println!(
            "window {}: nothing to do: {}",
            w.window_start.map_or("-".into(), |s| s.to_string()),
            w.idle.as_deref().unwrap_or("")
        );
    }
    println!("{} jobs", jobs.len());
    Ok(ExitCode::SUCCESS)
}

pub fn run_compact(a: CompactArgs) -> CliResult {
    if a.jobs == 0 {
        return Err(super::flag_error("--jobs must be at least 1"));
    }
    let mut table = open_table(&a.table, &a.storage, &a.catalog)?;
    let options = CompactOptions {
        until_stable: a.until_stable,
        jobs: a.jobs,
        retry_skipped: a.retry_skipped,
        lease: a.lease,
        ..a.policy.options(&table)?
    };
    let interrupts = Interrupts::watch(options.cancel.clone(), &table.splits_dir())?;
    let report = compact(&mut table, &options);
    if let Some(code) = interrupts.stopped(&report, "compact stopped, nothing half-committed") {
        return Ok(code);
    }
    let report = report.map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
    let (trips, waited) = prefix_merge::compact::postgres::catalog_stats();
    if trips > 0 {
        let (connects, connecting) = prefix_merge::compact::postgres::connect_stats();
        eprintln!(
            "catalog: {trips} round trips, {:.3} s waiting; of which {connects} connections, {:.3} s",
            waited.as_secs_f64(),
            connecting.as_secs_f64()
        );
    }
    let interrupted = interrupts.signal().is_some();
    if a.json {
        print_json(&report)?;
    } else {
        print_report(&report, interrupted);
    }
    if interrupted {
        return Ok(interrupts.report(&stopped_line(&report)));
    }
    let failed = report
        .jobs
        .iter()
        .any(|j| matches!(j, Outcome::Failed { .. }));
    Ok(if failed {
        ExitCode::from(EXIT_VIOLATION)
    } else {
        ExitCode::SUCCESS
    })
}

/// Whether a job ended because the compaction was interrupted.
fn cancelled(job: &Outcome) -> bool {
    matches!(job, Outcome::Failed { error, .. } if *error == Error::Cancelled.to_string())
}

/// What an interrupted compaction did, in one line.
fn stopped_line(report: &CompactReport) -> String {
    let committed = report
        .jobs
        .iter()
        .filter(|j| matches!(j, Outcome::Committed { .. }))
        .count();
    let running = if report.jobs.iter().any(cancelled) {
        "running job abandoned"
    } else {
        "no job was running"
    };
    format!("compact stopped after {committed} jobs; {running}, nothing half-committed")
}

/// The per-job lines and the totals of `compact` (jobs cut short by an
/// interrupt are left to the `interrupted:` line).
fn print_report(report: &CompactReport, interrupted: bool) {
    for j in &report.jobs {
        if interrupted && cancelled(j) {
            continue;
        }
        match j {
            Outcome::Committed {
                job,
                inputs,
                outputs,
                rows,
                rows_deleted,
                ..
            } => println!(
                "{job}: {} splits -> {} ({rows} rows{})",
                inputs.len(),
                outputs.len(),
                if *rows_deleted > 0 {
                    format!(", {rows_deleted} deleted")
                } else {
                    String::new()
                }
            ),
            Outcome::Busy { job } => println!("{job}: inputs held by another worker"),
            Outcome::Skipped { job, splits } => {
                for (id, why) in splits {
                    println!("{job}: skipped split {id}: {why}");
                }
            }
            Outcome::Failed { job, error } => println!("{job}: failed: {error}"),
            Outcome::Fenced { job, error } => {
                println!("{job}: fenced, not committed: {error}")
            }
        }
    }
    println!(
        "compact: {} rounds, {} jobs, {} rows merged, {} bytes read, {} written, {} live splits",
        report.rounds,
        report.jobs.len(),
        report.rows_merged,
        report.bytes_read,
        report.bytes_written,
        report.live_splits
    );
    if report.rows_deleted > 0 || !report.tombstones_retired.is_empty() {
        println!(
            "compact: {} rows deleted, {} tombstones retired",
            report.rows_deleted,
            report.tombstones_retired.len()
        );
    }
}
