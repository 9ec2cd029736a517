//! Parser for the sort-schema grammar:
//! `[name=]col|col|...|col[/Vn]` where `col` is `name`, `-name`, `+name`,
//! `name-`, `name+`, `name:type` or `name:type:dir` (dir: `+ - asc desc`).

use super::sort_schema::{Direction, SortColumn, SortSchema};
use crate::{Error, Result};

/// Characters allowed in column, schema and type names.
pub(super) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_name_char)
}

/// Parse a sort schema string. Errors name the offending column (1-based), its text
/// and its byte position.
pub fn parse(input: &str) -> Result<SortSchema> {
    let err =
        |column: usize, column_name: &str, position: usize, reason: &str| Error::SortSchemaSyntax {
            input: input.to_string(),
            column,
            column_name: column_name.to_string(),
            position,
            reason: reason.to_string(),
        };

    let mut body = input;
    let mut offset = 0usize;
    let mut name = None;
    if let Some(eq) = body.find('=') {
        let candidate = &body[..eq];
        if !valid_name(candidate) {
            return Err(err(0, candidate, 0, "schema name must be [A-Za-z0-9_.]+"));
        }
        name = Some(candidate.to_string());
        body = &body[eq + 1..];
        offset = eq + 1;
    }
    let mut version = None;
    if let Some(slash) = body.rfind('/') {
        let v = &body[slash + 1..];
        if !(v.len() >= 2 && v.starts_with('V') && v[1..].chars().all(|c| c.is_ascii_digit())) {
            return Err(err(
                0,
                v,
                offset + slash,
                "version suffix must look like /V2",
            ));
        }
        version = Some(v.to_string());
        body = &body[..slash];
    }
    if body.is_empty() {
        return Err(err(0, "", offset, "sort schema has no columns"));
    }

    let mut columns: Vec<SortColumn> = Vec::new();
    let mut pos = offset;
    for (i, token) in body.split('|').enumerate() {
        let column = parse_column(token).map_err(|reason| err(i + 1, token, pos, reason))?;
        if columns.iter().any(|c| c.name == column.name) {
            return Err(err(i + 1, token, pos, "column appears twice"));
        }
        columns.push(column);
        pos += token.len() + 1;
    }
    Ok(SortSchema {
        name,
        columns,
        version,
    })
}

fn parse_column(token: &str) -> std::result::Result<SortColumn, &'static str> {
    if token.is_empty() {
        return Err("empty column");
    }
    if token.contains(':') {
        let mut parts = token.split(':');
        let name = parts.next().unwrap_or_default();
        let type_hint = parts.next().unwrap_or_default();
        let dir = parts.next();
        if parts.next().is_some() {
            return Err("expected name:type:dir");
        }
        if !valid_name(name) {
            return Err("column name must be [A-Za-z0-9_.]+");
        }
        if !valid_name(type_hint) {
            return Err("type must be [A-Za-z0-9_.]+");
        }
        let direction = match dir {
            None => Direction::default_for(name),
            Some("+") | Some("asc") => Direction::Ascending,
            Some("-") | Some("desc") => Direction::Descending,
            Some(_) => return Err("direction must be one of + - asc desc"),
        };
        return Ok(SortColumn {
            name: name.to_string(),
            type_hint: Some(type_hint.to_string()),
            direction,
        });
    }
    let (name, direction) = if let Some(rest) = token.strip_prefix('-') {
        (rest, Some(Direction::Descending))
    } else if let Some(rest) = token.strip_prefix('+') {
        (rest, Some(Direction::Ascending))
    } else if let Some(rest) = token.strip_suffix('-') {
        (rest, Some(Direction::Descending))
    } else if let Some(rest) = token.strip_suffix('+') {
        (rest, Some(Direction::Ascending))
    } else {
        (token, None)
    };
    if !valid_name(name) {
        return Err("column name must be [A-Za-z0-9_.]+ with one optional +/- sign");
    }
    Ok(SortColumn {
        name: name.to_string(),
        type_hint: None,
        direction: direction.unwrap_or_else(|| Direction::default_for(name)),
    })
}
