//! Compactor simulation with seeded kills (DESIGN §7): two tables (plain and
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

mod common;

use common::table::{
    add, assert_no_strays, assert_same_rows, check_live_set, create_table, file_cells, file_window,
    gen_config, gen_file, history, key_positions, live, open_table, pm, row_text, table_args,
    use_shared_catalog, Run,
};
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
                "merge" | "final" => self.merge(rec),
                other => panic!("unexpected job kind {other}: {rec:?}"),
            }
        }
        self.applied = history.len();
    }

    /// A merge job: inputs (in merge order) in, one output out. Dedup keeps, per
    /// full sort key, the row of the latest add (replay order), whatever the
    /// inputs' levels or their order in the job.
    fn merge(&mut self, rec: &JobRecord) {
        assert!(rec.inputs.len() >= 2, "a merge of < 2 inputs: {rec:?}");
        assert_eq!(
            rec.outputs.len(),
            1,
            "every merge here has one output: {rec:?}"
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
        let rows = if self.dedup {
            let mut best: BTreeMap<&str, &Row> = BTreeMap::new();
            for s in &inputs {
                let mut seen = BTreeSet::new();
                for r in &s.rows {
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
            inputs.iter().flat_map(|s| s.rows.iter().cloned()).collect()
        };
        if rec.kind == "final" {
            self.finals += 1;
        } else {
            self.merges += 1;
        }
        let out = rec.outputs[0].clone();
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

    fn note_added(&mut self, added: &[(PathBuf, String)]) {
        for (file, id) in added {
            let (window, mut rows) = self.files[file].clone();
            let version = self.ingested.len();
            for r in &mut rows {
                r.version = version;
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

    /// Read every live file: verify, windows, and rows == the model's rows.
    fn check_rows(&self) -> BTreeMap<String, Vec<String>> {
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
    file_cells(path)
        .iter()
        .map(|r| Row {
            key: common::table::key_text(r, &key),
            text: row_text(r),
            version,
        })
        .collect()
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
        t.note_added(&added);
        t.sync();
        t.check_catalog();
    }

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
            t.note_added(&added);
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
            t.note_added(&added);
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
        if t.model.dedup {
            // Replay every add in order: the last write of each key wins.
            let mut newest: BTreeMap<&str, &Row> = BTreeMap::new();
            for r in &ingested {
                let e = newest.entry(&r.key).or_insert(r);
                if r.version > e.version {
                    *e = r;
                }
            }
            assert!(
                newest.len() < ingested.len(),
                "the dedup table has duplicates"
            );
            assert_eq!(
                actual.len(),
                newest.len(),
                "dedup: live rows == distinct full sort keys"
            );
            let mut expected: Vec<String> = newest.values().map(|r| r.text.clone()).collect();
            expected.sort();
            assert_same_rows(
                &format!("{}: live rows vs the replay of every add", t.name),
                &expected,
                &actual,
            );
            let mut versions_of: BTreeMap<&str, usize> = BTreeMap::new();
            for r in &ingested {
                *versions_of.entry(&r.key).or_default() += 1;
            }
            let repeated = versions_of.values().filter(|n| **n > 1).count();
            assert!(repeated > 0, "{}: no key was written twice", t.name);
            eprintln!(
                "{}: {} rows ingested, {} distinct keys kept, {repeated} keys written more than once, each with its last write",
                t.name,
                ingested.len(),
                actual.len()
            );
        } else {
            let mut expected: Vec<String> = ingested.iter().map(|r| r.text.clone()).collect();
            expected.sort();
            assert_same_rows(
                &format!("{}: live rows vs ingested", t.name),
                &expected,
                &actual,
            );
        }
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
