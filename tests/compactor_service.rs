//! `prefix-merge compactor run` on a PostgreSQL catalog the test starts: its
//! /metrics show the queue draining to 0 and the committed jobs, /healthz and
//! /readyz answer; SIGTERM exits 0 with no lease held. SIGTERM mid-job with a
//! job slower than the drain timeout: the job is cancelled (nothing of it
//! committed or visible), its lease released, exit 0.
#![cfg(feature = "cli")]

mod common;

use common::postgres::PgServer;
use common::table::{
    add, create_table, gen_config, gen_file, open_table, pm, split_dir_files, table_args,
    use_shared_catalog, FAILPOINT_ENV,
};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 24;

/// A table `t` of `FILES` generated splits over 4 windows in a catalog.
fn table(pg: &PgServer, db: &str, root: &Path) -> (String, PathBuf) {
    let url = pg.database(db);
    let dir = root.join("t");
    use_shared_catalog(&dir, &url, "t");
    create_table(&dir, false);
    let mut a = args!["table", "settings"].to_vec();
    a.extend(table_args(&dir));
    a.extend(args![
        "--set",
        "merge_factor=3",
        "--set",
        "max_merge_factor=4"
    ]);
    pm(&a, None).expect_ok("table settings");
    let cfg = gen_config(FILES, 200, 3);
    let files: Vec<PathBuf> = (0..FILES)
        .map(|f| gen_file(&root.join("in"), &cfg, f, f % 4, 1))
        .collect();
    add(&dir, &files, None).0.expect_ok("table add");
    (url, dir)
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn start(url: &str, root: &Path, extra: &[&str], failpoint: Option<&str>) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prefix-merge"));
    c.args(["compactor", "run", "--catalog", url, "--table", "t"])
        .arg("--work-dir")
        .arg(root.join("work"))
        .args(["--poll-interval", "200ms"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match failpoint {
        Some(fp) => c.env(FAILPOINT_ENV, fp),
        None => c.env_remove(FAILPOINT_ENV),
    };
    c.spawn().unwrap()
}

/// GET `path` from `addr`: (status code, body); None while nothing listens.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// The value of the sample `name` (with its labels) in a metrics text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// SIGTERM `child` and wait (bounded) for it to exit; its exit code and stderr.
fn terminate(mut child: Child, within: Duration) -> (Option<i32>, String) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the compactor did not exit within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), None);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// No lease held; every file in `splits/` is a split the catalog knows (no
/// temporary, no unregistered output).
fn assert_clean(dir: &Path) {
    let mut t = open_table(dir);
    let jobs = t.catalog().live_jobs(0).unwrap();
    assert!(jobs.is_empty(), "leases left: {jobs:?}");
    let known: BTreeSet<String> = t
        .catalog()
        .splits(&[
            prefix_merge::compact::SplitState::Live,
            prefix_merge::compact::SplitState::Replaced,
        ])
        .unwrap()
        .into_iter()
        .map(|s| format!("{}.parquet", s.id))
        .collect();
    let files = split_dir_files(dir);
    let unknown: Vec<_> = files.difference(&known).collect();
    assert!(unknown.is_empty(), "files no split owns: {unknown:?}");
}

#[test]
fn service_drains_the_queue_and_stops_on_sigterm() {
    let Some(pg) = PgServer::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (url, dir) = table(&pg, "drain", tmp.path());
    let mut plan = args!["plan"].to_vec();
    plan.extend(table_args(&dir));
    plan.push("--json".into());
    let planned: serde_json::Value =
        serde_json::from_str(&pm(&plan, None).expect_ok("plan").stdout).unwrap();
    let queued = planned["jobs"].as_array().unwrap().len();
    assert!(queued > 0, "jobs to do before the service starts");

    let addr = free_addr();
    let child = start(
        &url,
        tmp.path(),
        &["--metrics-addr", &addr, "--jobs", "2"],
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let metrics = loop {
        assert!(Instant::now() < deadline, "the queue never drained");
        if let Some((200, m)) = get(&addr, "/metrics") {
            let pending = sample(&m, "prefix_merge_pending_jobs_table{table=\"t\"}");
            let committed = sample(&m, "prefix_merge_jobs_committed_total").unwrap_or(0.0);
            if pending == Some(0.0) && committed > 0.0 {
                break m;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(get(&addr, "/healthz").unwrap().0, 200);
    assert_eq!(get(&addr, "/readyz").unwrap().0, 200);
    assert_eq!(get(&addr, "/nothing").unwrap().0, 404);
    let history = open_table(&dir).catalog().history().unwrap();
    let merges = history.iter().filter(|r| r.kind != "add").count();
    assert_eq!(
        sample(&metrics, "prefix_merge_jobs_committed_total"),
        Some(merges as f64),
        "committed jobs in the metrics vs the catalog's history"
    );
    let started = sample(&metrics, "prefix_merge_jobs_started_total").unwrap();
    assert_eq!(
        sample(&metrics, "prefix_merge_job_duration_seconds_count"),
        Some(started)
    );
    assert!(sample(&metrics, "prefix_merge_catalog_round_trips_total").unwrap() > 0.0);
    assert!(sample(&metrics, "prefix_merge_rows_merged_total").unwrap() > 0.0);
    let replan = pm(&plan, None);
    replan.expect_ok("plan after");
    let after: serde_json::Value = serde_json::from_str(&replan.stdout).unwrap();
    assert_eq!(
        after["jobs"].as_array().unwrap().len(),
        0,
        "nothing left to do"
    );

    // $PREFIX_MERGE_CATALOG names the catalog when --catalog is not given.
    let ls = Command::new(env!("CARGO_BIN_EXE_prefix-merge"))
        .args(["table", "ls", "t"])
        .env("PREFIX_MERGE_CATALOG", &url)
        .output()
        .unwrap();
    assert!(ls.status.success(), "{ls:?}");
    let live = open_table(&dir).live().unwrap();
    assert!(String::from_utf8_lossy(&ls.stdout).contains(&live[0].id));

    let (code, stderr) = terminate(child, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    let job_lines = stderr
        .lines()
        .filter(|l| l.contains("job committed"))
        .count();
    assert_eq!(
        job_lines, merges,
        "one log line per committed job:\n{stderr}"
    );
    assert_clean(&dir);
}

#[test]
fn sigterm_mid_job_cancels_it_after_the_drain_timeout() {
    let Some(pg) = PgServer::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (url, dir) = table(&pg, "cancel", tmp.path());
    // Its first job sleeps 20 s in the merge: longer than the drain timeout.
    let child = start(
        &url,
        tmp.path(),
        &["--drain-timeout", "1s"],
        Some("merge.progress:1:sleep=20"),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        assert!(Instant::now() < deadline, "no job started");
        let jobs = open_table(&dir).catalog().live_jobs(0).unwrap();
        if let Some(l) = jobs.first() {
            break l.job.clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (code, stderr) = terminate(child, Duration::from_secs(90));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("drain timeout"), "{stderr}");
    let history = open_table(&dir).catalog().history().unwrap();
    assert!(
        history.iter().all(|r| r.job != job),
        "the cancelled job {job} committed:\n{stderr}"
    );
    assert_clean(&dir);
}
