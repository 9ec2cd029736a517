//! The compactor service's metrics, rendered in the Prometheus text format:
//! job outcomes, rows and bytes merged, job durations, the queue (pending
//! jobs per table, kind and level), lease renewals and catalog round trips.

use super::job::Outcome;
use super::policy::JobSpec;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the job duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0];

/// Counters and gauges of one service process.
#[derive(Debug, Default)]
pub struct Metrics {
    started: AtomicU64,
    committed: AtomicU64,
    failed: AtomicU64,
    fenced: AtomicU64,
    skipped: AtomicU64,
    busy: AtomicU64,
    rows_merged: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    rounds: AtomicU64,
    errors: AtomicU64,
    durations: Mutex<Histogram>,
    /// Per table: jobs the policy would run now.
    pending: Mutex<BTreeMap<String, PendingJobs>>,
}

/// (kind, level) -> jobs of that kind and level the policy would run now.
type PendingJobs = BTreeMap<(String, u64), u64>;

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    /// Count a job's outcome, and how long it ran.
    pub fn job(&self, outcome: &Outcome, took: Duration) {
        let counter = match outcome {
            Outcome::Busy { .. } => {
                self.busy.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Outcome::Committed {
                rows,
                bytes_in,
                bytes_out,
                ..
            } => {
                self.rows_merged.fetch_add(*rows, Ordering::Relaxed);
                self.bytes_read.fetch_add(*bytes_in, Ordering::Relaxed);
                self.bytes_written.fetch_add(*bytes_out, Ordering::Relaxed);
                &self.committed
            }
            Outcome::Failed { .. } => &self.failed,
            Outcome::Fenced { .. } => &self.fenced,
            Outcome::Skipped { .. } => &self.skipped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.started.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut h) = self.durations.lock() {
            let secs = took.as_secs_f64();
            for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += secs;
        }
    }

    /// A round of the service loop ended (`error`: it failed).
    pub fn round(&self, error: bool) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The jobs the policy would run now on `table`.
    pub fn set_pending(&self, table: &str, specs: &[JobSpec]) {
        let mut by_level = BTreeMap::new();
        for s in specs {
            *by_level
                .entry((s.kind.as_str().to_string(), s.level))
                .or_insert(0) += 1;
        }
        if let Ok(mut p) = self.pending.lock() {
            p.insert(table.to_string(), by_level);
        }
    }

    /// Pending jobs of every table together.
    pub fn pending_total(&self) -> u64 {
        self.pending
            .lock()
            .map(|p| p.values().flat_map(|m| m.values()).sum())
            .unwrap_or(0)
    }

    /// The Prometheus text exposition; `renewals` and `catalog` (round trips,
    /// time) come from the catalog.
    pub fn render(&self, renewals: u64, catalog: (u64, Duration)) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counters = [
            (
                "jobs_started",
                "Jobs that claimed their inputs.",
                load(&self.started),
            ),
            ("jobs_committed", "Jobs committed.", load(&self.committed)),
            (
                "jobs_failed",
                "Jobs that failed (nothing committed).",
                load(&self.failed),
            ),
            (
                "jobs_fenced",
                "Commits refused: the job's lease was lost.",
                load(&self.fenced),
            ),
            (
                "jobs_skipped",
                "Jobs that put inputs on the skip list.",
                load(&self.skipped),
            ),
            (
                "jobs_busy",
                "Jobs not started: inputs held by another worker.",
                load(&self.busy),
            ),
            (
                "rows_merged",
                "Rows written by committed merges.",
                load(&self.rows_merged),
            ),
            (
                "bytes_read",
                "Input bytes of committed merges.",
                load(&self.bytes_read),
            ),
            (
                "bytes_written",
                "Output bytes of committed merges.",
                load(&self.bytes_written),
            ),
            ("rounds", "Rounds of the service loop.", load(&self.rounds)),
            (
                "round_errors",
                "Rounds that failed (catalog or storage).",
                load(&self.errors),
            ),
            ("lease_renewals", "Lease renewals by heartbeats.", renewals),
            (
                "catalog_round_trips",
                "Statements sent to the catalog.",
                catalog.0,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP prefix_merge_{name}_total {help}");
            let _ = writeln!(out, "# TYPE prefix_merge_{name}_total counter");
            let _ = writeln!(out, "prefix_merge_{name}_total {value}");
        }
        let _ = writeln!(
            out,
            "# HELP prefix_merge_catalog_seconds_total Time spent waiting for the catalog."
        );
        let _ = writeln!(out, "# TYPE prefix_merge_catalog_seconds_total counter");
        let _ = writeln!(
            out,
            "prefix_merge_catalog_seconds_total {:.6}",
            catalog.1.as_secs_f64()
        );
        self.render_durations(&mut out);
        self.render_pending(&mut out);
        out
    }

    fn render_durations(&self, out: &mut String) {
        let Ok(h) = self.durations.lock() else { return };
        let name = "prefix_merge_job_duration_seconds";
        let _ = writeln!(out, "# HELP {name} How long started jobs ran.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, count) in DURATION_BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum {:.6}", h.sum);
        let _ = writeln!(out, "{name}_count {}", h.count);
    }

    fn render_pending(&self, out: &mut String) {
        let Ok(p) = self.pending.lock() else { return };
        let _ = writeln!(out, "# HELP prefix_merge_pending_jobs Jobs the policy would run now (the queue), per table, kind and level.");
        let _ = writeln!(out, "# TYPE prefix_merge_pending_jobs gauge");
        for (table, levels) in p.iter() {
            for ((kind, level), n) in levels {
                let _ = writeln!(
                    out,
                    "prefix_merge_pending_jobs{{table=\"{table}\",kind=\"{kind}\",level=\"{level}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP prefix_merge_pending_jobs_table Jobs the policy would run now, per table."
        );
        let _ = writeln!(out, "# TYPE prefix_merge_pending_jobs_table gauge");
        for (table, levels) in p.iter() {
            let n: u64 = levels.values().sum();
            let _ = writeln!(
                out,
                "prefix_merge_pending_jobs_table{{table=\"{table}\"}} {n}"
            );
        }
    }
}
