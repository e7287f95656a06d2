//! A sheet as the cells it holds, not as the rectangle its corner cells span.
//!
//! Every reader (xlsx and xlsb cell by cell, xls and ods from calamine's bounded grids, csv record by
//! record) feeds its cells into [`Cells`], which checks each against the format's reach and the
//! limits of [`crate::limits`]. [`Grid`] then holds them sorted by row, and [`build`] finds the header,
//! turns the rows under it into records, names every cell outside the header's columns as a
//! `stray_cell`, and counts the records independently of the code that builds them, so that a record
//! lost between the file and the table is a `row_count_mismatch` rather than a silence.

use std::path::PathBuf;

use riskcensus_schema::{Severity, TableSchema};

use crate::header::{HEADER_SCAN, HeaderMatch, find_header};
use crate::limits::{self, MAX_CELL_CHARS, MAX_CELLS, MAX_STRAY_NOTES, MAX_TEXT_BYTES, Reach};
use crate::pack::Packer;
use crate::{
    CellRef, Error, FileNote, Input, RawCell, RawCells, RawRow, Result, SourceFile, column_letter,
};

/// Where cells come from, for errors.
#[derive(Clone)]
pub(crate) struct Place {
    pub path: PathBuf,
    pub sheet: String,
}

/// The address an office would type: `XFD1048576`.
pub(crate) fn address(row: u32, col: u32) -> String {
    format!("{}{row}", column_letter(col as usize))
}

/// Cells collected from a reader, each checked on the way in, so that the list never outgrows the
/// limits. They are kept row by row (`Line`s, in the order the reader gives them), each row packed
/// once the reader moves past it, so that a sheet's cells take about a third of the memory of the
/// cells themselves, and turning rows into records frees each row's cells as it goes: the cells and
/// the records of a big sheet are not held at once.
pub(crate) struct Cells {
    place: Place,
    reach: Reach,
    lines: Vec<Line>,
    /// The row being read (`open_row`) and its cells so far, packed when the reader moves on.
    open_row: Option<u32>,
    open: Vec<(u32, RawCell)>,
    packer: Packer,
    count: u64,
    text_bytes: u64,
}

/// The cells of one row as given, packed: 0-based columns and values.
pub(crate) struct Line {
    /// The row as the office sees it.
    row: u32,
    cols: Box<[u32]>,
    cells: RawCells,
}

impl Line {
    fn pack(row: u32, cells: &[(u32, RawCell)], packer: &mut Packer) -> Line {
        Line {
            row,
            cols: cells.iter().map(|c| c.0).collect(),
            cells: RawCells::pack(packer, cells.iter().map(|c| c.1.cell_ref())),
        }
    }

    /// `(column, value)` in the order given.
    fn iter(&self) -> impl Iterator<Item = (u32, CellRef<'_>)> {
        self.cols.iter().copied().zip(self.cells.iter())
    }

    fn unpack(&self) -> Vec<(u32, RawCell)> {
        self.iter().map(|(c, v)| (c, v.to_cell())).collect()
    }
}

impl Cells {
    pub(crate) fn new(place: Place, reach: Reach) -> Cells {
        Cells {
            place,
            reach,
            lines: Vec::new(),
            open_row: None,
            open: Vec::new(),
            packer: Packer::default(),
            count: 0,
            text_bytes: 0,
        }
    }

    /// Packs the row being read.
    fn close(&mut self) {
        if let Some(row) = self.open_row.take() {
            self.lines
                .push(Line::pack(row, &self.open, &mut self.packer));
            self.open.clear();
        }
    }

    /// Adds the cell at 0-based `(row, col)` of a spreadsheet.
    pub(crate) fn push_at(&mut self, row: u32, col: u32, value: RawCell) -> Result<()> {
        if row >= self.reach.rows {
            return Err(self.outside(
                row.saturating_add(1),
                col,
                format!(
                    "row {} exceeds {}'s {} rows",
                    limits::thousands(u64::from(row) + 1),
                    self.reach.program,
                    limits::thousands(u64::from(self.reach.rows))
                ),
            ));
        }
        self.push_line(row + 1, col, value)
    }

    /// Adds a cell whose row is already the number an office sees (a csv line).
    pub(crate) fn push_line(&mut self, row: u32, col: u32, value: RawCell) -> Result<()> {
        if col >= self.reach.columns {
            return Err(self.outside(
                row,
                col,
                format!(
                    "column {} exceeds {}'s {} columns (last {})",
                    column_letter(col as usize),
                    self.reach.program,
                    limits::thousands(u64::from(self.reach.columns)),
                    column_letter(self.reach.columns as usize - 1)
                ),
            ));
        }
        if let RawCell::Text(s) = &value {
            // Bytes bound characters from above, so most cells are never counted.
            if s.len() > MAX_CELL_CHARS {
                let chars = s.chars().count();
                if chars > MAX_CELL_CHARS {
                    return Err(Error::CellTooLong {
                        path: self.place.path.clone(),
                        sheet: self.place.sheet.clone(),
                        cell: address(row, col),
                        chars,
                    });
                }
            }
            self.text_bytes += s.len() as u64;
            if self.text_bytes > MAX_TEXT_BYTES {
                return Err(self.too_large(format!(
                    "its cells hold more than {} of text",
                    limits::bytes(MAX_TEXT_BYTES)
                )));
            }
        }
        if self.count >= MAX_CELLS {
            return Err(self.too_large(format!(
                "more than {} cells hold a value (the limit; the widest census table fills about 79 million in a full sheet)",
                limits::thousands(MAX_CELLS)
            )));
        }
        self.count += 1;
        if self.open_row != Some(row) {
            self.close();
            self.open_row = Some(row);
        }
        self.open.push((col, value));
        Ok(())
    }

    /// An error for the cell at 1-based `row`.
    fn outside(&self, row: u32, col: u32, what: String) -> Error {
        Error::OutsideSheet {
            path: self.place.path.clone(),
            sheet: self.place.sheet.clone(),
            cell: address(row, col),
            what,
        }
    }

    fn too_large(&self, what: String) -> Error {
        Error::SheetTooLarge {
            path: self.place.path.clone(),
            sheet: self.place.sheet.clone(),
            what,
            hint: "a census table is at most a million rows of under a hundred columns; split the file, or delete what is not the table",
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sorts the cells by row and column (readers may give them in any order; a row may come in
    /// pieces) and keeps the last of two cells at one address, as Excel would show it, with a
    /// `duplicate_cell` note for the other.
    pub(crate) fn into_grid(mut self) -> Grid {
        self.close();
        let mut packer = self.packer;
        let mut lines = self.lines;
        if !lines.is_sorted_by_key(|l| l.row) {
            // Stable: the pieces of a row stay in the order given, so the later cell wins below.
            lines.sort_by_key(|l| l.row);
            lines.dedup_by(|later, earlier| {
                let same = later.row == earlier.row;
                if same {
                    let mut cells = earlier.unpack();
                    cells.extend(later.unpack());
                    *earlier = Line::pack(earlier.row, &cells, &mut packer);
                }
                same
            });
        }
        let mut notes = Vec::new();
        for line in &mut lines {
            keep_last_cells(line, &mut notes, &mut packer);
        }
        Grid { lines, notes }
    }
}

/// Sorts a row's cells by column and keeps the later of two cells at one address.
fn keep_last_cells(line: &mut Line, notes: &mut Vec<FileNote>, packer: &mut Packer) {
    if line.cols.windows(2).all(|w| w[0] < w[1]) {
        return;
    }
    let mut cells = line.unpack();
    cells.sort_by_key(|c| c.0);
    let row = line.row;
    cells.dedup_by(|later, earlier| {
        if later.0 != earlier.0 {
            return false;
        }
        let value = std::mem::replace(&mut later.1, RawCell::Empty);
        let dropped = std::mem::replace(&mut earlier.1, value);
        if notes.len() < MAX_STRAY_NOTES {
            notes.push(duplicate_cell(row, earlier.0, &dropped));
        }
        true
    });
    *line = Line::pack(row, &cells, packer);
}

fn duplicate_cell(row: u32, col: u32, dropped: &RawCell) -> FileNote {
    let at = address(row, col);
    let value = dropped.display();
    FileNote {
        rule: "duplicate_cell",
        severity: Severity::Warning,
        column: Some(column_letter(col as usize)),
        row: Some(row),
        message_zh: format!("单元格 {at} 在文件中出现两次，读取后一个值，前一个值“{value}”未读入"),
        message_en: format!(
            "cell {at} appears twice in the file; the later value is read, the earlier {value:?} is not"
        ),
        value,
    }
}

/// Cells sorted by row and column, one `Line` per row holding any.
pub(crate) struct Grid {
    lines: Vec<Line>,
    notes: Vec<FileNote>,
}

impl Grid {
    /// Every cell, note and row, bit for bit (numbers by their bits), for the tests that hold
    /// two readers to the same grid.
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for line in &self.lines {
            let _ = writeln!(out, "row {}", line.row);
            for (c, v) in line.iter() {
                let bits = match v {
                    CellRef::Number(x) | CellRef::Date(x) => x.to_bits(),
                    _ => 0,
                };
                let _ = writeln!(out, "{} {c} {v:?} {bits:x}", line.row);
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note {n:?}");
        }
        out
    }

    /// The row's cells as `(column, value)`.
    fn row(&self, k: usize) -> impl Iterator<Item = (u32, CellRef<'_>)> {
        self.lines[k].iter()
    }

    /// A row as the header search sees it: dense from column A to its last cell. A head row is at
    /// most 16,384 cells (Excel's width), and there are at most `HEADER_SCAN` of them.
    fn dense(&self, k: usize) -> Vec<RawCell> {
        let width = self.row(k).map(|(c, _)| c as usize + 1).max().unwrap_or(0);
        let mut out = vec![RawCell::Empty; width];
        for (c, v) in self.row(k) {
            out[c as usize] = v.to_cell();
        }
        out
    }

    /// The rows the header is looked for in, with their row numbers. Spreadsheets scan the first
    /// `HEADER_SCAN` rows from the first row holding a cell, empty rows included (as Excel shows
    /// them); csv scans its first `HEADER_SCAN` records (blank lines are not records there).
    pub(crate) fn head(&self, rows: Rows) -> (Vec<Vec<RawCell>>, Vec<u32>) {
        match rows {
            Rows::Listed => self
                .lines
                .iter()
                .take(HEADER_SCAN)
                .enumerate()
                .map(|(k, line)| (self.dense(k), line.row))
                .unzip(),
            Rows::Numbered => {
                let (Some(first), Some(last)) = (self.lines.first(), self.lines.last()) else {
                    return (Vec::new(), Vec::new());
                };
                let (first, last) = (first.row, last.row);
                let count = (last - first + 1).min(HEADER_SCAN as u32);
                let mut k = 0;
                (0..count)
                    .map(|i| {
                        let n = first + i;
                        while k < self.lines.len() && self.lines[k].row < n {
                            k += 1;
                        }
                        let cells = if self.lines.get(k).is_some_and(|l| l.row == n) {
                            self.dense(k)
                        } else {
                            Vec::new()
                        };
                        (cells, n)
                    })
                    .unzip()
            }
        }
    }
}

/// How a reader numbers its rows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rows {
    /// Spreadsheet rows: a missing number is an empty row an office sees.
    Numbered,
    /// Csv records numbered by their line: a gap may be a blank line or a field running over lines.
    Listed,
}

/// What a column under the header is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A schema field, by index.
    Field(usize),
    /// An unknown column, by index into `SourceFile::extra_columns`.
    Extra(usize),
    /// No header above it: a cell here belongs to no column of the table.
    Outside,
}

/// What each column under the header is, by 0-based column.
fn slots(header: &HeaderMatch, extra_cols: &[usize]) -> Vec<Slot> {
    header
        .columns
        .iter()
        .enumerate()
        .map(|(c, (_, field))| match field {
            Some(k) => Slot::Field(*k),
            None => extra_cols
                .iter()
                .position(|&e| e == c)
                .map_or(Slot::Outside, Slot::Extra),
        })
        .collect()
}

fn slot(slots: &[Slot], col: u32) -> Slot {
    slots.get(col as usize).copied().unwrap_or(Slot::Outside)
}

/// Reads a table from a grid: header, records, stray cells and the conservation count.
pub(crate) fn build(
    schema: &TableSchema,
    input: &Input,
    sheet: &str,
    grid: Grid,
    rows: Rows,
    file: u16,
) -> Result<(SourceFile, Vec<RawRow>)> {
    let (head, numbers) = grid.head(rows);
    let header = find_header(schema, &input.columns, &head).ok_or_else(|| Error::NoHeader {
        path: input.path.clone(),
        sheet: sheet.to_owned(),
        scanned: head.len(),
        expected: expected_names(schema),
    })?;
    drop(head);
    let header_row = numbers[header.row];
    let (mut source, extra_cols) = crate::sheet::plan(schema, input, sheet, &header, header_row)?;
    let slots = slots(&header, &extra_cols);
    source.notes.extend(grid.notes.iter().cloned());
    source.records_in_file = Some(count_records(&grid, header_row, &slots));
    let out = records(schema, file, grid, header_row, &slots, rows, &mut source);
    source.check_conservation(out.len());
    Ok((source, out))
}

/// Column names a header should hold, for the hint of a missing header: the required fields', or,
/// for a table that requires none (an indicator table, a schema of an office's own), its first
/// fields' (the hint read "such as " and nothing).
pub(crate) fn expected_names(schema: &TableSchema) -> String {
    let required: Vec<&str> = schema
        .fields
        .iter()
        .filter(|f| f.required)
        .take(4)
        .map(|f| f.name_zh.as_str())
        .collect();
    let names = if required.is_empty() {
        schema
            .fields
            .iter()
            .take(4)
            .map(|f| f.name_zh.as_str())
            .collect()
    } else {
        required
    };
    names.join("、")
}

/// Rows below the header holding a non-blank cell under one of the header's columns: the records
/// the file holds, counted from the cells alone, apart from the code that builds the records.
fn count_records(grid: &Grid, header_row: u32, slots: &[Slot]) -> u64 {
    let held = grid
        .lines
        .iter()
        .filter(|line| line.row > header_row)
        .filter(|line| {
            line.iter()
                .any(|(col, value)| slot(slots, col) != Slot::Outside && !value.is_empty())
        })
        .count();
    held as u64
}

/// Turns the rows under the header into records. A row with nothing under the header's columns is
/// not a record: it is counted in `empty_rows_skipped`, and each stray cell it holds is a note.
fn records(
    schema: &TableSchema,
    file: u16,
    grid: Grid,
    header_row: u32,
    slots: &[Slot],
    numbering: Rows,
    source: &mut SourceFile,
) -> Vec<RawRow> {
    let extra_width = source.extra_columns.len();
    let mut strays = Strays::default();
    let mut out = Vec::new();
    // Empty rows an office sees between records (spreadsheets only: in csv a gap in line numbers
    // may be a quoted field running over lines).
    let mut gap = 0u64;
    let mut previous = header_row;
    // Each row's cells are dropped as soon as its record is made, and the record is packed.
    let mut packer = Packer::default();
    for line in grid.lines {
        let row = line.row;
        if row <= header_row {
            continue;
        }
        if numbering == Rows::Numbered {
            gap += u64::from(row - previous - 1);
        }
        previous = row;
        let mut by_field = vec![CellRef::Empty; schema.fields.len()];
        let mut extra = vec![CellRef::Empty; extra_width];
        let mut is_record = false;
        for (col, value) in line.iter() {
            match slot(slots, col) {
                Slot::Field(k) => {
                    is_record |= !value.is_empty();
                    by_field[k] = value;
                }
                Slot::Extra(j) => {
                    is_record |= !value.is_empty();
                    extra[j] = value;
                }
                Slot::Outside if !value.is_empty() => strays.add(row, col, value),
                Slot::Outside => {}
            }
        }
        if !is_record {
            source.empty_rows_skipped += 1;
            continue;
        }
        source.empty_rows_skipped += gap;
        gap = 0;
        out.push(RawRow {
            file,
            row,
            cells: RawCells::pack(&mut packer, by_field),
            extra: RawCells::pack(&mut packer, extra),
            geometry: None,
        });
    }
    source.notes.extend(strays.into_notes());
    out
}

/// Cells outside the header's columns: the first `MAX_STRAY_NOTES` named one by one, the rest
/// counted.
#[derive(Default)]
struct Strays {
    notes: Vec<FileNote>,
    more: u64,
    more_rows: Option<(u32, u32)>,
}

impl Strays {
    fn add(&mut self, row: u32, col: u32, value: CellRef<'_>) {
        if self.notes.len() < MAX_STRAY_NOTES {
            self.notes.push(stray_cell(row, col, value.display()));
            return;
        }
        self.more += 1;
        let (lo, _) = self.more_rows.unwrap_or((row, row));
        self.more_rows = Some((lo, row));
    }

    fn into_notes(mut self) -> Vec<FileNote> {
        if let Some((lo, hi)) = self.more_rows {
            let n = self.more;
            self.notes.push(FileNote {
                rule: "stray_cell",
                severity: Severity::Warning,
                column: None,
                row: None,
                value: n.to_string(),
                message_zh: format!(
                    "另有 {n} 个表头之外的单元格（第 {lo}–{hi} 行）未逐一列出，均未读入记录"
                ),
                message_en: format!(
                    "{n} more cells outside the header's columns (rows {lo}–{hi}) are not listed one by one; none is part of a record"
                ),
            });
        }
        self.notes
    }
}

fn stray_cell(row: u32, col: u32, value: String) -> FileNote {
    let at = address(row, col);
    FileNote {
        rule: "stray_cell",
        severity: Severity::Warning,
        column: Some(column_letter(col as usize)),
        row: Some(row),
        message_zh: format!("单元格 {at} 不在任何表头列之下，不属于任何字段，未读入记录"),
        message_en: format!(
            "cell {at} is not under any column of the header; it belongs to no field and is not part of a record"
        ),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The missing-header hint names columns even for a table that requires none.
    #[test]
    fn the_header_hint_is_never_empty() {
        let set = riskcensus_schema::SchemaSet::builtin().unwrap();
        let fwjz = set.table("fwjz").unwrap();
        assert!(
            expected_names(fwjz).starts_with("房屋编号"),
            "{}",
            expected_names(fwjz)
        );
        let mut bare = fwjz.clone();
        for f in &mut bare.fields {
            f.required = false;
        }
        let names = expected_names(&bare);
        assert!(!names.is_empty() && names.contains('、'), "{names}");
    }

    fn place() -> Place {
        Place {
            path: "fwjz.xlsx".into(),
            sheet: "房屋建筑".into(),
        }
    }

    #[test]
    fn a_cell_beyond_excel_is_an_error_naming_it() {
        let mut cells = Cells::new(place(), limits::EXCEL);
        let e = cells
            .push_at(1_999_999, 0, RawCell::Number(1.0))
            .unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("fwjz.xlsx")
                && m.contains("房屋建筑")
                && m.contains("A2000000")
                && m.contains("row 2,000,000 exceeds Excel's 1,048,576 rows"),
            "{m}"
        );
        let e = cells.push_at(0, 16_384, RawCell::Number(1.0)).unwrap_err();
        assert!(e.to_string().contains("column XFE"), "{e}");
        // The last cell Excel has is fine.
        cells
            .push_at(1_048_575, 16_383, RawCell::Number(1.0))
            .unwrap();
    }

    #[test]
    fn cells_out_of_order_are_sorted_and_a_repeated_address_noted() {
        let mut cells = Cells::new(place(), limits::EXCEL);
        // Row 3 comes in two pieces, its columns out of order, with row 1 between them.
        cells.push_at(2, 1, RawCell::Text("c".into())).unwrap();
        cells.push_at(0, 2, RawCell::Text("b".into())).unwrap();
        cells.push_at(0, 0, RawCell::Text("a".into())).unwrap();
        cells.push_at(2, 1, RawCell::Text("d".into())).unwrap();
        cells.push_at(2, 0, RawCell::Text("x".into())).unwrap();
        let grid = cells.into_grid();
        let got: Vec<(u32, u32, String)> = grid
            .lines
            .iter()
            .flat_map(|l| l.iter().map(|(c, v)| (l.row, c, v.display())))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 0, "a".into()),
                (1, 2, "b".into()),
                (3, 0, "x".into()),
                (3, 1, "d".into())
            ]
        );
        assert_eq!(grid.notes[0].row, Some(3));
        assert_eq!(grid.notes[0].column.as_deref(), Some("B"));
        assert_eq!(grid.notes.len(), 1);
        assert_eq!(grid.notes[0].rule, "duplicate_cell");
        assert_eq!(grid.notes[0].value, "c");
    }
}
