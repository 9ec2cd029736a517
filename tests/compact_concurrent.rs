//! Concurrent compactors on one table (docs/architecture.md): two `compact --until-stable`
//! processes started at once never merge the same split twice. From the
//! catalog's job history: no split is an input of two committed jobs, every
//! input of a committed job was live before it (added, or output of an earlier
//! job), and the live set holds exactly the ingested rows. A job whose inputs
//! the other process took ends `busy` (fine).
//!
//! Plus a deterministic replay of one interleaving: the orphan sweep of one
//! compactor running while another job commits (a catalog wrapper commits the
//! job between the sweep's catalog reads).
#![cfg(feature = "postgres")]

mod common;

use common::table::{
    add, assert_no_strays, assert_same_rows, check_live_set, create_table, file_rows, file_window,
    gen_config, gen_file, history, spawn, split_path, wait,
};
use prefix_merge::compact::gc::{remove_orphans, GcReport};
use prefix_merge::compact::{
    Catalog, JobRecord, Lease, PgCatalog, Split, SplitState, SqliteCatalog, Table, TableSettings,
};
use prefix_merge::gen::WINDOW_START;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const FILES: usize = 80;
const WINDOWS: usize = 4;

/// Outcomes of a `compact --json` report: (committed, busy, other).
fn outcomes(report: &Value) -> (usize, usize, usize) {
    let jobs = report["jobs"].as_array().unwrap();
    let n = |o: &str| jobs.iter().filter(|j| j["outcome"] == o).count();
    let (c, b) = (n("committed"), n("busy"));
    (c, b, jobs.len() - c - b)
}

/// Check the history: every committed job's inputs were live when it
/// committed (added or output of an earlier job, not yet taken by another), so
/// no split is the input of two jobs. Returns the live set it implies.
fn replay(history: &[JobRecord]) -> BTreeSet<String> {
    let mut live = BTreeSet::new();
    let mut taken_by: HashMap<String, String> = HashMap::new();
    for rec in history {
        for id in &rec.inputs {
            if let Some(other) = taken_by.get(id) {
                panic!(
                    "split {id} is an input of job {other} and of job {}",
                    rec.job
                );
            }
            assert!(
                live.remove(id),
                "job {} took split {id}, which was never live before it",
                rec.job
            );
            taken_by.insert(id.clone(), rec.job.clone());
        }
        for id in &rec.outputs {
            assert!(live.insert(id.clone()), "split {id} created twice");
        }
    }
    live
}

#[test]
fn two_compactors_never_merge_a_split_twice() {
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let cfg = gen_config(FILES, 200, 3);
    let files: Vec<PathBuf> = (0..FILES)
        .map(|f| gen_file(&tmp.path().join("in"), &cfg, f, f % WINDOWS, 1))
        .collect();
    let (run, added) = add(&table, &files, None);
    run.expect_ok("table add");
    assert_eq!(added.len(), FILES);
    let mut ingested: Vec<String> = files.iter().flat_map(|f| file_rows(f)).collect();
    ingested.sort();
    let window_secs = file_window(&files[0]).1.unwrap() as i64;
    let closed = WINDOW_START + (WINDOWS as i64 + 1) * window_secs + 3 * 3600;

    // Two phases, each two processes at once: level merges in open windows
    // (many small jobs to fight over), then final merges of closed windows.
    let mut totals = BTreeMap::<&str, usize>::new();
    let mut reported_commits = BTreeSet::new();
    for (phase, now) in [("open", WINDOW_START), ("closed", closed)] {
        let cmd = args![
            "compact",
            &table,
            "--until-stable",
            "--merge-factor",
            "3",
            "--max-merge-factor",
            "4",
            "--jobs",
            "2",
            "--now",
            now.to_string(),
            "--json",
        ];
        let children = [spawn(&cmd), spawn(&cmd)];
        for (i, child) in children.into_iter().enumerate() {
            let run = wait(child);
            assert_eq!(run.code, Some(0), "{phase} compactor {i}: {run:?}");
            let report: Value = serde_json::from_str(&run.stdout).unwrap();
            let (c, b, o) = outcomes(&report);
            eprintln!(
                "{phase} phase, process {i}: {c} committed, {b} busy, {o} other jobs; {} rounds",
                report["rounds"]
            );
            assert_eq!(o, 0, "{phase} compactor {i}: {report}");
            *totals.entry("committed").or_default() += c;
            *totals.entry("busy").or_default() += b;
            for j in report["jobs"].as_array().unwrap() {
                if j["outcome"] == "committed" {
                    assert!(reported_commits.insert(j["job"].as_str().unwrap().to_string()));
                }
            }
        }
    }

    assert!(
        totals["busy"] > 0,
        "the two processes never competed for a job"
    );
    let history = history(&table);
    let implied = replay(&history);
    let merges: BTreeSet<String> = history
        .iter()
        .filter(|r| r.kind != "add")
        .map(|r| r.job.clone())
        .collect();
    assert_eq!(
        merges, reported_commits,
        "committed jobs: history vs the processes' reports"
    );
    assert!(
        merges.len() >= 2 * WINDOWS,
        "too few jobs: {}",
        merges.len()
    );
    let (live, rows) = check_live_set(&table);
    let ids: BTreeSet<String> = live.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, implied, "catalog live set vs history");
    assert_eq!(live.len(), WINDOWS, "one split per closed window: {live:?}");
    let mut actual: Vec<String> = rows.into_values().flatten().collect();
    actual.sort();
    assert_same_rows("live rows vs ingested", &ingested, &actual);
    // Neither process left files behind once the replaced splits are gone.
    common::table::pm(&args!["table", "gc", &table, "--grace", "0s"], None).expect_ok("gc");
    assert_no_strays(&table, &live);
    eprintln!(
        "{} jobs committed, {} busy (inputs taken by the other process), {:.1} s",
        totals["committed"],
        totals["busy"],
        started.elapsed().as_secs_f64()
    );
}

type Hook = Arc<Mutex<Option<Box<dyn FnOnce() + Send>>>>;

/// An SQLite catalog that runs a hook once, right after the first read of
/// splits or jobs: another worker acting between two reads of one operation.
struct Interleaved {
    inner: Box<dyn Catalog>,
    hook: Hook,
}

impl Interleaved {
    fn fire(&self) {
        if let Some(f) = self.hook.lock().unwrap().take() {
            f();
        }
    }
}

impl Catalog for Interleaved {
    fn connect(&self) -> prefix_merge::Result<Box<dyn Catalog>> {
        self.inner.connect()
    }
    fn settings(&mut self) -> prefix_merge::Result<Option<TableSettings>> {
        self.inner.settings()
    }
    fn init(&mut self, settings: &TableSettings) -> prefix_merge::Result<()> {
        self.inner.init(settings)
    }
    fn splits(&mut self, states: &[SplitState]) -> prefix_merge::Result<Vec<Split>> {
        let r = self.inner.splits(states);
        self.fire();
        r
    }
    fn begin_job(
        &mut self,
        lease: &Lease,
        splits: &[String],
        now: i64,
    ) -> prefix_merge::Result<bool> {
        self.inner.begin_job(lease, splits, now)
    }
    fn renew(&mut self, job: &str, until: i64) -> prefix_merge::Result<bool> {
        self.inner.renew(job, until)
    }
    fn commit_job(
        &mut self,
        record: &JobRecord,
        outputs: &[Split],
        retire_as: SplitState,
        now: i64,
    ) -> prefix_merge::Result<()> {
        self.inner.commit_job(record, outputs, retire_as, now)
    }
    fn abandon_job(&mut self, job: &str) -> prefix_merge::Result<()> {
        self.inner.abandon_job(job)
    }
    fn live_jobs(&mut self, now: i64) -> prefix_merge::Result<Vec<Lease>> {
        let r = self.inner.live_jobs(now);
        self.fire();
        r
    }
    fn expire_jobs(&mut self, now: i64) -> prefix_merge::Result<Vec<String>> {
        self.inner.expire_jobs(now)
    }
    fn set_skipped(&mut self, split: &str, error: Option<&str>) -> prefix_merge::Result<()> {
        self.inner.set_skipped(split, error)
    }
    fn forget(&mut self, splits: &[String]) -> prefix_merge::Result<()> {
        self.inner.forget(splits)
    }
    fn set_settings(&mut self, settings: &TableSettings) -> prefix_merge::Result<()> {
        self.inner.set_settings(settings)
    }
    fn find_source(&mut self, source: &str) -> prefix_merge::Result<Option<Split>> {
        self.inner.find_source(source)
    }
    fn live_at(&mut self, at: i64) -> prefix_merge::Result<Vec<Split>> {
        self.inner.live_at(at)
    }
    fn history(&mut self) -> prefix_merge::Result<Vec<JobRecord>> {
        self.inner.history()
    }
    fn add_tombstone(
        &mut self,
        predicate: &str,
        from: Option<i64>,
        to: Option<i64>,
        now: i64,
    ) -> prefix_merge::Result<prefix_merge::compact::Tombstone> {
        self.inner.add_tombstone(predicate, from, to, now)
    }
    fn tombstones(&mut self) -> prefix_merge::Result<Vec<prefix_merge::compact::Tombstone>> {
        self.inner.tombstones()
    }
    fn retire_tombstone(&mut self, id: u64, now: i64) -> prefix_merge::Result<()> {
        self.inner.retire_tombstone(id, now)
    }
}

/// Worker B's job has published its output and commits while worker A sweeps
/// orphans, between A's reads of the catalog. Whatever the order of those
/// reads, A must not delete the output: it is live from B's commit on.
#[test]
fn orphan_sweep_keeps_an_output_committed_during_it() {
    sweep_race(None);
}

/// The same interleaving with the table in a PostgreSQL catalog.
#[test]
fn orphan_sweep_keeps_an_output_committed_during_it_on_postgres() {
    let Some(pg) = common::postgres::PgServer::start() else {
        return;
    };
    sweep_race(Some(&pg.database("sweep")));
}

/// The sweep race on the table's own SQLite catalog, or (`catalog`: its URL)
/// on a PostgreSQL one.
fn sweep_race(catalog: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    if let Some(url) = catalog {
        common::table::use_shared_catalog(&table, url, "t");
    }
    create_table(&table, false);
    let open = |table: &std::path::Path| -> Box<dyn Catalog> {
        match catalog {
            Some(url) => Box::new(PgCatalog::open(url, "t").unwrap()),
            None => Box::new(SqliteCatalog::open(&table.join("catalog.sqlite")).unwrap()),
        }
    };
    let cfg = gen_config(2, 200, 3);
    let files: Vec<PathBuf> = (0..2)
        .map(|f| gen_file(&tmp.path().join("in"), &cfg, f, 0, 1))
        .collect();
    let (run, added) = add(&table, &files, None);
    run.expect_ok("table add");
    let inputs: Vec<String> = added.into_iter().map(|(_, id)| id).collect();
    let now = prefix_merge::compact::worker::now_secs();

    // Worker B: lease both splits, publish an output (a copy of the first input
    // stands in for the merge), not yet committed.
    let job = "merge-01RACERACERACERACERACERAC".to_string();
    let mut b = open(&table);
    let lease = Lease {
        job: job.clone(),
        owner: "another-host:1:1".into(),
        until: now + 600,
    };
    assert!(b.begin_job(&lease, &inputs, now).unwrap());
    let out_id = format!("{job}_00000");
    let out_path = split_path(&table, &out_id);
    std::fs::copy(split_path(&table, &inputs[0]), &out_path).unwrap();
    let template = b.splits(&[SplitState::Live]).unwrap().remove(0);
    let output = Split {
        id: out_id.clone(),
        source: None,
        ..template
    };
    let record = JobRecord {
        job: job.clone(),
        kind: "merge".into(),
        inputs: inputs.clone(),
        outputs: vec![out_id.clone()],
        bytes_in: 0,
        bytes_out: output.bytes,
        committed_at: 0,
    };

    // Worker A sweeps; B commits right after A's first catalog read.
    let hook: Hook = Arc::new(Mutex::new(Some(Box::new(move || {
        b.commit_job(&record, &[output], SplitState::Replaced, now)
            .unwrap();
    }))));
    let catalog = Interleaved {
        inner: open(&table),
        hook: hook.clone(),
    };
    let mut a = Table::with_catalog(&table, Box::new(catalog)).unwrap();
    let mut report = GcReport::default();
    remove_orphans(&mut a, now, &mut report).unwrap();
    assert!(
        hook.lock().unwrap().is_none(),
        "the commit ran during the sweep"
    );

    let live: Vec<String> = a.live().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(live, vec![out_id.clone()], "B's commit went through");
    assert!(
        out_path.is_file(),
        "the orphan sweep deleted {out_id}, a live split committed during the sweep (removed: {:?})",
        report.orphans
    );
    assert!(report.orphans.is_empty(), "{report:?}");
}
