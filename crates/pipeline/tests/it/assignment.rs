//! Where records went is visible where analysts look: every published record carries its unit and
//! how it was found, and a record that falls in no unit is an issue naming the nearest one.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use polars::prelude::*;
use riskcensus_pipeline::Run;
use riskcensus_spatial::UnitIndex;
use riskcensus_spatial::gcj02::wgs84_to_gcj02;
use riskcensus_synth::BuildingGeometry;

use super::generate;

/// The schools of a generated county as a CSV without the township-code column, as a web-map POI
/// table arrives; `edit` may move a school (by 0-based data row) before it is written.
fn schools_without_codes(dir: &Path, mut edit: impl FnMut(usize, &mut f64, &mut f64)) -> usize {
    let mut wb = open_workbook_auto(dir.join("czt_xx.xlsx")).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::Float(v) => v.to_string(),
                    Data::Int(v) => v.to_string(),
                    // Excel serial days → ISO date, as a CSV export writes it.
                    Data::DateTime(dt) => {
                        riskcensus_qc::coerce::civil_from_days(dt.as_f64() as i32 - 25_569)
                    }
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let header = rows
        .iter()
        .position(|r| r.iter().any(|c| c == "经度"))
        .expect("a header row with 经度");
    let names = &rows[header];
    let code = names
        .iter()
        .position(|c| c.starts_with("乡镇") && c.contains("代码"))
        .expect("a township code column");
    let (lon, lat) = (
        names.iter().position(|c| c == "经度").unwrap(),
        names.iter().position(|c| c == "纬度").unwrap(),
    );
    let mut w = csv::Writer::from_path(dir.join("schools_poi.csv")).unwrap();
    let keep = |r: &Vec<String>| -> Vec<String> {
        r.iter()
            .enumerate()
            .filter(|(k, _)| *k != code)
            .map(|(_, c)| c.clone())
            .collect()
    };
    w.write_record(keep(names)).unwrap();
    let mut n = 0;
    for (k, r) in rows[header + 1..].iter().enumerate() {
        let mut r = r.clone();
        if let (Ok(mut x), Ok(mut y)) = (r[lon].parse::<f64>(), r[lat].parse::<f64>()) {
            edit(k, &mut x, &mut y);
            r[lon] = x.to_string();
            r[lat] = y.to_string();
        }
        w.write_record(keep(&r)).unwrap();
        n += 1;
    }
    w.flush().unwrap();
    n
}

/// A pipeline reading the POI table, with the school schema's township code made optional.
fn poi_pipeline(dir: &Path) -> Run {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/tables/czt_xx.toml"),
    )
    .unwrap();
    let field = "code = \"xzqdm\"";
    let at = shipped.find(field).expect("czt_xx has xzqdm");
    let rest = &shipped[at..];
    let req = rest.find("required = true").unwrap();
    let edited = format!(
        "{}{}required = false{}",
        &shipped[..at],
        &rest[..req],
        &rest[req + "required = true".len()..]
    );
    std::fs::create_dir_all(dir.join("poi_schemas/tables")).unwrap();
    std::fs::write(dir.join("poi_schemas/tables/czt_xx.toml"), edited).unwrap();
    let text = std::fs::read_to_string(dir.join("pipeline.toml"))
        .unwrap()
        .replace("path = \"czt_xx.xlsx\"", "path = \"schools_poi.csv\"")
        + "\n[schemas]\ndirs = [\"poi_schemas\"]\n";
    std::fs::write(dir.join("poi.toml"), text).unwrap();
    Run::load(&dir.join("poi.toml"), Some(&dir.join("out"))).unwrap()
}

fn published(out: &Path, table: &str) -> DataFrame {
    let mut parts = Vec::new();
    for e in std::fs::read_dir(out.join("parquet").join(table)).unwrap() {
        let p = e.unwrap().path().join("part-0.parquet");
        let f = std::fs::File::open(&p).unwrap();
        parts.push(ParquetReader::new(f).finish().unwrap());
    }
    let mut df = parts.remove(0);
    for p in parts {
        df.vstack_mut(&p).unwrap();
    }
    df
}

fn strings(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect()
}

#[test]
fn point_records_are_published_with_their_unit_and_how() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let n = schools_without_codes(d.path(), |_, _, _| {});
    let run = poi_pipeline(d.path());
    let report = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    let out = &report.out_dir;
    let summary = std::fs::read_to_string(out.join("qc/summary.json")).unwrap();
    assert!(out.join("parquet/czt_xx").is_dir(), "{summary}");
    let schools = published(out, "czt_xx");
    assert!(schools.height() > 0 && schools.height() <= n);
    let units = strings(&schools, "unit_code");
    let how = strings(&schools, "assigned_by");
    assert!(
        units
            .iter()
            .all(|u| u.as_deref().is_some_and(|u| u.len() == 9)),
        "{units:?}"
    );
    assert!(how.iter().all(|h| h.as_deref() == Some("point")), "{how:?}");
    // Buildings name their township: assigned by code.
    let buildings = published(out, "fwjz");
    let how = strings(&buildings, "assigned_by");
    assert!(how.iter().all(|h| h.as_deref() == Some("code")));
    assert!(strings(&buildings, "unit_code").iter().all(Option::is_some));
    // A query by unit finds every published school.
    let by_unit = riskcensus_pipeline::query::query(
        out,
        "SELECT unit_code, assigned_by FROM czt_xx WHERE unit_code IS NOT NULL",
    )
    .unwrap();
    assert_eq!(by_unit.height(), schools.height());
}

#[test]
fn a_point_in_no_unit_is_an_issue_naming_the_nearest_unit_and_a_gcj02_shift() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    // The township layer as the run will see it, to aim the moved schools.
    schools_without_codes(d.path(), |_, _, _| {});
    let run = poi_pipeline(d.path());
    let v = riskcensus_pipeline::validate(&run, &mut |_, _, _| {}).unwrap();
    let units = &v.results[0];
    let k = units
        .clean
        .fields
        .iter()
        .position(|f| f == "xzqdm")
        .unwrap();
    let index = UnitIndex::new(units.clean.rows.iter().filter_map(|r| {
        match riskcensus_spatial::parse_wkb(r.geometry.as_deref()?).ok()? {
            riskcensus_spatial::Geom::Polygon(mp) => {
                Some((r.values.at(k).as_str()?.to_owned(), mp))
            }
            _ => None,
        }
    }));
    let (min_x, _, max_x, _) = index.extent().unwrap();
    // School 0: 0.5° east of the county. School 1: a point on the county's edge shifted to GCJ-02
    // (as a web map gives it), found by walking from the school along the shift until outside.
    let mut far = None;
    let mut shifted = None;
    schools_without_codes(d.path(), |row, x, y| {
        if row == 0 {
            *x = max_x + 0.5;
            far = Some((*x, *y));
        } else if row == 1 {
            let (gx, gy) = wgs84_to_gcj02(*x, *y);
            let (dx, dy) = (gx - *x, gy - *y);
            let step = 0.05 / (dx * dx + dy * dy).sqrt() * 0.001;
            let (mut px, mut py) = (*x, *y);
            while index.locate(px + dx * step, py + dy * step).is_some()
                && px < max_x + 1.0
                && px > min_x - 1.0
            {
                px += dx * step;
                py += dy * step;
            }
            let (ox, oy) = wgs84_to_gcj02(px, py);
            if index.locate(ox, oy).is_none() {
                *x = ox;
                *y = oy;
                shifted = Some((ox, oy));
            }
        }
    });
    let shifted = shifted.expect("the walk reaches the county edge");
    let run = poi_pipeline(d.path());
    let v = riskcensus_pipeline::validate(&run, &mut |_, _, _| {}).unwrap();
    let schools = v.results.iter().find(|r| r.table == "czt_xx").unwrap();
    let outside: Vec<_> = schools
        .issues
        .iter()
        .filter(|i| i.rule == "point_outside_units")
        .collect();
    assert_eq!(outside.len(), 2, "{outside:#?}");
    let (fx, _) = far.unwrap();
    let far_issue = outside
        .iter()
        .find(|i| i.value.starts_with(&format!("{fx}")[..6]))
        .unwrap();
    assert!(
        far_issue.message_en.contains("the nearest unit is 530402"),
        "{}",
        far_issue.message_en
    );
    assert!(
        far_issue.message_zh.contains("最近的单元为"),
        "{}",
        far_issue.message_zh
    );
    assert!(
        !far_issue.message_en.contains("GCJ-02"),
        "{}",
        far_issue.message_en
    );
    let gcj = outside
        .iter()
        .find(|i| !std::ptr::eq(*i, far_issue))
        .unwrap();
    assert!(
        gcj.message_en
            .contains("corrected from GCJ-02 it falls in 530402"),
        "{} at {shifted:?}",
        gcj.message_en
    );
    assert!(gcj.message_zh.contains("火星坐标"), "{}", gcj.message_zh);
    // Rejected, so nothing unassigned is published, and rows are conserved.
    assert_eq!(
        schools.rows_read,
        schools.rows_clean + schools.rows_rejected
    );
    let s = riskcensus_pipeline::join_and_score(&run, &v).unwrap();
    assert_eq!(
        s.assignments["czt_xx"].unassigned, 0,
        "{:?}",
        s.assignments["czt_xx"]
    );
}

/// The generated county's outline as a one-unit county layer carrying `code`, via GDAL's ogr2ogr.
fn county_layer(dir: &Path, code: &str) {
    let status = std::process::Command::new("ogr2ogr")
        .args(["-f", "ESRI Shapefile", "-lco", "ENCODING=CP936", "-overwrite"])
        .args(["-dialect", "SQLite", "-sql"])
        .arg(format!(
            "SELECT ST_Union(geometry) AS geometry, '{code}' AS xzqdm, '红塔区' AS xzqmc FROM xzqh_xz"
        ))
        .arg(dir.join("county.shp"))
        .arg(dir.join("xzqh_xz.shp"))
        .status()
        .unwrap();
    assert!(status.success(), "ogr2ogr");
}

fn unit_rules(dir: &Path) -> Vec<(&'static str, String)> {
    let text = std::fs::read_to_string(dir.join("pipeline.toml"))
        .unwrap()
        .replace(
            "table = \"xzqh_xz\"\npath = \"xzqh_xz.shp\"",
            "table = \"xzqh_xj\"\npath = \"county.shp\"",
        );
    std::fs::write(dir.join("county.toml"), text).unwrap();
    let run = Run::load(&dir.join("county.toml"), Some(&dir.join("out"))).unwrap();
    let v = riskcensus_pipeline::validate(&run, &mut |_, _, _| {}).unwrap();
    v.results[0]
        .issues
        .iter()
        .map(|i| (i.rule, i.message_en.clone()))
        .collect()
}

#[test]
fn unit_layer_codes_of_another_edition_or_retired_are_issues_on_the_unit_rows() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    generate(dir, 1_000, BuildingGeometry::None);
    // A county layer as a city run uses it: its code is in the edition, no issue.
    county_layer(dir, "530402");
    assert!(unit_rules(dir).is_empty(), "{:?}", unit_rules(dir));
    // A code no edition of the list has (a typo, or a pre-merger code).
    county_layer(dir, "530499");
    let rules = unit_rules(dir);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].0, "unknown_unit_code");
    assert!(rules[0].1.contains("530499"), "{}", rules[0].1);
    // A code the office's division_changes.csv retired.
    county_layer(dir, "530402");
    let changes = std::fs::read_to_string(dir.join("division_changes.csv")).unwrap();
    std::fs::write(
        dir.join("division_changes.csv"),
        format!("{}\n530402,530403,红塔区,merged\n", changes.trim_end()),
    )
    .unwrap();
    // The unit is graded under its successor (a warning naming the change), not rejected: records
    // coded with the successor must find it.
    let rules = unit_rules(dir);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].0, "unit_code_retired");
    assert!(
        rules[0].1.contains("530402 became 530403") && rules[0].1.contains("graded as 530403"),
        "{}",
        rules[0].1
    );
    // Retired in favour of a code the edition does not have: nothing to grade it under.
    std::fs::write(
        dir.join("division_changes.csv"),
        format!("{}\n530402,530499,,merged\n", changes.trim_end()),
    )
    .unwrap();
    let rules = unit_rules(dir);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].0, "retired_unit_code");
    assert!(rules[0].1.contains("it is now 530499"), "{}", rules[0].1);
}
