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

#[test]
#[ignore = "release-mode memory measurement; see module docs"]
fn aligned_peak_does_not_grow_with_rows() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // Same region size (10,000 rows per file and metric), 10x the regions.
    let small = data(dir.path(), "small", Layout::Aligned, 200_000, 20);
    let large = data(dir.path(), "large", Layout::Aligned, 2_000_000, 200);
    let (f1, p1) = merge_peak(&small, &dir.path().join("o1"), None);
    let (f10, p10) = merge_peak(&large, &dir.path().join("o10"), None);
    println!(
        "aligned: merge peak heap {:.1} MiB at 0.8M rows, {:.1} MiB at 8M rows (input footers {:.1} / {:.1} MiB)",
        mib(p1), mib(p10), mib(f1), mib(f10)
    );
    assert!(
        p10 as f64 <= 1.25 * p1 as f64,
        "peak grew from {p1} to {p10} bytes"
    );
}

#[test]
#[ignore = "release-mode memory measurement; see module docs"]
fn single_row_group_p0_peak_stays_bounded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let small = data(dir.path(), "small", Layout::Single, 400_000, 20);
    let large = data(dir.path(), "large", Layout::Single, 4_000_000, 20);
    let (f1, p1) = merge_peak(&small, &dir.path().join("o1"), None);
    let (f10, p10) = merge_peak(&large, &dir.path().join("o10"), None);
    println!(
        "P=0 single row group: merge peak heap {:.1} MiB at 1.6M rows, {:.1} MiB at 16M rows (input footers {:.2} / {:.2} MiB)",
        mib(p1), mib(p10), mib(f1), mib(f10)
    );
    assert!(
        p10 as f64 <= 1.25 * p1 as f64,
        "peak grew from {p1} to {p10} bytes"
    );
}

#[test]
#[ignore = "release-mode memory measurement; see module docs"]
fn legacy_promoted_peak_does_not_grow_with_rows() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // Legacy files (row groups of 10,000 rows, P = 0) promoted to P = 1; regions keep
    // their size (10,000 rows per file and metric) while rows grow 10x.
    let small = data(dir.path(), "small", Layout::Legacy, 200_000, 20);
    let large = data(dir.path(), "large", Layout::Legacy, 2_000_000, 200);
    let (f1, p1) = merge_peak(&small, &dir.path().join("o1"), Some(1));
    let (f10, p10) = merge_peak(&large, &dir.path().join("o10"), Some(1));
    println!(
        "legacy promoted to P=1: merge peak heap {:.1} MiB at 0.8M rows, {:.1} MiB at 8M rows (input footers {:.2} / {:.2} MiB)",
        mib(p1), mib(p10), mib(f1), mib(f10)
    );
    assert!(
        p10 as f64 <= 1.25 * p1 as f64,
        "peak grew from {p1} to {p10} bytes"
    );
}
