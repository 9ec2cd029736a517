//! Compaction across processes sharing a PostgreSQL catalog and a bucket (moto),
//! both started by the test: ingestion (`table add`) runs from another process
//! throughout while three `compact --until-stable` workers run at once; one is
//! SIGKILLed mid-job (merged, not committed), one is stopped (SIGSTOP, at a failpoint between its
//! merge and its commit) until its lease has expired by the database's clock
//! and then resumed: its commit must be fenced. Then, after a last compaction
//! and gc: live rows = ingested rows, no split is an input of two committed
//! jobs, no window is mixed, every live split verifies, the bucket holds
//! exactly the live splits and no multipart upload is open.
#![cfg(all(feature = "cli", feature = "object-store"))]

mod common;

use common::postgres::PgServer;
use common::s3::S3Server;
use common::table::{
    assert_same_rows, check_live_set, file_rows, gen_config, gen_file, gen_schema, open_table,
    use_shared_catalog, Run, FAILPOINT_ENV,
};
use prefix_merge::compact::JobRecord;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "fleet";
const TABLE: &str = "metrics";
const FILES: usize = 40;
const WINDOWS: usize = 4;
/// Files added before the workers start (the rest arrive during compaction).
const FIRST: usize = 16;

struct Fleet {
    _pg: PgServer,
    s3: S3Server,
    url: String,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// `prefix-merge ARGS --catalog URL --work-dir W` with the bucket's
    /// credentials, and `failpoint` armed if given.
    fn command(&self, args: &[OsString], failpoint: Option<&str>) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_prefix-merge"));
        c.args(args)
            .arg("--catalog")
            .arg(&self.url)
            .arg("--work-dir")
            .arg(self.work())
            .envs(self.s3.env())
            .env_remove("PREFIX_MERGE_CATALOG");
        match failpoint {
            Some(fp) => c.env(FAILPOINT_ENV, fp),
            None => c.env_remove(FAILPOINT_ENV),
        };
        c
    }

    fn run(&self, args: &[OsString]) -> Run {
        let out = self.command(args, None).output().unwrap();
        let run = Run {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        run.expect_ok(&format!("{args:?}"));
        run
    }

    fn spawn(&self, args: &[OsString], failpoint: Option<&str>) -> Child {
        self.command(args, failpoint)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn storage(&self) -> prefix_merge::storage::Storage {
        prefix_merge::storage::Storage::with_options([
            format!("aws_endpoint={}", self.s3.endpoint),
            format!("aws_access_key_id={}", self.s3.key),
            format!("aws_secret_access_key={}", self.s3.secret),
            "allow_http=true".to_string(),
            "aws_region=us-east-1".to_string(),
            "aws_virtual_hosted_style_request=false".to_string(),
        ])
        .unwrap()
    }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// The state letter of process `pid` (`T`: stopped), None once it is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Wait (bounded) until `child` stops at its failpoint.
fn wait_stopped(child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} ended before reaching its failpoint: {status:?}");
        }
        if proc_state(child.id()) == Some('T') {
            return;
        }
        assert!(Instant::now() < deadline, "{what} never stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn finish(child: Child, what: &str) -> Run {
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("{what}: exit {:?} signal {:?}", run.code, run.signal);
    run
}

/// Outcomes named `outcome` in a `compact --json` report.
fn jobs_with(report: &Value, outcome: &str) -> Vec<String> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["outcome"] == outcome)
        .map(|j| j["job"].as_str().unwrap().to_string())
        .collect()
}

/// Replay the history: no split is an input of two jobs, every input was live
/// before its job; returns the live set it implies.
fn replay(history: &[JobRecord]) -> BTreeSet<String> {
    let mut live = BTreeSet::new();
    let mut taken_by: HashMap<String, String> = HashMap::new();
    for rec in history {
        for id in &rec.inputs {
            if let Some(other) = taken_by.insert(id.clone(), rec.job.clone()) {
                panic!(
                    "split {id} is an input of job {other} and of job {}",
                    rec.job
                );
            }
            assert!(
                live.remove(id),
                "job {} took {id}, never live before",
                rec.job
            );
        }
        live.extend(rec.outputs.iter().cloned());
    }
    live
}

#[test]
fn fleet_of_workers_with_a_kill_and_a_stall() {
    let Some(pg) = PgServer::start() else { return };
    let Some(s3) = S3Server::start() else { return };
    s3.make_bucket(BUCKET);
    let url = pg.database("fleet");
    let fleet = Fleet {
        _pg: pg,
        s3,
        url,
        dir: tempfile::tempdir().unwrap(),
    };
    let root = fleet.dir.path();
    let config = gen_config(FILES, 200, 3);
    let files: Vec<PathBuf> = (0..FILES)
        .map(|f| gen_file(&root.join("in"), &config, f, f % WINDOWS, 1))
        .collect();
    let splits_url = format!("s3://{BUCKET}/{TABLE}");
    let schema = gen_schema();
    fleet.run(&os(&[
        "table",
        "create",
        TABLE,
        "--splits-url",
        &splits_url,
        "--sort-schema",
        &schema,
        "--set",
        "merge_factor=3",
        "--set",
        "max_merge_factor=4",
    ]));
    let add_args = |files: &[PathBuf]| {
        let mut a = os(&["table", "add", TABLE]);
        a.extend(files.iter().map(OsString::from));
        a
    };
    fleet.run(&add_args(&files[..FIRST]));

    // Ingestion from another process, throughout.
    let ingest = fleet.spawn(&add_args(&files[FIRST..]), None);
    let compact = |lease: &str| {
        os(&[
            "compact",
            TABLE,
            "--until-stable",
            "--lease",
            lease,
            "--json",
        ])
    };
    // The staller: stops between its merge (outputs uploaded) and its commit.
    let mut staller = fleet.spawn(&compact("3s"), Some("merge.published:1:stop"));
    wait_stopped(&mut staller, "the staller");
    let staller_pid = staller.id();
    // The victim: stopped mid-job (its merge published, not committed), then
    // SIGKILLed there: its output is an orphan for the others' sweeps. (Not
    // mid-upload: a kill between the store creating a multipart upload and the
    // journal recording its id leaks an upload no journal names; see the
    // README's object storage section on incomplete uploads.)
    let mut victim = fleet.spawn(&compact("10m"), Some("merge.published:1:stop"));
    wait_stopped(&mut victim, "the victim");
    victim.kill().unwrap();
    let victim = finish(victim, "victim");
    assert_eq!(victim.signal, Some(9), "the victim was killed: {victim:?}");
    let worker = fleet.spawn(&compact("10m"), None);

    // Wait (bounded) until the staller's lease has expired by the database's
    // clock, then let it go on.
    let catalog_dir = root.join("catalog-view");
    use_shared_catalog(&catalog_dir, &fleet.url, TABLE);
    let staller_owner = format!(":{staller_pid}:");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut t = open_table(&catalog_dir);
        let held = t
            .catalog()
            .live_jobs(0)
            .unwrap()
            .iter()
            .any(|l| l.owner.contains(&staller_owner));
        if !held {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the staller's lease never expired"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let resumed = Command::new("kill")
        .args(["-CONT", &staller_pid.to_string()])
        .status()
        .unwrap();
    assert!(resumed.success());

    let staller = finish(staller, "staller");
    assert!(staller.ok(), "{staller:?}");
    let worker = finish(worker, "worker");
    assert!(worker.ok(), "{worker:?}");
    finish(ingest, "ingest").expect_ok("ingestion");
    let staller_report: Value = serde_json::from_str(&staller.stdout).unwrap();
    let fenced = jobs_with(&staller_report, "fenced");
    assert_eq!(
        fenced.len(),
        1,
        "the stalled commit is fenced: {staller_report}"
    );
    let worker_report: Value = serde_json::from_str(&worker.stdout).unwrap();
    eprintln!(
        "staller: {} committed, {} fenced; worker: {} committed",
        jobs_with(&staller_report, "committed").len(),
        fenced.len(),
        jobs_with(&worker_report, "committed").len()
    );

    // Settle: compact until stable, then gc with no grace.
    fleet.run(&compact("10m"));
    fleet.run(&os(&["table", "gc", TABLE, "--grace", "0s"]));

    let mut t = open_table(&catalog_dir);
    let history = t.catalog().history().unwrap();
    assert!(
        history.iter().all(|r| r.job != fenced[0]),
        "the fenced job is not in the history"
    );
    let implied = replay(&history);
    let live = t.live().unwrap();
    let live_ids: BTreeSet<String> = live.iter().map(|s| s.id.clone()).collect();
    assert_eq!(live_ids, implied, "catalog live set vs history replay");
    assert!(
        t.catalog().live_jobs(0).unwrap().is_empty(),
        "no lease left"
    );
    assert!(history.iter().filter(|r| r.kind != "add").count() >= 3);

    // The bucket holds exactly the live splits; no upload is open.
    let mut objects: Vec<String> = fleet
        .s3
        .list_objects(BUCKET, &format!("{TABLE}/"))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    objects.sort();
    let expected: Vec<String> = live_ids
        .iter()
        .map(|id| format!("{TABLE}/{id}.parquet"))
        .collect();
    assert_eq!(objects, expected, "bucket vs live splits");
    let uploads = fleet.s3.list_uploads(BUCKET);
    if !uploads.is_empty() {
        eprintln!(
            "live: {live_ids:?}\nhistory: {:?}\nvictim stderr:\n{}\nstaller stderr:\n{}\nworker stderr:\n{}\nwork dir: {:?}",
            history.iter().map(|r| &r.job).collect::<Vec<_>>(),
            victim.stderr,
            staller.stderr,
            worker.stderr,
            std::fs::read_dir(fleet.work().join(TABLE).join("splits"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        );
    }
    assert_eq!(
        fleet.s3.list_uploads(BUCKET),
        Vec::<(String, String)>::new()
    );

    // Every live split, read back: it verifies, its rows are in its window, and
    // the rows together are the ingested rows.
    let storage = fleet.storage();
    std::fs::create_dir_all(catalog_dir.join("splits")).unwrap();
    for id in &live_ids {
        let object = storage
            .resolve(Path::new(&format!("{splits_url}/{id}.parquet")))
            .unwrap()
            .remote()
            .cloned()
            .unwrap();
        let size = object.size().unwrap().unwrap();
        let bytes = object.get_range(0..size).unwrap();
        std::fs::write(
            catalog_dir.join("splits").join(format!("{id}.parquet")),
            bytes,
        )
        .unwrap();
    }
    let (_, rows) = check_live_set(&catalog_dir);
    let mut actual: Vec<String> = rows.into_values().flatten().collect();
    actual.sort();
    let mut ingested: Vec<String> = files.iter().flat_map(|f| file_rows(f)).collect();
    ingested.sort();
    assert_eq!(actual.len(), FILES * 200, "live rows = ingested rows");
    assert_same_rows("live rows vs ingested", &ingested, &actual);
}
