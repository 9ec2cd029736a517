//! The commit protocol (docs/architecture.md, issue 7): concurrent runs into one directory,
//! no visible partial output after SIGKILL, cleanup of dead runs, no-replace names.
#![cfg(feature = "cli")]

mod common;

use prefix_merge::{InputFile, MergeBuilder};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Names in `dir` that belong to a run's temporary state (temps, locks).
fn run_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pm-"))
        .collect()
}

/// Rows of a Parquet file, read back with parquet-rs (fails on a partial file).
fn file_rows(path: &Path) -> u64 {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .build()
        .unwrap();
    reader.map(|b| b.unwrap().num_rows() as u64).sum()
}

/// Check a manifest's outputs against the files: each exists with the listed rows
/// and bytes. Returns the output paths.
fn check_manifest_outputs(m: &Value) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for o in m["outputs"].as_array().unwrap() {
        let p = PathBuf::from(o["path"].as_str().unwrap());
        assert_eq!(
            file_rows(&p),
            o["rows"].as_u64().unwrap(),
            "{}",
            p.display()
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            o["bytes"].as_u64().unwrap()
        );
        paths.push(p);
    }
    let total: u64 = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(total, m["rows_in"].as_u64().unwrap());
    paths
}

#[test]
fn two_library_merges_into_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let big = common::gen_splits(&dir.path().join("big"), 4, 20_000, 8);
    let small = common::gen_splits(&dir.path().join("small"), 2, 1_500, 3);
    let out = dir.path().join("out");
    let run = |inputs: Vec<PathBuf>, n: usize| {
        let out = out.clone();
        std::thread::spawn(move || MergeBuilder::new(&inputs, &out).num_outputs(n).run())
    };
    let a = run(big, 3);
    let b = run(small, 2);
    let (a, b) = (a.join().unwrap().unwrap(), b.join().unwrap().unwrap());
    assert_ne!(a.run_id, b.run_id);
    let mut all = BTreeSet::new();
    for (r, rows) in [(&a, 80_000u64), (&b, 3_000)] {
        assert_eq!(r.rows_out, rows);
        for o in &r.outputs {
            assert!(
                all.insert(o.path.clone()),
                "{} listed twice",
                o.path.display()
            );
            assert_eq!(file_rows(&o.path), o.rows);
            assert_eq!(InputFile::open(&o.path).unwrap().num_rows(), o.rows);
        }
        assert_eq!(r.outputs.iter().map(|o| o.rows).sum::<u64>(), rows);
    }
    let on_disk: BTreeSet<PathBuf> = common::parquet_files(&out).into_iter().collect();
    assert_eq!(on_disk, all);
    assert_eq!(run_files(&out), Vec::<String>::new());
}

#[test]
fn two_cli_merges_into_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let big = common::gen_splits(&dir.path().join("big"), 4, 20_000, 8);
    let small = common::gen_splits(&dir.path().join("small"), 2, 1_500, 3);
    let out = dir.path().join("out");
    let spawn = |inputs: &[PathBuf], manifest: &str| {
        common::bin()
            .arg("merge")
            .arg("--json")
            .arg("--num-outputs")
            .arg("2")
            .arg("--manifest")
            .arg(out.join(manifest))
            .arg("--output-dir")
            .arg(&out)
            .args(inputs)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn(&big, "a.json");
    let b = spawn(&small, "b.json");
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    let mut listed = BTreeSet::new();
    for (o, manifest, rows) in [(&a, "a.json", 80_000), (&b, "b.json", 3_000)] {
        let printed: Value = serde_json::from_slice(&o.stdout).unwrap();
        let written: Value =
            serde_json::from_slice(&std::fs::read(out.join(manifest)).unwrap()).unwrap();
        assert_eq!(printed, written, "--json prints the manifest");
        assert_eq!(written["rows_out"], rows);
        for p in check_manifest_outputs(&written) {
            assert!(listed.insert(p));
        }
    }
    let on_disk: BTreeSet<PathBuf> = common::parquet_files(&out).into_iter().collect();
    assert_eq!(on_disk, listed);
    assert_eq!(run_files(&out), Vec::<String>::new());
}

#[test]
fn outputs_never_replace_files_and_cleanup_spares_live_runs() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(dir.path(), 2, 2_000, 4);
    let out = dir.path().join("out");
    let first = MergeBuilder::new(&inputs, &out)
        .output_prefix("day1")
        .run()
        .unwrap();
    let before = std::fs::read(&first.outputs[0].path).unwrap();
    // Same prefix again: refused, the existing file is untouched, nothing is left.
    let err = MergeBuilder::new(&inputs, &out)
        .output_prefix("day1")
        .run()
        .unwrap_err();
    assert!(
        matches!(err, prefix_merge::Error::OutputExists { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read(&first.outputs[0].path).unwrap(), before);
    assert_eq!(run_files(&out), Vec::<String>::new());
    // A live run's lock is respected by cleanup; a dead run's files are removed.
    let live = prefix_merge::output::run::RunLock::acquire(&out, &ulid()).unwrap();
    let live_temp = out.join(prefix_merge::output::run::temp_name(
        live.path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_start_matches(".pm-")
            .trim_end_matches(".lock"),
        "00000.parquet",
    ));
    std::fs::write(&live_temp, b"in progress").unwrap();
    let dead_run = ulid();
    let dead_lock = out.join(prefix_merge::output::run::lock_name(&dead_run));
    std::fs::write(&dead_lock, b"").unwrap();
    let dead_temp = out.join(prefix_merge::output::run::temp_name(
        &dead_run,
        "00000.parquet",
    ));
    std::fs::write(&dead_temp, b"half").unwrap();
    let report = prefix_merge::output::cleanup_dir(&out).unwrap();
    assert!(!dead_temp.exists() && !dead_lock.exists());
    assert!(live_temp.exists() && live.path.exists());
    assert_eq!(report.live_runs.len(), 1);
    assert!(
        first.outputs[0].path.exists(),
        "cleanup removed a committed output"
    );
    live.release().unwrap();
    std::fs::remove_file(&live_temp).unwrap();
}

fn ulid() -> String {
    prefix_merge::output::run::new_run_id()
}

/// A tiny deterministic generator (no timing in the assertions: the seed only
/// picks when to kill).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
#[cfg(unix)]
fn sigkill_at_random_moments_never_leaves_a_partial_visible_output() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(dir.path(), 4, 40_000, 12);
    let out = dir.path().join("out");
    let merge = |manifest: &str| {
        let mut c = common::bin();
        c.arg("merge")
            .arg("--num-outputs")
            .arg("4")
            .arg("--manifest")
            .arg(out.join(manifest))
            .arg("--output-dir")
            .arg(&out)
            .args(&inputs)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    // One full run to learn how long a merge takes here (used only to spread the
    // kill moments over it).
    let t0 = std::time::Instant::now();
    assert!(merge("full.json").status().unwrap().success());
    let full_ms = t0.elapsed().as_millis().max(20) as u64;
    let mut seed = 0x5eed_u64;
    let mut killed_mid_run = 0;
    // Kill moments spread over the first 90% of a run; bounded attempts until ten
    // kills have hit a merge still running.
    let mut attempts = 0;
    for i in 0..40 {
        if killed_mid_run >= 10 {
            break;
        }
        attempts += 1;
        let delay = lcg(&mut seed) % (full_ms * 9 / 10);
        let mut child = merge(&format!("m{i}.json")).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        killed_mid_run += usize::from(!finished);
        // Every visible output is complete and readable.
        for p in common::parquet_files(&out) {
            let input = InputFile::open(&p).unwrap_or_else(|e| panic!("after kill {i}: {e}"));
            assert_eq!(file_rows(&p), input.num_rows());
            let report = prefix_merge::verify::verify_file(&p).unwrap();
            assert!(report.ok(), "after kill {i}: {}", p.display());
        }
        // cleanup removes every leftover: after it, each visible output is listed
        // by a published manifest.
        let o = common::bin().arg("cleanup").arg(&out).output().unwrap();
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(run_files(&out), Vec::<String>::new(), "after kill {i}");
        let mut listed = BTreeSet::new();
        for e in std::fs::read_dir(&out).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let m: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                listed.extend(check_manifest_outputs(&m));
            }
        }
        let visible: BTreeSet<PathBuf> = common::parquet_files(&out).into_iter().collect();
        assert_eq!(visible, listed, "after kill {i} and cleanup");
    }
    eprintln!(
        "{killed_mid_run} SIGKILLs hit a running merge in {attempts} attempts (full run {full_ms} ms)"
    );
    assert!(
        killed_mid_run >= 10,
        "only {killed_mid_run} kills hit a running merge"
    );
    // A re-run succeeds.
    assert!(merge("again.json").status().unwrap().success());
}

#[test]
fn cleanup_rolls_back_exactly_what_a_dead_run_published() {
    use prefix_merge::output::run::{lock_name, temp_name, JournalRecord, Publication, RunLock};
    let dir = tempfile::tempdir().unwrap();
    let out = std::fs::canonicalize(dir.path()).unwrap();
    let run = ulid();
    let publication = |i: usize| Publication {
        temp: out.join(temp_name(&run, &format!("{i:05}.parquet"))),
        target: out.join(format!("dead_{i:05}.parquet")),
    };
    let (linked, unlinked_temp_gone, not_yet, foreign) = (
        publication(0),
        publication(1),
        publication(2),
        publication(3),
    );
    let mut lock = RunLock::acquire(&out, &run).unwrap();
    for p in [&linked, &unlinked_temp_gone, &not_yet, &foreign] {
        std::fs::write(&p.temp, b"complete output").unwrap();
    }
    lock.append(&JournalRecord::Publish(vec![
        linked.clone(),
        unlinked_temp_gone.clone(),
        not_yet.clone(),
        foreign.clone(),
    ]))
    .unwrap();
    // The run died while publishing: output 0 linked (temp still there), output 1
    // linked and its temp removed, output 2 not linked yet; output 3's final name
    // belongs to someone else (its link failed).
    std::fs::hard_link(&linked.temp, &linked.target).unwrap();
    std::fs::hard_link(&unlinked_temp_gone.temp, &unlinked_temp_gone.target).unwrap();
    std::fs::remove_file(&unlinked_temp_gone.temp).unwrap();
    std::fs::write(&foreign.target, b"another run's output").unwrap();
    drop(lock); // process death: the advisory lock goes, the lock file stays
    let report = prefix_merge::output::cleanup_dir(&out).unwrap();
    assert_eq!(report.rolled_back_runs, vec![run.clone()]);
    assert!(!linked.target.exists() && !unlinked_temp_gone.target.exists());
    assert!(!not_yet.target.exists());
    assert_eq!(
        std::fs::read(&foreign.target).unwrap(),
        b"another run's output"
    );
    assert!(!out.join(lock_name(&run)).exists());
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["dead_00003.parquet".to_string()]);
    // A committed run is never rolled back, even if it died before removing its lock.
    let run2 = ulid();
    let mut lock = RunLock::acquire(&out, &run2).unwrap();
    let kept = Publication {
        temp: out.join(temp_name(&run2, "00000.parquet")),
        target: out.join("kept_00000.parquet"),
    };
    std::fs::write(&kept.temp, b"x").unwrap();
    lock.append(&JournalRecord::Publish(vec![kept.clone()]))
        .unwrap();
    std::fs::hard_link(&kept.temp, &kept.target).unwrap();
    std::fs::remove_file(&kept.temp).unwrap();
    lock.append(&JournalRecord::Committed).unwrap();
    drop(lock);
    let report = prefix_merge::output::cleanup_dir(&out).unwrap();
    assert!(report.rolled_back_runs.is_empty());
    assert!(kept.target.exists());
    assert!(!out.join(lock_name(&run2)).exists());
}
