//! The merge policy: which jobs to run now, decided from the catalog alone.
//!
//! - Splits are grouped by time window (`qh.window_start`, duration); a job never
//!   mixes windows (the table fixes the sort schema and P).
//! - Open window (stable log, as Quickwit): splits are levelled by
//!   `qh.num_merge_ops`; when a level holds >= `merge_factor` splits that are not
//!   mature (smaller than `maturity_size`), up to `max_merge_factor` of them, oldest
//!   first, are merged into outputs of about `target_split_size`.
//! - Closed window (its end is `maturity_age` in the past; TWCS, as GreptimeDB):
//!   every split of the window, mature or not, is merged once into at most
//!   `final_splits` outputs; a window already at or under that is left alone.
//! - Retention: a window whose end is older than `retention` is dropped whole.
//!
//! Skipped splits and splits leased by a running job are never picked.

use super::catalog::Split;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Default [`Policy::merge_factor`].
pub const DEFAULT_MERGE_FACTOR: usize = 10;
/// Default [`Policy::max_merge_factor`].
pub const DEFAULT_MAX_MERGE_FACTOR: usize = 12;
/// Default [`Policy::target_split_size`]: 256 MiB.
pub const DEFAULT_TARGET_SPLIT_SIZE: u64 = 256 << 20;
/// Default [`Policy::maturity_size`]: 1 GiB.
pub const DEFAULT_MATURITY_SIZE: u64 = 1 << 30;
/// Default [`Policy::maturity_age`]: 2 hours.
pub const DEFAULT_MATURITY_AGE: Duration = Duration::from_secs(2 * 3600);
/// Default [`Policy::final_splits`].
pub const DEFAULT_FINAL_SPLITS: usize = 1;

/// Policy knobs (see the module doc). [`Default`] gives the `DEFAULT_*`
/// constants; a table stores its policy in its settings, as `key = text` pairs
/// ([`Policy::set`], [`Policy::entries`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Merge when a level of an open window holds this many splits.
    pub merge_factor: usize,
    /// At most this many splits per level merge.
    pub max_merge_factor: usize,
    /// Target size of merge outputs, in bytes (setting and CLI flag
    /// `target_split_size` / `--target-split-size`).
    pub target_split_size: u64,
    /// Splits of at least this size, in bytes, are mature: level merges leave
    /// them alone (setting and CLI flag `maturity_size` / `--maturity-size`).
    pub maturity_size: u64,
    /// A window is closed this long after its end: its splits get one final merge.
    pub maturity_age: Duration,
    /// The final merge of a closed window leaves at most this many splits.
    pub final_splits: usize,
    /// Drop windows that ended longer ago than this (None: keep everything).
    pub retention: Option<Duration>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            merge_factor: DEFAULT_MERGE_FACTOR,
            max_merge_factor: DEFAULT_MAX_MERGE_FACTOR,
            target_split_size: DEFAULT_TARGET_SPLIT_SIZE,
            maturity_size: DEFAULT_MATURITY_SIZE,
            maturity_age: DEFAULT_MATURITY_AGE,
            final_splits: DEFAULT_FINAL_SPLITS,
            retention: None,
        }
    }
}

/// The keys [`Policy::set`] takes, in the order [`Policy::entries`] lists them.
pub const POLICY_KEYS: [&str; 7] = [
    "merge_factor",
    "max_merge_factor",
    "target_split_size",
    "maturity_size",
    "maturity_age",
    "final_splits",
    "retention",
];

impl Policy {
    /// Set one knob from text: counts as integers, sizes as `256MiB` (or bytes),
    /// durations as `2h` / `30d`, `retention` also `none`. The result is
    /// checked with [`Policy::check`]; on error nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        self.apply(&[(key, value)])
    }

    /// Set several knobs (as [`Policy::set`]), then check the result once, so
    /// that knobs that depend on each other can change together. On error
    /// nothing changes.
    pub fn apply(&mut self, pairs: &[(&str, &str)]) -> Result<()> {
        let mut next = self.clone();
        for (key, value) in pairs {
            next.assign(key, value)?;
        }
        next.check().map_err(Error::InvalidArgument)?;
        *self = next;
        Ok(())
    }

    /// Check that `value` is valid text for knob `key` (alone; how it fits the
    /// other knobs is checked when it is set).
    pub fn parse_value(key: &str, value: &str) -> Result<()> {
        Policy::default().assign(key, value)
    }

    /// Parse and assign one knob, unchecked.
    fn assign(&mut self, key: &str, value: &str) -> Result<()> {
        let bad = |what: &str| {
            Error::InvalidArgument(format!("policy {key} = '{value}': expected {what}"))
        };
        let count = || value.trim().parse::<usize>().map_err(|_| bad("a count"));
        let size = || crate::storage::parse_size(value).map_err(|_| bad("a size such as 256MiB"));
        let duration =
            || humantime::parse_duration(value.trim()).map_err(|_| bad("a duration such as 2h"));
        match key {
            "merge_factor" => self.merge_factor = count()?,
            "max_merge_factor" => self.max_merge_factor = count()?,
            "target_split_size" => self.target_split_size = size()?,
            "maturity_size" => self.maturity_size = size()?,
            "maturity_age" => self.maturity_age = duration()?,
            "final_splits" => self.final_splits = count()?,
            "retention" if value.trim() == "none" => self.retention = None,
            "retention" => self.retention = Some(duration()?),
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown policy setting '{key}' (known: {})",
                    POLICY_KEYS.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// Every knob as `(key, text)`, in [`POLICY_KEYS`] order; the text parses
    /// back with [`Policy::set`].
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let dur = |d: Duration| humantime::format_duration(d).to_string();
        let values = [
            self.merge_factor.to_string(),
            self.max_merge_factor.to_string(),
            self.target_split_size.to_string(),
            self.maturity_size.to_string(),
            dur(self.maturity_age),
            self.final_splits.to_string(),
            self.retention.map_or("none".to_string(), dur),
        ];
        POLICY_KEYS.into_iter().zip(values).collect()
    }
}

impl Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let entries = self.entries();
        let mut map = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            map.serialize_entry(k, &v)?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Policy {
    /// Keys missing from the stored map keep their defaults.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        let pairs: Vec<(&str, &str)> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut policy = Policy::default();
        policy.apply(&pairs).map_err(serde::de::Error::custom)?;
        Ok(policy)
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
    /// Rewrite one split with its pending tombstones applied.
    Delete,
    /// Drop one split that pending tombstones match whole (nothing rewritten).
    Purge,
}

impl JobKind {
    /// The kind as job records, plans and metrics name it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Merge => "merge",
            JobKind::FinalMerge => "final",
            JobKind::Retention => "retention",
            JobKind::Delete => "delete",
            JobKind::Purge => "purge",
        }
    }
}

/// A window: (start, duration in seconds); `None` for splits without one.
pub type WindowKey = Option<(i64, u64)>;

/// One job the policy wants run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSpec {
    /// What the job does.
    pub kind: JobKind,
    /// The window's start (Unix seconds; `None`: splits without a window).
    pub window_start: Option<i64>,
    /// The window's length in seconds.
    pub window_secs: Option<u64>,
    /// The inputs' level (the highest, for a final merge).
    pub level: u64,
    /// Split ids, oldest first.
    pub inputs: Vec<String>,
    /// Rows of the inputs.
    pub rows: u64,
    /// Bytes of the inputs.
    pub bytes: u64,
    /// Upper bound on outputs.
    pub num_outputs: usize,
}

/// What the policy decided for one window: its jobs, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowPlan {
    /// The window's start (Unix seconds; `None`: splits without a window).
    pub window_start: Option<i64>,
    /// The window's length in seconds.
    pub window_secs: Option<u64>,
    /// Live splits in the window.
    pub splits: usize,
    /// The jobs to run now (empty: see `idle`).
    pub jobs: Vec<JobSpec>,
    /// Why nothing runs in this window (None when `jobs` is not empty).
    pub idle: Option<String>,
}

impl Policy {
    /// Check the knobs make sense together.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.merge_factor < 2 {
            return Err(format!("merge_factor {} must be >= 2", self.merge_factor));
        }
        if self.max_merge_factor < self.merge_factor {
            return Err(format!(
                "max_merge_factor {} must be >= merge_factor {}",
                self.max_merge_factor, self.merge_factor
            ));
        }
        if self.final_splits == 0 || self.target_split_size == 0 {
            return Err("final_splits and target_split_size must be > 0".into());
        }
        Ok(())
    }

    /// Whether the split's window is closed at `now` (its end is
    /// `maturity_age` in the past); splits without a window never close.
    pub fn window_closed(&self, s: &Split, now: i64) -> bool {
        s.window_end()
            .is_some_and(|e| e.saturating_add_unsigned(self.maturity_age.as_secs()) <= now)
    }

    /// The jobs to run at `now` over the table's live splits (see
    /// [`Policy::plan_windows`]).
    pub fn plan(&self, live: &[Split], now: i64, dedup: bool) -> Vec<JobSpec> {
        self.plan_windows(live, now, dedup)
            .into_iter()
            .flat_map(|w| w.jobs)
            .collect()
    }

    /// Per window, the jobs to run at `now` and why a window has none. Jobs
    /// never share a split; within a window retention comes first, then the
    /// final merge, then levels from the lowest. Inputs are listed in sequence
    /// order (oldest add first).
    ///
    /// With `dedup`, every job takes splits that are adjacent in the window's
    /// sequence order (no live split of the window holds rows added between
    /// two of its inputs), so the merge's "later input wins" is "latest add
    /// wins": an older row can never beat a newer one, whatever the levels.
    pub fn plan_windows(&self, live: &[Split], now: i64, dedup: bool) -> Vec<WindowPlan> {
        let mut windows: BTreeMap<WindowKey, Vec<&Split>> = BTreeMap::new();
        for s in live {
            let key = s.window_start.zip(s.window_secs);
            windows.entry(key).or_default().push(s);
        }
        windows
            .into_iter()
            .map(|(window, mut splits)| {
                splits.sort_by(|a, b| (a.seq_min, &a.id).cmp(&(b.seq_min, &b.id)));
                let (jobs, idle) = self.plan_window(window, &splits, now, dedup);
                WindowPlan {
                    window_start: window.map(|w| w.0),
                    window_secs: window.map(|w| w.1),
                    splits: splits.len(),
                    idle: jobs.is_empty().then_some(idle),
                    jobs,
                }
            })
            .collect()
    }

    /// One window's jobs, or why there are none; `splits` in sequence order.
    fn plan_window(
        &self,
        window: WindowKey,
        splits: &[&Split],
        now: i64,
        dedup: bool,
    ) -> (Vec<JobSpec>, String) {
        let end = window.map(|(start, secs)| start.saturating_add_unsigned(secs));
        let age = |d: Duration| end.is_some_and(|e| e.saturating_add_unsigned(d.as_secs()) <= now);
        let leased = splits.iter().filter(|s| !free(s, now)).count();
        if self.retention.is_some_and(age) {
            // Retention takes skipped splits too, but not leased ones.
            let free: Vec<&Split> = splits.iter().copied().filter(|s| free(s, now)).collect();
            if free.is_empty() {
                return (
                    Vec::new(),
                    format!("past retention; {leased} splits held by a running job"),
                );
            }
            return (
                vec![self.job(JobKind::Retention, window, &free, 1)],
                String::new(),
            );
        }
        let usable = |s: &&Split| s.skipped.is_none() && free(s, now);
        let skipped = splits.iter().filter(|s| s.skipped.is_some()).count();
        if age(self.maturity_age) {
            return self.final_merge(window, splits, usable, leased, skipped, dedup);
        }
        // Open window: runs of mergeable splits of one level. Without dedup a run
        // is every such split of the level; with dedup, only adjacent ones.
        let mut runs: Vec<(u64, Vec<&Split>)> = Vec::new();
        let mut mature = 0;
        for s in splits {
            let mergeable = usable(s) && s.bytes < self.maturity_size;
            mature += usize::from(usable(s) && !mergeable);
            if !mergeable {
                if dedup {
                    runs.push((u64::MAX, Vec::new())); // a break in the sequence
                }
                continue;
            }
            let same_run = |r: &(u64, Vec<&Split>)| r.0 == s.level;
            let run = if dedup {
                runs.last_mut().filter(|r| same_run(r))
            } else {
                runs.iter_mut().find(|r| same_run(r))
            };
            match run {
                Some(r) => r.1.push(s),
                None => runs.push((s.level, vec![s])),
            }
        }
        runs.sort_by_key(|r| r.0);
        let mut jobs = Vec::new();
        let mut largest = (0, 0);
        for (level, run) in &runs {
            for chunk in run.chunks(self.max_merge_factor) {
                largest = largest.max((chunk.len(), *level));
                if chunk.len() >= self.merge_factor {
                    let bytes: u64 = chunk.iter().map(|s| s.bytes).sum();
                    let outputs = usize::try_from(bytes.div_ceil(self.target_split_size))
                        .unwrap_or(usize::MAX)
                        .max(1);
                    jobs.push(self.job(JobKind::Merge, window, chunk, outputs));
                }
            }
        }
        let idle = format!(
            "open: largest {}run is {} splits at level {} (merge_factor {}); {mature} mature, {skipped} skipped, {leased} held by a running job",
            if dedup { "sequence-adjacent " } else { "" },
            largest.0,
            largest.1,
            self.merge_factor
        );
        (jobs, idle)
    }

    /// A closed window: one final merge of everything (with dedup, of each
    /// sequence-adjacent run), unless it is already small enough or a job is
    /// still running in it (its outputs join the final merge later).
    fn final_merge(
        &self,
        window: WindowKey,
        splits: &[&Split],
        usable: impl Fn(&&Split) -> bool,
        leased: usize,
        skipped: usize,
        dedup: bool,
    ) -> (Vec<JobSpec>, String) {
        let candidates = splits.iter().filter(|s| usable(s)).count();
        if leased > 0 {
            return (
                Vec::new(),
                format!("closed: {leased} splits held by a running job"),
            );
        }
        if candidates <= self.final_splits {
            return (
                Vec::new(),
                format!(
                    "closed: {candidates} splits, at most final_splits {} ({skipped} skipped)",
                    self.final_splits
                ),
            );
        }
        let runs: Vec<Vec<&Split>> = if dedup {
            splits
                .split(|s| !usable(s))
                .filter(|r| r.len() >= 2)
                .map(<[&Split]>::to_vec)
                .collect()
        } else {
            vec![splits.iter().copied().filter(|s| usable(s)).collect()]
        };
        let jobs: Vec<JobSpec> = runs
            .iter()
            .map(|run| self.job(JobKind::FinalMerge, window, run, self.final_splits))
            .collect();
        let idle = format!(
            "closed: skipped splits leave no two sequence-adjacent splits ({skipped} skipped)"
        );
        (jobs, idle)
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
