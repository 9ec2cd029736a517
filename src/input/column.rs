//! Streaming reads of selected columns of one row group, built on parquet-rs.

use super::{Guarded, InputFile};
use crate::{Error, Result};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

/// Rows per batch when scanning sort or prefix columns.
pub const SCAN_BATCH_ROWS: usize = 8192;

/// A reader over the given top-level fields of row group `row_group`, yielding
/// small batches (the file's footer is not parsed again). Decoder panics on corrupt
/// pages come out as errors.
pub fn read_row_group_columns(
    input: &InputFile,
    row_group: usize,
    field_indices: &[usize],
) -> Result<Guarded<ParquetRecordBatchReader>> {
    let source = input.chunk_source(&[row_group])?;
    let mask = ProjectionMask::roots(
        input.metadata.metadata().file_metadata().schema_descr(),
        field_indices.iter().copied(),
    );
    ParquetRecordBatchReaderBuilder::new_with_metadata(source, input.metadata.clone())
        .with_projection(mask)
        .with_row_groups(vec![row_group])
        .with_batch_size(SCAN_BATCH_ROWS)
        .build()
        .map(Guarded::new)
        .map_err(|e| Error::parquet(&input.path, e))
}
