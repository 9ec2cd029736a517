//! The PostgreSQL catalog on a real server the test starts: schema and
//! migration, several tables in one database, sequence numbers, idempotent
//! adds, claims that skip locked rows, leases timed by the database's clock and
//! fenced at commit.
#![cfg(feature = "postgres")]

mod common;

use common::postgres::PgServer;
use prefix_merge::compact::{
    Catalog, JobRecord, Lease, PgCatalog, Split, SplitState, TableSettings,
};
use prefix_merge::Error;
use std::time::{Duration, Instant};

fn settings() -> TableSettings {
    TableSettings::new("metric_name|timestamp".into(), 1, false)
}

fn split(id: &str, source: Option<&str>) -> Split {
    Split {
        id: id.into(),
        rows: 10,
        bytes: 100,
        window_start: Some(0),
        window_secs: Some(3600),
        level: 0,
        seq_min: 0,
        seq_max: 0,
        min_key: "a".into(),
        max_key: "z".into(),
        first_prefix: None,
        last_prefix: None,
        time_min: None,
        time_max: None,
        source: source.map(String::from),
        created_at: 0,
        state: SplitState::Live,
        retired_at: None,
        skipped: None,
        lease_until: None,
        applied_seq: 0,
    }
}

fn record(job: &str, kind: &str, inputs: &[&str], outputs: &[&str]) -> JobRecord {
    JobRecord {
        job: job.into(),
        kind: kind.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        bytes_in: 0,
        bytes_out: 0,
        committed_at: 0,
    }
}

fn lease(job: &str, secs: i64) -> Lease {
    Lease {
        job: job.into(),
        owner: "test:1:1".into(),
        until: 1000 + secs,
    }
}

/// Add split `id` through an add job (no inputs), as `table add` does.
fn add(c: &mut PgCatalog, id: &str) {
    let job = format!("add-{id}");
    assert!(c.begin_job(&lease(&job, 600), &[], 1000).unwrap());
    c.commit_job(
        &record(&job, "add", &[], &[id]),
        &[split(id, Some(&format!("src-{id}")))],
        SplitState::Replaced,
        0,
    )
    .unwrap();
}

/// The stalled worker's commit of its merge of add-1 and add-2.
fn commit_stalled(c: &mut PgCatalog) -> prefix_merge::Result<()> {
    c.commit_job(
        &record(
            "merge-stalled",
            "merge",
            &["add-1", "add-2"],
            &["merge-stalled_00000"],
        ),
        &[split("merge-stalled_00000", None)],
        SplitState::Replaced,
        1000,
    )
}

fn live_ids(c: &mut PgCatalog) -> Vec<String> {
    c.splits(&[SplitState::Live])
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

#[test]
fn tables_sequences_and_idempotent_adds() {
    let Some(pg) = PgServer::start() else { return };
    let url = pg.database("cat");
    let mut a = PgCatalog::open(&url, "alpha").unwrap();
    assert!(a.settings().unwrap().is_none(), "no table before create");
    a.create(&settings(), "s3://bucket/alpha").unwrap();
    let again = PgCatalog::open(&url, "alpha")
        .unwrap()
        .create(&settings(), "x");
    assert!(matches!(again, Err(Error::Catalog { .. })), "{again:?}");
    let mut b = PgCatalog::open(&url, "beta").unwrap();
    b.create(&settings(), "/tmp/beta").unwrap();
    assert_eq!(a.settings().unwrap(), Some(settings()));
    assert_eq!(a.location().unwrap().as_deref(), Some("s3://bucket/alpha"));

    for id in ["add-1", "add-2", "add-3"] {
        add(&mut a, id);
    }
    add(&mut b, "add-9");
    let seqs: Vec<(u64, u64)> = a
        .splits(&[SplitState::Live])
        .unwrap()
        .iter()
        .map(|s| (s.seq_min, s.seq_max))
        .collect();
    assert_eq!(seqs, vec![(1, 1), (2, 2), (3, 3)], "adds numbered in order");
    assert_eq!(live_ids(&mut b), vec!["add-9"], "tables are apart");
    assert_eq!(b.splits(&[SplitState::Live]).unwrap()[0].seq_min, 1);

    // The same content again: refused as a duplicate, nothing changes.
    assert!(a.begin_job(&lease("add-dup", 600), &[], 1000).unwrap());
    let dup = a.commit_job(
        &record("add-dup", "add", &[], &["add-dup"]),
        &[split("add-dup", Some("src-add-2"))],
        SplitState::Replaced,
        0,
    );
    match dup {
        Err(Error::DuplicateContent { existing, .. }) => assert_eq!(existing, "add-2"),
        other => panic!("expected a duplicate: {other:?}"),
    }
    a.abandon_job("add-dup").unwrap();
    assert_eq!(
        a.find_source("src-add-2").unwrap().map(|s| s.id).as_deref(),
        Some("add-2")
    );

    // A merge spans its inputs' sequence range; inputs retire, history records it.
    assert!(a
        .begin_job(
            &lease("merge-1", 600),
            &["add-1".into(), "add-3".into()],
            1000
        )
        .unwrap());
    a.commit_job(
        &record("merge-1", "merge", &["add-1", "add-3"], &["merge-1_00000"]),
        &[split("merge-1_00000", None)],
        SplitState::Replaced,
        0,
    )
    .unwrap();
    let live = a.splits(&[SplitState::Live]).unwrap();
    let merged = live.iter().find(|s| s.id == "merge-1_00000").unwrap();
    assert_eq!((merged.seq_min, merged.seq_max), (1, 3));
    assert_eq!(live_ids(&mut a), vec!["add-2", "merge-1_00000"]);
    let replaced = a.splits(&[SplitState::Replaced]).unwrap();
    assert!(replaced.iter().all(|s| s.retired_at.is_some()));
    let history = a.history().unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[3].inputs, vec!["add-1", "add-3"]);

    // gc forgets retired splits; the live set before that is then refused.
    let retired_at = replaced[0].retired_at.unwrap();
    a.forget(&["add-1".into(), "add-3".into()]).unwrap();
    assert!(a.splits(&[SplitState::Replaced]).unwrap().is_empty());
    assert!(a.live_at(retired_at - 1).is_err());
    assert_eq!(a.live_at(retired_at + 1).unwrap().len(), 2);

    // A reopened catalog finds the schema in place (version recorded once).
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i32> = c
        .query("SELECT version FROM pm_schema", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        versions,
        vec![prefix_merge::compact::postgres::SCHEMA_VERSION]
    );
}

#[test]
fn claims_skip_locked_rows_and_taken_splits() {
    let Some(pg) = PgServer::start() else { return };
    let url = pg.database("claims");
    let mut a = PgCatalog::open(&url, "t").unwrap();
    a.create(&settings(), "/tmp/t").unwrap();
    for id in ["add-1", "add-2", "add-3"] {
        add(&mut a, id);
    }
    // Another transaction holds a row lock on add-1 (a claim in progress): a
    // claim of it returns at once, claiming nothing.
    let mut other = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut tx = other.transaction().unwrap();
    tx.query(
        "SELECT id FROM pm_splits WHERE tbl = 't' AND id = 'add-1' FOR UPDATE",
        &[],
    )
    .unwrap();
    let started = Instant::now();
    let got = a
        .begin_job(
            &lease("merge-a", 600),
            &["add-1".into(), "add-2".into()],
            1000,
        )
        .unwrap();
    assert!(!got, "a locked row is not claimed");
    assert!(a.live_jobs(0).unwrap().is_empty(), "nothing claimed");
    tx.rollback().unwrap();
    eprintln!(
        "claim with a locked row returned in {:?}",
        started.elapsed()
    );

    assert!(a
        .begin_job(
            &lease("merge-a", 600),
            &["add-1".into(), "add-2".into()],
            1000
        )
        .unwrap());
    let mut b = PgCatalog::open(&url, "t").unwrap();
    assert!(
        !b.begin_job(
            &lease("merge-b", 600),
            &["add-2".into(), "add-3".into()],
            1000
        )
        .unwrap(),
        "a split under an unexpired lease is taken"
    );
    assert!(b
        .begin_job(&lease("merge-c", 600), &["add-3".into()], 1000)
        .unwrap());
    let jobs: Vec<String> = b.live_jobs(0).unwrap().into_iter().map(|l| l.job).collect();
    assert_eq!(jobs, vec!["merge-a", "merge-c"]);
}

/// Wait (bounded) until the database's clock has passed job's lease.
fn wait_expired(c: &mut PgCatalog, job: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.live_jobs(0).unwrap().iter().any(|l| l.job == job) {
        assert!(Instant::now() < deadline, "lease of {job} never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_worker_past_its_lease_cannot_commit() {
    let Some(pg) = PgServer::start() else { return };
    let url = pg.database("fence");
    let mut stalled = PgCatalog::open(&url, "t").unwrap();
    stalled.create(&settings(), "/tmp/t").unwrap();
    for id in ["add-1", "add-2", "add-3", "add-4"] {
        add(&mut stalled, id);
    }
    let inputs = vec!["add-1".to_string(), "add-2".to_string()];
    // A one-second lease; the caller's clock says 1000 (its value is ignored:
    // only the length counts, the database's clock decides).
    assert!(stalled
        .begin_job(&lease("merge-stalled", 1), &inputs, 1000)
        .unwrap());
    wait_expired(&mut stalled, "merge-stalled");
    // Its heartbeat wakes up too late: an expired lease is not revived.
    assert!(!stalled.renew("merge-stalled", 2000).unwrap());
    // Still in the catalog (nobody reaped it), but expired: fenced.
    let refused = commit_stalled(&mut stalled);
    assert!(
        matches!(&refused, Err(Error::LeaseLost { job, .. }) if job == "merge-stalled"),
        "{refused:?}"
    );
    assert_eq!(live_ids(&mut stalled).len(), 4, "nothing committed");

    // Another worker reaps it and takes the inputs over; the stalled one then
    // finds its lease gone.
    let mut other = PgCatalog::open(&url, "t").unwrap();
    assert_eq!(other.expire_jobs(0).unwrap(), vec!["merge-stalled"]);
    assert!(other
        .begin_job(&lease("merge-new", 600), &inputs, 1000)
        .unwrap());
    let refused = commit_stalled(&mut stalled);
    assert!(
        matches!(refused, Err(Error::LeaseLost { .. })),
        "{refused:?}"
    );
    other
        .commit_job(
            &record(
                "merge-new",
                "merge",
                &["add-1", "add-2"],
                &["merge-new_00000"],
            ),
            &[split("merge-new_00000", None)],
            SplitState::Replaced,
            1000,
        )
        .unwrap();
    assert_eq!(
        live_ids(&mut other),
        vec!["add-3", "add-4", "merge-new_00000"]
    );
    let history = other.history().unwrap();
    assert!(history.iter().all(|r| r.job != "merge-stalled"));

    // A renewed lease outlives its first length: renewals keep it held.
    assert!(other
        .begin_job(&lease("merge-renewed", 3), &["add-3".into()], 1000)
        .unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        assert!(other.renew("merge-renewed", now() + 3).unwrap());
        std::thread::sleep(Duration::from_millis(300));
    }
    other
        .commit_job(
            &record(
                "merge-renewed",
                "merge",
                &["add-3"],
                &["merge-renewed_00000"],
            ),
            &[split("merge-renewed_00000", None)],
            SplitState::Replaced,
            1000,
        )
        .unwrap();
}

fn now() -> i64 {
    prefix_merge::compact::worker::now_secs()
}

/// Tombstones share the adds' sequence, per table; retiring is idempotent; a
/// split's applied tombstones survive the commit; a catalog of schema version 1
/// (before deletes) is migrated in place and keeps its splits and numbers.
#[test]
fn tombstones_take_the_next_number_and_version_1_migrates() {
    let Some(pg) = PgServer::start() else { return };
    let url = pg.database("tomb");
    let mut a = PgCatalog::open(&url, "alpha").unwrap();
    a.create(&settings(), "/tmp/alpha").unwrap();
    let mut b = PgCatalog::open(&url, "beta").unwrap();
    b.create(&settings(), "/tmp/beta").unwrap();
    add(&mut a, "add-1");
    let t = a.add_tombstone("host = 'x'", Some(10), None, 0).unwrap();
    assert_eq!((t.seq, t.from, t.to), (2, Some(10), None));
    add(&mut a, "add-2");
    let u = a.add_tombstone("host = 'y'", None, None, 0).unwrap();
    assert_eq!(u.seq, 4, "adds and deletes share one sequence");
    assert!(b.tombstones().unwrap().is_empty(), "tables are apart");
    assert_eq!(a.tombstones().unwrap(), vec![t.clone(), u.clone()]);
    a.retire_tombstone(t.id, 0).unwrap();
    a.retire_tombstone(t.id, 0).unwrap();
    assert_eq!(a.tombstones().unwrap(), vec![u.clone()]);

    // A merge output that applied tombstone u keeps that fact.
    assert!(a
        .begin_job(
            &lease("merge-1", 600),
            &["add-1".into(), "add-2".into()],
            1000
        )
        .unwrap());
    let mut out = split("merged", None);
    out.applied_seq = u.seq;
    a.commit_job(
        &record("merge-1", "merge", &["add-1", "add-2"], &["merged"]),
        &[out],
        SplitState::Replaced,
        0,
    )
    .unwrap();
    let live = a.splits(&[SplitState::Live]).unwrap();
    assert_eq!(
        live.iter()
            .map(|s| (s.id.as_str(), s.seq_min, s.seq_max, s.applied_seq))
            .collect::<Vec<_>>(),
        vec![("merged", 1, 3, 4)]
    );

    // Back to schema version 1, as a catalog written before deletes.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "DROP TABLE pm_tombstones; ALTER TABLE pm_splits DROP COLUMN applied_seq;
             DELETE FROM pm_schema; INSERT INTO pm_schema (version) VALUES (1);",
        )
        .unwrap();
    let mut a = PgCatalog::open(&url, "alpha").unwrap();
    let live = a.splits(&[SplitState::Live]).unwrap();
    assert_eq!(
        live.iter()
            .map(|s| (s.id.as_str(), s.seq_min, s.seq_max, s.applied_seq))
            .collect::<Vec<_>>(),
        vec![("merged", 1, 3, 0)],
        "migrated: splits and numbers kept, nothing applied"
    );
    assert!(a.tombstones().unwrap().is_empty());
    let v = a.add_tombstone("host = 'z'", None, None, 0).unwrap();
    assert_eq!(v.seq, 5, "the sequence continues after migration");
    let version: i32 = client
        .query_one("SELECT max(version) FROM pm_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, prefix_merge::compact::postgres::SCHEMA_VERSION);
}
