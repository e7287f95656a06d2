#![doc = include_str!("../README.md")]

mod biff;
mod contain;
mod container;
pub mod count;
mod grid;
mod header;
mod inspect;
mod limits;
pub mod pack;
mod sheet;
mod vector;
mod xlsx;

use compact_str::CompactString;
use std::path::{Path, PathBuf};

use riskcensus_schema::{Severity, TableSchema};

pub use header::normalize;
pub use inspect::{ColumnView, Inspection, Part, inspect};

/// Errors: a file that cannot be read as the table it should be.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: file not found")]
    NotFound { path: PathBuf },
    #[error(
        "{path}: cannot be read as a spreadsheet: {message} (hint: is it a whole .xlsx/.xls/.ods file? re-save it from Excel or WPS)"
    )]
    Spreadsheet { path: PathBuf, message: String },
    #[error("{path}: sheet {sheet:?} not found; the workbook has {available}")]
    NoSuchSheet {
        path: PathBuf,
        sheet: String,
        available: String,
    },
    #[error("{path}: sheet {sheet:?} is empty")]
    EmptySheet { path: PathBuf, sheet: String },
    #[error("{path}: file is empty")]
    EmptyFile { path: PathBuf },
    #[error(
        "{path}, sheet {sheet:?}: no header row found in the first {scanned} rows (hint: expected column names such as {expected})"
    )]
    NoHeader {
        path: PathBuf,
        sheet: String,
        scanned: usize,
        expected: String,
    },
    /// Required fields no header matched; `missing` says which, which of the file's own headers
    /// matched nothing, the closest of them for each missing field, and the column map to add.
    #[error("{path}, sheet {sheet:?}, header row {row}: required column(s) missing: {missing}")]
    MissingColumns {
        path: PathBuf,
        sheet: String,
        row: u32,
        missing: Box<Missing>,
        table: String,
    },
    #[error(
        "{path}, layer {layer:?}: required field(s) missing from the attribute table: {missing}"
    )]
    MissingFields {
        path: PathBuf,
        layer: String,
        missing: Box<Missing>,
        table: String,
    },
    #[error(
        "{path}: looks binary, not text (byte {offset} is {byte:#04x}) (hint: export the sheet as CSV again)"
    )]
    Binary {
        path: PathBuf,
        offset: usize,
        byte: u8,
    },
    #[error(
        "{path}: text is neither UTF-8 nor GBK (first bad byte at offset {offset}) (hint: save as UTF-8)"
    )]
    Encoding { path: PathBuf, offset: usize },
    #[error("{path}: malformed CSV at line {line}: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "{path}: shapefile has no {part} beside it (hint: a shapefile is .shp + .shx + .dbf (+ .prj, .cpg); copy all of them)"
    )]
    ShapefilePart { path: PathBuf, part: &'static str },
    #[error("{path}: GDAL cannot open it as a vector file: {message}")]
    VectorOpen { path: PathBuf, message: String },
    #[error("{path}: layer {layer:?} not found; the file has {available}")]
    NoSuchLayer {
        path: PathBuf,
        layer: String,
        available: String,
    },
    #[error(
        "{path}: coordinate system is {found}, not CGCS2000 (hint: use EPSG:4490, or set `reproject = true` under [spatial] in the pipeline to transform it)"
    )]
    Crs { path: PathBuf, found: String },
    #[error("{path}: unknown text encoding {encoding:?} (hint: use GBK or UTF-8)")]
    UnknownEncoding { path: PathBuf, encoding: String },
    #[error("{path}: {message}")]
    Gdal { path: PathBuf, message: String },
    #[error("{path}: {message} (hint: the file is damaged; copy it again from the original)")]
    Corrupt { path: PathBuf, message: String },
    #[error("{path}: unsupported file type (hint: xlsx, xls, ods, csv, shp, gpkg or geojson)")]
    UnsupportedType { path: PathBuf },
    /// A cell where the format has no cells: a file no spreadsheet program wrote as it stands.
    #[error(
        "{path}, sheet {sheet:?}, cell {cell}: {what} (hint: the file was not saved by Excel, WPS or LibreOffice as it stands; re-save it from one of them, or delete what lies outside the table)"
    )]
    OutsideSheet {
        path: PathBuf,
        sheet: String,
        cell: String,
        what: String,
    },
    /// A sheet asking for more than any census table needs (cells, text, the grid calamine builds).
    #[error("{path}, sheet {sheet:?}: {what} (hint: {hint})")]
    SheetTooLarge {
        path: PathBuf,
        sheet: String,
        what: String,
        hint: &'static str,
    },
    /// A cell longer than Excel allows. Refused whole, not cut: Excel and WPS cannot save such a
    /// cell, so the file was written by another program, and which part of the text is the office's
    /// is not the reader's to guess. Rejecting only the record would not do either: a long cell in an
    /// unknown column is not checked by QC, and would pass unseen.
    #[error(
        "{path}, sheet {sheet:?}, cell {cell}: {chars} characters, over Excel's limit of 32,767 per cell; the text is not cut short (hint: Excel and WPS cannot save such a cell, so another program wrote this file; shorten the text, or move it out of the table)"
    )]
    CellTooLong {
        path: PathBuf,
        sheet: String,
        cell: String,
        chars: usize,
    },
    /// A part of the workbook's container (zip entry, OLE stream) beyond what a workbook holds.
    #[error(
        "{path}: {part} {what} (hint: no office saves a workbook like this (a damaged file or a zip bomb); ask for the file again, re-saved from Excel or WPS)"
    )]
    Container {
        path: PathBuf,
        part: String,
        what: String,
    },
    /// calamine panicked on the file: a malformed file it did not expect, reported instead of
    /// taking the run down.
    #[error(
        "{path}, sheet {sheet:?}: the spreadsheet library failed on this file ({message}) (hint: the file is malformed; re-save it from Excel or WPS as .xlsx)"
    )]
    ReaderPanic {
        path: PathBuf,
        sheet: String,
        message: String,
    },
    /// The reader (or the library under it) panicked on this file; `place` is where, for a bug
    /// report.
    #[error(
        "{path}: cannot be read, the file is damaged or not what its extension says ({message}, at {place}) (hint: re-save or export it again)"
    )]
    ReaderFailed {
        path: PathBuf,
        message: String,
        place: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One cell as read. Text up to 24 bytes (most codes, names and categories) is kept inside the
/// cell without an allocation of its own; the cell stays 24 bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum RawCell {
    Empty,
    Text(CompactString),
    Number(f64),
    Bool(bool),
    /// An Excel date (serial days), read from a date-formatted cell.
    Date(f64),
    Error(Box<str>),
}

impl RawCell {
    pub fn is_empty(&self) -> bool {
        match self {
            RawCell::Empty => true,
            RawCell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell borrowed, as a packed row gives it.
    pub fn cell_ref(&self) -> CellRef<'_> {
        match self {
            RawCell::Empty => CellRef::Empty,
            RawCell::Text(s) => CellRef::Text(s),
            RawCell::Number(v) => CellRef::Number(*v),
            RawCell::Bool(b) => CellRef::Bool(*b),
            RawCell::Date(v) => CellRef::Date(*v),
            RawCell::Error(e) => CellRef::Error(e),
        }
    }

    /// The value as the office would see it, for issue rows.
    pub fn display(&self) -> String {
        match self {
            RawCell::Empty => String::new(),
            RawCell::Text(s) => s.to_string(),
            RawCell::Number(v) => format_number(*v),
            RawCell::Bool(b) => b.to_string(),
            RawCell::Date(v) => format_number(*v),
            RawCell::Error(e) => e.to_string(),
        }
    }
}

/// A cell of a packed row, borrowed: what [`RawCell`] holds, without an allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Empty,
    Text(&'a str),
    Number(f64),
    Bool(bool),
    Date(f64),
    Error(&'a str),
}

impl CellRef<'_> {
    pub fn is_empty(&self) -> bool {
        match self {
            CellRef::Empty => true,
            CellRef::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as the office would see it, for issue rows.
    pub fn display(&self) -> String {
        self.to_cell().display()
    }

    pub fn to_cell(&self) -> RawCell {
        match *self {
            CellRef::Empty => RawCell::Empty,
            CellRef::Text(s) => RawCell::Text(s.into()),
            CellRef::Number(v) => RawCell::Number(v),
            CellRef::Bool(b) => RawCell::Bool(b),
            CellRef::Date(v) => RawCell::Date(v),
            CellRef::Error(e) => RawCell::Error(e.into()),
        }
    }
}

impl<'a> From<&'a RawCell> for CellRef<'a> {
    fn from(cell: &'a RawCell) -> Self {
        cell.cell_ref()
    }
}

impl PartialEq<RawCell> for CellRef<'_> {
    fn eq(&self, other: &RawCell) -> bool {
        *self == other.cell_ref()
    }
}

/// The cells of one record, packed into one allocation ([`pack`]): a third of the memory of a
/// `Vec<RawCell>` for a census record.
#[derive(Clone, Default, PartialEq)]
pub struct RawCells(pack::Packed);

mod cell_tag {
    pub const EMPTY: u8 = 0;
    pub const TEXT: u8 = 1;
    pub const NUMBER: u8 = 2;
    pub const FALSE: u8 = 3;
    pub const TRUE: u8 = 4;
    pub const DATE: u8 = 5;
    pub const ERROR: u8 = 6;
}

impl RawCells {
    /// Packs cells with a packer reused from record to record.
    pub fn pack<'c>(
        packer: &mut pack::Packer,
        cells: impl IntoIterator<Item = CellRef<'c>>,
    ) -> Self {
        use cell_tag::*;
        for c in cells {
            match c {
                CellRef::Empty => packer.push(EMPTY, &[]),
                CellRef::Text(s) => packer.push(TEXT, s.as_bytes()),
                CellRef::Number(v) => packer.push(NUMBER, &v.to_le_bytes()),
                CellRef::Bool(b) => packer.push(if b { TRUE } else { FALSE }, &[]),
                CellRef::Date(v) => packer.push(DATE, &v.to_le_bytes()),
                CellRef::Error(e) => packer.push(ERROR, e.as_bytes()),
            }
        }
        RawCells(packer.finish())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Cell `k`, if the record has that many.
    pub fn get(&self, k: usize) -> Option<CellRef<'_>> {
        let (tag, b) = self.0.item(k)?;
        Some(cell_ref(tag, b))
    }

    /// Cell `k`, `Empty` past the end.
    pub fn at(&self, k: usize) -> CellRef<'_> {
        self.get(k).unwrap_or(CellRef::Empty)
    }

    pub fn iter(&self) -> impl Iterator<Item = CellRef<'_>> + '_ {
        self.0.items().map(|(tag, b)| cell_ref(tag, b))
    }
}

impl From<Vec<RawCell>> for RawCells {
    fn from(cells: Vec<RawCell>) -> Self {
        pack::with_packer(|p| RawCells::pack(p, cells.iter().map(RawCell::cell_ref)))
    }
}

impl FromIterator<RawCell> for RawCells {
    fn from_iter<I: IntoIterator<Item = RawCell>>(cells: I) -> Self {
        cells.into_iter().collect::<Vec<_>>().into()
    }
}

impl std::fmt::Debug for RawCells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

fn cell_ref(tag: u8, b: &[u8]) -> CellRef<'_> {
    use cell_tag::*;
    match tag {
        TEXT => CellRef::Text(pack::text(b)),
        NUMBER => CellRef::Number(f64::from_le_bytes(pack::eight(b))),
        FALSE => CellRef::Bool(false),
        TRUE => CellRef::Bool(true),
        DATE => CellRef::Date(f64::from_le_bytes(pack::eight(b))),
        ERROR => CellRef::Error(pack::text(b)),
        _ => CellRef::Empty,
    }
}

pub use riskcensus_schema::days_from_civil;

/// A number without a spurious `.0`.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A file-level finding of a reader (not an error): unknown columns, an encoding guessed, a CRS
/// accepted with a warning.
#[derive(Debug, Clone, PartialEq)]
pub struct FileNote {
    pub rule: &'static str,
    pub severity: Severity,
    pub column: Option<String>,
    /// The row (Excel row, or 1-based record number) a note is about: a deleted DBF record, a stray
    /// cell; `None` for the file as a whole.
    pub row: Option<u32>,
    pub value: String,
    pub message_zh: String,
    pub message_en: String,
}

impl FileNote {
    /// A column no field of the table matched: kept, reported, not checked.
    pub fn unknown_column(schema: &TableSchema, header: &str, column: &str) -> FileNote {
        FileNote {
            rule: "unknown_column",
            severity: Severity::Warning,
            column: Some(column.to_owned()),
            row: None,
            value: header.to_owned(),
            message_zh: format!("列“{header}”不是{}的字段，已保留但未检查", schema.name_zh),
            message_en: format!(
                "column \"{header}\" is not a field of {}; kept, not checked",
                schema.code
            ),
        }
    }
}

/// What a header check found missing, in words for the error: the required fields no column
/// provides, the file's headers no field matched, the likeliest of those for each missing field, and
/// the column map that would match them.
#[derive(Debug, Clone, PartialEq)]
pub struct Missing {
    /// `名称(code)`, comma-separated.
    pub missing: String,
    /// The file's unmatched headers, comma-separated (`none` when every header matched).
    pub unmatched: String,
    /// `; did you mean …` with one `header → 名称(code)` per missing field a header is like, or empty.
    pub suggest: String,
    /// The `columns = { … }` line to add to the file's `[[inputs]]` (or `[units]`).
    pub hint: String,
}

/// Headers listed in a missing-column error: enough to see the file's naming, short enough to read.
const UNMATCHED_SHOWN: usize = 20;

/// Required fields no column provides, with the file's `unmatched` headers and what they might
/// be; `None` when all required fields are there.
impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; headers matching no field: {}{} (hint: {})",
            self.missing, self.unmatched, self.suggest, self.hint
        )
    }
}

pub(crate) fn missing_required(
    schema: &TableSchema,
    field_columns: &[Option<String>],
    unmatched: &[String],
) -> Option<Missing> {
    let absent: Vec<usize> = schema
        .fields
        .iter()
        .zip(field_columns)
        .enumerate()
        .filter(|(_, (f, c))| f.required && c.is_none())
        .map(|(k, _)| k)
        .collect();
    if absent.is_empty() {
        return None;
    }
    let label = |k: usize| format!("{}({})", schema.fields[k].name_zh, schema.fields[k].code);
    let missing = absent
        .iter()
        .map(|&k| label(k))
        .collect::<Vec<_>>()
        .join(", ");
    let mut shown: Vec<String> = unmatched.iter().take(UNMATCHED_SHOWN).cloned().collect();
    if unmatched.len() > UNMATCHED_SHOWN {
        shown.push(format!("… {} more", unmatched.len() - UNMATCHED_SHOWN));
    }
    let unmatched_text = if shown.is_empty() {
        "none".to_owned()
    } else {
        shown.join(", ")
    };
    let close = header::closest_headers(schema, &absent, unmatched);
    let suggest = if close.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> = close
            .iter()
            .map(|(k, h)| format!("{h} → {}", label(*k)))
            .collect();
        format!("; did you mean: {}", pairs.join(", "))
    };
    let table = &schema.code;
    let hint = if close.is_empty() {
        format!(
            "add the columns, or map the file's headers to fields in the pipeline file, under this file's [[inputs]] (or [units]): columns = {{ \"<header>\" = \"<field code>\" }}; `riskcensus schema {table}` lists the fields and the names each accepts"
        )
    } else {
        let entries: Vec<String> = close
            .iter()
            .map(|(k, h)| format!("{h:?} = {:?}", schema.fields[*k].code))
            .collect();
        format!(
            "if they are the same, add to this file's [[inputs]] (or [units]) in the pipeline file: columns = {{ {} }}; `riskcensus schema {table}` lists the fields and the names each accepts",
            entries.join(", ")
        )
    };
    Some(Missing {
        missing,
        unmatched: unmatched_text,
        suggest,
        hint,
    })
}

/// One file of a table, as read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as given in the pipeline.
    pub path: String,
    /// Sheet or layer name.
    pub sheet: String,
    /// Excel row number of the field header (spreadsheets).
    pub header_row: Option<u32>,
    /// Column letter (or DBF field name) of each schema field, `None` where absent.
    pub field_columns: Vec<Option<String>>,
    /// Headers of columns no field matched, with their letters.
    pub extra_columns: Vec<(String, String)>,
    pub encoding: Option<String>,
    pub notes: Vec<FileNote>,
    /// Fully empty rows skipped (not records).
    pub empty_rows_skipped: u64,
    /// Records the file holds, counted from the file itself rather than from the library that read
    /// it (shapefile headers, the GeoPackage's own count, spreadsheet rows with a cell under the
    /// header); `None` where no independent count exists.
    pub records_in_file: Option<u64>,
    /// Records the file holds that are deliberately not read (deleted DBF records), each one named by
    /// a note.
    pub records_excluded: u64,
}

impl SourceFile {
    /// The conservation check of a reader: the records the file holds must be the records read plus
    /// those excluded by a visible rule. A mismatch is a file-level error note, which fails QC for the
    /// table: rows went missing between the file and the reader.
    pub(crate) fn check_conservation(&mut self, read: usize) {
        let Some(held) = self.records_in_file else {
            return;
        };
        let accounted = read as u64 + self.records_excluded;
        if held == accounted {
            return;
        }
        let excluded = self.records_excluded;
        self.notes.push(FileNote {
            rule: "row_count_mismatch",
            severity: Severity::Error,
            column: None,
            row: None,
            value: format!("{held} ≠ {read} + {excluded}"),
            message_zh: format!(
                "文件中有 {held} 条记录，实际读取 {read} 条、按规则排除 {excluded} 条，{} 条去向不明",
                held.abs_diff(accounted)
            ),
            message_en: format!(
                "the file holds {held} records; {read} were read and {excluded} excluded by rule: {} unaccounted for",
                held.abs_diff(accounted)
            ),
        });
    }
}

/// One record as read.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Index into `RawTable::files`.
    pub file: u16,
    /// Row number an office sees in Excel, or the feature's 1-based index.
    pub row: u32,
    /// One cell per schema field (`Empty` where the file has no such column).
    pub cells: RawCells,
    /// Cells of the file's extra (unknown) columns, in `SourceFile::extra_columns` order.
    pub extra: RawCells,
    /// Geometry as WKB (vector files).
    pub geometry: Option<Box<[u8]>>,
}

/// A whole table, from one or more files.
#[derive(Debug, Clone)]
pub struct RawTable {
    pub table: String,
    pub files: Vec<SourceFile>,
    pub rows: Vec<RawRow>,
}

/// One input file and how to read it.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub path: PathBuf,
    /// Path as written in the pipeline (for provenance).
    pub display: String,
    pub sheet: Option<String>,
    pub layer: Option<String>,
    /// Text encoding override (csv, DBF): `GBK`/`CP936` or `UTF-8`.
    pub encoding: Option<String>,
    /// The pipeline's column map for this file: (header or DBF field name, field code). Applied
    /// before the schema's names and aliases, so a file keeps its own headers and no schema needs
    /// copying to read it.
    pub columns: Vec<(String, String)>,
}

/// Options of the vector readers.
#[derive(Debug, Clone, Copy)]
pub struct VectorOptions {
    /// Transform other coordinate systems to CGCS2000 instead of failing.
    pub reproject: bool,
}

/// Reads every file of a table.
pub fn read_table(schema: &TableSchema, inputs: &[Input], opts: VectorOptions) -> Result<RawTable> {
    let mut table = RawTable {
        table: schema.code.clone(),
        files: Vec::with_capacity(inputs.len()),
        rows: Vec::new(),
    };
    for input in inputs {
        let file = table.files.len() as u16;
        let (source, rows) = read_file(schema, input, file, opts)?;
        table.files.push(source);
        table.rows.extend(rows);
    }
    Ok(table)
}

fn read_file(
    schema: &TableSchema,
    input: &Input,
    file: u16,
    opts: VectorOptions,
) -> Result<(SourceFile, Vec<RawRow>)> {
    let path = &input.path;
    if !path.is_file() {
        return Err(Error::NotFound { path: path.clone() });
    }
    let ext = extension(path);
    // Every reader runs contained: a parser's panic on a damaged file is an error naming the file.
    contain::contain(path, || match ext.as_str() {
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => sheet::read_spreadsheet(schema, input, file),
        "csv" | "txt" => sheet::read_csv(schema, input, file),
        "shp" | "gpkg" | "geojson" | "json" => vector::read_vector(schema, input, file, opts),
        _ => Err(Error::UnsupportedType { path: path.clone() }),
    })
}

pub(crate) fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Column letters: 0 → A, 25 → Z, 26 → AA.
pub fn column_letter(mut index: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn letters() {
        assert_eq!(super::column_letter(0), "A");
        assert_eq!(super::column_letter(25), "Z");
        assert_eq!(super::column_letter(26), "AA");
        assert_eq!(super::column_letter(701), "ZZ");
        assert_eq!(super::column_letter(702), "AAA");
    }
}
