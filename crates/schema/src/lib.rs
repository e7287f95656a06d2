#![doc = include_str!("../README.md")]

mod builtin;
pub mod census_fields;
pub mod divisions;
pub mod rule;
pub mod table;

pub use divisions::{CodeError, DivisionLevel, Registry};
pub use rule::{CmpOp, Condition, Format, Literal, Op, Rule};
pub use table::{
    Bound, FieldSchema, FieldType, GeometryKind, SchemaError, SchemaSet, Severity, TableSchema,
};

/// Days since 1970-01-01 of a civil date, if the date exists.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i32> {
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m as usize - 1];
    if d > dim {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

/// The civil date (`YYYY-MM-DD`) of a day count since 1970-01-01 ([`days_from_civil`]'s inverse).
pub fn civil_from_days(days: i32) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

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
