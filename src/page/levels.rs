//! `FieldLevels` computed once per (input schema, projection), so that a reader costs no schema conversion.

use arrow_schema::Fields;
use parquet::arrow::{parquet_to_arrow_field_levels, FieldLevels, ProjectionMask};
use parquet::errors::Result;
use parquet::schema::types::SchemaDescriptor;
use std::sync::{Arc, Mutex};

/// A projection (`None`: every field) and its levels.
type Known = (Option<Vec<usize>>, Arc<FieldLevels>);

/// The projections of one input read so far (few: all columns, the sort or
/// prefix columns), each with its levels.
#[derive(Debug, Default)]
pub struct LevelsCache {
    known: Mutex<Vec<Known>>,
}

impl LevelsCache {
    /// Levels of the top-level fields `roots` (`None`: every field) of `schema`,
    /// typed by `hint` (the file's Arrow schema) as parquet-rs' builder types them.
    pub fn get(
        &self,
        schema: &SchemaDescriptor,
        hint: &Fields,
        roots: Option<&[usize]>,
    ) -> Result<Arc<FieldLevels>> {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, levels)) = known.iter().find(|(k, _)| k.as_deref() == roots) {
            return Ok(levels.clone());
        }
        let mask = match roots {
            None => ProjectionMask::all(),
            Some(r) => ProjectionMask::roots(schema, r.iter().copied()),
        };
        let levels = Arc::new(parquet_to_arrow_field_levels(schema, mask, Some(hint))?);
        known.push((roots.map(<[usize]>::to_vec), levels.clone()));
        Ok(levels)
    }
}
