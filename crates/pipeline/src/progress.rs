//! Survey progress (进度): per township and table, records surveyed against the records expected,
//! how many passed QC and the share done; the county's total as a percentage (the offices report
//! "整体进度 77.77%"); as a table, xlsx and json, and a map of the townships coloured by share done.
//!
//! Surveyed = records read for the township (QC's per-township figures); done = those that passed
//! QC; share = min(done, expected) ÷ expected. Totals add up min(done, expected) over the
//! townships and tables, so a township surveyed twice over does not hide one not started. Expected
//! counts come from a targets file (`township_code,table,expected`, or 乡镇代码,表,应调查数).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use geo::MultiPolygon;
use riskcensus_spatial::{Geom, parse_wkb};
use serde::Serialize;

use crate::{Error, Result, Run};

/// Colours of the map's classes of share done, least done first.
pub const CLASSES: &[(&str, f64, &str)] = &[
    ("未开展（0%）", 0.0, "#d7191c"),
    ("< 50%", 0.5, "#fdae61"),
    ("50%–80%", 0.8, "#ffffbf"),
    ("80%–<100%", 1.0, "#a6d96a"),
    ("已完成（100%）", f64::INFINITY, "#1a9641"),
];
/// Colour of a township with no expected records.
pub const NO_TARGET_COLOR: &str = "#cccccc";

/// A township's code, name and polygon, for the map.
pub type UnitShape = (String, String, MultiPolygon);

/// One township's progress on one table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Line {
    pub township_code: String,
    pub township_name: String,
    pub table: String,
    pub surveyed: u64,
    pub passed_qc: u64,
    pub expected: Option<u64>,
    /// min(passed_qc, expected) ÷ expected; `None` without a target.
    pub share_done: Option<f64>,
}

/// One township over its tables with targets.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Township {
    pub township_code: String,
    pub township_name: String,
    pub expected: u64,
    pub done: u64,
    pub share_done: Option<f64>,
}

/// Progress of a county (or any region).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Progress {
    pub region_code: String,
    pub region_name: String,
    pub reference_year: i32,
    pub lines: Vec<Line>,
    pub townships: Vec<Township>,
    /// Per table: (table, expected, done counted against targets, share).
    pub tables: Vec<(String, u64, u64, Option<f64>)>,
    pub expected: u64,
    pub done: u64,
    /// 整体进度: Σ min(done, expected) ÷ Σ expected.
    pub share_done: Option<f64>,
}

/// Per (township, table): records and rejected, with township names, from QC's summary.
struct Counted {
    region: (String, String, i32),
    /// (township code, table) → (name, records, rejected)
    cells: BTreeMap<(String, String), (String, u64, u64)>,
    /// Tables that are not survey records (see `skip_tables`).
    skip: Vec<String>,
    shapes: BTreeMap<String, (String, MultiPolygon)>,
}

fn counted_from_summary(
    summary: &serde_json::Value,
    path: &Path,
    shapes: BTreeMap<String, (String, MultiPolygon)>,
) -> Result<Counted> {
    let parse = |m: &str| Error::Parse {
        path: path.to_owned(),
        message: m.into(),
    };
    let townships = summary["townships"]
        .as_array()
        .ok_or_else(|| parse("qc/summary.json has no townships[]"))?;
    let mut cells = BTreeMap::new();
    for t in townships {
        let table = t["table"].as_str().unwrap_or("").to_owned();
        let code = t["township_code"].as_str().unwrap_or("").to_owned();
        let name = t["township_name"].as_str().unwrap_or("").to_owned();
        let n = |k: &str| t[k].as_u64().unwrap_or(0);
        cells.insert((code, table), (name, n("records"), n("rejected")));
    }
    Ok(Counted {
        region: (
            summary["region_code"].as_str().unwrap_or("").to_owned(),
            summary["region_name"].as_str().unwrap_or("").to_owned(),
            summary["reference_year"].as_i64().unwrap_or(2020) as i32,
        ),
        cells,
        skip: skip_tables(),
        shapes,
    })
}

/// Unit polygons and names from a published `unit_risk` table, if any.
fn shapes_from_unit_risk(dir: &Path) -> Result<BTreeMap<String, (String, MultiPolygon)>> {
    let has = crate::query::tables(dir)
        .map(|t| t.iter().any(|(n, _)| n == "unit_risk"))
        .unwrap_or(false);
    if !has {
        return Ok(BTreeMap::new());
    }
    let df = crate::query::read_table(dir, "unit_risk")?;
    let codes = crate::text_column(&df, "unit_code")?;
    let names = crate::text_column(&df, "unit_name")?;
    let geoms = df.column("geometry")?.binary()?.clone();
    let mut out = BTreeMap::new();
    for (k, g) in geoms.iter().enumerate() {
        if let Some(Ok(Geom::Polygon(p))) = g.map(parse_wkb) {
            out.insert(codes[k].clone(), (names[k].clone(), p));
        }
    }
    Ok(out)
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|source| Error::Input {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// QC's per-township counts from a pipeline (ingest and QC run now, writing `qc/`), an upload
/// package (verified) or a run's output directory.
fn counted(source: &Path) -> Result<Counted> {
    let is_toml = source.extension().is_some_and(|e| e == "toml");
    if is_toml {
        let run = Run::load(source, None)?;
        let v = crate::validate(&run, &mut |_, _, _| {})?;
        let summary = serde_json::to_value(&v.summary).map_err(|e| Error::Report(e.to_string()))?;
        let mut shapes = BTreeMap::new();
        if let Some(units) = v.results.first() {
            let code_k = units
                .clean
                .fields
                .iter()
                .position(|f| *f == run.units_code_field);
            let name_k = units
                .clean
                .fields
                .iter()
                .position(|f| *f == run.units_name_field);
            for r in &units.clean.rows {
                let (Some(code), Some(Ok(Geom::Polygon(p)))) = (
                    code_k.and_then(|k| r.values.get(k)?.as_str()),
                    r.geometry.as_deref().map(parse_wkb),
                ) else {
                    continue;
                };
                let name = name_k
                    .and_then(|k| r.values.get(k)?.as_str())
                    .unwrap_or("")
                    .to_owned();
                shapes.insert(code.to_owned(), (name, p));
            }
        }
        return counted_from_summary(&summary, source, shapes);
    }
    if source.is_file() {
        let tmp = tempfile::tempdir().map_err(|source_err| Error::Input {
            path: source.to_owned(),
            source: source_err,
        })?;
        crate::package::unpack(source, tmp.path(), &|n| {
            n == "qc/summary.json" || n.starts_with("parquet/unit_risk/")
        })
        .map_err(|problems| Error::Package {
            path: source.to_owned(),
            message: problems.into_iter().take(5).collect::<Vec<_>>().join("; "),
            hint: "`riskcensus verify` lists every problem".into(),
        })?;
        let summary = read_json(&tmp.path().join("qc/summary.json"))?;
        let shapes = shapes_from_unit_risk(tmp.path())?;
        return counted_from_summary(&summary, source, shapes);
    }
    let summary_path = source.join("qc").join("summary.json");
    if !summary_path.is_file() {
        return Err(Error::Invalid {
            path: source.to_owned(),
            message:
                "is not a pipeline file, a package, or an output directory with qc/summary.json"
                    .into(),
            hint: "give the county's pipeline.toml, its upload package, or its output directory"
                .into(),
        });
    }
    let summary = read_json(&summary_path)?;
    let shapes = shapes_from_unit_risk(source)?;
    counted_from_summary(&summary, source, shapes)
}

/// Tables that are not survey records: the polygon layers (the units, hazard zones), by the shipped
/// schemas, whatever the source (a pipeline, a package or a directory gives the same lines).
fn skip_tables() -> Vec<String> {
    riskcensus_schema::SchemaSet::builtin()
        .map(|set| {
            set.tables
                .values()
                .filter(|t| t.geometry == riskcensus_schema::GeometryKind::Polygon)
                .map(|t| t.code.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a targets file: `township_code,table,expected` (or 乡镇代码,表,应调查数), UTF-8.
pub fn read_targets(path: &Path) -> Result<BTreeMap<(String, String), u64>> {
    let bad = |line: u64, message: String| {
        Error::Invalid {
        path: path.to_owned(),
        message: format!("line {line}: {message}"),
        hint: "a targets file is CSV with the header township_code,table,expected (or 乡镇代码,表,应调查数) and one row per township and table".into(),
    }
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(0, e.to_string()))?;
    let headers = r.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let col = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.trim_start_matches('\u{feff}').trim()))
    };
    let (Some(tc), Some(tb), Some(te)) = (
        col(&["township_code", "乡镇代码"]),
        col(&["table", "表"]),
        col(&["expected", "应调查数"]),
    ) else {
        return Err(bad(
            1,
            format!("header is {:?}", headers.iter().collect::<Vec<_>>()),
        ));
    };
    let mut out = BTreeMap::new();
    for (k, rec) in r.records().enumerate() {
        let line = k as u64 + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        let get = |c: usize| rec.get(c).unwrap_or("").trim().to_owned();
        let expected: u64 = get(te).parse().map_err(|_| {
            bad(
                line,
                format!("expected {:?} is not a whole number", get(te)),
            )
        })?;
        if out.insert((get(tc), get(tb)), expected).is_some() {
            return Err(bad(
                line,
                format!("township {} and table {} are given twice", get(tc), get(tb)),
            ));
        }
    }
    Ok(out)
}

fn share(done: u64, expected: u64) -> Option<f64> {
    (expected > 0).then(|| done.min(expected) as f64 / expected as f64)
}

/// Computes progress from a pipeline, package or output directory and an optional targets file.
pub fn progress(source: &Path, targets: Option<&Path>) -> Result<(Progress, Vec<UnitShape>)> {
    let c = counted(source)?;
    let targets = match targets {
        Some(t) => read_targets(t)?,
        None => BTreeMap::new(),
    };
    let mut keys: Vec<(String, String)> = c
        .cells
        .keys()
        .filter(|(code, table)| {
            !code.is_empty() && !c.skip.contains(table) && !table.starts_with("hz_")
        })
        .cloned()
        .collect();
    for k in targets.keys() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys.sort();
    let name_of = |code: &str| -> String {
        c.cells
            .iter()
            .find(|((t, _), _)| t == code)
            .map(|(_, v)| v.0.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| c.shapes.get(code).map(|s| s.0.clone()))
            .or_else(|| {
                riskcensus_schema::Registry::nbs2023()
                    .get(code)
                    .map(|d| d.name.clone())
            })
            .unwrap_or_default()
    };
    let mut lines = Vec::new();
    for (code, table) in keys {
        let (_, records, rejected) = c
            .cells
            .get(&(code.clone(), table.clone()))
            .cloned()
            .unwrap_or_default();
        let expected = targets.get(&(code.clone(), table.clone())).copied();
        let passed = records - rejected.min(records);
        lines.push(Line {
            township_name: name_of(&code),
            township_code: code,
            table,
            surveyed: records,
            passed_qc: passed,
            expected,
            share_done: expected.and_then(|e| share(passed, e)),
        });
    }
    let mut per_town: BTreeMap<String, (String, u64, u64)> = BTreeMap::new();
    let mut per_table: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for l in &lines {
        let Some(e) = l.expected else { continue };
        let t = per_town
            .entry(l.township_code.clone())
            .or_insert_with(|| (l.township_name.clone(), 0, 0));
        t.1 += e;
        t.2 += l.passed_qc.min(e);
        let b = per_table.entry(l.table.clone()).or_default();
        b.0 += e;
        b.1 += l.passed_qc.min(e);
    }
    let townships: Vec<Township> = per_town
        .into_iter()
        .map(|(code, (name, e, d))| Township {
            township_code: code,
            township_name: name,
            expected: e,
            done: d,
            share_done: share(d, e),
        })
        .collect();
    let expected: u64 = townships.iter().map(|t| t.expected).sum();
    let done: u64 = townships.iter().map(|t| t.done).sum();
    let shapes = c
        .shapes
        .iter()
        .map(|(code, (name, p))| (code.clone(), name.clone(), p.clone()))
        .collect();
    Ok((
        Progress {
            region_code: c.region.0,
            region_name: c.region.1,
            reference_year: c.region.2,
            lines,
            townships,
            tables: per_table
                .into_iter()
                .map(|(t, (e, d))| (t, e, d, share(d, e)))
                .collect(),
            expected,
            done,
            share_done: share(done, expected),
        },
        shapes,
    ))
}

/// The class colour of a share done.
pub fn class_color(share: Option<f64>) -> &'static str {
    match share {
        None => NO_TARGET_COLOR,
        Some(s) if s <= 0.0 => CLASSES[0].2,
        Some(s) => CLASSES
            .iter()
            .skip(1)
            .find(|(_, upper, _)| s < *upper)
            .map_or(CLASSES[CLASSES.len() - 1].2, |c| c.2),
    }
}

fn pct(s: Option<f64>) -> String {
    s.map_or("-".into(), |s| format!("{:.2}%", s * 100.0))
}

/// Writes `progress.json`, `progress.xlsx` and the map (`progress_map.svg`, `.png`) into `out`.
pub fn write(p: &Progress, shapes: &[UnitShape], out: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let json_path = out.join("progress.json");
    let json = serde_json::to_vec_pretty(p).map_err(|e| Error::Report(e.to_string()))?;
    crate::write_atomic(&json_path, &json)?;
    written.push(json_path);
    let xlsx_path = out.join("progress.xlsx");
    let bytes = xlsx(p).map_err(|e| Error::Report(format!("{}: {e}", xlsx_path.display())))?;
    crate::write_atomic(&xlsx_path, &bytes)?;
    written.push(xlsx_path);
    if !shapes.is_empty() {
        let share_of: BTreeMap<&str, Option<f64>> = p
            .townships
            .iter()
            .map(|t| (t.township_code.as_str(), t.share_done))
            .collect();
        let colors: Vec<&str> = shapes
            .iter()
            .map(|(code, _, _)| class_color(share_of.get(code.as_str()).copied().flatten()))
            .collect();
        let units: Vec<crate::maps::MapUnit> = shapes
            .iter()
            .zip(&colors)
            .map(|((_, name, shape), color)| crate::maps::MapUnit { name, shape, color })
            .collect();
        let mut legend: Vec<(String, String, u64, String)> = CLASSES
            .iter()
            .map(|(label, _, color)| {
                let n = colors.iter().filter(|c| *c == color).count() as u64;
                ((*label).to_owned(), (*color).to_owned(), n, String::new())
            })
            .collect();
        let none = colors.iter().filter(|c| **c == NO_TARGET_COLOR).count() as u64;
        if none > 0 {
            legend.push((
                "无调查任务".into(),
                NO_TARGET_COLOR.into(),
                none,
                String::new(),
            ));
        }
        let title = format!("{}普查进度图", p.region_name);
        let subtitle = format!(
            "{}（{}）· 整体进度 {} · 普查标准时点 {} 年 12 月 31 日",
            p.region_name,
            p.region_code,
            pct(p.share_done),
            p.reference_year
        );
        let footer = format!(
            "坐标系：CGCS2000（EPSG:4490）  进度 = 通过质检的记录 ÷ 应调查记录（每乡镇每表不超过 100%）  制图：riskcensus {}",
            env!("CARGO_PKG_VERSION")
        );
        // Drawn as the risk maps are; only the legend's heading says what the colours are.
        let svg = crate::maps::svg(&title, &subtitle, &units, &[], &legend, &footer)
            .replace(">图例（风险等级）<", ">图例（完成率）<");
        let png = crate::maps::render_png(&svg)?;
        for (ext, bytes) in [("svg", svg.into_bytes()), ("png", png)] {
            let path = out.join(format!("progress_map.{ext}"));
            crate::write_atomic(&path, &bytes)?;
            written.push(path);
        }
    }
    Ok(written)
}

fn xlsx(p: &Progress) -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2021, 6, 30)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&fixed));
    let bold = Format::new().set_bold();
    let pct_fmt = Format::new().set_num_format("0.00%");
    {
        let ws = wb.add_worksheet();
        ws.set_name("进度")?;
        let h = [
            "乡镇代码",
            "乡镇名称",
            "表",
            "已调查",
            "通过质检",
            "应调查",
            "完成率",
        ];
        for (c, t) in h.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *t, &bold)?;
        }
        for (k, l) in p.lines.iter().enumerate() {
            let r = 1 + k as u32;
            ws.write_string(r, 0, &l.township_code)?;
            ws.write_string(r, 1, &l.township_name)?;
            ws.write_string(r, 2, &l.table)?;
            ws.write_number(r, 3, l.surveyed as f64)?;
            ws.write_number(r, 4, l.passed_qc as f64)?;
            if let Some(e) = l.expected {
                ws.write_number(r, 5, e as f64)?;
            }
            if let Some(s) = l.share_done {
                ws.write_number_with_format(r, 6, s, &pct_fmt)?;
            }
        }
        ws.set_freeze_panes(1, 0)?;
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("乡镇")?;
        for (c, t) in ["乡镇代码", "乡镇名称", "应调查", "已完成", "完成率"]
            .iter()
            .enumerate()
        {
            ws.write_string_with_format(0, c as u16, *t, &bold)?;
        }
        let mut r = 1;
        for t in &p.townships {
            ws.write_string(r, 0, &t.township_code)?;
            ws.write_string(r, 1, &t.township_name)?;
            ws.write_number(r, 2, t.expected as f64)?;
            ws.write_number(r, 3, t.done as f64)?;
            if let Some(s) = t.share_done {
                ws.write_number_with_format(r, 4, s, &pct_fmt)?;
            }
            r += 1;
        }
        ws.write_string_with_format(r, 0, &p.region_code, &bold)?;
        ws.write_string_with_format(r, 1, format!("{}（整体进度）", p.region_name), &bold)?;
        ws.write_number(r, 2, p.expected as f64)?;
        ws.write_number(r, 3, p.done as f64)?;
        if let Some(s) = p.share_done {
            ws.write_number_with_format(r, 4, s, &pct_fmt)?;
        }
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("说明")?;
        for (k, line) in [
            "已调查：该乡镇该表读入的记录数（质检的乡镇统计）。",
            "通过质检：已调查中未被退回的记录数。",
            "应调查：任务文件（township_code,table,expected）给出的记录数。",
            "完成率 = min(通过质检, 应调查) ÷ 应调查；乡镇与整体进度按各表 min(通过质检, 应调查) 之和 ÷ 应调查之和计算，某乡镇超额不抵其他乡镇的欠缺。",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(k as u32, 0, *line)?;
        }
    }
    wb.save_to_buffer()
}
