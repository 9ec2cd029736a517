//! The compaction loop: reap dead jobs, remove orphans, plan with the policy, fit
//! jobs under the memory budget, run them (up to `jobs` at once), repeat until
//! stable when asked.

use super::catalog::Split;
use super::delete::{delete_jobs, Deletes};
use super::gc::{reap_dead_jobs, remove_orphans, GcReport};
use super::job::{self, JobMerge, Outcome, ReadyJob};
use super::policy::{JobKind, JobSpec, Policy, WindowPlan};
use super::table::Table;
use super::worker::{now_secs, Worker};
use crate::output::WriterOptions;
use crate::plan::MemoryEstimate;
use crate::{Error, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Default [`CompactOptions::max_memory`]: 1 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;
/// Default [`CompactOptions::jobs`]: one job at a time.
pub const DEFAULT_JOBS: usize = 1;
/// Default [`CompactOptions::lease`]: 10 minutes.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);
/// Default [`CompactOptions::max_rounds`].
pub const DEFAULT_MAX_ROUNDS: usize = 10_000;

/// How a compaction runs. [`Default`] gives the `DEFAULT_*` constants (and the
/// table's stored policy, no clock override, flags unset); the CLI's defaults
/// are these constants too.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// The policy for this run; None (the default) uses the table's stored
    /// policy ([`crate::compact::TableSettings::policy`]).
    pub policy: Option<Policy>,
    /// Budget for the estimated peak memory of all jobs running at once.
    pub max_memory: u64,
    /// Jobs run at once (each on its own thread).
    pub jobs: usize,
    /// Repeat rounds until the policy has nothing left to do.
    pub until_stable: bool,
    /// Clear the skip list first, so skipped splits are tried again.
    pub retry_skipped: bool,
    /// Lease length (a dead worker's splits are free again after it).
    pub lease: Duration,
    /// The clock the policy uses (default: now). For simulations and tests.
    pub now: Option<i64>,
    /// Upper bound on rounds with `until_stable` (a guard, not a tuning knob).
    pub max_rounds: usize,
    /// Set to stop: running jobs are cancelled and abandoned (their leases
    /// released, nothing committed) and no new job starts; `compact` then
    /// returns what it did so far.
    pub cancel: Arc<AtomicBool>,
    /// Set to stop starting jobs: running ones finish (and commit), then
    /// `compact` returns (a service's drain; `cancel` cuts it short).
    pub stop: Arc<AtomicBool>,
    /// Told of every job's outcome and how long it ran (metrics, logs).
    pub observer: Option<JobObserver>,
}

/// What a [`JobObserver`] calls.
pub type ObserveJob = dyn Fn(&Outcome, Duration) + Send + Sync;

/// A callback told of each job's outcome and duration (from its thread).
#[derive(Clone)]
pub struct JobObserver(pub Arc<ObserveJob>);

impl std::fmt::Debug for JobObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobObserver")
    }
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            policy: None,
            max_memory: DEFAULT_MAX_MEMORY,
            jobs: DEFAULT_JOBS,
            until_stable: false,
            retry_skipped: false,
            lease: DEFAULT_LEASE,
            now: None,
            max_rounds: DEFAULT_MAX_ROUNDS,
            cancel: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            observer: None,
        }
    }
}

/// A job the policy would run now, with the engine's plan of it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedJob {
    #[serde(flatten)]
    /// The job as the policy chose it.
    pub spec: JobSpec,
    /// Estimated peak memory (0 for retention), and its parts.
    pub estimated_peak_bytes: u64,
    /// The engine's memory estimate of the job, part by part (None for jobs without a merge).
    pub memory: Option<MemoryEstimate>,
    /// Inputs left for a later round to keep under the memory budget.
    pub deferred_inputs: usize,
}

/// What a compaction did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CompactReport {
    /// Rounds of planning run.
    pub rounds: usize,
    /// What each job did, in the order they ended.
    pub jobs: Vec<Outcome>,
    /// Rows written by the committed merges.
    pub rows_merged: u64,
    /// Rows deleted by tombstones (rows of purged splits included).
    pub rows_deleted: u64,
    /// Bytes of the input splits of committed jobs.
    pub bytes_read: u64,
    /// Bytes of the output splits of committed jobs.
    pub bytes_written: u64,
    /// Highest estimated peak memory of the jobs run at once.
    pub peak_estimate_bytes: u64,
    /// What the cleanup before each round removed (dead jobs, orphans).
    pub cleanup: GcReport,
    /// Live splits at the end.
    pub live_splits: usize,
    /// Tombstones retired at the end (no live split needs them any more).
    pub tombstones_retired: Vec<u64>,
}

impl CompactOptions {
    fn check(&self) -> Result<()> {
        if let Some(policy) = &self.policy {
            policy.check().map_err(Error::InvalidArgument)?;
        }
        if self.jobs == 0 || self.max_memory == 0 {
            return Err(Error::InvalidArgument(
                "jobs and max_memory must be > 0".into(),
            ));
        }
        Ok(())
    }

    fn now(&self) -> i64 {
        self.now.unwrap_or_else(now_secs)
    }

    /// Whether the cancel or the stop flag is set (no new job starts).
    fn stopped(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || self.stop.load(Ordering::Relaxed)
    }

    /// The policy this run uses on `table`.
    fn policy_for(&self, table: &Table) -> Policy {
        self.policy
            .clone()
            .unwrap_or_else(|| table.settings().policy.clone())
    }
}

/// The jobs of one round at `now`: the policy's, then the delete-only jobs
/// for splits no policy job takes (see [`delete_jobs`]), with the deletes
/// they apply.
fn round_jobs(
    table: &mut Table,
    policy: &Policy,
    now: i64,
) -> Result<(Vec<JobSpec>, Arc<Deletes>)> {
    let deletes = Deletes::load(table)?;
    let mut live: Vec<Split> = deletes.splits.values().cloned().collect();
    live.sort_by(|a, b| a.id.cmp(&b.id));
    let mut specs = policy.plan(&live, now, table.settings().dedup);
    let extra = delete_jobs(policy, &live, &deletes.pending, &specs, now);
    specs.extend(extra);
    Ok((specs, Arc::new(deletes)))
}

/// The jobs `compact` would run now (one round), without side effects.
pub fn plan(table: &mut Table, options: &CompactOptions) -> Result<Vec<PlannedJob>> {
    options.check()?;
    let mut planned = Vec::new();
    let policy = options.policy_for(table);
    let (specs, deletes) = round_jobs(table, &policy, options.now())?;
    for spec in specs {
        let total = spec.inputs.len();
        match fit(spec, table, options, "plan", &deletes) {
            Ok(ready) => planned.push(PlannedJob {
                estimated_peak_bytes: ready.estimated_peak(),
                memory: ready.plan().map(|p| p.memory),
                deferred_inputs: total - ready.spec.inputs.len(),
                spec: ready.spec,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(planned)
}

/// The windows where the policy runs nothing now, each with the reason.
pub fn idle_windows(table: &mut Table, options: &CompactOptions) -> Result<Vec<WindowPlan>> {
    options.check()?;
    let live = table.live()?;
    let policy = options.policy_for(table);
    Ok(policy
        .plan_windows(&live, options.now(), table.settings().dedup)
        .into_iter()
        .filter(|w| w.jobs.is_empty())
        .collect())
}

/// Prepare `spec` and drop inputs (newest first) until the estimate fits the
/// budget; a merge keeps at least two inputs.
fn fit(
    mut spec: JobSpec,
    table: &Table,
    options: &CompactOptions,
    job: &str,
    deletes: &Arc<Deletes>,
) -> Result<ReadyJob> {
    let settings = table.settings();
    let how = JobMerge {
        dedup: settings.dedup,
        writer: (settings.writer != WriterOptions::default()).then(|| settings.writer.clone()),
        cancel: options.cancel.clone(),
        deletes: deletes.clone(),
    };
    let place = table.place();
    loop {
        let mut ready = job::prepare(spec.clone(), &place, job, &how)?;
        let Some(plan) = ready.plan() else {
            return Ok(ready);
        };
        ready.spec.rows = plan.rows_in;
        ready.spec.bytes = plan.bytes_in;
        let estimate = plan.estimated_peak_bytes;
        if estimate <= options.max_memory || spec.inputs.len() <= 2 {
            return Ok(ready);
        }
        // Shrink the fan-in in proportion to the overshoot.
        let keep = ((spec.inputs.len() as u128 * options.max_memory as u128) / estimate as u128)
            .clamp(2, spec.inputs.len() as u128 - 1) as usize;
        spec.inputs.truncate(keep);
    }
}

/// Compact the table: rounds of planned jobs, under the memory budget.
pub fn compact(table: &mut Table, options: &CompactOptions) -> Result<CompactReport> {
    options.check()?;
    let worker = Worker::new(options.lease);
    let mut report = CompactReport::default();
    if options.retry_skipped {
        for s in table.skipped()? {
            table.catalog().set_skipped(&s.id, None)?;
        }
    }
    let policy = options.policy_for(table);
    while !options.stopped() {
        report.rounds += 1;
        let now = options.now();
        clean_up(table, &mut report)?;
        let (specs, deletes) = round_jobs(table, &policy, now)?;
        if specs.is_empty() {
            break;
        }
        let progress = run_round(table, specs, &deletes, (&worker, options), &mut report)?;
        // A job that failed for a reason no input explains (disk full...) would
        // fail again: stop and report it.
        let failed = report
            .jobs
            .iter()
            .any(|j| matches!(j, Outcome::Failed { .. }));
        if !options.until_stable || !progress || failed || report.rounds >= options.max_rounds {
            break;
        }
    }
    report.live_splits = table.live()?.len();
    if !options.stopped() {
        report.tombstones_retired = table.retire_tombstones()?;
    }
    Ok(report)
}

/// Before a round: reap dead jobs and remove their orphans (wall clock).
fn clean_up(table: &mut Table, report: &mut CompactReport) -> Result<()> {
    let wall = now_secs();
    report
        .cleanup
        .expired_jobs
        .extend(reap_dead_jobs(table.catalog(), wall)?);
    remove_orphans(table, wall, &mut report.cleanup)
}

/// One round: prepare each job just before it runs (so that only the running
/// batch's inputs are open) and run them in batches of at most `jobs` within
/// the memory budget. Returns whether any job committed or skipped something.
fn run_round(
    table: &mut Table,
    specs: Vec<JobSpec>,
    deletes: &Arc<Deletes>,
    (worker, options): (&Worker, &CompactOptions),
    report: &mut CompactReport,
) -> Result<bool> {
    let mut progress = false;
    let mut batch: Vec<(String, ReadyJob)> = Vec::new();
    let mut budget = 0u64;
    for spec in specs {
        if options.stopped() {
            break;
        }
        let id = worker.job_id(spec.kind.as_str());
        let Some(ready) = prepare_or_skip(table, spec, options, &id, deletes, report)? else {
            progress = true;
            continue;
        };
        let estimate = ready.estimated_peak();
        if !batch.is_empty()
            && (batch.len() >= options.jobs || budget + estimate > options.max_memory)
        {
            let full = std::mem::take(&mut batch);
            progress |= run_batch(table, full, budget, (worker, options), report)?;
            budget = 0;
        }
        budget += estimate;
        batch.push((id, ready));
    }
    if !batch.is_empty() && !options.stopped() {
        progress |= run_batch(table, batch, budget, (worker, options), report)?;
    }
    Ok(progress)
}

/// Prepare job `id` (fitted to the budget); an input that cannot even be
/// opened goes on the skip list instead (reported; `None`).
fn prepare_or_skip(
    table: &mut Table,
    spec: JobSpec,
    options: &CompactOptions,
    id: &str,
    deletes: &Arc<Deletes>,
    report: &mut CompactReport,
) -> Result<Option<ReadyJob>> {
    let e = match fit(spec.clone(), table, options, id, deletes) {
        Ok(ready) => return Ok(Some(ready)),
        Err(e) => e,
    };
    let blamed = e
        .path()
        .and_then(|p| spec.inputs.iter().find(|i| table.split_path(i) == p));
    let Some(split) = blamed else {
        return Err(e);
    };
    table.catalog().set_skipped(split, Some(&e.to_string()))?;
    report.jobs.push(Outcome::Skipped {
        job: id.to_string(),
        splits: vec![(split.clone(), e.to_string())],
    });
    Ok(None)
}

/// Run a batch of ready jobs at once, each on its own thread (`budget` is the
/// sum of their estimates). Returns whether any job committed or skipped
/// something.
fn run_batch(
    table: &mut Table,
    batch: Vec<(String, ReadyJob)>,
    budget: u64,
    (worker, options): (&Worker, &CompactOptions),
    report: &mut CompactReport,
) -> Result<bool> {
    let mut progress = false;
    report.peak_estimate_bytes = report.peak_estimate_bytes.max(budget);
    let catalogs = batch
        .iter()
        .map(|_| table.catalog().connect())
        .collect::<Result<Vec<_>>>()?;
    let outcomes: Vec<Result<Outcome>> = std::thread::scope(|scope| {
        let handles: Vec<_> = batch
            .into_iter()
            .zip(catalogs)
            .map(|((id, ready), mut catalog)| {
                scope.spawn(move || {
                    let started = std::time::Instant::now();
                    let outcome = job::run(ready, &id, catalog.as_mut(), worker);
                    if let (Some(observer), Ok(o)) = (&options.observer, &outcome) {
                        (observer.0)(o, started.elapsed());
                    }
                    outcome
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("a compaction job panicked".into())))
            })
            .collect()
    });
    for outcome in outcomes {
        let outcome = outcome?;
        match &outcome {
            Outcome::Committed {
                kind,
                rows,
                rows_deleted,
                bytes_in,
                bytes_out,
                ..
            } => {
                progress = true;
                report.rows_deleted += rows_deleted;
                if !matches!(kind, JobKind::Retention | JobKind::Purge) {
                    report.rows_merged += rows;
                    report.bytes_read += bytes_in;
                    report.bytes_written += bytes_out;
                }
            }
            Outcome::Skipped { .. } => progress = true,
            Outcome::Busy { .. } | Outcome::Failed { .. } | Outcome::Fenced { .. } => {}
        }
        report.jobs.push(outcome);
    }
    Ok(progress)
}
