//! The public merge API: a builder, a synchronous `run` and a tokio `run_async`.

use super::engine::{Engine, RowCounts};
use super::key_layout::KeyLayout;
use crate::input::{scan_virtual_regions, FileContract, InputFile};
use crate::output::manifest::{rfc3339, MANIFEST_VERSION};
use crate::output::run::default_journal_dir;
use crate::output::run::new_run_id;
use crate::output::{
    default_output_prefix, InputEntry, Manifest, OutputConfig, OutputSet, OutputSink, Sealed,
    SortColumnEntry, SummarySpec, WriterOptions,
};
use crate::plan::{build_regions, estimate_memory, validate_inputs, MemoryEstimate, OutputTargets};
use crate::predicate::Predicate;
use crate::schema::{to_sorting_columns, union_schemas, SortSchema};
use crate::storage::{Location, Storage};
use crate::{Error, Result};
use parquet::arrow::ArrowSchemaConverter;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Progress callback: (rows merged so far, total rows).
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Inputs as paths, or already opened by the caller.
enum Inputs {
    Paths(Vec<PathBuf>),
    Opened(Vec<InputFile>),
}

/// Tuning knobs with sensible defaults.
#[derive(Clone)]
pub struct MergeOptions {
    /// Rows per decoded input batch and per merge window.
    pub batch_rows: usize,
    /// P = 0 outputs: close a row group at the next series transition after this
    /// many rows (input rows, counting duplicates dropped by dedup)...
    pub row_group_rows: usize,
    /// ...or once the row group's buffered encoded size reaches this many bytes.
    pub row_group_bytes: usize,
    /// Copy a region's row group verbatim (no decode, no re-encode) when it is the
    /// region's only contributor and its Parquet schema equals the output's.
    pub verbatim_copy: bool,
    /// Last-write-wins dedup; see [`MergeBuilder::dedup`]. Off by default.
    pub dedup: bool,
    /// Rows to delete, per input (in input order): rows of input `i` that
    /// match any predicate of `deletes[i]` are not written. Empty: none; see
    /// [`MergeBuilder::delete_rows`].
    pub deletes: Vec<Vec<Arc<Predicate>>>,
    pub progress: Option<ProgressFn>,
    /// Set to stop the merge; it then fails with [`Error::Cancelled`] and removes
    /// its outputs.
    pub cancel: Arc<AtomicBool>,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            batch_rows: 8192,
            row_group_rows: 1 << 20,
            row_group_bytes: 64 << 20,
            verbatim_copy: true,
            dedup: false,
            deletes: Vec::new(),
            progress: None,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
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
        self.options.dedup = dedup;
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
        self.options.deletes = per_input;
        self
    }

    /// Replace the tuning options.
    pub fn options(mut self, options: MergeOptions) -> Self {
        self.options = options;
        self
    }

    /// Report progress through `f(rows_done, rows_total)`.
    pub fn on_progress(mut self, f: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.options.progress = Some(Arc::new(f));
        self
    }

    /// The flag that cancels this merge when set.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.options.cancel.clone()
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
        let plan = self.plan(&inputs)?;
        Ok(PreparedMerge {
            builder: self,
            inputs,
            plan,
            started,
        })
    }
}

/// A planned merge (see [`MergeBuilder::prepare`]): inputs open, nothing written.
pub struct PreparedMerge {
    builder: MergeBuilder,
    inputs: Vec<InputFile>,
    plan: Plan,
    started: (Instant, SystemTime),
}

/// What a planned merge will do, decided from metadata alone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergePlan {
    pub run_id: String,
    pub num_inputs: usize,
    pub rows_in: u64,
    pub bytes_in: u64,
    /// Regions (distinct prefix keys; 1 when P = 0).
    pub num_regions: usize,
    /// Upper bound on the number of outputs (more than requested when a row-group
    /// cap continues large regions of aligned outputs in further outputs).
    pub num_outputs: usize,
    /// P of the outputs.
    pub prefix_len: usize,
    /// `qh.num_merge_ops` of the outputs.
    pub num_merge_ops: u64,
    /// Estimated peak resident memory of the run, with its parts.
    pub estimated_peak_bytes: u64,
    pub memory: MemoryEstimate,
}

impl PreparedMerge {
    /// What the run will do.
    pub fn plan(&self) -> MergePlan {
        let p = &self.plan;
        MergePlan {
            run_id: p.run_id.clone(),
            num_inputs: self.inputs.len(),
            rows_in: p.rows_in,
            bytes_in: p.bytes_in,
            num_regions: p.regions.len(),
            num_outputs: p.max_outputs,
            prefix_len: p.contract.prefix_len,
            num_merge_ops: p.contract.num_merge_ops,
            estimated_peak_bytes: p.memory.total(),
            memory: p.memory,
        }
    }

    /// The opened inputs, in merge order.
    pub fn inputs(&self) -> &[InputFile] {
        &self.inputs
    }

    /// Stages 4 and 5: execute the plan and commit (publish) the outputs.
    pub fn run(self) -> Result<MergeResult> {
        let PreparedMerge {
            builder,
            inputs,
            plan,
            started,
        } = self;
        builder.execute_and_commit(inputs, plan, started)
    }
}

impl MergeBuilder {
    fn execute_and_commit(
        self,
        inputs: Vec<InputFile>,
        plan: Plan,
        started: (Instant, SystemTime),
    ) -> Result<MergeResult> {
        let (sealed, counts) = self.execute(&inputs, &plan)?;
        let outputs = sealed.summaries();
        let rows_out: u64 = outputs.iter().map(|s| s.rows).sum();
        let (duplicates_dropped, rows_deleted) =
            check_row_counts(&inputs, &counts, rows_out, plan.rows_in, self.options.dedup)?;
        let finished = SystemTime::now();
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            run_id: plan.run_id.clone(),
            engine: env!("CARGO_PKG_NAME"),
            engine_version: env!("CARGO_PKG_VERSION"),
            started_at: rfc3339(started.1),
            finished_at: rfc3339(finished),
            elapsed_secs: started.0.elapsed().as_secs_f64(),
            sort_schema: plan.contract.sort_schema.to_string(),
            sort_columns: plan
                .contract
                .sort_schema
                .columns
                .iter()
                .map(|c| SortColumnEntry {
                    name: c.name.clone(),
                    direction: if c.direction.is_descending() {
                        "desc"
                    } else {
                        "asc"
                    },
                    data_type: plan
                        .union
                        .schema
                        .field_with_name(&c.name)
                        .ok()
                        .map(|f| f.data_type().to_string()),
                })
                .collect(),
            prefix_len: plan.contract.prefix_len,
            window: plan.contract.window,
            num_merge_ops: plan.contract.num_merge_ops,
            rows_in: plan.rows_in,
            rows_out,
            duplicates_dropped,
            rows_deleted,
            bytes_in: plan.bytes_in,
            bytes_out: outputs.iter().map(|s| s.bytes).sum(),
            inputs: inputs
                .iter()
                .map(|i| InputEntry {
                    path: i.path.clone(),
                    bytes: i.file_bytes,
                    rows: i.num_rows(),
                    footer_fingerprint: i.footer_fingerprint.clone(),
                })
                .collect(),
            outputs,
        };
        let json = match self.manifest {
            Some(_) => Some(manifest.to_json()?),
            None => None,
        };
        // Last moment to stop: dropping `sealed` removes the outputs.
        check_cancel(&self.options)?;
        sealed.publish(json.as_deref().map(str::as_bytes))?;
        Ok(manifest)
    }

    /// Arguments that are wrong whatever the inputs.
    fn check_arguments(&self) -> Result<()> {
        let empty = match &self.inputs {
            Inputs::Paths(p) => p.is_empty(),
            Inputs::Opened(i) => i.is_empty(),
        };
        if empty {
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
        if self.options.batch_rows == 0 || self.options.row_group_rows == 0 {
            return Err(Error::InvalidArgument(
                "batch and row-group rows must be > 0".into(),
            ));
        }
        if let Some(p) = &self.output_prefix {
            crate::output::check_output_prefix(p)?;
        }
        let num_inputs = match &self.inputs {
            Inputs::Paths(p) => p.len(),
            Inputs::Opened(i) => i.len(),
        };
        if !self.options.deletes.is_empty() && self.options.deletes.len() != num_inputs {
            return Err(Error::InvalidArgument(format!(
                "delete predicates for {} inputs, but {num_inputs} inputs",
                self.options.deletes.len()
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

    /// Stage 3: everything decided from metadata before a byte is written.
    fn plan(&self, inputs: &[InputFile]) -> Result<Plan> {
        let schemas: Vec<_> = inputs
            .iter()
            .map(|i| (i.path.as_path(), i.metadata.schema().as_ref()))
            .collect();
        let union = union_schemas(&schemas)?;
        let first = inputs
            .first()
            .ok_or_else(|| Error::InvalidArgument("no input files".into()))?;
        let prefix_len = self.promote_prefix_len.unwrap_or(first.prefix_len());
        let sort = first.sort_schema().clone();
        let output_parquet = self.check_columns(&union)?;
        let virtual_regions = inputs
            .iter()
            .map(|input| {
                let adapt =
                    prefix_len > 0 && (self.rescan_alignment || input.prefix_len() != prefix_len);
                adapt
                    .then(|| scan_virtual_regions(input, prefix_len))
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        let regions = build_regions(inputs, prefix_len, &virtual_regions);
        let rows_in: u64 = inputs.iter().map(InputFile::num_rows).sum();
        let bytes_in: u64 = inputs.iter().map(|i| i.file_bytes).sum();
        let num_outputs = match (self.num_outputs, self.target_output_bytes) {
            (Some(n), _) => n,
            (None, Some(t)) => usize::try_from(bytes_in.div_ceil(t))
                .unwrap_or(usize::MAX)
                .max(1),
            (None, None) => 1,
        };
        let targets = OutputTargets::even(rows_in, num_outputs);
        let layout = KeyLayout::new(&sort, prefix_len, &union.schema)?;
        let contract = FileContract {
            num_merge_ops: inputs
                .iter()
                .map(|i| i.contract.num_merge_ops)
                .max()
                .unwrap_or(0)
                + 1,
            sort_schema: sort.clone(),
            prefix_len,
            ..first.contract.clone()
        };
        let verbatim = self.verbatim_inputs(inputs, &union, &output_parquet);
        let memory = estimate_memory(
            inputs,
            &regions,
            prefix_len,
            self.options.batch_rows,
            self.options.row_group_bytes,
        );
        let properties = self.output_properties(inputs, &contract, &output_parquet)?;
        let max_row_group_rows = self
            .writer_options
            .as_ref()
            .and_then(WriterOptions::max_row_group_rows)
            .map(|n| n as u64);
        let max_outputs = max_outputs(&targets, &regions, prefix_len, max_row_group_rows);
        let run_id = new_run_id();
        Ok(Plan {
            max_outputs,
            max_row_group_rows,
            memory,
            output_prefix: self
                .output_prefix
                .clone()
                .unwrap_or_else(|| default_output_prefix(&run_id)),
            run_id,
            properties,
            union,
            regions,
            rows_in,
            bytes_in,
            targets,
            layout,
            contract,
            verbatim,
        })
    }

    /// The outputs' Parquet schema, after checking that every column the caller
    /// names (summary columns, writer options' bloom filters) is in an input.
    fn check_columns(&self, union: &crate::schema::SchemaUnion) -> Result<SchemaDescriptor> {
        for c in &self.summary_columns {
            if union.schema.index_of(c).is_err() {
                return Err(Error::InvalidArgument(format!(
                    "summary column '{c}' is in no input; the inputs have columns: {}",
                    union
                        .schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let output_parquet = ArrowSchemaConverter::new()
            .convert(&union.schema)
            .map_err(|e| Error::parquet(&self.output_dir, e))?;
        if let Some(options) = &self.writer_options {
            options.check(&output_parquet)?;
        }
        Ok(output_parquet)
    }

    /// Per input: whether its row groups may be copied verbatim (same schema as
    /// the outputs, no adapter, and compliant with the writer options if any).
    fn verbatim_inputs(
        &self,
        inputs: &[InputFile],
        union: &crate::schema::SchemaUnion,
        output_parquet: &SchemaDescriptor,
    ) -> Vec<bool> {
        inputs
            .iter()
            .zip(&union.adapters)
            .map(|(input, adapter)| {
                let columns = input
                    .metadata
                    .metadata()
                    .file_metadata()
                    .schema_descr()
                    .columns();
                self.options.verbatim_copy
                    && adapter.is_identity()
                    && columns == output_parquet.columns()
                    && self
                        .writer_options
                        .as_ref()
                        .is_none_or(|o| complies(input, o))
            })
            .collect()
    }

    /// Output writer properties: the caller's (default: the default
    /// [`WriterOptions`], ZSTD(3)), the writer options over them, plus sorting
    /// columns, the `qh.*` contract, and bloom filters where any input has one.
    fn output_properties(
        &self,
        inputs: &[InputFile],
        contract: &FileContract,
        parquet_schema: &SchemaDescriptor,
    ) -> Result<WriterProperties> {
        let base = match &self.properties {
            Some(p) => p.clone(),
            None => WriterOptions::default()
                .apply(WriterProperties::builder(), parquet_schema)?
                .build(),
        };
        let base = match &self.writer_options {
            Some(o) => o.apply(base.into_builder(), parquet_schema)?.build(),
            None => base,
        };
        let mut kv = base.key_value_metadata().cloned().unwrap_or_default();
        kv.retain(|e| !e.key.starts_with("qh."));
        kv.extend(contract.key_values());
        let mut builder = base
            .into_builder()
            .set_sorting_columns(Some(to_sorting_columns(
                &contract.sort_schema,
                parquet_schema,
            )))
            .set_key_value_metadata(Some(kv))
            .set_max_row_group_row_count(None)
            .set_max_row_group_bytes(None);
        for column in bloom_filter_columns(inputs) {
            builder = builder.set_column_bloom_filter_enabled(column, true);
        }
        Ok(builder.build())
    }

    /// Stage 4: merge every region into sealed outputs (complete, fsynced, not yet
    /// visible); returns them with the rows emitted and dropped per input.
    fn execute(&self, inputs: &[InputFile], plan: &Plan) -> Result<(Sealed, RowCounts)> {
        check_cancel(&self.options)?;
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
        let outputs = OutputSet::new(OutputConfig {
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
        })?;
        let engine = Engine {
            prefix_len: plan.contract.prefix_len,
            verbatim: plan.verbatim.clone(),
            inputs,
            union: &plan.union,
            layout: &plan.layout,
            targets: plan.targets.clone(),
            options: &self.options,
            total_rows: plan.rows_in,
            summary_columns: &self.summary_columns,
            max_row_group_rows: plan.max_row_group_rows,
            time_bounds: Default::default(),
        };
        let mut sink = OutputSink::spawn(outputs)?;
        let counts = engine.run(&plan.regions, &mut sink)?;
        Ok((sink.seal()?, counts))
    }

    /// Run the merge on tokio's blocking pool. Dropping the returned future cancels
    /// the merge, which then removes every file it created.
    pub async fn run_async(self) -> Result<MergeResult> {
        let cancel = self.options.cancel.clone();
        let mut guard = CancelOnDrop(Some(cancel));
        let result = tokio::task::spawn_blocking(move || self.run())
            .await
            .map_err(|e| Error::Internal(format!("merge task failed: {e}")))?;
        guard.0 = None; // finished: nothing to cancel
        result
    }
}

/// MC-1: every input's rows were merged, and rows out == rows in; with dedup
/// and deletes, rows emitted + rows dropped as duplicates + rows deleted ==
/// rows in, per input and in total. Returns the rows dropped and deleted.
fn check_row_counts(
    inputs: &[InputFile],
    counts: &RowCounts,
    rows_out: u64,
    rows_in: u64,
    dedup: bool,
) -> Result<(u64, u64)> {
    let mut dropped_total = 0u64;
    let mut deleted_total = 0u64;
    for (i, input) in inputs.iter().enumerate() {
        let (n, dropped, deleted) = (counts.emitted[i], counts.dropped[i], counts.deleted[i]);
        if dropped > 0 && !dedup {
            return Err(Error::Invariant {
                rule: "MC-1",
                detail: format!(
                    "{}: {dropped} rows dropped without dedup",
                    input.path.display()
                ),
            });
        }
        if n.checked_add(dropped).and_then(|x| x.checked_add(deleted)) != Some(input.num_rows()) {
            return Err(Error::Invariant {
                rule: "MC-1",
                detail: format!(
                    "{}: {n} rows merged + {dropped} dropped as duplicates + {deleted} deleted, {} in the file",
                    input.path.display(),
                    input.num_rows()
                ),
            });
        }
        dropped_total = dropped_total.saturating_add(dropped);
        deleted_total = deleted_total.saturating_add(deleted);
    }
    if rows_out
        .checked_add(dropped_total)
        .and_then(|x| x.checked_add(deleted_total))
        != Some(rows_in)
    {
        return Err(Error::Invariant {
            rule: "MC-1",
            detail: format!(
                "{rows_out} rows written + {dropped_total} dropped as duplicates + {deleted_total} deleted, {rows_in} read"
            ),
        });
    }
    Ok((dropped_total, deleted_total))
}

/// [`Error::Cancelled`] once the run's cancel flag is set.
fn check_cancel(options: &MergeOptions) -> Result<()> {
    if options.cancel.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    Ok(())
}

/// Whether every row group of `input` already is what `options` ask for, so
/// that it may be copied verbatim (see [`MergeBuilder::writer_options`]; the
/// row-group cap is checked per region by the engine).
fn complies(input: &InputFile, options: &WriterOptions) -> bool {
    let page_limit = (options.data_page_size()
        != crate::output::writer_options::DEFAULT_DATA_PAGE_SIZE)
        .then_some(options.data_page_size());
    input.metadata.metadata().row_groups().iter().all(|rg| {
        let chunks_comply = rg.columns().iter().all(|c| {
            options.compression().matches(c.compression())
                && page_limit.is_none_or(|limit| {
                    usize::try_from(c.uncompressed_size()).is_ok_and(|size| size <= limit)
                })
        });
        let blooms_present = options.bloom_filter_columns().iter().all(|name| {
            rg.columns()
                .iter()
                .any(|c| c.column_path().string() == *name && c.bloom_filter_offset().is_some())
        });
        chunks_comply && blooms_present
    })
}

/// Upper bound on the outputs of a run: the requested count, plus, for aligned
/// outputs with a row-group cap, one more output per `cap` rows of each region
/// (a region over the cap continues in the next output).
fn max_outputs(
    targets: &OutputTargets,
    regions: &[crate::plan::Region],
    prefix_len: usize,
    max_row_group_rows: Option<u64>,
) -> usize {
    let extra = match max_row_group_rows {
        Some(cap) if prefix_len > 0 => regions
            .iter()
            .map(|r| r.rows.saturating_sub(1) / cap.max(1))
            .fold(0u64, u64::saturating_add),
        _ => 0,
    };
    targets
        .num_outputs
        .saturating_add(usize::try_from(extra).unwrap_or(usize::MAX))
}

/// Columns (by path) that carry a bloom filter in any input row group.
fn bloom_filter_columns(inputs: &[InputFile]) -> Vec<ColumnPath> {
    let mut columns: Vec<ColumnPath> = Vec::new();
    for input in inputs {
        for rg in input.metadata.metadata().row_groups() {
            for c in rg.columns() {
                if c.bloom_filter_offset().is_some() && !columns.contains(c.column_path()) {
                    columns.push(c.column_path().clone());
                }
            }
        }
    }
    columns
}

/// Everything the plan stage decided.
struct Plan {
    run_id: String,
    output_prefix: String,
    union: crate::schema::SchemaUnion,
    regions: Vec<crate::plan::Region>,
    rows_in: u64,
    bytes_in: u64,
    targets: OutputTargets,
    layout: KeyLayout,
    /// The outputs' contract (sort schema, P, window, merge ops).
    contract: FileContract,
    properties: WriterProperties,
    /// Upper bound on the outputs the run may write (their names are checked).
    max_outputs: usize,
    /// Cap on the rows of an output row group (writer options).
    max_row_group_rows: Option<u64>,
    /// Per input: its row groups may be copied verbatim.
    verbatim: Vec<bool>,
    memory: MemoryEstimate,
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
