#![doc = include_str!("../README.md")]

mod builtin;
pub mod census_fields;
pub mod divisions;
pub mod table;

pub use divisions::{CodeError, DivisionLevel, Registry};
pub use table::{
    Bound, FieldSchema, FieldType, GeometryKind, Rule, SchemaError, SchemaSet, Severity,
    TableSchema,
};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("embedded reference table {file} is malformed at line {line}: {message}")]
    EmbeddedTable {
        file: &'static str,
        line: u64,
        message: String,
    },
    #[error(
        "unknown county code {code:?}: it is not in the NBS 2023 division list (hint: a county code has 6 digits, e.g. 530402)"
    )]
    UnknownCounty { code: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
