//! Compactor simulation with seeded kills (docs/architecture.md): two tables (plain and
//! `--dedup`) get generated splits over four windows while a seeded sequence of
//! `table add`, `compact --until-stable` (a policy clock that advances, so
//! windows first merge by level, then close and get final merges) and
//! `table gc --grace 0s` runs, each process killed at a random failpoint some
//! of the time. A model replays the catalog's job history (which split went into
//! which) and predicts every live split's rows; the live set is checked against
//! it, against the ingested files, and against the table's invariants.
//!
//! The dedup table's model is "replay all adds in order, last write wins": per
//! full sort key the row of the latest add survives, whatever the merge history.
//! Its corrections (files repeating an earlier file's keys with other values)
//! arrive both shuffled among the originals and late, after their window's
//! splits were merged.
//!
//! The seed is printed with every step; `COMPACT_SIM_SEED=N` replays another.
#![cfg(feature = "postgres")]

mod common;

use common::table::{
    add, assert_no_strays, assert_same_rows, check_live_set, create_table, file_cells, file_window,
    gen_config, gen_file, history, key_positions, live, open_table, pm, row_text, table_args,
    use_shared_catalog, Run,
};
use common::Cell;
use prefix_merge::compact::failpoint::FAILPOINTS;
use prefix_merge::compact::JobRecord;
use prefix_merge::gen::{GenConfig, WINDOW_START};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};

/// The default seed: its step mix arms every failpoint a run without
/// --retention can reach (checked at the end).
const SEED: u64 = 10;
const WINDOWS: usize = 4;
const STEPS: usize = 40;
/// `--maturity-age`: a window closes this long after its end.
const MATURITY_SECS: i64 = 3600;
/// Full row checks against the model every this many steps (and at the end).
const FULL_CHECK_EVERY: usize = 7;

/// SplitMix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// One ingested row: its full sort key, the row (all columns) and the add
/// order of the file it came from (later = written later; set when added).
#[derive(Clone)]
struct Row {
    key: String,
    text: String,
    version: usize,
    /// The sequence number of the add that wrote it (set when added).
    seq: u64,
    metric: String,
    series: i64,
    time: i64,
}

/// A delete as the model knows it: its sequence number and what it matches
/// (one series, or one metric within a time range), independently of the
/// library's predicate code.
#[derive(Clone, Debug)]
struct Tomb {
    seq: u64,
    metric: String,
    series: Option<i64>,
    time: Option<(i64, i64)>,
}

impl Tomb {
    fn matches(&self, r: &Row) -> bool {
        r.metric == self.metric
            && self.series.is_none_or(|s| s == r.series)
            && self.time.is_none_or(|(f, t)| r.time >= f && r.time < t)
    }

    /// Whether it deletes `r`: it matches, and `r` was added before it.
    fn deletes(&self, r: &Row) -> bool {
        r.seq < self.seq && self.matches(r)
    }
}

/// What the model knows of a split.
struct ModelSplit {
    level: u64,
    window: i64,
    rows: Vec<Row>,
}

/// The table as the job history says it must be.
struct Model {
    dedup: bool,
    splits: HashMap<String, ModelSplit>,
    live: BTreeSet<String>,
    /// History records applied so far.
    applied: usize,
    merges: usize,
    finals: usize,
    /// Every tombstone recorded, in sequence order.
    tombstones: Vec<Tomb>,
    /// Delete-only jobs: rewrites and purges.
    deletes: usize,
    purges: usize,
}

impl Model {
    fn new(dedup: bool) -> Self {
        Model {
            dedup,
            splits: HashMap::new(),
            live: BTreeSet::new(),
            applied: 0,
            merges: 0,
            finals: 0,
            tombstones: Vec::new(),
            deletes: 0,
            purges: 0,
        }
    }

    /// Apply the history records not applied yet. `added` maps the split id of
    /// every `table add` that reported success to its source file's rows.
    fn sync(&mut self, history: &[JobRecord], added: &mut HashMap<String, ModelSplit>) {
        for rec in &history[self.applied..] {
            match rec.kind.as_str() {
                "add" => {
                    assert!(rec.inputs.is_empty() && rec.outputs.len() == 1, "{rec:?}");
                    let id = &rec.outputs[0];
                    let split = added.remove(id).unwrap_or_else(|| {
                        panic!(
                            "add job {} committed split {id} no `table add` reported",
                            rec.job
                        )
                    });
                    self.splits.insert(id.clone(), split);
                    self.live.insert(id.clone());
                }
                "merge" | "final" | "delete" | "purge" => self.merge(rec),
                other => panic!("unexpected job kind {other}: {rec:?}"),
            }
        }
        self.applied = history.len();
    }

    /// A job: inputs (in merge order) in, at most one output out. Every
    /// tombstone recorded before the job deletes the rows added before it
    /// (the compactor sees every tombstone of earlier steps). Dedup keeps, per
    /// full sort key, the row of the latest add (replay order), whatever the
    /// inputs' levels or their order in the job. A delete job rewrites one
    /// split; a purge drops one whose rows are all deleted.
    fn merge(&mut self, rec: &JobRecord) {
        match rec.kind.as_str() {
            "merge" | "final" => assert!(rec.inputs.len() >= 2, "a merge of < 2 inputs: {rec:?}"),
            _ => assert_eq!(rec.inputs.len(), 1, "a delete job of one split: {rec:?}"),
        }
        assert!(
            rec.outputs.len() <= 1,
            "every job here has at most one output: {rec:?}"
        );
        let mut inputs = Vec::new();
        for id in &rec.inputs {
            assert!(
                self.live.remove(id),
                "job {} took split {id}, which is not live (twice merged, or never there)",
                rec.job
            );
            inputs.push(self.splits.get(id).unwrap());
        }
        let window = inputs[0].window;
        assert!(
            inputs.iter().all(|s| s.window == window),
            "job {} mixes windows: {:?}",
            rec.job,
            inputs.iter().map(|s| s.window).collect::<Vec<_>>()
        );
        let level = inputs.iter().map(|s| s.level).max().unwrap() + 1;
        let tombstones = &self.tombstones;
        let kept = |r: &&Row| !tombstones.iter().any(|t| t.deletes(r));
        let rows: Vec<Row> = if self.dedup {
            let mut best: BTreeMap<&str, &Row> = BTreeMap::new();
            for s in &inputs {
                let mut seen = BTreeSet::new();
                for r in s.rows.iter().filter(kept) {
                    assert!(
                        seen.insert(&r.key),
                        "a deduped split holds key {} twice",
                        r.key
                    );
                    let e = best.entry(&r.key).or_insert(r);
                    if r.version > e.version {
                        *e = r;
                    }
                }
            }
            best.into_values().cloned().collect()
        } else {
            inputs
                .iter()
                .flat_map(|s| s.rows.iter().filter(kept).cloned())
                .collect()
        };
        match rec.kind.as_str() {
            "final" => self.finals += 1,
            "delete" => self.deletes += 1,
            "purge" => {
                self.purges += 1;
                assert!(
                    rows.is_empty(),
                    "job {} purged split {} whose rows are not all deleted",
                    rec.job,
                    rec.inputs[0]
                );
            }
            _ => self.merges += 1,
        }
        let Some(out) = rec.outputs.first().cloned() else {
            assert!(
                rows.is_empty(),
                "job {} wrote nothing for live rows",
                rec.job
            );
            return;
        };
        self.splits.insert(
            out.clone(),
            ModelSplit {
                level,
                window,
                rows,
            },
        );
        self.live.insert(out);
    }

    /// The replay of every add and delete in sequence order (of the adds in
    /// `ingested`): last write wins with dedup, and a tombstone deletes the
    /// rows added before it.
    fn replay(&self, ingested: &[&Row]) -> Vec<String> {
        let deleted = |r: &Row| self.tombstones.iter().any(|t| t.deletes(r));
        let mut out: Vec<String> = if self.dedup {
            let mut newest: BTreeMap<&str, &Row> = BTreeMap::new();
            for r in ingested {
                let e = newest.entry(&r.key).or_insert(r);
                if r.version > e.version {
                    *e = r;
                }
            }
            newest
                .into_values()
                .filter(|r| !deleted(r))
                .map(|r| r.text.clone())
                .collect()
        } else {
            ingested
                .iter()
                .filter(|r| !deleted(r))
                .map(|r| r.text.clone())
                .collect()
        };
        out.sort();
        out
    }
}

/// One simulated table.
struct SimTable {
    name: &'static str,
    dir: PathBuf,
    model: Model,
    /// Files not yet added, in ingest order.
    queue: VecDeque<PathBuf>,
    /// Every file's rows, window and ingest order.
    files: HashMap<PathBuf, (i64, Vec<Row>)>,
    /// Splits reported added whose add record the model has not seen yet.
    added: HashMap<String, ModelSplit>,
    /// Files added, in order.
    ingested: Vec<PathBuf>,
}

impl SimTable {
    fn sync(&mut self) {
        let h = history(&self.dir);
        self.model.sync(&h, &mut self.added);
    }

    /// Record the files a `table add` run added (`run` printed their sequence
    /// numbers).
    fn note_added(&mut self, added: &[(PathBuf, String)], run: &Run) {
        let seqs = add_seqs(run);
        for (file, id) in added {
            let (window, mut rows) = self.files[file].clone();
            let version = self.ingested.len();
            let seq = seqs[id];
            for r in &mut rows {
                r.version = version;
                r.seq = seq;
            }
            if let Some(f) = self.files.get_mut(file) {
                f.1.clone_from(&rows);
            }
            self.added.insert(
                id.clone(),
                ModelSplit {
                    level: 0,
                    window,
                    rows,
                },
            );
            self.ingested.push(file.clone());
        }
    }

    /// Catalog vs model: the same live splits, with the model's level, window and
    /// row count; every live split has its file, nothing is skipped, and every
    /// added split was recorded.
    fn check_catalog(&self) {
        assert!(
            self.added.is_empty(),
            "{}: adds reported but not in the history",
            self.name
        );
        let live = live(&self.dir);
        let ids: BTreeSet<String> = live.iter().map(|s| s.id.clone()).collect();
        assert_eq!(
            ids, self.model.live,
            "{}: catalog live set vs history replay",
            self.name
        );
        for s in &live {
            let m = &self.model.splits[&s.id];
            assert_eq!(s.level, m.level, "{}: level of {}", self.name, s.id);
            assert_eq!(
                s.window_start,
                Some(m.window),
                "{}: window of {}",
                self.name,
                s.id
            );
            assert_eq!(
                s.rows,
                m.rows.len() as u64,
                "{}: rows of {}",
                self.name,
                s.id
            );
            assert!(
                s.skipped.is_none(),
                "{}: {} skipped: {:?}",
                self.name,
                s.id,
                s.skipped
            );
            assert!(
                common::table::split_path(&self.dir, &s.id).is_file(),
                "{}: live split {} has no file",
                self.name,
                s.id
            );
        }
    }

    /// What a reader sees: the live set of `table ls --json` with its pending
    /// tombstones applied (to the splits whose seq_max and applied_seq are
    /// below them); with dedup, per key the row of the split with the newest
    /// adds. Must equal the replay of every add and delete so far.
    fn check_reader(&self) {
        let ls: serde_json::Value = serde_json::from_str(
            &pm(
                &[
                    args!["table", "ls"].to_vec(),
                    table_args(&self.dir),
                    args!["--json"].to_vec(),
                ]
                .concat(),
                None,
            )
            .expect_ok("ls --json")
            .stdout,
        )
        .unwrap();
        let pending: Vec<&Tomb> = ls["tombstones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let seq = t["seq"].as_u64().unwrap();
                self.model
                    .tombstones
                    .iter()
                    .find(|m| m.seq == seq)
                    .unwrap_or_else(|| panic!("{}: unknown tombstone {t}", self.name))
            })
            .collect();
        let mut newest: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let mut all = Vec::new();
        for s in ls["splits"].as_array().unwrap() {
            let seq_min = s["seq_min"].as_u64().unwrap();
            let through = s["seq_max"]
                .as_u64()
                .unwrap()
                .max(s["applied_seq"].as_u64().unwrap());
            for r in load_rows(Path::new(s["url"].as_str().unwrap()), 0) {
                if pending.iter().any(|t| t.seq > through && t.matches(&r)) {
                    continue;
                }
                if self.model.dedup {
                    let e = newest
                        .entry(r.key.clone())
                        .or_insert((seq_min, r.text.clone()));
                    if seq_min > e.0 {
                        *e = (seq_min, r.text);
                    }
                } else {
                    all.push(r.text);
                }
            }
        }
        if self.model.dedup {
            all = newest.into_values().map(|v| v.1).collect();
        }
        all.sort();
        let ingested: Vec<&Row> = self
            .ingested
            .iter()
            .flat_map(|f| &self.files[f].1)
            .collect();
        assert_same_rows(
            &format!(
                "{}: the reader's view vs the replay of adds and deletes",
                self.name
            ),
            &self.model.replay(&ingested),
            &all,
        );
    }

    /// Read every live file: verify, windows, and rows == the model's rows.
    fn check_rows(&self) -> BTreeMap<String, Vec<String>> {
        self.check_reader();
        let (_, rows) = check_live_set(&self.dir);
        for (id, actual) in &rows {
            let mut expected: Vec<String> = self.model.splits[id]
                .rows
                .iter()
                .map(|r| r.text.clone())
                .collect();
            expected.sort();
            assert_same_rows(
                &format!("{}: split {id} vs model", self.name),
                &expected,
                actual,
            );
        }
        rows
    }
}

fn load_rows(path: &Path, version: usize) -> Vec<Row> {
    let key = key_positions();
    let cols = common::table::all_columns();
    let at = |name: &str| cols.iter().position(|c| c == name).unwrap();
    let (m, s, t) = (at("metric_name"), at("timeseries_id"), at("timestamp_secs"));
    file_cells(path)
        .iter()
        .map(|r| Row {
            key: common::table::key_text(r, &key),
            text: row_text(r),
            version,
            seq: 0,
            metric: match &r[m] {
                Cell::Str(v) => v.clone(),
                other => panic!("metric_name {other:?}"),
            },
            series: match r[s] {
                Cell::Int(v) => v,
                ref other => panic!("timeseries_id {other:?}"),
            },
            time: match r[t] {
                Cell::UInt(v) => v as i64,
                ref other => panic!("timestamp_secs {other:?}"),
            },
        })
        .collect()
}

/// The sequence number of each split a `table add` run printed
/// ("added FILE as ID (N rows, seq S)").
fn add_seqs(run: &Run) -> HashMap<String, u64> {
    run.stdout
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("added ")?;
            let (_, rest) = rest.rsplit_once(" as ")?;
            let id = rest.split_whitespace().next()?;
            let seq = rest
                .rsplit_once("seq ")?
                .1
                .trim_end_matches(')')
                .parse()
                .ok()?;
            Some((id.to_string(), seq))
        })
        .collect()
}

/// Record a delete in `t` (`table delete`): one series, or one metric within
/// one window's time range, picked from the table's files (added or not yet).
fn delete_step(t: &mut SimTable, rng: &mut Rng, window_secs: i64) -> String {
    let mut files: Vec<&PathBuf> = t.files.keys().collect();
    files.sort();
    let (window, rows) = &t.files[files[rng.below(files.len())]];
    let row = &rows[rng.below(rows.len())];
    let series = rng.chance(70);
    let (text, tomb_series, time) = if series {
        (
            format!(
                "metric_name = '{}' AND timeseries_id = {}",
                row.metric, row.series
            ),
            Some(row.series),
            None,
        )
    } else {
        (
            format!("metric_name IN ('{}')", row.metric),
            None,
            Some((*window, window + window_secs)),
        )
    };
    let mut a = [
        args!["table", "delete"].to_vec(),
        table_args(&t.dir),
        args!["--where", &text].to_vec(),
    ]
    .concat();
    if let Some((from, to)) = time {
        a.extend(args!["--from", from.to_string(), "--to", to.to_string()]);
    }
    let run = pm(&a, None);
    run.expect_ok("table delete");
    let seq: u64 = run
        .stdout
        .split("at seq ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no seq in {run:?}"));
    t.model.tombstones.push(Tomb {
        seq,
        metric: row.metric.clone(),
        series: tomb_series,
        time,
    });
    format!("table delete --where \"{text}\" {time:?} -> seq {seq}")
}

/// Generate a table's files: `originals` files dealt round-robin over the
/// windows, plus `duplicates` files that repeat a random original's file and
/// window with another value seed (same sort keys, other values); shuffled,
/// except that the last half of the duplicates come after everything else
/// (late corrections).
fn make_table(
    root: &Path,
    name: &'static str,
    dedup: bool,
    config: &GenConfig,
    originals: usize,
    duplicates: usize,
    rng: &mut Rng,
) -> SimTable {
    let dir = root.join(name);
    create_table(&dir, dedup);
    let input = root.join(format!("{name}-in"));
    let mut specs: Vec<(usize, usize, u64)> = (0..originals).map(|f| (f, f % WINDOWS, 1)).collect();
    for d in 0..duplicates {
        let f = rng.below(originals);
        specs.push((f, f % WINDOWS, 100 + d as u64));
    }
    let late = specs.split_off(originals + duplicates / 2);
    rng.shuffle(&mut specs);
    specs.extend(late);
    let mut files = HashMap::new();
    let mut queue = VecDeque::new();
    for (order, (f, w, seed)) in specs.into_iter().enumerate() {
        let path = gen_file(&input, config, f, w, seed);
        let window = file_window(&path).0.unwrap();
        files.insert(path.clone(), (window, load_rows(&path, order)));
        queue.push_back(path);
    }
    SimTable {
        name,
        dir,
        model: Model::new(dedup),
        queue,
        files,
        added: HashMap::new(),
        ingested: Vec::new(),
    }
}

#[derive(Default)]
struct Tally {
    runs: usize,
    kills: BTreeMap<String, usize>,
    armed_not_reached: usize,
}

impl Tally {
    fn record(&mut self, what: &str, fp: Option<&str>, run: &Run) {
        self.runs += 1;
        if run.aborted() {
            let fp = fp.unwrap_or_else(|| panic!("{what}: aborted with no failpoint: {run:?}"));
            assert!(
                run.stderr.contains("aborting"),
                "{what}: SIGABRT but not at the failpoint: {run:?}"
            );
            *self
                .kills
                .entry(fp.split(':').next().unwrap().into())
                .or_default() += 1;
        } else {
            assert!(run.ok(), "{what}: {run:?}");
            if fp.is_some() {
                self.armed_not_reached += 1;
            }
        }
    }

    fn total_kills(&self) -> usize {
        self.kills.values().sum()
    }
}

#[test]
fn compaction_survives_seeded_kills() {
    simulate(None);
}

/// The same simulation with both tables in a PostgreSQL catalog (a server the
/// test starts; their split files in local directories).
#[test]
fn compaction_survives_seeded_kills_on_postgres() {
    let Some(pg) = common::postgres::PgServer::start() else {
        return;
    };
    simulate(Some(&pg.database("sim")));
}

/// Run the simulation; `catalog`: the shared catalog's URL (None: each table
/// has its own SQLite catalog).
fn simulate(catalog: Option<&str>) {
    let started = std::time::Instant::now();
    let seed = std::env::var("COMPACT_SIM_SEED")
        .ok()
        .map(|s| s.parse().expect("COMPACT_SIM_SEED: a u64"))
        .unwrap_or(SEED);
    eprintln!("compact_sim: seed {seed} (COMPACT_SIM_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    if let Some(url) = catalog {
        for name in ["plain", "dedup"] {
            use_shared_catalog(&root.join(name), url, name);
        }
    }

    // 140 + 140 generated files of 200 and 150 rows; both configs are for 160
    // files (the window length depends on it).
    let plain_cfg = gen_config(160, 200, 3);
    let dedup_cfg = gen_config(160, 150, 3);
    let mut tables = [
        make_table(root, "plain", false, &plain_cfg, 140, 0, &mut rng),
        make_table(root, "dedup", true, &dedup_cfg, 100, 40, &mut rng),
    ];
    let compact_points: Vec<&str> = FAILPOINTS
        .iter()
        .copied()
        // Not `retention.committed`: this simulation sets no --retention.
        .filter(|p| {
            ["job.", "merge.", "catalog."]
                .iter()
                .any(|x| p.starts_with(x))
        })
        .collect();
    let gc_points: Vec<&str> = FAILPOINTS
        .iter()
        .copied()
        .filter(|p| p.starts_with("gc."))
        .collect();
    assert!(
        FAILPOINTS.contains(&"add.copied") && !compact_points.is_empty() && !gc_points.is_empty()
    );

    // The policy clock: from inside window 0 to past every window's closing.
    let mut window_secs = 0;
    for t in &tables {
        let f = t.queue.front().unwrap();
        let (_, secs) = file_window(f);
        window_secs = secs.unwrap() as i64;
        assert_eq!(
            t.files
                .values()
                .map(|(w, _)| *w)
                .collect::<BTreeSet<_>>()
                .len(),
            WINDOWS
        );
    }
    // The first half of the steps every window is open (level merges); then the
    // clock moves from window 0's closing to past window 3's (final merges).
    let first_close = WINDOW_START + window_secs + MATURITY_SECS;
    let last_close = WINDOW_START + WINDOWS as i64 * window_secs + MATURITY_SECS;
    let half = STEPS / 2;
    let clock = |step: usize| match step.checked_sub(half) {
        None => WINDOW_START + (step as i64) * window_secs / (2 * half as i64),
        Some(k) => first_close + k as i64 * (last_close - first_close) / (STEPS - half - 2) as i64,
    };
    let final_now = last_close + window_secs;

    // Start with a third of each table's files.
    for t in &mut tables {
        let n = t.queue.len() / 3;
        let batch: Vec<PathBuf> = t.queue.drain(..n).collect();
        let (run, added) = add(&t.dir, &batch, None);
        run.expect_ok("initial add");
        assert_eq!(added.len(), n);
        t.note_added(&added, &run);
        t.sync();
        t.check_catalog();
    }

    // Deletes come from a generator of their own, so that the default seed's
    // mix of adds, compactions and gc (and the failpoints it arms) stays.
    let mut delete_rng = Rng(seed ^ 0x0DE1_E7E5);
    let mut tally = Tally::default();
    // Armed failpoints are taken in turn (their hit count N stays random), so
    // that every one of them is armed in a run.
    let (mut next_compact_point, mut next_gc_point) = (0usize, 0usize);
    let mut armed_points = BTreeSet::new();
    for step in 0..STEPS {
        let ti = rng.below(tables.len());
        let t = &mut tables[ti];
        let now = clock(step);
        let desc;
        let fp: Option<String>;
        let run;
        if !t.queue.is_empty() && rng.chance(40) {
            let n = t.queue.len().min(6 + rng.below(12));
            let batch: Vec<PathBuf> = t.queue.drain(..n).collect();
            fp = rng
                .chance(35)
                .then(|| format!("add.copied:{}", 1 + rng.below(n)));
            desc = format!("table add {} files", n);
            eprintln!(
                "step {step} [seed {seed}] {}: {desc}, failpoint {fp:?}",
                t.name
            );
            let (r, added) = add(&t.dir, &batch, fp.as_deref());
            // The first files were added; the rest go back to the queue.
            assert!(
                batch[..added.len()]
                    .iter()
                    .zip(&added)
                    .all(|(f, (g, _))| f == g),
                "{desc}: {r:?}"
            );
            match &fp {
                Some(p) => {
                    let nth: usize = p.split(':').nth(1).unwrap().parse().unwrap();
                    assert!(r.aborted(), "{desc} with {p}: {r:?}");
                    assert_eq!(added.len(), nth - 1, "{desc} with {p}");
                }
                None => assert_eq!(added.len(), n),
            }
            for f in batch[added.len()..].iter().rev() {
                t.queue.push_front(f.clone());
            }
            t.note_added(&added, &r);
            run = r;
        } else if rng.chance(70) {
            let merge_factor = 3 + rng.below(2);
            let max_merge_factor = 5 + rng.below(2);
            let jobs = 1 + rng.below(2);
            fp = rng.chance(55).then(|| {
                let p = compact_points[next_compact_point % compact_points.len()];
                next_compact_point += 1;
                // merge.progress is hit a few times per job, the others once.
                let max = if p == "merge.progress" { 6 } else { 3 };
                format!("{p}:{}", 1 + rng.below(max))
            });
            desc = format!(
                "compact --until-stable --merge-factor {merge_factor} --max-merge-factor {max_merge_factor} --jobs {jobs} --now {now}"
            );
            eprintln!(
                "step {step} [seed {seed}] {}: {desc}, failpoint {fp:?}",
                t.name
            );
            run = pm(
                &[
                    args!["compact"].to_vec(),
                    table_args(&t.dir),
                    args![
                        "--until-stable",
                        "--merge-factor",
                        merge_factor.to_string(),
                        "--max-merge-factor",
                        max_merge_factor.to_string(),
                        "--maturity-age",
                        format!("{MATURITY_SECS}s"),
                        "--jobs",
                        jobs.to_string(),
                        "--now",
                        now.to_string(),
                    ]
                    .to_vec(),
                ]
                .concat(),
                fp.as_deref(),
            );
        } else {
            fp = rng.chance(55).then(|| {
                let p = gc_points[next_gc_point % gc_points.len()];
                next_gc_point += 1;
                // gc.file-deleted is hit once per deleted file, the others
                // once per gc.
                let max = if p == "gc.file-deleted" { 5 } else { 1 };
                format!("{p}:{}", 1 + rng.below(max))
            });
            desc = "table gc --grace 0s".to_string();
            eprintln!(
                "step {step} [seed {seed}] {}: {desc}, failpoint {fp:?}",
                t.name
            );
            run = pm(
                &[
                    args!["table", "gc"].to_vec(),
                    table_args(&t.dir),
                    args!["--grace", "0s"].to_vec(),
                ]
                .concat(),
                fp.as_deref(),
            );
        }
        if let Some(p) = &fp {
            armed_points.insert(p.split(':').next().unwrap_or_default().to_string());
        }
        tally.record(
            &format!("step {step} {}: {desc}", t.name),
            fp.as_deref(),
            &run,
        );
        t.sync();
        t.check_catalog();
        eprintln!(
            "  -> {}; {} live splits, {} merge + {} final jobs so far",
            if run.aborted() { "killed" } else { "ok" },
            t.model.live.len(),
            t.model.merges,
            t.model.finals
        );
        if delete_rng.chance(25) {
            let t = &mut tables[delete_rng.below(2)];
            let what = delete_step(t, &mut delete_rng, window_secs);
            eprintln!("step {step} [seed {seed}] {}: {what}", t.name);
            t.check_reader();
        }
        if (step + 1) % FULL_CHECK_EVERY == 0 {
            for t in &tables {
                t.check_rows();
            }
        }
    }

    // Settle: the rest of the files, a compaction with every window closed, gc.
    for t in &mut tables {
        let rest: Vec<PathBuf> = t.queue.drain(..).collect();
        if !rest.is_empty() {
            let (run, added) = add(&t.dir, &rest, None);
            run.expect_ok("final add");
            t.note_added(&added, &run);
        }
        pm(
            &[
                args!["compact"].to_vec(),
                table_args(&t.dir),
                args![
                    "--until-stable",
                    "--merge-factor",
                    "3",
                    "--max-merge-factor",
                    "5",
                    "--maturity-age",
                    format!("{MATURITY_SECS}s"),
                    "--now",
                    final_now.to_string(),
                ]
                .to_vec(),
            ]
            .concat(),
            None,
        )
        .expect_ok("final compact");
        pm(
            &[
                args!["table", "gc"].to_vec(),
                table_args(&t.dir),
                args!["--grace", "0s"].to_vec(),
            ]
            .concat(),
            None,
        )
        .expect_ok("final gc");
        t.sync();
        t.check_catalog();
    }

    for t in &tables {
        let rows = t.check_rows();
        let live = live(&t.dir);
        // (d) no orphan, no temporary, no retired file left.
        assert_no_strays(&t.dir, &live);
        // Every window closed: one split each.
        let windows: BTreeSet<i64> = live.iter().map(|s| s.window_start.unwrap()).collect();
        assert_eq!(
            live.len(),
            WINDOWS,
            "{}: one split per closed window: {live:?}",
            t.name
        );
        assert_eq!(windows.len(), WINDOWS);
        // No job left behind by the killed processes.
        let mut table = open_table(&t.dir);
        let jobs = table.catalog().live_jobs(i64::MIN).unwrap();
        assert!(jobs.is_empty(), "{}: jobs left: {jobs:?}", t.name);
        assert!(table.skipped().unwrap().is_empty());

        // (a) against the ingested files themselves, not the model.
        let mut actual: Vec<String> = rows.into_values().flatten().collect();
        actual.sort();
        let ingested: Vec<&Row> = t.ingested.iter().flat_map(|f| &t.files[f].1).collect();
        assert_eq!(
            t.ingested.len(),
            t.files.len(),
            "{}: every file ingested once",
            t.name
        );
        let expected = t.model.replay(&ingested);
        assert_same_rows(
            &format!(
                "{}: live rows vs the replay of every add and delete",
                t.name
            ),
            &expected,
            &actual,
        );
        if t.model.dedup {
            let mut versions_of: BTreeMap<&str, usize> = BTreeMap::new();
            for r in &ingested {
                *versions_of.entry(&r.key).or_default() += 1;
            }
            let repeated = versions_of.values().filter(|n| **n > 1).count();
            assert!(repeated > 0, "{}: no key was written twice", t.name);
            eprintln!(
                "{}: {} rows ingested, {} kept, {repeated} keys written more than once",
                t.name,
                ingested.len(),
                actual.len()
            );
        }
        // Every window is closed and finally merged: no live row matches a
        // tombstone older than it, and no tombstone is pending any more.
        for id in &t.model.live {
            for r in &t.model.splits[id].rows {
                let hit = t.model.tombstones.iter().find(|tomb| tomb.deletes(r));
                assert!(
                    hit.is_none(),
                    "{}: live row {} matches {hit:?}",
                    t.name,
                    r.text
                );
            }
        }
        let pending = table.catalog().tombstones().unwrap();
        assert!(
            pending.is_empty(),
            "{}: tombstones left: {pending:?}",
            t.name
        );
        let deleted = ingested.len() - actual.len();
        eprintln!(
            "{}: {} tombstones, {deleted} rows gone (deleted or superseded), {} delete + {} purge jobs",
            t.name,
            t.model.tombstones.len(),
            t.model.deletes,
            t.model.purges
        );
        eprintln!(
            "{}: {} files ingested, {} merge + {} final jobs committed",
            t.name,
            t.ingested.len(),
            t.model.merges,
            t.model.finals
        );
        // A window that is down to one split when it closes gets no final merge.
        assert!(
            t.model.merges >= 5 && t.model.finals >= 1,
            "{}: too little happened",
            t.name
        );
    }
    eprintln!(
        "compact_sim: seed {seed}: {} runs, kills {:?}, armed {armed_points:?}, {} armed failpoints not reached, {:.1} s",
        tally.runs,
        tally.kills,
        tally.armed_not_reached,
        started.elapsed().as_secs_f64()
    );
    assert!(tally.total_kills() >= 5, "too few kills: {:?}", tally.kills);
    assert!(tally
        .kills
        .keys()
        .any(|k| k.starts_with("merge.") || k.starts_with("job.") || k.starts_with("catalog.")));
    // Every failpoint a run without --retention can reach was armed at least once
    // (a promise of the default seed's step mix; other seeds may arm fewer).
    let expected: BTreeSet<String> = FAILPOINTS
        .iter()
        .filter(|p| **p != "retention.committed")
        .map(|p| p.to_string())
        .collect();
    if seed == SEED {
        assert_eq!(armed_points, expected, "failpoints never armed");
    }
}
