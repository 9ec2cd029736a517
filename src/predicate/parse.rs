//! The predicate grammar and its resolution against a sort schema.
//!
//! ```text
//! predicate := test ( AND test )*
//! test      := column '=' literal
//!            | column IN '(' literal ( ',' literal )* ')'
//!            | column LIKE 'text%'          (prefix match: only a trailing % is special)
//! literal   := 'text' ('' inside is one quote) | number
//! column    := name ([A-Za-z_][A-Za-z0-9_.]*) | "quoted name"
//! ```
//! Keywords are case-insensitive. Every column must be a sort column.

use crate::schema::SortSchema;
use crate::{Error, Result};
use serde::Serialize;

/// A literal as written: its text, and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Literal {
    /// The literal's text, unquoted.
    pub text: String,
    /// Whether it was written in quotes (a text literal).
    pub quoted: bool,
}

/// One test of a column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Test {
    /// `=` (one value) or `IN` (several): the value equals one of them.
    Values(Vec<Literal>),
    /// `LIKE 'p%'`: a text value that starts with `p`.
    Prefix(String),
}

/// One test on a sort column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cond {
    /// The sort column tested.
    pub column: String,
    /// Position of the column in the sort schema.
    pub position: usize,
    /// The test.
    pub test: Test,
}

/// A half-open range `[from, to)` of the time column's values (in the
/// column's own unit); an end that is None is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    /// Inclusive start (None: unbounded).
    pub from: Option<i64>,
    /// Exclusive end (None: unbounded).
    pub to: Option<i64>,
}

impl TimeRange {
    /// No bound at either end.
    pub fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Whether `t` is inside.
    pub fn contains(&self, t: i64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

/// A parsed predicate: tests on sort columns, all of which must hold, and a
/// time range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Predicate {
    /// The text it was parsed from.
    pub text: String,
    /// The tests, all of which must hold.
    pub conds: Vec<Cond>,
    /// The time range (`--from` / `--to`).
    pub time: TimeRange,
    /// The time column the range applies to (None: the schema has none).
    pub time_column: Option<String>,
    /// P of the table: conditions on the first P columns are decided per region.
    pub prefix_len: usize,
}

impl Predicate {
    /// Parse `text` for a table with sort schema `sort` and prefix length
    /// `prefix_len`. `other_columns` are the table's columns that are not sort
    /// columns (they get a "not a sort column" error rather than "unknown").
    pub fn parse(
        text: &str,
        sort: &SortSchema,
        prefix_len: usize,
        other_columns: &[String],
        time: TimeRange,
    ) -> Result<Predicate> {
        let err = |position: usize, reason: String| Error::Predicate {
            input: text.to_string(),
            position,
            reason,
        };
        let tokens = tokenize(text).map_err(|(p, r)| err(p, r))?;
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
            end: text.len(),
        };
        let raw = parser.predicate().map_err(|(p, r)| err(p, r))?;
        let mut conds = Vec::new();
        for (column, position_in_text, test) in raw {
            let Some(position) = sort.columns.iter().position(|c| c.name == column) else {
                let names: Vec<&str> = sort.column_names().collect();
                let reason = if other_columns.contains(&column) {
                    format!(
                        "'{column}' is not a sort column (deletes test sort columns: {})",
                        names.join(", ")
                    )
                } else {
                    format!(
                        "unknown column '{column}' (sort columns: {})",
                        names.join(", ")
                    )
                };
                return Err(err(position_in_text, reason));
            };
            conds.push(Cond {
                column,
                position,
                test,
            });
        }
        let time_column = (sort.series_len() < sort.columns.len())
            .then(|| sort.columns.last().map(|c| c.name.clone()))
            .flatten();
        if !time.is_all() && time_column.is_none() {
            return Err(Error::InvalidArgument(format!(
                "a time range (from/to): the sort schema '{sort}' has no time column"
            )));
        }
        if let (Some(f), Some(t)) = (time.from, time.to) {
            if f >= t {
                return Err(Error::InvalidArgument(format!(
                    "time range: from {f} must be before to {t}"
                )));
            }
        }
        Ok(Predicate {
            text: text.to_string(),
            conds,
            time,
            time_column,
            prefix_len,
        })
    }

    /// The same predicate without its time range (for rows known to be inside
    /// it).
    pub fn without_time(&self) -> Predicate {
        Predicate {
            time: TimeRange::default(),
            ..self.clone()
        }
    }
}

/// A token and its byte offset.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(char),
}

type Spanned = (usize, Tok);
type PResult<T> = std::result::Result<T, (usize, String)>;

fn tokenize(text: &str) -> PResult<Vec<Spanned>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'=' | b'(' | b')' | b',' => {
                out.push((start, Tok::Punct(c as char)));
                i += 1;
            }
            b'\'' | b'"' => {
                let (value, next) = quoted(text, i, c).ok_or((
                    start,
                    format!("unterminated {} string", if c == b'"' { "\"" } else { "'" }),
                ))?;
                i = next;
                out.push((
                    start,
                    if c == b'"' {
                        Tok::Ident(value)
                    } else {
                        Tok::Str(value)
                    },
                ));
            }
            b'-' | b'+' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'.' | b'-' | b'+'))
                {
                    i += 1;
                }
                let num = &text[start..i];
                if num.parse::<f64>().is_err() {
                    return Err((start, format!("'{num}' is not a number")));
                }
                out.push((start, Tok::Num(num.to_string())));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'.'))
                {
                    i += 1;
                }
                out.push((start, Tok::Ident(text[start..i].to_string())));
            }
            _ => {
                let ch = text[start..].chars().next().unwrap_or('?');
                return Err((start, format!("unexpected '{ch}'")));
            }
        }
    }
    Ok(out)
}

/// The content of the string quoted by `q` that starts at `start`, with a
/// doubled quote standing for one, and the offset after it.
fn quoted(text: &str, start: usize, q: u8) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let mut value = Vec::new();
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == q {
            if bytes.get(i + 1) == Some(&q) {
                value.push(q);
                i += 2;
                continue;
            }
            return Some((String::from_utf8(value).ok()?, i + 1));
        }
        value.push(bytes[i]);
        i += 1;
    }
    None
}

struct Parser<'a> {
    tokens: &'a [Spanned],
    at: usize,
    /// Offset of the end of the text (errors at the end point there).
    end: usize,
}

/// A test before resolution: column, its offset, the test.
type RawCond = (String, usize, Test);

impl Parser<'_> {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.at)
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.0)
    }

    fn next(&mut self, expected: &str) -> PResult<Spanned> {
        let t = self
            .peek()
            .cloned()
            .ok_or((self.end, format!("expected {expected}, found the end")))?;
        self.at += 1;
        Ok(t)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some((_, Tok::Ident(w))) if w.eq_ignore_ascii_case(word))
    }

    fn punct(&mut self, c: char) -> PResult<()> {
        match self.next(&format!("'{c}'"))? {
            (_, Tok::Punct(p)) if p == c => Ok(()),
            (p, t) => Err((p, format!("expected '{c}', found {}", describe(&t)))),
        }
    }

    fn predicate(&mut self) -> PResult<Vec<RawCond>> {
        let mut conds = vec![self.cond()?];
        while self.peek().is_some() {
            if !self.keyword("and") {
                let (p, t) = self.next("AND")?;
                return Err((p, format!("expected AND, found {}", describe(&t))));
            }
            self.at += 1;
            conds.push(self.cond()?);
        }
        Ok(conds)
    }

    fn cond(&mut self) -> PResult<RawCond> {
        let (at, column) = match self.next("a column name")? {
            (p, Tok::Ident(name)) => (p, name),
            (p, t) => return Err((p, format!("expected a column name, found {}", describe(&t)))),
        };
        let test = if self.keyword("in") {
            self.at += 1;
            self.punct('(')?;
            let mut values = vec![self.literal()?];
            loop {
                match self.next("',' or ')'")? {
                    (_, Tok::Punct(',')) => values.push(self.literal()?),
                    (_, Tok::Punct(')')) => break,
                    (p, t) => {
                        return Err((p, format!("expected ',' or ')', found {}", describe(&t))))
                    }
                }
            }
            Test::Values(values)
        } else if self.keyword("like") {
            self.at += 1;
            let p = self.pos();
            match self.next("a 'prefix%' pattern")? {
                (_, Tok::Str(s)) => like(&s).map_err(|r| (p, r))?,
                (p, t) => {
                    return Err((
                        p,
                        format!("expected a 'prefix%' pattern, found {}", describe(&t)),
                    ))
                }
            }
        } else {
            let p = self.pos();
            match self.next("=, IN or LIKE")? {
                (_, Tok::Punct('=')) => Test::Values(vec![self.literal()?]),
                (_, t) => {
                    return Err((
                        p,
                        format!(
                            "expected =, IN or LIKE after '{column}', found {}",
                            describe(&t)
                        ),
                    ))
                }
            }
        };
        Ok((column, at, test))
    }

    fn literal(&mut self) -> PResult<Literal> {
        match self.next("a value")? {
            (_, Tok::Str(text)) => Ok(Literal { text, quoted: true }),
            (_, Tok::Num(text)) => Ok(Literal {
                text,
                quoted: false,
            }),
            (p, t) => Err((
                p,
                format!(
                    "expected a value ('text' or a number), found {}",
                    describe(&t)
                ),
            )),
        }
    }
}

/// A LIKE pattern: `p%` is a prefix test, a pattern without `%` an equality.
fn like(pattern: &str) -> std::result::Result<Test, String> {
    match pattern.find('%') {
        None => Ok(Test::Values(vec![Literal {
            text: pattern.to_string(),
            quoted: true,
        }])),
        Some(i) if i + 1 == pattern.len() => Ok(Test::Prefix(pattern[..i].to_string())),
        Some(_) => Err(format!(
            "LIKE '{pattern}': only a prefix pattern 'text%' is supported (one trailing %)"
        )),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Str(s) => format!("the string '{s}'"),
        Tok::Num(n) => format!("the number {n}"),
        Tok::Punct(c) => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> SortSchema {
        "metric_name|host|timestamp_secs".parse().unwrap()
    }

    fn parse(text: &str) -> Result<Predicate> {
        Predicate::parse(
            text,
            &schema(),
            1,
            &["value".to_string()],
            TimeRange::default(),
        )
    }

    fn position(e: Error) -> (usize, String) {
        match e {
            Error::Predicate {
                position, reason, ..
            } => (position, reason),
            other => panic!("not a predicate error: {other}"),
        }
    }

    #[test]
    fn conjunction_of_all_three_tests() {
        let p =
            parse("metric_name = 'cpu' AND host IN ('a', 'b''c') and host like 'web%'").unwrap();
        assert_eq!(p.conds.len(), 3);
        assert_eq!(p.conds[0].position, 0);
        assert_eq!(
            p.conds[1].test,
            Test::Values(vec![
                Literal {
                    text: "a".into(),
                    quoted: true
                },
                Literal {
                    text: "b'c".into(),
                    quoted: true
                }
            ])
        );
        assert_eq!(p.conds[2].test, Test::Prefix("web".into()));
        assert_eq!(p.time_column.as_deref(), Some("timestamp_secs"));
    }

    #[test]
    fn numbers_are_unquoted() {
        let p = parse("timestamp_secs IN (1, -2, 3.5)").unwrap();
        let Test::Values(v) = &p.conds[0].test else {
            panic!("values expected")
        };
        assert!(v.iter().all(|l| !l.quoted));
        assert_eq!(v[1].text, "-2");
    }

    #[test]
    fn unknown_and_non_sort_columns_are_told_apart() {
        let (pos, reason) = position(parse("metric_name = 'a' AND colour = 'x'").unwrap_err());
        assert_eq!(pos, 22);
        assert!(reason.contains("unknown column 'colour'"), "{reason}");
        let (pos, reason) = position(parse("value = 1").unwrap_err());
        assert_eq!(pos, 0);
        assert!(reason.contains("'value' is not a sort column"), "{reason}");
    }

    #[test]
    fn syntax_errors_point_at_the_token() {
        for (text, at, word) in [
            ("metric_name = ", 14, "expected a value"),
            ("metric_name == 'a'", 13, "expected a value"),
            ("metric_name = 'a' OR host = 'b'", 18, "expected AND"),
            ("metric_name IN ('a' 'b')", 20, "expected ',' or ')'"),
            ("metric_name LIKE '%cpu'", 17, "only a prefix pattern"),
            ("metric_name = 'cpu", 14, "unterminated"),
            ("metric_name > 3", 12, "unexpected '>'"),
            ("", 0, "expected a column name"),
            ("host", 4, "expected =, IN or LIKE"),
        ] {
            let (pos, reason) = position(parse(text).unwrap_err());
            assert_eq!(pos, at, "{text}: {reason}");
            assert!(reason.contains(word), "{text}: {reason}");
        }
    }

    #[test]
    fn like_without_percent_is_equality() {
        let p = parse("host LIKE 'a_b'").unwrap();
        assert_eq!(
            p.conds[0].test,
            Test::Values(vec![Literal {
                text: "a_b".into(),
                quoted: true
            }])
        );
    }

    #[test]
    fn time_range_needs_a_time_column_and_order() {
        let sort: SortSchema = "metric_name|host".parse().unwrap();
        let t = TimeRange {
            from: Some(1),
            to: Some(2),
        };
        assert!(Predicate::parse("host = 'a'", &sort, 1, &[], t).is_err());
        let bad = TimeRange {
            from: Some(5),
            to: Some(5),
        };
        assert!(Predicate::parse("host = 'a'", &schema(), 1, &[], bad).is_err());
        let p = Predicate::parse("host = 'a'", &schema(), 1, &[], t).unwrap();
        assert!(p.time.contains(1) && !p.time.contains(2));
    }
}
