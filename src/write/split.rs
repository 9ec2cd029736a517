//! [`write_split`]: a split from batches in any order (sorted stably, then written
//! by the streaming writer).

use super::config::SplitConfig;
use super::sort::sort_batch;
use super::sorted_writer::{SortedSplitWriter, SplitSummary};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use std::path::Path;

/// Rows handed to the streaming writer at a time by [`write_split`].
const WRITE_CHUNK_ROWS: usize = 65_536;

/// Sort `batches` (stably, nulls last) by the configured sort schema and write them
/// to `path` as one split.
///
/// ```
/// use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
/// use prefix_merge::write::{write_split, SplitConfig};
/// use std::sync::Arc;
///
/// # fn main() -> prefix_merge::Result<()> {
/// # let tmp = tempfile::tempdir().unwrap();
/// # let path = tmp.path().join("split.parquet");
/// let columns: Vec<ArrayRef> = vec![
///     Arc::new(StringArray::from(vec!["mem", "cpu", "mem", "cpu"])),
///     Arc::new(Int64Array::from(vec![10, 10, 20, 20])),
///     Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0])),
/// ];
/// let names = ["metric_name", "timestamp_secs", "value"];
/// let batch = RecordBatch::try_from_iter(names.into_iter().zip(columns)).unwrap();
/// let config = SplitConfig::new("metric_name|timestamp_secs/V2".parse()?, 1);
/// let summary = write_split(&path, batch.schema(), &[batch], &config)?;
/// assert_eq!((summary.rows, summary.row_groups), (4, 2)); // cpu, then mem
/// # Ok(())
/// # }
/// ```
pub fn write_split(
    path: impl AsRef<Path>,
    schema: SchemaRef,
    batches: &[RecordBatch],
    config: &SplitConfig,
) -> Result<SplitSummary> {
    let path = path.as_ref();
    let all = arrow_select::concat::concat_batches(&schema, batches)
        .map_err(|e| Error::InvalidData(format!("batches do not share one schema: {e}")))?;
    let sorted = sort_batch(&all, &config.sort_schema)?;
    let mut writer = SortedSplitWriter::try_new(path, schema, config.clone())?;
    let mut offset = 0;
    while offset < sorted.num_rows() {
        let len = WRITE_CHUNK_ROWS.min(sorted.num_rows() - offset);
        writer.write(&sorted.slice(offset, len))?;
        offset += len;
    }
    writer.finish()
}
