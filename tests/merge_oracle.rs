//! The engine's oracle: random inputs written with the aligned writer are merged;
//! the concatenated outputs must equal the stable sort of the concatenated inputs
//! (ties in input order), and MC-1..4, MS-5, MS-6, PA-1 and PA-3 must hold on every
//! output, checked with the same code as `inspect`; `verify` passes every output.
//!
//! With dedup (last write wins), the outputs must instead equal, in key order, one
//! winner row per distinct full sort key, chosen here from the rule alone: the row
//! of the latest input in the list that has the key, then the later row of that
//! input (merge depth plays no part: inputs carry random merge ops that must not
//! matter). Some inputs draw their keys from a tiny key space, so that long runs
//! of one key span merge windows.
//!
//! Inputs are aligned (P = the case's P) or legacy (P = 0, row groups cut by row
//! count), in which case the merge promotes them to the case's P.
//!
//! Payload columns cover every physical type parquet can dictionary-encode
//! (INT32 `p32`, INT64 `b`/`timestamp`, FLOAT `pf`, DOUBLE `v`, BYTE_ARRAY
//! `a`/`c`/`body`, FIXED_LEN_BYTE_ARRAY `pfix`; INT96 is deprecated and not
//! written by arrow), and each case asserts the inputs' chunks of them are
//! dictionary-encoded, so that the merge transcodes dictionary pages of every
//! type. BOOLEAN (`pbool`) is never dictionary-encoded; it is carried along.
//!
//! CI runs `ORACLE_CASES` (default 40) cases; 10x more:
//! `ORACLE_CASES=400 cargo test --release --test merge_oracle`.

mod common;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeBinaryArray, Float32Array, Float64Array, Int32Array,
    Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use common::{parquet_files, read_rows, Cell};
use parquet::basic::Encoding;
use prefix_merge::merge::MergeOptions;
use prefix_merge::plan::check_alignment;
use prefix_merge::verify::verify_file;
use prefix_merge::write::{write_split, SplitConfig};
use prefix_merge::{InputFile, MergeBuilder, SortSchema};
use proptest::prelude::*;
use std::cmp::Ordering;
use std::sync::Arc;

#[derive(Debug, Clone)]
struct RowSpec {
    a: Option<u8>,
    b: Option<i8>,
    c: Option<u8>,
    ts: u8,
    v: i16,
    body: u8,
    /// Seed of the payload columns `p32`, `pf`, `pfix`, `pbool`.
    w: u8,
}

#[derive(Debug, Clone)]
struct InputSpec {
    rows: Vec<RowSpec>,
    /// Written as a legacy file (P = 0, row groups cut every `legacy` rows) instead
    /// of aligned; merged with promotion to the case's P.
    legacy: Option<usize>,
    has_c: bool,
    has_body: bool,
    a_dict: bool,
    /// `qh.num_merge_ops` of the written file.
    merge_ops: u64,
}

#[derive(Debug, Clone)]
struct Case {
    inputs: Vec<InputSpec>,
    desc: [bool; 3],
    prefix_len: usize,
    num_outputs: usize,
    batch_rows: usize,
    row_group_rows: usize,
    dedup: bool,
}

fn row() -> impl Strategy<Value = RowSpec> {
    (
        proptest::option::weighted(0.9, 0u8..4),
        proptest::option::weighted(0.85, -1i8..3),
        proptest::option::weighted(0.8, 0u8..3),
        0u8..20,
        any::<i16>(),
        0u8..5,
        any::<u8>(),
    )
        .prop_map(|(a, b, c, ts, v, body, w)| RowSpec {
            a,
            b,
            c,
            ts,
            v,
            body,
            w,
        })
}

fn input() -> impl Strategy<Value = InputSpec> {
    (
        prop_oneof![
            1 => proptest::collection::vec(row(), 0..3),
            6 => proptest::collection::vec(row(), 0..2000),
        ],
        proptest::bool::weighted(0.7),
        any::<bool>(),
        any::<bool>(),
        proptest::option::weighted(0.35, 1usize..700),
        0u64..3,
        // Keys from a tiny key space: long runs of duplicates (dedup).
        proptest::bool::weighted(0.15),
    )
        .prop_map(
            |(rows, has_c, has_body, a_dict, legacy, merge_ops, narrow)| InputSpec {
                rows: if narrow {
                    rows.into_iter()
                        .map(|r| RowSpec {
                            a: Some(1),
                            b: Some(0),
                            c: Some(2),
                            ts: r.ts % 3,
                            ..r
                        })
                        .collect()
                } else {
                    rows
                },
                legacy,
                has_c,
                has_body,
                a_dict,
                merge_ops,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(input(), 1..=8),
        any::<[bool; 3]>(),
        0usize..=2,
        1usize..=4,
        3usize..200,
        20usize..600,
        any::<bool>(),
    )
        .prop_map(
            |(inputs, desc, prefix_len, num_outputs, batch_rows, row_group_rows, dedup)| Case {
                inputs,
                desc,
                prefix_len,
                num_outputs,
                batch_rows,
                row_group_rows,
                dedup,
            },
        )
}

const A: [&str; 4] = ["w", "x", "y", "zz"];
const C: [&str; 3] = ["p", "q", "r"];

fn sort_schema(desc: [bool; 3]) -> SortSchema {
    let sign = |d: bool| if d { "-" } else { "+" };
    format!(
        "{}a|{}b|{}c|timestamp",
        sign(desc[0]),
        sign(desc[1]),
        sign(desc[2])
    )
    .parse()
    .unwrap()
}

fn batch(spec: &InputSpec) -> RecordBatch {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let a = spec.rows.iter().map(|r| r.a.map(|i| A[i as usize]));
    if spec.a_dict {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        a.for_each(|v| b.append_option(v));
        fields.push(Field::new(
            "a",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ));
        cols.push(Arc::new(b.finish()));
    } else {
        fields.push(Field::new("a", DataType::Utf8, true));
        cols.push(Arc::new(a.collect::<StringArray>()));
    }
    fields.push(Field::new("b", DataType::Int64, true));
    cols.push(Arc::new(
        spec.rows
            .iter()
            .map(|r| r.b.map(i64::from))
            .collect::<Int64Array>(),
    ));
    if spec.has_c {
        fields.push(Field::new("c", DataType::Utf8, true));
        cols.push(Arc::new(
            spec.rows
                .iter()
                .map(|r| r.c.map(|i| C[i as usize]))
                .collect::<StringArray>(),
        ));
    }
    fields.push(Field::new("timestamp", DataType::Int64, false));
    cols.push(Arc::new(
        spec.rows
            .iter()
            .map(|r| i64::from(r.ts))
            .collect::<Int64Array>(),
    ));
    fields.push(Field::new("v", DataType::Float64, false));
    cols.push(Arc::new(
        spec.rows
            .iter()
            .map(|r| f64::from(r.v) / 7.0)
            .collect::<Float64Array>(),
    ));
    // One payload column per remaining physical type (see the module doc).
    fields.push(Field::new("p32", DataType::Int32, true));
    cols.push(Arc::new(
        spec.rows
            .iter()
            .map(|r| (r.w % 7 != 0).then(|| i32::from(r.w) * 1000 - 90_000))
            .collect::<Int32Array>(),
    ));
    fields.push(Field::new("pf", DataType::Float32, true));
    cols.push(Arc::new(
        spec.rows
            .iter()
            .map(|r| (r.w % 11 != 0).then(|| f32::from(r.w % 40) / 4.0 - 3.0))
            .collect::<Float32Array>(),
    ));
    fields.push(Field::new("pfix", DataType::FixedSizeBinary(3), true));
    let pfix: Vec<Option<[u8; 3]>> = spec
        .rows
        .iter()
        .map(|r| (r.w % 13 != 0).then_some([r.w % 9, 0xff, r.w / 9]))
        .collect();
    cols.push(Arc::new(
        FixedSizeBinaryArray::try_from_sparse_iter_with_size(pfix.into_iter(), 3).unwrap(),
    ));
    fields.push(Field::new("pbool", DataType::Boolean, true));
    cols.push(Arc::new(
        spec.rows
            .iter()
            .map(|r| (r.w % 5 != 0).then_some(r.w % 2 == 0))
            .collect::<BooleanArray>(),
    ));
    if spec.has_body {
        fields.push(Field::new("body", DataType::Utf8, true));
        cols.push(Arc::new(
            spec.rows
                .iter()
                .map(|r| (r.body > 0).then(|| format!("body-{}", r.body)))
                .collect::<StringArray>(),
        ));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

/// Columns of every output, in union order.
const COLUMNS: [&str; 10] = [
    "a",
    "b",
    "c",
    "timestamp",
    "v",
    "p32",
    "pf",
    "pfix",
    "pbool",
    "body",
];

/// Payload columns whose input chunks must be dictionary-encoded (every
/// dictionary-capable physical type; see the module doc).
const DICTIONARY_PAYLOAD: [&str; 4] = ["v", "p32", "pf", "pfix"];

/// The chunks of `DICTIONARY_PAYLOAD` (and the string columns) in `path` hold a
/// dictionary page and RLE_DICTIONARY data pages; `pbool` has no dictionary.
/// Checked on every input and every output.
fn assert_dictionary_encoded(path: &std::path::Path) -> Result<(), TestCaseError> {
    let input = InputFile::open(path).unwrap();
    let meta = input.metadata.metadata();
    for rg in meta.row_groups() {
        for chunk in rg.columns() {
            let name = chunk.column_path().string();
            let dictionary = chunk.dictionary_page_offset().is_some()
                && chunk.encodings().any(|e| e == Encoding::RLE_DICTIONARY);
            if name == "pbool" {
                prop_assert!(!dictionary, "{}: boolean dictionary", name);
            } else if DICTIONARY_PAYLOAD.contains(&name.as_str())
                || ["a", "c", "body"].contains(&name.as_str())
            {
                prop_assert!(
                    dictionary,
                    "input chunk of {} is not dictionary-encoded",
                    name
                );
            }
        }
    }
    Ok(())
}

/// The expected dedup output: `rows` holds each input's rows in file order,
/// tagged (input index, row index); per distinct full key the row with
/// the greatest tag wins. Returned in key order.
fn last_write_wins(mut rows: Vec<((usize, usize), Vec<Cell>)>, desc: [bool; 3]) -> Vec<Vec<Cell>> {
    rows.sort_by(|x, y| compare(&x.1, &y.1, desc).then(x.0.cmp(&y.0)));
    let mut out: Vec<Vec<Cell>> = Vec::new();
    let mut last_key: Option<Vec<Cell>> = None;
    for (_, row) in rows {
        // Sorted by (key, tag): the last row of each key group wins.
        if last_key
            .as_ref()
            .is_some_and(|k| compare(k, &row, desc) == Ordering::Equal)
        {
            out.pop();
        }
        last_key = Some(row.clone());
        out.push(row);
    }
    out
}

/// Independent comparison of sort keys: nulls last, direction applied to values.
fn compare(x: &[Cell], y: &[Cell], desc: [bool; 3]) -> Ordering {
    let dirs = [desc[0], desc[1], desc[2], true]; // timestamp defaults to descending
    for (i, d) in dirs.iter().enumerate() {
        let o = match (&x[i], &y[i]) {
            (Cell::Null, Cell::Null) => Ordering::Equal,
            (Cell::Null, _) => Ordering::Greater,
            (_, Cell::Null) => Ordering::Less,
            (p, q) => {
                let o = p.partial_cmp(q).unwrap();
                if *d {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn run_case(case: &Case) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let sort = sort_schema(case.desc);
    let mut paths = Vec::new();
    let mut expected = Vec::new();
    let mut tagged = Vec::new();
    for (i, spec) in case.inputs.iter().enumerate() {
        let path = dir.path().join(format!("in_{i}.parquet"));
        let b = batch(spec);
        let config = match spec.legacy {
            Some(rows) => SplitConfig {
                max_row_group_rows: Some(rows),
                ..SplitConfig::new(sort.clone(), 0)
            },
            None => SplitConfig::new(sort.clone(), case.prefix_len),
        };
        let config = SplitConfig {
            num_merge_ops: spec.merge_ops,
            ..config
        };
        write_split(&path, b.schema(), &[b], &config).unwrap();
        assert_dictionary_encoded(&path)?;
        if spec.legacy.is_some() {
            prop_assert_eq!(InputFile::open(&path).unwrap().prefix_len(), 0);
        }
        let rows = read_rows(&path, &COLUMNS);
        tagged.extend(rows.iter().enumerate().map(|(j, r)| ((i, j), r.clone())));
        expected.extend(rows);
        paths.push(path);
    }
    let rows_in = expected.len() as u64;
    if case.dedup {
        expected = last_write_wins(tagged, case.desc);
    } else {
        expected.sort_by(|x, y| compare(x, y, case.desc)); // stable: ties keep input order
    }
    let out_dir = dir.path().join("out");
    let options = MergeOptions::default()
        .with_batch_rows(case.batch_rows)
        .with_row_group_rows(case.row_group_rows);
    let mut builder = MergeBuilder::new(&paths, &out_dir)
        .num_outputs(case.num_outputs)
        .options(options)
        .dedup(case.dedup);
    if case.inputs.iter().any(|i| i.legacy.is_some()) {
        builder = builder.promote_prefix_len(case.prefix_len);
    }
    if !case.inputs.iter().any(|i| i.has_c) {
        // Sort column `c` is in no input: a typo, refused before anything is written.
        let err = builder.run().err();
        prop_assert!(
            matches!(&err, Some(prefix_merge::Error::UnknownSortColumn { column, .. }) if column == "c"),
            "{:?}",
            err.map(|e| e.to_string())
        );
        prop_assert!(!out_dir.exists() || parquet_files(&out_dir).is_empty());
        return Ok(());
    }
    let result = builder
        .run()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let outputs = parquet_files(&out_dir);
    prop_assert_eq!(outputs.len(), result.outputs.len());
    prop_assert!(outputs.len() <= case.num_outputs);
    let names: std::collections::BTreeSet<&str> = case
        .inputs
        .iter()
        .flat_map(|s| {
            let b = batch(&InputSpec {
                rows: vec![],
                ..s.clone()
            });
            b.schema()
                .fields()
                .iter()
                .map(|f| {
                    COLUMNS
                        .into_iter()
                        .find(|c| c == f.name())
                        .expect("a known column")
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut got = Vec::new();
    let mut per_output = Vec::new();
    for path in &outputs {
        // Transcoded (or copied) chunks keep their dictionary pages.
        assert_dictionary_encoded(path)?;
        let input = InputFile::open(path).unwrap();
        // MC-4: the output's columns are the union of the inputs' columns.
        let out_names: std::collections::BTreeSet<&str> = input
            .metadata
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        prop_assert_eq!(&out_names, &names);
        // PA-1 / PA-3 / MS-2 with the same code as `inspect`.
        prop_assert_eq!(input.prefix_len(), case.prefix_len);
        let report = check_alignment(&input);
        prop_assert!(report.ok(), "{:?}", report.violations);
        let max_ops = case.inputs.iter().map(|i| i.merge_ops).max().unwrap_or(0);
        prop_assert_eq!(input.contract.num_merge_ops, max_ops + 1);
        // The deep check operators run after a merge agrees.
        let deep = verify_file(path).unwrap();
        prop_assert!(deep.ok(), "verify: {:?}", deep.violations);
        let rows = read_rows(path, &COLUMNS);
        prop_assert!(!rows.is_empty(), "empty output");
        // MC-3 per output.
        prop_assert!(rows
            .windows(2)
            .all(|w| compare(&w[0], &w[1], case.desc) != Ordering::Greater));
        per_output.push((rows.first().unwrap().clone(), rows.last().unwrap().clone()));
        // The manifest's summary: rows and series (a, b, c) of this output.
        let summary = result.outputs.iter().find(|o| o.path == *path).unwrap();
        prop_assert_eq!(summary.rows, rows.len() as u64);
        let series: std::collections::BTreeSet<String> =
            rows.iter().map(|r| format!("{:?}", &r[..3])).collect();
        prop_assert_eq!(summary.series, series.len() as u64);
        got.extend(rows);
    }
    // MC-1 and MC-2 (and stable tie order): outputs concatenated == stable sort of
    // inputs; with dedup: == the winner of each distinct key, in key order.
    prop_assert_eq!(got.len(), expected.len());
    prop_assert_eq!(result.rows_in, rows_in);
    prop_assert_eq!(result.rows_out, expected.len() as u64);
    prop_assert_eq!(result.duplicates_dropped, rows_in - expected.len() as u64);
    if case.dedup {
        // Distinct keys: the output is strictly increasing.
        prop_assert!(got
            .windows(2)
            .all(|w| compare(&w[0], &w[1], case.desc) == Ordering::Less));
    }
    prop_assert!(
        got == expected,
        "merged rows differ from the {}",
        if case.dedup {
            "last-write-wins rows of the inputs"
        } else {
            "stable sort of the inputs"
        }
    );
    for w in per_output.windows(2) {
        let (last, first) = (&w[0].1, &w[1].0);
        // MS-5: key ranges do not overlap.
        prop_assert_eq!(compare(last, first, case.desc), Ordering::Less);
        // MS-6: no series (a, b, c) spans two outputs.
        prop_assert!(last[..3] != first[..3], "series spans two outputs");
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn merge_equals_stable_sort_of_inputs(case in case()) {
        run_case(&case)?;
    }
}
