//! What 差错率 counts and when a table fails: indicators are the fields a file has (or owes) per
//! record; a table whose records are rejected beyond `[qc] max_rejected_share`, or all of them,
//! fails whatever its 差错率, and the report says why. Footprint layers without lon/lat columns are
//! located (and checked) by a point inside each footprint.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use gdal::vector::{Feature, FieldDefn, Geometry, LayerAccess, LayerOptions, OGRwkbGeometryType};
use riskcensus_pipeline::{Run, validate};
use riskcensus_spatial::gcj02::wgs84_to_gcj02;
use riskcensus_synth::{BuildingGeometry, Options};

/// A generated county without injected defects: every failure in these tests is one made here.
fn clean_county(dir: &Path, geometry: BuildingGeometry) {
    let mut o = Options::new("530402", dir);
    o.buildings = 1_000;
    o.seed = 11;
    o.defect_rate = 0.0;
    o.building_geometry = geometry;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
}

/// The township population table as an office re-saves it: header and data rows as text.
fn population(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut wb = open_workbook_auto(dir.join("xzjd_rkjj.xlsx")).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::Float(v) => v.to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let header = rows
        .iter()
        .position(|r| r.first().is_some_and(|c| c == "乡镇（街道）代码"))
        .expect("the header row");
    (rows[header].clone(), rows[header + 1..].to_vec())
}

/// Writes the population table as a UTF-8 csv without the columns named in `drop`.
fn write_population(path: &Path, header: &[String], rows: &[Vec<String>], drop: &[&str]) {
    let keep: Vec<usize> = (0..header.len())
        .filter(|&k| !drop.contains(&header[k].as_str()))
        .collect();
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(keep.iter().map(|&k| &header[k])).unwrap();
    for r in rows {
        w.write_record(keep.iter().map(|&k| &r[k])).unwrap();
    }
    w.flush().unwrap();
}

/// A pipeline reading `csv` for the population table, with its own `[qc]` lines.
fn pipeline_with(dir: &Path, name: &str, csv: &str, qc: &str) -> Run {
    let text = std::fs::read_to_string(dir.join("pipeline.toml"))
        .unwrap()
        .replace("path = \"xzjd_rkjj.xlsx\"", &format!("path = \"{csv}\""))
        .replace("pass_threshold = 0.05", qc);
    std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    Run::load(
        &dir.join(format!("{name}.toml")),
        Some(&dir.join(format!("out_{name}"))),
    )
    .unwrap()
}

fn summary(run: &Run) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.out_dir.join("qc/summary.json")).unwrap()).unwrap()
}

fn table<'a>(s: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    s["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == code)
        .unwrap()
}

/// The 汇总 row of a table, as text cells.
fn summary_row(run: &Run, code: &str) -> (Vec<String>, Vec<String>) {
    let mut wb = open_workbook_auto(run.out_dir.join("qc/report.xlsx")).unwrap();
    let sheet = wb.worksheet_range("汇总").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let row = rows.iter().find(|r| r[0] == code).unwrap().clone();
    (rows[3].clone(), row)
}

/// Breaks the 常住人口 (a required number) of the first `n` rows: each such record is rejected.
fn break_population(header: &[String], rows: &mut [Vec<String>], n: usize) {
    let k = header.iter().position(|h| h == "常住人口（人）").unwrap();
    for r in rows.iter_mut().take(n) {
        r[k] = "不详".into();
    }
}

#[test]
fn a_table_with_every_record_rejected_fails_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    clean_county(d.path(), BuildingGeometry::None);
    let (header, mut rows) = population(d.path());
    let n = rows.len();
    break_population(&header, &mut rows, n);
    write_population(&d.path().join("all_bad.csv"), &header, &rows, &[]);
    // Limits so loose that only "every record rejected" can fail the table.
    let run = pipeline_with(
        d.path(),
        "all_bad",
        "all_bad.csv",
        "pass_threshold = 0.5\nmax_rejected_share = 1.0",
    );
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    assert!(!v.summary.passed);
    let s = summary(&run);
    let t = table(&s, "xzjd_rkjj");
    assert_eq!(t["rows_rejected"].as_u64().unwrap(), n as u64);
    // One wrong indicator of twelve per record: 8.33%, under the 50% threshold.
    assert_eq!(t["indicators_checked"].as_u64().unwrap(), 12 * n as u64);
    assert_eq!(t["errors"].as_u64().unwrap(), n as u64);
    assert!(t["error_rate"].as_f64().unwrap() < 0.5);
    assert_eq!(t["passed"], false);
    assert_eq!(
        t["fail_reasons"],
        serde_json::json!(["all_records_rejected"])
    );
    assert_eq!(t["rejected_share"].as_f64().unwrap(), 1.0);
    // Every township of the table fails too: its one record was rejected.
    let towns: Vec<&serde_json::Value> = s["townships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["table"] == "xzjd_rkjj")
        .collect();
    assert!(!towns.is_empty());
    for x in towns {
        assert_eq!(
            x["fail_reasons"],
            serde_json::json!(["all_records_rejected"])
        );
    }
    let (head, row) = summary_row(&run, "xzjd_rkjj");
    let c = head.iter().position(|h| h == "不通过原因").unwrap();
    assert_eq!(row[c], "全部记录被退回");
    assert_eq!(
        row[head.iter().position(|h| h == "是否通过").unwrap()],
        "不通过"
    );
    // The other tables are untouched and pass.
    assert_eq!(table(&s, "fwjz")["fail_reasons"], serde_json::json!([]));
    // The definitions travel with the report.
    let mut wb = open_workbook_auto(run.out_dir.join("qc/report.xlsx")).unwrap();
    let notes = wb.worksheet_range("说明").unwrap();
    let text: Vec<String> = notes.rows().map(|r| r[0].to_string()).collect();
    assert!(
        text.iter()
            .any(|l| l.contains("检查指标数") && l.contains("必填"))
    );
    assert!(text.iter().any(|l| l.contains("全部记录被退回")));
}

#[test]
fn a_file_without_an_optional_column_checks_fewer_indicators() {
    let d = tempfile::tempdir().unwrap();
    clean_county(d.path(), BuildingGeometry::None);
    let (header, rows) = population(d.path());
    let n = rows.len() as u64;
    assert_eq!(header.len(), 12, "the generated table has every field");
    write_population(&d.path().join("full.csv"), &header, &rows, &[]);
    // 年末总户数 and 统计年度 are optional; 常住人口 is required and stays.
    write_population(
        &d.path().join("fewer.csv"),
        &header,
        &rows,
        &["年末总户数（户）", "统计年度"],
    );
    let qc = "pass_threshold = 0.05";
    let full = pipeline_with(d.path(), "full", "full.csv", qc);
    let fewer = pipeline_with(d.path(), "fewer", "fewer.csv", qc);
    validate(&full, &mut |_, _, _| {}).unwrap();
    validate(&fewer, &mut |_, _, _| {}).unwrap();
    let (sf, sw) = (summary(&full), summary(&fewer));
    assert_eq!(table(&sf, "xzjd_rkjj")["rows_read"].as_u64().unwrap(), n);
    assert_eq!(
        table(&sf, "xzjd_rkjj")["indicators_checked"]
            .as_u64()
            .unwrap(),
        12 * n
    );
    assert_eq!(
        table(&sw, "xzjd_rkjj")["indicators_checked"]
            .as_u64()
            .unwrap(),
        10 * n
    );
    // Per township: one record each, twelve or ten indicators.
    for (s, per) in [(&sf, 12), (&sw, 10)] {
        for x in s["townships"].as_array().unwrap() {
            if x["table"] == "xzjd_rkjj" {
                assert_eq!(
                    x["indicators_checked"].as_u64().unwrap(),
                    per * x["records"].as_u64().unwrap()
                );
            }
        }
    }

    // Without a required column the file is refused before QC, naming the field.
    write_population(
        &d.path().join("no_pop.csv"),
        &header,
        &rows,
        &["常住人口（人）"],
    );
    let no_pop = pipeline_with(d.path(), "no_pop", "no_pop.csv", qc);
    let err = match validate(&no_pop, &mut |_, _, _| {}) {
        Ok(_) => panic!("a file without a required column must not pass"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("czrk"), "{err}");
}

#[test]
fn max_rejected_share_fails_a_table_just_above_the_boundary() {
    let d = tempfile::tempdir().unwrap();
    clean_county(d.path(), BuildingGeometry::None);
    let (header, all) = population(d.path());
    assert!(all.len() >= 10);
    let rows = &all[..10];
    // 2 of 10 rejected: a share of exactly 0.2 passes a 0.2 limit; 3 of 10 fails it.
    let mut verdicts = Vec::new();
    for bad in [2usize, 3] {
        let mut rows = rows.to_vec();
        break_population(&header, &mut rows, bad);
        let csv = format!("bad{bad}.csv");
        write_population(&d.path().join(&csv), &header, &rows, &[]);
        let run = pipeline_with(
            d.path(),
            &format!("bad{bad}"),
            &csv,
            "pass_threshold = 1.0\nmax_rejected_share = 0.2",
        );
        validate(&run, &mut |_, _, _| {}).unwrap();
        let s = summary(&run);
        let t = table(&s, "xzjd_rkjj").clone();
        assert_eq!(t["rows_read"].as_u64().unwrap(), 10);
        assert_eq!(t["rows_rejected"].as_u64().unwrap(), bad as u64);
        assert_eq!(t["rejected_share"].as_f64().unwrap(), bad as f64 / 10.0);
        assert_eq!(s["max_rejected_share"].as_f64().unwrap(), 0.2);
        verdicts.push((t["passed"].clone(), t["fail_reasons"].clone()));
    }
    assert_eq!(
        verdicts,
        vec![
            (serde_json::json!(true), serde_json::json!([])),
            (
                serde_json::json!(false),
                serde_json::json!(["rejected_share_over_limit"])
            ),
        ]
    );
}

/// The generated footprints as a layer without lon/lat columns (as building footprints come from a
/// mapping agency); `edit` may replace feature `k`'s footprint.
fn footprints_only(dir: &Path, mut edit: impl FnMut(usize, &Geometry) -> Option<Geometry>) {
    let src = gdal::Dataset::open(dir.join("fwjz.shp")).unwrap();
    let mut layer = src.layer(0).unwrap();
    let srs = layer.spatial_ref().unwrap();
    let fields: Vec<(String, u32, i32)> = layer
        .defn()
        .fields()
        .map(|f| (f.name(), f.field_type(), f.width()))
        .filter(|(n, _, _)| n != "lon" && n != "lat")
        .collect();
    let driver = gdal::DriverManager::get_driver_by_name("ESRI Shapefile").unwrap();
    let mut ds = driver
        .create_vector_only(dir.join("footprints.shp"))
        .unwrap();
    let out = ds
        .create_layer(LayerOptions {
            name: "footprints",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: Some(&["ENCODING=UTF-8"]),
        })
        .unwrap();
    for (name, ty, width) in &fields {
        let f = FieldDefn::new(name, *ty).unwrap();
        f.set_width(*width);
        f.add_to_layer(&out).unwrap();
    }
    for (k, f) in layer.features().enumerate() {
        let mut g = Feature::new(out.defn()).unwrap();
        for (i, (name, _, _)) in fields.iter().enumerate() {
            let from = f.field_index(name).unwrap();
            if let Some(v) = f.field(from).unwrap() {
                g.set_field(i, &v).unwrap();
            }
        }
        let shape = f.geometry().unwrap();
        g.set_geometry(edit(k, shape).unwrap_or_else(|| shape.clone()))
            .unwrap();
        g.create(&out).unwrap();
    }
}

/// The vertices of a footprint's outer ring.
fn ring(shape: &Geometry) -> Vec<(f64, f64, f64)> {
    let mut points = Vec::new();
    shape.get_geometry(0).get_points(&mut points);
    points
}

/// The footprint moved so that its first vertex lands on `to`.
fn moved(shape: &Geometry, to: (f64, f64)) -> Geometry {
    let ring = ring(shape);
    let (dx, dy) = (to.0 - ring[0].0, to.1 - ring[0].1);
    polygon(ring.iter().map(|p| (p.0 + dx, p.1 + dy)))
}

fn polygon(ring: impl Iterator<Item = (f64, f64)>) -> Geometry {
    let coords: Vec<String> = ring.map(|(x, y)| format!("{x} {y}")).collect();
    Geometry::from_wkt(&format!("POLYGON(({}))", coords.join(", "))).unwrap()
}

/// A U-shaped footprint (40 m across) at `at`, and its centroid: a 4×4 square (area 16, centroid
/// y 2) less a 2×3 notch (area 6, centroid y 2.5) has area 10 and centroid (2, 1.7), in the notch.
fn u_shape(at: (f64, f64)) -> (Geometry, (f64, f64)) {
    let s = 0.0001;
    let (x0, y0) = (at.0 - 2.0 * s, at.1 - 2.0 * s);
    let u = [
        (0., 0.),
        (4., 0.),
        (4., 4.),
        (3., 4.),
        (3., 1.),
        (1., 1.),
        (1., 4.),
        (0., 4.),
        (0., 0.),
    ];
    (
        polygon(u.iter().map(|(x, y)| (x0 + x * s, y0 + y * s))),
        (x0 + 2.0 * s, y0 + 1.7 * s),
    )
}

fn point(p: (f64, f64)) -> Geometry {
    Geometry::from_wkt(&format!("POINT({} {})", p.0, p.1)).unwrap()
}

fn text_field(f: &Feature<'_>, name: &str) -> String {
    f.field_as_string(f.field_index(name).unwrap())
        .unwrap()
        .unwrap()
}

#[test]
fn a_footprint_only_layer_is_located_and_checked_by_a_point_inside_each_footprint() {
    let d = tempfile::tempdir().unwrap();
    clean_county(d.path(), BuildingGeometry::Footprint);
    // A point well inside another township than building 0's, and one east of the county.
    let units = gdal::Dataset::open(d.path().join("xzqh_xz.shp")).unwrap();
    let mut towns: Vec<(String, Vec<u8>)> = units
        .layer(0)
        .unwrap()
        .features()
        .map(|f| {
            (
                text_field(&f, "xzqdm"),
                f.geometry().unwrap().wkb().unwrap(),
            )
        })
        .collect();
    towns.sort();
    let inside = |wkb: &[u8]| {
        riskcensus_spatial::representative_point(&riskcensus_spatial::parse_wkb(wkb).unwrap())
            .unwrap()
    };
    let src = gdal::Dataset::open(d.path().join("fwjz.shp")).unwrap();
    let first: Vec<(String, String)> = src
        .layer(0)
        .unwrap()
        .features()
        .take(4)
        .map(|f| (text_field(&f, "fwbh"), text_field(&f, "xzqdm")))
        .collect();
    drop(src);
    let elsewhere = towns.iter().find(|t| t.0 != first[0].1).unwrap();
    let target = inside(&elsewhere.1);
    let east = towns
        .iter()
        .map(|t| {
            let g = Geometry::from_wkb(&t.1).unwrap();
            g.envelope().MaxX
        })
        .fold(f64::MIN, f64::max)
        + 0.5;
    // Building 3 as a web map gives it: a spot of its township, shifted to GCJ-02 out of it.
    let index = riskcensus_spatial::UnitIndex::new(towns.iter().map(|(code, wkb)| {
        match riskcensus_spatial::parse_wkb(wkb).unwrap() {
            riskcensus_spatial::Geom::Polygon(mp) => (code.clone(), mp),
            other => panic!("a township is a polygon, not {other:?}"),
        }
    }));
    let own = first[3].1.clone();
    let mut shifted = None;
    let mut u = None;
    footprints_only(d.path(), |k, shape| match k {
        0 => Some(moved(shape, target)),
        1 => {
            let p = ring(shape)[0];
            Some(moved(shape, (east, p.1)))
        }
        2 => {
            let r = ring(shape);
            let n = r.len() as f64;
            let at = (
                r.iter().map(|p| p.0).sum::<f64>() / n,
                r.iter().map(|p| p.1).sum::<f64>() / n,
            );
            let (g, centroid) = u_shape(at);
            u = Some((g.clone(), centroid));
            Some(g)
        }
        3 => {
            let r = ring(shape);
            let mut q = (r[0].0, r[0].1);
            let (gx, gy) = wgs84_to_gcj02(q.0, q.1);
            let (dx, dy) = (gx - q.0, gy - q.1);
            // Walk along the shift until the shifted spot leaves the township, then a third of a
            // shift on: the spot stays inside, its shifted copy lands well outside.
            while index.locate(q.0 + dx, q.1 + dy) == Some(own.as_str()) {
                q = (q.0 + dx / 50.0, q.1 + dy / 50.0);
            }
            q = (q.0 + dx / 3.0, q.1 + dy / 3.0);
            let g = wgs84_to_gcj02(q.0, q.1);
            let s = 0.00005;
            shifted = Some((q, g));
            Some(polygon(
                [(0., 0.), (1., 0.), (1., 1.), (0., 1.), (0., 0.)]
                    .iter()
                    .map(|(x, y)| (g.0 - s / 2.0 + x * s, g.1 - s / 2.0 + y * s)),
            ))
        }
        _ => None,
    });
    let (q, g) = shifted.unwrap();
    assert_eq!(index.locate(q.0, q.1), Some(own.as_str()), "the fixture");
    assert_ne!(index.locate(g.0, g.1), Some(own.as_str()), "the fixture");
    let (u, centroid) = u.unwrap();
    assert!(
        !u.contains(&point(centroid)),
        "the fixture: the U's centroid lies outside it"
    );

    let text = std::fs::read_to_string(d.path().join("pipeline.toml"))
        .unwrap()
        .replace("path = \"fwjz.xlsx\"", "path = \"footprints.shp\"");
    std::fs::write(d.path().join("footprints.toml"), text).unwrap();
    let run = Run::load(
        &d.path().join("footprints.toml"),
        Some(&d.path().join("out")),
    )
    .unwrap();
    let report = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    let out = &report.out_dir;

    // The point checks ran on each footprint's point: exactly the three moved buildings are rejected,
    // on their geometry.
    let mut issues = csv::Reader::from_path(out.join("qc/issues.csv")).unwrap();
    let rejected: Vec<(String, String, String)> = issues
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[0] == "fwjz" && &r[8] == "error")
        .map(|r| (r[3].to_owned(), r[5].to_owned(), r[7].to_owned()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (
                "1".into(),
                "geometry".into(),
                "point_outside_township".into()
            ),
            ("2".into(), "geometry".into(), "point_outside_county".into()),
            ("4".into(), "geometry".into(), "gcj02_offset".into()),
        ]
    );
    let s = summary(&run);
    let t = table(&s, "fwjz");
    assert_eq!(t["rows_read"].as_u64().unwrap(), 1_000);
    assert_eq!(t["rows_clean"].as_u64().unwrap(), 997);
    // lon and lat come from the geometry: they are indicators of every record.
    assert_eq!(t["indicators_checked"].as_u64().unwrap(), 1_000 * 18);

    // Every clean building is published, assigned by its footprint or its point, with both the
    // footprint and a lon/lat inside it.
    let df = riskcensus_pipeline::query::read_table(out, "fwjz").unwrap();
    assert_eq!(df.height(), 997);
    let how = df.column("assigned_by").unwrap().str().unwrap().clone();
    assert!(
        how.iter()
            .all(|h| matches!(h, Some("overlap") | Some("point"))),
        "{how:?}"
    );
    // Published columns are named by the schema's English names.
    let schema = run.schemas.table("fwjz").unwrap();
    let names = riskcensus_pipeline::column_names(schema);
    let col = |code: &str| names[schema.field_index(code).unwrap()].clone();
    let ids = df.column(&col("fwbh")).unwrap().str().unwrap().clone();
    let lon = df.column(&col("lon")).unwrap().f64().unwrap().clone();
    let lat = df.column(&col("lat")).unwrap().f64().unwrap().clone();
    let geom = df.column("geometry").unwrap().binary().unwrap().clone();
    for i in 0..df.height() {
        let g = Geometry::from_wkb(geom.get(i).unwrap()).unwrap();
        assert_eq!(g.geometry_type(), OGRwkbGeometryType::wkbPolygon);
        let p = point((lon.get(i).unwrap(), lat.get(i).unwrap()));
        assert!(g.contains(&p), "record {:?}", ids.get(i));
    }
    let k = ids
        .iter()
        .position(|x| x == Some(first[2].0.as_str()))
        .expect("the U-shaped building is published");
    let p = point((lon.get(k).unwrap(), lat.get(k).unwrap()));
    assert!(u.contains(&p), "the U's point lies inside it");
}
