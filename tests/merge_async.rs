//! The tokio front: `run_async` gives the same result as `run`, and dropping its
//! future cancels the merge and leaves no file behind.

mod common;

use prefix_merge::merge::MergeOptions;
use prefix_merge::MergeBuilder;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

fn inputs(dir: &std::path::Path) -> Vec<PathBuf> {
    common::gen_splits(dir, 3, 20_000, 4)
}

#[test]
fn run_async_matches_run() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let sync = MergeBuilder::new(&inputs, dir.path().join("a"))
        .num_outputs(2)
        .run()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let async_result = rt
        .block_on(
            MergeBuilder::new(&inputs, dir.path().join("b"))
                .num_outputs(2)
                .run_async(),
        )
        .unwrap();
    assert_eq!(sync.rows_out, async_result.rows_out);
    let rows = |r: &prefix_merge::MergeResult| {
        r.outputs
            .iter()
            .map(|o| (o.rows, o.first_key.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&sync), rows(&async_result));
}

#[test]
fn dropping_the_future_cancels_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let out = dir.path().join("out");
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let first = AtomicBool::new(true);
    // Small windows so that the merge is mid-way when the first progress report comes.
    let options = MergeOptions::default().with_batch_rows(256);
    let builder = MergeBuilder::new(&inputs, &out)
        .num_outputs(2)
        .options(options)
        .on_progress(move |_, _| {
            if first.swap(false, Ordering::SeqCst) {
                let _ = started_tx.send(());
                // Hold the merge here until the test has dropped the future.
                let _ = release_rx.lock().unwrap().recv();
            }
        });
    let cancel = builder.cancel_flag();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let fut = builder.run_async();
        tokio::pin!(fut);
        tokio::select! {
            _ = &mut fut => panic!("merge finished before it could be cancelled"),
            _ = started_rx.recv() => {}
        }
        // `fut` is dropped here, mid-merge.
    });
    assert!(
        cancel.load(Ordering::SeqCst),
        "dropping the future sets the cancel flag"
    );
    // The writer thread opens the first output while the merge is held; wait for it
    // (bounded) so the test shows that files the run created are removed.
    let partial = || {
        std::fs::read_dir(&out).ok().is_some_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(".pm-") && name.ends_with(".parquet.tmp")
            })
        })
    };
    for _ in 0..10_000 {
        if partial() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let was_writing = partial();
    release_tx.send(()).unwrap();
    assert!(was_writing, "merge was writing");
    drop(rt); // waits for the blocking task, which stops and removes its files
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The trap of issue 20: a flag taken from `cancel_flag()` before `options(..)`
/// must still cancel the merge (old code replaced the flag with the options').
#[test]
fn cancel_flag_taken_before_options_still_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let out = dir.path().join("out");
    let builder = MergeBuilder::new(&inputs, &out).num_outputs(2);
    let cancel = builder.cancel_flag();
    let builder = builder.options(MergeOptions::default());
    cancel.store(true, Ordering::SeqCst);
    let err = builder.run().expect_err("a cancelled merge must fail");
    assert!(
        matches!(err, prefix_merge::Error::Cancelled),
        "expected Error::Cancelled, got: {err}"
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}
