//! Every crash input the fuzzers found (fuzz/regressions/) replayed through
//! inspect, verify and merge: each must end in a result or a typed error, never a
//! panic, and a merge that succeeds must write outputs that pass `verify`.

use prefix_merge::inspect::InspectReport;
use prefix_merge::verify::verify_file;
use prefix_merge::{InputFile, MergeBuilder};
use std::path::{Path, PathBuf};

fn regressions() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn corrupt_inputs_give_errors_not_panics() {
    for path in regressions().into_iter().filter(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("corrupt_input-"))
    }) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("input.parquet");
        std::fs::copy(&path, &file).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            if let Ok(input) = InputFile::open(&file) {
                let _ = InspectReport::new(&input).render_text();
            }
            let _ = verify_file(&file);
            // A merge of corrupt input may fail, but if it succeeds its outputs
            // must be sound.
            if let Ok(result) = MergeBuilder::new([&file], dir.path().join("out"))
                .num_outputs(2)
                .run()
            {
                for o in &result.outputs {
                    let report = verify_file(&o.path).map(|r| r.violations);
                    assert!(
                        matches!(&report, Ok(v) if v.is_empty()),
                        "{}: {report:?}",
                        path.display()
                    );
                }
            }
        });
        assert!(
            outcome.is_ok(),
            "{} panicked or merged into unsound output",
            path.display()
        );
        let out = dir.path().join("out");
        if out.exists() {
            for e in std::fs::read_dir(&out).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                assert!(!name.contains("inprogress"), "{name} left behind");
            }
        }
    }
}
