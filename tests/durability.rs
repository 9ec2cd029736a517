//! Durability of the commit protocol, observed with strace: every output is
//! fsynced before it gets its final name, the directory is fsynced after the
//! names appear, and the manifest is published last. Skipped (with a message)
//! when strace is not installed.
//!
//! The same check by hand:
//! `strace -f -y -e trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2 prefix-merge merge ...`
#![cfg(feature = "cli")]

mod common;

use std::path::Path;
use std::process::Command;

#[test]
#[cfg(target_os = "linux")]
fn fsync_before_each_publication_and_directory_fsync_after() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipping: strace is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(dir.path(), 3, 6_000, 6);
    let out = dir.path().join("out");
    let manifest = dir.path().join("manifest.json");
    let log = dir.path().join("strace.log");
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2",
        ])
        .arg(env!("CARGO_BIN_EXE_prefix-merge"))
        .arg("merge")
        .args(["--num-outputs", "3", "--output-prefix", "part"])
        .arg("--manifest")
        .arg(&manifest)
        .arg("--output-dir")
        .arg(&out)
        .args(&inputs)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::fs::canonicalize(&out).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("resumed>") && !l.contains("+++"))
        .collect();
    let position = |pred: &dyn Fn(&str) -> bool| calls.iter().position(|l| pred(l));
    let dir_text = out.display().to_string();
    let is_dir_fsync = |l: &str, d: &str| l.contains("fsync(") && l.contains(&format!("<{d}>"));
    let mut last_link = 0;
    for i in 0..3 {
        let temp = format!(".{i:05}.parquet.tmp>");
        let target = format!("part_{i:05}.parquet");
        let synced = position(&|l| l.contains("fsync(") && l.contains(&temp))
            .unwrap_or_else(|| panic!("no fsync of output {i}:\n{text}"));
        let linked = position(&|l| l.contains("link") && l.contains(&target))
            .unwrap_or_else(|| panic!("output {i} never published:\n{text}"));
        assert!(
            synced < linked,
            "output {i} published before its fsync:\n{text}"
        );
        assert!(
            !calls
                .iter()
                .any(|l| l.contains("rename") && l.contains(&target)),
            "publication must not be a replacing rename:\n{text}"
        );
        last_link = last_link.max(linked);
    }
    let dir_sync = calls[last_link..]
        .iter()
        .position(|l| is_dir_fsync(l, &dir_text))
        .map(|p| p + last_link)
        .unwrap_or_else(|| panic!("no directory fsync after the outputs:\n{text}"));
    // The manifest: fsynced, then published after the outputs' directory fsync,
    // then its own directory fsynced.
    let mdir = std::fs::canonicalize(dir.path()).unwrap();
    let mlink = position(&|l| l.contains("link") && l.contains("manifest.json\""))
        .unwrap_or_else(|| panic!("manifest never published:\n{text}"));
    let msync = position(&|l| l.contains("fsync(") && l.contains(".manifest.tmp>"))
        .unwrap_or_else(|| panic!("manifest never fsynced:\n{text}"));
    assert!(msync < mlink && dir_sync < mlink, "{text}");
    assert!(
        calls[mlink..]
            .iter()
            .any(|l| is_dir_fsync(l, &mdir.display().to_string())),
        "no fsync of the manifest's directory:\n{text}"
    );
    assert!(Path::new(&manifest).exists());
}
