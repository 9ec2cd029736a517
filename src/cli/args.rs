//! Arguments shared by several subcommands: object-storage options and where a
//! table's catalog is.

use super::report::EXIT_USAGE;

/// Options for URLs (object storage), shared by the commands that take them.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Object-store option KEY=VALUE (repeatable): client keys such as
    /// aws_endpoint, aws_region, allow_http, aws_access_key_id, or tuning keys
    /// part_size, upload_concurrency, fetch_size, prefetch, max_retries,
    /// retry_timeout. Credentials otherwise come from the environment (AWS_*,
    /// GOOGLE_*, AZURE_*).
    #[arg(long = "storage-option", value_name = "KEY=VALUE", global = true)]
    pub options: Vec<String>,
    /// Local directory for the journal of runs whose outputs are uploaded
    /// (default $PREFIX_MERGE_JOURNAL_DIR, else ~/.local/state/prefix-merge/journal).
    #[arg(long, global = true)]
    pub journal_dir: Option<std::path::PathBuf>,
}

impl StorageArgs {
    /// The storage these options describe.
    pub fn storage(
        &self,
    ) -> Result<std::sync::Arc<prefix_merge::storage::Storage>, prefix_merge::Error> {
        prefix_merge::storage::Storage::with_options(&self.options).map(std::sync::Arc::new)
    }
}

/// Where a table's catalog is: a shared catalog server, or (without one) the
/// SQLite file inside the table's directory.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogArgs {
    /// A shared catalog, postgres://USER@HOST:PORT/DB (default
    /// $PREFIX_MERGE_CATALOG): TABLE is then a table name in it. Without one,
    /// TABLE is a directory with its own SQLite catalog.
    #[arg(long, global = true, value_name = "URL")]
    pub catalog: Option<String>,
    /// Local work directory root for shared-catalog tables whose splits are in
    /// a bucket: DIR/NAME holds the journals of a table's jobs, so that a
    /// worker restarted on this machine cleans up after a dead one (default
    /// $PREFIX_MERGE_WORK_DIR, else TMPDIR/prefix-merge-work).
    #[arg(long, global = true, value_name = "DIR")]
    pub work_dir: Option<std::path::PathBuf>,
}

/// Environment variable naming the shared catalog when --catalog is not given.
pub const CATALOG_ENV: &str = "PREFIX_MERGE_CATALOG";
/// Environment variable naming the work directory root when --work-dir is not given.
pub const WORK_DIR_ENV: &str = "PREFIX_MERGE_WORK_DIR";

impl CatalogArgs {
    /// The shared catalog's URL, if one is named (flag, else environment).
    pub fn url(&self) -> Option<String> {
        self.catalog
            .clone()
            .or_else(|| std::env::var(CATALOG_ENV).ok())
            .filter(|u| !u.is_empty())
    }

    /// The root of the tables' work directories (see the flag).
    pub fn work_root(&self) -> std::path::PathBuf {
        match &self.work_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os(WORK_DIR_ENV)
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("prefix-merge-work")),
        }
    }

    /// The work directory of table `name`.
    pub fn work_dir(&self, name: &str) -> std::path::PathBuf {
        self.work_root().join(name)
    }
}

/// The table name TABLE gives in a shared catalog.
pub fn table_name(table: &std::path::Path) -> Result<&str, prefix_merge::Error> {
    table
        .to_str()
        .filter(|n| prefix_merge::compact::postgres::valid_table_name(n))
        .ok_or_else(|| {
            prefix_merge::Error::InvalidArgument(format!(
                "'{}': with --catalog, TABLE is a table name (letters, digits, '_', '-', '.')",
                table.display()
            ))
        })
}

/// Open the table `table` with these storage options: a directory with its
/// own SQLite catalog, or a name in the shared catalog.
pub fn open_table(
    table: &std::path::Path,
    storage: &StorageArgs,
    catalog: &CatalogArgs,
) -> Result<prefix_merge::compact::Table, Box<(u8, prefix_merge::Error)>> {
    let usage = |e| Box::new((EXIT_USAGE, e));
    let storage = storage.storage().map_err(usage)?;
    match catalog.url() {
        Some(url) => {
            let name = table_name(table).map_err(usage)?;
            prefix_merge::compact::Table::open_in_catalog(
                &url,
                name,
                &catalog.work_dir(name),
                storage,
            )
            .map_err(usage)
        }
        None => prefix_merge::compact::Table::open(table)
            .map(|t| t.with_storage(storage))
            .map_err(usage),
    }
}
