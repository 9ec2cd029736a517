//! The sort schema's types: [`SortSchema`], its columns and their directions.

use super::parse::parse;
use serde::Serialize;

/// Sort direction of one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Direction {
    /// Smallest first (nulls still last).
    Ascending,
    /// Largest first (nulls still last).
    Descending,
}

impl Direction {
    /// True for [`Direction::Descending`].
    pub fn is_descending(self) -> bool {
        matches!(self, Direction::Descending)
    }

    /// The direction a column gets when the schema does not say:
    /// `timestamp` and `timestamp_secs` sort newest first, everything else ascending.
    pub fn default_for(name: &str) -> Direction {
        if is_time_column_name(name) {
            Direction::Descending
        } else {
            Direction::Ascending
        }
    }
}

/// Names that denote the time column and default to descending order.
pub fn is_time_column_name(name: &str) -> bool {
    name == "timestamp" || name == "timestamp_secs"
}

/// One column of a sort schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SortColumn {
    /// Column name as it appears in the Parquet/Arrow schema.
    pub name: String,
    /// Optional type annotation from the `name:type:dir` form; informational.
    pub type_hint: Option<String>,
    /// Resolved direction (explicit or the default for the name).
    pub direction: Direction,
}

impl SortColumn {
    /// A column with the default direction for its name.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let direction = Direction::default_for(&name);
        SortColumn {
            name,
            type_hint: None,
            direction,
        }
    }

    /// A column with an explicit direction.
    pub fn with_direction(name: impl Into<String>, direction: Direction) -> Self {
        SortColumn {
            name: name.into(),
            type_hint: None,
            direction,
        }
    }
}

/// A parsed sort schema, e.g. `metric_name|service|host|timestamp_secs/V2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SortSchema {
    /// Optional schema name (`name=` prefix).
    pub name: Option<String>,
    /// Sort columns, most significant first. Never empty.
    pub columns: Vec<SortColumn>,
    /// Optional version suffix without the slash, e.g. `V2`.
    pub version: Option<String>,
}

impl SortSchema {
    /// Build a schema from columns (no name, no version).
    pub fn new(columns: Vec<SortColumn>) -> Self {
        SortSchema {
            name: None,
            columns,
            version: None,
        }
    }

    /// Number of leading columns that identify a series: all sort columns but a
    /// trailing time column (`timestamp`/`timestamp_secs`). Without a trailing
    /// time column every sort column is part of the series.
    pub fn series_len(&self) -> usize {
        match self.columns.last() {
            Some(last) if is_time_column_name(&last.name) && self.columns.len() > 1 => {
                self.columns.len() - 1
            }
            _ => self.columns.len(),
        }
    }

    /// Names of the sort columns, in order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// Equality of the ordering itself (columns and directions), ignoring the
    /// schema name, version and type hints.
    pub fn same_order(&self, other: &SortSchema) -> bool {
        self.columns.len() == other.columns.len()
            && self
                .columns
                .iter()
                .zip(&other.columns)
                .all(|(a, b)| a.name == b.name && a.direction == b.direction)
    }
}

impl std::str::FromStr for SortSchema {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// `name: type, name: type` of Arrow fields, for messages.
pub fn describe_fields(fields: &arrow_schema::Fields) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> SortSchema {
        parse(text).unwrap()
    }

    #[test]
    fn same_order_ignores_version_and_name() {
        let plain = s("metric_name|host|timestamp_secs");
        for other in [
            "metric_name|host|timestamp_secs/V2",
            "idx=metric_name|host|timestamp_secs",
            "idx=+metric_name|host+|-timestamp_secs/V3",
            "metric_name:string|host|timestamp_secs:i64:desc/V2",
        ] {
            assert!(plain.same_order(&s(other)), "{other}");
            assert!(s(other).same_order(&plain), "{other}");
        }
        // Exact equality still tells the texts apart.
        assert_ne!(plain, s("metric_name|host|timestamp_secs/V2"));
    }

    #[test]
    fn same_order_compares_columns_and_directions() {
        let plain = s("metric_name|host|timestamp_secs/V2");
        for other in [
            "metric_name|host|+timestamp_secs/V2",
            "metric_name|timestamp_secs/V2",
            "host|metric_name|timestamp_secs/V2",
            "metric_name|host|timestamp_secs|value/V2",
            "-metric_name|host|timestamp_secs/V2",
        ] {
            assert!(!plain.same_order(&s(other)), "{other}");
        }
    }

    #[test]
    fn sorting_columns_schema_matches_the_declared_one() {
        // What a file carrying only Parquet sorting_columns yields: explicit
        // directions, no name, no version.
        let from_sorting_columns = SortSchema::new(vec![
            SortColumn::with_direction("metric_name", Direction::Ascending),
            SortColumn::with_direction("host", Direction::Ascending),
            SortColumn::with_direction("timestamp_secs", Direction::Descending),
        ]);
        assert!(from_sorting_columns.same_order(&s("metric_name|host|timestamp_secs/V2")));
    }
}
