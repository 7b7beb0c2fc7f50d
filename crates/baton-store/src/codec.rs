//! Column conversions shared by the tables: enums stored as their `as_str` names, JSON
//! columns, and the error that says which column held what.

use rusqlite::Row;
use rusqlite::types::Type;
use serde::de::DeserializeOwned;

/// A text column held a value this build has no name for (a newer baton wrote it, or the
/// file was edited by hand).
#[derive(Debug, thiserror::Error)]
#[error("column `{column}` holds unknown value `{value}`")]
pub(crate) struct UnknownValue {
    column: &'static str,
    value: String,
}

/// Reads text column `idx` and turns it into `T` with `parse`, or fails naming the column.
pub(crate) fn text_enum<T>(
    row: &Row<'_>,
    idx: usize,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let value: String = row.get(idx)?;
    parse(&value).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            Box::new(UnknownValue { column, value }),
        )
    })
}

/// Reads JSON text column `idx` as `T`.
pub(crate) fn json<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// [`text_enum`] for a nullable column.
pub(crate) fn opt_text_enum<T>(
    row: &Row<'_>,
    idx: usize,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    let value: Option<String> = row.get(idx)?;
    value
        .map(|value| {
            parse(&value).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    idx,
                    Type::Text,
                    Box::new(UnknownValue { column, value }),
                )
            })
        })
        .transpose()
}
