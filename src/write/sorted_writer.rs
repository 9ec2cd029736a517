//! Streaming split writer: batches arrive already sorted; order (SS-1) is checked
//! across batch boundaries, and a row group is closed at every prefix change. The
//! file is written under a temporary name and published like merge outputs
//! (`output::durable`): fsynced, linked to its final name without replacing a file,
//! directory fsynced.

use super::config::SplitConfig;
use crate::key::{sort_converter, SortedCheck};
use crate::output::commit::check_free;
use crate::output::durable::{create_new, publish_no_replace, remove_if_exists};
use crate::schema::to_sorting_columns;
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_row::{OwnedRow, RowConverter, Rows};
use arrow_schema::SchemaRef;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};

/// What a finished split looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitSummary {
    /// The final path of the file.
    pub path: PathBuf,
    /// Rows written.
    pub rows: u64,
    /// Row groups written.
    pub row_groups: usize,
}

/// Writes one split from sorted batches. The file appears at its final path only
/// when [`finish`](Self::finish) succeeds, fsynced, and never replaces an existing
/// file ([`Error::OutputExists`]); dropping the writer earlier removes the partial
/// file.
///
/// Batches must continue the sort order across calls (SS-1 is checked as they
/// arrive); with P > 0 a row group is closed at every change of prefix value.
///
/// ```
/// use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
/// use prefix_merge::plan::check_alignment;
/// use prefix_merge::write::{SortedSplitWriter, SplitConfig};
/// use prefix_merge::{Error, InputFile};
/// use std::sync::Arc;
///
/// # fn main() -> prefix_merge::Result<()> {
/// # let tmp = tempfile::tempdir().unwrap();
/// # let path = tmp.path().join("split.parquet");
/// let batch = |metrics: Vec<&str>, ts: Vec<i64>| {
///     let columns: Vec<ArrayRef> = vec![
///         Arc::new(StringArray::from(metrics)),
///         Arc::new(Int64Array::from(ts)),
///     ];
///     RecordBatch::try_from_iter(["metric_name", "timestamp_secs"].into_iter().zip(columns))
///         .unwrap()
/// };
/// // `timestamp_secs` sorts descending (newest first) by default.
/// let config = SplitConfig::new("metric_name|timestamp_secs/V2".parse()?, 1);
/// let first = batch(vec!["cpu", "cpu", "mem"], vec![20, 10, 30]);
/// let mut writer = SortedSplitWriter::try_new(&path, first.schema(), config)?;
/// writer.write(&first)?;
/// writer.write(&batch(vec!["mem", "net"], vec![20, 5]))?;
/// // A batch that goes back in the order is rejected (SS-1).
/// let err = writer.write(&batch(vec!["cpu"], vec![1])).unwrap_err();
/// assert!(matches!(err, Error::Unsorted { .. }));
/// let summary = writer.finish()?;
/// assert_eq!((summary.rows, summary.row_groups), (5, 3)); // one row group per metric
/// assert!(check_alignment(&InputFile::open(&path)?).ok());
/// # Ok(())
/// # }
/// ```
pub struct SortedSplitWriter {
    path: PathBuf,
    temp_path: PathBuf,
    writer: Option<ArrowWriter<File>>,
    schema: SchemaRef,
    config: SplitConfig,
    sort: RowConverter,
    sort_fields: Vec<usize>,
    prefix: RowConverter,
    prefix_fields: Vec<usize>,
    /// SS-1 across the batches written.
    sorted: SortedCheck,
    last_prefix: Option<OwnedRow>,
    rows: u64,
    /// Set once the file has its final name (the temporary name is then gone).
    published: bool,
}

/// `.NAME.ULID.inprogress` next to `path`: unique, so two writers never share a
/// temporary file.
fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.inprogress", ulid::Ulid::new()))
}

impl SortedSplitWriter {
    /// Create a writer for `path` with batches of `schema`.
    pub fn try_new(path: impl AsRef<Path>, schema: SchemaRef, config: SplitConfig) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let n_sort = config.sort_schema.columns.len();
        if config.prefix_len > n_sort {
            return Err(Error::InvalidArgument(format!(
                "prefix length {} exceeds the {n_sort} sort columns",
                config.prefix_len
            )));
        }
        if config.max_row_group_rows == Some(0) {
            return Err(Error::InvalidArgument(
                "max_row_group_rows must be > 0".into(),
            ));
        }
        let (sort, sort_fields) =
            sort_converter(&config.sort_schema, &schema, usize::MAX, Some(&path))?;
        let (prefix, prefix_fields) =
            sort_converter(&config.sort_schema, &schema, config.prefix_len, Some(&path))?;
        let parquet_schema = ArrowSchemaConverter::new()
            .convert(&schema)
            .map_err(|e| Error::parquet(&path, e))?;
        let mut kv = config
            .properties
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
        kv.retain(|e| !e.key.starts_with("qh."));
        kv.extend(config.contract().key_values());
        let row_limit = if config.prefix_len == 0 {
            config.max_row_group_rows
        } else {
            None
        };
        let props = config
            .properties
            .clone()
            .into_builder()
            .set_sorting_columns(Some(to_sorting_columns(
                &config.sort_schema,
                &parquet_schema,
            )))
            .set_key_value_metadata(Some(kv))
            .set_max_row_group_row_count(row_limit)
            .set_max_row_group_bytes(None)
            .build();
        check_free(&path)?;
        let temp_path = temp_path_for(&path);
        let file = create_new(&temp_path)?;
        let writer = match ArrowWriter::try_new(file, schema.clone(), Some(props)) {
            Ok(w) => w,
            Err(e) => {
                let _ = remove_if_exists(&temp_path);
                return Err(Error::parquet(&path, e));
            }
        };
        Ok(SortedSplitWriter {
            path,
            temp_path,
            writer: Some(writer),
            schema,
            config,
            sort,
            sort_fields,
            prefix,
            prefix_fields,
            sorted: SortedCheck::new(),
            last_prefix: None,
            rows: 0,
            published: false,
        })
    }

    fn convert(
        &self,
        converter: &RowConverter,
        fields: &[usize],
        batch: &RecordBatch,
    ) -> Result<Rows> {
        let cols: Vec<_> = fields.iter().map(|&i| batch.column(i).clone()).collect();
        converter
            .convert_columns(&cols)
            .map_err(|e| Error::arrow(&self.path, e))
    }

    /// Append a batch whose rows continue the sort order.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema().fields() != self.schema.fields() {
            return Err(Error::InvalidData(format!(
                "batch columns ({}) differ from the split's columns ({})",
                crate::schema::describe_fields(batch.schema().fields()),
                crate::schema::describe_fields(self.schema.fields())
            )));
        }
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        if !self.sort_fields.is_empty() {
            let rows = self.convert(&self.sort, &self.sort_fields, batch)?;
            let sort = &self.config.sort_schema;
            let done = self.rows;
            let locate = |row: usize| format!("row {}", done + row as u64);
            self.sorted
                .require(&rows, batch, sort, &self.path, locate)?;
        }
        let mut boundaries = Vec::new();
        if !self.prefix_fields.is_empty() {
            let rows = self.convert(&self.prefix, &self.prefix_fields, batch)?;
            if matches!(&self.last_prefix, Some(last) if rows.row(0) != last.row()) {
                boundaries.push(0);
            }
            boundaries.extend((1..n).filter(|&i| rows.row(i) != rows.row(i - 1)));
            self.last_prefix = Some(rows.row(n - 1).owned());
        }
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| Error::Internal("split writer used after finish".into()))?;
        let mut start = 0;
        for b in boundaries.into_iter().chain(std::iter::once(n)) {
            if b > start {
                writer
                    .write(&batch.slice(start, b - start))
                    .map_err(|e| Error::parquet(&self.path, e))?;
            }
            if b < n {
                writer.flush().map_err(|e| Error::parquet(&self.path, e))?;
            }
            start = b;
        }
        self.rows += n as u64;
        Ok(())
    }

    /// Close the file, fsync it and publish it under its final path without
    /// replacing a file ([`Error::OutputExists`] if the name was taken meanwhile;
    /// the temporary file is then removed).
    pub fn finish(mut self) -> Result<SplitSummary> {
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| Error::Internal("split writer finished twice".into()))?;
        let metadata = writer.finish().map_err(|e| Error::parquet(&self.path, e))?;
        writer
            .inner()
            .sync_all()
            .map_err(|e| Error::io(&self.temp_path, e))?;
        drop(writer);
        publish_no_replace(&self.temp_path, &self.path)?;
        self.published = true;
        Ok(SplitSummary {
            path: self.path.clone(),
            rows: self.rows,
            row_groups: metadata.num_row_groups(),
        })
    }
}

impl Drop for SortedSplitWriter {
    /// Unless published, remove the temporary file.
    fn drop(&mut self) {
        drop(self.writer.take());
        if !self.published {
            let _ = remove_if_exists(&self.temp_path);
        }
    }
}
