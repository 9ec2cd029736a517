//! Union of input schemas (MC-4): columns by name in order of first appearance; a
//! column an input lacks is null for its rows; string (and binary) encodings unify,
//! keeping dictionary encoding when any input has it; other conflicts are errors
//! naming both files.

use crate::{Error, Result};
use arrow_array::{new_null_array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where an output column comes from in one input.
#[derive(Debug, Clone, PartialEq)]
enum ColumnSource {
    /// Field index in the input's Arrow schema; `true` when a cast is needed.
    Field(usize, bool),
    /// The input lacks the column: nulls.
    Missing,
}

/// Turns batches of one input (all of its columns, in its own order) into batches
/// of the unified schema.
#[derive(Debug, Clone)]
pub struct InputAdapter {
    columns: Vec<ColumnSource>,
    schema: SchemaRef,
}

impl InputAdapter {
    /// Adapt a batch read with every input column projected.
    pub fn adapt(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let n = batch.num_rows();
        let columns = self
            .columns
            .iter()
            .zip(self.schema.fields())
            .map(|(src, field)| -> Result<ArrayRef, ArrowError> {
                match src {
                    ColumnSource::Field(i, false) => Ok(batch.column(*i).clone()),
                    ColumnSource::Field(i, true) => {
                        arrow_cast::cast(batch.column(*i), field.data_type())
                    }
                    ColumnSource::Missing => Ok(new_null_array(field.data_type(), n)),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )
    }

    /// True when the input already has exactly the unified schema.
    pub fn is_identity(&self) -> bool {
        self.columns
            .iter()
            .enumerate()
            .all(|(o, c)| *c == ColumnSource::Field(o, false))
    }
}

/// The unified schema and one adapter per input.
#[derive(Debug, Clone)]
pub struct SchemaUnion {
    /// The output schema: the union of the inputs' columns (MC-4).
    pub schema: SchemaRef,
    /// How each input's batches map onto it, in input order.
    pub adapters: Vec<InputAdapter>,
}

#[derive(Clone, Copy, PartialEq)]
enum Family {
    String,
    Binary,
}

fn family(dt: &DataType) -> Option<(Family, bool, bool)> {
    // (family, is dictionary, is large)
    match dt {
        DataType::Utf8 | DataType::Utf8View => Some((Family::String, false, false)),
        DataType::LargeUtf8 => Some((Family::String, false, true)),
        DataType::Binary | DataType::BinaryView => Some((Family::Binary, false, false)),
        DataType::LargeBinary => Some((Family::Binary, false, true)),
        DataType::Dictionary(_, v) => family(v).map(|(f, _, l)| (f, true, l)),
        _ => None,
    }
}

fn unify(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b {
        return Some(a.clone());
    }
    let (fa, da, la) = family(a)?;
    let (fb, db, lb) = family(b)?;
    if fa != fb {
        return None;
    }
    let value = match (fa, la || lb) {
        (Family::String, false) => DataType::Utf8,
        (Family::String, true) => DataType::LargeUtf8,
        (Family::Binary, false) => DataType::Binary,
        (Family::Binary, true) => DataType::LargeBinary,
    };
    Some(if da || db {
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(value))
    } else {
        value
    })
}

/// Unify the Arrow schemas of `inputs` (path, schema) into one.
pub fn union_schemas(inputs: &[(&Path, &Schema)]) -> Result<SchemaUnion> {
    // Output fields with the input that first fixed each one's type.
    let mut fields: Vec<(Field, PathBuf)> = Vec::new();
    for (path, schema) in inputs {
        for (i, f) in schema.fields().iter().enumerate() {
            if schema.fields()[..i].iter().any(|g| g.name() == f.name()) {
                return Err(Error::InvalidData(format!(
                    "{}: column '{}' appears twice",
                    path.display(),
                    f.name()
                )));
            }
            match fields.iter_mut().find(|(g, _)| g.name() == f.name()) {
                None => fields.push((f.as_ref().clone(), path.to_path_buf())),
                Some((g, first)) => {
                    let dt =
                        unify(g.data_type(), f.data_type()).ok_or_else(|| Error::TypeConflict {
                            column: f.name().clone(),
                            path: path.to_path_buf(),
                            found: f.data_type().to_string(),
                            other_path: first.clone(),
                            expected: g.data_type().to_string(),
                        })?;
                    let nullable = g.is_nullable() || f.is_nullable();
                    *g = g.clone().with_data_type(dt).with_nullable(nullable);
                }
            }
        }
    }
    // A column missing from any input is nullable.
    for (g, _) in fields.iter_mut() {
        if inputs.iter().any(|(_, s)| s.index_of(g.name()).is_err()) {
            *g = g.clone().with_nullable(true);
        }
    }
    let schema = Arc::new(Schema::new(
        fields.into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
    ));
    let adapters = inputs
        .iter()
        .map(|(_, s)| InputAdapter {
            columns: schema
                .fields()
                .iter()
                .map(|f| match s.index_of(f.name()) {
                    Ok(i) => ColumnSource::Field(i, s.field(i).data_type() != f.data_type()),
                    Err(_) => ColumnSource::Missing,
                })
                .collect(),
            schema: schema.clone(),
        })
        .collect();
    Ok(SchemaUnion { schema, adapters })
}
