//! A table: a directory of split files (`splits/`) plus its catalog
//! (`catalog.sqlite`); create, open, add and list.

use super::catalog::{Added, Catalog, JobRecord, Split, SplitState, TableSettings};
use super::failpoint;
#[cfg(feature = "postgres")]
use super::postgres::PgCatalog;
use super::sqlite::SqliteCatalog;
use super::worker::{now_secs, Worker};
use crate::input::{content_hash, row_group_min_max, InputFile, RowGroupInfo};
use crate::key::{value_at, KeyValue};
use crate::merge::MergeBuilder;
use crate::output::durable::{create_new, link_no_replace, remove_if_exists, sync_dir};
use crate::plan::validate_inputs;
use crate::schema::SortSchema;
use crate::storage::Storage;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The catalog's file name inside a table directory.
pub const CATALOG_FILE: &str = "catalog.sqlite";
/// The directory of split files inside a table directory.
pub const SPLITS_DIR: &str = "splits";

/// A file in a table directory naming where its split files live, when that is
/// a bucket (one line: the URL prefix); without it they live in `splits/`.
pub const SPLITS_URL_FILE: &str = "splits.url";

/// An open table.
///
/// ```
/// use prefix_merge::compact::{self, Added, CompactOptions, Table, TableSettings, Worker};
/// use prefix_merge::gen::{generate, GenConfig};
/// use std::time::Duration;
///
/// # fn main() -> prefix_merge::Result<()> {
/// # let tmp = tempfile::tempdir().unwrap();
/// # let (incoming, dir) = (tmp.path().join("incoming"), tmp.path().join("table"));
/// let config = GenConfig { files: 3, rows: 200, metrics: 4, ..GenConfig::default() };
/// let files = generate(&incoming, &config)?;
/// let sort = prefix_merge::gen::sort_schema().to_string();
/// let mut table = Table::create(&dir, TableSettings::new(sort, 1, false))?;
/// let worker = Worker::new(Duration::from_secs(60));
/// for file in &files {
///     assert!(matches!(table.add(&file.path, false, None, &worker)?, Added::New(_)));
/// }
/// // The same bytes again: nothing added.
/// assert!(matches!(table.add(&files[0].path, false, None, &worker)?, Added::Existing(_)));
///
/// // Merge every level that holds 3 splits, then read the live set.
/// let mut policy = table.settings().policy.clone();
/// policy.apply(&[("merge_factor", "3"), ("max_merge_factor", "3")])?;
/// let options = CompactOptions { policy: Some(policy), until_stable: true, ..Default::default() };
/// let report = compact::compact(&mut table, &options)?;
/// assert_eq!(report.rows_merged, 600);
/// let live = table.live_set(None)?;
/// assert_eq!((live.rows, live.splits.len()), (600, 1));
/// # Ok(())
/// # }
/// ```
pub struct Table {
    dir: PathBuf,
    catalog: Box<dyn Catalog>,
    settings: TableSettings,
    /// The URL prefix of the split files when they live in a bucket.
    splits_url: Option<String>,
    storage: Arc<Storage>,
    /// Set to stop an `add` in progress (see [`Table::with_cancel`]).
    cancel: Arc<AtomicBool>,
}

/// Where a table's jobs write: the split directory or URL prefix, the local
/// directory of their journals, and how URLs are reached.
#[derive(Clone)]
pub struct SplitPlace {
    /// The split directory or URL prefix jobs write their outputs to.
    pub target: PathBuf,
    /// The local directory of the jobs' journals.
    pub journal: PathBuf,
    /// How URLs are reached.
    pub storage: Arc<Storage>,
}

impl Table {
    /// Create a new table in `dir` (created if missing; it must not hold a table).
    pub fn create(dir: &Path, settings: TableSettings) -> Result<Table> {
        settings.sort_schema.parse::<SortSchema>()?;
        std::fs::create_dir_all(dir.join(SPLITS_DIR)).map_err(|e| Error::io(dir, e))?;
        sync_dir(dir)?;
        let mut catalog = SqliteCatalog::open(&dir.join(CATALOG_FILE))?;
        catalog.init(&settings)?;
        Ok(Table {
            dir: dir.to_path_buf(),
            catalog: Box::new(catalog),
            settings,
            splits_url: None,
            storage: Arc::new(Storage::default()),
            cancel: Arc::default(),
        })
    }

    /// Create a new table in `dir` whose split files live under the URL prefix
    /// `splits_url` (s3://bucket/prefix, ...); the catalog stays in `dir`.
    pub fn create_in_bucket(
        dir: &Path,
        settings: TableSettings,
        splits_url: &str,
        storage: Arc<Storage>,
    ) -> Result<Table> {
        let url = splits_url.trim_end_matches('/');
        if storage.resolve(Path::new(url))?.remote().is_none() {
            return Err(Error::InvalidArgument(format!(
                "'{splits_url}': not an object-store URL (s3://, gs://, az://)"
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let file = dir.join(SPLITS_URL_FILE);
        let temp = dir.join(format!("{SPLITS_URL_FILE}.tmp"));
        crate::output::durable::write_synced(&temp, format!("{url}\n").as_bytes())?;
        link_no_replace(&temp, &file)?;
        remove_if_exists(&temp)?;
        let mut table = Table::create(dir, settings)?;
        table.splits_url = Some(url.to_string());
        table.storage = storage;
        Ok(table)
    }

    #[cfg(feature = "postgres")]
    /// Create table `name` in the PostgreSQL catalog at `catalog_url`, its
    /// split files at `location`: an object-store URL prefix (journals of its
    /// jobs then go to `work_dir`, a local directory), or an absolute local
    /// directory laid out like an SQLite table's but without its catalog file
    /// (`splits/` inside; `work_dir` unused).
    pub fn create_in_catalog(
        catalog_url: &str,
        name: &str,
        settings: TableSettings,
        location: &str,
        work_dir: &Path,
        storage: Arc<Storage>,
    ) -> Result<Table> {
        settings.sort_schema.parse::<SortSchema>()?;
        let location = location.trim_end_matches('/');
        let remote = storage.resolve(Path::new(location))?.remote().is_some();
        if !remote && !Path::new(location).is_absolute() {
            return Err(Error::InvalidArgument(format!(
                "'{location}': the splits of a table in a shared catalog go to an object-store URL or an absolute directory"
            )));
        }
        let mut catalog = PgCatalog::open(catalog_url, name)?;
        let dir = if remote {
            work_dir.to_path_buf()
        } else {
            PathBuf::from(location)
        };
        std::fs::create_dir_all(dir.join(SPLITS_DIR)).map_err(|e| Error::io(&dir, e))?;
        sync_dir(&dir)?;
        catalog.create(&settings, location)?;
        Ok(Table {
            dir,
            catalog: Box::new(catalog),
            settings,
            splits_url: remote.then(|| location.to_string()),
            storage,
            cancel: Arc::default(),
        })
    }

    #[cfg(feature = "postgres")]
    /// Open table `name` of the PostgreSQL catalog at `catalog_url` (see
    /// [`Table::create_in_catalog`] for `work_dir`).
    pub fn open_in_catalog(
        catalog_url: &str,
        name: &str,
        work_dir: &Path,
        storage: Arc<Storage>,
    ) -> Result<Table> {
        let mut catalog = PgCatalog::open(catalog_url, name)?;
        let Some(location) = catalog.location()? else {
            return Err(Error::Catalog {
                path: catalog.name(),
                detail: "no such table; create it first (Table::create_in_catalog, or `table create` with a catalog URL)".into(),
            });
        };
        let remote = storage.resolve(Path::new(&location))?.remote().is_some();
        let dir = if remote {
            work_dir.to_path_buf()
        } else {
            PathBuf::from(&location)
        };
        std::fs::create_dir_all(dir.join(SPLITS_DIR)).map_err(|e| Error::io(&dir, e))?;
        let settings = catalog.settings()?.ok_or_else(|| Error::Catalog {
            path: catalog.name(),
            detail: "the table has no settings".into(),
        })?;
        Ok(Table {
            dir,
            catalog: Box::new(catalog),
            settings,
            splits_url: remote.then_some(location),
            storage,
            cancel: Arc::default(),
        })
    }

    /// Use `storage` (options, credentials) for the table's bucket.
    pub fn with_storage(mut self, storage: Arc<Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// Stop an [`add`](Self::add) in progress when `cancel` is set: it then
    /// fails with [`Error::Cancelled`], leaving no file and nothing registered.
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = cancel;
        self
    }

    /// Where the table's jobs write (see [`SplitPlace`]).
    pub fn place(&self) -> SplitPlace {
        SplitPlace {
            target: self.splits_target(),
            journal: self.splits_dir(),
            storage: self.storage.clone(),
        }
    }

    /// The split files' directory, or their URL prefix.
    pub fn splits_target(&self) -> PathBuf {
        match &self.splits_url {
            Some(url) => PathBuf::from(url),
            None => self.splits_dir(),
        }
    }

    /// The split files' URL prefix, when they live in a bucket.
    pub fn splits_remote(&self) -> Result<Option<crate::storage::RemoteObject>> {
        match &self.splits_url {
            Some(url) => Ok(self.storage.resolve(Path::new(url))?.remote().cloned()),
            None => Ok(None),
        }
    }

    /// How URLs are reached (storage options and credentials).
    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// Open the table in `dir`.
    pub fn open(dir: &Path) -> Result<Table> {
        let db = dir.join(CATALOG_FILE);
        if !db.is_file() || !dir.join(SPLITS_DIR).is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{}: not a table (no {CATALOG_FILE} and {SPLITS_DIR}/); create it with `prefix-merge table create`",
                dir.display()
            )));
        }
        Table::with_catalog(dir, Box::new(SqliteCatalog::open(&db)?))
    }

    /// Open the table in `dir` with another catalog implementation.
    pub fn with_catalog(dir: &Path, mut catalog: Box<dyn Catalog>) -> Result<Table> {
        let settings = catalog.settings()?.ok_or_else(|| Error::Catalog {
            path: dir.join(CATALOG_FILE),
            detail: "the table has no settings (never created)".into(),
        })?;
        let url_file = dir.join(SPLITS_URL_FILE);
        let splits_url = match std::fs::read_to_string(&url_file) {
            Ok(text) => Some(text.trim().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&url_file, e)),
        };
        Ok(Table {
            dir: dir.to_path_buf(),
            catalog,
            settings,
            splits_url,
            storage: Arc::new(Storage::default()),
            cancel: Arc::default(),
        })
    }

    /// The table directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The local `splits/` directory: the split files, or (for a table in a
    /// bucket) the journals of its jobs.
    pub fn splits_dir(&self) -> PathBuf {
        self.dir.join(SPLITS_DIR)
    }

    /// The file (or object URL) of split `id`.
    pub fn split_path(&self, id: &str) -> PathBuf {
        self.splits_target().join(format!("{id}.parquet"))
    }

    /// The table's stored settings.
    pub fn settings(&self) -> &TableSettings {
        &self.settings
    }

    /// Store new settings (the sort schema and P cannot change).
    pub fn set_settings(&mut self, settings: TableSettings) -> Result<()> {
        self.catalog.set_settings(&settings)?;
        self.settings = settings;
        Ok(())
    }

    /// The table's sort schema, parsed.
    pub fn sort_schema(&self) -> Result<SortSchema> {
        self.settings.sort_schema.parse()
    }

    /// The table's catalog.
    pub fn catalog(&mut self) -> &mut dyn Catalog {
        self.catalog.as_mut()
    }

    /// Live splits: what readers of the table see.
    pub fn live(&mut self) -> Result<Vec<Split>> {
        self.catalog.splits(&[SplitState::Live])
    }

    /// Live splits the compactor skipped, with the error.
    pub fn skipped(&mut self) -> Result<Vec<Split>> {
        Ok(self
            .live()?
            .into_iter()
            .filter(|s| s.skipped.is_some())
            .collect())
    }

    /// Validate `file` as `merge` would, copy it in durably and register it as a
    /// live split with the table's next sequence number. A split whose P differs
    /// from the table's is rejected, or with `promote` rewritten at the table's P
    /// (a merge of that one file). `sort_schema` declares the order of a file
    /// that carries none. Content already in the table (the same bytes: size,
    /// footer fingerprint and a hash of the whole file; live, or retired and not
    /// yet collected) is not added again: [`Added::Existing`] names the split
    /// that holds it.
    pub fn add(
        &mut self,
        file: &Path,
        promote: bool,
        sort_schema: Option<&SortSchema>,
        worker: &Worker,
    ) -> Result<Added> {
        let schema = self.sort_schema()?;
        let location = self.storage.resolve(file)?;
        let input = InputFile::open_location(&location, sort_schema)?;
        // The content's identity: size, footer and every byte (one extra read).
        let source = format!(
            "{}:{}:{}",
            input.file_bytes,
            input.footer_fingerprint,
            content_hash(&location, input.file_bytes)?
        );
        if let Some(existing) = self.catalog.find_source(&source)? {
            return Ok(Added::Existing(existing));
        }
        if !input.sort_schema().same_order(&schema) {
            return Err(Error::InputMismatch {
                what: "sort schema",
                path: file.to_path_buf(),
                found: input.sort_schema().to_string(),
                other_path: self.dir.clone(),
                expected: schema.to_string(),
            });
        }
        let p = self.settings.prefix_len;
        let promote_to = (input.prefix_len() != p).then_some(p);
        if promote_to.is_some() && !promote {
            return Err(Error::InputMismatch {
                what: "prefix length",
                path: file.to_path_buf(),
                found: input.prefix_len().to_string(),
                other_path: self.dir.clone(),
                expected: format!("{p} (promote it to rewrite it at P={p})"),
            });
        }
        validate_inputs(std::slice::from_ref(&input), promote_to, false)?;
        let job = worker.job_id("add");
        let lease = worker.lease(&job);
        if !self.catalog.begin_job(&lease, &[], now_secs())? {
            return Err(Error::Catalog {
                path: self.dir.join(CATALOG_FILE),
                detail: format!("job {job} could not start"),
            });
        }
        let bytes_in = input.file_bytes;
        let placed = self.place_file(input, promote_to, &job);
        let mut split = match placed {
            Ok(split) => split,
            Err(e) => {
                self.catalog.abandon_job(&job)?;
                return Err(e);
            }
        };
        split.source = Some(source.clone());
        failpoint::hit("add.copied");
        self.commit_add(&job, split, bytes_in, &source)
    }

    /// Put `input` into the table's split place: copied as is, or written by a
    /// merge of that one file (promotion, or a file going to or coming from a
    /// bucket: streamed and verified like any merge).
    fn place_file(&self, input: InputFile, promote_to: Option<usize>, job: &str) -> Result<Split> {
        let p = self.settings.prefix_len;
        let remote = self.splits_url.is_some() || input.is_remote();
        match (promote_to, remote) {
            (Some(p), _) => self.promote_in(input, p, job),
            (None, true) => self.promote_in(input, p, job),
            (None, false) => self.copy_in(&input, job),
        }
    }

    /// Commit an add's job; when a concurrent add of the same content won the
    /// race, remove this copy and report the existing split.
    fn commit_add(
        &mut self,
        job: &str,
        split: Split,
        bytes_in: u64,
        source: &str,
    ) -> Result<Added> {
        let record = JobRecord {
            job: job.to_string(),
            kind: "add".into(),
            inputs: Vec::new(),
            outputs: vec![split.id.clone()],
            bytes_in,
            bytes_out: split.bytes,
            committed_at: 0,
        };
        let committed = self.catalog.commit_job(
            &record,
            std::slice::from_ref(&split),
            SplitState::Replaced,
            now_secs(),
        );
        match committed {
            Ok(()) => {
                let added = self.catalog.find_source(source)?;
                Ok(Added::New(added.unwrap_or(split)))
            }
            Err(e @ Error::DuplicateContent { .. }) => {
                self.catalog.abandon_job(job)?;
                let _ = self.storage.remove(&self.split_path(&split.id));
                match self.catalog.find_source(source)? {
                    Some(existing) => Ok(Added::Existing(existing)),
                    None => Err(e),
                }
            }
            Err(e) => {
                self.catalog.abandon_job(job)?;
                let _ = self.storage.remove(&self.split_path(&split.id));
                Err(e)
            }
        }
    }

    /// Copy `input` to `splits/JOB.parquet` (temp, fsync, link, fsync dir) and
    /// check the copy is the file that was validated.
    fn copy_in(&self, input: &InputFile, job: &str) -> Result<Split> {
        let target = self.split_path(job);
        let temp = self.splits_dir().join(format!("{job}.parquet.tmp"));
        let copy = || -> Result<Split> {
            let mut src =
                std::fs::File::open(&input.path).map_err(|e| Error::io(&input.path, e))?;
            let mut dst = create_new(&temp)?;
            std::io::copy(&mut src, &mut dst).map_err(|e| Error::io(&temp, e))?;
            dst.sync_all().map_err(|e| Error::io(&temp, e))?;
            let copied = InputFile::open(&temp)?;
            if copied.footer_fingerprint != input.footer_fingerprint {
                return Err(Error::InvalidData(format!(
                    "{}: the file changed while it was being added",
                    input.path.display()
                )));
            }
            if self.cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled); // the temporary copy is removed below
            }
            // Described before the link: the temporary name goes away with it.
            let split = split_of(&copied, job.to_string(), None);
            link_no_replace(&temp, &target)?;
            sync_dir(&self.splits_dir())?;
            Ok(split)
        };
        copy().inspect_err(|_| {
            let _ = remove_if_exists(&temp);
        })
    }

    /// Rewrite `input` at prefix length `p` into `splits/JOB_00000.parquet`.
    fn promote_in(&self, input: InputFile, p: usize, job: &str) -> Result<Split> {
        let manifest = MergeBuilder::from_inputs(vec![input], self.splits_target())
            .storage(self.storage.clone())
            .journal_dir(self.splits_dir())
            .promote_prefix_len(p)
            .output_prefix(job)
            .num_outputs(1)
            .cancel_on(self.cancel.clone())
            .run()?;
        let out = manifest.outputs.first().ok_or_else(|| {
            Error::InvalidData(format!("job {job}: the promoted file produced no output"))
        })?;
        let opened = InputFile::open_location(&self.storage.resolve(&out.path)?, None)?;
        Ok(split_of(&opened, split_id(&out.path)?, None))
    }
}

/// The split id of a file in `splits/` (its stem).
pub fn split_id(path: &Path) -> Result<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .ok_or_else(|| Error::InvalidArgument(format!("{}: not a split file name", path.display())))
}

/// The catalog entry of an opened split file; `skipped` carries a skip reason.
/// Its sequence numbers are assigned when its add commits.
pub fn split_of(input: &InputFile, id: String, skipped: Option<String>) -> Split {
    let prefix = |rg: Option<&RowGroupInfo>| -> Option<Vec<KeyValue>> {
        rg.and_then(|rg| rg.prefix.as_ref())
            .map(|p| p.values.clone())
    };
    let (first, last) = (
        prefix(input.row_groups.first()),
        prefix(input.row_groups.last()),
    );
    let window = input.contract.window;
    let (time_min, time_max) = time_bounds(input).unzip();
    Split {
        id,
        rows: input.num_rows(),
        bytes: input.file_bytes,
        window_start: window.map(|w| w.start),
        window_secs: window.map(|w| w.duration_secs),
        level: input.contract.num_merge_ops,
        seq_min: 0,
        seq_max: 0,
        applied_seq: 0,
        min_key: prefix_text(first.as_deref()),
        max_key: prefix_text(last.as_deref()),
        first_prefix: first.and_then(|v| serde_json::to_value(v).ok()),
        last_prefix: last.and_then(|v| serde_json::to_value(v).ok()),
        time_min: time_min.and_then(|v| serde_json::to_value(v).ok()),
        time_max: time_max.and_then(|v| serde_json::to_value(v).ok()),
        source: None,
        created_at: now_secs(),
        state: SplitState::Live,
        retired_at: None,
        skipped,
        lease_until: None,
    }
}

/// Smallest and largest value of the file's time column (the sort schema's
/// trailing time column), from its row-group statistics; None without a time
/// column, or when a row group has no statistics for it.
fn time_bounds(input: &InputFile) -> Option<(KeyValue, KeyValue)> {
    let schema = input.sort_schema();
    if schema.series_len() == schema.columns.len() {
        return None;
    }
    let column = &schema.columns.last()?.name;
    let (mins, maxs) = row_group_min_max(input, column)?;
    // Times are integers (seconds, or a timestamp's units), signed or not.
    let values = |a: &dyn arrow_array::Array| -> Option<Vec<i128>> {
        (0..a.len())
            .map(|i| match value_at(a, i).ok()? {
                KeyValue::Int(v) => Some(i128::from(v)),
                KeyValue::UInt(v) => Some(i128::from(v)),
                _ => None,
            })
            .collect()
    };
    let lo = values(mins.as_ref())?.into_iter().min()?;
    let hi = values(maxs.as_ref())?.into_iter().max()?;
    let typed = |v: i128| match i64::try_from(v) {
        Ok(v) if mins.data_type().is_signed_integer() || v < 0 => Some(KeyValue::Int(v)),
        _ => u64::try_from(v).ok().map(KeyValue::UInt),
    };
    Some((typed(lo)?, typed(hi)?))
}

/// A prefix key as text for `table ls` (`v1|v2`; empty when there is none).
pub fn prefix_text(values: Option<&[crate::key::KeyValue]>) -> String {
    values
        .map(|v| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .unwrap_or_default()
}
