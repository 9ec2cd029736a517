//! Durability of the commit protocol, observed with strace: every output is
//! fsynced before it gets its final name, the directory is fsynced after the
//! names appear, and the manifest is published last. Skipped (with a message)
//! when strace is not installed.
//!
//! The same check by hand:
//! `strace -f -y -e trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2 prefix-merge merge ...`
#![cfg(feature = "cli")]

mod common;

use common::strace;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The CLI binary under test.
fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_prefix-merge"))
}

#[test]
#[cfg(target_os = "linux")]
fn fsync_before_each_publication_and_directory_fsync_after() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = common::gen_splits(dir.path(), 3, 6_000, 6);
    let out = dir.path().join("out");
    let manifest = dir.path().join("manifest.json");
    let log = dir.path().join("strace.log");
    let mut args: Vec<&OsStr> = [
        "merge",
        "--num-outputs",
        "3",
        "--output-prefix",
        "part",
        "--manifest",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    args.push(manifest.as_os_str());
    args.push(OsStr::new("--output-dir"));
    args.push(out.as_os_str());
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    let Some(calls) = strace::trace(&bin(), &args, strace::PUBLICATION_CALLS, &log) else {
        return;
    };
    let text = calls.join("\n");
    let out = std::fs::canonicalize(&out).unwrap();
    let position = |pred: &dyn Fn(&str) -> bool| calls.iter().position(|l| pred(l));
    let dir_text = out.display().to_string();
    let is_dir_fsync = |l: &str, d: &str| strace::is_dir_fsync(l, Path::new(d));
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

/// The indexing-side writer (`gen` writes its files with it) publishes like merge
/// outputs: each file is fsynced under its temporary name, then linked to its
/// final name (never a replacing rename), then the directory is fsynced.
#[test]
#[cfg(target_os = "linux")]
fn split_writer_fsyncs_links_without_replacing_and_fsyncs_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("splits");
    let log = dir.path().join("strace.log");
    let args: Vec<&OsStr> = vec![
        OsStr::new("gen"),
        OsStr::new("--output-dir"),
        out.as_os_str(),
        OsStr::new("--files"),
        OsStr::new("2"),
        OsStr::new("--rows"),
        OsStr::new("500"),
        OsStr::new("--metrics"),
        OsStr::new("3"),
    ];
    let Some(calls) = strace::trace(&bin(), &args, strace::PUBLICATION_CALLS, &log) else {
        return;
    };
    let text = calls.join("\n");
    let out = std::fs::canonicalize(&out).unwrap();
    let position = |from: usize, pred: &dyn Fn(&str) -> bool| {
        calls[from..].iter().position(|l| pred(l)).map(|p| p + from)
    };
    for f in 0..2 {
        let name = format!("split_{f:03}.parquet");
        let temp = format!(".{name}.");
        let synced = position(0, &|l| {
            l.contains("fsync(") && l.contains(&temp) && l.contains(".inprogress>")
        })
        .unwrap_or_else(|| panic!("{name}: no fsync of its temporary file:\n{text}"));
        let linked = position(0, &|l| {
            l.contains("link") && l.contains(&format!("{name}\""))
        })
        .unwrap_or_else(|| panic!("{name}: never linked to its final name:\n{text}"));
        assert!(
            synced < linked,
            "{name}: published before its fsync:\n{text}"
        );
        position(linked, &|l| strace::is_dir_fsync(l, &out))
            .unwrap_or_else(|| panic!("{name}: no directory fsync after its link:\n{text}"));
    }
    assert!(
        !calls.iter().any(|l| l.contains("rename")),
        "a split must not be published by a (replacing) rename:\n{text}"
    );
    assert!(out.join("split_001.parquet").exists());
}
