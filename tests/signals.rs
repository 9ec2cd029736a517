//! SIGINT and SIGTERM during `merge`, `compact` and `table add --promote` (issue 16):
//! the run stops, removes what it wrote, says so on one line and exits 128 + signal;
//! a second signal exits at once and names `prefix-merge cleanup DIR`.
#![cfg(feature = "cli")]
#![cfg(unix)]

mod common;

use common::table::{create_table, gen_config, gen_file, live};
use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a run may take to reach the moment a test waits for (a guard
/// against a hang, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(300);

/// Names in `dir` that belong to a run's or a copy's temporary state.
fn run_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pm-") || n.ends_with(".tmp"))
        .collect()
}

/// Bytes written so far to the runs' temporary outputs in `dir` (None: none yet).
fn temp_bytes(dir: &Path) -> Option<u64> {
    let entries = std::fs::read_dir(dir).ok()?;
    let sizes: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(".pm-") && name.ends_with(".parquet.tmp")
        })
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .collect();
    (!sizes.is_empty()).then(|| sizes.iter().sum())
}

/// Poll (bounded) until the temporary outputs in `dir` hold at least `bytes`
/// bytes. False when the child ended first.
fn wait_for_temp(child: &mut Child, dir: &Path, bytes: u64) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if temp_bytes(dir).is_some_and(|b| b >= bytes) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    panic!("no temporary output of {bytes} bytes in {}", dir.display());
}

fn send(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {signal}");
}

/// A tiny deterministic generator (the seed picks when to signal).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn merge(out: &Path, inputs: &[PathBuf]) -> Command {
    let mut c = common::bin();
    c.arg("merge")
        .arg("--num-outputs")
        .arg("2")
        .arg("--output-dir")
        .arg(out)
        .args(inputs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn pm(args: &[std::ffi::OsString]) -> Command {
    let mut c = common::bin();
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The run ended through `signal`'s exit code (not killed by it), having printed
/// exactly `line` on stderr.
fn assert_stopped(o: &Output, signal: i32, line: &str) {
    let err = stderr(o);
    assert_eq!(o.status.signal(), None, "killed: {err}");
    assert_eq!(o.status.code(), Some(128 + signal), "stderr: {err}");
    assert_eq!(err.trim_end(), line, "stderr");
}

#[test]
fn a_signal_stops_a_merge_and_removes_everything_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(dir.path(), 4, 40_000, 12);
    // One run without a signal: the size of its outputs spreads the thresholds.
    let full = dir.path().join("full");
    let o = merge(&full, &inputs).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let total: u64 = common::parquet_files(&full)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let mut seed = 0x5167_u64;
    let mut hits = 0;
    let attempts = 8;
    for i in 0..attempts {
        let signal = if i % 3 == 2 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        // Somewhere in the first half of the bytes the run writes.
        let threshold = lcg(&mut seed) % (total / 2);
        let out = dir.path().join(format!("out{i}"));
        let mut child = merge(&out, &inputs).spawn().unwrap();
        if !wait_for_temp(&mut child, &out, threshold) {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
            continue;
        }
        send(&child, signal);
        let o = child.wait_with_output().unwrap();
        assert_stopped(&o, signal, "interrupted: merge stopped, no output written");
        assert_eq!(run_files(&out), Vec::<String>::new(), "after signal {i}");
        assert_eq!(common::parquet_files(&out), Vec::<PathBuf>::new());
        hits += 1;
    }
    eprintln!("{hits} of {attempts} signals hit a running merge ({total} bytes out)");
    assert!(
        hits + 2 >= attempts,
        "only {hits} signals hit a running merge"
    );
}

#[test]
fn a_second_signal_exits_at_once_and_names_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(dir.path(), 4, 40_000, 12);
    let out = dir.path().join("out");
    let mut child = merge(&out, &inputs).spawn().unwrap();
    assert!(wait_for_temp(&mut child, &out, 1), "the merge ended early");
    // Stopped, the process takes both signals only once continued: the second
    // one is always seen while the first one's cancellation is under way.
    send(&child, libc::SIGSTOP);
    send(&child, libc::SIGINT);
    send(&child, libc::SIGTERM);
    send(&child, libc::SIGCONT);
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    let code = o.status.code();
    assert!(
        code == Some(130) || code == Some(143),
        "exit {:?}: {err}",
        o.status
    );
    let hint = format!("prefix-merge cleanup {}", out.display());
    assert!(
        err.contains("interrupted again") && err.contains(&hint),
        "{err}"
    );
    assert!(!err.contains("merge stopped"), "{err}");
    let left = run_files(&out);
    eprintln!("left after the second signal: {left:?}");
    let o = pm(&args!["cleanup", &out]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(run_files(&out), Vec::<String>::new());
    assert_eq!(common::parquet_files(&out), Vec::<PathBuf>::new());
}

/// The live split ids and the `table ls` listing.
fn live_view(table: &Path) -> (BTreeSet<String>, String) {
    let o = pm(&args!["table", "ls", table]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ids = live(table).into_iter().map(|s| s.id).collect();
    (ids, String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn sigint_during_compact_abandons_the_job_and_keeps_the_live_set() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    create_table(&table, false);
    let cfg = gen_config(4, 40_000, 12);
    let files: Vec<PathBuf> = (0..4)
        .map(|f| gen_file(&dir.path().join("in"), &cfg, f, 0, 1))
        .collect();
    let mut add = args!["table", "add", &table].to_vec();
    add.extend(files.iter().map(|f| f.into()));
    let o = pm(&add).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let before = live_view(&table);
    assert_eq!(before.0.len(), 4);
    let splits = table.join("splits");
    let set = args!["table", "settings", &table, "--set", "merge_factor=4"];
    assert!(pm(&set).output().unwrap().status.success());
    let compact = args!["compact", &table];
    let mut child = pm(&compact).spawn().unwrap();
    assert!(wait_for_temp(&mut child, &splits, 1), "compact ended early");
    send(&child, libc::SIGINT);
    let o = child.wait_with_output().unwrap();
    assert_stopped(
        &o,
        libc::SIGINT,
        "interrupted: compact stopped after 0 jobs; running job abandoned, nothing half-committed",
    );
    assert_eq!(run_files(&splits), Vec::<String>::new());
    assert_eq!(live_view(&table), before, "live set changed");
    // The job's leases were released: compacting again merges the same splits.
    let o = pm(&compact).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(live(&table).len(), 1);
}

#[test]
fn sigint_during_table_add_promote_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    create_table(&table, false);
    let cfg = prefix_merge::gen::GenConfig {
        layout: prefix_merge::gen::Layout::Legacy,
        ..gen_config(1, 200_000, 12)
    };
    let file = gen_file(&dir.path().join("in"), &cfg, 0, 0, 1);
    let before = live_view(&table);
    let splits = table.join("splits");
    let add = args!["table", "add", "--promote", &table, &file];
    let mut child = pm(&add).spawn().unwrap();
    assert!(wait_for_temp(&mut child, &splits, 1), "add ended early");
    send(&child, libc::SIGINT);
    let o = child.wait_with_output().unwrap();
    let line = format!(
        "interrupted: table add stopped, {} not added (0 of 1 files added before it)",
        file.display()
    );
    assert_stopped(&o, libc::SIGINT, &line);
    assert_eq!(run_files(&splits), Vec::<String>::new());
    assert_eq!(live_view(&table), before, "live set changed");
    let o = pm(&add).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(live(&table).len(), 1);
}
