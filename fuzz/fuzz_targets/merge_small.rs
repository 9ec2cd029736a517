//! End-to-end merge oracle on small structure-aware inputs.
//!
//! 1..=4 files of 0..64 rows with sort columns `a` (string, several encodings),
//! `b` (i64), `c` (string, absent in some files) and optionally `timestamp`
//! (i64, descending by default), small value domains, random directions,
//! P in 0..=2, 1..=3 outputs, small batches, with and without verbatim
//! row-group copies, are written with `write_split` and merged. Checks:
//! - rows_out == rows_in == rows written, and per-output row counts are right;
//! - the outputs, concatenated, are exactly the stable sort of the concatenated
//!   inputs (ties in input order), computed here independently, with every
//!   cell carried intact (a unique `id` column identifies rows);
//! - at most `num_outputs` outputs, none empty, no leftover temporary files;
//! - MS-5 (outputs' key ranges do not overlap) and MS-6 (no series spans two
//!   outputs);
//! - every output keeps P, passes `check_alignment` and `verify_file`.
//!
//! A typed `Err` from writing or merging is accepted unless it is
//! `Error::Invariant` (set PM_FUZZ_STRICT=1 to reject every `Err`).
#![no_main]

use arbitrary::Arbitrary;
use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    UInt32Array,
};
use arrow_schema::{DataType, Field, Schema};
use libfuzzer_sys::fuzz_target;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use prefix_merge::key::{value_at, KeyValue};
use prefix_merge::merge::MergeOptions;
use prefix_merge::plan::check_alignment;
use prefix_merge::verify::verify_file;
use prefix_merge::write::{write_split, SplitConfig};
use prefix_merge::{Error, InputFile, MergeBuilder, SortSchema};
use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

const A: [&str; 6] = ["", "\0", "a", "a\0", "b", "zz"];
const C: [&str; 3] = ["p", "q", "r"];
const MAX_FILES: usize = 4;
const MAX_ROWS: usize = 64;

#[derive(Arbitrary, Debug)]
struct RowSpec {
    a: Option<u8>,
    b: Option<i8>,
    c: Option<u8>,
    ts: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum AEncoding {
    Utf8,
    LargeUtf8,
    Utf8View,
    Dictionary,
}

#[derive(Arbitrary, Debug)]
struct FileSpec {
    rows: Vec<RowSpec>,
    has_c: bool,
    a_encoding: AEncoding,
    /// Put `b` before `a` in the file's columns.
    b_first: bool,
    /// P = 0 only: cut row groups every this many rows.
    max_row_group_rows: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Case {
    first: FileSpec,
    rest: Vec<FileSpec>,
    desc: [bool; 3],
    with_timestamp: bool,
    prefix_len: u8,
    num_outputs: u8,
    batch_rows: u8,
    row_group_rows: u8,
    /// Let the merge copy single-member regions verbatim (the default) or decode
    /// and re-encode everything.
    no_verbatim_copy: bool,
}

/// A normalized row: the sort key plus its unique id.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    a: Option<String>,
    b: Option<i64>,
    c: Option<String>,
    ts: Option<i64>,
    id: u32,
}

fn strict() -> bool {
    std::env::var_os("PM_FUZZ_STRICT").is_some_and(|v| v != "0")
}

/// Accept a typed error unless it reports a broken invariant (or strict mode).
fn tolerate(what: &str, e: Error) {
    if matches!(e, Error::Invariant { .. }) || strict() {
        panic!("{what} failed: {e} ({e:?})");
    }
}

fn normalize(spec: &RowSpec, has_c: bool, with_ts: bool, id: u32) -> Row {
    Row {
        a: spec.a.map(|i| A[i as usize % A.len()].to_string()),
        b: spec.b.map(|b| i64::from(b.rem_euclid(3)) - 1),
        c: if has_c {
            spec.c.map(|i| C[i as usize % C.len()].to_string())
        } else {
            None
        },
        ts: with_ts.then_some(i64::from(spec.ts % 8)),
        id,
    }
}

fn cmp_opt<T: Ord>(x: &Option<T>, y: &Option<T>, desc: bool) -> Ordering {
    match (x, y) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater, // nulls last in both directions
        (Some(_), None) => Ordering::Less,
        (Some(p), Some(q)) if desc => q.cmp(p),
        (Some(p), Some(q)) => p.cmp(q),
    }
}

/// Independent comparison of sort keys (`timestamp` sorts descending by default).
fn compare(x: &Row, y: &Row, desc: [bool; 3]) -> Ordering {
    cmp_opt(&x.a, &y.a, desc[0])
        .then_with(|| cmp_opt(&x.b, &y.b, desc[1]))
        .then_with(|| cmp_opt(&x.c, &y.c, desc[2]))
        .then_with(|| cmp_opt(&x.ts, &y.ts, true))
}

fn batch(spec: &FileSpec, rows: &[Row], with_ts: bool) -> RecordBatch {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let a_values = rows.iter().map(|r| r.a.as_deref());
    let (a_field, a_col): (Field, ArrayRef) = match spec.a_encoding {
        AEncoding::Utf8 => (
            Field::new("a", DataType::Utf8, true),
            Arc::new(a_values.collect::<StringArray>()),
        ),
        AEncoding::LargeUtf8 => (
            Field::new("a", DataType::LargeUtf8, true),
            Arc::new(a_values.collect::<LargeStringArray>()),
        ),
        AEncoding::Utf8View => (
            Field::new("a", DataType::Utf8View, true),
            Arc::new(a_values.collect::<StringViewArray>()),
        ),
        AEncoding::Dictionary => {
            let mut b = StringDictionaryBuilder::<Int32Type>::new();
            a_values.for_each(|v| b.append_option(v));
            (
                Field::new(
                    "a",
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    true,
                ),
                Arc::new(b.finish()),
            )
        }
    };
    let b_field = Field::new("b", DataType::Int64, true);
    let b_col: ArrayRef = Arc::new(rows.iter().map(|r| r.b).collect::<Int64Array>());
    if spec.b_first {
        fields.extend([b_field, a_field]);
        cols.extend([b_col, a_col]);
    } else {
        fields.extend([a_field, b_field]);
        cols.extend([a_col, b_col]);
    }
    if spec.has_c {
        fields.push(Field::new("c", DataType::Utf8, true));
        cols.push(Arc::new(
            rows.iter().map(|r| r.c.as_deref()).collect::<StringArray>(),
        ));
    }
    if with_ts {
        fields.push(Field::new("timestamp", DataType::Int64, false));
        cols.push(Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.ts.unwrap()),
        )));
    }
    fields.push(Field::new("id", DataType::UInt32, false));
    cols.push(Arc::new(UInt32Array::from_iter_values(
        rows.iter().map(|r| r.id),
    )));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("valid batch")
}

fn text(v: KeyValue) -> Option<String> {
    match v {
        KeyValue::Null => None,
        KeyValue::Utf8(s) => Some(s),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn int(v: KeyValue) -> Option<i64> {
    match v {
        KeyValue::Null => None,
        KeyValue::Int(i) => Some(i),
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// All rows of an output file, read with parquet-rs directly.
fn read_rows(path: &Path, with_ts: bool) -> Vec<Row> {
    let file = std::fs::File::open(path).expect("open output");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("output footer")
        .build()
        .expect("output reader");
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.expect("output batch");
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap_or_else(|| panic!("output lacks column {name}"))
                .clone()
        };
        let (a, b, id) = (col("a"), col("b"), col("id"));
        // `c` is absent from the output when no input has it.
        let c = batch.column_by_name("c").cloned();
        let ts = with_ts.then(|| col("timestamp"));
        for r in 0..batch.num_rows() {
            let get = |arr: &ArrayRef| value_at(arr.as_ref(), r).expect("value_at");
            assert!(!id.is_null(r), "null id");
            let id = match get(&id) {
                KeyValue::UInt(v) => u32::try_from(v).unwrap(),
                other => panic!("id is {other:?}"),
            };
            out.push(Row {
                a: text(get(&a)),
                b: int(get(&b)),
                c: c.as_ref().and_then(|c| text(get(c))),
                ts: ts.as_ref().map(|t| int(get(t)).expect("null timestamp")),
                id,
            });
        }
    }
    out
}

fn run(case: Case) {
    let mut files = vec![case.first];
    files.extend(case.rest.into_iter().take(MAX_FILES - 1));
    let desc = case.desc;
    let with_ts = case.with_timestamp;
    let prefix_len = usize::from(case.prefix_len % 3);
    let num_outputs = usize::from(case.num_outputs % 3) + 1;
    let batch_rows = usize::from(case.batch_rows % 16) + 1;
    let row_group_rows = usize::from(case.row_group_rows % 64) + 1;

    let sign = |d: bool| if d { "-" } else { "+" };
    let mut schema_text = format!("{}a|{}b|{}c", sign(desc[0]), sign(desc[1]), sign(desc[2]));
    if with_ts {
        schema_text.push_str("|timestamp");
    }
    let sort: SortSchema = schema_text.parse().expect("sort schema");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    let mut expected: Vec<Row> = Vec::new();
    for (f, spec) in files.iter().enumerate() {
        let rows: Vec<Row> = spec
            .rows
            .iter()
            .take(MAX_ROWS)
            .enumerate()
            .map(|(i, r)| normalize(r, spec.has_c, with_ts, (f * 1000 + i) as u32))
            .collect();
        let b = batch(spec, &rows, with_ts);
        let path = dir.path().join(format!("in_{f}.parquet"));
        let mut config = SplitConfig::new(sort.clone(), prefix_len);
        if prefix_len == 0 {
            config.max_row_group_rows = spec.max_row_group_rows.map(|n| usize::from(n % 16) + 1);
        }
        match write_split(&path, b.schema(), &[b], &config) {
            Ok(summary) => assert_eq!(summary.rows, rows.len() as u64, "write_split row count"),
            Err(e) => return tolerate("write_split", e),
        }
        expected.extend(rows);
        paths.push(path);
    }
    // Stable: ties keep input order (file order, then row order within a file).
    expected.sort_by(|x, y| compare(x, y, desc));

    let out_dir = dir.path().join("out");
    let options = MergeOptions::default()
        .with_batch_rows(batch_rows)
        .with_row_group_rows(row_group_rows)
        .with_verbatim_copy(!case.no_verbatim_copy);
    // Sort column `c` in no input is refused (a typo), never merged as all-null.
    let any_c = files.iter().any(|s| s.has_c);
    let result = match MergeBuilder::new(&paths, &out_dir)
        .num_outputs(num_outputs)
        .options(options)
        .run()
    {
        Ok(r) => r,
        Err(Error::UnknownSortColumn { .. }) if !any_c => return,
        Err(e) => return tolerate("merge", e),
    };
    assert!(any_c, "merged although sort column c is in no input");

    let total = expected.len() as u64;
    assert_eq!(result.rows_in, total, "rows_in");
    assert_eq!(result.rows_out, result.rows_in, "rows_out != rows_in");
    assert!(
        result.outputs.len() <= num_outputs,
        "{} outputs, at most {num_outputs} asked",
        result.outputs.len()
    );
    // Exactly the reported outputs exist, and nothing else (no temporary files).
    let mut on_disk: Vec<_> = std::fs::read_dir(&out_dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    on_disk.sort();
    let mut reported: Vec<_> = result.outputs.iter().map(|o| o.path.clone()).collect();
    reported.sort();
    assert_eq!(on_disk, reported, "files in the output directory");

    let mut got: Vec<Row> = Vec::new();
    let mut bounds: Vec<(Row, Row)> = Vec::new();
    for out in &result.outputs {
        let rows = read_rows(&out.path, with_ts);
        assert!(!rows.is_empty(), "empty output {}", out.path.display());
        assert_eq!(out.rows, rows.len() as u64, "summary rows of {}", out.path.display());

        let input = InputFile::open(&out.path)
            .unwrap_or_else(|e| panic!("output {} does not open: {e}", out.path.display()));
        assert_eq!(input.prefix_len(), prefix_len, "output P");
        assert!(input.sort_schema().same_order(&sort), "output sort schema");
        let report = check_alignment(&input);
        assert!(report.ok(), "alignment of {}: {:?}", out.path.display(), report.violations);
        let deep = verify_file(&out.path)
            .unwrap_or_else(|e| panic!("verify {} failed: {e}", out.path.display()));
        assert!(deep.ok(), "verify {}: {:?}", out.path.display(), deep.violations);

        bounds.push((rows[0].clone(), rows[rows.len() - 1].clone()));
        got.extend(rows);
    }
    assert_eq!(got.len(), expected.len(), "rows read back");
    if got != expected {
        let i = got.iter().zip(&expected).position(|(g, e)| g != e).unwrap();
        panic!(
            "merged rows differ from the stable sort of the inputs at row {i}: got {:?}, expected {:?}",
            got[i], expected[i]
        );
    }
    for w in bounds.windows(2) {
        let (last, first) = (&w[0].1, &w[1].0);
        assert_eq!(
            compare(last, first, desc),
            Ordering::Less,
            "MS-5: outputs overlap: {last:?} / {first:?}"
        );
        assert!(
            (&last.a, &last.b, &last.c) != (&first.a, &first.b, &first.c),
            "MS-6: series spans two outputs: {last:?} / {first:?}"
        );
    }
}

fuzz_target!(|case: Case| run(case));
