//! `riskcensus review sample`: the city tier's sampled check. From a county's verified package it
//! draws a stratified sample (per table and township, at least one record of every stratum that
//! has records) and writes the checking workbook: every sampled record with all its fields, the
//! issues QC already found on it, and the columns where a checker names the wrong indicators.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use riskcensus_schema::{Registry, SchemaSet};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet};

use super::{Result, invalid};
use crate::{column_names, query};

/// The sheet of a checking workbook that says how it was drawn (read back by `score`).
pub const ABOUT_SHEET: &str = "抽样说明";
/// The fixed columns of every table sheet, before the record's fields.
pub const FIXED_HEADERS: [&str; 8] = [
    "乡镇代码",
    "乡镇名称",
    "文件",
    "行号",
    "检查指标数",
    "已发现问题",
    "错误指标（填字段名称，以、分隔）",
    "核查说明",
];
/// Index of the checker's column among [`FIXED_HEADERS`].
pub const WRONG_COLUMN: usize = 6;

/// Tables of a package that are not survey records.
const NOT_RECORDS: [&str; 3] = ["issues", "unit_risk", "unit_table"];

/// One stratum as drawn.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stratum {
    pub table: String,
    pub township_code: String,
    pub records: usize,
    pub sampled: usize,
}

/// What a sample drew.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SampleReport {
    pub region_code: String,
    pub region_name: String,
    pub rate: f64,
    pub seed: u64,
    pub strata: Vec<Stratum>,
    /// The sampled records per table, as `source_file:source_row`, in workbook order.
    pub records: BTreeMap<String, Vec<String>>,
}

/// Records to draw from a stratum of `n`: the rate rounded up, at least one, at most all.
pub fn sample_size(n: usize, rate: f64) -> usize {
    if n == 0 {
        return 0;
    }
    ((n as f64 * rate).ceil() as usize).clamp(1, n)
}

/// The seed of one stratum: the user's seed mixed with the stratum's name, so adding a table or a
/// township leaves every other stratum's sample as it was.
fn stratum_seed(seed: u64, table: &str, township: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in table.bytes().chain([0xff]).chain(township.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `k` of `0..n`, drawn by a partial Fisher–Yates shuffle, in ascending order.
fn draw(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = rng.random_range(i..n);
        idx.swap(i, j);
    }
    let mut out = idx[..k].to_vec();
    out.sort_unstable();
    out
}

/// A column as text (null as empty); geometry and other binary columns are left out.
fn text(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let c = df
        .column(name)
        .map_err(crate::Error::from)?
        .cast(&DataType::String)
        .map_err(crate::Error::from)?;
    Ok(c.str()
        .map_err(crate::Error::from)?
        .iter()
        .map(|v| v.unwrap_or("").to_owned())
        .collect())
}

/// The package's identity and QC threshold, from its verified `manifest.json` and `qc/summary.json`.
struct PackageFacts {
    region_code: String,
    region_name: String,
    pass_threshold: f64,
}

fn facts(package: &Path, dir: &Path) -> Result<PackageFacts> {
    let summary = dir.join("qc/summary.json");
    let text = std::fs::read_to_string(&summary).map_err(|e| {
        invalid(
            package,
            format!("no qc/summary.json: {e}"),
            "sample a package written by `riskcensus run`",
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        invalid(
            package,
            format!("qc/summary.json: {e}"),
            "sample a package written by `riskcensus run`",
        )
    })?;
    Ok(PackageFacts {
        region_code: v["region_code"].as_str().unwrap_or("").to_owned(),
        region_name: v["region_name"].as_str().unwrap_or("").to_owned(),
        pass_threshold: v["pass_threshold"].as_f64().unwrap_or(0.05),
    })
}

/// Verifies the package, unpacks what the sample reads, and writes the checking workbook to `out`.
/// The same package, rate and seed give the same sample and the same bytes.
pub fn sample(package: &Path, rate: f64, seed: u64, out: &Path) -> Result<SampleReport> {
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(invalid(
            package,
            format!("--rate {rate} is not a share above 0"),
            "give the share of records to check, e.g. 0.1 for 10%",
        ));
    }
    let tmp = tempfile::tempdir().map_err(|e| invalid(package, e.to_string(), "check /tmp"))?;
    crate::package::unpack(package, tmp.path(), &|n| {
        n.starts_with("parquet/") || n == "qc/summary.json"
    })
    .map_err(|problems| {
        invalid(
            package,
            format!("does not verify: {}", problems.join("; ")),
            "`riskcensus verify` lists every problem; ask for the package again",
        )
    })?;
    let facts = facts(package, tmp.path())?;
    let schemas = SchemaSet::builtin().map_err(|e| {
        invalid(
            package,
            format!("shipped schemas: {e}"),
            "report this: the shipped schemas must load",
        )
    })?;
    let registry = Registry::nbs2023();
    let found = issues_by_record(tmp.path())?;

    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2021, 6, 30).map_err(|e| xerr(out, e))?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&fixed)
            .set_title("抽样核查表 sampled check"),
    );
    let bold = Format::new().set_bold();
    let mut report = SampleReport {
        region_code: facts.region_code.clone(),
        region_name: facts.region_name.clone(),
        rate,
        seed,
        strata: Vec::new(),
        records: BTreeMap::new(),
    };
    let about = wb.add_worksheet();
    about.set_name(ABOUT_SHEET).map_err(|e| xerr(out, e))?;
    let mut sheets: Vec<(String, Vec<Vec<String>>)> = Vec::new();
    for (table, _) in query::tables(tmp.path())? {
        if NOT_RECORDS.contains(&table.as_str()) {
            continue;
        }
        let Some(schema) = schemas.table(&table) else {
            continue;
        };
        let df = query::read_table(tmp.path(), &table)?;
        if df.height() == 0 || df.column("source_row").is_err() {
            continue;
        }
        let names = column_names(schema);
        let files = text(&df, "source_file")?;
        let rows = text(&df, "source_row")?;
        let units = text(&df, "unit_code")?;
        let mut fields: Vec<(String, Vec<String>, bool)> = Vec::new();
        for (f, col) in schema.fields.iter().zip(&names) {
            if df.column(col).is_ok() {
                fields.push((
                    format!("{}({})", f.name_zh, f.code),
                    text(&df, col)?,
                    f.required,
                ));
            }
        }
        // Strata in township order; records in each by file and row, so the draw does not depend
        // on the order the package's parts were read in.
        let mut strata: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, u) in units.iter().enumerate() {
            strata.entry(u.as_str()).or_default().push(i);
        }
        let mut out_rows = Vec::new();
        for (town, mut members) in strata {
            members.sort_by(|&a, &b| {
                (files[a].as_str(), rows[a].parse::<u64>().unwrap_or(0))
                    .cmp(&(files[b].as_str(), rows[b].parse::<u64>().unwrap_or(0)))
            });
            let k = sample_size(members.len(), rate);
            report.strata.push(Stratum {
                table: table.clone(),
                township_code: town.to_owned(),
                records: members.len(),
                sampled: k,
            });
            let name = registry
                .get(town)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            for j in draw(members.len(), k, stratum_seed(seed, &table, town)) {
                let i = members[j];
                let indicators = fields
                    .iter()
                    .filter(|(_, v, required)| *required || !v[i].is_empty())
                    .count();
                let issues = found
                    .get(&(table.clone(), files[i].clone(), rows[i].clone()))
                    .map(|v| v.join("；"))
                    .unwrap_or_default();
                let mut cells = vec![
                    town.to_owned(),
                    name.clone(),
                    files[i].clone(),
                    rows[i].clone(),
                    indicators.to_string(),
                    issues,
                    String::new(),
                    String::new(),
                ];
                cells.extend(fields.iter().map(|(_, v, _)| v[i].clone()));
                report
                    .records
                    .entry(table.clone())
                    .or_default()
                    .push(format!("{}:{}", files[i], rows[i]));
                out_rows.push(cells);
            }
        }
        let mut header: Vec<String> = FIXED_HEADERS.iter().map(|s| (*s).to_owned()).collect();
        header.extend(fields.into_iter().map(|(h, _, _)| h));
        let mut all = vec![header];
        all.extend(out_rows);
        sheets.push((table, all));
    }
    write_about(about, &report, facts.pass_threshold, package, &bold).map_err(|e| xerr(out, e))?;
    for (table, rows) in &sheets {
        let ws = wb.add_worksheet();
        ws.set_name(table).map_err(|e| xerr(out, e))?;
        for (r, cells) in rows.iter().enumerate() {
            for (c, v) in cells.iter().enumerate() {
                if r == 0 {
                    ws.write_string_with_format(0, c as u16, v, &bold)
                } else if c == 3 || c == 4 {
                    ws.write_number(r as u32, c as u16, v.parse::<f64>().unwrap_or(0.0))
                } else if v.is_empty() {
                    continue;
                } else {
                    ws.write_string(r as u32, c as u16, v)
                }
                .map_err(|e| xerr(out, e))?;
            }
        }
        ws.set_freeze_panes(1, 4).map_err(|e| xerr(out, e))?;
        ws.set_column_width(5, 40).map_err(|e| xerr(out, e))?;
        ws.set_column_width(WRONG_COLUMN as u16, 30)
            .map_err(|e| xerr(out, e))?;
    }
    let tmp_out = out.with_file_name(format!(
        ".{}.tmp-{}",
        out.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sample.xlsx"),
        std::process::id()
    ));
    wb.save(&tmp_out).map_err(|e| xerr(out, e))?;
    std::fs::rename(&tmp_out, out).map_err(|e| invalid(out, e.to_string(), "check the folder"))?;
    Ok(report)
}

/// The 抽样说明 sheet: what was sampled from which package, with the threshold `score` judges by.
fn write_about(
    ws: &mut Worksheet,
    report: &SampleReport,
    threshold: f64,
    package: &Path,
    bold: &Format,
) -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
    let package_name = package
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lines: [(&str, String); 6] = [
        ("数据包", package_name),
        ("行政区代码", report.region_code.clone()),
        ("行政区名称", report.region_name.clone()),
        ("抽样比例", report.rate.to_string()),
        ("随机种子", report.seed.to_string()),
        ("差错率阈值", threshold.to_string()),
    ];
    for (r, (k, v)) in lines.iter().enumerate() {
        ws.write_string_with_format(r as u32, 0, *k, bold)?;
        ws.write_string(r as u32, 1, v)?;
    }
    let r0 = lines.len() as u32 + 1;
    ws.write_string(
        r0,
        0,
        "每张表一页；按表和乡镇分层抽样（每层按比例向上取整，至少 1 条）。核查人在“错误指标”列填写该记录中错误的字段名称（与表头一致，以、分隔），用 riskcensus review score 计算差错率。",
    )?;
    for (c, h) in ["表", "乡镇代码", "记录数", "抽样数"].iter().enumerate() {
        ws.write_string_with_format(r0 + 2, c as u16, *h, bold)?;
    }
    for (k, s) in report.strata.iter().enumerate() {
        let r = r0 + 3 + k as u32;
        ws.write_string(r, 0, &s.table)?;
        ws.write_string(r, 1, &s.township_code)?;
        ws.write_number(r, 2, s.records as f64)?;
        ws.write_number(r, 3, s.sampled as f64)?;
    }
    ws.set_column_width(0, 14)?;
    ws.set_column_width(1, 40)?;
    Ok(())
}

fn xerr(path: &Path, e: rust_xlsxwriter::XlsxError) -> super::Error {
    invalid(path, e.to_string(), "check the folder is writable")
}

/// The issues QC found, per (table, source file, source row), as `rule：message`.
fn issues_by_record(dir: &Path) -> Result<BTreeMap<(String, String, String), Vec<String>>> {
    let mut out: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    let Ok(df) = query::read_table(dir, "issues") else {
        return Ok(out);
    };
    if df.height() == 0 {
        return Ok(out);
    }
    let (t, f, r, rule, m) = (
        text(&df, "table")?,
        text(&df, "source_file")?,
        text(&df, "source_row")?,
        text(&df, "rule")?,
        text(&df, "message_zh")?,
    );
    for i in 0..df.height() {
        out.entry((t[i].clone(), f[i].clone(), r[i].clone()))
            .or_default()
            .push(format!("{}：{}", rule[i], m[i]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stratum_gets_at_least_one_and_the_rate_rounds_up() {
        assert_eq!(sample_size(0, 0.1), 0);
        assert_eq!(sample_size(1, 0.1), 1);
        assert_eq!(sample_size(9, 0.1), 1);
        assert_eq!(sample_size(11, 0.1), 2);
        assert_eq!(sample_size(100, 0.1), 10);
        assert_eq!(sample_size(5, 1.0), 5);
    }

    #[test]
    fn a_draw_is_fixed_by_its_seed_and_has_no_repeats() {
        let a = draw(1000, 100, 7);
        assert_eq!(a, draw(1000, 100, 7));
        assert_ne!(a, draw(1000, 100, 8));
        let mut b = a.clone();
        b.dedup();
        assert_eq!(b.len(), 100);
        assert!(a.iter().all(|&i| i < 1000));
        assert_ne!(
            stratum_seed(7, "fwjz", "530402001"),
            stratum_seed(7, "fwjz", "530402002")
        );
    }
}
