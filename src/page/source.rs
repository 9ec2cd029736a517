//! `RowGroups` / `PageIterator` over some row groups of an input, and the batch reader parquet-rs builds on them.

use super::codec::is_pooled;
use super::pages::{ChunkId, PooledPages};
use parquet::arrow::array_reader::RowGroups;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, RowSelection};
use parquet::arrow::FieldLevels;
use parquet::basic::Compression;
use parquet::column::page::{PageIterator, PageReader};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::properties::{ReaderProperties, ReaderPropertiesPtr};
use parquet::file::reader::ChunkReader;
use parquet::file::serialized_reader::SerializedPageReader;
use std::sync::{Arc, OnceLock};

/// Properties of every page reader (shared, not built per chunk).
fn reader_properties() -> ReaderPropertiesPtr {
    static PROPS: OnceLock<ReaderPropertiesPtr> = OnceLock::new();
    PROPS
        .get_or_init(|| Arc::new(ReaderProperties::builder().build()))
        .clone()
}

/// Row groups `row_groups` of the file described by `metadata`, read through `reader`.
pub struct PageSource<R> {
    reader: Arc<R>,
    metadata: Arc<ParquetMetaData>,
    row_groups: Vec<usize>,
}

impl<R: ChunkReader + 'static> PageSource<R> {
    /// A source over `row_groups` (indices into `metadata`).
    pub fn new(reader: R, metadata: Arc<ParquetMetaData>, row_groups: Vec<usize>) -> Result<Self> {
        let count = metadata.num_row_groups();
        if let Some(bad) = row_groups.iter().find(|&&rg| rg >= count) {
            return Err(ParquetError::General(format!(
                "row group {bad} does not exist (the file has {count})"
            )));
        }
        Ok(PageSource {
            reader: Arc::new(reader),
            metadata,
            row_groups,
        })
    }
}

impl<R: ChunkReader + 'static> RowGroups for PageSource<R> {
    fn num_rows(&self) -> usize {
        self.row_groups()
            .map(|rg| usize::try_from(rg.num_rows()).unwrap_or(0))
            .sum()
    }

    fn column_chunks(&self, i: usize) -> Result<Box<dyn PageIterator>> {
        Ok(Box::new(ColumnPages {
            reader: self.reader.clone(),
            metadata: self.metadata.clone(),
            column: i,
            row_groups: self.row_groups.clone().into_iter(),
        }))
    }

    fn row_groups(&self) -> Box<dyn Iterator<Item = &RowGroupMetaData> + '_> {
        Box::new(self.row_groups.iter().map(|&i| self.metadata.row_group(i)))
    }

    fn metadata(&self) -> &ParquetMetaData {
        &self.metadata
    }
}

/// The chunks of one column in the source's row groups, one page reader each.
struct ColumnPages<R> {
    reader: Arc<R>,
    metadata: Arc<ParquetMetaData>,
    column: usize,
    row_groups: std::vec::IntoIter<usize>,
}

impl<R: ChunkReader + 'static> ColumnPages<R> {
    /// The page reader of the column's chunk in row group `rg`: pooled codecs
    /// for the codecs the pool handles, parquet-rs' own path for the rest.
    fn open(&self, rg: usize) -> Result<Box<dyn PageReader>> {
        let group = self.metadata.row_group(rg);
        let meta = group.columns().get(self.column).ok_or_else(|| {
            ParquetError::General(format!("row group {rg} has no column {}", self.column))
        })?;
        let locations = self
            .metadata
            .page_index()
            .and_then(|i| i.page_locations(rg, self.column).cloned());
        let rows = usize::try_from(group.num_rows()).unwrap_or(0);
        let location = ChunkId {
            row_group: rg,
            column: meta.column_descr_ptr(),
        };
        let codec = meta.compression();
        let props = reader_properties();
        let reader = self.reader.clone();
        if !is_pooled(codec) {
            let pages =
                SerializedPageReader::new_with_properties(reader, meta, rows, locations, props);
            let pages = pages.map_err(|e| location.locate(e))?;
            return Ok(Box::new(PooledPages::new(pages, None, location)));
        }
        let plain = meta
            .clone()
            .into_builder()
            .set_compression(Compression::UNCOMPRESSED)
            .build()
            .and_then(|m| {
                SerializedPageReader::new_with_properties(reader, &m, rows, locations, props)
            });
        let pages = plain.map_err(|e| location.locate(e))?;
        Ok(Box::new(PooledPages::new(pages, Some(codec), location)))
    }
}

impl<R: ChunkReader + 'static> Iterator for ColumnPages<R> {
    type Item = Result<Box<dyn PageReader>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rg = self.row_groups.next()?;
        Some(self.open(rg))
    }
}

impl<R: ChunkReader + 'static> PageIterator for ColumnPages<R> {}

/// A batch reader of the fields in `levels` over `source`, `batch_rows` rows per
/// batch, reading only `selection` when given.
pub fn batch_reader<R: ChunkReader + 'static>(
    source: &PageSource<R>,
    levels: &FieldLevels,
    batch_rows: usize,
    selection: Option<RowSelection>,
) -> Result<ParquetRecordBatchReader> {
    ParquetRecordBatchReader::try_new_with_row_groups(levels, source, batch_rows, selection)
}
