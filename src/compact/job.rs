//! One compaction job: prepare the merge (footers only), lease the inputs, merge
//! into `splits/`, commit "outputs in, inputs out" in one catalog transaction.
//! A bad input is put on the skip list instead of failing the window.

use super::catalog::{Catalog, JobRecord, Split, SplitState};
use super::delete::Deletes;
use super::failpoint;
use super::policy::{JobKind, JobSpec};
use super::table::{prefix_text, split_id, SplitPlace};
use super::worker::{now_secs, Worker};
use crate::merge::{MergeBuilder, MergePlan, PreparedMerge};
use crate::output::OutputSummary;
use crate::output::WriterOptions;
use crate::verify::verify_file;
use crate::{Error, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A job ready to run: its spec and, for merges, the prepared engine run.
pub struct ReadyJob {
    /// What the job does and to which splits.
    pub spec: JobSpec,
    /// The prepared engine run (None for jobs that merge nothing: retention, purge).
    pub merge: Option<PreparedMerge>,
    /// The split file of each input, in `spec.inputs` order.
    pub paths: Vec<PathBuf>,
    /// Tombstones up to this number are applied to the outputs.
    pub applied_seq: u64,
}

impl ReadyJob {
    /// The engine's plan (None for retention).
    pub fn plan(&self) -> Option<MergePlan> {
        self.merge.as_ref().map(PreparedMerge::plan)
    }

    /// Estimated peak memory of running it.
    pub fn estimated_peak(&self) -> u64 {
        self.plan().map_or(0, |p| p.estimated_peak_bytes)
    }
}

/// How a table's jobs merge: from its settings, plus the run's cancel flag.
#[derive(Clone)]
pub struct JobMerge {
    /// Last write wins (inputs are listed in sequence order).
    pub dedup: bool,
    /// The table's writer options (None: the engine's defaults, and verbatim
    /// copies of inputs' chunks as they are).
    pub writer: Option<WriterOptions>,
    /// Setting it stops the merge.
    pub cancel: Arc<AtomicBool>,
    /// The pending tombstones, applied to each input they may match.
    pub deletes: Arc<Deletes>,
}

/// Open the inputs of `spec` (in `place`) and plan the merge without
/// writing anything. `job` names the outputs (`JOB_NNNNN.parquet`).
pub fn prepare(spec: JobSpec, place: &SplitPlace, job: &str, how: &JobMerge) -> Result<ReadyJob> {
    let paths: Vec<PathBuf> = spec
        .inputs
        .iter()
        .map(|id| place.target.join(format!("{id}.parquet")))
        .collect();
    if matches!(spec.kind, JobKind::Retention | JobKind::Purge) {
        return Ok(ReadyJob {
            spec,
            merge: None,
            paths,
            applied_seq: 0,
        });
    }
    // A merged split of a dedup table holds one row per key already: rewriting
    // it alone for a delete needs no dedup, and without it the regions no
    // tombstone touches are copied verbatim.
    let dedup = how.dedup && !(spec.kind == JobKind::Delete && spec.level > 0);
    let deletes: Vec<_> = spec
        .inputs
        .iter()
        .map(|id| how.deletes.for_split(id))
        .collect();
    let mut builder = MergeBuilder::new(&paths, &place.target)
        .storage(place.storage.clone())
        .journal_dir(&place.journal)
        .output_prefix(job)
        .num_outputs(spec.num_outputs)
        .dedup(dedup)
        .on_progress(|_, _| failpoint::hit("merge.progress"))
        .cancel_on(how.cancel.clone());
    if let Some(writer) = &how.writer {
        builder = builder.writer_options(writer.clone());
    }
    if deletes.iter().any(|d| !d.is_empty()) {
        builder = builder.delete_rows(deletes);
    }
    let merge = builder.prepare()?;
    // Every pending tombstone was applied to every input (as far as it could
    // match), unless an input was planned from another snapshot.
    let known: Vec<&Split> = spec
        .inputs
        .iter()
        .filter_map(|id| how.deletes.splits.get(id))
        .collect();
    let applied_seq = if known.len() == spec.inputs.len() {
        known
            .iter()
            .map(|s| s.applied_seq)
            .fold(how.deletes.newest(), u64::max)
    } else {
        0
    };
    Ok(ReadyJob {
        spec,
        merge: Some(merge),
        paths,
        applied_seq,
    })
}

/// How a job ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Committed: inputs replaced by outputs (or dropped, for retention).
    Committed {
        /// The job's id.
        job: String,
        /// What kind of job it was.
        kind: JobKind,
        /// Ids of the splits it replaced or dropped.
        inputs: Vec<String>,
        /// Ids of the splits it made live.
        outputs: Vec<String>,
        /// Rows written.
        rows: u64,
        /// Rows deleted by tombstones (all of a purged split's rows).
        #[serde(skip_serializing_if = "is_zero")]
        rows_deleted: u64,
        /// Bytes of the input splits.
        bytes_in: u64,
        /// Bytes of the output splits.
        bytes_out: u64,
    },
    /// Another worker holds an input; nothing was done.
    Busy {
        /// The job's id.
        job: String,
    },
    /// Inputs that failed were put on the skip list; nothing was committed.
    Skipped {
        /// The job's id.
        job: String,
        /// `(split id, error)` for each split put on the skip list.
        splits: Vec<(String, String)>,
    },
    /// The job failed for a reason no single input explains.
    Failed {
        /// The job's id.
        job: String,
        /// What failed.
        error: String,
    },
    /// The commit was refused because the job's lease was lost (its worker
    /// stalled past it, and it may have been taken over): nothing committed,
    /// its outputs removed (or left as orphans for gc).
    Fenced {
        /// The job's id.
        job: String,
        /// Why the commit was refused.
        error: String,
    },
}

/// Run a prepared job to its end: lease, merge, commit. A commit refused
/// because the lease was lost ends as [`Outcome::Fenced`].
pub fn run(
    ready: ReadyJob,
    job: &str,
    catalog: &mut dyn Catalog,
    worker: &Worker,
) -> Result<Outcome> {
    match run_leased(ready, job, catalog, worker) {
        Err(Error::LeaseLost { detail, .. }) => Ok(Outcome::Fenced {
            job: job.into(),
            error: detail,
        }),
        other => other,
    }
}

fn run_leased(
    ready: ReadyJob,
    job: &str,
    catalog: &mut dyn Catalog,
    worker: &Worker,
) -> Result<Outcome> {
    let ReadyJob {
        spec,
        merge,
        paths,
        applied_seq,
    } = ready;
    if !catalog.begin_job(&worker.lease(job), &spec.inputs, now_secs())? {
        return Ok(Outcome::Busy { job: job.into() });
    }
    failpoint::hit("job.leased");
    let Some(merge) = merge else {
        let deleted = if spec.kind == JobKind::Purge {
            spec.rows
        } else {
            0
        };
        return commit(
            catalog,
            job,
            &spec,
            Vec::new(),
            SplitState::Dropped,
            deleted,
        );
    };
    let _heartbeat = worker.heartbeat(catalog.connect()?, job);
    let manifest = match merge.run() {
        Ok(m) => m,
        Err(e) => {
            let skipped = blame(&e, &spec.inputs, &paths);
            for (id, why) in &skipped {
                catalog.set_skipped(id, Some(why))?;
            }
            catalog.abandon_job(job)?;
            return Ok(if skipped.is_empty() {
                Outcome::Failed {
                    job: job.into(),
                    error: e.to_string(),
                }
            } else {
                Outcome::Skipped {
                    job: job.into(),
                    splits: skipped,
                }
            });
        }
    };
    failpoint::hit("merge.published");
    let outputs: Vec<Split> = manifest
        .outputs
        .iter()
        .map(|o| output_split(o, &manifest, applied_seq))
        .collect::<Result<_>>()?;
    let committed = commit(
        catalog,
        job,
        &spec,
        outputs,
        SplitState::Replaced,
        manifest.rows_deleted,
    );
    if committed.is_err() {
        // Not committed: the outputs are orphans; remove them now (gc would).
        for o in &manifest.outputs {
            let _ = crate::storage::Storage::default().remove(&o.path);
        }
    }
    committed
}

fn commit(
    catalog: &mut dyn Catalog,
    job: &str,
    spec: &JobSpec,
    outputs: Vec<Split>,
    retire_as: SplitState,
    rows_deleted: u64,
) -> Result<Outcome> {
    let record = JobRecord {
        job: job.into(),
        kind: spec.kind.as_str().into(),
        inputs: spec.inputs.clone(),
        outputs: outputs.iter().map(|s| s.id.clone()).collect(),
        bytes_in: spec.bytes,
        bytes_out: outputs.iter().map(|s| s.bytes).sum(),
        committed_at: 0,
    };
    catalog.commit_job(&record, &outputs, retire_as, now_secs())?;
    failpoint::hit(if retire_as == SplitState::Dropped {
        "retention.committed"
    } else {
        "catalog.committed"
    });
    Ok(Outcome::Committed {
        job: record.job,
        kind: spec.kind,
        inputs: record.inputs,
        outputs: record.outputs,
        rows: outputs.iter().map(|s| s.rows).sum(),
        rows_deleted,
        bytes_in: record.bytes_in,
        bytes_out: record.bytes_out,
    })
}

/// The catalog entry of a merge output (its sequence numbers are set when the
/// job commits: the range of its inputs); tombstones up to `applied_seq` have
/// been applied to it.
fn output_split(
    o: &OutputSummary,
    manifest: &crate::MergeResult,
    applied_seq: u64,
) -> Result<Split> {
    let key = |p: Option<&Vec<crate::key::KeyValue>>| prefix_text(p.map(Vec::as_slice));
    let json = |v: Option<&Vec<crate::key::KeyValue>>| v.and_then(|v| serde_json::to_value(v).ok());
    let value = |v: Option<&crate::key::KeyValue>| v.and_then(|v| serde_json::to_value(v).ok());
    Ok(Split {
        id: split_id(&o.path)?,
        rows: o.rows,
        bytes: o.bytes,
        window_start: manifest.window.map(|w| w.start),
        window_secs: manifest.window.map(|w| w.duration_secs),
        level: manifest.num_merge_ops,
        seq_min: 0,
        seq_max: 0,
        applied_seq,
        min_key: key(o.prefixes.first()),
        max_key: key(o.prefixes.last()),
        first_prefix: json(o.prefixes.first()),
        last_prefix: json(o.prefixes.last()),
        time_min: value(o.time_min.as_ref()),
        time_max: value(o.time_max.as_ref()),
        source: None,
        created_at: now_secs(),
        state: SplitState::Live,
        retired_at: None,
        skipped: None,
        lease_until: None,
    })
}

/// The inputs to blame for a failed merge: the one the error names, else every
/// input that fails `verify` on its own. Empty when no input is at fault (disk
/// full, cancellation...).
fn blame(e: &Error, ids: &[String], paths: &[PathBuf]) -> Vec<(String, String)> {
    if let Some(p) = e.path() {
        if let Some(i) = paths.iter().position(|x| x == p) {
            return vec![(ids[i].clone(), e.to_string())];
        }
        // The error names a file that is no input (an output): not the inputs' fault.
        return Vec::new();
    }
    if matches!(e, Error::Cancelled | Error::Storage { .. }) {
        // Cancelled, or object storage failed: not the inputs' fault.
        return Vec::new();
    }
    ids.iter()
        .zip(paths)
        .filter_map(|(id, p)| match verify_file(p) {
            Ok(r) if r.ok() => None,
            Ok(r) => Some((
                id.clone(),
                format!(
                    "{e}; verify: {}",
                    r.violations
                        .iter()
                        .map(|v| format!("{} at row group {}: {}", v.rule, v.row_group, v.detail))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )),
            Err(v) => Some((id.clone(), v.to_string())),
        })
        .collect()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
