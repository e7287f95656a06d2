//! Spreadsheets (calamine) and CSV.

use calamine::{Data, Reader, open_workbook_auto};
use riskcensus_schema::TableSchema;

use crate::header::{HEADER_SCAN, HeaderMatch, find_header};
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

/// Builds the source description and the column plan from a matched header.
fn plan(
    schema: &TableSchema,
    input: &Input,
    sheet: &str,
    header: &HeaderMatch,
    header_row: u32,
    col0: usize,
) -> Result<(SourceFile, Vec<Option<usize>>, Vec<usize>)> {
    let mut field_columns: Vec<Option<String>> = vec![None; schema.fields.len()];
    let mut field_of_col: Vec<Option<usize>> = Vec::with_capacity(header.columns.len());
    let mut extra_cols = Vec::new();
    let mut extra_columns = Vec::new();
    let mut notes = Vec::new();
    for (c, (text, field)) in header.columns.iter().enumerate() {
        let letter = column_letter(col0 + c);
        match field {
            Some(k) => field_columns[*k] = Some(letter),
            None if !text.is_empty() => {
                notes.push(FileNote::unknown_column(schema, text, &letter));
                extra_cols.push(c);
                extra_columns.push((text.clone(), letter));
            }
            None => {}
        }
        field_of_col.push(*field);
    }
    if let Some(missing) = crate::missing_required(schema, &field_columns) {
        return Err(Error::MissingColumns {
            path: input.path.clone(),
            sheet: sheet.to_owned(),
            row: header_row,
            missing,
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
    Ok((source, field_of_col, extra_cols))
}

fn expected_names(schema: &TableSchema) -> String {
    schema
        .fields
        .iter()
        .filter(|f| f.required)
        .take(4)
        .map(|f| f.name_zh.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

/// Turns the data rows under a header into records; fully empty rows are skipped and counted.
fn records<'a>(
    schema: &TableSchema,
    file: u16,
    rows: impl Iterator<Item = (u32, Vec<RawCell>)> + 'a,
    field_of_col: &[Option<usize>],
    extra_cols: &[usize],
    source: &mut SourceFile,
) -> Vec<RawRow> {
    let mut out = Vec::new();
    for (row, cells) in rows {
        if cells.iter().all(RawCell::is_empty) {
            source.empty_rows_skipped += 1;
            continue;
        }
        let mut by_field = vec![RawCell::Empty; schema.fields.len()];
        let mut extra = Vec::with_capacity(extra_cols.len());
        for (c, v) in cells.into_iter().enumerate() {
            match field_of_col.get(c).copied().flatten() {
                Some(k) => by_field[k] = v,
                None => {
                    if extra_cols.contains(&c) {
                        extra.push(v);
                    }
                }
            }
        }
        extra.resize(extra_cols.len(), RawCell::Empty);
        out.push(RawRow {
            file,
            row,
            cells: by_field,
            extra,
            geometry: None,
        });
    }
    out
}

pub(crate) fn read_spreadsheet(
    schema: &TableSchema,
    input: &Input,
    file: u16,
) -> Result<(SourceFile, Vec<RawRow>)> {
    let path = &input.path;
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(Error::EmptyFile { path: path.clone() });
    }
    let bad = |e: calamine::Error| Error::Spreadsheet {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut wb = open_workbook_auto(path).map_err(bad)?;
    let names = wb.sheet_names();
    let sheet = match &input.sheet {
        Some(s) => {
            if !names.contains(s) {
                return Err(Error::NoSuchSheet {
                    path: path.clone(),
                    sheet: s.clone(),
                    available: names.join(", "),
                });
            }
            s.clone()
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| Error::EmptyFile { path: path.clone() })?,
    };
    let range = wb.worksheet_range(&sheet).map_err(bad)?;
    if range.is_empty() {
        return Err(Error::EmptySheet {
            path: path.clone(),
            sheet,
        });
    }
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let head: Vec<Vec<RawCell>> = range
        .rows()
        .take(HEADER_SCAN)
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let header = find_header(schema, &head).ok_or_else(|| Error::NoHeader {
        path: path.clone(),
        sheet: sheet.clone(),
        scanned: head.len(),
        expected: expected_names(schema),
    })?;
    let header_row = row0 + header.row as u32 + 1;
    let (mut source, field_of_col, extra_cols) =
        plan(schema, input, &sheet, &header, header_row, col0 as usize)?;
    let data = range
        .rows()
        .enumerate()
        .skip(header.row + 1)
        .map(|(k, r)| (row0 + k as u32 + 1, r.iter().map(cell).collect::<Vec<_>>()));
    let rows = records(schema, file, data, &field_of_col, &extra_cols, &mut source);
    Ok((source, rows))
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
    let mut all: Vec<(u32, Vec<RawCell>)> = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| Error::Csv {
            path: path.clone(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?;
        let line = rec
            .position()
            .map(|p| line_at(p.byte()))
            .unwrap_or(all.len() as u32 + 1);
        all.push((
            line,
            rec.iter()
                .map(|s| {
                    if s.is_empty() {
                        RawCell::Empty
                    } else {
                        RawCell::Text(s.into())
                    }
                })
                .collect(),
        ));
    }
    if all.is_empty() {
        return Err(Error::EmptyFile { path: path.clone() });
    }
    let head: Vec<Vec<RawCell>> = all.iter().take(HEADER_SCAN).map(|r| r.1.clone()).collect();
    let sheet = String::new();
    let header = find_header(schema, &head).ok_or_else(|| Error::NoHeader {
        path: path.clone(),
        sheet: sheet.clone(),
        scanned: head.len(),
        expected: expected_names(schema),
    })?;
    let header_row = all[header.row].0;
    let (mut source, field_of_col, extra_cols) =
        plan(schema, input, &sheet, &header, header_row, 0)?;
    source.encoding = Some(encoding.to_owned());
    let rows = records(
        schema,
        file,
        all.into_iter().skip(header.row + 1),
        &field_of_col,
        &extra_cols,
        &mut source,
    );
    Ok((source, rows))
}
