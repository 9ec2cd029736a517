//! Writer options on `merge` (issue 16, item 5): compression, data page size,
//! row-group row cap and bloom filters, each read back from the outputs with
//! parquet-rs; outputs stay sorted with every row; bad values are one usage
//! error line before any work.
#![cfg(feature = "cli")]

mod common;

use common::{merge_cli, parquet_files, read_rows, Cell};
use parquet::basic::Compression;
use parquet::bloom_filter::Sbbf;
use parquet::column::page::Page;
use parquet::file::reader::{FileReader, SerializedFileReader};
use prefix_merge::gen::{generate, GenConfig, Layout, Overlap};
use prefix_merge::plan::check_alignment;
use prefix_merge::verify::verify_file;
use prefix_merge::{Error, InputFile, MergeBuilder, WriterOptions};
use std::cmp::Ordering;
use std::fs::File;
use std::path::{Path, PathBuf};

const SORT_COLUMNS: [&str; 8] = [
    "metric_name",
    "service",
    "env",
    "datacenter",
    "region",
    "host",
    "timeseries_id",
    "timestamp_secs",
];
/// The series columns: every sort column but the trailing time column.
const SERIES_LEN: usize = 7;

/// Small generated splits, series interleaved across files (so regions merge).
fn inputs(dir: &Path, layout: Layout) -> Vec<PathBuf> {
    let cfg = GenConfig {
        files: 3,
        rows: 2_000,
        metrics: 4,
        layout,
        overlap: Overlap::Interleave,
        ..GenConfig::default()
    };
    generate(&dir.join(format!("in-{layout:?}")), &cfg)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect()
}

fn rows_of(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .map(|f| InputFile::open(f).unwrap().num_rows())
        .sum()
}

/// Run the CLI merge into `out`; it must succeed.
fn merge_ok(out: &Path, extra: &[&str], inputs: &[PathBuf]) -> Vec<PathBuf> {
    let o = merge_cli(out, extra, inputs);
    assert!(
        o.status.success(),
        "{extra:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    parquet_files(out)
}

/// Sort order of the sort schema (timestamp_secs descending, nulls last).
fn compare(a: &[Cell], b: &[Cell]) -> Ordering {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let o = match (x, y) {
            (Cell::Null, Cell::Null) => Ordering::Equal,
            (Cell::Null, _) => Ordering::Greater,
            (_, Cell::Null) => Ordering::Less,
            _ => x.partial_cmp(y).unwrap(),
        };
        let o = if i == SERIES_LEN { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Outputs keep every row, each is sorted with its claim kept (verify), and
/// they follow each other in key order without sharing a series (MS-5, MS-6).
fn assert_sorted_and_complete(outputs: &[PathBuf], inputs: &[PathBuf]) {
    assert!(!outputs.is_empty());
    assert_eq!(rows_of(outputs), rows_of(inputs), "rows out == rows in");
    let mut previous: Option<Vec<Cell>> = None;
    for o in outputs {
        assert!(verify_file(o).unwrap().ok(), "{}", o.display());
        let rows = read_rows(o, &SORT_COLUMNS);
        for w in rows.windows(2) {
            assert_ne!(compare(&w[0], &w[1]), Ordering::Greater, "{}", o.display());
        }
        if let (Some(p), Some(first)) = (&previous, rows.first()) {
            assert_eq!(compare(p, first), Ordering::Less, "MS-5 at {}", o.display());
            assert_ne!(
                p[..SERIES_LEN],
                first[..SERIES_LEN],
                "MS-6 at {}",
                o.display()
            );
        }
        previous = rows.last().cloned();
    }
}

fn reader(path: &Path) -> SerializedFileReader<File> {
    SerializedFileReader::new(File::open(path).unwrap()).unwrap()
}

/// Per data page of column `column` in every row group of `path`: its
/// uncompressed body size, and whether it is dictionary-encoded.
fn data_pages(path: &Path, column: usize) -> Vec<(usize, bool)> {
    let r = reader(path);
    let mut pages = Vec::new();
    for rg in 0..r.num_row_groups() {
        let mut pr = r
            .get_row_group(rg)
            .unwrap()
            .get_column_page_reader(column)
            .unwrap();
        while let Some(page) = pr.get_next_page().unwrap() {
            if let Page::DataPage { buf, encoding, .. } = &page {
                let dict = matches!(
                    encoding,
                    parquet::basic::Encoding::RLE_DICTIONARY
                        | parquet::basic::Encoding::PLAIN_DICTIONARY
                );
                pages.push((buf.len(), dict));
            }
        }
    }
    pages
}

fn column_index(path: &Path, name: &str) -> usize {
    let r = reader(path);
    let descr = r.metadata().file_metadata().schema_descr_ptr();
    let columns = descr.columns();
    columns.iter().position(|c| c.name() == name).unwrap()
}

#[test]
fn compression_applies_to_every_column_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path(), Layout::Aligned);
    let cases = [
        ("zstd(9)", Compression::ZSTD(Default::default())),
        ("lz4", Compression::LZ4_RAW),
        ("snappy", Compression::SNAPPY),
        ("none", Compression::UNCOMPRESSED),
    ];
    for (spec, want) in cases {
        let out = dir.path().join(format!("out-{spec}"));
        let outputs = merge_ok(
            &out,
            &["--compression", spec, "--num-outputs", "2"],
            &inputs,
        );
        for o in &outputs {
            for rg in reader(o).metadata().row_groups() {
                for c in rg.columns() {
                    // Levels are not recorded in files: compare codecs only.
                    assert_eq!(
                        std::mem::discriminant(&c.compression()),
                        std::mem::discriminant(&want),
                        "{spec}: {} in {}",
                        c.column_path(),
                        o.display()
                    );
                }
            }
        }
        assert_sorted_and_complete(&outputs, &inputs);
    }
}

#[test]
fn data_page_size_limits_pages() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path(), Layout::Aligned);
    let limit = 1024usize;
    let small = merge_ok(
        &dir.path().join("small"),
        &["--data-page-size", "1KiB"],
        &inputs,
    );
    let default = merge_ok(&dir.path().join("default"), &[], &inputs);
    assert_sorted_and_complete(&small, &inputs);
    let num_columns = reader(&small[0])
        .metadata()
        .file_metadata()
        .schema_descr()
        .num_columns();
    let host = column_index(&small[0], "host");
    let count = |files: &[PathBuf], column: usize| -> usize {
        files.iter().map(|f| data_pages(f, column).len()).sum()
    };
    let descr = reader(&small[0])
        .metadata()
        .file_metadata()
        .schema_descr_ptr();
    for column in 0..num_columns {
        // String columns go through the dictionary transcoder, which checks the
        // limit every row; parquet-rs checks it every 1024 values (of 8 bytes
        // at most here).
        let transcoded = descr.column(column).physical_type() == parquet::basic::Type::BYTE_ARRAY;
        let slack = if transcoded { 64 } else { 1024 * 8 + 64 };
        for f in &small {
            for (size, _) in data_pages(f, column) {
                assert!(
                    size <= limit + slack,
                    "column {column}: page of {size} bytes"
                );
            }
        }
    }
    // The string column goes through the dictionary transcoder: the limit cuts
    // its pages too.
    let (with_limit, without) = (count(&small, host), count(&default, host));
    assert!(
        with_limit > without,
        "host: {with_limit} pages with a 1 KiB limit, {without} without"
    );
    let all = |files: &[PathBuf]| (0..num_columns).map(|c| count(files, c)).sum::<usize>();
    assert!(all(&small) > all(&default));
}

/// Series key (the series columns) of every row of `path`, per row group.
fn series_per_row_group(path: &Path) -> Vec<Vec<Vec<Cell>>> {
    let rows = read_rows(path, &SORT_COLUMNS[..SERIES_LEN]);
    let mut at = 0usize;
    reader(path)
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| {
            let n = rg.num_rows() as usize;
            at += n;
            rows[at - n..at].to_vec()
        })
        .collect()
}

/// Longest run of one series in the inputs' merged order (all rows of a series,
/// wherever they come from).
fn longest_series(inputs: &[PathBuf]) -> usize {
    let mut counts = std::collections::HashMap::new();
    for i in inputs {
        for row in read_rows(i, &SORT_COLUMNS[..SERIES_LEN]) {
            *counts.entry(format!("{row:?}")).or_insert(0usize) += 1;
        }
    }
    counts.into_values().max().unwrap()
}

/// Every row group holds at most `cap` rows plus the rest of the series it
/// crosses the cap in, and every row group but the last of a file ends at a
/// series boundary after at least `cap` rows.
fn assert_row_groups_capped(outputs: &[PathBuf], cap: usize, longest: usize) {
    for o in outputs {
        let groups = series_per_row_group(o);
        for (i, g) in groups.iter().enumerate() {
            assert!(
                g.len() < cap + longest,
                "{}: rg {i} of {}",
                o.display(),
                g.len()
            );
            if let Some(next) = groups.get(i + 1) {
                assert_ne!(g.last(), next.first(), "rg {i} ends inside a series");
            }
        }
    }
}

#[test]
fn max_row_group_rows_caps_p0_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path(), Layout::Single);
    let cap = 500;
    let longest = longest_series(&inputs);
    assert!(longest < cap, "the test needs series shorter than the cap");
    let outputs = merge_ok(
        &dir.path().join("out"),
        &["--max-row-group-rows", "500"],
        &inputs,
    );
    assert_sorted_and_complete(&outputs, &inputs);
    assert_row_groups_capped(&outputs, cap, longest);
    for o in &outputs {
        let groups = series_per_row_group(o);
        assert!(
            groups.len() >= 6_000 / (cap + longest),
            "{} row groups",
            groups.len()
        );
        for g in &groups[..groups.len() - 1] {
            assert!(g.len() >= cap, "a row group closed before the cap");
        }
    }
}

#[test]
fn max_row_group_rows_on_aligned_outputs_keeps_pa3() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path(), Layout::Aligned);
    let cap = 400;
    let longest = longest_series(&inputs);
    assert!(longest < cap, "the test needs series shorter than the cap");
    // Every metric (region) has about 1,500 rows: each must continue in
    // further outputs instead of getting a second row group in one file.
    let outputs = merge_ok(
        &dir.path().join("out"),
        &["--max-row-group-rows", "400", "--num-outputs", "1"],
        &inputs,
    );
    assert_sorted_and_complete(&outputs, &inputs);
    assert_row_groups_capped(&outputs, cap, longest);
    assert!(outputs.len() > 4, "{} outputs", outputs.len());
    for o in &outputs {
        let f = InputFile::open(o).unwrap();
        assert_eq!(f.prefix_len(), 1);
        let report = check_alignment(&f);
        assert!(report.ok(), "{}: {report:?}", o.display());
        // PA-3 directly: the metric of each row group differs from the others'.
        let metrics: Vec<Cell> = series_per_row_group(o)
            .iter()
            .map(|g| g[0][0].clone())
            .collect();
        for (i, m) in metrics.iter().enumerate() {
            assert!(!metrics[..i].contains(m), "{}: {m:?} twice", o.display());
        }
    }
}

fn bloom_filter(
    r: &SerializedFileReader<File>,
    rg: usize,
    column: usize,
    file: &File,
) -> Option<Sbbf> {
    let chunk = r.metadata().row_group(rg).column(column);
    Sbbf::read_from_column_chunk(chunk, file).unwrap()
}

#[test]
fn bloom_filter_on_named_columns_only() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path(), Layout::Aligned);
    // The generated inputs carry no bloom filter.
    for i in &inputs {
        let r = reader(i);
        for rg in r.metadata().row_groups() {
            assert!(rg
                .columns()
                .iter()
                .all(|c| c.bloom_filter_offset().is_none()));
        }
    }
    let outputs = merge_ok(
        &dir.path().join("out"),
        &["--bloom-filter", "host,timeseries_id"],
        &inputs,
    );
    assert_sorted_and_complete(&outputs, &inputs);
    for o in &outputs {
        let r = reader(o);
        let file = File::open(o).unwrap();
        let host = column_index(o, "host");
        let tsid = column_index(o, "timeseries_id");
        let rows = read_rows(o, &["host", "timeseries_id"]);
        for rg in 0..r.num_row_groups() {
            for c in 0..r.metadata().row_group(rg).num_columns() {
                let filter = bloom_filter(&r, rg, c, &file);
                assert_eq!(filter.is_some(), c == host || c == tsid, "column {c}");
            }
        }
        // Every value of the file is in its row group's filter (one per file here
        // is enough to prove the filter holds the data, not an empty set).
        let host_filter = bloom_filter(&r, 0, host, &file).unwrap();
        let tsid_filter = bloom_filter(&r, 0, tsid, &file).unwrap();
        let n = r.metadata().row_group(0).num_rows() as usize;
        for row in &rows[..n] {
            if let Cell::Str(h) = &row[0] {
                assert!(host_filter.check(&h.as_str()), "{h}");
            }
            let Cell::Int(id) = row[1] else { panic!() };
            assert!(tsid_filter.check(&id), "{id}");
        }
    }
}

/// Files a failed run might have left: outputs or its own temporary files.
fn run_files(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Err(_) => Vec::new(), // never created
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".parquet") || n.starts_with(".pm-"))
            .collect(),
    }
}

#[test]
fn bad_values_are_one_usage_error_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path(), Layout::Aligned);
    let cases = [
        ("--compression", "zstd(99)"),
        ("--compression", "brotli"),
        ("--data-page-size", "0"),
        ("--max-row-group-rows", "0"),
        ("--bloom-filter", "nosuchcol"),
    ];
    for (i, (flag, value)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("out-{i}"));
        let o = merge_cli(&out, &[flag, value], &inputs);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert_eq!(lines.len(), 1, "{flag} {value}: {stderr}");
        let line = lines[0];
        assert!(line.starts_with("error: "), "{line}");
        assert!(line.contains(flag) && line.contains(value), "{line}");
        assert!(
            !line.contains("InvalidArgument"),
            "no Debug formatting: {line}"
        );
        assert_eq!(run_files(&out), Vec::<String>::new(), "{flag} {value}");
    }
    // The unknown bloom-filter column lists the columns there are.
    let o = merge_cli(
        &dir.path().join("x"),
        &["--bloom-filter", "host,nosuchcol"],
        &inputs,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("'nosuchcol'") && stderr.contains("metric_name, service"),
        "{stderr}"
    );
}

#[test]
fn library_rejects_unknown_bloom_column_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path(), Layout::Aligned);
    let out = dir.path().join("out");
    let options = WriterOptions::new().with_bloom_filter_columns(["nosuchcol"]);
    let e = MergeBuilder::new(&inputs, &out)
        .writer_options(options)
        .run()
        .unwrap_err();
    match &e {
        Error::UnknownColumn {
            column, available, ..
        } => {
            assert_eq!(column, "nosuchcol");
            assert!(available.contains("host"), "{available}");
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(run_files(&out).is_empty());
}
