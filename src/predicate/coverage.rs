//! [`Coverage`]: how much of a set of rows a predicate can match, from metadata.

/// How much of a set of rows (a region, a split) a predicate can match,
/// decided from metadata alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// No row can match: leave the rows alone.
    None,
    /// Some rows may match: test each row.
    Some,
    /// Every row matches: drop them all without reading them.
    All,
}
