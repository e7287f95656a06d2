//! `riskcensus review import`: the 处理结果 a reviewer chose in `qc/report.xlsx` into the
//! dispositions file the next run applies.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use riskcensus_qc::report::REVIEW_COLUMNS_ZH;
use riskcensus_qc::review::{Decision, Disposition, Dispositions, Key};

use super::{Result, invalid};

/// The sheet of the report that holds the issues.
pub const ISSUES_SHEET: &str = "问题清单";

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// Rows with a 处理结果 (new or changed dispositions, or the same again).
    pub decided: usize,
    /// Dispositions in the file after the import.
    pub total: usize,
}

/// Headers an import needs, found by name so a reviewer may reorder or hide columns.
const NEEDED: [&str; 7] = ["表", "文件", "行号", "字段", "值", "规则", "记录编号"];

/// Reads the 处理结果 of every issue row of `workbook` and merges them into `into` (created when
/// absent). A row with an empty 处理结果 changes nothing: clearing a cell never drops a decision
/// silently. An unknown decision, or a 误报/例外 without its reason (or an 例外 without who
/// approved it), is an error naming the sheet and row; nothing is written then.
pub fn import(workbook: &Path, into: &Path, reviewer: &str) -> Result<Imported> {
    let rows = read_issue_rows(workbook)?;
    let mut header = rows.first().cloned().unwrap_or_default();
    for h in &mut header {
        *h = h.trim().to_owned();
    }
    let col = |name: &str| -> Result<usize> {
        header.iter().position(|h| h == name).ok_or_else(|| {
            invalid(
                workbook,
                format!("sheet {ISSUES_SHEET} has no column {name}"),
                "import the qc/report.xlsx a run wrote (its 问题清单 has 处理结果, 处理说明, 批准人 and 记录指纹)",
            )
        })
    };
    let needed: Vec<usize> = NEEDED.iter().map(|n| col(n)).collect::<Result<_>>()?;
    let [table, file, row, field, value, rule, record_key] = needed[..] else {
        unreachable!("NEEDED has seven names")
    };
    let [decision, reason, approver, _status, fingerprint] = REVIEW_COLUMNS_ZH;
    let (decision, reason, approver, fingerprint) = (
        col(decision)?,
        col(reason)?,
        col(approver)?,
        col(fingerprint)?,
    );

    let mut out = if into.exists() {
        Dispositions::read(into)?
    } else {
        Dispositions::new()
    };
    let mut decided = 0;
    for (k, cells) in rows.iter().enumerate().skip(1) {
        let get = |c: usize| cells.get(c).map(|s| s.trim()).unwrap_or("").to_owned();
        let chosen = get(decision);
        if chosen.is_empty() {
            continue;
        }
        let at = format!("sheet {ISSUES_SHEET}, row {}", k + 1);
        let d = Decision::parse(&chosen).ok_or_else(|| {
            invalid(
                workbook,
                format!("{at}: 处理结果 {chosen:?} is not one of the dropdown's"),
                "choose 确认, 误报 or 例外",
            )
        })?;
        let hash = get(fingerprint);
        if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                workbook,
                format!("{at}: 记录指纹 {hash:?} is not the 16 hex digits a run writes"),
                "leave the 记录指纹 column as the run wrote it",
            ));
        }
        let key_value = get(record_key);
        let disposition = Disposition {
            key: Key {
                table: get(table),
                record_key: if key_value.is_empty() {
                    format!("#{hash}")
                } else {
                    key_value
                },
                rule: get(rule),
                field: get(field),
            },
            decision: d,
            reason: get(reason),
            approved_by: get(approver),
            reviewer: reviewer.to_owned(),
            record_hash: hash,
            source_file: get(file),
            source_row: get(row),
            value: get(value),
        };
        if let Some(m) = disposition.incomplete() {
            return Err(invalid(
                workbook,
                format!("{at}: {m}"),
                "fill in 处理说明 (and 批准人 for 例外), or choose 确认",
            ));
        }
        out.upsert(disposition);
        decided += 1;
    }
    out.write(into)?;
    Ok(Imported {
        decided,
        total: out.len(),
    })
}

/// The 问题清单 sheet as text cells, header first. calamine's panics on a damaged file are caught
/// and told as an error naming the file.
fn read_issue_rows(workbook: &Path) -> Result<Vec<Vec<String>>> {
    let read = || -> std::result::Result<Vec<Vec<String>>, String> {
        let mut wb = open_workbook_auto(workbook).map_err(|e| e.to_string())?;
        let range = wb
            .worksheet_range(ISSUES_SHEET)
            .map_err(|e| format!("no sheet {ISSUES_SHEET}: {e}"))?;
        Ok(range
            .rows()
            .map(|r| r.iter().map(cell_text).collect())
            .collect())
    };
    match std::panic::catch_unwind(read) {
        Ok(Ok(rows)) if !rows.is_empty() => Ok(rows),
        Ok(Ok(_)) => Err(invalid(
            workbook,
            format!("sheet {ISSUES_SHEET} is empty"),
            "import the qc/report.xlsx a run wrote",
        )),
        Ok(Err(m)) => Err(invalid(
            workbook,
            m,
            "import the qc/report.xlsx a run wrote, saved as xlsx",
        )),
        Err(_) => Err(invalid(
            workbook,
            "the spreadsheet reader failed on this file (damaged?)",
            "save the workbook again from Excel or LibreOffice as xlsx",
        )),
    }
}

/// A cell as text; whole numbers without a fraction (a row number is 12, not 12.0).
fn cell_text(d: &Data) -> String {
    match d {
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}
