//! Writer options of merge outputs (compression, data page size, row-group rows, bloom filters) as one validated type.

use crate::{Error, Result};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterPropertiesBuilder;
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

/// Lowest accepted zstd level (fastest).
pub const MIN_ZSTD_LEVEL: i32 = 1;
/// Highest accepted zstd level (smallest output).
pub const MAX_ZSTD_LEVEL: i32 = 22;
/// zstd level of the default compression.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Default compression of every column chunk: `zstd(3)`.
pub const DEFAULT_COMPRESSION: CompressionSpec = CompressionSpec::Zstd(DEFAULT_ZSTD_LEVEL);
/// Default data page size limit in bytes (parquet-rs' default, 1 MiB).
pub const DEFAULT_DATA_PAGE_SIZE: usize = parquet::file::properties::DEFAULT_PAGE_SIZE;
/// Default cap on the rows of a row group: none (see
/// [`WriterOptions::with_max_row_group_rows`]).
pub const DEFAULT_MAX_ROW_GROUP_ROWS: Option<usize> = None;

/// The keys [`WriterOptions::set`] accepts, in the order of [`WriterOptions::entries`].
pub const WRITER_OPTION_KEYS: [&str; 4] = [
    "compression",
    "data_page_size",
    "max_row_group_rows",
    "bloom_filter",
];

/// The codec of every column chunk an output writes. Text form (`FromStr`,
/// `Display`, serde): `zstd(N)` with N in 1..=22 (`zstd` alone means `zstd(3)`),
/// `lz4` (Parquet's LZ4_RAW), `snappy`, `none`; case-insensitive.
///
/// A `Zstd` level outside [`MIN_ZSTD_LEVEL`]..=[`MAX_ZSTD_LEVEL`] cannot come from
/// the text form or [`CompressionSpec::zstd`]; built by hand, it is rejected by
/// [`CompressionSpec::check`], which a merge runs before any work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CompressionSpec {
    /// Zstandard at this level.
    Zstd(i32),
    /// LZ4 without framing (Parquet's `LZ4_RAW`).
    Lz4,
    /// Snappy.
    Snappy,
    /// Uncompressed pages.
    None,
}

const COMPRESSION_ALLOWED: &str = "zstd(1)..zstd(22), lz4, snappy or none";

impl CompressionSpec {
    /// Zstandard at `level`, checked against [`MIN_ZSTD_LEVEL`]..=[`MAX_ZSTD_LEVEL`].
    pub fn zstd(level: i32) -> Result<Self> {
        let spec = CompressionSpec::Zstd(level);
        spec.check()?;
        Ok(spec)
    }

    /// Fail on a zstd level out of range.
    pub fn check(&self) -> Result<()> {
        match *self {
            CompressionSpec::Zstd(level) if !(MIN_ZSTD_LEVEL..=MAX_ZSTD_LEVEL).contains(&level) => {
                Err(Error::InvalidArgument(format!(
                    "compression '{self}': zstd level {level} is outside {MIN_ZSTD_LEVEL}..={MAX_ZSTD_LEVEL}; use {COMPRESSION_ALLOWED}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The parquet-rs codec (the level checked).
    pub fn to_parquet(&self) -> Result<Compression> {
        self.check()?;
        Ok(match *self {
            CompressionSpec::Zstd(level) => Compression::ZSTD(
                ZstdLevel::try_new(level)
                    .map_err(|e| Error::InvalidArgument(format!("compression '{self}': {e}")))?,
            ),
            CompressionSpec::Lz4 => Compression::LZ4_RAW,
            CompressionSpec::Snappy => Compression::SNAPPY,
            CompressionSpec::None => Compression::UNCOMPRESSED,
        })
    }

    /// Whether a column chunk written with `codec` has this codec (levels are not
    /// recorded in Parquet files, so any zstd chunk matches `zstd(N)`).
    pub fn matches(&self, codec: Compression) -> bool {
        matches!(
            (self, codec),
            (CompressionSpec::Zstd(_), Compression::ZSTD(_))
                | (CompressionSpec::Lz4, Compression::LZ4_RAW)
                | (CompressionSpec::Snappy, Compression::SNAPPY)
                | (CompressionSpec::None, Compression::UNCOMPRESSED)
        )
    }
}

impl Default for CompressionSpec {
    fn default() -> Self {
        DEFAULT_COMPRESSION
    }
}

impl fmt::Display for CompressionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressionSpec::Zstd(level) => write!(f, "zstd({level})"),
            CompressionSpec::Lz4 => f.write_str("lz4"),
            CompressionSpec::Snappy => f.write_str("snappy"),
            CompressionSpec::None => f.write_str("none"),
        }
    }
}

impl FromStr for CompressionSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim().to_ascii_lowercase();
        let bad = |why: &str| {
            Error::InvalidArgument(format!(
                "compression '{s}': {why}; use {COMPRESSION_ALLOWED}"
            ))
        };
        match text.as_str() {
            "zstd" => return Ok(DEFAULT_COMPRESSION),
            "lz4" | "lz4_raw" => return Ok(CompressionSpec::Lz4),
            "snappy" => return Ok(CompressionSpec::Snappy),
            "none" | "uncompressed" => return Ok(CompressionSpec::None),
            _ => {}
        }
        let Some(level) = text
            .strip_prefix("zstd(")
            .and_then(|rest| rest.strip_suffix(')'))
        else {
            return Err(bad("unknown codec"));
        };
        let level: i32 = level
            .trim()
            .parse()
            .map_err(|_| bad("the zstd level is not a whole number"))?;
        if !(MIN_ZSTD_LEVEL..=MAX_ZSTD_LEVEL).contains(&level) {
            return Err(bad(&format!(
                "zstd level {level} is outside {MIN_ZSTD_LEVEL}..={MAX_ZSTD_LEVEL}"
            )));
        }
        Ok(CompressionSpec::Zstd(level))
    }
}

impl TryFrom<String> for CompressionSpec {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<CompressionSpec> for String {
    fn from(c: CompressionSpec) -> String {
        c.to_string()
    }
}

/// How a merge writes its outputs: compression, data page size, a cap on the
/// rows of a row group, and bloom filters. One validated type for the library
/// ([`crate::MergeBuilder::writer_options`]), `merge`'s flags and table settings:
/// set fields with the `with_*` methods, or by key and text with
/// [`set`](Self::set); list them with [`entries`](Self::entries). Serde forms are
/// readable (`{"compression": "zstd(3)", "data_page_size": 1048576,
/// "max_row_group_rows": null, "bloom_filter": ["host"]}`) and validated when read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawWriterOptions", into = "RawWriterOptions")]
pub struct WriterOptions {
    compression: CompressionSpec,
    data_page_size: NonZeroUsize,
    max_row_group_rows: Option<NonZeroUsize>,
    bloom_filter: Vec<String>,
}

/// The serde form of [`WriterOptions`], validated into it.
#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawWriterOptions {
    compression: CompressionSpec,
    data_page_size: usize,
    max_row_group_rows: Option<usize>,
    bloom_filter: Vec<String>,
}

impl Default for RawWriterOptions {
    fn default() -> Self {
        WriterOptions::default().into()
    }
}

impl From<WriterOptions> for RawWriterOptions {
    fn from(o: WriterOptions) -> Self {
        RawWriterOptions {
            compression: o.compression,
            data_page_size: o.data_page_size.get(),
            max_row_group_rows: o.max_row_group_rows.map(NonZeroUsize::get),
            bloom_filter: o.bloom_filter,
        }
    }
}

impl TryFrom<RawWriterOptions> for WriterOptions {
    type Error = Error;

    fn try_from(raw: RawWriterOptions) -> Result<Self> {
        raw.compression.check()?;
        let data_page_size = NonZeroUsize::new(raw.data_page_size)
            .ok_or_else(|| positive("data_page_size", &raw.data_page_size.to_string()))?;
        let max_row_group_rows = match raw.max_row_group_rows {
            Some(n) => {
                Some(NonZeroUsize::new(n).ok_or_else(|| positive("max_row_group_rows", "0"))?)
            }
            None => None,
        };
        if raw.bloom_filter.iter().any(|c| c.trim().is_empty()) {
            return Err(Error::InvalidArgument(
                "bloom_filter: empty column name; give column names".into(),
            ));
        }
        let options = WriterOptions {
            compression: raw.compression,
            data_page_size,
            max_row_group_rows,
            bloom_filter: Vec::new(),
        };
        Ok(options.with_bloom_filter_columns(raw.bloom_filter))
    }
}

fn positive(label: &str, value: &str) -> Error {
    Error::InvalidArgument(format!("{label} '{value}': must be a whole number > 0"))
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compression: DEFAULT_COMPRESSION,
            data_page_size: NonZeroUsize::new(DEFAULT_DATA_PAGE_SIZE).unwrap_or(NonZeroUsize::MIN),
            max_row_group_rows: DEFAULT_MAX_ROW_GROUP_ROWS.and_then(NonZeroUsize::new),
            bloom_filter: Vec::new(),
        }
    }
}

impl WriterOptions {
    /// The defaults: what a merge writes without options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Codec of every column chunk the merge encodes (default
    /// [`DEFAULT_COMPRESSION`], `zstd(3)`), the dictionary-transcoded string
    /// columns included.
    pub fn with_compression(mut self, compression: CompressionSpec) -> Self {
        self.compression = compression;
        self
    }

    /// Close a data page once its encoded values reach about this many bytes
    /// (default [`DEFAULT_DATA_PAGE_SIZE`]; parquet-rs checks every 1024 values,
    /// so a page may pass the limit by that many values).
    pub fn with_data_page_size(mut self, bytes: NonZeroUsize) -> Self {
        self.data_page_size = bytes;
        self
    }

    /// Cap on the rows of an output row group (default none). Row groups end at
    /// series boundaries, so a row group closes at the first series start at or
    /// after this many rows (a single longer series stays whole). For P = 0
    /// outputs this caps the row groups the merge cuts; for aligned outputs
    /// (P > 0, one row group per prefix value, PA-3), a prefix value with more rows
    /// does not get a second row group in the same file: the output file ends
    /// there and the prefix value continues in the next output, so a run may
    /// write more outputs than it was asked for.
    pub fn with_max_row_group_rows(mut self, rows: Option<NonZeroUsize>) -> Self {
        self.max_row_group_rows = rows;
        self
    }

    /// Write a bloom filter for each of these columns (leaf column paths, `a.b`
    /// for nested ones; none by default). Columns with a bloom filter in any
    /// input keep theirs whatever this list says. A name that is in no input
    /// fails the merge before any work.
    pub fn with_bloom_filter_columns<S: Into<String>>(
        mut self,
        columns: impl IntoIterator<Item = S>,
    ) -> Self {
        self.bloom_filter.clear();
        for c in columns {
            let c = c.into();
            if !self.bloom_filter.contains(&c) {
                self.bloom_filter.push(c);
            }
        }
        self
    }

    /// The compression.
    pub fn compression(&self) -> CompressionSpec {
        self.compression
    }

    /// The data page size limit in bytes.
    pub fn data_page_size(&self) -> usize {
        self.data_page_size.get()
    }

    /// The cap on the rows of a row group, if any.
    pub fn max_row_group_rows(&self) -> Option<usize> {
        self.max_row_group_rows.map(NonZeroUsize::get)
    }

    /// The columns that get a bloom filter besides the inputs' own.
    pub fn bloom_filter_columns(&self) -> &[String] {
        &self.bloom_filter
    }

    /// Set one option from text, as `table settings --set KEY=VALUE` does:
    /// `compression` (`zstd(N)`, `lz4`, `snappy`, `none`), `data_page_size`
    /// (bytes, or a size such as `64KiB`, `1MiB`), `max_row_group_rows` (a
    /// number, or `none`), `bloom_filter` (comma-separated columns; empty
    /// clears). A bad value leaves the options unchanged.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        self.set_labeled(key, value, key)
    }

    /// As [`set`](Self::set), naming the option `label` in errors (for instance
    /// the command-line flag `--compression`).
    pub fn set_labeled(&mut self, key: &str, value: &str, label: &str) -> Result<()> {
        let relabel = |e: Error| match e {
            Error::InvalidArgument(m) => Error::InvalidArgument(match m.split_once(" '") {
                Some((_, rest)) => format!("{label} '{rest}"),
                None => m,
            }),
            other => other,
        };
        match key {
            "compression" => {
                self.compression = value.parse().map_err(relabel)?;
            }
            "data_page_size" => {
                let bytes = crate::storage::parse_size(value)
                    .ok()
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(NonZeroUsize::new)
                    .ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "{label} '{value}': must be a size > 0 in bytes, such as 65536, 64KiB or 1MiB"
                        ))
                    })?;
                self.data_page_size = bytes;
            }
            "max_row_group_rows" => {
                let text = value.trim();
                self.max_row_group_rows = if text.eq_ignore_ascii_case("none") || text.is_empty() {
                    None
                } else {
                    Some(
                        text.parse::<NonZeroUsize>()
                            .map_err(|_| positive(label, value))?,
                    )
                };
            }
            "bloom_filter" => self.set_bloom_filter(value, label)?,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown writer option '{key}'; the options are {}",
                    WRITER_OPTION_KEYS.join(", ")
                )))
            }
        }
        Ok(())
    }

    fn set_bloom_filter(&mut self, value: &str, label: &str) -> Result<()> {
        if value.trim().is_empty() {
            self.bloom_filter.clear();
            return Ok(());
        }
        let columns: Vec<&str> = value.split(',').map(str::trim).collect();
        if columns.iter().any(|c| c.is_empty()) {
            return Err(Error::InvalidArgument(format!(
                "{label} '{value}': empty column name; give column names separated by commas"
            )));
        }
        *self = std::mem::take(self).with_bloom_filter_columns(columns);
        Ok(())
    }

    /// Every option as (key, text): the text [`set`](Self::set) accepts back.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("compression", self.compression.to_string()),
            ("data_page_size", self.data_page_size.to_string()),
            (
                "max_row_group_rows",
                self.max_row_group_rows
                    .map_or_else(|| "none".to_string(), |n| n.to_string()),
            ),
            ("bloom_filter", self.bloom_filter.join(",")),
        ]
    }

    /// Check the options against the outputs' Parquet schema: the zstd level,
    /// and that every bloom-filter column is one of its leaf columns.
    pub fn check(&self, schema: &SchemaDescriptor) -> Result<()> {
        self.compression.check()?;
        for name in &self.bloom_filter {
            if self.leaf_path(schema, name).is_none() {
                let available: Vec<String> =
                    schema.columns().iter().map(|c| c.path().string()).collect();
                return Err(Error::UnknownColumn {
                    option: "bloom filter",
                    column: name.clone(),
                    available: available.join(", "),
                });
            }
        }
        Ok(())
    }

    fn leaf_path(&self, schema: &SchemaDescriptor, name: &str) -> Option<ColumnPath> {
        schema
            .columns()
            .iter()
            .map(|c| c.path())
            .find(|p| p.string() == name)
            .cloned()
    }

    /// Apply compression, data page size and bloom filters to `builder` (after
    /// [`check`](Self::check) against the same schema).
    pub fn apply(
        &self,
        builder: WriterPropertiesBuilder,
        schema: &SchemaDescriptor,
    ) -> Result<WriterPropertiesBuilder> {
        self.check(schema)?;
        let mut builder = builder
            .set_compression(self.compression.to_parquet()?)
            .set_data_page_size_limit(self.data_page_size.get());
        for name in &self.bloom_filter {
            if let Some(path) = self.leaf_path(schema, name) {
                builder = builder.set_column_bloom_filter_enabled(path, true);
            }
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_text_round_trips() {
        for text in ["zstd(1)", "zstd(3)", "zstd(22)", "lz4", "snappy", "none"] {
            let spec: CompressionSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!(
            "ZSTD".parse::<CompressionSpec>().unwrap(),
            DEFAULT_COMPRESSION
        );
        assert_eq!(
            "lz4_raw".parse::<CompressionSpec>().unwrap(),
            CompressionSpec::Lz4
        );
    }

    #[test]
    fn bad_compression_is_one_line_naming_the_value() {
        for text in ["zstd(99)", "zstd(0)", "zstd(x)", "brotli", "zstd(3"] {
            let e = text.parse::<CompressionSpec>().unwrap_err().to_string();
            assert!(e.contains(&format!("'{text}'")), "{e}");
            assert!(e.contains("lz4, snappy or none"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn set_and_entries_round_trip() {
        let mut o = WriterOptions::new();
        o.set("compression", "snappy").unwrap();
        o.set("data_page_size", "64KiB").unwrap();
        o.set("max_row_group_rows", "1000").unwrap();
        o.set("bloom_filter", "host, service").unwrap();
        assert_eq!(o.data_page_size(), 65536);
        assert_eq!(o.bloom_filter_columns(), ["host", "service"]);
        let mut back = WriterOptions::new();
        for (k, v) in o.entries() {
            back.set(k, &v).unwrap();
        }
        assert_eq!(back, o);
        o.set("bloom_filter", "").unwrap();
        o.set("max_row_group_rows", "none").unwrap();
        assert!(o.bloom_filter_columns().is_empty());
        assert_eq!(o.max_row_group_rows(), None);
    }

    #[test]
    fn bad_values_leave_options_unchanged() {
        let mut o = WriterOptions::new();
        let cases = [
            ("compression", "brotli"),
            ("data_page_size", "0"),
            ("data_page_size", "12XB"),
            ("max_row_group_rows", "0"),
            ("max_row_group_rows", "-5"),
            ("bloom_filter", "a,,b"),
            ("no_such_key", "1"),
        ];
        for (k, v) in cases {
            let e = o.set(k, v).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
            assert!(!e.to_string().contains('\n'));
            assert_eq!(o, WriterOptions::new(), "{k}={v}");
        }
        let e = o
            .set_labeled("compression", "zstd(99)", "--compression")
            .unwrap_err();
        assert!(e.to_string().contains("--compression 'zstd(99)'"), "{e}");
    }

    #[test]
    fn serde_is_readable_and_validated() {
        let o = WriterOptions::new()
            .with_compression(CompressionSpec::zstd(7).unwrap())
            .with_bloom_filter_columns(["host"]);
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains(r#""compression":"zstd(7)""#), "{json}");
        assert_eq!(serde_json::from_str::<WriterOptions>(&json).unwrap(), o);
        let partial: WriterOptions = serde_json::from_str(r#"{"compression":"lz4"}"#).unwrap();
        assert_eq!(partial.data_page_size(), DEFAULT_DATA_PAGE_SIZE);
        for bad in [
            r#"{"compression":"zstd(99)"}"#,
            r#"{"data_page_size":0}"#,
            r#"{"max_row_group_rows":0}"#,
            r#"{"colour":"red"}"#,
        ] {
            assert!(serde_json::from_str::<WriterOptions>(bad).is_err(), "{bad}");
        }
    }
}
