//! Table commands outside the crash and concurrency tests: `table add` rejects
//! what the table cannot hold (P, sort schema, a bad claim) with the merge's
//! errors and registers nothing; `--retention` drops whole windows in the catalog
//! first and their files only at gc, after the grace period; `plan` changes
//! nothing.
#![cfg(feature = "postgres")]

mod common;

use common::table::{
    add, create_table, file_window, gen_config, gen_file, live, pm, split_dir_files,
};
use prefix_merge::gen::{generate, GenConfig, Layout};

#[test]
fn add_rejects_other_prefix_len_unless_promoted() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let legacy = GenConfig {
        files: 1,
        rows: 3000,
        layout: Layout::Legacy,
        ..GenConfig::default()
    };
    generate(&tmp.path().join("legacy"), &legacy).unwrap();
    let file = tmp.path().join("legacy/split_000.parquet");
    let (run, added) = add(&table, std::slice::from_ref(&file), None);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(added.is_empty());
    assert!(
        run.stderr.contains("prefix length") && run.stderr.contains("--promote"),
        "{}",
        run.stderr
    );
    assert!(live(&table).is_empty(), "a rejected file is not registered");
    assert!(split_dir_files(&table).is_empty(), "nor copied in");

    let run = pm(
        &[
            "table".as_ref(),
            "add".as_ref(),
            table.as_os_str(),
            "--promote".as_ref(),
            file.as_os_str(),
        ],
        None,
    );
    run.expect_ok("table add --promote");
    let splits = live(&table);
    assert_eq!(splits.len(), 1);
    assert_eq!(splits[0].rows, 3000);
    let out = pm(
        &[
            "verify".as_ref(),
            table
                .join("splits")
                .join(format!("{}.parquet", splits[0].id))
                .as_os_str(),
        ],
        None,
    );
    out.expect_ok("verify the promoted split");
}

#[test]
fn add_rejects_a_file_breaking_its_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let junk = tmp.path().join("junk.parquet");
    std::fs::write(&junk, b"PAR1 not really parquet PAR1").unwrap();
    let (run, added) = add(&table, std::slice::from_ref(&junk), None);
    assert_ne!(run.code, Some(0));
    assert!(added.is_empty());
    assert!(run.stderr.contains("junk.parquet"), "{}", run.stderr);
    assert!(live(&table).is_empty());
}

#[test]
fn retention_drops_old_windows_catalog_first_files_at_gc() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t");
    create_table(&table, false);
    let cfg = gen_config(6, 300, 3);
    let files: Vec<_> = (0..6)
        .map(|f| gen_file(&tmp.path().join("in"), &cfg, f, f % 2, 1))
        .collect();
    let (run, added) = add(&table, &files, None);
    run.expect_ok("table add");
    assert_eq!(added.len(), 6);
    let (start0, secs) = file_window(&files[0]);
    let (start0, secs) = (start0.unwrap(), secs.unwrap() as i64);
    // Window 0 ended 90 min + secs/2 before `now`, window 1 `secs` later: with a
    // 90 min retention only window 0 is past it.
    let now = start0 + secs + 90 * 60 + secs / 2;
    let retention = ["--retention", "90m", "--now", &now.to_string()];
    let before = split_dir_files(&table);

    let plan = pm(
        &[
            &["plan", table.to_str().unwrap(), "--json"][..],
            &retention[..],
        ]
        .concat(),
        None,
    );
    plan.expect_ok("plan");
    let jobs: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let kinds: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"retention"), "{kinds:?}");
    assert_eq!(live(&table).len(), 6, "plan changes nothing");

    pm(
        &[&["compact", table.to_str().unwrap()][..], &retention[..]].concat(),
        None,
    )
    .expect_ok("compact --retention");
    let left = live(&table);
    assert!(!left.is_empty());
    assert!(
        left.iter().all(|s| s.window_start != Some(start0)),
        "window 0 is dropped from the live set: {left:?}"
    );
    assert_eq!(split_dir_files(&table), before, "files stay until gc");

    let within = pm(
        &["table", "gc", table.to_str().unwrap(), "--grace", "1h"],
        None,
    );
    within.expect_ok("gc within grace");
    assert!(
        within.stdout.contains(
            "replaced splits wait for their grace period (1h); the first is collectable at "
        ),
        "{}",
        within.stdout
    );
    let line = within.stdout.trim_end();
    assert!(
        line.ends_with("(in 1h)") || line.ends_with("(in 59m)"),
        "{line}"
    );
    let json = pm(
        &[
            "table",
            "gc",
            table.to_str().unwrap(),
            "--grace",
            "1h",
            "--json",
        ],
        None,
    );
    json.expect_ok("gc --json within grace");
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let waiting = &report["waiting"];
    assert!(waiting["splits"].as_u64().unwrap() > 0, "{report}");
    assert!(
        waiting["first_collectable_at"]
            .as_str()
            .unwrap()
            .ends_with('Z'),
        "{report}"
    );
    assert!(waiting["first_collectable_in_secs"].as_u64().unwrap() <= 3600);
    assert_eq!(
        split_dir_files(&table),
        before,
        "inside the grace period nothing is deleted"
    );
    pm(
        &["table", "gc", table.to_str().unwrap(), "--grace", "0s"],
        None,
    )
    .expect_ok("gc");
    let expected: std::collections::BTreeSet<String> =
        left.iter().map(|s| format!("{}.parquet", s.id)).collect();
    assert_eq!(
        split_dir_files(&table),
        expected,
        "only live splits' files remain"
    );
}
