//! Checks of a zipped workbook (xlsx, xlsm, xlsb, ods) before calamine opens it.
//!
//! calamine trusts the container: it inflates whatever a part's deflate stream yields (bounded only
//! by the size the zip declares, which its zip reader enforces), reads the whole shared-string table
//! into memory when the workbook opens, and for ods parses every table of `content.xml` into dense
//! grids at open, expanding `number-rows-repeated`, `number-columns-repeated` and `<text:s text:c>`
//! as told. What it still trusts after these checks:
//! - the sheet XML's structure and cell references (a reference past `u32` wraps in a release build
//!   and panics in a debug one; the panic is caught, see `sheet::guarded`);
//! - an xlsb record's declared length (up to 2^28 bytes, one buffer);
//! - styles and relationships (parts of at most `MAX_OTHER_BYTES` each).
//!
//! Worst case left for ods: the dense grids calamine builds, bounded here at `MAX_CELLS` cells over
//! the whole file, cost 56 bytes a cell (the value and its formula text), about 5.6 GB, plus at most
//! `MAX_TEXT_BYTES` of cell text.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;

use crate::grid::address;
use crate::limits::{self, EXCEL, MAX_CELL_CHARS, MAX_CELLS, MAX_TEXT_BYTES, zip as z};
use crate::{Error, Result, column_letter};

/// The bound on a part's declared size, by what calamine does with it; `None` for parts calamine
/// does not read (pictures, embedded objects, thumbnails).
fn bound(name: &str) -> Option<u64> {
    let lower = name.to_ascii_lowercase();
    let read = lower.ends_with(".xml") || lower.ends_with(".rels") || lower.ends_with(".bin");
    if !read || lower.contains("/media/") || lower.contains("/embeddings/") {
        return None;
    }
    if lower.contains("sharedstrings") {
        Some(z::MAX_LOADED_BYTES)
    } else if lower.starts_with("xl/worksheets/") || lower == "content.xml" {
        Some(z::MAX_SHEET_BYTES)
    } else {
        Some(z::MAX_OTHER_BYTES)
    }
}

/// Opens a zipped workbook (xlsx, xlsb, ods); `None` when the file cannot be opened at all (the
/// reader's own open names that). A file without a zip directory is an error saying where the
/// directory should have been: an xlsx or ods is a zip whose directory sits at the end.
fn open_zip(path: &Path) -> Result<Option<ZipArchive<BufReader<File>>>> {
    let Ok(file) = File::open(path) else {
        return Ok(None);
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    match ZipArchive::new(BufReader::new(file)) {
        Ok(z) => Ok(Some(z)),
        Err(e) => Err(Error::Spreadsheet {
            path: path.to_owned(),
            message: format!(
                "no zip directory at the end of the file ({len} bytes): the workbook is cut short, or is not an xlsx at all ({e})"
            ),
        }),
    }
}

/// Checks every part calamine reads against its declared uncompressed size and compression ratio.
pub(crate) fn check_zip(path: &Path) -> Result<()> {
    let Some(mut zip) = open_zip(path)? else {
        return Ok(());
    };
    let mut sheets = Vec::new();
    for k in 0..zip.len() {
        let Ok(entry) = zip.by_index_data(k) else {
            continue;
        };
        let Ok(name) = entry.name() else { continue };
        let Some(limit) = bound(&name) else { continue };
        check_part(path, &name, entry.size(), entry.compressed_size(), limit)?;
        if name.starts_with("xl/worksheets/") && name.ends_with(".xml") {
            sheets.push(name.into_owned());
        }
    }
    for name in sheets {
        check_dimension(path, &mut zip, &name)?;
        check_references(path, &mut zip, &name)?;
    }
    Ok(())
}

/// calamine reads each `<row r>` and `<c r>` with unchecked 32-bit arithmetic: a reference past
/// 4,294,967,295 rows (or past column `MWLQKWU`) panics in a debug build and, in a release one,
/// wraps around, so that the cell lands silently elsewhere (`A4294967297` on `A1`). Each worksheet
/// is scanned once for such references, streamed through a 64 KiB buffer, and a file holding one is
/// refused alike in every build. A reference within 32 bits but past Excel's sheet is left to the
/// cell reader, which names it.
fn check_references<R: std::io::Read + std::io::Seek>(
    path: &Path,
    zip: &mut ZipArchive<R>,
    name: &str,
) -> Result<()> {
    use std::io::BufRead;
    let Ok(part) = zip.by_name(name) else {
        return Ok(());
    };
    let mut reader = BufReader::with_capacity(64 << 10, part);
    let mut scan = RefScan::default();
    loop {
        // A part that fails to inflate is calamine's to report.
        let Ok(buf) = reader.fill_buf() else {
            return Ok(());
        };
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(reference) = scan.feed_buf(buf) {
            return Err(Error::Container {
                path: path.to_owned(),
                part: format!("part {name}"),
                what: format!(
                    "holds the cell reference {reference:?}, past what 32 bits can count (the reader would place it elsewhere)"
                ),
            });
        }
        let n = buf.len();
        reader.consume(n);
    }
}

/// Finds the values of ` r="…"` attributes in a byte stream, one byte at a time.
#[derive(Default)]
struct RefScan {
    /// 0: waiting for whitespace; 1: for `r`; 2: for `=`; 3: for a quote.
    state: u8,
    /// The quote of the value being read, and the value so far.
    value: Option<(u8, Vec<u8>)>,
}

impl RefScan {
    /// Takes a buffer; returns the first reference that overflows 32 bits. The same as feeding
    /// each byte to [`RefScan::feed`], faster: from the idle state only ` r=` followed by a quote
    /// starts a value, so the bytes before the next `r=` can be skipped (the byte before it still
    /// goes through `feed`, which decides whether it is whitespace). The last two bytes are fed
    /// too, so that a ` r` cut off by the buffer's end carries its state into the next one. A
    /// worksheet of a million rows holds ~870 MB of XML: this scan runs before any reader.
    fn feed_buf(&mut self, buf: &[u8]) -> Option<String> {
        let mut i = 0;
        while i < buf.len() {
            if self.state == 0 && self.value.is_none() {
                i = match memchr::memmem::find(&buf[i..], b"r=") {
                    Some(p) => i + p.saturating_sub(1),
                    None => buf.len().saturating_sub(2).max(i),
                };
            }
            if let Some(reference) = self.feed(buf[i]) {
                return Some(reference);
            }
            i += 1;
        }
        None
    }

    /// Takes one byte; returns a reference that overflows 32 bits when one ends.
    fn feed(&mut self, b: u8) -> Option<String> {
        if let Some((quote, value)) = &mut self.value {
            if b == *quote {
                let value = std::mem::take(value);
                self.value = None;
                return overflows(&value).then(|| String::from_utf8_lossy(&value).into_owned());
            }
            // No reference within 32 bits is this long.
            if value.len() >= 24 {
                let shown = format!("{}…", String::from_utf8_lossy(value));
                self.value = None;
                return Some(shown);
            }
            value.push(b);
            return None;
        }
        self.state = match (self.state, b) {
            (_, b' ' | b'\t' | b'\n' | b'\r') => 1,
            (1, b'r') => 2,
            (2, b'=') => 3,
            (3, b'"' | b'\'') => {
                self.value = Some((b, Vec::new()));
                0
            }
            _ => 0,
        };
        None
    }
}

/// Whether a reference's row or column needs more than 32 bits (letters, then digits).
fn overflows(reference: &[u8]) -> bool {
    let split = reference
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(reference.len());
    let (letters, digits) = reference.split_at(split);
    let col = letters.iter().fold(0u64, |acc, b| {
        acc.saturating_mul(26)
            .saturating_add(u64::from(b.to_ascii_uppercase() - b'A' + 1))
    });
    let row = digits
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0u64, |acc, b| {
            acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        });
    col > u64::from(u32::MAX) || row > u64::from(u32::MAX)
}

/// calamine parses a worksheet's `<dimension ref>` with unchecked arithmetic before its first cell:
/// a range written backwards, or with a reference too long for 32 bits, panics in a debug build and
/// wraps silently in a release one. The range is only a hint, but no spreadsheet program writes it
/// that way, so the file is refused alike in every build. (The `<dimension>` element comes before
/// the cells; the first 64 KiB of the part hold it.)
fn check_dimension<R: std::io::Read + std::io::Seek>(
    path: &Path,
    zip: &mut ZipArchive<R>,
    name: &str,
) -> Result<()> {
    use std::io::Read;
    let mut head = Vec::new();
    let Ok(part) = zip.by_name(name) else {
        return Ok(());
    };
    if part.take(64 << 10).read_to_end(&mut head).is_err() {
        return Ok(());
    }
    let head = String::from_utf8_lossy(&head);
    let Some(range) = head
        .find("<dimension")
        .and_then(|k| head[k..].split('>').next())
        .and_then(|element| element.split("ref=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
    else {
        return Ok(());
    };
    match dimension_problem(range) {
        None => Ok(()),
        Some(problem) => Err(Error::Container {
            path: path.to_owned(),
            part: format!("part {name}"),
            what: format!("declares its used range as {range:?}, {problem}"),
        }),
    }
}

/// What is wrong with a `<dimension ref>` that calamine would mis-read; `None` when it is sound, or
/// malformed in a way calamine reports itself (a stray character, a missing row).
fn dimension_problem(range: &str) -> Option<String> {
    let corners: Vec<(u64, u64)> = range.split(':').map(cell_ref).collect::<Option<_>>()?;
    let (rows, cols) = (u64::from(EXCEL.rows), u64::from(EXCEL.columns));
    if corners.iter().any(|&(r, c)| r > rows || c > cols) {
        return Some(format!(
            "beyond Excel's last cell {}",
            address(EXCEL.rows, EXCEL.columns - 1)
        ));
    }
    match corners[..] {
        [(r0, c0), (r1, c1)] if r1 < r0 || c1 < c0 => Some("which runs backwards".to_owned()),
        _ => None,
    }
}

/// A cell reference's 1-based (row, column), saturating rather than wrapping; `None` for what is
/// not letters then digits.
fn cell_ref(s: &str) -> Option<(u64, u64)> {
    let digits_at = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(digits_at);
    if letters.is_empty() || !letters.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let col = letters.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(26)
            .saturating_add(u64::from(b.to_ascii_uppercase() - b'A' + 1))
    });
    let row = digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    Some((row, col))
}

/// One part: its declared size against its bound, and its ratio against what only bombs reach.
fn check_part(path: &Path, name: &str, size: u64, compressed: u64, limit: u64) -> Result<()> {
    let part = format!("part {name}");
    if size > limit {
        return Err(Error::Container {
            path: path.to_owned(),
            part,
            what: format!(
                "declares {} uncompressed, over the {} such a part may hold",
                limits::bytes(size),
                limits::bytes(limit)
            ),
        });
    }
    let ratio = size / compressed.max(1);
    if size > z::RATIO_FLOOR_BYTES && ratio > z::MAX_RATIO {
        return Err(Error::Container {
            path: path.to_owned(),
            part,
            what: format!(
                "inflates {} from {} ({}:1), a ratio only zip bombs reach (a workbook's XML compresses under {}:1)",
                limits::bytes(size),
                limits::bytes(compressed),
                limits::thousands(ratio),
                z::MAX_RATIO
            ),
        });
    }
    Ok(())
}

/// What calamine will build for one ods table, counted from `content.xml` without building it.
#[derive(Default)]
struct Table {
    name: String,
    /// Expanded 0-based index of the next row.
    row: u64,
    /// Cells calamine pushes before expanding repeated rows (a row's cells up to its last value).
    raw_cells: u64,
    first_row: Option<u64>,
    last_row: u64,
    first_col: u64,
    last_col: u64,
}

impl Table {
    /// Cells calamine holds for the table at once: the cells it pushes as it reads, and the dense
    /// grid it then builds, the rectangle from the first value to the last.
    fn cells(&self) -> u64 {
        let dense = match self.first_row {
            None => 0,
            Some(first) => (self.last_row.saturating_sub(first) + 1)
                .saturating_mul(self.last_col.saturating_sub(self.first_col) + 1),
        };
        dense.saturating_add(self.raw_cells)
    }
}

/// The row being scanned.
#[derive(Default)]
struct RowScan {
    repeats: u64,
    col: u64,
    /// Column after the last cell holding a value.
    extent: u64,
    first_col: Option<u64>,
}

/// The cell being scanned.
#[derive(Default)]
struct CellScan {
    repeats: u64,
    has_value: bool,
    /// Characters of its text as calamine will build it.
    chars: u64,
    bytes: u64,
    paragraphs: u64,
    in_annotation: bool,
}

/// Totals over the whole file (calamine builds every table when the workbook opens).
struct OdsScan<'a> {
    path: &'a Path,
    table: Table,
    row: RowScan,
    cell: Option<CellScan>,
    dense: u64,
    text: u64,
}

/// Scans an ods `content.xml` as calamine will read it and refuses, before calamine builds
/// anything, a file whose grids or text would exceed the limits, a value outside Excel's sheet, or a
/// cell over 32,767 characters (`<text:s text:c="…">` alone can ask for any number of spaces).
pub(crate) fn check_ods(path: &Path) -> Result<()> {
    let Some(mut zip) = open_zip(path)? else {
        return Ok(());
    };
    let Ok(content) = zip.by_name("content.xml") else {
        return Ok(());
    };
    scan_ods(path, BufReader::new(content))
}

fn scan_ods(path: &Path, content: impl std::io::BufRead) -> Result<()> {
    let mut xml = quick_xml::Reader::from_reader(content);
    xml.config_mut().check_end_names = false;
    let mut scan = OdsScan {
        path,
        table: Table::default(),
        row: RowScan::default(),
        cell: None,
        dense: 0,
        text: 0,
    };
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // Malformed XML is calamine's to report, in its own words.
        let Ok(event) = xml.read_event_into(&mut buf) else {
            return Ok(());
        };
        match event {
            Event::Start(e) => scan.start(&e, false)?,
            Event::Empty(e) => scan.start(&e, true)?,
            Event::End(e) => scan.end(e.name().as_ref())?,
            Event::Text(t) => scan.text(&t),
            Event::CData(t) => scan.text(&t),
            Event::GeneralRef(_) => scan.add_chars(1, 4),
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// An attribute's value as a number (`None` when absent or not a number: calamine then fails with
/// its own error).
fn number(e: &BytesStart<'_>, key: &str) -> Option<u64> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .and_then(|a| a.value.trim().parse().ok())
}

/// The length of the first of `keys` the element has.
fn has_attr(e: &BytesStart<'_>, keys: &[&str]) -> Option<usize> {
    e.attributes()
        .flatten()
        .find(|a| keys.contains(&a.key.as_ref()))
        .map(|a| a.value.len())
}

impl OdsScan<'_> {
    fn start(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<()> {
        match e.name().as_ref() {
            "table:table" => {
                let name = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "table:name")
                    .map(|a| a.value.into_owned())
                    .unwrap_or_default();
                self.table = Table {
                    name,
                    ..Table::default()
                };
            }
            "table:table-row" => {
                self.row = RowScan {
                    repeats: number(e, "table:number-rows-repeated").unwrap_or(1),
                    ..RowScan::default()
                };
                if empty {
                    self.end_row()?;
                }
            }
            "table:table-cell" | "table:covered-table-cell" => {
                let value = has_attr(
                    e,
                    &[
                        "office:value-type",
                        "office:value",
                        "office:string-value",
                        "office:date-value",
                        "office:time-value",
                        "office:boolean-value",
                        "table:formula",
                    ],
                );
                let string_value = has_attr(e, &["office:string-value"]).unwrap_or(0) as u64;
                self.cell = Some(CellScan {
                    repeats: number(e, "table:number-columns-repeated").unwrap_or(1),
                    has_value: value.is_some(),
                    chars: string_value,
                    bytes: string_value,
                    ..CellScan::default()
                });
                if empty {
                    self.end_cell()?;
                }
            }
            "office:annotation" => {
                if let Some(c) = &mut self.cell {
                    c.in_annotation = !empty;
                }
            }
            "text:p" => {
                if let Some(c) = self.cell.as_mut().filter(|c| !c.in_annotation) {
                    c.paragraphs += 1;
                }
            }
            // calamine writes `text:c` spaces: the count is the file's to choose.
            "text:s" => {
                let spaces = number(e, "text:c").unwrap_or(1);
                self.add_chars(spaces, spaces);
            }
            "text:tab" | "text:line-break" => self.add_chars(1, 1),
            _ => {}
        }
        if let Some(c) = &self.cell
            && c.chars > MAX_CELL_CHARS as u64
        {
            return Err(self.too_long());
        }
        Ok(())
    }

    fn end(&mut self, name: &str) -> Result<()> {
        match name {
            "table:table-cell" | "table:covered-table-cell" => self.end_cell(),
            "table:table-row" => self.end_row(),
            "table:table" => {
                self.dense = self.dense.saturating_add(self.table.cells());
                self.table = Table::default();
                Ok(())
            }
            "office:annotation" => {
                if let Some(c) = &mut self.cell {
                    c.in_annotation = false;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn text(&mut self, t: &str) {
        self.add_chars(t.chars().count() as u64, t.len() as u64);
    }

    fn add_chars(&mut self, chars: u64, bytes: u64) {
        if let Some(c) = self.cell.as_mut().filter(|c| !c.in_annotation) {
            c.chars = c.chars.saturating_add(chars);
            c.bytes = c.bytes.saturating_add(bytes);
        }
    }

    fn too_long(&self) -> Error {
        let chars = self.cell.as_ref().map_or(0, |c| c.chars);
        Error::CellTooLong {
            path: self.path.to_owned(),
            sheet: self.table.name.clone(),
            cell: self.cell_address(self.table.row, self.row.col),
            chars: usize::try_from(chars).unwrap_or(usize::MAX),
        }
    }

    fn cell_address(&self, row: u64, col: u64) -> String {
        let row = u32::try_from(row.saturating_add(1)).unwrap_or(u32::MAX);
        address(row, u32::try_from(col).unwrap_or(u32::MAX))
    }

    fn end_cell(&mut self) -> Result<()> {
        let Some(cell) = self.cell.take() else {
            return Ok(());
        };
        if cell.chars > MAX_CELL_CHARS as u64 {
            self.cell = Some(cell);
            return Err(self.too_long());
        }
        // Paragraphs after the first are joined with a line break.
        let text = cell.bytes + cell.paragraphs.saturating_sub(1);
        let col = self.row.col;
        self.row.col = col.saturating_add(cell.repeats);
        if cell.has_value || text > 0 {
            if col >= u64::from(EXCEL.columns) {
                return Err(self.outside(
                    self.table.row,
                    col,
                    format!(
                        "column {} exceeds {}'s {} columns",
                        column_letter(usize::try_from(col).unwrap_or(usize::MAX)),
                        EXCEL.program,
                        limits::thousands(u64::from(EXCEL.columns))
                    ),
                ));
            }
            self.row.first_col.get_or_insert(col);
            self.row.extent = self.row.col.min(u64::from(EXCEL.columns));
            // calamine copies the value into every repeated column, and every repeated row.
            let copies = cell.repeats.saturating_mul(self.row.repeats);
            self.text = self.text.saturating_add(text.saturating_mul(copies));
            if self.text > MAX_TEXT_BYTES {
                return Err(self.too_large(format!(
                    "its cells would hold more than {} of text once repeated cells are copied out",
                    limits::bytes(MAX_TEXT_BYTES)
                )));
            }
        }
        Ok(())
    }

    fn end_row(&mut self) -> Result<()> {
        let row = self.table.row;
        let repeats = self.row.repeats;
        self.table.row = row.saturating_add(repeats);
        let Some(first_col) = self.row.first_col else {
            return Ok(());
        };
        if row >= u64::from(EXCEL.rows) {
            return Err(self.outside(
                row,
                first_col,
                format!(
                    "row {} exceeds {}'s {} rows",
                    limits::thousands(row + 1),
                    EXCEL.program,
                    limits::thousands(u64::from(EXCEL.rows))
                ),
            ));
        }
        let t = &mut self.table;
        t.raw_cells = t.raw_cells.saturating_add(self.row.extent);
        if t.first_row.is_none() {
            t.first_row = Some(row);
            t.first_col = first_col;
        }
        t.first_col = t.first_col.min(first_col);
        t.last_col = t.last_col.max(self.row.extent.saturating_sub(1));
        t.last_row = row.saturating_add(repeats.max(1) - 1);
        let cells = self.dense.saturating_add(t.cells());
        if cells > MAX_CELLS {
            let (first_row, first_col, last_row, last_col) = (
                t.first_row.unwrap_or(0),
                t.first_col,
                t.last_row,
                t.last_col,
            );
            let at = self.cell_address(last_row, last_col);
            let first = self.cell_address(first_row, first_col);
            return Err(self.too_large(format!(
                "the grid calamine would build ({first}:{at}, {} cells with the file's other tables) exceeds the limit of {} cells",
                limits::thousands(cells),
                limits::thousands(MAX_CELLS)
            )));
        }
        Ok(())
    }

    fn outside(&self, row: u64, col: u64, what: String) -> Error {
        Error::OutsideSheet {
            path: self.path.to_owned(),
            sheet: self.table.name.clone(),
            cell: self.cell_address(row, col),
            what,
        }
    }

    fn too_large(&self, what: String) -> Error {
        Error::SheetTooLarge {
            path: self.path.to_owned(),
            sheet: self.table.name.clone(),
            what,
            hint: "an ods sheet is read as one whole grid: delete cells far from the table, or save the file as .xlsx, which is read cell by cell",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_calamine_would_mis_read() {
        assert_eq!(dimension_problem("A1:J6"), None);
        assert_eq!(dimension_problem("A1:XFD1048576"), None);
        assert_eq!(dimension_problem("B2"), None);
        // Malformed in ways calamine reports itself.
        assert_eq!(dimension_problem("A1:J$6"), None);
        assert!(dimension_problem("J6:A1").unwrap().contains("backwards"));
        assert!(dimension_problem("A1:XFE1").unwrap().contains("XFD1048576"));
        assert!(
            dimension_problem("A1:A99999999999")
                .unwrap()
                .contains("beyond")
        );
        assert!(
            dimension_problem("A1:ZZZZZZZZZZZZZ1")
                .unwrap()
                .contains("beyond")
        );
    }

    #[test]
    fn references_past_32_bits_are_found_in_a_stream() {
        let refs = |xml: &str| -> Vec<String> {
            let mut scan = RefScan::default();
            xml.bytes().filter_map(|b| scan.feed(b)).collect()
        };
        let xml = r#"<row r="4294967296" spans="1:2"><c r="A1" t="s"><v>0</v></c><c r='B4294967297'/><c\nr="XFD1048576"/><c r="MWLQKWV1"/></row>"#;
        assert_eq!(refs(xml), vec!["4294967296", "B4294967297", "MWLQKWV1"]);
        assert!(refs(r#"<c r="A4294967295"/><c r="MWLQKWU1"/><c ref="A99999999999"/>"#).is_empty());
    }

    #[test]
    fn the_buffer_scan_finds_what_the_byte_scan_finds_wherever_buffers_end() {
        let xml = concat!(
            r#"<row r="4294967296"><c r="A1"><v>1</v></c><c  r='B4294967297'/>"#,
            "<c\tr=\"XFD1048576\"/><c r=\"MWLQKWV1\"/><c rr=\"A99999999999\"/>",
            r#"<c r="A1" x r="ZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"/> r=x r= "A1" r=""r="#
        )
        .as_bytes();
        // What check_references reports: the first find, over the buffers in turn.
        let bytewise = |parts: &[&[u8]]| -> Option<String> {
            let mut scan = RefScan::default();
            parts
                .iter()
                .flat_map(|p| p.iter())
                .find_map(|&b| scan.feed(b))
        };
        let buffered = |parts: &[&[u8]]| -> Option<String> {
            let mut scan = RefScan::default();
            parts.iter().find_map(|p| scan.feed_buf(p))
        };
        let mut all = Vec::new();
        let mut scan = RefScan::default();
        all.extend(xml.iter().filter_map(|&b| scan.feed(b)));
        // `rr=` is no reference attribute; the 28-letter one is cut at 24 and reported.
        assert_eq!(all.len(), 4, "{all:?}");
        // Every suffix (so that each reference is the first once), cut at every byte.
        for start in 0..xml.len() {
            let text = &xml[start..];
            for cut in 0..=text.len() {
                let parts: [&[u8]; 2] = [&text[..cut], &text[cut..]];
                assert_eq!(
                    buffered(&parts),
                    bytewise(&parts),
                    "from {start}, cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn ods_text_spaces_count_toward_the_cell_limit() {
        let xml = r#"<office:document-content><office:body><office:spreadsheet><table:table table:name="表"><table:table-row><table:table-cell office:value-type="string"><text:p>a<text:s text:c="40000"/></text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
        let e = scan_ods(Path::new("t.ods"), xml.as_bytes()).unwrap_err();
        assert!(
            matches!(e, Error::CellTooLong { chars, .. } if chars > 32_767),
            "{e}"
        );
        let fine = xml.replace("40000", "40");
        scan_ods(Path::new("t.ods"), fine.as_bytes()).unwrap();
    }
}
