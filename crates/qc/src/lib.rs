#![doc = include_str!("../README.md")]

pub mod cache;
mod check;
pub mod codes;
pub mod coerce;
mod messages;
pub mod report;
pub mod return_list;
pub mod review;
mod rules;

use std::collections::BTreeMap;

use riskcensus_schema::{Registry, SchemaSet, Severity};
use riskcensus_spatial::UnitIndex;

pub use check::{check_table, check_table_reviewed};
pub use coerce::{Value, ValueRef, Values};
pub use riskcensus_schema::rule::credit_code_check_char;

/// One problem found, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub table: String,
    /// File as named in the pipeline.
    pub file: String,
    /// Sheet or layer.
    pub sheet: String,
    /// Row an office sees in Excel, or 1-based feature index; `None` for a file-level issue.
    pub row: Option<u32>,
    /// Column letter or DBF field name.
    pub column: Option<String>,
    /// Field code (`geometry` for geometry problems).
    pub field: Option<String>,
    pub value: String,
    pub rule: &'static str,
    pub severity: Severity,
    pub message_zh: String,
    pub message_en: String,
    /// Primary-key value(s) of the record.
    pub record_key: String,
    /// The record's township, when it has a valid one.
    pub unit: Option<String>,
}

impl TableResult {
    /// File-level errors (rows lost between a file and its reader, …): each fails the table whatever
    /// its 差错率.
    pub fn file_errors(&self) -> usize {
        self.issues
            .iter()
            .filter(|i| i.row.is_none() && i.severity == Severity::Error)
            .count()
    }
}

/// A record that passed: typed values in schema field order.
#[derive(Debug, Clone)]
pub struct CleanRow {
    pub file: u16,
    pub row: u32,
    pub values: Values,
    pub geometry: Option<Box<[u8]>>,
    /// The record's township code: declared, or (when `unit_from_point`) the unit its point falls in.
    pub unit: Option<String>,
    /// The record declares no township; `unit` is where its point falls.
    pub unit_from_point: bool,
}

/// The clean part of a table.
#[derive(Debug, Clone)]
pub struct CleanTable {
    pub table: String,
    pub fields: Vec<String>,
    pub rows: Vec<CleanRow>,
}

/// Figures for one table, or one township of a table.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Counts {
    pub records: u64,
    /// Indicators: for each record, the fields its file has (or the schema requires), plus the
    /// geometry of a polygon table; a field the file lacks is not an indicator anyone filled in.
    pub indicators_checked: u64,
    /// Indicators (record × field) with at least one error.
    pub errors: u64,
    /// Records with at least one error (not published).
    pub rejected: u64,
}

impl Counts {
    /// 差错率: wrong indicators ÷ checked indicators.
    pub fn error_rate(&self) -> f64 {
        if self.indicators_checked == 0 {
            0.0
        } else {
            self.errors as f64 / self.indicators_checked as f64
        }
    }

    /// Share of the records rejected (0 for no records).
    pub fn rejected_share(&self) -> f64 {
        if self.records == 0 {
            0.0
        } else {
            self.rejected as f64 / self.records as f64
        }
    }
}

/// Everything QC found in one table.
#[derive(Debug, Clone)]
pub struct TableResult {
    pub table: String,
    pub files: Vec<String>,
    pub rows_read: u64,
    pub rows_clean: u64,
    pub rows_rejected: u64,
    pub empty_rows_skipped: u64,
    /// Records the files hold that were deliberately not read (deleted DBF records), each with an
    /// issue row.
    pub rows_excluded: u64,
    pub counts: Counts,
    /// Per township code (`None`: no valid township).
    pub by_unit: BTreeMap<Option<String>, Counts>,
    pub issues: Vec<Issue>,
    pub clean: CleanTable,
    /// Cells repaired by coercion (full-width digits, numbers as text, serial dates, spaces).
    pub repaired_cells: u64,
    /// Required fields a file of the table has no column for, as `file: 名称(code)`: the table
    /// fails whatever its 差错率, since nothing of those fields was checked.
    pub missing_required_columns: Vec<String>,
}

/// What the checks need beyond the table.
pub struct Context<'a> {
    pub registry: &'a Registry,
    pub schemas: &'a SchemaSet,
    pub reference_year: i32,
    /// The run's region (a county code, or a prefecture or province code).
    pub region_code: String,
    /// Retired township codes → their successors.
    pub stale: BTreeMap<String, String>,
    /// The assessment units, once read; `None` while the units layer itself is checked.
    pub units: Option<&'a UnitIndex>,
}
