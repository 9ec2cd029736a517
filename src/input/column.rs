//! Streaming reads of row groups of an input through the engine's page source
//! (`crate::page`): the levels of each projection computed once per input.

use super::file::InputFile;
use super::guard::Guarded;
use super::region_bytes::ChunkSource;
use crate::page::{batch_reader, PageSource};
use crate::{Error, Result};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, RowSelection};

/// Rows per batch when scanning sort or prefix columns.
pub const SCAN_BATCH_ROWS: usize = 8192;

/// What a reader of an input reads: which row groups (through which bytes),
/// which top-level fields (`None`: all) and, optionally, which of their rows.
pub struct ReadSpec<'a> {
    /// The bytes read from.
    pub source: ChunkSource,
    /// Row groups read, in order.
    pub row_groups: Vec<usize>,
    /// Top-level fields read (`None`: all).
    pub roots: Option<&'a [usize]>,
    /// Rows per decoded batch.
    pub batch_rows: usize,
    /// Rows of the row groups read (`None`: all).
    pub selection: Option<RowSelection>,
}

/// A batch reader over `spec` of `input` (the footer is not parsed again, the
/// levels not computed again).
pub fn read_row_groups(input: &InputFile, spec: ReadSpec<'_>) -> Result<ParquetRecordBatchReader> {
    let levels = input.levels(spec.roots)?;
    let metadata = input.metadata.metadata().clone();
    PageSource::new(spec.source, metadata, spec.row_groups)
        .and_then(|source| batch_reader(&source, &levels, spec.batch_rows, spec.selection))
        .map_err(|e| Error::parquet(&input.path, e))
}

/// A reader over the given top-level fields of row group `row_group`, yielding
/// small batches. Decoder panics on corrupt pages come out as errors.
pub fn read_row_group_columns(
    input: &InputFile,
    row_group: usize,
    field_indices: &[usize],
) -> Result<Guarded<ParquetRecordBatchReader>> {
    let spec = ReadSpec {
        source: input.chunk_source(&[row_group])?,
        row_groups: vec![row_group],
        roots: Some(field_indices),
        batch_rows: SCAN_BATCH_ROWS,
        selection: None,
    };
    read_row_groups(input, spec).map(Guarded::new)
}
