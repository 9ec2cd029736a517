//! MS-7: peak heap of a merge is bounded by pages and fan-in, not by rows.
//! A counting global allocator measures the peak while merging; rows grow 10x.
//! The inputs are opened first and their parsed footers (row-group metadata, which
//! grows with the number of row groups, not with pages) are reported separately.
//!
//! Slow in debug builds, so ignored by default; run with
//! `cargo test --release --test memory_bound -- --ignored --nocapture`.

use prefix_merge::gen::{generate, GenConfig, Layout};
use prefix_merge::{InputFile, MergeBuilder};
use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The allocator counts the whole process: tests measuring it run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Heap held by the inputs' parsed footers (O(row groups x columns): metadata, not
/// pages), and the peak heap above that while merging them. `promote` asks the
/// legacy adapter to promote the inputs to that prefix length.
fn merge_peak(inputs: &[PathBuf], out: &Path, promote: Option<usize>) -> (usize, usize) {
    let before_open = CURRENT.load(Ordering::SeqCst);
    let opened: Vec<InputFile> = inputs.iter().map(|p| InputFile::open(p).unwrap()).collect();
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let mut builder = MergeBuilder::from_inputs(opened, out).num_outputs(2);
    if let Some(p) = promote {
        builder = builder.promote_prefix_len(p);
    }
    let result = builder.run().unwrap();
    assert_eq!(result.rows_in, result.rows_out);
    (base - before_open, PEAK.load(Ordering::SeqCst) - base)
}

fn data(dir: &Path, name: &str, layout: Layout, rows: usize, metrics: usize) -> Vec<PathBuf> {
    let cfg = GenConfig {
        files: 4,
        rows,
        metrics,
        layout,
        ..GenConfig::default()
    };
    generate(&dir.join(name), &cfg)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect()
}

fn mib(b: usize) -> f64 {
    b as f64 / (1 << 20) as f64
}

/// Merge `rows` and `10 * rows` rows per file (4 files; metrics scaled by
/// `metrics_grow` so region sizes stay fixed when it is 10) and assert that the
/// merge's peak heap grows by at most 25%.
fn assert_bounded(
    label: &str,
    layout: Layout,
    rows: usize,
    metrics_grow: usize,
    promote: Option<usize>,
) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let small = data(dir.path(), "small", layout, rows, 20);
    let large = data(dir.path(), "large", layout, 10 * rows, 20 * metrics_grow);
    let (f1, p1) = merge_peak(&small, &dir.path().join("o1"), promote);
    let (f10, p10) = merge_peak(&large, &dir.path().join("o10"), promote);
    println!(
        "{label}: merge peak heap {:.1} MiB at {:.1}M rows, {:.1} MiB at {:.1}M rows (input footers {:.2} / {:.2} MiB)",
        mib(p1),
        (4 * rows) as f64 / 1e6,
        mib(p10),
        (40 * rows) as f64 / 1e6,
        mib(f1),
        mib(f10)
    );
    assert!(
        p10 as f64 <= 1.25 * p1 as f64,
        "{label}: peak grew from {p1} to {p10} bytes"
    );
}

#[test]
#[ignore = "release-mode memory measurement; see module docs"]
fn aligned_peak_does_not_grow_with_rows() {
    // Same region size (10,000 rows per file and metric), 10x the regions.
    assert_bounded("aligned", Layout::Aligned, 200_000, 10, None);
}

#[test]
#[ignore = "release-mode memory measurement; see module docs"]
fn single_row_group_p0_peak_stays_bounded() {
    assert_bounded("P=0 single row group", Layout::Single, 400_000, 1, None);
}

#[test]
#[ignore = "release-mode memory measurement; see module docs"]
fn legacy_promoted_peak_does_not_grow_with_rows() {
    // Legacy files (row groups of 10,000 rows, P = 0) promoted to P = 1; regions keep
    // their size (10,000 rows per file and metric) while rows grow 10x.
    assert_bounded(
        "legacy promoted to P=1",
        Layout::Legacy,
        200_000,
        10,
        Some(1),
    );
}
