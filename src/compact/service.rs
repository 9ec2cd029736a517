//! The compactor service: a long-running loop over the tables of a shared
//! catalog, plan → claim → merge → commit, one compaction round per table per
//! pass, waiting a poll interval when nothing was done; it stops claiming when
//! told to stop and returns once its running jobs are done.

use super::compactor::{compact, CompactOptions, JobObserver};
use super::job::Outcome;
use super::metrics::Metrics;
use super::postgres::PgCatalog;
use super::table::Table;
use super::worker::now_secs;
use crate::storage::Storage;
use crate::Result;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wait between passes that found nothing to do.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// The lease `prefix-merge compactor run` gives its jobs by default: short
/// (renewed every third of it), so that a stalled worker loses its jobs soon.
pub const DEFAULT_SERVICE_LEASE: Duration = Duration::from_secs(60);
/// How long `prefix-merge compactor run` lets running jobs finish after
/// SIGTERM/SIGINT before it cancels them, by default.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// What the service runs, and how.
#[derive(Clone)]
pub struct Service {
    catalog_url: String,
    /// Tables to compact (empty: every table of the catalog, listed each pass).
    tables: Vec<String>,
    /// Root of the tables' work directories (journals), one subdirectory each.
    work_root: PathBuf,
    storage: Arc<Storage>,
    /// Per-round options: jobs at once, memory budget, lease, stop and cancel.
    options: CompactOptions,
    poll_interval: Duration,
    metrics: Arc<Metrics>,
}

impl Service {
    /// A service on the catalog at `catalog_url`; `options` gives the jobs at
    /// once, the memory budget, the lease and the stop/cancel flags.
    pub fn new(
        catalog_url: &str,
        work_root: PathBuf,
        storage: Arc<Storage>,
        options: CompactOptions,
    ) -> Self {
        Service {
            catalog_url: catalog_url.to_string(),
            tables: Vec::new(),
            work_root,
            storage,
            options,
            poll_interval: DEFAULT_POLL_INTERVAL,
            metrics: Arc::default(),
        }
    }

    /// Compact only these tables (default: all of the catalog's).
    pub fn with_tables(mut self, tables: Vec<String>) -> Self {
        self.tables = tables;
        self
    }

    /// Wait this long after a pass that did nothing (default
    /// [`DEFAULT_POLL_INTERVAL`]).
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// The service's metrics (shared with its HTTP endpoint).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Whether the catalog answers (`/readyz`).
    pub fn ready(&self) -> Result<()> {
        PgCatalog::open(&self.catalog_url, "ready")?.ping()
    }

    fn stopping(&self) -> bool {
        self.options.stop.load(Ordering::Relaxed) || self.options.cancel.load(Ordering::Relaxed)
    }

    /// Run until the stop flag is set; returns once running jobs are done
    /// (committed, or cancelled and released). A failing pass (catalog or
    /// storage down) is logged and retried after the poll interval.
    pub fn run(&self) {
        let mut open: BTreeMap<String, Table> = BTreeMap::new();
        while !self.stopping() {
            let progress = match self.pass(&mut open) {
                Ok(progress) => progress,
                Err(e) => {
                    tracing::warn!(error = %e, "compactor pass failed; retrying after the poll interval");
                    open.clear();
                    false
                }
            };
            if !progress {
                self.wait(self.poll_interval);
            }
        }
        tracing::info!("compactor stopped: no job running, no lease held");
    }

    /// Sleep up to `d`, waking early when told to stop.
    fn wait(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopping() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50).min(d));
        }
    }

    /// One round on every table; whether any committed or skipped something.
    fn pass(&self, open: &mut BTreeMap<String, Table>) -> Result<bool> {
        let names = if self.tables.is_empty() {
            PgCatalog::open(&self.catalog_url, "list")?.tables()?
        } else {
            self.tables.clone()
        };
        let mut progress = false;
        for name in names {
            if self.stopping() {
                break;
            }
            if !open.contains_key(&name) {
                let table = Table::open_in_catalog(
                    &self.catalog_url,
                    &name,
                    &self.work_root.join(&name),
                    self.storage.clone(),
                )?;
                open.insert(name.clone(), table);
            }
            let Some(table) = open.get_mut(&name) else {
                continue;
            };
            let r = self.round(&name, table);
            self.metrics.round(r.is_err());
            match r {
                Ok(p) => progress |= p,
                Err(e) => {
                    open.remove(&name);
                    return Err(e);
                }
            }
        }
        Ok(progress)
    }

    /// One compaction round on `table`, then its queue length.
    fn round(&self, name: &str, table: &mut Table) -> Result<bool> {
        let metrics = self.metrics.clone();
        let table_name = name.to_string();
        let observer = JobObserver(Arc::new(move |o: &Outcome, took: Duration| {
            metrics.job(o, took);
            log_job(&table_name, o, took);
        }));
        let options = CompactOptions {
            observer: Some(observer),
            until_stable: false,
            ..self.options.clone()
        };
        let report = compact(table, &options)?;
        let progress = report
            .jobs
            .iter()
            .any(|j| matches!(j, Outcome::Committed { .. } | Outcome::Skipped { .. }));
        let policy = table.settings().policy.clone();
        let dedup = table.settings().dedup;
        let pending = policy.plan(&table.live()?, now_secs(), dedup);
        self.metrics.set_pending(name, &pending);
        Ok(progress)
    }
}

/// One log line per job, with its id.
fn log_job(table: &str, o: &Outcome, took: Duration) {
    let secs = took.as_secs_f64();
    match o {
        Outcome::Committed {
            job,
            kind,
            inputs,
            rows,
            bytes_out,
            ..
        } => tracing::info!(
            table,
            job = job.as_str(),
            kind = kind.as_str(),
            inputs = inputs.len(),
            rows,
            bytes_out,
            secs,
            "job committed"
        ),
        Outcome::Busy { job } => {
            tracing::debug!(table, job = job.as_str(), "job not started: inputs busy")
        }
        Outcome::Skipped { job, splits } => tracing::warn!(
            table,
            job = job.as_str(),
            skipped = splits.len(),
            secs,
            "job skipped bad inputs"
        ),
        Outcome::Failed { job, error } => tracing::warn!(
            table,
            job = job.as_str(),
            error = error.as_str(),
            secs,
            "job failed"
        ),
        Outcome::Fenced { job, error } => tracing::warn!(
            table,
            job = job.as_str(),
            error = error.as_str(),
            secs,
            "job fenced: lease lost, not committed"
        ),
    }
}
