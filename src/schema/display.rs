//! `Display` for sort schemas: the canonical text form, which parses back to an
//! equal schema.

use super::sort_schema::{Direction, SortColumn, SortSchema};
use std::fmt;

impl fmt::Display for SortColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.direction {
            Direction::Ascending => "+",
            Direction::Descending => "-",
        };
        match &self.type_hint {
            Some(t) => write!(f, "{}:{}:{}", self.name, t, sign),
            None if self.direction == Direction::default_for(&self.name) => f.write_str(&self.name),
            None => write!(f, "{}{}", sign, self.name),
        }
    }
}

impl fmt::Display for SortSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name}=")?;
        }
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(f, "{c}")?;
        }
        if let Some(v) = &self.version {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}
