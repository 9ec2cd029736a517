//! The `qh.*` key-value contract of a file (docs/contract.md).

use crate::schema::{from_sorting_columns, parse, SortSchema};
use crate::{Error, Result};
use parquet::file::metadata::ParquetMetaData;
use serde::Serialize;
use std::path::Path;

/// Key holding the sort schema string.
pub const KEY_SORT_FIELDS: &str = "qh.sort_fields";
/// Key holding P, the row-group partition prefix length.
pub const KEY_PREFIX_LEN: &str = "qh.rg_partition_prefix_len";
/// Key holding the window start (seconds).
pub const KEY_WINDOW_START: &str = "qh.window_start";
/// Key holding the window duration in seconds.
pub const KEY_WINDOW_DURATION: &str = "qh.window_duration_secs";
/// Key holding how many merges produced this file.
pub const KEY_NUM_MERGE_OPS: &str = "qh.num_merge_ops";

/// Where a file's sort schema came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SchemaSource {
    /// The `qh.sort_fields` key-value entry.
    SortFields,
    /// Parquet's standard `sorting_columns` in row-group metadata.
    SortingColumns,
    /// Passed explicitly by the caller.
    Explicit,
}

impl std::fmt::Display for SchemaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SchemaSource::SortFields => KEY_SORT_FIELDS,
            SchemaSource::SortingColumns => "sorting_columns",
            SchemaSource::Explicit => "explicit",
        })
    }
}

/// Time window a split covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// `qh.window_start`: start of the window (Unix seconds).
    pub start: i64,
    /// `qh.window_duration_secs`: its length in seconds.
    pub duration_secs: u64,
}

impl std::fmt::Display for Window {
    /// `start=1700000100 duration=900s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "start={} duration={}s", self.start, self.duration_secs)
    }
}

/// `start=... duration=...s`, or `none` for a file without a window.
pub fn describe_window(window: Option<Window>) -> String {
    window.map_or_else(|| "none".to_string(), |w| w.to_string())
}

/// What a file claims about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileContract {
    /// The sort schema the rows are sorted by.
    pub sort_schema: SortSchema,
    /// Where the sort schema came from.
    pub schema_source: SchemaSource,
    /// Claimed prefix length P (0 = no claim).
    pub prefix_len: usize,
    /// The time window, when the file has both window keys.
    pub window: Option<Window>,
    /// `qh.num_merge_ops`: how many merges produced the file (0 when absent).
    pub num_merge_ops: u64,
}

impl FileContract {
    /// Read the contract from a parsed footer.
    pub fn from_metadata(
        path: &Path,
        metadata: &ParquetMetaData,
        explicit: Option<&SortSchema>,
    ) -> Result<Self> {
        let keys = Keys {
            path,
            kv: metadata.file_metadata().key_value_metadata(),
        };
        let (sort_schema, schema_source) = keys.sort_schema(metadata, explicit)?;
        Ok(FileContract {
            prefix_len: keys.prefix_len(&sort_schema)?,
            window: keys.window()?,
            num_merge_ops: keys.number(KEY_NUM_MERGE_OPS)?.unwrap_or(0),
            sort_schema,
            schema_source,
        })
    }

    /// The `qh.*` entries that state this contract, for writing into a file.
    pub fn key_values(&self) -> Vec<parquet::file::metadata::KeyValue> {
        use parquet::file::metadata::KeyValue as Kv;
        let mut out = vec![
            Kv::new(KEY_SORT_FIELDS.into(), self.sort_schema.to_string()),
            Kv::new(KEY_PREFIX_LEN.into(), self.prefix_len.to_string()),
            Kv::new(KEY_NUM_MERGE_OPS.into(), self.num_merge_ops.to_string()),
        ];
        if let Some(w) = self.window {
            out.push(Kv::new(KEY_WINDOW_START.into(), w.start.to_string()));
            out.push(Kv::new(
                KEY_WINDOW_DURATION.into(),
                w.duration_secs.to_string(),
            ));
        }
        out
    }
}

/// A file's key-value metadata, read key by key; errors name the file and key.
struct Keys<'a> {
    path: &'a Path,
    kv: Option<&'a Vec<parquet::file::metadata::KeyValue>>,
}

impl Keys<'_> {
    /// The value of `key`, if the file has it.
    fn get(&self, key: &str) -> Option<&str> {
        self.kv
            .and_then(|kv| kv.iter().find(|e| e.key == key))
            .and_then(|e| e.value.as_deref())
    }

    /// [`Error::BadMetadata`] for `key` = `value`.
    fn bad(&self, key: &str, value: &str, reason: String) -> Error {
        Error::BadMetadata {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            value: value.to_string(),
            reason,
        }
    }

    /// `key` as a non-negative integer, if present.
    fn number(&self, key: &str) -> Result<Option<u64>> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|e| self.bad(key, v, format!("not a non-negative integer: {e}")))
            })
            .transpose()
    }

    /// The sort schema: the caller's, else `qh.sort_fields`, else Parquet's
    /// `sorting_columns` of the first row group.
    fn sort_schema(
        &self,
        metadata: &ParquetMetaData,
        explicit: Option<&SortSchema>,
    ) -> Result<(SortSchema, SchemaSource)> {
        if let Some(s) = explicit {
            return Ok((s.clone(), SchemaSource::Explicit));
        }
        if let Some(text) = self.get(KEY_SORT_FIELDS) {
            let schema = parse(text).map_err(|e| self.bad(KEY_SORT_FIELDS, text, e.to_string()))?;
            return Ok((schema, SchemaSource::SortFields));
        }
        let sorting = metadata
            .row_groups()
            .first()
            .and_then(|rg| rg.sorting_columns())
            .ok_or_else(|| Error::SortSchemaMissing {
                path: self.path.to_path_buf(),
            })?;
        let schema =
            from_sorting_columns(sorting, metadata.file_metadata().schema_descr(), self.path)?;
        Ok((schema, SchemaSource::SortingColumns))
    }

    /// P (`qh.rg_partition_prefix_len`, 0 when absent), at most the sort columns.
    fn prefix_len(&self, sort: &SortSchema) -> Result<usize> {
        let prefix_len = self.number(KEY_PREFIX_LEN)?.unwrap_or(0);
        usize::try_from(prefix_len)
            .ok()
            .filter(|&p| p <= sort.columns.len())
            .ok_or_else(|| {
                self.bad(
                    KEY_PREFIX_LEN,
                    &prefix_len.to_string(),
                    format!("exceeds the {} sort columns", sort.columns.len()),
                )
            })
    }

    /// The time window: both `qh.window_start` and `qh.window_duration_secs`, or
    /// neither.
    fn window(&self) -> Result<Option<Window>> {
        match (
            self.get(KEY_WINDOW_START),
            self.number(KEY_WINDOW_DURATION)?,
        ) {
            (Some(start), Some(duration_secs)) => {
                let start = start.trim().parse::<i64>().map_err(|e| {
                    self.bad(KEY_WINDOW_START, start, format!("not an integer: {e}"))
                })?;
                Ok(Some(Window {
                    start,
                    duration_secs,
                }))
            }
            (None, None) => Ok(None),
            (Some(v), None) => Err(self.bad(
                KEY_WINDOW_START,
                v,
                format!("{KEY_WINDOW_DURATION} missing"),
            )),
            (None, Some(d)) => Err(self.bad(
                KEY_WINDOW_DURATION,
                &d.to_string(),
                format!("{KEY_WINDOW_START} missing"),
            )),
        }
    }
}
