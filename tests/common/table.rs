//! Helpers for the compactor tests (`compact_*.rs`): tables driven through the
//! CLI binary, generated splits, the rows of split files, and the checks every
//! live set must pass.
#![allow(dead_code)]

use super::{read_rows, Cell};
use prefix_merge::compact::{JobRecord, Split, Table};
use prefix_merge::gen::{generate_split, metrics_schema, GenConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The failpoint variable (see `prefix_merge::compact::failpoint`).
pub const FAILPOINT_ENV: &str = prefix_merge::compact::failpoint::FAILPOINT_ENV;
/// SIGABRT: how a process that reached an armed failpoint ends.
pub const SIGABRT: i32 = 6;

/// How one CLI run ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Killed at an armed failpoint.
    pub fn aborted(&self) -> bool {
        self.signal == Some(SIGABRT)
    }

    /// Panic (with both outputs) unless the run exited 0.
    pub fn expect_ok(&self, what: &str) -> &Self {
        assert!(self.ok(), "{what}: {self:?}");
        self
    }

    fn from_output(out: std::process::Output) -> Run {
        Run {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn command<S: AsRef<OsStr>>(args: &[S], failpoint: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prefix-merge"));
    // A table is a directory unless a test names a catalog itself.
    cmd.args(args).env_remove("PREFIX_MERGE_CATALOG");
    match failpoint {
        Some(fp) => cmd.env(FAILPOINT_ENV, fp),
        None => cmd.env_remove(FAILPOINT_ENV),
    };
    cmd
}

/// Run `prefix-merge ARGS...`, with `failpoint` (`NAME[:N]`) armed if given.
pub fn pm<S: AsRef<OsStr>>(args: &[S], failpoint: Option<&str>) -> Run {
    Run::from_output(command(args, failpoint).output().unwrap())
}

/// Start `prefix-merge ARGS...` without waiting (stdout and stderr piped).
pub fn spawn<S: AsRef<OsStr>>(args: &[S]) -> Child {
    command(args, None)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait for a child started with [`spawn`].
pub fn wait(child: Child) -> Run {
    Run::from_output(child.wait_with_output().unwrap())
}

/// Arguments as an array of owned strings (paths included); `.to_vec()` to add
/// more.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        [$(std::ffi::OsString::from($a)),*]
    };
}

/// The generator settings of a test's splits: every split of a test must use the
/// same config, since the window length depends on it (`files`, `rows`).
pub fn gen_config(files: usize, rows: usize, metrics: usize) -> GenConfig {
    GenConfig {
        files,
        rows,
        metrics,
        ..GenConfig::default()
    }
}

/// Generate file `file` of `config` in window `window` with values from
/// `value_seed` into `dir`; returns its path.
pub fn gen_file(
    dir: &Path,
    config: &GenConfig,
    file: usize,
    window: usize,
    value_seed: u64,
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("f{file:04}_w{window}_s{value_seed}.parquet"));
    generate_split(&path, config, file, window, value_seed).unwrap();
    path
}

/// The sort schema of the files `gen` writes (tables of them are created with it).
pub fn gen_schema() -> String {
    prefix_merge::gen::sort_schema().to_string()
}

/// Table directories whose catalog is a shared one: directory -> (catalog URL,
/// table name). Their split files live in the directory (`--splits-url DIR`),
/// so the file helpers work on them unchanged.
static SHARED: std::sync::Mutex<BTreeMap<PathBuf, (String, String)>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Make the table in `dir` a table `name` of the shared catalog at `url`:
/// every helper (and [`table_args`]) then addresses it there.
pub fn use_shared_catalog(dir: &Path, url: &str, name: &str) {
    SHARED
        .lock()
        .unwrap()
        .insert(dir.to_path_buf(), (url.to_string(), name.to_string()));
}

fn shared(dir: &Path) -> Option<(String, String)> {
    SHARED.lock().unwrap().get(dir).cloned()
}

/// The CLI arguments naming the table in `dir`: the directory, or its name
/// and `--catalog URL`.
pub fn table_args(dir: &Path) -> Vec<std::ffi::OsString> {
    match shared(dir) {
        Some((url, name)) => args![name, "--catalog", url].to_vec(),
        None => args![dir].to_vec(),
    }
}

/// Open the table in `dir` (its own catalog or the shared one).
pub fn open_table(dir: &Path) -> Table {
    match shared(dir) {
        Some((url, name)) => Table::open_in_catalog(
            &url,
            &name,
            dir,
            std::sync::Arc::new(prefix_merge::storage::Storage::default()),
        )
        .unwrap(),
        None => Table::open(dir).unwrap(),
    }
}

/// `prefix-merge table create TABLE --sort-schema GEN [--dedup]` (with
/// `--splits-url DIR` for a table of a shared catalog).
pub fn create_table(table: &Path, dedup: bool) {
    let mut a = args!["table", "create"].to_vec();
    a.extend(table_args(table));
    a.extend(args!["--sort-schema", gen_schema()]);
    if shared(table).is_some() {
        a.extend(args!["--splits-url", table]);
    }
    if dedup {
        a.push("--dedup".into());
    }
    pm(&a, None).expect_ok("table create");
}

/// `prefix-merge table add TABLE FILES...` with an optional failpoint. Returns the
/// run and the files it added, with their split ids, parsed from its output
/// ("added FILE as ID (N rows)", printed after each commit).
pub fn add(
    table: &Path,
    files: &[PathBuf],
    failpoint: Option<&str>,
) -> (Run, Vec<(PathBuf, String)>) {
    let mut a = args!["table", "add"].to_vec();
    a.extend(table_args(table));
    a.extend(files.iter().map(|f| f.into()));
    let run = pm(&a, failpoint);
    let added = run
        .stdout
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("added ")?;
            let (file, rest) = rest.rsplit_once(" as ")?;
            let id = rest.split_whitespace().next()?;
            Some((PathBuf::from(file), id.to_string()))
        })
        .collect();
    (run, added)
}

/// The table's live splits (from its catalog).
pub fn live(table: &Path) -> Vec<Split> {
    open_table(table).live().unwrap()
}

/// Every committed job of the table, oldest first.
pub fn history(table: &Path) -> Vec<JobRecord> {
    open_table(table).catalog().history().unwrap()
}

/// The file of split `id`.
pub fn split_path(table: &Path, id: &str) -> PathBuf {
    table.join("splits").join(format!("{id}.parquet"))
}

/// Names of the files in `TABLE/splits/`.
pub fn split_dir_files(table: &Path) -> BTreeSet<String> {
    std::fs::read_dir(table.join("splits"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every column of the generated metrics schema, in schema order.
pub fn all_columns() -> Vec<String> {
    metrics_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Positions (in [`all_columns`]) of the sort columns: the full sort key.
pub fn key_positions() -> Vec<usize> {
    let cols = all_columns();
    prefix_merge::gen::sort_schema()
        .columns
        .iter()
        .map(|c| cols.iter().position(|n| *n == c.name).unwrap())
        .collect()
}

/// Every row of a split file, all columns, as cells.
pub fn file_cells(path: &Path) -> Vec<Vec<Cell>> {
    let cols = all_columns();
    let names: Vec<&str> = cols.iter().map(String::as_str).collect();
    read_rows(path, &names)
}

/// A row as text (all columns): rows compare as text.
pub fn row_text(row: &[Cell]) -> String {
    format!("{row:?}")
}

/// The full sort key of a row, as text.
pub fn key_text(row: &[Cell], key: &[usize]) -> String {
    let cells: Vec<&Cell> = key.iter().map(|&i| &row[i]).collect();
    format!("{cells:?}")
}

/// Every row of a split file as text, sorted.
pub fn file_rows(path: &Path) -> Vec<String> {
    let mut rows: Vec<String> = file_cells(path).iter().map(|r| row_text(r)).collect();
    rows.sort();
    rows
}

/// Assert two sorted multisets of rows are equal, naming a few differences.
pub fn assert_same_rows(what: &str, expected: &[String], actual: &[String]) {
    if expected == actual {
        return;
    }
    fn count(rows: &[String]) -> BTreeMap<&str, i64> {
        let mut m: BTreeMap<&str, i64> = BTreeMap::new();
        for r in rows {
            *m.entry(r.as_str()).or_default() += 1;
        }
        m
    }
    let (e, a) = (count(expected), count(actual));
    let missing: Vec<_> = e
        .iter()
        .filter(|(r, n)| a.get(*r).copied().unwrap_or(0) < **n)
        .take(3)
        .collect();
    let extra: Vec<_> = a
        .iter()
        .filter(|(r, n)| e.get(*r).copied().unwrap_or(0) < **n)
        .take(3)
        .collect();
    panic!(
        "{what}: {} rows expected, {} found; missing (first 3): {missing:?}; unexpected (first 3): {extra:?}",
        expected.len(),
        actual.len()
    );
}

/// `qh.window_start` and `qh.window_duration_secs` of a split file.
pub fn file_window(path: &Path) -> (Option<i64>, Option<u64>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
    (
        get("qh.window_start").map(|v| v.parse().unwrap()),
        get("qh.window_duration_secs").map(|v| v.parse().unwrap()),
    )
}

/// Checks every live set must pass: every live split has its file (e), the file
/// passes `prefix-merge verify` (b), and the file's window is the catalog's and
/// holds all its rows (c). Returns the live splits and the rows of each (sorted
/// row texts), read once.
pub fn check_live_set(table: &Path) -> (Vec<Split>, BTreeMap<String, Vec<String>>) {
    let live = live(table);
    let ts = all_columns()
        .iter()
        .position(|c| c == "timestamp_secs")
        .unwrap();
    let mut rows = BTreeMap::new();
    let mut paths = Vec::new();
    for s in &live {
        let path = split_path(table, &s.id);
        assert!(
            path.is_file(),
            "live split {} has no file {}",
            s.id,
            path.display()
        );
        let (start, secs) = file_window(&path);
        assert_eq!(
            (start, secs),
            (s.window_start, s.window_secs),
            "split {}: the catalog's window differs from the file's",
            s.id
        );
        let (start, secs) = (start.unwrap(), secs.unwrap());
        let cells = file_cells(&path);
        assert_eq!(
            cells.len() as u64,
            s.rows,
            "split {}: rows in catalog vs file",
            s.id
        );
        for row in &cells {
            let Cell::UInt(t) = row[ts] else {
                panic!("split {}: timestamp_secs is {:?}", s.id, row[ts]);
            };
            let t = t as i64;
            assert!(
                t >= start && t < start + secs as i64,
                "split {}: row at {t} outside its window {start}+{secs}s: windows mixed",
                s.id
            );
        }
        let mut texts: Vec<String> = cells.iter().map(|r| row_text(r)).collect();
        texts.sort();
        rows.insert(s.id.clone(), texts);
        paths.push(path);
    }
    if !paths.is_empty() {
        let mut a = args!["verify"].to_vec();
        a.extend(paths.iter().map(|p| p.into()));
        let run = pm(&a, None);
        assert!(run.ok(), "verify of the live splits failed: {run:?}");
    }
    (live, rows)
}

/// After a final gc: the files in `splits/` are exactly the live splits' (d).
pub fn assert_no_strays(table: &Path, live: &[Split]) {
    let files = split_dir_files(table);
    let expected: BTreeSet<String> = live.iter().map(|s| format!("{}.parquet", s.id)).collect();
    let strays: Vec<_> = files.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&files).collect();
    assert!(
        strays.is_empty() && missing.is_empty(),
        "{}: files that are no live split: {strays:?}; live splits without file: {missing:?}",
        table.display()
    );
}
