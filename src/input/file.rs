//! An opened input file ([`InputFile`]): local or remote, its footer parsed once,
//! with the per-row-group facts the plan needs.

use super::file_contract::FileContract;
use super::fingerprint;
use super::footer_check;
use super::guard::catch_decoder_panic;
use super::prefix::{self, RowGroupPrefix};
use super::region_bytes::{fetch_blocks, row_groups_range, ChunkSource, RegionBytes};
use crate::key::{KeyValue, ValueKind};
use crate::page::{LevelsCache, SharedFile};
use crate::schema::{resolve, Direction, ResolvedColumn, SortSchema};
use crate::storage::{Location, RemoteObject, RemoteReader};
use crate::{Error, Result};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::metadata::{PageIndexPolicy, ParquetStatisticsPolicy};
use parquet::file::reader::ChunkReader;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Per-row-group facts from the footer (plus the prefix key when P > 0).
#[derive(Debug, Clone)]
pub struct RowGroupInfo {
    /// Index of the row group in the file.
    pub index: usize,
    /// Rows of the row group.
    pub rows: u64,
    /// Compressed bytes of the row group's column chunks.
    pub bytes: u64,
    /// The row group's prefix key; `None` when the file claims P = 0.
    pub prefix: Option<RowGroupPrefix>,
}

/// Where an input's bytes are read from.
#[derive(Debug, Clone)]
pub enum InputSource {
    /// The local file at `InputFile::path`, opened once for the whole run.
    Local(SharedFile),
    /// An object in a store, read through its prefetch window.
    Remote(Arc<RemoteReader>),
}

/// Footers are read from object storage with one GET of this many trailing bytes
/// (a second GET only if the footer is longer).
pub const FOOTER_GUESS: u64 = 64 << 10;

/// An opened input file with its footer parsed once.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The local path, or the URL of a remote input (what errors name).
    pub path: PathBuf,
    /// Where its bytes are read from.
    pub source: InputSource,
    /// Parsed footer and Arrow schema, shared by every reader built on this file.
    /// Column-chunk statistics are dropped once the row groups' prefix keys are
    /// known (they are most of a footer's memory); see [`full_metadata`](Self::full_metadata).
    pub metadata: ArrowReaderMetadata,
    /// The footer with statistics, loaded again on first use (verbatim copies).
    full_metadata: OnceLock<Arc<ParquetMetaData>>,
    /// The `qh.*` contract: sort schema, P, window, merge ops.
    pub contract: FileContract,
    /// Sort columns located in this file's schema.
    pub sort_columns: Vec<ResolvedColumn>,
    /// The row groups, in file order.
    pub row_groups: Vec<RowGroupInfo>,
    /// Size of the file in bytes when it was opened.
    pub file_bytes: u64,
    /// Fingerprint of the footer read at open (see `input::fingerprint`).
    pub footer_fingerprint: String,
    /// Decoding levels of the projections read so far (see [`column`]).
    levels: Arc<LevelsCache>,
}

/// The trailing bytes of a remote file holding its footer (`footer length + 8`
/// at least) and the file's size.
fn remote_footer(object: &RemoteObject) -> Result<(bytes::Bytes, u64)> {
    let path = PathBuf::from(object.url());
    let corrupt = |reason: String| {
        Error::parquet(
            &path,
            parquet::errors::ParquetError::General(format!("footer: {reason}")),
        )
    };
    let (tail, len) = object.get_tail(FOOTER_GUESS)?;
    if !tail.ends_with(footer_check::MAGIC) || len < 12 {
        // Not Parquet, or truncated: the first bytes tell which.
        let head = match u64::try_from(tail.len()) {
            Ok(n) if n == len => tail.clone(),
            _ => object.get_range(0..len.min(4))?,
        };
        footer_check::check_magic(&path, &head, &tail, len)?;
    }
    if tail.len() < 8 {
        return Err(corrupt(format!("file of {len} bytes is shorter than 8")));
    }
    let n = tail.len();
    let mut footer_len = [0u8; 4];
    footer_len.copy_from_slice(&tail[n - 8..n - 4]);
    let need = u64::from(u32::from_le_bytes(footer_len)) + 8;
    if need > len {
        return Err(corrupt(format!(
            "footer length {need} exceeds the file ({len} bytes)"
        )));
    }
    if need <= n as u64 {
        return Ok((tail.slice(n - need as usize..), len));
    }
    Ok((object.get_range(len - need..len)?, len))
}

/// An input whose footer is loaded, before the contract and row groups are derived.
struct Opened {
    path: PathBuf,
    source: InputSource,
    metadata: ArrowReaderMetadata,
    file_len: u64,
    footer_fingerprint: String,
}

impl Opened {
    /// Derive the contract, sort columns and row-group facts, then swap in the
    /// footer without statistics (`slim`).
    fn finish(
        self,
        explicit: Option<&SortSchema>,
        slim: impl FnOnce(&Path) -> Result<ArrowReaderMetadata>,
    ) -> Result<InputFile> {
        let contract = FileContract::from_metadata(&self.path, self.metadata.metadata(), explicit)?;
        let sort_columns = resolve(&contract.sort_schema, self.metadata.schema(), &self.path)?;
        let mut input = InputFile {
            path: self.path,
            source: self.source,
            metadata: self.metadata,
            full_metadata: OnceLock::new(),
            contract,
            sort_columns,
            row_groups: Vec::new(),
            file_bytes: self.file_len,
            footer_fingerprint: self.footer_fingerprint,
            levels: Arc::default(),
        };
        input.row_groups = prefix::row_group_infos(&input)?;
        // Prefix keys are known: keep the footer without column statistics. Parsed
        // again rather than edited, so that the full footer's memory is reused by
        // the next input's parse.
        let slim = slim(&input.path)?;
        let full = std::mem::replace(&mut input.metadata, slim);
        drop(full);
        Ok(input)
    }
}

/// Parse the footer of `file` (no page index, no page encoding or size statistics;
/// column-chunk statistics as `column_stats` says), guarding against decoder panics.
fn load_footer<R: ChunkReader>(
    path: &Path,
    file: &R,
    column_stats: ParquetStatisticsPolicy,
) -> Result<ArrowReaderMetadata> {
    let options = ArrowReaderOptions::new()
        .with_page_index_policy(PageIndexPolicy::Skip)
        .with_encoding_stats_as_mask(true)
        .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll)
        .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll)
        .with_column_stats_policy(column_stats);
    catch_decoder_panic(|| ArrowReaderMetadata::load(file, options))
        .map_err(|m| Error::parquet(path, parquet::errors::ParquetError::General(m)))?
        .map_err(|e| Error::parquet(path, e))
}

impl InputFile {
    /// Open `path`, reading the sort schema from the file (`qh.sort_fields`, else
    /// `sorting_columns`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_schema(path, None)
    }

    /// Open `path`; an explicit sort schema overrides whatever the file says.
    pub fn open_with_schema(path: impl AsRef<Path>, explicit: Option<&SortSchema>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        footer_check::local_magic(&path, &file)?;
        // The page index is not needed to plan or merge; skipping it keeps per-input
        // memory to the footer itself.
        // Page encoding and size statistics are never used either.
        let metadata = load_footer(&path, &file, ParquetStatisticsPolicy::KeepAll)?;
        let file_len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        footer_check::check_footer(&path, metadata.metadata(), file_len)?;
        let footer_fingerprint = fingerprint::footer_fingerprint(&path, &mut file, file_len)?;
        let file = SharedFile::new(file, file_len);
        let opened = Opened {
            path,
            source: InputSource::Local(file.clone()),
            metadata,
            file_len,
            footer_fingerprint,
        };
        opened.finish(explicit, |p| {
            load_footer(p, &file, ParquetStatisticsPolicy::SkipAll)
        })
    }

    /// Open the input at `location` (a local path or an object-store URL).
    pub fn open_location(location: &Location, explicit: Option<&SortSchema>) -> Result<Self> {
        match location {
            Location::Local(p) => Self::open_with_schema(p, explicit),
            Location::Remote(object) => Self::open_remote(object, explicit),
        }
    }

    /// Open a remote input: its footer with one ranged GET (two if it is longer
    /// than [`FOOTER_GUESS`]), the data later through a prefetch window.
    fn open_remote(object: &RemoteObject, explicit: Option<&SortSchema>) -> Result<Self> {
        let path = PathBuf::from(object.url());
        let (tail, file_len) = remote_footer(object)?;
        let footer = RegionBytes::new(file_len - tail.len() as u64, tail.clone(), file_len);
        let metadata = load_footer(&path, &footer, ParquetStatisticsPolicy::KeepAll)?;
        footer_check::check_footer(&path, metadata.metadata(), file_len)?;
        let blocks = fetch_blocks(metadata.metadata(), object.store.tuning.fetch_size);
        let opened = Opened {
            path,
            source: InputSource::Remote(Arc::new(RemoteReader::new(object.clone(), blocks))),
            metadata,
            file_len,
            footer_fingerprint: fingerprint::fingerprint_of(&tail),
        };
        opened.finish(explicit, |p| {
            load_footer(p, &footer, ParquetStatisticsPolicy::SkipAll)
        })
    }

    /// The footer with every column chunk's statistics (what a verbatim copy
    /// carries into an output), parsed again on first use and kept.
    pub fn full_metadata(&self) -> Result<Arc<ParquetMetaData>> {
        if let Some(m) = self.full_metadata.get() {
            return Ok(m.clone());
        }
        let full = match &self.source {
            InputSource::Local(file) => {
                load_footer(&self.path, file, ParquetStatisticsPolicy::KeepAll)?
            }
            InputSource::Remote(reader) => {
                let (tail, len) = remote_footer(reader.object())?;
                let footer = RegionBytes::new(len - tail.len() as u64, tail, len);
                load_footer(&self.path, &footer, ParquetStatisticsPolicy::KeepAll)?
            }
        };
        let meta = full.metadata().clone();
        Ok(self.full_metadata.get_or_init(|| meta).clone())
    }

    /// Where a reader of whole row groups `row_groups` gets its bytes: for a
    /// local file, memory when they are small (one read) and the file otherwise
    /// (page by page, positional reads on the handle opened once); for a remote
    /// input, memory through its prefetch window.
    pub fn chunk_source(&self, row_groups: &[usize]) -> Result<ChunkSource> {
        match &self.source {
            InputSource::Local(file) => Ok(match RegionBytes::read(self, file, row_groups)? {
                Some(bytes) => ChunkSource::Memory(bytes),
                None => ChunkSource::File(file.clone()),
            }),
            InputSource::Remote(reader) => {
                let range = row_groups_range(self, row_groups).unwrap_or(0..0);
                let start = range.start;
                let data = reader.read(range)?;
                Ok(ChunkSource::Memory(RegionBytes::new(
                    start,
                    data,
                    self.file_bytes,
                )))
            }
        }
    }

    /// Where a verbatim copy of row group `row_group` reads it: the local file,
    /// or the bytes fetched for the remote input.
    pub fn copy_source(&self, row_group: usize) -> Result<ChunkSource> {
        match &self.source {
            InputSource::Local(file) => Ok(ChunkSource::File(file.clone())),
            InputSource::Remote(_) => self.chunk_source(&[row_group]),
        }
    }

    /// Decoding levels of the top-level fields `roots` (`None`: all), computed
    /// once per input and projection.
    pub fn levels(&self, roots: Option<&[usize]>) -> Result<Arc<parquet::arrow::FieldLevels>> {
        let schema = self.metadata.metadata().file_metadata().schema_descr();
        self.levels
            .get(schema, self.metadata.schema().fields(), roots)
            .map_err(|e| Error::parquet(&self.path, e))
    }

    /// Whether the input is read from object storage.
    pub fn is_remote(&self) -> bool {
        matches!(self.source, InputSource::Remote(_))
    }

    /// Claimed prefix length P.
    pub fn prefix_len(&self) -> usize {
        self.contract.prefix_len
    }

    /// The sort schema in force for this file.
    pub fn sort_schema(&self) -> &SortSchema {
        &self.contract.sort_schema
    }

    /// Total rows in the file.
    pub fn num_rows(&self) -> u64 {
        self.row_groups.iter().map(|r| r.rows).sum()
    }

    /// Encoding kinds and directions of the first `n` sort columns, for decoding keys.
    pub fn key_columns(&self, n: usize) -> Vec<(ValueKind, Direction)> {
        self.sort_columns
            .iter()
            .take(n)
            .map(|c| {
                let kind = c
                    .data_type
                    .as_ref()
                    .and_then(ValueKind::of)
                    .unwrap_or(ValueKind::Null);
                (kind, c.direction)
            })
            .collect()
    }

    /// Decoded values of a prefix key of this file.
    pub fn decode_prefix(&self, key: &[u8]) -> Option<Vec<KeyValue>> {
        crate::key::decode_key(key, &self.key_columns(self.prefix_len()))
    }
}
