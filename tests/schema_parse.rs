//! Sort schema grammar: `parse(display(s)) == s` for generated schemas, and
//! arbitrary strings never panic the parser.

use prefix_merge::schema::parse;
use prefix_merge::Error;
use prefix_merge::{Direction, SortColumn, SortSchema};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_.]{0,8}",
        Just("timestamp".to_string()),
        Just("timestamp_secs".to_string()),
    ]
}

fn schema() -> impl Strategy<Value = SortSchema> {
    let column = (
        name(),
        proptest::option::of("[a-z][a-z0-9]{0,4}"),
        any::<bool>(),
    );
    (
        proptest::option::of("[a-z][a-z0-9_]{0,6}"),
        proptest::collection::vec(column, 1..8),
        proptest::option::of(1u32..5),
    )
        .prop_map(|(schema_name, cols, version)| {
            let mut columns: Vec<SortColumn> = Vec::new();
            for (n, type_hint, desc) in cols {
                if columns.iter().any(|c| c.name == n) {
                    continue;
                }
                let direction = if desc {
                    Direction::Descending
                } else {
                    Direction::Ascending
                };
                columns.push(SortColumn {
                    name: n,
                    type_hint,
                    direction,
                });
            }
            SortSchema {
                name: schema_name,
                columns,
                version: version.map(|v| format!("V{v}")),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn display_round_trips(s in schema()) {
        let text = s.to_string();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, s);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn grammar_like_strings_never_panic(s in "[a-z|:+=/V0-9 -]{0,40}") {
        if let Ok(schema) = parse(&s) {
            // Whatever parses, displays to something that parses to the same schema.
            prop_assert_eq!(parse(&schema.to_string()).ok(), Some(schema));
        }
    }
}

#[test]
fn parses_quickwit_schema() {
    let s = parse("metric_name|service|env|datacenter|region|host|timeseries_id|timestamp_secs/V2")
        .unwrap();
    assert_eq!(s.columns.len(), 8);
    assert_eq!(s.version.as_deref(), Some("V2"));
    assert_eq!(s.columns[7].direction, Direction::Descending);
    assert_eq!(s.columns[0].direction, Direction::Ascending);
    assert_eq!(s.series_len(), 7);
}

#[test]
fn parses_all_direction_forms() {
    let s = parse("idx=-a|b-|+timestamp|c+|d:i64:desc|e:str").unwrap();
    let dirs: Vec<_> = s.columns.iter().map(|c| c.direction).collect();
    use Direction::*;
    assert_eq!(
        dirs,
        [Descending, Descending, Ascending, Ascending, Descending, Ascending]
    );
    assert_eq!(s.name.as_deref(), Some("idx"));
    assert_eq!(s.columns[4].type_hint.as_deref(), Some("i64"));
}

#[test]
fn errors_name_column_and_position() {
    let e = parse("a|b|-|d").unwrap_err();
    match e {
        Error::SortSchemaSyntax {
            column, position, ..
        } => {
            assert_eq!(column, 3);
            assert_eq!(position, 4);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(parse("").is_err());
    assert!(parse("a|a").is_err());
    assert!(parse("a/2").is_err());
    assert!(parse("a:b:c:d").is_err());
}
