//! The merge plan: everything a merge decides from the inputs' metadata before
//! a byte is written (schema union, P, regions, output count and targets, the
//! outputs' contract and writer properties, verbatim copies, peak memory), and
//! [`MergePlan`], the part of it `MergeBuilder::prepare` shows.

use super::{build_regions, estimate_memory, MemoryEstimate, OutputTargets, Region};
use crate::input::{scan_virtual_regions, FileContract, InputFile};
use crate::output::run::new_run_id;
use crate::output::writer_options::DEFAULT_DATA_PAGE_SIZE;
use crate::output::{default_output_prefix, WriterOptions};
use crate::schema::{to_sorting_columns, union_schemas, SchemaUnion};
use crate::{Error, Result};
use parquet::arrow::ArrowSchemaConverter;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use std::path::Path;

/// What the caller asked of a merge, as far as planning needs it.
pub(crate) struct PlanRequest<'a> {
    /// Where the outputs go (named in errors about the output schema).
    pub output_dir: &'a Path,
    /// Upper bound on the outputs, or...
    pub num_outputs: Option<usize>,
    /// ...outputs of about this many bytes (neither: one output).
    pub target_output_bytes: Option<u64>,
    /// The caller's writer properties (default: the default [`WriterOptions`]).
    pub properties: Option<&'a WriterProperties>,
    /// The caller's writer options, applied over the properties.
    pub writer_options: Option<&'a WriterOptions>,
    /// P of the outputs (default: the first input's).
    pub promote_prefix_len: Option<usize>,
    /// Re-derive every input's regions from its data.
    pub rescan_alignment: bool,
    /// Output name prefix (default: `merged_RUNID`).
    pub output_prefix: Option<&'a str>,
    /// Columns summarized per output (they must exist).
    pub summary_columns: &'a [String],
    /// Rows per merge window (memory estimate).
    pub batch_rows: usize,
    /// P = 0 row-group byte limit (memory estimate).
    pub row_group_bytes: usize,
    /// Whether verbatim row-group copies are allowed at all.
    pub verbatim_copy: bool,
}

/// Everything the plan stage decided: what the engine executes.
pub(crate) struct Plan {
    /// The run's id (temporary names, lock, manifest).
    pub run_id: String,
    /// Output name prefix.
    pub output_prefix: String,
    /// The outputs' Arrow schema and each input's adapter to it.
    pub union: SchemaUnion,
    /// Regions in key order.
    pub regions: Vec<Region>,
    /// Rows and bytes of all inputs.
    pub rows_in: u64,
    pub bytes_in: u64,
    /// Where outputs are cut.
    pub targets: OutputTargets,
    /// The outputs' contract (sort schema, P, window, merge ops).
    pub contract: FileContract,
    /// The outputs' writer properties.
    pub properties: WriterProperties,
    /// Upper bound on the outputs the run may write (their names are checked).
    pub max_outputs: usize,
    /// Cap on the rows of an output row group (writer options).
    pub max_row_group_rows: Option<u64>,
    /// Per input: its row groups may be copied verbatim.
    pub verbatim: Vec<bool>,
    /// Estimated peak memory.
    pub memory: MemoryEstimate,
}

/// What a planned merge will do, decided from metadata alone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergePlan {
    /// The run's id (in temporary names and the manifest).
    pub run_id: String,
    /// Inputs to merge.
    pub num_inputs: usize,
    /// Rows of all inputs.
    pub rows_in: u64,
    /// Bytes of all input files.
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
    /// The parts of the estimate.
    pub memory: MemoryEstimate,
}

/// Plan a merge of `inputs` (opened and validated) as `request` asks.
pub(crate) fn plan_merge(inputs: &[InputFile], request: &PlanRequest<'_>) -> Result<Plan> {
    let first = inputs
        .first()
        .ok_or_else(|| Error::InvalidArgument("no input files".into()))?;
    let union = union_inputs(inputs)?;
    let prefix_len = request.promote_prefix_len.unwrap_or(first.prefix_len());
    let output_parquet = check_columns(request, &union)?;
    let regions = plan_regions(inputs, request, prefix_len)?;
    let rows_in: u64 = inputs.iter().map(InputFile::num_rows).sum();
    let bytes_in: u64 = inputs.iter().map(|i| i.file_bytes).sum();
    let targets = OutputTargets::even(rows_in, output_count(request, bytes_in));
    let contract = output_contract(inputs, prefix_len);
    let verbatim = verbatim_inputs(inputs, request, &union, &output_parquet);
    let memory = estimate_memory(
        inputs,
        &regions,
        prefix_len,
        request.batch_rows,
        request.row_group_bytes,
    );
    let properties = output_properties(inputs, request, &contract, &output_parquet)?;
    let max_row_group_rows = request
        .writer_options
        .and_then(WriterOptions::max_row_group_rows)
        .map(|n| n as u64);
    let max_outputs = max_outputs(&targets, &regions, prefix_len, max_row_group_rows);
    let run_id = new_run_id();
    Ok(Plan {
        output_prefix: request
            .output_prefix
            .map_or_else(|| default_output_prefix(&run_id), str::to_string),
        run_id,
        union,
        regions,
        rows_in,
        bytes_in,
        targets,
        contract,
        properties,
        max_outputs,
        max_row_group_rows,
        verbatim,
        memory,
    })
}

impl Plan {
    /// What [`MergeBuilder::prepare`](crate::MergeBuilder::prepare) shows of
    /// this plan, for a merge of `num_inputs` inputs.
    pub fn summary(&self, num_inputs: usize) -> MergePlan {
        MergePlan {
            run_id: self.run_id.clone(),
            num_inputs,
            rows_in: self.rows_in,
            bytes_in: self.bytes_in,
            num_regions: self.regions.len(),
            num_outputs: self.max_outputs,
            prefix_len: self.contract.prefix_len,
            num_merge_ops: self.contract.num_merge_ops,
            estimated_peak_bytes: self.memory.total(),
            memory: self.memory,
        }
    }
}

/// The union of the inputs' Arrow schemas (the outputs' schema).
fn union_inputs(inputs: &[InputFile]) -> Result<SchemaUnion> {
    let schemas: Vec<_> = inputs
        .iter()
        .map(|i| (i.path.as_path(), i.metadata.schema().as_ref()))
        .collect();
    union_schemas(&schemas)
}

/// Regions at P = `prefix_len`: inputs with another P (or all, with
/// `rescan_alignment`) are cut into virtual regions by the legacy adapter.
fn plan_regions(
    inputs: &[InputFile],
    request: &PlanRequest<'_>,
    prefix_len: usize,
) -> Result<Vec<Region>> {
    let virtual_regions = inputs
        .iter()
        .map(|input| {
            let adapt =
                prefix_len > 0 && (request.rescan_alignment || input.prefix_len() != prefix_len);
            adapt
                .then(|| scan_virtual_regions(input, prefix_len))
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(build_regions(inputs, prefix_len, &virtual_regions))
}

/// The requested output count: given, or derived from the target size.
fn output_count(request: &PlanRequest<'_>, bytes_in: u64) -> usize {
    match (request.num_outputs, request.target_output_bytes) {
        (Some(n), _) => n,
        (None, Some(t)) => usize::try_from(bytes_in.div_ceil(t))
            .unwrap_or(usize::MAX)
            .max(1),
        (None, None) => 1,
    }
}

/// The outputs' contract: the first input's, at P = `prefix_len`, one merge
/// op deeper than the deepest input.
fn output_contract(inputs: &[InputFile], prefix_len: usize) -> FileContract {
    let first = &inputs[0];
    FileContract {
        num_merge_ops: inputs
            .iter()
            .map(|i| i.contract.num_merge_ops)
            .max()
            .unwrap_or(0)
            + 1,
        sort_schema: first.sort_schema().clone(),
        prefix_len,
        ..first.contract.clone()
    }
}

/// The outputs' Parquet schema, after checking that every column the caller
/// names (summary columns, writer options' bloom filters) is in an input.
fn check_columns(request: &PlanRequest<'_>, union: &SchemaUnion) -> Result<SchemaDescriptor> {
    for c in request.summary_columns {
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
        .map_err(|e| Error::parquet(request.output_dir, e))?;
    if let Some(options) = request.writer_options {
        options.check(&output_parquet)?;
    }
    Ok(output_parquet)
}

/// Per input: whether its row groups may be copied verbatim (same schema as
/// the outputs, no adapter, and compliant with the writer options if any).
fn verbatim_inputs(
    inputs: &[InputFile],
    request: &PlanRequest<'_>,
    union: &SchemaUnion,
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
            request.verbatim_copy
                && adapter.is_identity()
                && columns == output_parquet.columns()
                && request.writer_options.is_none_or(|o| complies(input, o))
        })
        .collect()
}

/// Output writer properties: the caller's (default: the default
/// [`WriterOptions`], ZSTD(3)), the writer options over them, plus sorting
/// columns, the `qh.*` contract, and bloom filters where any input has one.
fn output_properties(
    inputs: &[InputFile],
    request: &PlanRequest<'_>,
    contract: &FileContract,
    parquet_schema: &SchemaDescriptor,
) -> Result<WriterProperties> {
    let base = match request.properties {
        Some(p) => p.clone(),
        None => WriterOptions::default()
            .apply(WriterProperties::builder(), parquet_schema)?
            .build(),
    };
    let base = match request.writer_options {
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

/// Whether every row group of `input` already is what `options` ask for, so
/// that it may be copied verbatim (see `MergeBuilder::writer_options`; the
/// row-group cap is checked per region by the engine).
fn complies(input: &InputFile, options: &WriterOptions) -> bool {
    let page_limit =
        (options.data_page_size() != DEFAULT_DATA_PAGE_SIZE).then_some(options.data_page_size());
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
    regions: &[Region],
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
