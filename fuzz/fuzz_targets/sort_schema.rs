//! Sort-schema grammar: any input either fails with a typed error or parses to a
//! schema whose canonical text form parses back to an equal schema (and is a
//! fixed point of display).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefix_merge::schema::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(schema) = parse(&text) else { return };
    assert!(!schema.columns.is_empty(), "parse({text:?}) gave no columns");
    let shown = schema.to_string();
    let reparsed = match parse(&shown) {
        Ok(s) => s,
        Err(e) => panic!("parse({text:?}) = {schema:?} displays as {shown:?}, which fails to parse: {e}"),
    };
    assert_eq!(
        reparsed, schema,
        "parse(display(s)) != s for input {text:?} (display {shown:?})"
    );
    assert_eq!(reparsed.to_string(), shown, "display is not a fixed point");
    // FromStr is the same parser.
    let via_from_str: prefix_merge::SortSchema = shown.parse().expect("FromStr disagrees with parse");
    assert_eq!(via_from_str, schema);
});
