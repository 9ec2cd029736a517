//! `prefix-merge plan TABLE` (the jobs the policy would run now, no side effects)
//! and `prefix-merge compact TABLE` (run them).

use super::merge::parse_size;
use super::signals::Interrupts;
use super::{open_table, print_json, CliResult, StorageArgs, EXIT_VIOLATION};
use prefix_merge::compact::{compact, plan, CompactOptions, CompactReport, Outcome, Policy};
use prefix_merge::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Policy knobs shared by `plan` and `compact` (defaults in the README).
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// Merge when a level of an open window holds this many splits.
    #[arg(long, default_value_t = 10)]
    merge_factor: usize,
    /// At most this many splits per merge.
    #[arg(long, default_value_t = 12)]
    max_merge_factor: usize,
    /// Target size of merge outputs.
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    target_split_size: u64,
    /// Splits of at least this size are mature: level merges leave them alone.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    maturity_size: u64,
    /// A window is closed this long after its end: its splits get one final merge.
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    maturity_age: Duration,
    /// The final merge of a closed window leaves at most this many splits.
    #[arg(long, default_value_t = 1)]
    final_splits: usize,
    /// Drop windows that ended longer ago than this (e.g. 30d); off by default.
    #[arg(long, value_parser = humantime::parse_duration)]
    retention: Option<Duration>,
    /// Budget for the estimated peak memory of the jobs running at once.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    max_memory: u64,
    /// Policy clock, Unix seconds (default: now). For simulations and replays.
    #[arg(long)]
    now: Option<i64>,
}

impl PolicyArgs {
    fn options(&self) -> CompactOptions {
        CompactOptions {
            policy: Policy {
                merge_factor: self.merge_factor,
                max_merge_factor: self.max_merge_factor,
                target_split_bytes: self.target_split_size,
                maturity_bytes: self.maturity_size,
                maturity_age: self.maturity_age,
                final_splits: self.final_splits,
                retention: self.retention,
            },
            max_memory: self.max_memory,
            now: self.now,
            ..CompactOptions::default()
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    table: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
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
    policy: PolicyArgs,
    /// Repeat until the policy has nothing left to do.
    #[arg(long)]
    until_stable: bool,
    /// Jobs run at once (within --max-memory).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Clear the skip list first and try skipped splits again.
    #[arg(long)]
    retry_skipped: bool,
    /// Lease length: a dead worker's splits are free again after this.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    lease: Duration,
    #[arg(long)]
    json: bool,
}

pub fn run_plan(a: PlanArgs) -> CliResult {
    let mut table = open_table(&a.table, &a.storage)?;
    let jobs = plan(&mut table, &a.policy.options()).map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
    if a.json {
        return print_json(&jobs);
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
    println!("{} jobs", jobs.len());
    Ok(ExitCode::SUCCESS)
}

pub fn run_compact(a: CompactArgs) -> CliResult {
    let mut table = open_table(&a.table, &a.storage)?;
    let options = CompactOptions {
        until_stable: a.until_stable,
        jobs: a.jobs,
        retry_skipped: a.retry_skipped,
        lease: a.lease,
        ..a.policy.options()
    };
    let interrupts = Interrupts::watch(options.cancel.clone(), &table.splits_dir())?;
    let report = compact(&mut table, &options);
    if let Some(code) = interrupts.stopped(&report, "compact stopped, nothing half-committed") {
        return Ok(code);
    }
    let report = report.map_err(|e| Box::new((EXIT_VIOLATION, e)))?;
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
                ..
            } => println!(
                "{job}: {} splits -> {} ({rows} rows)",
                inputs.len(),
                outputs.len()
            ),
            Outcome::Busy { job } => println!("{job}: inputs held by another worker"),
            Outcome::Skipped { job, splits } => {
                for (id, why) in splits {
                    println!("{job}: skipped split {id}: {why}");
                }
            }
            Outcome::Failed { job, error } => println!("{job}: failed: {error}"),
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
}
