//! Configuration of one written split.

use crate::input::{FileContract, SchemaSource, Window};
use crate::schema::SortSchema;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// What the writer needs to know about the split it writes.
#[derive(Debug, Clone)]
pub struct SplitConfig {
    /// The sort schema the rows are sorted by (written as `qh.sort_fields` and `sorting_columns`).
    pub sort_schema: SortSchema,
    /// P: rows are grouped into one row group per distinct value of the first P
    /// sort columns. 0 means no alignment claim.
    pub prefix_len: usize,
    /// For P = 0 only: cut row groups every this many rows (`None`: one row group).
    pub max_row_group_rows: Option<usize>,
    /// The time window the split covers (`qh.window_start`, `qh.window_duration_secs`), if any.
    pub window: Option<Window>,
    /// `qh.num_merge_ops` to write (0 for a freshly indexed split).
    pub num_merge_ops: u64,
    /// Base Parquet writer properties (compression, dictionary, bloom filters...).
    /// Sorting columns, key-value metadata and row-group limits are set by the writer.
    pub properties: WriterProperties,
}

impl SplitConfig {
    /// A config with ZSTD(1) compression and no window.
    pub fn new(sort_schema: SortSchema, prefix_len: usize) -> Self {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
            .build();
        SplitConfig {
            sort_schema,
            prefix_len,
            max_row_group_rows: None,
            window: None,
            num_merge_ops: 0,
            properties,
        }
    }

    /// The file contract this config writes.
    pub fn contract(&self) -> FileContract {
        FileContract {
            sort_schema: self.sort_schema.clone(),
            schema_source: SchemaSource::SortFields,
            prefix_len: self.prefix_len,
            window: self.window,
            num_merge_ops: self.num_merge_ops,
        }
    }
}
