//! The merge policy: which jobs to run now, decided from the catalog alone.
//!
//! - Splits are grouped by time window (`qh.window_start`, duration); a job never
//!   mixes windows (the table fixes the sort schema and P).
//! - Open window (stable log, as Quickwit): splits are levelled by
//!   `qh.num_merge_ops`; when a level holds >= `merge_factor` splits that are not
//!   mature (smaller than `maturity_bytes`), up to `max_merge_factor` of them, oldest
//!   first, are merged into outputs of about `target_split_bytes`.
//! - Closed window (its end is `maturity_age` in the past; TWCS, as GreptimeDB):
//!   every split of the window, mature or not, is merged once into at most
//!   `final_splits` outputs; a window already at or under that is left alone.
//! - Retention: a window whose end is older than `retention` is dropped whole.
//!
//! Skipped splits and splits leased by a running job are never picked.

use super::catalog::Split;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Policy knobs (see the module doc); [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub merge_factor: usize,
    pub max_merge_factor: usize,
    pub target_split_bytes: u64,
    pub maturity_bytes: u64,
    pub maturity_age: Duration,
    pub final_splits: usize,
    pub retention: Option<Duration>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            merge_factor: 10,
            max_merge_factor: 12,
            target_split_bytes: 256 << 20,
            maturity_bytes: 1 << 30,
            maturity_age: Duration::from_secs(2 * 3600),
            final_splits: 1,
            retention: None,
        }
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Stable-log merge of one level in an open window.
    Merge,
    /// The final merge of a closed window.
    FinalMerge,
    /// Drop a window past retention.
    Retention,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Merge => "merge",
            JobKind::FinalMerge => "final",
            JobKind::Retention => "retention",
        }
    }
}

/// A window: (start, duration in seconds); `None` for splits without one.
pub type WindowKey = Option<(i64, u64)>;

/// One job the policy wants run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSpec {
    pub kind: JobKind,
    pub window_start: Option<i64>,
    pub window_secs: Option<u64>,
    /// The inputs' level (the highest, for a final merge).
    pub level: u64,
    /// Split ids, oldest first.
    pub inputs: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
    /// Upper bound on outputs.
    pub num_outputs: usize,
}

impl Policy {
    /// Check the knobs make sense together.
    pub fn check(&self) -> Result<(), String> {
        if self.merge_factor < 2 {
            return Err(format!("merge factor {} must be >= 2", self.merge_factor));
        }
        if self.max_merge_factor < self.merge_factor {
            return Err(format!(
                "max merge factor {} must be >= merge factor {}",
                self.max_merge_factor, self.merge_factor
            ));
        }
        if self.final_splits == 0 || self.target_split_bytes == 0 {
            return Err("final splits and target split size must be > 0".into());
        }
        Ok(())
    }

    /// The jobs to run at `now` over the table's live splits. Jobs never share a
    /// split; within a window retention comes first, then the final merge, then
    /// levels from the lowest.
    pub fn plan(&self, live: &[Split], now: i64) -> Vec<JobSpec> {
        let mut windows: BTreeMap<WindowKey, Vec<&Split>> = BTreeMap::new();
        for s in live {
            let key = s.window_start.zip(s.window_secs);
            windows.entry(key).or_default().push(s);
        }
        let mut jobs = Vec::new();
        for (window, mut splits) in windows {
            splits.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            let end = window.map(|(start, secs)| start.saturating_add_unsigned(secs));
            let age =
                |d: Duration| end.is_some_and(|e| e.saturating_add_unsigned(d.as_secs()) <= now);
            if self.retention.is_some_and(age) {
                // Retention takes skipped splits too, but not leased ones.
                let free: Vec<&Split> = splits.iter().copied().filter(|s| free(s, now)).collect();
                if !free.is_empty() {
                    jobs.push(self.job(JobKind::Retention, window, &free, 1));
                }
                continue;
            }
            let candidates: Vec<&Split> = splits
                .iter()
                .copied()
                .filter(|s| s.skipped.is_none() && free(s, now))
                .collect();
            if age(self.maturity_age) {
                // A closed window: one final merge, unless a job is still running in
                // it (its outputs join the final merge later).
                let busy = candidates.len() < splits.iter().filter(|s| s.skipped.is_none()).count();
                if candidates.len() > self.final_splits && !busy {
                    jobs.push(self.job(
                        JobKind::FinalMerge,
                        window,
                        &candidates,
                        self.final_splits,
                    ));
                }
                continue;
            }
            let mut levels: BTreeMap<u64, Vec<&Split>> = BTreeMap::new();
            for s in candidates
                .into_iter()
                .filter(|s| s.bytes < self.maturity_bytes)
            {
                levels.entry(s.level).or_default().push(s);
            }
            for (_, group) in levels {
                for chunk in group.chunks(self.max_merge_factor) {
                    if chunk.len() >= self.merge_factor {
                        let bytes: u64 = chunk.iter().map(|s| s.bytes).sum();
                        let outputs = usize::try_from(bytes.div_ceil(self.target_split_bytes))
                            .unwrap_or(usize::MAX)
                            .max(1);
                        jobs.push(self.job(JobKind::Merge, window, chunk, outputs));
                    }
                }
            }
        }
        jobs
    }

    fn job(&self, kind: JobKind, window: WindowKey, splits: &[&Split], outputs: usize) -> JobSpec {
        JobSpec {
            kind,
            window_start: window.map(|w| w.0),
            window_secs: window.map(|w| w.1),
            level: splits.iter().map(|s| s.level).max().unwrap_or(0),
            inputs: splits.iter().map(|s| s.id.clone()).collect(),
            rows: splits.iter().map(|s| s.rows).sum(),
            bytes: splits.iter().map(|s| s.bytes).sum(),
            num_outputs: outputs,
        }
    }
}

/// Not held by a running job at `now`.
fn free(s: &Split, now: i64) -> bool {
    s.lease_until.is_none_or(|u| u < now)
}
