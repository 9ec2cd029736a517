//! The rows of a batch that a predicate (or any of several) matches.

use super::parse::{Predicate, Test};
use super::value::test_value;
use crate::key::{value_at, KeyValue};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, DataType};

impl Predicate {
    /// Which rows of `batch` match (a column the batch lacks matches no row).
    pub fn matching_rows(&self, batch: &RecordBatch) -> Result<Vec<bool>, ArrowError> {
        let mut mask = vec![true; batch.num_rows()];
        for c in &self.conds {
            let Some(column) = batch.column_by_name(&c.column) else {
                return Ok(vec![false; batch.num_rows()]);
            };
            and(&mut mask, &test_column(column, &c.test)?);
        }
        if let (false, Some(name)) = (self.time.is_all(), &self.time_column) {
            let Some(column) = batch.column_by_name(name) else {
                return Ok(vec![false; batch.num_rows()]);
            };
            for (i, m) in mask.iter_mut().enumerate() {
                if *m {
                    *m = time_of(&value_at(column.as_ref(), i)?)
                        .is_some_and(|t| self.time.contains(t));
                }
            }
        }
        Ok(mask)
    }
}

/// The rows any of `preds` matches, as a filter that keeps the others (None:
/// no row matches), and how many match.
pub fn delete_mask(
    preds: &[std::sync::Arc<Predicate>],
    batch: &RecordBatch,
) -> Result<(Option<BooleanArray>, usize), ArrowError> {
    let mut hit = vec![false; batch.num_rows()];
    for p in preds {
        for (h, m) in hit.iter_mut().zip(p.matching_rows(batch)?) {
            *h |= m;
        }
    }
    let n = hit.iter().filter(|h| **h).count();
    if n == 0 {
        return Ok((None, 0));
    }
    Ok((Some(hit.iter().map(|h| Some(!h)).collect()), n))
}

/// A time column value as i64 (unsigned values above i64::MAX saturate).
pub(crate) fn time_of(v: &KeyValue) -> Option<i64> {
    match v {
        KeyValue::Int(t) => Some(*t),
        KeyValue::UInt(u) => Some(i64::try_from(*u).unwrap_or(i64::MAX)),
        _ => None,
    }
}

fn and(mask: &mut [bool], other: &[bool]) {
    for (m, o) in mask.iter_mut().zip(other) {
        *m &= *o;
    }
}

/// Per row of `array`: whether it passes `test` (nulls never do).
fn test_column(array: &ArrayRef, test: &Test) -> Result<Vec<bool>, ArrowError> {
    match array.data_type() {
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let values = test_column(dict.values(), test)?;
            let keys = dict.normalized_keys();
            Ok(keys
                .iter()
                .enumerate()
                .map(|(i, &k)| array.is_valid(i) && values.get(k).copied().unwrap_or(false))
                .collect())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = arrow_cast::cast(array, &DataType::Utf8)?;
            let text = text.as_string::<i32>();
            Ok((0..text.len())
                .map(|i| text.is_valid(i) && test_str(test, text.value(i)))
                .collect())
        }
        _ => (0..array.len())
            .map(|i| Ok(test_value(test, &value_at(array.as_ref(), i)?)))
            .collect(),
    }
}

fn test_str(test: &Test, s: &str) -> bool {
    match test {
        Test::Values(lits) => lits.iter().any(|l| l.text == s),
        Test::Prefix(p) => s.starts_with(p.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicate::TimeRange;
    use crate::schema::SortSchema;
    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::types::Int32Type;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn masks_over_dictionary_text_and_time() {
        let mut m = StringDictionaryBuilder::<Int32Type>::new();
        for v in ["cpu", "cpu", "mem", "cpu"] {
            m.append_value(v);
        }
        m.append_null();
        let schema = Arc::new(Schema::new(vec![
            Field::new("metric_name", m.finish().data_type().clone(), true),
            Field::new("host", DataType::Utf8, true),
            Field::new("timestamp_secs", DataType::Int64, false),
        ]));
        let mut m = StringDictionaryBuilder::<Int32Type>::new();
        for v in ["cpu", "cpu", "mem", "cpu"] {
            m.append_value(v);
        }
        m.append_null();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(m.finish()),
                Arc::new(StringArray::from(vec![
                    Some("web1"),
                    Some("db1"),
                    Some("web2"),
                    Some("web3"),
                    None,
                ])),
                Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
            ],
        )
        .unwrap();
        let sort: SortSchema = "metric_name|host|timestamp_secs".parse().unwrap();
        let p = Predicate::parse(
            "metric_name = 'cpu' AND host LIKE 'web%'",
            &sort,
            1,
            &[],
            TimeRange {
                from: None,
                to: Some(4),
            },
        )
        .unwrap();
        assert_eq!(
            p.matching_rows(&batch).unwrap(),
            vec![true, false, false, false, false]
        );
        let q = Predicate::parse("host = 'db1'", &sort, 1, &[], TimeRange::default()).unwrap();
        let (keep, n) = delete_mask(&[Arc::new(p), Arc::new(q)], &batch).unwrap();
        assert_eq!(n, 2);
        let keep: Vec<bool> = keep.unwrap().iter().map(|b| b.unwrap()).collect();
        assert_eq!(keep, vec![false, false, true, true, true]);
    }
}
