//! Spreadsheets (calamine) and CSV.
//!
//! xlsx, xlsm and xlsb are read cell by cell through calamine's cell readers, so memory follows the
//! cells a sheet holds, never the rectangle its farthest cells span: a note typed at `XFD1048576`
//! costs one cell, not seventeen billion. xls and ods have no such reader in calamine (it builds
//! their whole grid when the workbook opens); they are checked first (`crate::container`,
//! `crate::biff`) so that the grid calamine builds is bounded. Every reader then feeds the same
//! [`Cells`] and [`crate::grid::build`].

use std::io::{Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use calamine::{Data, DataRef, Ods, Reader, Xls, Xlsb, Xlsx, XlsxError, open_workbook};
use riskcensus_schema::{Severity, TableSchema};

use crate::grid::{Cells, Place, Rows};
use crate::header::HeaderMatch;
use crate::limits::{self, Reach};
use crate::{Error, FileNote, Input, RawCell, RawRow, Result, SourceFile, column_letter};

fn cell(d: &Data) -> RawCell {
    match d {
        Data::Empty => RawCell::Empty,
        Data::String(s) => RawCell::Text(s.as_str().into()),
        Data::Float(v) => RawCell::Number(*v),
        Data::Int(v) => RawCell::Number(*v as f64),
        Data::Bool(b) => RawCell::Bool(*b),
        Data::DateTime(dt) => RawCell::Date(dt.as_f64()),
        // ODS dates arrive as ISO text; make them the date cells Excel would give.
        Data::DateTimeIso(s) => iso_date(s)
            .map(RawCell::Date)
            .unwrap_or_else(|| RawCell::Text(s.as_str().into())),
        Data::DurationIso(s) => RawCell::Text(s.as_str().into()),
        Data::Error(e) => RawCell::Error(format!("{e}").into()),
    }
}

/// The same as [`cell`] for the cell readers' borrowed values (shared strings are not copied twice).
pub(crate) fn cell_ref(d: &DataRef<'_>) -> RawCell {
    match d {
        DataRef::Empty => RawCell::Empty,
        DataRef::String(s) => RawCell::Text(s.as_str().into()),
        DataRef::SharedString(s) => RawCell::Text((*s).into()),
        DataRef::Float(v) => RawCell::Number(*v),
        DataRef::Int(v) => RawCell::Number(*v as f64),
        DataRef::Bool(b) => RawCell::Bool(*b),
        DataRef::DateTime(dt) => RawCell::Date(dt.as_f64()),
        DataRef::DateTimeIso(s) => iso_date(s)
            .map(RawCell::Date)
            .unwrap_or_else(|| RawCell::Text(s.as_str().into())),
        DataRef::DurationIso(s) => RawCell::Text(s.as_str().into()),
        DataRef::Error(e) => RawCell::Error(format!("{e}").into()),
    }
}

/// Excel serial of an ISO date (`2021-05-21` or `2021-05-21T…`).
fn iso_date(s: &str) -> Option<f64> {
    let d = s.get(..10)?;
    let (y, m, dd) = (
        d.get(..4)?.parse().ok()?,
        d.get(5..7)?.parse().ok()?,
        d.get(8..10)?.parse().ok()?,
    );
    crate::days_from_civil(y, m, dd).map(|days| days as f64 + 25_569.0)
}

/// Builds the source description from a matched header, and the 0-based columns of the unknown
/// (extra) columns. Headers are read from column A, so a header column's index is its column.
pub(crate) fn plan(
    schema: &TableSchema,
    input: &Input,
    sheet: &str,
    header: &HeaderMatch,
    header_row: u32,
) -> Result<(SourceFile, Vec<usize>)> {
    let mut field_columns: Vec<Option<String>> = vec![None; schema.fields.len()];
    let mut extra_cols = Vec::new();
    let mut extra_columns = Vec::new();
    let mut notes = Vec::new();
    for (c, (text, field)) in header.columns.iter().enumerate() {
        let letter = column_letter(c);
        match field {
            Some(k) => field_columns[*k] = Some(letter),
            None if !text.is_empty() => {
                let note = match header.duplicate_of.get(c).copied().flatten() {
                    Some(k) => duplicate_column(schema, text, &letter, k, &field_columns),
                    None => FileNote::unknown_column(schema, text, &letter),
                };
                notes.push(note);
                extra_cols.push(c);
                extra_columns.push((text.clone(), letter));
            }
            None => {}
        }
    }
    let unmatched: Vec<String> = extra_columns.iter().map(|(t, _)| t.clone()).collect();
    if let Some(m) = crate::missing_required(schema, &field_columns, &unmatched) {
        return Err(Error::MissingColumns {
            path: input.path.clone(),
            sheet: sheet.to_owned(),
            row: header_row,
            missing: Box::new(m),
            table: schema.code.clone(),
        });
    }
    let source = SourceFile {
        path: input.display.clone(),
        sheet: sheet.to_owned(),
        header_row: Some(header_row),
        field_columns,
        extra_columns,
        encoding: None,
        notes,
        empty_rows_skipped: 0,
        records_in_file: None,
        records_excluded: 0,
    };
    Ok((source, extra_cols))
}

/// A second column headed like a field an earlier column already provides: kept as an extra column
/// and reported, since which of the two is right is the office's call, not the reader's.
fn duplicate_column(
    schema: &TableSchema,
    header: &str,
    letter: &str,
    field: usize,
    field_columns: &[Option<String>],
) -> FileNote {
    let f = &schema.fields[field];
    let first = field_columns[field].clone().unwrap_or_default();
    FileNote {
        rule: "duplicate_column",
        severity: Severity::Warning,
        column: Some(letter.to_owned()),
        row: None,
        value: header.to_owned(),
        message_zh: format!(
            "第 {letter} 列“{header}”与第 {first} 列同为“{}”，按第 {first} 列检查，第 {letter} 列已保留但未检查",
            f.name_zh
        ),
        message_en: format!(
            "column {letter} \"{header}\" repeats field {} already in column {first}; column {first} is checked, column {letter} is kept, not checked",
            f.code
        ),
    }
}

/// The spreadsheet formats and how far each reaches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
}

impl Kind {
    fn of(path: &Path) -> Kind {
        match crate::extension(path).as_str() {
            "xlsb" => Kind::Xlsb,
            "xls" => Kind::Xls,
            "ods" => Kind::Ods,
            _ => Kind::Xlsx,
        }
    }

    fn reach(self) -> Reach {
        match self {
            Kind::Xls => limits::EXCEL_97,
            _ => limits::EXCEL,
        }
    }
}

pub(crate) fn read_spreadsheet(
    schema: &TableSchema,
    input: &Input,
    file: u16,
) -> Result<(SourceFile, Vec<RawRow>)> {
    let (sheet, grid) = spreadsheet_grid(input)?;
    crate::grid::build(schema, input, &sheet, grid, Rows::Numbered, file)
}

/// The names of a workbook's sheets, after the same container checks as reading one.
pub(crate) fn sheet_names(path: &Path) -> Result<Vec<String>> {
    precheck(path)?;
    let chosen = std::cell::RefCell::new(String::new());
    guarded(path, &chosen, || {
        calamine::open_workbook_auto(path)
            .map(|wb| wb.sheet_names())
            .map_err(|e| spreadsheet_error(path, None, e))
    })?
}

/// The container checks that bound what calamine will build.
fn precheck(path: &Path) -> Result<()> {
    match Kind::of(path) {
        Kind::Xlsx | Kind::Xlsb => crate::container::check_zip(path),
        Kind::Ods => {
            crate::container::check_zip(path)?;
            crate::container::check_ods(path)
        }
        Kind::Xls => crate::biff::check_xls(path),
    }
}

/// The chosen sheet (the input's, else the first) as a grid of cells.
pub(crate) fn spreadsheet_grid(input: &Input) -> Result<(String, crate::grid::Grid)> {
    spreadsheet_grid_with(input, crate::xlsx::enabled())
}

/// [`spreadsheet_grid`], with the two-core xlsx reader (`fast`) or calamine's alone.
pub(crate) fn spreadsheet_grid_with(
    input: &Input,
    fast: bool,
) -> Result<(String, crate::grid::Grid)> {
    let path = &input.path;
    let kind = Kind::of(path);
    precheck(path)?;
    let chosen = std::cell::RefCell::new(input.sheet.clone().unwrap_or_default());
    let (sheet, cells) = guarded(path, &chosen, || read_cells(kind, input, &chosen, fast))??;
    if cells.is_empty() {
        return Err(Error::EmptySheet {
            path: path.clone(),
            sheet,
        });
    }
    Ok((sheet, cells.into_grid()))
}

/// Runs calamine, turning a panic inside it into an error naming the file: a malformed file must
/// not take the whole run down. (An allocation failure aborts rather than panics, which is why the
/// checks before calamine exist; this is the net under them.)
fn guarded<T>(path: &Path, sheet: &std::cell::RefCell<String>, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".to_owned());
        Error::ReaderPanic {
            path: path.to_owned(),
            sheet: sheet.borrow().clone(),
            message,
        }
    })
}

fn spreadsheet_error(path: &Path, sheet: Option<&str>, e: impl std::fmt::Display) -> Error {
    Error::Spreadsheet {
        path: path.to_owned(),
        message: match sheet {
            Some(s) => format!("sheet {s:?}: {e}"),
            None => e.to_string(),
        },
    }
}

/// The sheet the pipeline names, else the first.
fn choose_sheet(input: &Input, names: Vec<String>) -> Result<String> {
    match &input.sheet {
        Some(s) if names.contains(s) => Ok(s.clone()),
        Some(s) => Err(Error::NoSuchSheet {
            path: input.path.clone(),
            sheet: s.clone(),
            available: names.join(", "),
        }),
        None => names.into_iter().next().ok_or_else(|| Error::Spreadsheet {
            path: input.path.clone(),
            message: "the workbook lists no sheets (its workbook part, e.g. xl/workbook.xml, is missing or empty)".into(),
        }),
    }
}

/// Opens the workbook and collects the chosen sheet's cells; `chosen` learns the sheet's name as
/// soon as it is known, for an error should calamine fail after.
fn read_cells(
    kind: Kind,
    input: &Input,
    chosen: &std::cell::RefCell<String>,
    fast: bool,
) -> Result<(String, Cells)> {
    let choose = |names: Vec<String>| {
        let sheet = choose_sheet(input, names)?;
        chosen.replace(sheet.clone());
        Ok::<_, Error>(sheet)
    };
    let path = input.path.as_path();
    let open_err = |e: &dyn std::fmt::Display| spreadsheet_error(path, None, e);
    match kind {
        Kind::Xlsx => {
            let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| open_err(&e))?;
            let sheet = choose(wb.sheet_names())?;
            if fast && wb.worksheet_cells_reader(&sheet).is_ok() {
                // calamine has opened the workbook and read the sheet's XML up to its cells
                // without complaint; the two-core reader takes it from there, or hands it back.
                drop(wb);
                if let Some(cells) = crate::xlsx::read_sheet(path, &sheet, place(input, &sheet))? {
                    return Ok((sheet, cells));
                }
                wb = open_workbook(path).map_err(|e| open_err(&e))?;
            }
            let cells = xlsx_cells(&mut wb, input, &sheet)?;
            Ok((sheet, cells))
        }
        Kind::Xlsb => {
            let mut wb: Xlsb<_> = open_workbook(path).map_err(|e| open_err(&e))?;
            let sheet = choose(wb.sheet_names())?;
            let cells = xlsb_cells(&mut wb, input, &sheet)?;
            Ok((sheet, cells))
        }
        Kind::Xls => {
            let mut wb: Xls<_> = open_workbook(path).map_err(|e| open_err(&e))?;
            grid_cells(&mut wb, input, kind.reach())
        }
        Kind::Ods => {
            let mut wb: Ods<_> = open_workbook(path).map_err(|e| open_err(&e))?;
            grid_cells(&mut wb, input, kind.reach())
        }
    }
}

/// xlsx/xlsm: cell by cell, in the order the sheet XML gives them.
fn xlsx_cells<RS: Read + Seek>(wb: &mut Xlsx<RS>, input: &Input, sheet: &str) -> Result<Cells> {
    let path = input.path.as_path();
    let err = |e: XlsxError| spreadsheet_error(path, Some(sheet), e);
    let mut cells = Cells::new(place(input, sheet), limits::EXCEL);
    let mut reader = match wb.worksheet_cells_reader(sheet) {
        // A chart sheet holds no cells.
        Err(XlsxError::NotAWorksheet(_)) => return Ok(cells),
        r => r.map_err(err)?,
    };
    // The last cell read: a sheet XML that breaks off (cut, corrupt deflate) is named by where.
    let mut last: Option<(u32, u32)> = None;
    loop {
        let next = reader.next_cell().map_err(|e| match last {
            Some((r, c)) => spreadsheet_error(
                path,
                Some(sheet),
                format!(
                    "the sheet's XML breaks off after cell {}{}: {e}",
                    crate::column_letter(c as usize),
                    r + 1
                ),
            ),
            None => err(e),
        })?;
        let Some(c) = next else { break };
        let value = c.get_value();
        let (row, col) = c.get_position();
        last = Some((row, col));
        if *value != DataRef::Empty {
            cells.push_at(row, col, cell_ref(value))?;
        }
    }
    Ok(cells)
}

/// xlsb: cell by cell, like xlsx.
fn xlsb_cells<RS: Read + Seek>(wb: &mut Xlsb<RS>, input: &Input, sheet: &str) -> Result<Cells> {
    let path = input.path.as_path();
    let err = |e: calamine::XlsbError| spreadsheet_error(path, Some(sheet), e);
    let mut cells = Cells::new(place(input, sheet), limits::EXCEL);
    let mut reader = wb.worksheet_cells_reader(sheet).map_err(err)?;
    while let Some(c) = reader.next_cell().map_err(err)? {
        let value = c.get_value();
        if *value != DataRef::Empty {
            let (row, col) = c.get_position();
            cells.push_at(row, col, cell_ref(value))?;
        }
    }
    Ok(cells)
}

/// xls and ods: calamine built the sheet's grid when the workbook opened (bounded by the checks
/// before it); its used cells go through the same checks as any other reader's.
fn grid_cells<RS, R>(wb: &mut R, input: &Input, reach: Reach) -> Result<(String, Cells)>
where
    RS: Read + Seek,
    R: Reader<RS>,
    R::Error: std::fmt::Display,
{
    let sheet = choose_sheet(input, wb.sheet_names())?;
    let range = wb
        .worksheet_range(&sheet)
        .map_err(|e| spreadsheet_error(&input.path, Some(&sheet), e))?;
    let mut cells = Cells::new(place(input, &sheet), reach);
    if let Some((row0, col0)) = range.start() {
        for (r, c, value) in range.used_cells() {
            cells.push_at(row0 + r as u32, col0 + c as u32, cell(value))?;
        }
    }
    Ok((sheet, cells))
}

fn place(input: &Input, sheet: &str) -> Place {
    Place {
        path: input.path.clone(),
        sheet: sheet.to_owned(),
    }
}

/// Decodes CSV bytes: UTF-8 (with or without BOM), else GBK, else an error; rejects binary data.
fn decode(input: &Input, bytes: &[u8]) -> Result<(String, &'static str)> {
    let path = &input.path;
    if bytes.is_empty() {
        return Err(Error::EmptyFile { path: path.clone() });
    }
    if let Some(offset) = bytes
        .iter()
        .position(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n' | 0x0C)))
    {
        return Err(Error::Binary {
            path: path.clone(),
            offset,
            byte: bytes[offset],
        });
    }
    let forced = input.encoding.as_deref().map(|e| e.to_ascii_uppercase());
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let want_gbk = matches!(
        forced.as_deref(),
        Some("GBK" | "CP936" | "GB2312" | "GB18030")
    );
    if let Some(f) = &forced
        && !want_gbk
        && f != "UTF-8"
        && f != "UTF8"
    {
        return Err(Error::UnknownEncoding {
            path: path.clone(),
            encoding: f.clone(),
        });
    }
    if !want_gbk {
        match std::str::from_utf8(body) {
            Ok(s) => return Ok((s.to_owned(), "UTF-8")),
            Err(e) if forced.is_some() => {
                return Err(Error::Encoding {
                    path: path.clone(),
                    offset: e.valid_up_to(),
                });
            }
            Err(_) => {}
        }
    }
    match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(body) {
        Some(s) => Ok((s.into_owned(), "GBK")),
        None => {
            let offset = std::str::from_utf8(body)
                .err()
                .map(|e| e.valid_up_to())
                .unwrap_or(0);
            Err(Error::Encoding {
                path: path.clone(),
                offset,
            })
        }
    }
}

pub(crate) fn read_csv(
    schema: &TableSchema,
    input: &Input,
    file: u16,
) -> Result<(SourceFile, Vec<RawRow>)> {
    let (grid, encoding) = csv_grid(input)?;
    let (mut source, rows) = crate::grid::build(schema, input, "", grid, Rows::Listed, file)?;
    source.encoding = Some(encoding.to_owned());
    // As for a DBF without a .cpg: the reviewer sees that the text was not UTF-8 and was read as
    // GBK, so a mis-detected file (garbled names) can be traced to its cause.
    if input.encoding.is_none() && encoding != "UTF-8" {
        source.notes.push(FileNote {
            rule: "encoding_detected",
            severity: Severity::Warning,
            column: None,
            row: None,
            value: encoding.to_owned(),
            message_zh: format!("csv 文件不是 UTF-8，编码按内容判定为 {encoding}"),
            message_en: format!("the csv is not UTF-8; its text was detected as {encoding}"),
        });
    }
    Ok((source, rows))
}

/// A csv's records as a grid of cells, each at its line, with the encoding it was read in.
pub(crate) fn csv_grid(input: &Input) -> Result<(crate::grid::Grid, &'static str)> {
    let path = &input.path;
    let bytes = std::fs::read(path).map_err(|_| Error::NotFound { path: path.clone() })?;
    let (text, encoding) = decode(input, &bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    // Line numbers from byte offsets: the csv crate's own line count skips blank lines, and an office
    // counts them.
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(k, _)| k)
        .collect();
    let bytes = text.as_bytes();
    let line_at = |byte: u64| {
        // A record's position can point at the blank lines skipped before it.
        let mut b = byte as usize;
        while b < bytes.len() && matches!(bytes[b], b'\r' | b'\n') {
            b += 1;
        }
        newlines.partition_point(|&n| n < b) as u32 + 1
    };
    let place = Place {
        path: path.clone(),
        sheet: String::new(),
    };
    let mut cells = Cells::new(place, limits::EXCEL);
    let mut records = 0u32;
    for rec in reader.records() {
        let rec = rec.map_err(|e| Error::Csv {
            path: path.clone(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?;
        records += 1;
        let line = rec.position().map(|p| line_at(p.byte())).unwrap_or(records);
        for (col, s) in rec.iter().enumerate() {
            if !s.is_empty() {
                let col = u32::try_from(col).unwrap_or(u32::MAX);
                cells.push_line(line, col, RawCell::Text(s.into()))?;
            }
        }
    }
    if records == 0 {
        return Err(Error::EmptyFile { path: path.clone() });
    }
    Ok((cells.into_grid(), encoding))
}
