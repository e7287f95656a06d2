//! `riskcensus review score`: the sampled 差错率 of a checking workbook, per county, table and
//! township, with a 95% confidence interval and the verdict against the threshold.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use serde::Serialize;

use super::sample::{ABOUT_SHEET, FIXED_HEADERS, WRONG_COLUMN};
use super::{Result, invalid};

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The figures of one scope (the county, a table, a township).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub code: String,
    pub name: String,
    pub records: u64,
    pub indicators_checked: u64,
    pub wrong: u64,
    /// 差错率 = wrong ÷ indicators checked.
    pub error_rate: f64,
    /// The Wilson score interval at 95%: where the 差错率 of all records plausibly lies.
    pub ci_low: f64,
    pub ci_high: f64,
    /// The sampled 差错率 is at most the threshold.
    pub passed: bool,
}

/// The score of a checking workbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub region_code: String,
    pub region_name: String,
    pub package: String,
    pub rate: f64,
    pub seed: u64,
    pub threshold: f64,
    pub county: Line,
    pub tables: Vec<Line>,
    pub townships: Vec<Line>,
}

/// The Wilson score interval of `wrong` out of `n` at `z`: unlike p ± z·se it stays within 0 and 1
/// and is not empty when nothing wrong was found, which is the usual case for a good county.
pub fn wilson(wrong: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = wrong as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[derive(Default)]
struct Tally {
    name: String,
    records: u64,
    indicators: u64,
    wrong: u64,
}

impl Tally {
    fn line(&self, code: &str, threshold: f64) -> Line {
        let rate = if self.indicators == 0 {
            0.0
        } else {
            self.wrong as f64 / self.indicators as f64
        };
        let (lo, hi) = wilson(self.wrong, self.indicators, Z95);
        Line {
            code: code.to_owned(),
            name: self.name.clone(),
            records: self.records,
            indicators_checked: self.indicators,
            wrong: self.wrong,
            error_rate: rate,
            ci_low: lo,
            ci_high: hi,
            passed: rate <= threshold,
        }
    }
}

type Sheet = Vec<Vec<String>>;

/// Every sheet as text cells; calamine's panics on a damaged file are an error naming it.
fn read_sheets(path: &Path) -> Result<Vec<(String, Sheet)>> {
    let read = || -> std::result::Result<Vec<(String, Sheet)>, String> {
        let mut wb = open_workbook_auto(path).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for name in wb.sheet_names() {
            let range = wb.worksheet_range(&name).map_err(|e| e.to_string())?;
            let rows = range
                .rows()
                .map(|r| r.iter().map(cell_text).collect())
                .collect();
            out.push((name, rows));
        }
        Ok(out)
    };
    match std::panic::catch_unwind(read) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(m)) => Err(invalid(
            path,
            m,
            "score the workbook `riskcensus review sample` wrote",
        )),
        Err(_) => Err(invalid(
            path,
            "the spreadsheet reader failed on this file (damaged?)",
            "save the workbook again as xlsx",
        )),
    }
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// The fields a checker named, matched to the sheet's field headers (`名称(code)`, the name or the
/// code); a name that is no field of the sheet is an error naming the sheet and row.
fn wrong_fields(cell: &str, fields: &[String], at: &str, path: &Path) -> Result<BTreeSet<usize>> {
    let mut out = BTreeSet::new();
    for token in cell
        .split(['、', ',', '，', ';', '；', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let k = fields.iter().position(|h| {
            let (name, code) = h
                .strip_suffix(')')
                .and_then(|s| s.rsplit_once('('))
                .unwrap_or((h.as_str(), ""));
            h == token || name == token || code == token
        });
        match k {
            Some(k) => {
                out.insert(k);
            }
            None => {
                return Err(invalid(
                    path,
                    format!("{at}: 错误指标 names {token:?}, which is no field of this sheet"),
                    "use the field names of the header row, separated by 、",
                ));
            }
        }
    }
    Ok(out)
}

/// The Chinese name of a census table (its code when it is not a shipped table).
fn table_name(code: &str) -> String {
    riskcensus_schema::SchemaSet::builtin()
        .ok()
        .and_then(|s| s.table(code).map(|t| t.name_zh.clone()))
        .unwrap_or_else(|| code.to_owned())
}

/// Scores a checking workbook. `threshold` overrides the one the sample recorded.
pub fn score(workbook: &Path, threshold: Option<f64>) -> Result<Score> {
    let sheets = read_sheets(workbook)?;
    let about = sheets
        .iter()
        .find(|(n, _)| n == ABOUT_SHEET)
        .map(|(_, s)| s)
        .ok_or_else(|| {
            invalid(
                workbook,
                format!("no sheet {ABOUT_SHEET}"),
                "score the workbook `riskcensus review sample` wrote",
            )
        })?;
    let fact = |k: &str| {
        about
            .iter()
            .find(|r| r.first().map(String::as_str) == Some(k))
            .and_then(|r| r.get(1).cloned())
            .unwrap_or_default()
    };
    let threshold = match threshold {
        Some(t) => t,
        None => fact("差错率阈值").parse().map_err(|_| {
            invalid(
                workbook,
                format!(
                    "{ABOUT_SHEET}: 差错率阈值 {:?} is not a number",
                    fact("差错率阈值")
                ),
                "give --threshold, e.g. 0.05",
            )
        })?,
    };
    let mut county = Tally {
        name: fact("行政区名称"),
        ..Tally::default()
    };
    let mut tables: BTreeMap<String, Tally> = BTreeMap::new();
    let mut towns: BTreeMap<String, Tally> = BTreeMap::new();
    for (name, rows) in sheets.iter().filter(|(n, _)| n != ABOUT_SHEET) {
        let Some(header) = rows.first() else { continue };
        if header.len() < FIXED_HEADERS.len()
            || header[..FIXED_HEADERS.len()]
                .iter()
                .zip(FIXED_HEADERS)
                .any(|(a, b)| a.trim() != b)
        {
            return Err(invalid(
                workbook,
                format!("sheet {name}: the header is not the sample's"),
                format!(
                    "keep the first columns as written: {}",
                    FIXED_HEADERS.join(", ")
                ),
            ));
        }
        let fields = &header[FIXED_HEADERS.len()..];
        for (r, cells) in rows.iter().enumerate().skip(1) {
            let get = |c: usize| cells.get(c).map(|s| s.trim()).unwrap_or("");
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let at = format!("sheet {name}, row {}", r + 1);
            let indicators: u64 = get(4).parse().map_err(|_| {
                invalid(
                    workbook,
                    format!("{at}: 检查指标数 {:?} is not a count", get(4)),
                    "leave the columns the sample wrote as they are",
                )
            })?;
            let wrong = wrong_fields(get(WRONG_COLUMN), fields, &at, workbook)?.len() as u64;
            if wrong > indicators {
                return Err(invalid(
                    workbook,
                    format!("{at}: {wrong} wrong indicators of {indicators} checked"),
                    "name each wrong field once",
                ));
            }
            let t = tables.entry(name.clone()).or_default();
            if t.name.is_empty() {
                t.name = table_name(name);
            }
            let w = towns.entry(get(0).to_owned()).or_default();
            w.name = get(1).to_owned();
            for tally in [&mut county, t, w] {
                tally.records += 1;
                tally.indicators += indicators;
                tally.wrong += wrong;
            }
        }
    }
    let region_code = fact("行政区代码");
    Ok(Score {
        county: county.line(&region_code, threshold),
        tables: tables.iter().map(|(k, t)| t.line(k, threshold)).collect(),
        townships: towns.iter().map(|(k, t)| t.line(k, threshold)).collect(),
        region_name: fact("行政区名称"),
        region_code,
        package: fact("数据包"),
        rate: fact("抽样比例").parse().unwrap_or(0.0),
        seed: fact("随机种子").parse().unwrap_or(0),
        threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 wrong of 200 by hand: p = 0.015, z² = 3.841459, z²/n = 0.01920730, centre =
    /// (0.015 + 0.00960365) / 1.0192073 = 0.02413998, half = 1.959964 / 1.0192073 ×
    /// √(0.000073875 + 0.0000240091) = 0.01902575; interval 0.00511424 to 0.04316573.
    #[test]
    fn the_wilson_interval_matches_a_hand_computed_case() {
        let (lo, hi) = wilson(3, 200, Z95);
        assert!((lo - 0.005_114_24).abs() < 5e-8, "{lo}");
        assert!((hi - 0.043_165_73).abs() < 5e-8, "{hi}");
        // Nothing wrong: the interval starts at 0 and is not empty.
        let (lo, hi) = wilson(0, 100, Z95);
        assert!(lo < 1e-12, "{lo}");
        assert!((hi - 0.036_993_5).abs() < 1e-6, "{hi}");
    }

    #[test]
    fn wrong_fields_match_by_header_name_or_code_and_refuse_others() {
        let fields = vec![
            "地上层数(dscs)".to_owned(),
            "建筑面积（平方米）(jzmj)".to_owned(),
        ];
        let p = Path::new("核查.xlsx");
        let got = wrong_fields("地上层数、jzmj，dscs", &fields, "row 2", p).unwrap();
        assert_eq!(got, BTreeSet::from([0, 1]));
        let err = wrong_fields("层高", &fields, "sheet fwjz, row 9", p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("核查.xlsx") && err.contains("row 9") && err.contains("层高"));
    }
}
