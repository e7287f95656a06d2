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

/// Reads a text file that must be UTF-8 (pipeline, model and schema files). Text that is not UTF-8
/// is an error naming the first bad byte, its line and column, not just "stream did not contain
/// valid UTF-8".
pub fn read_utf8(path: &std::path::Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.len() - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text: byte {at} (line {line}, column {column}) is {:#04x} (hint: save the file as UTF-8)",
                bytes[at]
            ),
        )
    })
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn non_utf8_text_names_its_first_bad_byte() {
        let d = tempfile_path("utf8");
        std::fs::write(&d, b"[run]\nname = \"\xcf\xfb\"\n").unwrap();
        let e = super::read_utf8(&d).unwrap_err().to_string();
        let _ = std::fs::remove_file(&d);
        assert!(e.contains("byte 14 (line 2, column 9) is 0xcf"), "{e}");
    }

    fn tempfile_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("riskcensus-{tag}-{}", std::process::id()))
    }
}
