//! Typed errors. Every error that stems from an input names the file and,
//! where it applies, the row group, row and column.

use std::path::PathBuf;

/// Convenience alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in prefix-merge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused a file operation.
    #[error("{path}: {source}")]
    Io {
        /// The file, directory or URL concerned.
        path: PathBuf,
        #[source]
        /// The underlying error.
        source: std::io::Error,
    },
    /// parquet-rs could not read or write the file (not Parquet, truncated, corrupt).
    #[error("{path}: parquet: {source}")]
    Parquet {
        /// The file, directory or URL concerned.
        path: PathBuf,
        #[source]
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// The file does not start with Parquet's `PAR1` magic: not Parquet at all
    /// (a CSV, a JSON file, ...).
    #[error("{path}: not a Parquet file (no PAR1 magic)")]
    NotParquet {
        /// The file, directory or URL concerned.
        path: PathBuf,
    },
    /// The file starts like Parquet but does not end with `PAR1`: cut short or
    /// overwritten at its end, so its footer is lost.
    #[error("{path}: truncated or corrupt Parquet file ({len} bytes, no PAR1 magic at its end)")]
    Truncated {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// Length of the file in bytes.
        len: u64,
    },
    /// The footer describes impossible column chunks (corrupt or truncated file).
    #[error("{path}: corrupt footer: row group {row_group}, column {column}: {reason}")]
    CorruptFooter {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// Row group (0-based).
        row_group: usize,
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// An Arrow compute kernel failed on data from the file.
    #[error("{path}: arrow: {source}")]
    Arrow {
        /// The file, directory or URL concerned.
        path: PathBuf,
        #[source]
        /// The underlying error.
        source: arrow_schema::ArrowError,
    },
    /// A sort schema string does not follow the grammar.
    #[error(
        "sort schema '{input}': column {column} ('{column_name}') at byte {position}: {reason}"
    )]
    SortSchemaSyntax {
        /// The sort schema string as given.
        input: String,
        /// 1-based column number within the schema string.
        column: usize,
        /// The column's name.
        column_name: String,
        /// Byte offset of the offending column in the input.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file has neither `qh.sort_fields` nor Parquet `sorting_columns`, and the
    /// caller passed no explicit schema.
    #[error("{path}: no sort schema (no qh.sort_fields key, no sorting_columns) and none given")]
    SortSchemaMissing {
        /// The file, directory or URL concerned.
        path: PathBuf,
    },
    /// A sort column has a type that cannot be ordered by prefix keys.
    #[error("{path}: sort column '{column}' has type {data_type} which cannot be ordered")]
    UnorderableColumn {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// The column.
        column: String,
        /// The column's Arrow type.
        data_type: String,
    },
    /// A `qh.*` key-value entry is malformed.
    #[error("{path}: metadata key {key}='{value}': {reason}")]
    BadMetadata {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// Its value as found.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// Rows are not in sort-schema order (SS-1).
    #[error("{path}: SS-1: rows not sorted at {location}: {detail}")]
    Unsorted {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// Where: the row group and row, or the batch.
        location: String,
        /// What went wrong, in words.
        detail: String,
    },
    /// A file breaks its alignment claim (PA-1, PA-3 or MS-2).
    #[error("{path}: {rule}: {detail}")]
    Alignment {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// The invariant or rule broken (e.g. MC-1, PA-3).
        rule: &'static str,
        /// What went wrong, in words.
        detail: String,
    },
    /// Two inputs disagree on something they must share (sort schema, window, P).
    #[error("{path}: {what} {found} disagrees with {other_path}: {expected}")]
    InputMismatch {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// The other input concerned.
        other_path: PathBuf,
        /// What they disagree on (sort schema, window, P).
        what: &'static str,
        /// The value found in `path`.
        found: String,
        /// The value in `other_path`.
        expected: String,
    },
    /// A column has types across inputs that cannot be unified.
    #[error("column '{column}': type {found} in {path} conflicts with {expected} in {other_path}")]
    TypeConflict {
        /// The column.
        column: String,
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// The value found in `path`.
        found: String,
        /// The other input concerned.
        other_path: PathBuf,
        /// The value in `other_path`.
        expected: String,
    },
    /// The same file was given twice as an input (same path, or a hard link to it).
    #[error(
        "{path}: given twice as an input (same file as {other_path}); each input may appear once"
    )]
    DuplicateInput {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// The other input concerned.
        other_path: PathBuf,
    },
    /// A delete predicate is not in the grammar, or names a column it may not
    /// (unknown, or not a sort column).
    #[error("predicate '{input}' at byte {position}: {reason}")]
    Predicate {
        /// The predicate as given.
        input: String,
        /// Byte offset of the offending token.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// A sort column exists in no input, so it could not order anything (a typo?).
    #[error("sort column '{column}' is in no input; the inputs have columns: {available}")]
    UnknownSortColumn {
        /// The column.
        column: String,
        /// The columns the inputs have (comma-separated).
        available: String,
    },
    /// An output directory (or a table directory) exists as something else.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The file, directory or URL concerned.
        path: PathBuf,
    },
    /// A column a caller option names (e.g. a bloom-filter column) is in no input.
    #[error("{option} column '{column}' is in no input; the inputs have columns: {available}")]
    UnknownColumn {
        /// The option that names the column (e.g. bloom filter).
        option: &'static str,
        /// The column.
        column: String,
        /// The columns the inputs have (comma-separated).
        available: String,
    },
    /// A final name is taken: outputs and manifests never replace an existing file.
    #[error("{path}: already exists; outputs never replace an existing file")]
    OutputExists {
        /// The file, directory or URL concerned.
        path: PathBuf,
    },
    /// A run-time invariant (MC-1, MC-3, ...) failed: a bug or corrupt input.
    #[error("{rule} violated: {detail}")]
    Invariant {
        /// The invariant or rule broken (e.g. MC-1, PA-3).
        rule: &'static str,
        /// What went wrong, in words.
        detail: String,
    },
    /// The table catalog (a database file) failed or refused an operation.
    #[error("{path}: catalog: {detail}")]
    Catalog {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// What went wrong, in words.
        detail: String,
    },
    /// A job's commit was fenced: its lease expired or was taken over (its
    /// worker stalled past it), so nothing of it was committed; its outputs
    /// are orphans for gc.
    #[error("{path}: catalog: job {job} not committed (lease lost): {detail}")]
    LeaseLost {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// The job's id.
        job: String,
        /// What went wrong, in words.
        detail: String,
    },
    /// A commit refused to register content the table already holds (a race of
    /// two adds of the same file; `table add` reports it as already there).
    #[error("{path}: catalog: the same content is already in the table as {existing}")]
    DuplicateContent {
        /// The file, directory or URL concerned.
        path: PathBuf,
        /// The split that already holds this content.
        existing: String,
    },
    /// Object storage failed or refused an operation on `url` (after retries).
    #[error("{url}: {detail}")]
    Storage {
        /// The object's URL.
        url: String,
        /// What went wrong, in words.
        detail: String,
    },
    /// A document could not be written as JSON or read back from it (`what`
    /// names it: the manifest, a journal record, table settings, a report).
    #[error("{what}: JSON: {source}")]
    Json {
        /// The document (manifest, journal record, table settings, report).
        what: String,
        #[source]
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The merge was cancelled (its future dropped, or a cancel flag set).
    #[error("merge cancelled")]
    Cancelled,
    /// Input batches given to the writer disagree with each other or the schema.
    #[error("invalid input data: {0}")]
    InvalidData(String),
    /// A caller-supplied argument is out of range or inconsistent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A broken internal state, not bad input: a worker thread panicked, a lock
    /// was poisoned, an object was used after it finished. A bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Wrap an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    /// Wrap a parquet error with the path it concerns.
    pub fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        Error::Parquet {
            path: path.into(),
            source,
        }
    }
    /// Wrap a JSON error with what was being written or read.
    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            what: what.into(),
            source,
        }
    }
    /// Wrap an arrow error with the path it concerns.
    pub fn arrow(path: impl Into<PathBuf>, source: arrow_schema::ArrowError) -> Self {
        Error::Arrow {
            path: path.into(),
            source,
        }
    }

    /// The file this error is about, when it names one (the first one named).
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Io { path, .. }
            | Error::Parquet { path, .. }
            | Error::NotParquet { path }
            | Error::Truncated { path, .. }
            | Error::CorruptFooter { path, .. }
            | Error::Arrow { path, .. }
            | Error::SortSchemaMissing { path }
            | Error::UnorderableColumn { path, .. }
            | Error::BadMetadata { path, .. }
            | Error::Unsorted { path, .. }
            | Error::Alignment { path, .. }
            | Error::InputMismatch { path, .. }
            | Error::TypeConflict { path, .. }
            | Error::DuplicateInput { path, .. }
            | Error::OutputExists { path }
            | Error::NotADirectory { path }
            | Error::Catalog { path, .. }
            | Error::LeaseLost { path, .. }
            | Error::DuplicateContent { path, .. } => Some(path),
            Error::Storage { .. }
            | Error::UnknownSortColumn { .. }
            | Error::UnknownColumn { .. }
            | Error::SortSchemaSyntax { .. }
            | Error::Predicate { .. }
            | Error::Invariant { .. }
            | Error::Json { .. }
            | Error::Cancelled
            | Error::InvalidData(_)
            | Error::InvalidArgument(_)
            | Error::Internal(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The position of `e`'s variant; the match is exhaustive, so a new variant
    /// does not compile until it gets a number here, and then fails
    /// `every_variant_displays_without_debug` until [`examples`] builds it.
    fn variant_index(e: &Error) -> usize {
        match e {
            Error::Io { .. } => 0,
            Error::Parquet { .. } => 1,
            Error::NotParquet { .. } => 2,
            Error::Truncated { .. } => 3,
            Error::CorruptFooter { .. } => 4,
            Error::Arrow { .. } => 5,
            Error::SortSchemaSyntax { .. } => 6,
            Error::SortSchemaMissing { .. } => 7,
            Error::UnorderableColumn { .. } => 8,
            Error::BadMetadata { .. } => 9,
            Error::Unsorted { .. } => 10,
            Error::Alignment { .. } => 11,
            Error::InputMismatch { .. } => 12,
            Error::TypeConflict { .. } => 13,
            Error::DuplicateInput { .. } => 14,
            Error::Predicate { .. } => 15,
            Error::UnknownSortColumn { .. } => 16,
            Error::NotADirectory { .. } => 17,
            Error::UnknownColumn { .. } => 18,
            Error::OutputExists { .. } => 19,
            Error::Invariant { .. } => 20,
            Error::Catalog { .. } => 21,
            Error::LeaseLost { .. } => 22,
            Error::DuplicateContent { .. } => 23,
            Error::Storage { .. } => 24,
            Error::Json { .. } => 25,
            Error::Cancelled => 26,
            Error::InvalidData(_) => 27,
            Error::InvalidArgument(_) => 28,
            Error::Internal(_) => 29,
        }
    }
    const VARIANTS: usize = 30;

    /// One error of every variant, with a path that has a space in it (Debug
    /// would quote it) and sources as the code builds them. Long because it is
    /// a list with one entry per variant, not logic.
    fn examples() -> Vec<Error> {
        let p = || PathBuf::from("/data/in put/a.parquet");
        let q = || PathBuf::from("/data/in put/b.parquet");
        let os = std::io::Error::from_raw_os_error(2);
        let json = serde_json::from_str::<u32>("[").unwrap_err();
        let parquet = parquet::errors::ParquetError::General("bad page".into());
        let arrow = arrow_schema::ArrowError::ComputeError("overflow".into());
        let s = |t: &str| t.to_string();
        vec![
            Error::io(p(), os),
            Error::parquet(p(), parquet),
            Error::NotParquet { path: p() },
            Error::Truncated { path: p(), len: 7 },
            Error::CorruptFooter {
                path: p(),
                row_group: 1,
                column: s("k"),
                reason: s("offset past end"),
            },
            Error::arrow(p(), arrow),
            Error::SortSchemaSyntax {
                input: s("a|+"),
                column: 2,
                column_name: s("+"),
                position: 2,
                reason: s("empty name"),
            },
            Error::SortSchemaMissing { path: p() },
            Error::UnorderableColumn {
                path: p(),
                column: s("l"),
                data_type: s("List(Int32)"),
            },
            Error::BadMetadata {
                path: p(),
                key: s("qh.rg_partition_prefix_len"),
                value: s("x"),
                reason: s("not a number"),
            },
            Error::Unsorted {
                path: p(),
                location: s("row group 0, row 3"),
                detail: s("(k=\"b\") comes after (k=\"a\")"),
            },
            Error::Alignment {
                path: p(),
                rule: "PA-1",
                detail: s("two prefixes in row group 0"),
            },
            Error::InputMismatch {
                path: p(),
                other_path: q(),
                what: "window",
                found: s("0+3600"),
                expected: s("3600+3600"),
            },
            Error::TypeConflict {
                column: s("v"),
                path: p(),
                found: s("Int64"),
                other_path: q(),
                expected: s("Utf8"),
            },
            Error::DuplicateInput {
                path: p(),
                other_path: q(),
            },
            Error::Predicate {
                input: s("k ="),
                position: 3,
                reason: s("value expected"),
            },
            Error::UnknownSortColumn {
                column: s("hots"),
                available: s("host, ts"),
            },
            Error::NotADirectory { path: p() },
            Error::UnknownColumn {
                option: "bloom filter",
                column: s("x"),
                available: s("k, ts"),
            },
            Error::OutputExists { path: p() },
            Error::Invariant {
                rule: "MC-1",
                detail: s("3 rows out, 4 in"),
            },
            Error::Catalog {
                path: p(),
                detail: s("database is locked"),
            },
            Error::LeaseLost {
                path: p(),
                job: s("j1"),
                detail: s("lease expired"),
            },
            Error::DuplicateContent {
                path: p(),
                existing: s("split 7"),
            },
            Error::Storage {
                url: s("s3://b/k.parquet"),
                detail: s("not found (NoSuchKey)"),
            },
            Error::json("manifest", json),
            Error::Cancelled,
            Error::InvalidData(s("batch columns differ")),
            Error::InvalidArgument(s("prefix length 3 exceeds the 2 sort columns")),
            Error::Internal(s("the writer thread panicked")),
        ]
    }

    #[test]
    fn every_variant_displays_without_debug() {
        let examples = examples();
        let mut seen: Vec<usize> = examples.iter().map(variant_index).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen,
            (0..VARIANTS).collect::<Vec<_>>(),
            "examples miss a variant"
        );
        for e in &examples {
            let text = e.to_string();
            for artefact in [
                "Some(", "None", "Os {", "kind:", "code:", "\"/data", "PathBuf", "General(",
            ] {
                assert!(!text.contains(artefact), "{artefact} in {text}");
            }
            assert!(!text.contains('\n'), "not one line: {text}");
            if let Some(path) = e.path() {
                assert!(text.contains(&path.display().to_string()), "{text}");
            }
        }
    }

    #[test]
    fn internal_states_and_json_have_their_own_kinds() {
        let e = Error::Internal("the writer thread panicked".into());
        assert_eq!(e.to_string(), "internal error: the writer thread panicked");
        let json = serde_json::from_str::<u32>("[").unwrap_err();
        let e = Error::json("manifest", json);
        assert!(e.to_string().starts_with("manifest: JSON: "), "{e}");
        assert!(!e.to_string().contains("invalid input data"), "{e}");
    }
}
