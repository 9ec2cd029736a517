//! A predicate against typed values: one value (a region's prefix), or the
//! ranges split metadata gives (first and last prefix key, time bounds).

use super::coverage::Coverage;
use super::parse::{Literal, Predicate, Test};
use crate::key::KeyValue;
use std::cmp::Ordering;

/// How `lit` compares with `v` (None: not comparable, e.g. null).
fn cmp_literal(lit: &Literal, v: &KeyValue) -> Option<Ordering> {
    let text = lit.text.as_str();
    match v {
        KeyValue::Utf8(s) => Some(text.cmp(s.as_str())),
        KeyValue::Int(i) => match text.parse::<i64>() {
            Ok(l) => Some(l.cmp(i)),
            Err(_) => text.parse::<f64>().ok()?.partial_cmp(&(*i as f64)),
        },
        KeyValue::UInt(u) => match text.parse::<u64>() {
            Ok(l) => Some(l.cmp(u)),
            Err(_) => text.parse::<f64>().ok()?.partial_cmp(&(*u as f64)),
        },
        KeyValue::Float32(f) => text.parse::<f64>().ok()?.partial_cmp(&f64::from(*f)),
        KeyValue::Float64(f) => text.parse::<f64>().ok()?.partial_cmp(f),
        KeyValue::Bool(b) => text.parse::<bool>().ok().map(|l| l.cmp(b)),
        KeyValue::Binary(_) | KeyValue::Null => None,
    }
}

/// Whether a value passes the test (nulls never do).
pub fn test_value(test: &Test, v: &KeyValue) -> bool {
    match test {
        Test::Values(lits) => lits
            .iter()
            .any(|l| cmp_literal(l, v) == Some(Ordering::Equal)),
        Test::Prefix(p) => matches!(v, KeyValue::Utf8(s) if s.starts_with(p.as_str())),
    }
}

/// Order of two values of one column (None: different kinds or null).
fn cmp_values(a: &KeyValue, b: &KeyValue) -> Option<Ordering> {
    match (a, b) {
        (KeyValue::Utf8(x), KeyValue::Utf8(y)) => Some(x.cmp(y)),
        (KeyValue::Int(x), KeyValue::Int(y)) => Some(x.cmp(y)),
        (KeyValue::UInt(x), KeyValue::UInt(y)) => Some(x.cmp(y)),
        (KeyValue::Bool(x), KeyValue::Bool(y)) => Some(x.cmp(y)),
        (KeyValue::Float64(x), KeyValue::Float64(y)) => x.partial_cmp(y),
        (KeyValue::Float32(x), KeyValue::Float32(y)) => x.partial_cmp(y),
        (KeyValue::Int(x), KeyValue::UInt(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (KeyValue::UInt(x), KeyValue::Int(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        _ => None,
    }
}

/// Whether some value in `[lo, hi]` (either order) may pass, and whether every
/// one does. Incomparable bounds may pass and do not all pass.
fn test_range(test: &Test, a: &KeyValue, b: &KeyValue) -> (bool, bool) {
    let (lo, hi) = match cmp_values(a, b) {
        Some(Ordering::Greater) => (b, a),
        Some(_) => (a, b),
        None => return (true, false),
    };
    let all = cmp_values(lo, hi) == Some(Ordering::Equal) && test_value(test, lo);
    let some = match test {
        Test::Values(lits) => lits.iter().any(|l| {
            let above = cmp_literal(l, lo).is_none_or(|o| o != Ordering::Less);
            let below = cmp_literal(l, hi).is_none_or(|o| o != Ordering::Greater);
            above && below
        }),
        Test::Prefix(p) => match (lo, hi) {
            (KeyValue::Utf8(lo), KeyValue::Utf8(hi)) => {
                hi.as_str() >= p.as_str()
                    && (lo.as_str() < p.as_str() || lo.starts_with(p.as_str()))
            }
            _ => false,
        },
    };
    // Every text between two that share a prefix shares it too.
    let all = all
        || matches!((test, lo, hi), (Test::Prefix(p), KeyValue::Utf8(l), KeyValue::Utf8(h))
            if l.starts_with(p.as_str()) && h.starts_with(p.as_str()));
    (some, all)
}

impl Predicate {
    /// A region holding one prefix key (`values`, the first P sort columns):
    /// whether its rows may match. Tests on later columns and the time range
    /// are decided per row, unless there are none (then every row matches).
    pub fn region_coverage(&self, values: &[KeyValue]) -> Coverage {
        let mut decided = true;
        for c in &self.conds {
            match values.get(c.position) {
                Some(v) if !test_value(&c.test, v) => return Coverage::None,
                Some(_) => {}
                None => decided = false,
            }
        }
        if decided && self.time.is_all() {
            Coverage::All
        } else {
            Coverage::Some
        }
    }

    /// A split from its metadata: first and last prefix key (typed, P values
    /// each; empty when unknown) and time bounds.
    pub fn split_coverage(
        &self,
        first: &[KeyValue],
        last: &[KeyValue],
        time: Option<(i64, i64)>,
    ) -> Coverage {
        let mut all = true;
        for c in &self.conds {
            // A column's values are bounded by the keys' only while every
            // column before it is constant.
            let constant_before = (0..c.position).all(|i| {
                matches!((first.get(i), last.get(i)), (Some(a), Some(b)) if cmp_values(a, b) == Some(Ordering::Equal))
            });
            match (first.get(c.position), last.get(c.position)) {
                (Some(a), Some(b)) if constant_before && c.position < self.prefix_len => {
                    let (some, every) = test_range(&c.test, a, b);
                    if !some {
                        return Coverage::None;
                    }
                    all &= every;
                }
                _ => all = false,
            }
        }
        if !self.time.is_all() {
            match time {
                Some((lo, hi)) => {
                    let before = self.time.to.is_some_and(|t| lo >= t);
                    let after = self.time.from.is_some_and(|f| hi < f);
                    if before || after {
                        return Coverage::None;
                    }
                    all &= self.time.contains(lo) && self.time.contains(hi);
                }
                None => all = false,
            }
        }
        if all {
            Coverage::All
        } else {
            Coverage::Some
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicate::TimeRange;
    use crate::schema::SortSchema;

    fn pred(text: &str, time: TimeRange) -> Predicate {
        let sort: SortSchema = "metric_name|host|timestamp_secs".parse().unwrap();
        Predicate::parse(text, &sort, 2, &[], time).unwrap()
    }

    fn s(v: &str) -> KeyValue {
        KeyValue::Utf8(v.into())
    }

    #[test]
    fn region_decided_by_prefix_values() {
        let p = pred(
            "metric_name = 'cpu' AND host IN ('a','b')",
            TimeRange::default(),
        );
        assert_eq!(p.region_coverage(&[s("cpu"), s("a")]), Coverage::All);
        assert_eq!(p.region_coverage(&[s("cpu"), s("c")]), Coverage::None);
        assert_eq!(p.region_coverage(&[s("mem"), s("a")]), Coverage::None);
        assert_eq!(p.region_coverage(&[s("cpu")]), Coverage::Some);
        let t = pred(
            "metric_name = 'cpu'",
            TimeRange {
                from: Some(10),
                to: None,
            },
        );
        assert_eq!(t.region_coverage(&[s("cpu"), s("a")]), Coverage::Some);
    }

    #[test]
    fn split_ranges() {
        let p = pred("metric_name LIKE 'cpu.%'", TimeRange::default());
        let k = |m: &str, h: &str| vec![s(m), s(h)];
        assert_eq!(
            p.split_coverage(&k("cpu.a", "x"), &k("cpu.z", "a"), None),
            Coverage::All
        );
        assert_eq!(
            p.split_coverage(&k("a", "x"), &k("cpu.b", "a"), None),
            Coverage::Some
        );
        assert_eq!(
            p.split_coverage(&k("db", "x"), &k("mem", "a"), None),
            Coverage::None
        );
        let q = pred("metric_name = 'cpu' AND host = 'h'", TimeRange::default());
        // host is bounded only while metric_name is constant.
        assert_eq!(
            q.split_coverage(&k("cpu", "a"), &k("cpu", "b"), None),
            Coverage::None
        );
        assert_eq!(
            q.split_coverage(&k("a", "a"), &k("db", "b"), None),
            Coverage::Some
        );
        assert_eq!(
            q.split_coverage(&k("cpu", "h"), &k("cpu", "h"), None),
            Coverage::All
        );
        let t = pred(
            "metric_name = 'cpu'",
            TimeRange {
                from: Some(100),
                to: Some(200),
            },
        );
        let one = k("cpu", "h");
        assert_eq!(
            t.split_coverage(&one, &one, Some((100, 199))),
            Coverage::All
        );
        assert_eq!(
            t.split_coverage(&one, &one, Some((50, 150))),
            Coverage::Some
        );
        assert_eq!(
            t.split_coverage(&one, &one, Some((200, 300))),
            Coverage::None
        );
        assert_eq!(t.split_coverage(&one, &one, None), Coverage::Some);
    }

    #[test]
    fn numbers_compare_as_numbers() {
        let sort: SortSchema = "id|timestamp_secs".parse().unwrap();
        let p = Predicate::parse("id IN (7, 10)", &sort, 1, &[], TimeRange::default()).unwrap();
        assert_eq!(p.region_coverage(&[KeyValue::Int(10)]), Coverage::All);
        assert_eq!(p.region_coverage(&[KeyValue::UInt(7)]), Coverage::All);
        assert_eq!(p.region_coverage(&[KeyValue::Int(8)]), Coverage::None);
        assert_eq!(
            p.split_coverage(&[KeyValue::Int(8)], &[KeyValue::Int(9)], None),
            Coverage::None
        );
        assert_eq!(
            p.split_coverage(&[KeyValue::Int(8)], &[KeyValue::Int(12)], None),
            Coverage::Some
        );
    }
}
