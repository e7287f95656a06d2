//! Spreadsheets as offices send them, written row by row in constant memory.

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet};

use crate::table::{Cell, TableSpec};
use crate::{Error, Result};

/// Data rows per workbook: an Excel sheet holds 1,048,576 rows, and offices split large tables into
/// numbered files well before that.
pub const ROWS_PER_PART: usize = 1_000_000;

/// How the top of the sheet looks.
#[derive(Debug, Clone)]
pub enum Layout {
    /// The header on row 1.
    Plain,
    /// A title row, a note row, then a two-row header (group labels over field labels).
    Messy { title: String, note: String },
}

impl Layout {
    /// Rows above the first data row.
    pub fn header_rows(&self) -> u32 {
        match self {
            Layout::Plain => 1,
            Layout::Messy { .. } => 4,
        }
    }
}

/// One xlsx file being written.
pub struct SheetWriter {
    workbook: Workbook,
    path: PathBuf,
    next_row: u32,
    date: Format,
}

impl SheetWriter {
    pub fn create(path: &Path, spec: &TableSpec, layout: &Layout) -> Result<SheetWriter> {
        let mut workbook = Workbook::new();
        // A fixed creation time: the same inputs must give the same bytes.
        let fixed = ExcelDateTime::from_ymd(2021, 6, 30).map_err(|e| xlsx_err(path, e))?;
        workbook.set_properties(
            &DocProperties::new()
                .set_creation_datetime(&fixed)
                .set_author("riskcensus gen-fixtures"),
        );
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let bold = Format::new().set_bold().set_align(FormatAlign::Center);
        let title_fmt = Format::new()
            .set_bold()
            .set_font_size(16)
            .set_align(FormatAlign::Center);
        let ws: &mut Worksheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(|e| xlsx_err(path, e))?;
        ws.set_name(&spec.sheet).map_err(|e| xlsx_err(path, e))?;
        let last_col = spec.columns.len().saturating_sub(1) as u16;
        let mut row = 0u32;
        if let Layout::Messy { title, note } = layout {
            ws.merge_range(0, 0, 0, last_col, title, &title_fmt)
                .map_err(|e| xlsx_err(path, e))?;
            ws.write_string(1, 0, note).map_err(|e| xlsx_err(path, e))?;
            // Group labels, merged across runs of equal groups.
            let mut start = 0usize;
            for k in 1..=spec.columns.len() {
                if k == spec.columns.len() || spec.columns[k].group != spec.columns[start].group {
                    let g = &spec.columns[start].group;
                    if k - 1 > start {
                        ws.merge_range(2, start as u16, 2, (k - 1) as u16, g, &bold)
                            .map_err(|e| xlsx_err(path, e))?;
                    } else {
                        ws.write_string_with_format(2, start as u16, g, &bold)
                            .map_err(|e| xlsx_err(path, e))?;
                    }
                    start = k;
                }
            }
            row = 3;
        }
        for (k, c) in spec.columns.iter().enumerate() {
            ws.write_string_with_format(row, k as u16, &c.label, &bold)
                .map_err(|e| xlsx_err(path, e))?;
        }
        Ok(SheetWriter {
            workbook,
            path: path.to_owned(),
            next_row: row + 1,
            date,
        })
    }

    /// Writes a row; returns the row number an office sees in Excel (1-based).
    pub fn write(&mut self, cells: &[Cell]) -> Result<u32> {
        let r = self.next_row;
        let path = self.path.clone();
        let ws = self
            .workbook
            .worksheet_from_index(0)
            .map_err(|e| xlsx_err(&path, e))?;
        for (k, cell) in cells.iter().enumerate() {
            let c = k as u16;
            let res = match cell {
                Cell::Empty => Ok(&mut *ws),
                Cell::Text(s) | Cell::NumText(s) => {
                    if s.is_empty() {
                        Ok(&mut *ws)
                    } else {
                        ws.write_string(r, c, s)
                    }
                }
                Cell::Int(v) => ws.write_number(r, c, *v as f64),
                Cell::Num(v) | Cell::Serial(v) => ws.write_number(r, c, *v),
                Cell::Date(v) => ws.write_number_with_format(r, c, *v, &self.date),
            };
            res.map_err(|e| xlsx_err(&path, e))?;
        }
        self.next_row += 1;
        Ok(r + 1)
    }

    pub fn finish(mut self) -> Result<()> {
        let path = self.path.clone();
        self.workbook.save(&path).map_err(|e| xlsx_err(&path, e))
    }
}

/// A table written across numbered workbooks of at most `ROWS_PER_PART` data rows each:
/// `buildings.xlsx`, `buildings_part2.xlsx`, …
pub struct PartedWriter {
    dir: PathBuf,
    spec: TableSpec,
    layout: Layout,
    current: Option<SheetWriter>,
    rows_in_part: usize,
    part: usize,
    pub files: Vec<String>,
}

impl PartedWriter {
    pub fn new(dir: &Path, spec: &TableSpec, layout: Layout) -> PartedWriter {
        PartedWriter {
            dir: dir.to_owned(),
            spec: spec.clone(),
            layout,
            current: None,
            rows_in_part: 0,
            part: 0,
            files: Vec::new(),
        }
    }

    fn file_name(&self, part: usize) -> String {
        if part == 1 {
            format!("{}.xlsx", self.spec.file_stem)
        } else {
            format!("{}_part{part}.xlsx", self.spec.file_stem)
        }
    }

    /// Writes a row; returns the file name and the Excel row number.
    pub fn write(&mut self, cells: &[Cell]) -> Result<(&str, u32)> {
        if self.current.is_none() || self.rows_in_part == ROWS_PER_PART {
            if let Some(w) = self.current.take() {
                w.finish()?;
            }
            self.part += 1;
            let name = self.file_name(self.part);
            self.current = Some(SheetWriter::create(
                &self.dir.join(&name),
                &self.spec,
                &self.layout,
            )?);
            self.files.push(name);
            self.rows_in_part = 0;
        }
        self.rows_in_part += 1;
        let row = match self.current.as_mut() {
            Some(w) => w.write(cells)?,
            None => unreachable!("a part was opened above"),
        };
        Ok((
            self.files.last().map(String::as_str).unwrap_or_default(),
            row,
        ))
    }

    /// Closes the last part (and writes a header-only file for an empty table).
    pub fn finish(mut self) -> Result<Vec<String>> {
        if self.current.is_none() {
            let name = self.file_name(1);
            SheetWriter::create(&self.dir.join(&name), &self.spec, &self.layout)?.finish()?;
            self.files.push(name);
        }
        if let Some(w) = self.current.take() {
            w.finish()?;
        }
        Ok(self.files)
    }
}

fn xlsx_err(path: &Path, e: rust_xlsxwriter::XlsxError) -> Error {
    Error::Xlsx {
        path: path.to_owned(),
        message: e.to_string(),
    }
}
