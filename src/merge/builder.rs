//! The public merge API: a builder, a synchronous `run` and a tokio `run_async`.
//! The builder is a thin front: open -> validate -> plan (`crate::plan`) ->
//! execute (the engine) -> build the manifest (`crate::output::manifest`) ->
//! commit.

use super::counts::RowCounts;
use super::engine::Engine;
use super::key_layout::KeyLayout;
use super::options::{MergeOptions, RunControls};
use crate::input::InputFile;
use crate::output::manifest::RunRecord;
use crate::output::run::default_journal_dir;
use crate::output::{
    Manifest, OutputConfig, OutputSet, OutputSink, Sealed, SummarySpec, WriterOptions,
};
use crate::plan::{plan_merge, validate_inputs, MergePlan, Plan, PlanRequest};
use crate::predicate::Predicate;
use crate::schema::SortSchema;
use crate::storage::{Location, Storage};
use crate::{Error, Result};
use parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Inputs as paths, or already opened by the caller.
enum Inputs {
    Paths(Vec<PathBuf>),
    Opened(Vec<InputFile>),
}

/// What a merge produced: its manifest (the document `--manifest` publishes).
pub type MergeResult = Manifest;

/// Configures and runs a merge of sorted inputs into at most `num_outputs` outputs.
///
/// Inputs are validated up front, merged streaming, and published with the commit
/// protocol (docs/architecture.md): on success every output and then the manifest
/// are durable under their final names; on error nothing the run created is left.
///
/// ```
/// use prefix_merge::gen::{generate, GenConfig};
/// use prefix_merge::verify::verify_file;
/// use prefix_merge::MergeBuilder;
///
/// # fn main() -> prefix_merge::Result<()> {
/// # let tmp = tempfile::tempdir().unwrap();
/// # let (splits, out) = (tmp.path().join("splits"), tmp.path().join("out"));
/// // Three small aligned splits (P = 1) of sample metrics.
/// let config = GenConfig { files: 3, rows: 300, metrics: 4, ..GenConfig::default() };
/// let inputs: Vec<_> = generate(&splits, &config)?.into_iter().map(|s| s.path).collect();
///
/// let result = MergeBuilder::new(&inputs, &out)
///     .num_outputs(2)
///     .manifest_path(out.join("run.json")) // published last
///     .run()?;
///
/// assert_eq!(result.rows_in, 900);
/// assert_eq!(result.rows_out, 900); // MC-1
/// assert!(result.outputs.len() <= 2);
/// for output in &result.outputs {
///     assert!(verify_file(&output.path)?.violations.is_empty());
/// }
/// assert!(out.join("run.json").exists());
/// # Ok(())
/// # }
/// ```
pub struct MergeBuilder {
    inputs: Inputs,
    output_dir: PathBuf,
    num_outputs: Option<usize>,
    target_output_bytes: Option<u64>,
    properties: Option<WriterProperties>,
    writer_options: Option<WriterOptions>,
    sort_schema: Option<SortSchema>,
    promote_prefix_len: Option<usize>,
    rescan_alignment: bool,
    output_prefix: Option<String>,
    manifest: Option<PathBuf>,
    summary_columns: Vec<String>,
    options: MergeOptions,
    controls: RunControls,
    storage: Arc<Storage>,
    journal_dir: Option<PathBuf>,
}

impl MergeBuilder {
    /// Merge `inputs` into files in `output_dir` (one output unless told otherwise).
    pub fn new<P: AsRef<Path>>(
        inputs: impl IntoIterator<Item = P>,
        output_dir: impl AsRef<Path>,
    ) -> Self {
        MergeBuilder {
            inputs: Inputs::Paths(
                inputs
                    .into_iter()
                    .map(|p| p.as_ref().to_path_buf())
                    .collect(),
            ),
            output_dir: output_dir.as_ref().to_path_buf(),
            num_outputs: None,
            target_output_bytes: None,
            properties: None,
            writer_options: None,
            sort_schema: None,
            promote_prefix_len: None,
            rescan_alignment: false,
            output_prefix: None,
            manifest: None,
            summary_columns: Vec::new(),
            options: MergeOptions::default(),
            controls: RunControls::default(),
            storage: Arc::new(Storage::default()),
            journal_dir: None,
        }
    }

    /// How URLs among the inputs, the output directory and the manifest path are
    /// reached (storage options and credentials); by default the environment's.
    pub fn storage(mut self, storage: Arc<Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// Local directory for the lock and journal of a run whose outputs go to
    /// object storage (default: [`default_journal_dir`]).
    pub fn journal_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.journal_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Merge inputs the caller has already opened (their footers are not parsed
    /// again; an explicit [`sort_schema`](Self::sort_schema) does not apply to them).
    pub fn from_inputs(inputs: Vec<InputFile>, output_dir: impl AsRef<Path>) -> Self {
        let mut builder = MergeBuilder::new(Vec::<PathBuf>::new(), output_dir);
        builder.inputs = Inputs::Opened(inputs);
        builder
    }

    /// Upper bound on the number of outputs (met when the data has enough series).
    /// With P > 0 and a writer options' row-group cap, a prefix value over the cap
    /// continues in an extra output (see [`WriterOptions::with_max_row_group_rows`]).
    pub fn num_outputs(mut self, n: usize) -> Self {
        self.num_outputs = Some(n);
        self
    }

    /// Aim for outputs of about this many bytes (derives the output count from the
    /// input size).
    pub fn target_output_size(mut self, bytes: u64) -> Self {
        self.target_output_bytes = Some(bytes);
        self
    }

    /// Lower-level than [`writer_options`](Self::writer_options): parquet-rs
    /// writer properties of the outputs (default: ZSTD(3)). Sorting columns,
    /// `qh.*` keys and row-group limits are set by the merge; writer options,
    /// when given too, are applied over these properties.
    pub fn writer_properties(mut self, properties: WriterProperties) -> Self {
        self.properties = Some(properties);
        self
    }

    /// How the outputs are written: compression of every column chunk, data
    /// page size, a cap on the rows of a row group, and bloom-filter columns
    /// (see [`WriterOptions`]). Checked before any work (a bloom-filter column in
    /// no input fails with [`Error::UnknownColumn`]).
    ///
    /// Without writer options, a region copied verbatim keeps its input's
    /// column chunks as they are. With them, a row group is copied verbatim only
    /// when it already complies: every chunk has the requested codec (zstd
    /// levels are not recorded in Parquet files, so any zstd chunk complies with
    /// `zstd(N)`), every requested bloom filter is there, its rows are within
    /// the row-group cap, and, with a data page size other than the default,
    /// every chunk is no larger than one page. Other row groups are re-encoded.
    pub fn writer_options(mut self, options: WriterOptions) -> Self {
        self.writer_options = Some(options);
        self
    }

    /// Use this sort schema instead of the inputs' own.
    pub fn sort_schema(mut self, schema: SortSchema) -> Self {
        self.sort_schema = Some(schema);
        self
    }

    /// Write outputs aligned to prefix length `p`: inputs with another P (legacy
    /// P = 0 files among them) are cut into virtual regions by the legacy adapter,
    /// which reads only their prefix columns.
    pub fn promote_prefix_len(mut self, p: usize) -> Self {
        self.promote_prefix_len = Some(p);
        self
    }

    /// Do not trust the inputs' alignment claims: re-derive every input's regions
    /// from its data (legacy adapter). Repairs files whose claim is false.
    pub fn rescan_alignment(mut self, rescan: bool) -> Self {
        self.rescan_alignment = rescan;
        self
    }

    /// Name outputs `PREFIX_NNNNN.parquet` (default `merged_RUNID`, unique per run,
    /// so that runs sharing a directory never collide). An existing file with a
    /// final name fails the run: outputs never replace files.
    pub fn output_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.output_prefix = Some(prefix.into());
        self
    }

    /// Publish the run manifest at `path` (JSON), atomically and only after every
    /// output is durable. It must not exist yet.
    pub fn manifest_path(mut self, path: impl AsRef<Path>) -> Self {
        self.manifest = Some(path.as_ref().to_path_buf());
        self
    }

    /// List the distinct values of these columns per output in the manifest
    /// (besides the prefix columns), up to [`crate::output::DISTINCT_CAP`] each.
    pub fn summary_columns<S: Into<String>>(
        mut self,
        columns: impl IntoIterator<Item = S>,
    ) -> Self {
        self.summary_columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Last-write-wins dedup (off by default): keep one row per full sort key (all
    /// sort columns, series and timestamp; compared as the merge compares keys).
    /// The input order is the write order: list inputs oldest first. The row
    /// kept comes from the latest input in the list that has the key (merge
    /// depth, `qh.num_merge_ops`, plays no part); within one input, the later
    /// row wins. Rows out then equal distinct
    /// keys in (MC-1 becomes: rows written + duplicates dropped == rows read, per
    /// input and in total), and the manifest reports the rows dropped as
    /// `duplicates_dropped`. Regions are not copied verbatim when dedup is on.
    pub fn dedup(mut self, dedup: bool) -> Self {
        self.controls.dedup = dedup;
        self
    }

    /// Delete rows while merging: rows of input `i` that match any predicate
    /// of `per_input[i]` are not written (one list per input, in input order;
    /// an empty list deletes nothing from that input). A region whose prefix
    /// values no predicate of its inputs can match is merged as without
    /// deletes (copied verbatim when it would be); an input's rows in a region
    /// that a predicate matches whole are not read. MC-1 becomes: rows
    /// written, duplicates dropped and rows deleted add up to rows read, per
    /// input and in total; the manifest reports `rows_deleted`.
    pub fn delete_rows(mut self, per_input: Vec<Vec<Arc<Predicate>>>) -> Self {
        self.controls.deletes = per_input;
        self
    }

    /// Replace the tuning options (window size, row-group limits, verbatim
    /// copies; see [`MergeOptions`]). What the run does (dedup, deletes,
    /// progress, the cancel flag) is not part of them and stays as set.
    pub fn options(mut self, options: MergeOptions) -> Self {
        self.options = options;
        self
    }

    /// Report progress through `f(rows_done, rows_total)` (see [`ProgressFn`](super::ProgressFn)
    /// for when it is called and what it counts).
    pub fn on_progress(mut self, f: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.controls.progress = Some(Arc::new(f));
        self
    }

    /// The flag that cancels this merge when set (from any thread, at any
    /// time before the run returns): the run then fails with
    /// [`Error::Cancelled`] and leaves no file behind. The flag belongs to the
    /// builder; no other setter replaces it.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.controls.cancel.clone()
    }

    /// Also cancel this merge when `flag` is set (a flag the caller shares
    /// among several merges, say); [`cancel_flag`](Self::cancel_flag) keeps
    /// working too. Repeatable: any of the flags cancels.
    pub fn cancel_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.controls.also_cancel.push(flag);
        self
    }

    /// Run the merge on the calling thread, in stages: open -> validate -> plan ->
    /// execute -> commit. Nothing is visible until commit publishes the outputs.
    pub fn run(self) -> Result<MergeResult> {
        self.prepare()?.run()
    }

    /// The first three stages (open -> validate -> plan): every input's footer is
    /// read and checked and the merge is planned, but nothing is written. The
    /// result tells what the run would produce and its estimated peak memory;
    /// [`PreparedMerge::run`] then executes it.
    pub fn prepare(mut self) -> Result<PreparedMerge> {
        let started = (Instant::now(), SystemTime::now());
        self.check_arguments()?;
        let inputs = self.open_inputs()?;
        validate_inputs(&inputs, self.promote_prefix_len, self.rescan_alignment)?;
        let plan = plan_merge(&inputs, &self.plan_request())?;
        let layout = KeyLayout::new(
            &plan.contract.sort_schema,
            plan.contract.prefix_len,
            &plan.union.schema,
        )?;
        Ok(PreparedMerge {
            builder: self,
            inputs,
            plan,
            layout,
            started,
        })
    }
}

/// A planned merge (see [`MergeBuilder::prepare`]): inputs open, nothing written.
pub struct PreparedMerge {
    builder: MergeBuilder,
    inputs: Vec<InputFile>,
    plan: Plan,
    layout: KeyLayout,
    started: (Instant, SystemTime),
}

impl PreparedMerge {
    /// What the run will do.
    pub fn plan(&self) -> MergePlan {
        self.plan.summary(self.inputs.len())
    }

    /// The opened inputs, in merge order.
    pub fn inputs(&self) -> &[InputFile] {
        &self.inputs
    }

    /// Stages 4 and 5: execute the plan and commit (publish) the outputs.
    pub fn run(self) -> Result<MergeResult> {
        let (sealed, counts) = self
            .builder
            .execute(&self.inputs, &self.plan, &self.layout)?;
        self.builder
            .commit(sealed, &counts, &self.inputs, &self.plan, self.started)
    }
}

impl MergeBuilder {
    /// Stage 5: check MC-1, build the manifest from the run and publish the
    /// outputs (then the manifest, if asked).
    fn commit(
        &self,
        sealed: Sealed,
        counts: &RowCounts,
        inputs: &[InputFile],
        plan: &Plan,
        started: (Instant, SystemTime),
    ) -> Result<MergeResult> {
        let outputs = sealed.summaries();
        let rows_out: u64 = outputs.iter().map(|s| s.rows).sum();
        let (duplicates_dropped, rows_deleted) =
            counts.check(inputs, rows_out, plan.rows_in, self.controls.dedup)?;
        let manifest = Manifest::from_run(RunRecord {
            run_id: &plan.run_id,
            started,
            contract: &plan.contract,
            schema: &plan.union.schema,
            rows_in: plan.rows_in,
            bytes_in: plan.bytes_in,
            duplicates_dropped,
            rows_deleted,
            inputs,
            outputs,
        });
        let json = match self.manifest {
            Some(_) => Some(manifest.to_json()?),
            None => None,
        };
        // Last moment to stop: dropping `sealed` removes the outputs.
        self.controls.check_cancel()?;
        sealed.publish(json.as_deref().map(str::as_bytes))?;
        Ok(manifest)
    }

    /// Arguments that are wrong whatever the inputs.
    fn check_arguments(&self) -> Result<()> {
        let num_inputs = match &self.inputs {
            Inputs::Paths(p) => p.len(),
            Inputs::Opened(i) => i.len(),
        };
        if num_inputs == 0 {
            return Err(Error::InvalidArgument("no input files".into()));
        }
        if self.num_outputs == Some(0) {
            return Err(Error::InvalidArgument(
                "num_outputs must be at least 1".into(),
            ));
        }
        if self.target_output_bytes == Some(0) {
            return Err(Error::InvalidArgument(
                "target output size must be > 0".into(),
            ));
        }
        self.options.check()?;
        if let Some(p) = &self.output_prefix {
            crate::output::check_output_prefix(p)?;
        }
        let deletes = &self.controls.deletes;
        if !deletes.is_empty() && deletes.len() != num_inputs {
            return Err(Error::InvalidArgument(format!(
                "delete predicates for {} inputs, but {num_inputs} inputs",
                deletes.len()
            )));
        }
        Ok(())
    }

    /// Stage 1: open every input (each footer parsed once).
    fn open_inputs(&mut self) -> Result<Vec<InputFile>> {
        match std::mem::replace(&mut self.inputs, Inputs::Paths(Vec::new())) {
            Inputs::Paths(paths) => paths
                .iter()
                .map(|p| {
                    let location = self.storage.resolve(p)?;
                    InputFile::open_location(&location, self.sort_schema.as_ref())
                })
                .collect(),
            Inputs::Opened(inputs) => Ok(inputs),
        }
    }

    /// What stage 3 (plan) needs of the builder's settings.
    fn plan_request(&self) -> PlanRequest<'_> {
        PlanRequest {
            output_dir: &self.output_dir,
            num_outputs: self.num_outputs,
            target_output_bytes: self.target_output_bytes,
            properties: self.properties.as_ref(),
            writer_options: self.writer_options.as_ref(),
            promote_prefix_len: self.promote_prefix_len,
            rescan_alignment: self.rescan_alignment,
            output_prefix: self.output_prefix.as_deref(),
            summary_columns: &self.summary_columns,
            batch_rows: self.options.batch_rows(),
            row_group_bytes: self.options.row_group_bytes(),
            verbatim_copy: self.options.verbatim_copy(),
        }
    }

    /// Stage 4: merge every region into sealed outputs (complete, fsynced, not yet
    /// visible); returns them with the rows emitted and dropped per input.
    fn execute(
        &self,
        inputs: &[InputFile],
        plan: &Plan,
        layout: &KeyLayout,
    ) -> Result<(Sealed, RowCounts)> {
        self.controls.check_cancel()?;
        let outputs = OutputSet::new(self.output_config(plan)?)?;
        let engine = Engine {
            prefix_len: plan.contract.prefix_len,
            verbatim: plan.verbatim.clone(),
            inputs,
            union: &plan.union,
            layout,
            targets: plan.targets.clone(),
            options: &self.options,
            controls: &self.controls,
            total_rows: plan.rows_in,
            summary_columns: &self.summary_columns,
            max_row_group_rows: plan.max_row_group_rows,
            time_bounds: Default::default(),
        };
        let encoders = match self.options.resolved_threads() {
            0 | 1 => 0,
            n => n,
        };
        let mut sink = OutputSink::spawn(outputs, encoders)?;
        let counts = engine.run(&plan.regions, &mut sink)?;
        Ok((sink.seal()?, counts))
    }

    /// Where and how the planned outputs are written: local directory (or
    /// journal directory and remote prefix), names, schema, properties,
    /// summaries and the manifest target.
    fn output_config(&self, plan: &Plan) -> Result<OutputConfig> {
        let sort = &plan.contract.sort_schema;
        let time_column = (sort.series_len() < sort.columns.len())
            .then(|| sort.columns.last())
            .flatten()
            .filter(|c| plan.union.schema.index_of(&c.name).is_ok())
            .map(|c| c.name.clone());
        let (dir, remote) = match self.storage.resolve(&self.output_dir)? {
            Location::Local(dir) => (dir, None),
            Location::Remote(prefix) => (
                self.journal_dir.clone().unwrap_or_else(default_journal_dir),
                Some(prefix),
            ),
        };
        let manifest = match &self.manifest {
            Some(p) => Some(self.storage.resolve(p)?),
            None => None,
        };
        Ok(OutputConfig {
            dir,
            remote,
            run_id: plan.run_id.clone(),
            prefix: plan.output_prefix.clone(),
            schema: plan.union.schema.clone(),
            properties: plan.properties.clone(),
            summary: SummarySpec {
                sort_columns: sort
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.direction))
                    .collect(),
                prefix_len: plan.contract.prefix_len,
                time_column,
                summary_columns: self.summary_columns.clone(),
            },
            max_outputs: plan.max_outputs,
            manifest,
        })
    }

    /// Run the merge on tokio's blocking pool. Dropping the returned future cancels
    /// the merge, which then removes every file it created.
    pub async fn run_async(self) -> Result<MergeResult> {
        let cancel = self.controls.cancel.clone();
        let mut guard = CancelOnDrop(Some(cancel));
        let result = tokio::task::spawn_blocking(move || self.run())
            .await
            .map_err(|e| Error::Internal(format!("merge task failed: {e}")))?;
        guard.0 = None; // finished: nothing to cancel
        result
    }
}

/// Sets the cancel flag when dropped (i.e. when the async merge is abandoned).
struct CancelOnDrop(Option<Arc<AtomicBool>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}
