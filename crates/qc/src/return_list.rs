//! The return list (退回修改清单): for each township, the records it must correct — file, sheet,
//! row, field, value and what is wrong, in Chinese — as `qc/return_list.xlsx` (one sheet per
//! township) and `qc/return_list/<code>_<name>.csv` (one file per township), so a county office can
//! hand each township its own list.
//!
//! An issue is on the list when it is an error that still counts: undecided, confirmed, or decided
//! on a record that has changed since (stale). Dismissed and excepted errors and warnings are not.

use std::collections::BTreeMap;
use std::path::Path;

use riskcensus_schema::{Registry, SchemaSet, Severity};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

use crate::review::{Decision, Mark, Status, TableReview};
use crate::{Issue, TableResult};

/// The sheet and file of records without a valid township code.
pub const NO_TOWNSHIP: &str = "无有效乡镇代码";

/// Headers of the list, in Chinese, as townships read them.
pub const HEADERS: [&str; 11] = [
    "表",
    "表名",
    "文件",
    "工作表/图层",
    "行号",
    "列",
    "字段",
    "字段名称",
    "填报值",
    "问题说明",
    "处理情况",
];

/// Entries on the list per township (code, or empty for none), for the run's log and tests.
pub type Counts = BTreeMap<String, usize>;

/// What a township reads about an issue's review (empty when nobody has decided yet).
fn review_note(mark: Option<&Mark>) -> String {
    match mark.and_then(|m| m.disposition) {
        Some((Decision::Confirmed, Status::Applied)) => "审核确认为错误".into(),
        Some((d, Status::Stale)) => format!("记录已修改，原处理“{}”待复核", d.zh()),
        _ => String::new(),
    }
}

/// Errors still counting, by township code, in the run's order (tables, then rows).
fn entries<'a>(
    results: &'a [TableResult],
    reviews: &'a [TableReview],
) -> BTreeMap<String, Vec<(&'a Issue, Option<&'a Mark>)>> {
    let mut out: BTreeMap<String, Vec<(&Issue, Option<&Mark>)>> = BTreeMap::new();
    for (t, r) in results.iter().enumerate() {
        let marks = reviews.get(t).map(|v| v.marks.as_slice()).unwrap_or(&[]);
        for (k, i) in r.issues.iter().enumerate() {
            let mark = marks.get(k);
            if i.severity != Severity::Error || i.row.is_none() || mark.is_some_and(Mark::waived) {
                continue;
            }
            out.entry(i.unit.clone().unwrap_or_default())
                .or_default()
                .push((i, mark));
        }
    }
    out
}

fn row_cells(i: &Issue, mark: Option<&Mark>, schemas: &SchemaSet) -> [String; 11] {
    let schema = schemas.table(&i.table);
    let field = i.field.clone().unwrap_or_default();
    let field_name = if field == "geometry" {
        "图形".to_owned()
    } else {
        schema
            .and_then(|s| s.field_index(&field).map(|k| s.fields[k].name_zh.clone()))
            .unwrap_or_default()
    };
    [
        i.table.clone(),
        schema.map(|s| s.name_zh.clone()).unwrap_or_default(),
        i.file.clone(),
        i.sheet.clone(),
        i.row.map(|r| r.to_string()).unwrap_or_default(),
        i.column.clone().unwrap_or_default(),
        field,
        field_name,
        i.value.clone(),
        i.message_zh.clone(),
        review_note(mark),
    ]
}

/// A file name part: the label with path separators and other characters file systems refuse
/// replaced, spaces as `_`.
fn file_part(label: &str) -> String {
    label
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect()
}

/// A township's label: `code name`, or [`NO_TOWNSHIP`].
fn label(code: &str, registry: &Registry) -> String {
    if code.is_empty() {
        return NO_TOWNSHIP.to_owned();
    }
    match registry.get(code) {
        Some(d) => format!("{code} {}", d.name),
        None => code.to_owned(),
    }
}

/// Writes the list into `dir` (the run's `qc/`): the workbook and one csv per township. Returns
/// the entries per township.
pub fn write(
    dir: &Path,
    results: &[TableResult],
    reviews: &[TableReview],
    schemas: &SchemaSet,
    registry: &Registry,
) -> Result<Counts, crate::report::Error> {
    let werr = |p: &Path, e: &dyn std::fmt::Display| crate::report::Error::Write {
        path: p.to_owned(),
        message: e.to_string(),
    };
    let by_town = entries(results, reviews);
    let csv_dir = dir.join("return_list");
    if csv_dir.is_dir() {
        std::fs::remove_dir_all(&csv_dir).map_err(|e| werr(&csv_dir, &e))?;
    }
    std::fs::create_dir_all(&csv_dir).map_err(|e| werr(&csv_dir, &e))?;
    let xlsx = dir.join("return_list.xlsx");
    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2021, 6, 30).map_err(|e| werr(&xlsx, &e))?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&fixed)
            .set_title("退回修改清单"),
    );
    let bold = Format::new().set_bold();
    let mut counts = Counts::new();
    if by_town.is_empty() {
        let ws = wb.add_worksheet();
        ws.set_name("退回修改清单").map_err(|e| werr(&xlsx, &e))?;
        ws.write_string(0, 0, "本次质检没有需要退回修改的记录。")
            .map_err(|e| werr(&xlsx, &e))?;
    }
    for (code, list) in &by_town {
        let name = label(code, registry);
        counts.insert(code.clone(), list.len());
        let rows: Vec<[String; 11]> = list
            .iter()
            .map(|(i, m)| row_cells(i, *m, schemas))
            .collect();
        let csv_path = csv_dir.join(format!("{}.csv", file_part(&name)));
        let mut w = csv::Writer::from_path(&csv_path).map_err(|e| werr(&csv_path, &e))?;
        w.write_record(HEADERS).map_err(|e| werr(&csv_path, &e))?;
        for r in &rows {
            w.write_record(r).map_err(|e| werr(&csv_path, &e))?;
        }
        w.flush().map_err(|e| werr(&csv_path, &e))?;

        let ws = wb.add_worksheet();
        let sheet: String = name.chars().take(31).collect();
        ws.set_name(&sheet).map_err(|e| werr(&xlsx, &e))?;
        let e = |x: rust_xlsxwriter::XlsxError| werr(&xlsx, &x);
        ws.write_string_with_format(
            0,
            0,
            format!("{name} 退回修改清单（{} 处）", rows.len()),
            &bold,
        )
        .map_err(e)?;
        for (c, h) in HEADERS.iter().enumerate() {
            ws.write_string_with_format(1, c as u16, *h, &bold)
                .map_err(e)?;
        }
        for (k, r) in rows.iter().enumerate() {
            for (c, v) in r.iter().enumerate() {
                let row = k as u32 + 2;
                if c == 4 && !v.is_empty() {
                    ws.write_number(row, c as u16, v.parse::<f64>().unwrap_or(0.0))
                        .map_err(e)?;
                } else if !v.is_empty() {
                    ws.write_string(row, c as u16, v).map_err(e)?;
                }
            }
        }
        ws.set_freeze_panes(2, 0).map_err(e)?;
        ws.set_column_width(2, 24).map_err(e)?;
        ws.set_column_width(9, 60).map_err(e)?;
        ws.set_landscape();
        ws.set_paper_size(9);
        ws.set_print_fit_to_pages(1, 0);
        ws.set_repeat_rows(1, 1).map_err(e)?;
    }
    let tmp = dir.join(format!(".return_list.xlsx.tmp-{}", std::process::id()));
    wb.save(&tmp).map_err(|e| werr(&xlsx, &e))?;
    std::fs::rename(&tmp, &xlsx).map_err(|e| werr(&xlsx, &e))?;
    Ok(counts)
}
