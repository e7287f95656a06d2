//! The reviewers' report: `report.xlsx`, `summary.json` and `issues.csv`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use riskcensus_schema::{Registry, SchemaSet, Severity};
use rust_xlsxwriter::{DataValidation, DocProperties, ExcelDateTime, Format, Workbook};
use serde::Serialize;

use crate::review::{Decision, Dispositions, Key, Mark, ReviewCounts, Status, TableReview, hex16};
use crate::{Counts, Issue, TableResult};

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
    /// Rejected records ÷ records read, to ten decimals.
    pub rejected_share: f64,
    /// Required fields a file has no column for (`file: 名称(code)`).
    pub missing_required_columns: Vec<String>,
    /// Why the table failed, as rule codes (see [`FailReason`]); empty when it passed.
    pub fail_reasons: Vec<FailReason>,
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
    pub rejected: u64,
    pub rejected_share: f64,
    /// Why the township's records of this table failed; empty when they passed.
    pub fail_reasons: Vec<FailReason>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub run: String,
    pub region_code: String,
    pub region_name: String,
    pub reference_year: i32,
    pub pass_threshold: f64,
    /// Highest share of rejected records a table (or a township of it) may have and pass.
    pub max_rejected_share: f64,
    pub tables: Vec<TableSummary>,
    pub townships: Vec<TownshipSummary>,
    pub issues_by_rule: BTreeMap<String, u64>,
    pub passed: bool,
    /// What the run did not take as written (e.g. a region name that is not the registry's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Issues per disposition, when the pipeline names a dispositions file (`[review]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewCounts>,
}

/// Run-level facts the summary carries.
pub struct RunInfo<'a> {
    pub run: &'a str,
    pub region_code: &'a str,
    pub region_name: &'a str,
    pub reference_year: i32,
    pub pass_threshold: f64,
    pub max_rejected_share: f64,
}

/// Why a table (or a township's records of it) failed QC. A table fails for any one of them, and the
/// report lists every one that holds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// A file-level error (rows lost between a file and its reader, parts that disagree).
    FileErrors,
    /// A required field has no column in some file: nothing of it was checked.
    RequiredColumnsAbsent,
    /// Every record was rejected: nothing would be published, whatever the 差错率.
    AllRecordsRejected,
    /// Rejected records ÷ records read is above `[qc] max_rejected_share`.
    RejectedShareOverLimit,
    /// 差错率 is above `[qc] pass_threshold`.
    ErrorRateOverThreshold,
}

impl FailReason {
    /// The code `summary.json` carries.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::FileErrors => "file_errors",
            FailReason::RequiredColumnsAbsent => "required_columns_absent",
            FailReason::AllRecordsRejected => "all_records_rejected",
            FailReason::RejectedShareOverLimit => "rejected_share_over_limit",
            FailReason::ErrorRateOverThreshold => "error_rate_over_threshold",
        }
    }

    /// What a reviewer reads in the workbook.
    pub fn zh(self) -> &'static str {
        match self {
            FailReason::FileErrors => "存在文件级错误",
            FailReason::RequiredColumnsAbsent => "缺少必填字段列",
            FailReason::AllRecordsRejected => "全部记录被退回",
            FailReason::RejectedShareOverLimit => "退回记录占比超过上限",
            FailReason::ErrorRateOverThreshold => "差错率超过阈值",
        }
    }
}

/// The reasons that hold for figures of a table or a township; empty: passed. `rate` and `share` are
/// the rounded figures the report shows, so the verdict matches what a reviewer can recompute.
fn fail_reasons(
    info: &RunInfo<'_>,
    c: &Counts,
    rate: f64,
    share: f64,
    file_errors: bool,
    columns_absent: bool,
) -> Vec<FailReason> {
    let mut out = Vec::new();
    if file_errors {
        out.push(FailReason::FileErrors);
    }
    if columns_absent {
        out.push(FailReason::RequiredColumnsAbsent);
    }
    if c.records > 0 && c.rejected == c.records {
        out.push(FailReason::AllRecordsRejected);
    } else if share > info.max_rejected_share {
        out.push(FailReason::RejectedShareOverLimit);
    }
    if rate > info.pass_threshold {
        out.push(FailReason::ErrorRateOverThreshold);
    }
    out
}

/// Reasons in Chinese, for a workbook cell.
fn reasons_zh(reasons: &[FailReason]) -> String {
    reasons
        .iter()
        .map(|r| r.zh())
        .collect::<Vec<_>>()
        .join("；")
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
        let share = round_rate(r.counts.rejected_share());
        let reasons = fail_reasons(
            info,
            &r.counts,
            rate,
            share,
            r.file_errors() > 0,
            !r.missing_required_columns.is_empty(),
        );
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
            passed: reasons.is_empty(),
            repaired_cells: r.repaired_cells,
            rejected_share: share,
            missing_required_columns: r.missing_required_columns.clone(),
            fail_reasons: reasons,
        });
        for (unit, c) in &r.by_unit {
            let code = unit.clone().unwrap_or_default();
            let rate = round_rate(c.error_rate());
            let share = round_rate(c.rejected_share());
            let reasons = fail_reasons(info, c, rate, share, false, false);
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
                passed: reasons.is_empty(),
                rejected: c.rejected,
                rejected_share: share,
                fail_reasons: reasons,
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
        max_rejected_share: info.max_rejected_share,
        tables,
        townships,
        issues_by_rule: by_rule,
        passed,
        warnings: Vec::new(),
        review: None,
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

/// Columns `issues.csv` carries after [`ISSUE_COLUMNS`]: the record's content hash (the key of a
/// table without a primary key, and what tells a changed record) and the issue's disposition.
pub const REVIEW_COLUMNS: [&str; 3] = ["record_hash", "disposition", "disposition_status"];

/// Headers of the review columns of 问题清单, after the issue's own. Import finds them by name.
pub const REVIEW_COLUMNS_ZH: [&str; 5] = ["处理结果", "处理说明", "批准人", "处理状态", "记录指纹"];

/// The review cells of one issue: hash, decision code and status code (empty when undecided).
fn review_record(mark: Option<&Mark>) -> [String; 3] {
    match mark {
        None => Default::default(),
        Some(m) => [
            hex16(m.record_hash),
            m.disposition
                .map(|(d, _)| d.as_str().to_owned())
                .unwrap_or_default(),
            m.disposition
                .map(|(_, s)| s.as_str().to_owned())
                .unwrap_or_default(),
        ],
    }
}

/// Writes `report.xlsx`, `summary.json` and `issues.csv` into `dir`.
pub fn write(dir: &Path, summary: &Summary, results: &[TableResult]) -> Result<(), Error> {
    write_reviewed(dir, summary, results, &[], &Dispositions::new())
}

/// Writes the report with each issue's review: `reviews` are index for index with `results` (and
/// their marks with the issues); `dispositions` give the reasons shown beside applied decisions.
pub fn write_reviewed(
    dir: &Path,
    summary: &Summary,
    results: &[TableResult],
    reviews: &[TableReview],
    dispositions: &Dispositions,
) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
    let json =
        serde_json::to_vec_pretty(summary).map_err(|e| werr(&dir.join("summary.json"), e))?;
    write_atomic(&dir.join("summary.json"), |p| {
        std::fs::write(p, &json).map_err(|e| werr(p, e))
    })?;
    write_atomic(&dir.join("issues.csv"), |p| {
        let mut w = csv::Writer::from_path(p).map_err(|e| werr(p, e))?;
        w.write_record(ISSUE_COLUMNS.iter().chain(&REVIEW_COLUMNS))
            .map_err(|e| werr(p, e))?;
        for (i, mark) in issues_with_marks(results, reviews) {
            w.write_record(issue_record(i).iter().chain(&review_record(mark)))
                .map_err(|e| werr(p, e))?;
        }
        w.flush().map_err(|e| werr(p, e))
    })?;
    write_atomic(&dir.join("report.xlsx"), |p| {
        write_xlsx(p, summary, results, reviews, dispositions)
    })
}

/// Every issue of the run with its mark, when the run was reviewed.
fn issues_with_marks<'a>(
    results: &'a [TableResult],
    reviews: &'a [TableReview],
) -> impl Iterator<Item = (&'a Issue, Option<&'a Mark>)> {
    results.iter().enumerate().flat_map(move |(t, r)| {
        let marks = reviews.get(t).map(|v| v.marks.as_slice()).unwrap_or(&[]);
        r.issues
            .iter()
            .enumerate()
            .map(move |(k, i)| (i, marks.get(k)))
    })
}

/// The 处理结果, 处理说明, 批准人 and 处理状态 cells of an issue. An applied decision is filled in,
/// so importing the workbook again keeps it; a stale one is only named in 处理状态, so it is looked
/// at again rather than re-imported unseen.
fn review_cells(issue: &Issue, mark: Option<&Mark>, dispositions: &Dispositions) -> [String; 4] {
    let Some(m) = mark else {
        return Default::default();
    };
    let Some((decision, status)) = m.disposition else {
        return Default::default();
    };
    let d = dispositions.get(&Key::of(issue, m.record_hash));
    let reason = d.map(|d| d.reason.clone()).unwrap_or_default();
    let approver = d.map(|d| d.approved_by.clone()).unwrap_or_default();
    match status {
        Status::Applied => [
            decision.zh().to_owned(),
            reason,
            approver,
            "已采纳".to_owned(),
        ],
        Status::Stale => [
            String::new(),
            String::new(),
            String::new(),
            format!("记录已变更，请复核（原处理：{}，{reason}）", decision.zh()),
        ],
    }
}

/// Issue rows an xlsx sheet can hold under its header.
const MAX_SHEET_ISSUES: usize = 1_048_575;

fn write_xlsx(
    path: &Path,
    summary: &Summary,
    results: &[TableResult],
    reviews: &[TableReview],
    dispositions: &Dispositions,
) -> Result<(), Error> {
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
            "差错率 = 错误指标数 ÷ 检查指标数；通过阈值 {:.2}%；退回记录占比上限 {:.2}%；总体结论：{}（定义见“说明”）",
            summary.pass_threshold * 100.0,
            summary.max_rejected_share * 100.0,
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
        "退回记录占比",
        "不通过原因",
        "缺少的必填字段列",
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
        ws.write_number_with_format(r, 15, t.rejected_share, &pct)
            .map_err(e)?;
        ws.write_string(r, 16, reasons_zh(&t.fail_reasons))
            .map_err(e)?;
        ws.write_string(r, 17, t.missing_required_columns.join("; "))
            .map_err(e)?;
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
        "退回记录数",
        "退回记录占比",
        "不通过原因",
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
        ws.write_number(r, 8, t.rejected as f64).map_err(e)?;
        ws.write_number_with_format(r, 9, t.rejected_share, &pct)
            .map_err(e)?;
        ws.write_string(r, 10, reasons_zh(&t.fail_reasons))
            .map_err(e)?;
    }
    // Wide enough for a 9-digit code and a township's name, so a printout does not cut them.
    ws.set_column_width(0, 16).map_err(e)?;
    ws.set_column_width(1, 12).map_err(e)?;
    ws.set_column_width(2, 16).map_err(e)?;
    ws.set_column_width(9, 12).map_err(e)?;
    ws.set_column_width(10, 30).map_err(e)?;
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
    let review_col = ISSUE_COLUMNS_ZH.len() as u16;
    let last_col = review_col + REVIEW_COLUMNS_ZH.len() as u16 - 1;
    ws.autofilter(0, 0, total.max(1), last_col).map_err(e)?;
    ws.set_column_width(review_col + 1, 30).map_err(e)?;
    ws.set_column_width(review_col + 3, 24).map_err(e)?;
    ws.add_data_validation(
        1,
        review_col,
        total.max(1),
        review_col,
        &decision_dropdown().map_err(e)?,
    )
    .map_err(e)?;
    for (c, h) in ISSUE_COLUMNS_ZH
        .iter()
        .chain(&REVIEW_COLUMNS_ZH)
        .enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(e)?;
    }
    let mut n = 0u32;
    for (i, mark) in issues_with_marks(results, reviews).take(MAX_SHEET_ISSUES) {
        n += 1;
        let fingerprint = mark.map(|m| hex16(m.record_hash)).unwrap_or_default();
        for (c, v) in review_cells(i, mark, dispositions)
            .iter()
            .chain([&fingerprint])
            .enumerate()
        {
            if !v.is_empty() {
                ws.write_string(n, review_col + c as u16, v).map_err(e)?;
            }
        }
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

    let ws = wb.add_worksheet();
    ws.set_name("说明").map_err(e)?;
    for (r, line) in definitions(summary).iter().enumerate() {
        if r == 0 {
            ws.write_string_with_format(0, 0, line, &bold).map_err(e)?;
        } else {
            ws.write_string(r as u32, 0, line).map_err(e)?;
        }
    }
    ws.set_column_width(0, 110).map_err(e)?;
    printable(ws);
    wb.save(path).map_err(e)
}

/// The 处理结果 dropdown: the three decisions, and what each needs.
fn decision_dropdown() -> Result<DataValidation, rust_xlsxwriter::XlsxError> {
    DataValidation::new()
        .allow_list_strings(&Decision::ZH)?
        .set_input_title("处理结果")?
        .set_input_message("确认：确为错误；误报：规则误判，须填处理说明；例外：特殊情况予以认可，须填处理说明和批准人")?
        .set_error_title("处理结果无效")?
        .set_error_message("请从下拉列表选择：确认、误报或例外")
}

/// The 说明 sheet: what the figures count and when a table fails, with this run's limits.
fn definitions(summary: &Summary) -> Vec<String> {
    vec![
        "指标与判定说明".into(),
        "检查指标数：每条记录计入其所在文件实际提供的字段（含由图形得到的经纬度）与全部必填字段，面图层另计图形 1 项；文件中没有的非必填字段不计入。".into(),
        "错误指标数：至少有一个错误的（记录 × 字段）个数；警告不计入。".into(),
        "差错率 = 错误指标数 ÷ 检查指标数。".into(),
        "退回记录：至少有一个错误的记录，不进入发布数据；退回记录占比 = 退回记录数 ÷ 读入记录数。".into(),
        "表（及表内每个乡镇）满足以下任一条即“不通过”，原因列于“不通过原因”：".into(),
        "  存在文件级错误：如文件记录数与读入数不符、矢量文件各部分记录数不一致；".into(),
        "  缺少必填字段列：某文件没有必填字段对应的列，该字段无从检查；".into(),
        "  全部记录被退回：无论差错率多少，均不通过；".into(),
        format!(
            "  退回记录占比超过上限：退回记录占比大于 {:.2}%（[qc] max_rejected_share）；",
            summary.max_rejected_share * 100.0
        ),
        format!(
            "  差错率超过阈值：差错率大于 {:.2}%（[qc] pass_threshold）。",
            summary.pass_threshold * 100.0
        ),
        "面图层（如房屋建筑轮廓）无经纬度列时，以面内代表点（保证落在面内，非质心）的经纬度做点位检查（所在乡镇、火星坐标偏移、经纬度填反）。".into(),
        "问题处理：在“问题清单”的“处理结果”列选择 确认（确为错误）、误报（须填处理说明）或 例外（须填处理说明和批准人），用 riskcensus review import 导入处理文件后重新运行。误报和例外不再计入差错率，也不再退回记录；记录修改后原处理标为“记录已变更，请复核”，不再生效。".into(),
    ]
}

/// Error rates to ten decimals: the same number in JSON, CSV and the workbook, to the last digit.
fn round_rate(r: f64) -> f64 {
    (r * 1e10).round() / 1e10
}
