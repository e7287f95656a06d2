//! A generated table: its columns, the roles some columns play (id, township, coordinates…), and rows
//! of cells as an office would type them.

/// One cell as written to a spreadsheet.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Num(f64),
    /// A date, as an Excel serial day number; written with a date format.
    Date(f64),
    /// A number written as text (e.g. full-width digits); a defect, never generated clean.
    NumText(String),
    /// A date written as a bare serial number, without a date format; a defect.
    Serial(f64),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty) || matches!(self, Cell::Text(s) if s.is_empty())
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    Date,
}

#[derive(Debug, Clone)]
pub struct Column {
    /// Field code (census code where the census has one; at most 10 characters, DBF-safe).
    pub code: String,
    /// Chinese label written in the header.
    pub label: String,
    /// Group label for the upper row of a two-row header.
    pub group: String,
    pub kind: Kind,
}

/// What an out-of-range value looks like for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadValue {
    Zero,
    Negative,
    /// A year after the census reference year.
    FutureYear,
}

/// Columns that defects act on, by index.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    pub id: Option<usize>,
    /// 9-digit township code.
    pub township: Option<usize>,
    /// 12-digit village code.
    pub village: Option<usize>,
    pub lon: Option<usize>,
    pub lat: Option<usize>,
    pub required: Vec<usize>,
    /// Free-text columns that can carry trailing spaces.
    pub free_text: Vec<usize>,
    pub date: Option<usize>,
    pub ranges: Vec<(usize, BadValue)>,
}

#[derive(Debug, Clone)]
pub struct TableSpec {
    /// Census table code (`fwjz`, `czt_xx`, …).
    pub code: String,
    pub name_zh: String,
    /// File name without extension.
    pub file_stem: String,
    pub sheet: String,
    pub columns: Vec<Column>,
    pub roles: Roles,
}

impl TableSpec {
    pub fn index(&self, code: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.code == code)
    }

    /// Column indices of a kind.
    pub fn of_kind(&self, kind: Kind) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&k| self.columns[k].kind == kind)
            .collect()
    }
}

/// One generated record.
#[derive(Debug, Clone)]
pub struct Row {
    pub cells: Vec<Cell>,
    /// Township the record really is in.
    pub township: usize,
    /// The point as written (after any defect).
    pub point: Option<(f64, f64)>,
}

/// A builder that puts cells in a spec's column order by field code.
pub struct RowBuilder<'a> {
    spec: &'a TableSpec,
    cells: Vec<Cell>,
}

impl<'a> RowBuilder<'a> {
    pub fn new(spec: &'a TableSpec) -> Self {
        RowBuilder {
            spec,
            cells: vec![Cell::Empty; spec.columns.len()],
        }
    }

    /// Sets a field; a code the spec does not have is a bug in the generator, caught by its tests.
    pub fn set(&mut self, code: &str, cell: Cell) -> &mut Self {
        match self.spec.index(code) {
            Some(k) => self.cells[k] = cell,
            None => debug_assert!(false, "{} has no field {code}", self.spec.code),
        }
        self
    }

    pub fn finish(self) -> Vec<Cell> {
        self.cells
    }
}

/// Full-width form of ASCII digits (０–９), as typed with a Chinese input method.
pub fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c),
            '.' => '．',
            _ => c,
        })
        .collect()
}

/// Excel serial day number of a calendar date (1900 date system).
pub fn excel_serial(year: i32, month: u32, day: u32) -> f64 {
    // Days from 1899-12-30, valid after 1900-03-01.
    let (y, m) = if month <= 2 {
        (year - 1, month + 12)
    } else {
        (year, month)
    };
    let days = 365 * y as i64 + (y / 4) as i64 - (y / 100) as i64
        + (y / 400) as i64
        + (153 * (m as i64 - 3) + 2) / 5
        + day as i64;
    let base = {
        let (y, m, d) = (1899i64, 12i64, 30i64);
        365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d
    };
    (days - base) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_match_excel() {
        assert_eq!(excel_serial(1900, 3, 1), 61.0);
        assert_eq!(excel_serial(2020, 11, 1), 44136.0);
        assert_eq!(excel_serial(2021, 6, 30), 44377.0);
    }

    #[test]
    fn fullwidth_digits() {
        assert_eq!(fullwidth("12.5"), "１２．５");
    }
}
