//! Opening an input file: the footer is parsed once and everything the plan needs
//! (sort schema, P, window, per-row-group rows, bytes and prefix keys) is derived
//! from it.

mod column;
mod file_contract;
mod fingerprint;
mod footer_check;
mod guard;
mod identity;
mod legacy;
mod prefix;
mod region_bytes;

pub use column::read_row_group_columns;
pub use file_contract::{
    describe_window, FileContract, SchemaSource, Window, KEY_NUM_MERGE_OPS, KEY_PREFIX_LEN,
    KEY_SORT_FIELDS, KEY_WINDOW_DURATION, KEY_WINDOW_START,
};
pub use guard::{catch_decoder_panic, in_guarded_decode, Guarded};
pub use identity::{same_file, FileIdentity};
pub use legacy::{scan_virtual_regions, VirtualRegion};
pub use prefix::{KeySource, MixedPrefix, RowGroupPrefix};
pub use region_bytes::{RegionBytes, COALESCE_LIMIT};

use crate::key::{KeyValue, ValueKind};
use crate::schema::{resolve, Direction, ResolvedColumn, SortSchema};
use crate::{Error, Result};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::metadata::{PageIndexPolicy, ParquetStatisticsPolicy};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Per-row-group facts from the footer (plus the prefix key when P > 0).
#[derive(Debug, Clone)]
pub struct RowGroupInfo {
    /// Index of the row group in the file.
    pub index: usize,
    pub rows: u64,
    /// Compressed bytes of the row group's column chunks.
    pub bytes: u64,
    /// The row group's prefix key; `None` when the file claims P = 0.
    pub prefix: Option<RowGroupPrefix>,
}

/// An opened input file with its footer parsed once.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
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
    pub row_groups: Vec<RowGroupInfo>,
    /// Size of the file in bytes when it was opened.
    pub file_bytes: u64,
    /// Fingerprint of the footer read at open (see [`fingerprint`]).
    pub footer_fingerprint: String,
}

/// Parse the footer of `file` (no page index, no page encoding or size statistics;
/// column-chunk statistics as `column_stats` says), guarding against decoder panics.
fn load_footer(
    path: &Path,
    file: &File,
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
        // The page index is not needed to plan or merge; skipping it keeps per-input
        // memory to the footer itself.
        // Page encoding and size statistics are never used either.
        let metadata = load_footer(&path, &file, ParquetStatisticsPolicy::KeepAll)?;
        let file_len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        footer_check::check_footer(&path, metadata.metadata(), file_len)?;
        let footer_fingerprint = fingerprint::footer_fingerprint(&path, &mut file, file_len)?;
        let contract = FileContract::from_metadata(&path, metadata.metadata(), explicit)?;
        let sort_columns = resolve(&contract.sort_schema, metadata.schema(), &path)?;
        let mut input = InputFile {
            path,
            metadata,
            full_metadata: OnceLock::new(),
            contract,
            sort_columns,
            row_groups: Vec::new(),
            file_bytes: file_len,
            footer_fingerprint,
        };
        input.row_groups = prefix::row_group_infos(&input)?;
        // Prefix keys are known: keep the footer without column statistics. Parsed
        // again rather than edited, so that the full footer's memory is reused by
        // the next input's parse.
        let slim = load_footer(&input.path, &file, ParquetStatisticsPolicy::SkipAll)?;
        let full = std::mem::replace(&mut input.metadata, slim);
        drop(full);
        Ok(input)
    }

    /// The footer with every column chunk's statistics (what a verbatim copy
    /// carries into an output), parsed again on first use and kept.
    pub fn full_metadata(&self) -> Result<Arc<ParquetMetaData>> {
        if let Some(m) = self.full_metadata.get() {
            return Ok(m.clone());
        }
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let full = load_footer(&self.path, &file, ParquetStatisticsPolicy::KeepAll)?;
        let meta = full.metadata().clone();
        Ok(self.full_metadata.get_or_init(|| meta).clone())
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
