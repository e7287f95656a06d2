//! The reviewers' report: `report.xlsx`, `summary.json` and `issues.csv`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use riskcensus_schema::{Registry, SchemaSet, Severity};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
use serde::Serialize;

use crate::{Issue, TableResult};

/// Errors writing the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableSummary {
    pub table: String,
    pub name_zh: String,
    pub files: Vec<String>,
    pub rows_read: u64,
    pub rows_clean: u64,
    pub rows_rejected: u64,
    pub empty_rows_skipped: u64,
    /// Records the files hold that were deliberately not read (deleted DBF records).
    pub rows_excluded: u64,
    /// File-level errors (e.g. rows lost between a file and its reader): any one fails the table.
    pub file_errors: u64,
    /// Issue rows of this table (errors and warnings, file-level included).
    pub issues: u64,
    pub warnings: u64,
    pub indicators_checked: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub passed: bool,
    pub repaired_cells: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TownshipSummary {
    pub table: String,
    /// Empty for records without a valid township code.
    pub township_code: String,
    pub township_name: String,
    pub records: u64,
    pub indicators_checked: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub run: String,
    pub region_code: String,
    pub region_name: String,
    pub reference_year: i32,
    pub pass_threshold: f64,
    pub tables: Vec<TableSummary>,
    pub townships: Vec<TownshipSummary>,
    pub issues_by_rule: BTreeMap<String, u64>,
    pub passed: bool,
    /// What the run did not take as written (e.g. a region name that is not the registry's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Run-level facts the summary carries.
pub struct RunInfo<'a> {
    pub run: &'a str,
    pub region_code: &'a str,
    pub region_name: &'a str,
    pub reference_year: i32,
    pub pass_threshold: f64,
}

/// Figures of every table and township, and the verdict.
pub fn summarize(
    info: &RunInfo<'_>,
    results: &[TableResult],
    schemas: &SchemaSet,
    registry: &Registry,
) -> Summary {
    let mut tables = Vec::new();
    let mut townships = Vec::new();
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for r in results {
        for i in &r.issues {
            *by_rule.entry(i.rule.to_owned()).or_default() += 1;
        }
        let rate = round_rate(r.counts.error_rate());
        tables.push(TableSummary {
            table: r.table.clone(),
            name_zh: schemas
                .table(&r.table)
                .map(|s| s.name_zh.clone())
                .unwrap_or_default(),
            files: r.files.clone(),
            rows_read: r.rows_read,
            rows_clean: r.rows_clean,
            rows_rejected: r.rows_rejected,
            empty_rows_skipped: r.empty_rows_skipped,
            rows_excluded: r.rows_excluded,
            file_errors: r.file_errors() as u64,
            issues: r.issues.len() as u64,
            warnings: r
                .issues
                .iter()
                .filter(|i| i.severity == Severity::Warning)
                .count() as u64,
            indicators_checked: r.counts.indicators_checked,
            errors: r.counts.errors,
            error_rate: rate,
            passed: rate <= info.pass_threshold && r.file_errors() == 0,
            repaired_cells: r.repaired_cells,
        });
        for (unit, c) in &r.by_unit {
            let code = unit.clone().unwrap_or_default();
            let rate = round_rate(c.error_rate());
            townships.push(TownshipSummary {
                table: r.table.clone(),
                township_name: if code.is_empty() {
                    "（无有效乡镇代码）".into()
                } else {
                    registry
                        .get(&code)
                        .map(|d| d.name.clone())
                        .unwrap_or_default()
                },
                township_code: code,
                records: c.records,
                indicators_checked: c.indicators_checked,
                errors: c.errors,
                error_rate: rate,
                passed: rate <= info.pass_threshold,
            });
        }
    }
    let passed = tables.iter().all(|t| t.passed);
    Summary {
        run: info.run.to_owned(),
        region_code: info.region_code.to_owned(),
        region_name: info.region_name.to_owned(),
        reference_year: info.reference_year,
        pass_threshold: info.pass_threshold,
        tables,
        townships,
        issues_by_rule: by_rule,
        passed,
        warnings: Vec::new(),
    }
}

/// Columns of `issues.csv`.
pub const ISSUE_COLUMNS: [&str; 13] = [
    "table",
    "source_file",
    "sheet",
    "source_row",
    "column",
    "field",
    "value",
    "rule",
    "severity",
    "message_zh",
    "message_en",
    "record_key",
    "unit_code",
];
const ISSUE_COLUMNS_ZH: [&str; 13] = [
    "表",
    "文件",
    "工作表/图层",
    "行号",
    "列",
    "字段",
    "值",
    "规则",
    "严重程度",
    "说明",
    "说明（英文）",
    "记录编号",
    "乡镇代码",
];

fn issue_record(i: &Issue) -> [String; 13] {
    [
        i.table.clone(),
        i.file.clone(),
        i.sheet.clone(),
        i.row.map(|r| r.to_string()).unwrap_or_default(),
        i.column.clone().unwrap_or_default(),
        i.field.clone().unwrap_or_default(),
        i.value.clone(),
        i.rule.to_owned(),
        i.severity.as_str().to_owned(),
        i.message_zh.clone(),
        i.message_en.clone(),
        i.record_key.clone(),
        i.unit.clone().unwrap_or_default(),
    ]
}

fn werr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Landscape, one page wide: reviewers print these.
fn printable(ws: &mut rust_xlsxwriter::Worksheet) {
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
}

/// Writes a file under a temporary name, then renames it.
fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<(), Error>) -> Result<(), Error> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    write(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| werr(path, e))
}

/// Writes `report.xlsx`, `summary.json` and `issues.csv` into `dir`.
pub fn write(dir: &Path, summary: &Summary, results: &[TableResult]) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
    let json =
        serde_json::to_vec_pretty(summary).map_err(|e| werr(&dir.join("summary.json"), e))?;
    write_atomic(&dir.join("summary.json"), |p| {
        std::fs::write(p, &json).map_err(|e| werr(p, e))
    })?;
    write_atomic(&dir.join("issues.csv"), |p| {
        let mut w = csv::Writer::from_path(p).map_err(|e| werr(p, e))?;
        w.write_record(ISSUE_COLUMNS).map_err(|e| werr(p, e))?;
        for i in results.iter().flat_map(|r| &r.issues) {
            w.write_record(issue_record(i)).map_err(|e| werr(p, e))?;
        }
        w.flush().map_err(|e| werr(p, e))
    })?;
    write_atomic(&dir.join("report.xlsx"), |p| {
        write_xlsx(p, summary, results)
    })
}

/// Issue rows an xlsx sheet can hold under its header.
const MAX_SHEET_ISSUES: usize = 1_048_575;

fn write_xlsx(path: &Path, summary: &Summary, results: &[TableResult]) -> Result<(), Error> {
    let e = |x: rust_xlsxwriter::XlsxError| werr(path, x);
    let mut wb = Workbook::new();
    // Fixed creation time: the same inputs give the same bytes.
    let fixed = ExcelDateTime::from_ymd(2021, 6, 30).map_err(e)?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&fixed)
            .set_title("质检报告 QC report"),
    );
    let bold = Format::new().set_bold();
    let pct = Format::new().set_num_format("0.00%");

    let ws = wb.add_worksheet();
    ws.set_name("汇总").map_err(e)?;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "{}（{}）自然灾害综合风险普查数据质检报告  普查标准时点 {} 年",
            summary.region_name, summary.region_code, summary.reference_year
        ),
        &bold,
    )
    .map_err(e)?;
    ws.write_string(
        1,
        0,
        format!(
            "差错率 = 错误指标数 ÷ 检查指标数；通过阈值 {:.2}%；总体结论：{}",
            summary.pass_threshold * 100.0,
            if summary.passed {
                "通过"
            } else {
                "不通过"
            }
        ),
    )
    .map_err(e)?;
    let head = [
        "表代码",
        "表名",
        "文件",
        "读入记录数",
        "通过记录数",
        "退回记录数",
        "问题数",
        "其中警告",
        "检查指标数",
        "错误指标数",
        "差错率",
        "是否通过",
        "已修正单元格",
        "按规则排除记录数",
        "文件级错误",
    ];
    for (c, h) in head.iter().enumerate() {
        ws.write_string_with_format(3, c as u16, *h, &bold)
            .map_err(e)?;
    }
    for (k, t) in summary.tables.iter().enumerate() {
        let r = 4 + k as u32;
        ws.write_string(r, 0, &t.table).map_err(e)?;
        ws.write_string(r, 1, &t.name_zh).map_err(e)?;
        ws.write_string(r, 2, t.files.join("; ")).map_err(e)?;
        for (c, v) in [
            t.rows_read,
            t.rows_clean,
            t.rows_rejected,
            t.issues,
            t.warnings,
            t.indicators_checked,
            t.errors,
        ]
        .into_iter()
        .enumerate()
        {
            ws.write_number(r, 3 + c as u16, v as f64).map_err(e)?;
        }
        ws.write_number_with_format(r, 10, t.error_rate, &pct)
            .map_err(e)?;
        ws.write_string(r, 11, if t.passed { "通过" } else { "不通过" })
            .map_err(e)?;
        ws.write_number(r, 12, t.repaired_cells as f64).map_err(e)?;
        ws.write_number(r, 13, t.rows_excluded as f64).map_err(e)?;
        ws.write_number(r, 14, t.file_errors as f64).map_err(e)?;
    }
    ws.set_column_width(0, 16).map_err(e)?;
    ws.set_column_width(1, 30).map_err(e)?;
    ws.set_column_width(2, 36).map_err(e)?;
    ws.set_freeze_panes(4, 0).map_err(e)?;
    printable(ws);

    let ws = wb.add_worksheet();
    ws.set_name("乡镇").map_err(e)?;
    let head = [
        "表代码",
        "乡镇代码",
        "乡镇名称",
        "记录数",
        "检查指标数",
        "错误指标数",
        "差错率",
        "是否通过",
    ];
    for (c, h) in head.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(e)?;
    }
    for (k, t) in summary.townships.iter().enumerate() {
        let r = 1 + k as u32;
        ws.write_string(r, 0, &t.table).map_err(e)?;
        ws.write_string(r, 1, &t.township_code).map_err(e)?;
        ws.write_string(r, 2, &t.township_name).map_err(e)?;
        for (c, v) in [t.records, t.indicators_checked, t.errors]
            .into_iter()
            .enumerate()
        {
            ws.write_number(r, 3 + c as u16, v as f64).map_err(e)?;
        }
        ws.write_number_with_format(r, 6, t.error_rate, &pct)
            .map_err(e)?;
        ws.write_string(r, 7, if t.passed { "通过" } else { "不通过" })
            .map_err(e)?;
    }
    ws.set_freeze_panes(1, 0).map_err(e)?;
    ws.autofilter(0, 0, summary.townships.len() as u32, head.len() as u16 - 1)
        .map_err(e)?;
    ws.set_column_width(2, 16).map_err(e)?;
    printable(ws);

    let total = results
        .iter()
        .map(|r| r.issues.len())
        .sum::<usize>()
        .min(MAX_SHEET_ISSUES) as u32;
    let ws = wb.add_worksheet_with_constant_memory().map_err(e)?;
    ws.set_name("问题清单").map_err(e)?;
    // Constant-memory sheets take their layout before their rows.
    ws.set_column_width(9, 60).map_err(e)?;
    ws.set_freeze_panes(1, 0).map_err(e)?;
    printable(ws);
    ws.set_repeat_rows(0, 0).map_err(e)?;
    ws.autofilter(0, 0, total.max(1), ISSUE_COLUMNS_ZH.len() as u16 - 1)
        .map_err(e)?;
    for (c, h) in ISSUE_COLUMNS_ZH.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(e)?;
    }
    let mut n = 0u32;
    for i in results
        .iter()
        .flat_map(|r| &r.issues)
        .take(MAX_SHEET_ISSUES)
    {
        n += 1;
        for (c, v) in issue_record(i).iter().enumerate() {
            if c == 3 && !v.is_empty() {
                ws.write_number(n, c as u16, v.parse::<f64>().unwrap_or(0.0))
                    .map_err(e)?;
            } else if !v.is_empty() {
                ws.write_string(n, c as u16, v).map_err(e)?;
            }
        }
    }
    debug_assert_eq!(n, total);
    wb.save(path).map_err(e)
}

/// Error rates to ten decimals: the same number in JSON, CSV and the workbook, to the last digit.
fn round_rate(r: f64) -> f64 {
    (r * 1e10).round() / 1e10
}
