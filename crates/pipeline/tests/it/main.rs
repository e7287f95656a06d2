//! Ingest and QC on whole generated counties: QC finds exactly the injected defects, loses no row,
//! and reports the same figures in every output, whatever the thread count.

mod hostile;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use riskcensus_pipeline::{Run, maps, validate};
use riskcensus_synth::{BuildingGeometry, Options};

mod assignment;
mod batch;
mod census_rules;
mod changes;
mod columns;
mod diff;
mod levels;
mod progress;
mod qc_rate;
mod review;
mod template;

fn generate(dir: &Path, buildings: u64, geometry: BuildingGeometry) -> riskcensus_synth::Summary {
    let mut o = Options::new("530402", dir);
    o.buildings = buildings;
    o.seed = 7;
    o.building_geometry = geometry;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap()
}

type Key = (String, String, String, String); // (file, row, field, rule or defect)

fn truth(dir: &Path, files: &BTreeSet<String>) -> BTreeSet<Key> {
    let mut r = csv::Reader::from_path(dir.join("ground_truth.csv")).unwrap();
    r.records()
        .map(|x| x.unwrap())
        .filter(|x| &x[5] == "issue" && files.contains(&x[4]))
        .map(|x| {
            (
                x[4].to_owned(),
                x[1].to_owned(),
                x[2].to_owned(),
                x[3].to_owned(),
            )
        })
        .collect()
}

fn found(qc: &Path) -> BTreeSet<Key> {
    let mut r = csv::Reader::from_path(qc.join("issues.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (f, row, field, rule) = (
        col("source_file"),
        col("source_row"),
        col("field"),
        col("rule"),
    );
    r.records()
        .map(|x| x.unwrap())
        .map(|x| {
            (
                x[f].rsplit('/').next().unwrap().to_owned(),
                x[row].to_owned(),
                x[field].to_owned(),
                x[rule].to_owned(),
            )
        })
        .collect()
}

fn files_of(run: &Run) -> BTreeSet<String> {
    run.inputs
        .iter()
        .chain(run.units.iter())
        .map(|i| i.path.clone())
        .collect()
}

/// Recall 100% and precision 100% against the generator's ground truth, with field and rule.
#[test]
fn qc_reports_exactly_the_injected_defects_at_2k() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 2_000, BuildingGeometry::None);
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let expected = truth(d.path(), &files_of(&run));
    let got = found(&run.out_dir.join("qc"));
    let missed: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missed.is_empty(),
        "QC missed {} defects: {missed:?}",
        missed.len()
    );
    assert!(
        extra.is_empty(),
        "QC reported {} issues on clean rows: {extra:?}",
        extra.len()
    );
    assert!(expected.len() > 50, "{}", expected.len());
    let rules: BTreeSet<&str> = expected.iter().map(|k| k.3.as_str()).collect();
    for r in [
        "missing_required",
        "unknown_township_code",
        "township_code_retired",
        "village_prefix_mismatch",
        "swapped_lon_lat",
        "point_outside_township",
        "gcj02_offset",
        "duplicate_id",
        "out_of_range",
        "invalid_polygon",
        "duplicate_record",
    ] {
        assert!(
            rules.contains(r),
            "no {r} in this county's truth: {rules:?}"
        );
    }
    assert!(v.summary.passed);
}

/// The same buildings from a point shapefile: the vector path finds the same defects.
#[test]
fn qc_on_the_point_shapefile_matches_its_ground_truth() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_500, BuildingGeometry::Point);
    let text = std::fs::read_to_string(d.path().join("pipeline.toml"))
        .unwrap()
        .replace("path = \"fwjz.xlsx\"", "path = \"fwjz.shp\"");
    std::fs::write(d.path().join("vector.toml"), text).unwrap();
    let run = Run::load(&d.path().join("vector.toml"), Some(&d.path().join("out"))).unwrap();
    validate(&run, &mut |_, _, _| {}).unwrap();
    let only = |s: BTreeSet<Key>| {
        s.into_iter()
            .filter(|k| k.0 == "fwjz.shp")
            .collect::<BTreeSet<_>>()
    };
    let expected = only(truth(d.path(), &files_of(&run)));
    let got = only(found(&run.out_dir.join("qc")));
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
}

/// Nothing lost: for every table, rows read = clean + rejected = the records the generator wrote;
/// and on the committed demo fixture too.
#[test]
fn rows_read_equal_clean_plus_rejected_for_every_table() {
    let d = tempfile::tempdir().unwrap();
    let gen_summary = generate(d.path(), 2_000, BuildingGeometry::None);
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    assert_eq!(v.summary.tables.len(), gen_summary.tables.len());
    for t in &v.summary.tables {
        assert_eq!(t.rows_read, t.rows_clean + t.rows_rejected, "{}", t.table);
        let written = gen_summary
            .tables
            .iter()
            .find(|g| g.0 == t.table)
            .unwrap()
            .2;
        assert_eq!(
            t.rows_read, written,
            "{}: read {} of {written} records",
            t.table, t.rows_read
        );
    }
    let result_rows: u64 = v.results.iter().map(|r| r.clean.rows.len() as u64).sum();
    assert_eq!(
        result_rows,
        v.summary.tables.iter().map(|t| t.rows_clean).sum::<u64>()
    );

    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/demo.toml");
    let out = tempfile::tempdir().unwrap();
    let run = Run::load(&demo, Some(out.path())).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    for t in &v.summary.tables {
        assert_eq!(
            t.rows_read,
            t.rows_clean + t.rows_rejected,
            "demo {}",
            t.table
        );
        assert!(t.rows_read > 0, "demo {}", t.table);
    }
}

fn num(c: &Data) -> f64 {
    match c {
        Data::Float(v) => *v,
        Data::Int(v) => *v as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// The workbook reviewers open says what summary.json says.
#[test]
fn report_xlsx_figures_equal_summary_json() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    validate(&run, &mut |_, _, _| {}).unwrap();
    let qc = run.out_dir.join("qc");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(qc.join("summary.json")).unwrap()).unwrap();
    let tables = json["tables"].as_array().unwrap();
    let mut wb = open_workbook_auto(qc.join("report.xlsx")).unwrap();
    assert_eq!(wb.sheet_names(), vec!["汇总", "乡镇", "问题清单", "说明"]);
    let sheet = wb.worksheet_range("汇总").unwrap();
    let rows: Vec<&[Data]> = sheet.rows().skip(4).collect();
    assert_eq!(rows.len(), tables.len());
    for (row, t) in rows.iter().zip(tables) {
        assert_eq!(row[0].to_string(), t["table"].as_str().unwrap());
        for (c, key) in [
            (3, "rows_read"),
            (4, "rows_clean"),
            (5, "rows_rejected"),
            (6, "issues"),
            (8, "indicators_checked"),
            (9, "errors"),
        ] {
            assert_eq!(
                num(&row[c]),
                t[key].as_f64().unwrap(),
                "{} {key}",
                t["table"]
            );
        }
        assert_eq!(num(&row[10]), t["error_rate"].as_f64().unwrap());
        assert_eq!(row[11] == "通过", t["passed"].as_bool().unwrap());
    }
    let towns = wb.worksheet_range("乡镇").unwrap();
    assert_eq!(
        towns.rows().count() - 1,
        json["townships"].as_array().unwrap().len()
    );
    let issues = wb.worksheet_range("问题清单").unwrap();
    let total: u64 = tables.iter().map(|t| t["issues"].as_u64().unwrap()).sum();
    assert_eq!(issues.rows().count() as u64 - 1, total);
    let csv_rows = csv::Reader::from_path(qc.join("issues.csv"))
        .unwrap()
        .records()
        .count() as u64;
    assert_eq!(csv_rows, total);
    for key in ["tables", "passed"] {
        assert!(json.get(key).is_some());
    }
    for key in [
        "table",
        "rows_read",
        "rows_clean",
        "rows_rejected",
        "issues",
        "indicators_checked",
        "errors",
        "error_rate",
        "passed",
    ] {
        assert!(
            tables[0].get(key).is_some(),
            "summary.json tables[] lacks {key}"
        );
    }
}

/// One thread or two: byte-identical QC outputs.
#[test]
fn qc_outputs_do_not_depend_on_the_thread_count() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 2_000, BuildingGeometry::None);
    let mut outs = Vec::new();
    for threads in [1, 2, 4] {
        let out = d.path().join(format!("out{threads}"));
        let run = Run::load(&d.path().join("pipeline.toml"), Some(&out)).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| validate(&run, &mut |_, _, _| {})).unwrap();
        outs.push(run.out_dir.join("qc"));
    }
    for f in ["issues.csv", "summary.json", "report.xlsx"] {
        let a = std::fs::read(outs[0].join(f)).unwrap();
        for o in &outs[1..] {
            assert!(
                a == std::fs::read(o.join(f)).unwrap(),
                "{f} differs between thread counts"
            );
        }
    }
}

/// A pipeline's own schema directory replaces a shipped table without a rebuild.
#[test]
fn a_pipeline_schema_dir_overrides_a_shipped_table() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/tables/czt_xx.toml"),
    )
    .unwrap();
    // The county now demands at least 5 staff per school: some schools fail.
    let edited = shipped.replace("code = \"jzgs\"\nname_zh = \"教职工数\"\nname_en = \"staff\"\ntype = \"int\"\nrequired = true\nmin = 0", "code = \"jzgs\"\nname_zh = \"教职工数\"\nname_en = \"staff\"\ntype = \"int\"\nrequired = true\nmin = 1000");
    assert_ne!(edited, shipped, "the test's edit must apply");
    std::fs::create_dir_all(d.path().join("my_schemas/tables")).unwrap();
    std::fs::write(d.path().join("my_schemas/tables/czt_xx.toml"), edited).unwrap();
    let text = std::fs::read_to_string(d.path().join("pipeline.toml")).unwrap()
        + "\n[schemas]\ndirs = [\"my_schemas\"]\n";
    std::fs::write(d.path().join("custom.toml"), text).unwrap();
    let run = Run::load(&d.path().join("custom.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let xx = v
        .summary
        .tables
        .iter()
        .find(|t| t.table == "czt_xx")
        .unwrap();
    assert_eq!(xx.rows_clean, 0, "every school has fewer than 1000 staff");
    // And a broken schema file fails the load, naming file and line.
    std::fs::write(d.path().join("my_schemas/tables/czt_xx.toml"), "code = \"czt_xx\"\nname_zh = \"学校\"\n\n[[fields]]\ncode = \"a\"\nname_zh = \"甲\"\ntype = \"money\"\n").unwrap();
    let e = Run::load(&d.path().join("custom.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("czt_xx.toml line 7") && e.contains("money"),
        "{e}"
    );
}

/// The townships of a layer as (code, name, geometry), with its spatial reference.
pub(crate) fn read_townships(
    shp: &Path,
) -> (
    Vec<(String, String, gdal::vector::Geometry)>,
    gdal::spatial_ref::SpatialRef,
) {
    use gdal::vector::LayerAccess;
    let src = gdal::Dataset::open(shp).unwrap();
    let mut layer = src.layer(0).unwrap();
    let rows = layer
        .features()
        .map(|f| {
            let text = |name: &str| {
                f.field_as_string(f.field_index(name).unwrap())
                    .unwrap()
                    .unwrap()
            };
            (text("xzqdm"), text("xzqmc"), f.geometry().unwrap().clone())
        })
        .collect();
    (rows, layer.spatial_ref().unwrap())
}

/// Writes townships as an office's layer: a GBK shapefile with `xzqdm` and `xzqmc`, the layer
/// named after the file.
pub(crate) fn write_townships(
    shp: &Path,
    srs: &gdal::spatial_ref::SpatialRef,
    rows: impl IntoIterator<Item = (String, String, gdal::vector::Geometry)>,
) {
    use gdal::vector::{
        Feature, FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
    };
    let driver = gdal::DriverManager::get_driver_by_name("ESRI Shapefile").unwrap();
    let mut ds = driver.create_vector_only(shp).unwrap();
    let name = shp.file_stem().unwrap().to_str().unwrap();
    let l = ds
        .create_layer(LayerOptions {
            name,
            srs: Some(srs),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: Some(&["ENCODING=CP936"]),
        })
        .unwrap();
    for field in ["xzqdm", "xzqmc"] {
        FieldDefn::new(field, OGRFieldType::OFTString)
            .unwrap()
            .add_to_layer(&l)
            .unwrap();
    }
    for (code, name, g) in rows {
        let mut f = Feature::new(l.defn()).unwrap();
        f.set_field_string(0, &code).unwrap();
        f.set_field_string(1, &name).unwrap();
        f.set_geometry(g).unwrap();
        f.create(&l).unwrap();
    }
}

/// Rewrites the township layer with one township shrunk (a gap) and another grown (an overlap).
fn damage_townships(dir: &Path) {
    let (rows, srs) = read_townships(&dir.join("xzqh_xz.shp"));
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        std::fs::remove_file(dir.join(format!("xzqh_xz.{ext}"))).unwrap();
    }
    let damaged = rows.into_iter().enumerate().map(|(k, (code, name, g))| {
        let g = match k {
            0 => g.buffer(-0.003, 2).unwrap(),
            1 => g.buffer(0.003, 2).unwrap(),
            _ => g,
        };
        (code, name, g)
    });
    write_townships(&dir.join("xzqh_xz.shp"), &srs, damaged);
}

/// A township layer that lacks townships of the region says which: each is a warning naming its
/// code and name (a layer with 13 of 16 townships graded 13 with no word of the other 3).
#[test]
fn townships_missing_from_the_layer_are_named() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let shp = d.path().join("xzqh_xz.shp");
    let (rows, srs) = read_townships(&shp);
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        std::fs::remove_file(d.path().join(format!("xzqh_xz.{ext}"))).unwrap();
    }
    let dropped: Vec<(String, String)> = rows
        .iter()
        .skip(1)
        .take(2)
        .map(|(c, n, _)| (c.clone(), n.clone()))
        .collect();
    let kept = rows
        .into_iter()
        .enumerate()
        .filter(|(k, _)| !(1..=2).contains(k));
    write_townships(&shp, &srs, kept.map(|(_, r)| r));
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let missing: Vec<(String, String)> = v.results[0]
        .issues
        .iter()
        .filter(|i| i.rule == "unit_missing_from_layer")
        .map(|i| (i.value.clone(), i.message_zh.clone()))
        .collect();
    // A retired code in the layer stands for its successor; the dropped ones are current codes.
    assert_eq!(missing.len(), dropped.len(), "{missing:?}");
    for ((code, zh), (dropped_code, name)) in missing.iter().zip(&dropped) {
        assert_eq!(code, dropped_code);
        assert!(zh.contains(name.as_str()), "{zh}");
    }
}

/// Gaps and overlaps of the township layer are reported, and records are still checked against it.
#[test]
fn boundary_gaps_and_overlaps_are_reported() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    damage_townships(d.path());
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let units = &v.results[0];
    let rules: BTreeSet<&str> = units.issues.iter().map(|i| i.rule).collect();
    assert!(rules.contains("boundary_gap"), "{rules:?}");
    assert!(rules.contains("boundary_overlap"), "{rules:?}");
    let overlap = units
        .issues
        .iter()
        .find(|i| i.rule == "boundary_overlap")
        .unwrap();
    assert!(
        overlap.row.is_some() && overlap.message_zh.contains("重叠"),
        "{overlap:?}"
    );
    assert_eq!(
        units.rows_rejected, 0,
        "topology problems are warnings: no township is rejected"
    );
    for t in &v.summary.tables {
        assert_eq!(t.rows_read, t.rows_clean + t.rows_rejected, "{}", t.table);
    }
}

// ---- join and score ----

/// A generated county validated, joined, scored and its scores published (unit table, graded
/// units, GIS layer, maps); with the maps written.
fn scored(
    d: &Path,
) -> (
    Run,
    riskcensus_pipeline::Validated,
    riskcensus_pipeline::Scored,
    Vec<PathBuf>,
) {
    let run = Run::load(&d.join("pipeline.toml"), Some(&d.join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let s = riskcensus_pipeline::join_and_score(&run, &v).unwrap();
    let maps = riskcensus_pipeline::publish_scores(&run, &s).unwrap();
    (run, v, s, maps)
}

/// Every file under a directory (relative paths), for what a stage wrote.
fn files_under(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    out
}

/// The stages are one way: joining and scoring computes and writes nothing; the publish step
/// writes the scores' outputs (unit table, model, graded units, GIS layer, maps, summary).
#[test]
fn join_and_score_writes_nothing_and_publishing_writes_the_scores() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let before = files_under(&run.out_dir);
    let s = riskcensus_pipeline::join_and_score(&run, &v).unwrap();
    assert_eq!(
        files_under(&run.out_dir),
        before,
        "join_and_score wrote files"
    );
    assert!(!s.shapes.is_empty(), "unit polygons are handed on");
    let maps = riskcensus_pipeline::publish_scores(&run, &s).unwrap();
    let written: BTreeSet<PathBuf> = files_under(&run.out_dir)
        .difference(&before)
        .cloned()
        .collect();
    for f in [
        "parquet/unit_table.parquet",
        "parquet/unit_risk/county=530402/part-0.parquet",
        "risk/model.toml",
        "risk/summary.json",
        "gis/unit_risk.gpkg",
        "gis/unit_risk.shp",
        "maps/composite.svg",
        "maps/composite.png",
    ] {
        assert!(
            written.contains(Path::new(f)),
            "{f} not written: {written:?}"
        );
    }
    assert_eq!(
        maps.len(),
        2 * run.model.as_ref().unwrap().scores.len(),
        "{maps:?}"
    );
}

/// Every township of the county scored exactly once; grade counts add up to the townships.
#[test]
fn every_township_is_scored_once_and_grades_add_up() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 3_000, BuildingGeometry::None);
    let (run, _, s, _) = scored(d.path());
    let risk = s.risk.expect("the generated pipeline has a model");
    let codes: Vec<String> = risk
        .df
        .column("unit_code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|c| c.unwrap().to_owned())
        .collect();
    let mut expected: Vec<String> = riskcensus_schema::Registry::nbs2023()
        .townships_of("530402")
        .iter()
        .map(|t| t.code.clone())
        .collect();
    expected.sort();
    assert_eq!(codes, expected, "one row per township, in code order");
    let columns: Vec<String> = s
        .units
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        columns, run.unit_columns,
        "the unit table has the columns the model was checked against"
    );
    for (score, grades) in &risk.grade_counts {
        let n: u64 = grades.iter().map(|g| g.2).sum();
        assert_eq!(n as usize, codes.len(), "{score}: grade counts {grades:?}");
    }
    let composite: Vec<String> = risk
        .df
        .column("composite_grade")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|c| c.unwrap().to_owned())
        .collect();
    assert!(
        composite
            .iter()
            .all(|g| ["高", "较高", "中", "较低", "低", "无评级"].contains(&g.as_str()))
    );
    assert!(
        composite.iter().filter(|g| *g != "无评级").count() >= codes.len() / 2,
        "{composite:?}"
    );
    // A unit without a rating says why; a rated one has no reason.
    let reasons: Vec<Option<String>> = risk
        .df
        .column("no_rating_reason")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|r| r.map(str::to_owned))
        .collect();
    for (g, r) in composite.iter().zip(&reasons) {
        assert_eq!(g == "无评级", r.is_some(), "{g} / {r:?}");
    }
    // The Parquet file reads back with the same rows.
    let back = riskcensus_pipeline::query::read_table(&run.out_dir, "unit_risk").unwrap();
    assert_eq!(back.height(), codes.len());
    for c in [
        "unit_code",
        "unit_name",
        "composite_score",
        "composite_grade",
        "earthquake_hazard",
        "earthquake_score",
        "earthquake_grade",
        "n_buildings",
    ] {
        assert!(back.column(c).is_ok(), "unit_risk lacks {c}");
    }
    // The GIS layer: a GeoPackage and a GBK shapefile, one polygon a unit, with grades and names.
    {
        use gdal::vector::LayerAccess;
        for file in ["unit_risk.gpkg", "unit_risk.shp"] {
            let ds = gdal::Dataset::open(run.out_dir.join("gis").join(file)).unwrap();
            let mut layer = ds.layer(0).unwrap();
            assert_eq!(layer.feature_count() as usize, codes.len(), "{file}");
            let names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
            assert!(
                names
                    .iter()
                    .all(|n| file.ends_with(".gpkg") || n.len() <= 10),
                "{names:?}"
            );
            let k = names.iter().position(|n| n == "unit_name").unwrap();
            let first = layer.features().next().unwrap();
            assert_eq!(
                first.field_as_string(k).unwrap().unwrap(),
                riskcensus_schema::Registry::nbs2023().townships_of("530402")[0].name
            );
            assert!(first.geometry().unwrap().is_valid());
        }
        assert_eq!(
            std::fs::read_to_string(run.out_dir.join("gis/unit_risk.cpg"))
                .unwrap()
                .trim(),
            "CP936"
        );
    }
    assert_eq!(s.assignments["fwjz"].disagreements, 0);
    assert_eq!(s.assignments["fwjz"].unassigned, 0);
}

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed;
    for i in (1..v.len()).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, ((x >> 33) as usize) % (i + 1));
    }
}

/// A property: shuffled input rows and another thread count give the very same unit table and scores.
#[test]
fn shuffled_rows_and_thread_counts_change_no_score() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 3_000, BuildingGeometry::None);
    let (run, v, base, _) = scored(d.path());
    let base_risk = base.risk.unwrap().df;
    for (seed, threads) in [(1u64, 1usize), (2, 2), (3, 3)] {
        let mut results = v.results.clone();
        for r in &mut results {
            shuffle(&mut r.clean.rows, seed);
        }
        // The units from the shuffled boundary rows, as validate builds them.
        let units = riskcensus_risk::units::UnitSet::from_table(
            &results[0].clean,
            &run.units_code_field,
            &run.units_name_field,
        );
        let v2 = riskcensus_pipeline::Validated {
            summary: v.summary.clone(),
            results,
            reviews: v.reviews.clone(),
            units: Some(units),
            reused: Vec::new(),
        };
        let mut run2 = run.clone();
        run2.out_dir = d.path().join(format!("shuffled{seed}"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let s = pool
            .install(|| riskcensus_pipeline::join_and_score(&run2, &v2))
            .unwrap();
        assert!(
            s.units.equals_missing(&base.units),
            "unit table changed (seed {seed}, {threads} threads)"
        );
        assert!(
            s.risk.unwrap().df.equals_missing(&base_risk),
            "scores changed (seed {seed}, {threads} threads)"
        );
    }
}

/// Point-in-polygon agrees with the declared township everywhere except exactly at the injected
/// point defects that stay inside the county.
#[test]
fn point_in_polygon_agrees_with_declared_codes_except_at_injected_defects() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 3_000, BuildingGeometry::None);
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let units = riskcensus_risk::units::UnitSet::from_table(&v.results[0].clean, "xzqdm", "xzqmc");
    let schema = run.schemas.table("fwjz").unwrap();
    let input = riskcensus_ingest::Input {
        path: d.path().join("fwjz.xlsx"),
        display: "fwjz.xlsx".into(),
        ..Default::default()
    };
    let raw = riskcensus_ingest::read_table(
        schema,
        &[input],
        riskcensus_ingest::VectorOptions { reproject: false },
    )
    .unwrap();
    let registry = riskcensus_schema::Registry::nbs2023();
    let (kt, klon, klat) = (
        schema.field_index("xzqdm").unwrap(),
        schema.field_index("lon").unwrap(),
        schema.field_index("lat").unwrap(),
    );
    let num = |c: riskcensus_ingest::CellRef<'_>| {
        riskcensus_qc::coerce::coerce(c, riskcensus_schema::FieldType::Float)
            .ok()
            .and_then(|v| v.as_f64())
    };
    let mut disagree = BTreeSet::new();
    for r in &raw.rows {
        let declared = r.cells.at(kt).display();
        let (Some(x), Some(y)) = (num(r.cells.at(klon)), num(r.cells.at(klat))) else {
            continue;
        };
        if !registry.contains(&declared) {
            continue;
        }
        if let Some(at) = units.index.locate(x, y)
            && at != declared
        {
            disagree.insert(r.row.to_string());
        }
    }
    let mut reader = csv::Reader::from_path(d.path().join("ground_truth.csv")).unwrap();
    let expected: BTreeSet<String> = reader
        .records()
        .map(|x| x.unwrap())
        .filter(|x| {
            &x[4] == "fwjz.xlsx" && (&x[3] == "point_outside_township" || &x[3] == "gcj02_offset")
        })
        .map(|x| x[1].to_owned())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(disagree, expected);
}

/// A plain per-unit indicator table is scored with no records: the shipped NRI and INFORM examples.
#[test]
fn plain_indicator_tables_are_scored_without_records() {
    let out = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (file, expected) in [
        (
            "pipelines/nri_example.toml",
            vec!["Relatively High", "Relatively Low", "Very High", "Very Low"],
        ),
        (
            "pipelines/inform_example.toml",
            vec!["High", "Low", "Very High", "Very Low", "Medium"],
        ),
    ] {
        let run = Run::load(&repo.join(file), Some(out.path())).unwrap();
        let report = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
        assert!(report.stages_done.contains(&"risk"), "{file}");
        let df = riskcensus_pipeline::query::read_table(&run.out_dir, "unit_risk").unwrap();
        let grades: Vec<String> = df
            .column("composite_grade")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|g| g.unwrap().to_owned())
            .collect();
        assert_eq!(grades, expected, "{file}");
    }
}

/// 东莞 441900 and 中山 442000 are county-level units in NBS 2023 (prefecture cities without
/// districts): a provincial county table holding them grades them, where they were refused as
/// "不在 NBS 2023 …（旧版代码？）" and left ungraded.
#[test]
fn cities_without_counties_are_graded_as_counties() {
    let d = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::write(
        d.path().join("counties.csv"),
        "unit_code,unit_name,eal,sovi,resl\n441900,东莞市,900,55,60\n442000,中山市,700,50,65\n440103,荔湾区,400,45,70\n440104,越秀区,300,40,75\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("p.toml"),
        format!(
            "[run]\nname = \"gd\"\nregion_code = \"440000\"\nreference_year = 2020\n\n[indicators]\npath = \"counties.csv\"\ncode_field = \"unit_code\"\nname_field = \"unit_name\"\n\n[model]\nfile = \"{}\"\n",
            repo.join("pipelines/models/fema_nri.toml").display()
        ),
    )
    .unwrap();
    let run = Run::load(&d.path().join("p.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let issues: Vec<String> = v
        .results
        .iter()
        .flat_map(|r| {
            r.issues
                .iter()
                .map(|i| format!("{} {}", i.rule, i.message_en))
        })
        .collect();
    assert!(issues.is_empty(), "{issues:?}");
    let t = &v.summary.tables[0];
    assert_eq!((t.rows_read, t.rows_clean), (4, 4));
    let report = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    assert!(report.stages_done.contains(&"risk"));
    let df = riskcensus_pipeline::query::read_table(&run.out_dir, "unit_risk").unwrap();
    assert_eq!(df.height(), 4);
}

/// A table mixing levels: the county and province subtotal rows are told as rows of another level,
/// and codes no zeros make a code of the list (81, 460302) are not "repaired" into
/// 000000081 / 000460302 and graded as units, as they were; a township code that lost its zeros
/// in Excel is still restored.
#[test]
fn unit_codes_are_not_repaired_across_levels() {
    let d = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::write(
        d.path().join("mixed.csv"),
        "unit_code,unit_name,eal,sovi,resl\n530402001,玉兴街道,900,55,60\n530402002,凤凰街道,700,50,65\n530402003,玉带街道,400,45,70\n530402,红塔区合计,2000,50,65\n53,云南省合计,9000,50,60\n81,香港,100,40,70\n460302,某区,100,40,70\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("p.toml"),
        format!(
            "[run]\nname = \"mixed\"\nregion_code = \"530402\"\nreference_year = 2020\n\n[indicators]\npath = \"mixed.csv\"\ncode_field = \"unit_code\"\nname_field = \"unit_name\"\n\n[model]\nfile = \"{}\"\n",
            repo.join("pipelines/models/fema_nri.toml").display()
        ),
    )
    .unwrap();
    let run = Run::load(&d.path().join("p.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let issues: BTreeSet<(String, &str)> = v
        .results
        .iter()
        .flat_map(|r| r.issues.iter().map(|i| (i.value.clone(), i.rule)))
        .collect();
    let expected: BTreeSet<(String, &str)> = [
        ("530402", "unit_code_other_level"),
        ("53", "unit_code_other_level"),
        ("81", "bad_unit_code"),
        ("460302", "bad_unit_code"),
    ]
    .into_iter()
    .map(|(c, r)| (c.to_owned(), r))
    .collect();
    assert_eq!(issues, expected);
    let t = &v.summary.tables[0];
    assert_eq!((t.rows_read, t.rows_clean), (7, 3));
    let msg = v.results[0]
        .issues
        .iter()
        .find(|i| i.value == "530402")
        .unwrap();
    assert!(
        msg.message_zh.contains("县级区划（红塔区）"),
        "{}",
        msg.message_zh
    );
}

/// 'NA', '—' and '/' in a number column are no figure: read as empty with a `placeholder_value`
/// warning, and the column stays a number column (it was published as text, the placeholders
/// unreported).
#[test]
fn placeholders_in_number_columns_are_empty_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::write(
        d.path().join("units.csv"),
        "unit_code,unit_name,eal,sovi,resl\n530402001,玉兴街道,900,55,60\n530402002,凤凰街道,NA,50,65\n530402003,玉带街道,400,—,70\n530402004,北城街道,300,40,/\n530402005,春和街道,500,45,75\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("p.toml"),
        format!(
            "[run]\nname = \"na\"\nregion_code = \"530402\"\nreference_year = 2020\n\n[indicators]\npath = \"units.csv\"\ncode_field = \"unit_code\"\nname_field = \"unit_name\"\n\n[model]\nfile = \"{}\"\n",
            repo.join("pipelines/models/fema_nri.toml").display()
        ),
    )
    .unwrap();
    let run = Run::load(&d.path().join("p.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let found: BTreeSet<(u32, String, &str)> = v.results[0]
        .issues
        .iter()
        .map(|i| (i.row.unwrap_or(0), i.value.clone(), i.rule))
        .collect();
    let expected: BTreeSet<(u32, String, &str)> = [
        (3, "NA", "placeholder_value"),
        (4, "—", "placeholder_value"),
        (5, "/", "placeholder_value"),
    ]
    .into_iter()
    .map(|(r, v, rule)| (r, v.to_owned(), rule))
    .collect();
    assert_eq!(found, expected);
    assert_eq!(v.summary.tables[0].rows_clean, 5);
    let schema = run.schemas.table(&v.results[0].table).unwrap();
    for f in ["eal", "sovi", "resl"] {
        assert_eq!(
            schema.field(f).unwrap().ty,
            riskcensus_schema::FieldType::Float,
            "{f}"
        );
    }
}

/// Footprint polygons go to the unit they overlap most.
#[test]
fn footprints_go_to_the_unit_of_largest_overlap() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_500, BuildingGeometry::Footprint);
    let text = std::fs::read_to_string(d.path().join("pipeline.toml"))
        .unwrap()
        .replace("path = \"fwjz.xlsx\"", "path = \"fwjz.shp\"");
    std::fs::write(d.path().join("footprints.toml"), text).unwrap();
    let run = Run::load(
        &d.path().join("footprints.toml"),
        Some(&d.path().join("out")),
    )
    .unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let s = riskcensus_pipeline::join_and_score(&run, &v).unwrap();
    let fwjz = v.results.iter().find(|r| r.table == "fwjz").unwrap();
    let a = &s.assignments["fwjz"];
    assert_eq!(a.by_overlap, fwjz.rows_clean, "{a:?}");
    assert_eq!(a.unassigned, 0);
    let n: f64 = s
        .units
        .column("n_buildings")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|x| x.unwrap())
        .sum();
    assert_eq!(
        n as u64, fwjz.rows_clean,
        "every clean footprint counted once"
    );
}

/// Counties as the units (a city or provincial run): records keep their township codes and go to the
/// county that covers them.
#[test]
fn counties_can_be_the_units() {
    use gdal::vector::{
        Feature, FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
    };
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    // The county outline: the union of its townships.
    let src = gdal::Dataset::open(d.path().join("xzqh_xz.shp")).unwrap();
    let mut layer = src.layer(0).unwrap();
    let srs = layer.spatial_ref().unwrap();
    let mut union: Option<gdal::vector::Geometry> = None;
    for f in layer.features() {
        let g = f.geometry().unwrap().clone();
        union = Some(match union {
            None => g,
            Some(u) => u.union(&g).unwrap(),
        });
    }
    {
        let driver = gdal::DriverManager::get_driver_by_name("ESRI Shapefile").unwrap();
        let mut ds = driver
            .create_vector_only(d.path().join("county.shp"))
            .unwrap();
        let out = ds
            .create_layer(LayerOptions {
                name: "county",
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbPolygon,
                options: Some(&["ENCODING=CP936"]),
            })
            .unwrap();
        for name in ["xzqdm", "xzqmc"] {
            FieldDefn::new(name, OGRFieldType::OFTString)
                .unwrap()
                .add_to_layer(&out)
                .unwrap();
        }
        let mut f = Feature::new(out.defn()).unwrap();
        f.set_field_string(0, "530402").unwrap();
        f.set_field_string(1, "红塔区").unwrap();
        f.set_geometry(union.unwrap()).unwrap();
        f.create(&out).unwrap();
    }
    let text = std::fs::read_to_string(d.path().join("pipeline.toml"))
        .unwrap()
        .replace(
            "table = \"xzqh_xz\"\npath = \"xzqh_xz.shp\"",
            "table = \"xzqh_xj\"\npath = \"county.shp\"",
        );
    std::fs::write(d.path().join("county.toml"), text).unwrap();
    let run = Run::load(&d.path().join("county.toml"), Some(&d.path().join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let s = riskcensus_pipeline::join_and_score(&run, &v).unwrap();
    assert_eq!(s.units.height(), 1);
    let fwjz = v.results.iter().find(|r| r.table == "fwjz").unwrap();
    assert_eq!(s.assignments["fwjz"].by_code, fwjz.rows_clean);
    assert_eq!(s.assignments["fwjz"].unassigned, 0);
    let n: f64 = s
        .units
        .column("n_buildings")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|x| x.unwrap())
        .sum();
    assert_eq!(n as u64, fwjz.rows_clean);
}

// ---- package ----

/// Rewrites a zip, letting `edit` change, drop (return None) or keep each entry.
fn rewrite_zip(path: &Path, out: &Path, mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>) {
    use std::io::{Read, Write};
    let mut src = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut dst = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        if let Some(b) = edit(&name, buf) {
            dst.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            dst.write_all(&b).unwrap();
        }
    }
    dst.finish().unwrap();
}

/// A fresh package verifies; one changed byte, a removed file or an edited manifest is named.
/// Two runs, one thread or two, give the same bytes.
#[test]
fn packages_verify_and_tampering_is_named() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let mut packages = Vec::new();
    for threads in [1, 2] {
        let run = Run::load(
            &d.path().join("pipeline.toml"),
            Some(&d.path().join(format!("out{threads}"))),
        )
        .unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let report = pool
            .install(|| riskcensus_pipeline::run(&run, &mut |_, _, _| {}))
            .unwrap();
        packages.push(report.package.unwrap());
    }
    let pkg = &packages[0];
    assert_eq!(
        pkg.file_name().unwrap().to_string_lossy(),
        "530402_红塔区_2020.zip"
    );
    assert_eq!(
        std::fs::read(pkg).unwrap(),
        std::fs::read(&packages[1]).unwrap(),
        "thread count changed the package"
    );
    assert!(
        riskcensus_pipeline::package::verify(pkg).is_empty(),
        "{:?}",
        riskcensus_pipeline::package::verify(pkg)
    );

    let bad = d.path().join("bad.zip");
    rewrite_zip(pkg, &bad, |name, mut b| {
        if name == "qc/summary.json" {
            b[10] ^= 1;
        }
        Some(b)
    });
    let p = riskcensus_pipeline::package::verify(&bad);
    assert!(
        p.iter()
            .any(|x| x.starts_with("qc/summary.json") && x.contains("SHA-256")),
        "{p:?}"
    );

    rewrite_zip(pkg, &bad, |name, b| {
        (name != "parquet/unit_risk/county=530402/part-0.parquet").then_some(b)
    });
    let p = riskcensus_pipeline::package::verify(&bad);
    assert!(
        p.iter().any(
            |x| x.starts_with("parquet/unit_risk/county=530402/part-0.parquet")
                && x.contains("missing")
        ),
        "{p:?}"
    );

    rewrite_zip(pkg, &bad, |name, b| {
        if name == "manifest.json" {
            let t = String::from_utf8(b)
                .unwrap()
                .replacen("\"rows\": ", "\"rows\": 1", 1);
            Some(t.into_bytes())
        } else {
            Some(b)
        }
    });
    let p = riskcensus_pipeline::package::verify(&bad);
    assert!(
        p.iter().any(|x| x.contains("rows, the manifest says")),
        "{p:?}"
    );

    std::fs::write(&bad, b"PK\x03\x04 not really").unwrap();
    assert!(!riskcensus_pipeline::package::verify(&bad).is_empty());
}

/// Every clean table as GeoParquet, partitioned by county, with its rows, WKB and `geo` metadata.
#[test]
fn clean_tables_are_written_as_partitioned_geoparquet() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    use polars::prelude::SerReader;
    for r in &v.results {
        let path = run
            .out_dir
            .join("parquet")
            .join(&r.table)
            .join("county=530402")
            .join("part-0.parquet");
        let df = polars::prelude::ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert_eq!(df.height() as u64, r.rows_clean, "{}", r.table);
        for c in ["unit_code", "source_file", "source_row"] {
            assert!(df.column(c).is_ok(), "{} lacks {c}", r.table);
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let has_geometry = df.column("geometry").is_ok();
        assert_eq!(
            text.contains("\"primary_column\":\"geometry\""),
            has_geometry,
            "{}",
            r.table
        );
        if has_geometry {
            assert!(
                text.contains("\"version\":\"1.1.0\"") && text.contains("\"code\":4490"),
                "{}",
                r.table
            );
            let wkb = df
                .column("geometry")
                .unwrap()
                .binary()
                .unwrap()
                .get(0)
                .unwrap()
                .to_vec();
            assert!(riskcensus_spatial::parse_wkb(&wkb).is_ok(), "{}", r.table);
        }
    }
    let fwjz = polars::prelude::ParquetReader::new(
        std::fs::File::open(
            run.out_dir
                .join("parquet/fwjz/county=530402/part-0.parquet"),
        )
        .unwrap(),
    )
    .finish()
    .unwrap();
    for c in [
        "building_id",
        "township_code",
        "structure_type",
        "floors_above_ground",
        "floor_area_m2",
        "geometry",
    ] {
        assert!(fwjz.column(c).is_ok(), "fwjz lacks {c}");
    }
    let dict = std::fs::read_to_string(run.out_dir.join("parquet/data_dictionary.csv")).unwrap();
    assert!(
        dict.contains("fwjz,structure_type,\"结构类型\",text"),
        "{}",
        &dict[..300]
    );
    // Every column of the graded units is in the dictionary, with a Chinese name.
    let risk = riskcensus_pipeline::query::read_table(&run.out_dir, "unit_risk").unwrap();
    for c in risk.get_column_names() {
        let line = dict
            .lines()
            .find(|l| l.starts_with(&format!("unit_risk,{c},")))
            .unwrap_or_else(|| panic!("unit_risk.{c} not in the dictionary"));
        assert!(!line.contains(",\"\","), "{line}");
    }
    assert!(dict.contains("unit_risk,composite_grade,\"综合风险等级\",text"));
    let issues = polars::prelude::ParquetReader::new(
        std::fs::File::open(
            run.out_dir
                .join("parquet/issues/county=530402/part-0.parquet"),
        )
        .unwrap(),
    )
    .finish()
    .unwrap();
    let total: u64 = v.summary.tables.iter().map(|t| t.issues).sum();
    assert!(issues.height() as u64 <= total && issues.height() > 0);
}

// ---- maps ----

/// One map per score, A4 at 300 dpi; every grade colour with units is drawn; the text (names,
/// legend, north arrow) is really rendered, not dropped for want of a font; same input, same bytes.
#[test]
fn maps_show_every_grade_and_their_text() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let (run, _, s, written) = scored(d.path());
    let risk = s.risk.as_ref().unwrap();
    let model = run.model.as_ref().unwrap();
    let maps = run.out_dir.join("maps");
    assert_eq!(written.len(), 2 * model.scores.len(), "{written:?}");
    let names: Vec<String> = risk
        .df
        .column("unit_name")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    for (prefix, grades) in &risk.grade_counts {
        let png = std::fs::read(maps.join(format!("{prefix}.png"))).unwrap();
        let svg = std::fs::read_to_string(maps.join(format!("{prefix}.svg"))).unwrap();
        assert_eq!(maps::png_size(&png), Some((3508, 2480)), "{prefix}");
        // The drawing fills the page: title at the top, footer at the bottom, legend at the right.
        let (x0, y0, x1, y1) = maps::png_ink_extent(&png).unwrap();
        assert!(
            x0 < 300 && y0 < 150 && x1 > 3100 && y1 > 2350,
            "{prefix}: ink only in {x0},{y0}–{x1},{y1}"
        );
        // The legend gives each grade's score range from the grading's breaks.
        let ranges = maps::grade_ranges(&risk.breaks[prefix], model.grading.classes);
        assert_eq!(ranges.len(), model.grading.classes);
        for r in &ranges {
            let r = r.replace('<', "&lt;").replace('>', "&gt;");
            assert!(svg.contains(&format!(">{r}</text>")), "{prefix}: no {r}");
        }
        for (label, color, n) in grades {
            if *n > 0 {
                assert!(
                    maps::png_has_color(&png, color),
                    "{prefix}: {label} {color} not drawn"
                );
                assert!(
                    svg.contains(&format!("{label}（{n} 个）")),
                    "{prefix}: legend lacks {label}"
                );
            }
        }
        // Every unit is named, or counted as left unnamed where its name would overlap another.
        let named = names
            .iter()
            .filter(|n| svg.contains(&format!(">{n}</text>")))
            .count();
        let unnamed = svg
            .split("个单元因空间不足未标注名称")
            .next()
            .filter(|_| named < names.len())
            .and_then(|head| head.rsplit('>').next())
            .map(|n| n.trim().parse::<usize>().unwrap())
            .unwrap_or(0);
        assert_eq!(named + unnamed, names.len(), "{prefix}");
        assert!(
            named * 4 >= names.len() * 3,
            "{prefix}: only {named} names drawn"
        );
        for text in [
            "红塔区",
            "2020",
            "图例",
            "北",
            "千米",
            "CGCS2000（EPSG:4490）",
        ] {
            assert!(svg.contains(text), "{prefix}: no {text}");
        }
        assert_eq!(
            maps::render_png(&svg).unwrap(),
            png,
            "{prefix}: not reproducible"
        );
        // Without its text the picture changes: the font was loaded and the characters drawn.
        let bare: String = svg.lines().filter(|l| !l.starts_with("<text")).collect();
        assert_ne!(
            maps::render_png(&bare).unwrap(),
            png,
            "{prefix}: no text drawn"
        );
    }
}

// ---- provincial merge ----

/// Generates a county and runs its pipeline; returns its package.
fn county_package(dir: &Path, county: &str, seed: u64) -> std::path::PathBuf {
    let mut o = Options::new(county, dir);
    o.buildings = 1_000;
    o.seed = seed;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
    package_of(dir)
}

fn package_of(dir: &Path) -> std::path::PathBuf {
    let run = Run::load(&dir.join("pipeline.toml"), Some(&dir.join("out"))).unwrap();
    riskcensus_pipeline::run(&run, &mut |_, _, _| {})
        .unwrap()
        .package
        .unwrap()
}

/// Two counties merge into one verified provincial package: every record and unit kept, the units
/// re-graded together, maps drawn; the order of the packages does not change a byte; a tampered
/// package, a county given twice and a different model are refused, naming the package.
#[test]
fn county_packages_merge_into_a_provincial_package() {
    use riskcensus_pipeline::{merge::merge, package::verify, query::read_table};
    let d = tempfile::tempdir().unwrap();
    let a = county_package(&d.path().join("a"), "530402", 7);
    let b = county_package(&d.path().join("b"), "530381", 8);
    let out1 = d.path().join("province1");
    let r = merge(&[a.clone(), b.clone()], &out1, None).unwrap();
    assert_eq!(r.region_code, "530000");
    assert_eq!(r.region_name, "云南省");
    assert_eq!(
        r.package.file_name().unwrap().to_string_lossy(),
        "530000_云南省_2020.zip"
    );
    assert!(verify(&r.package).is_empty(), "{:?}", verify(&r.package));

    // Nothing lost: clean records and units of both counties.
    let county_a = a.parent().unwrap();
    let county_b = b.parent().unwrap();
    for table in ["fwjz", "czt_xx", "issues", "unit_risk"] {
        let n = |dir: &Path| read_table(dir, table).unwrap().height();
        assert_eq!(n(&out1), n(county_a) + n(county_b), "{table}");
    }
    let units = read_table(&out1, "unit_risk").unwrap();
    let codes: BTreeSet<String> = units
        .column("unit_code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), units.height());
    assert!(codes.iter().any(|c| c.starts_with("530402")));
    assert!(codes.iter().any(|c| c.starts_with("530381")));
    // Graded together: the grades add up to the province's units, and the breaks are the
    // province's, not either county's.
    let grades = &r.composite_grades;
    assert_eq!(
        grades.iter().map(|g| g.1).sum::<u64>() as usize,
        units.height()
    );
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.join("risk/summary.json")).unwrap()).unwrap()
    };
    let summary = json(&out1);
    assert_eq!(summary["units"], units.height());
    // The provincial 差错率 is wrong ÷ checked indicators over both counties, per table.
    let qc = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.join("qc/summary.json")).unwrap()).unwrap()
    };
    let province_qc = qc(&out1);
    for t in province_qc["tables"].as_array().unwrap() {
        let sum = |field: &str| -> u64 {
            [county_a, county_b]
                .iter()
                .flat_map(|c| qc(c)["tables"].as_array().unwrap().clone())
                .filter(|x| x["table"] == t["table"])
                .map(|x| x[field].as_u64().unwrap())
                .sum()
        };
        let (errors, checked) = (sum("errors"), sum("indicators_checked"));
        assert_eq!(t["errors"].as_u64().unwrap(), errors);
        assert_eq!(t["indicators_checked"].as_u64().unwrap(), checked);
        let rate = if checked == 0 {
            0.0
        } else {
            errors as f64 / checked as f64
        };
        assert_eq!(t["error_rate"].as_f64().unwrap(), rate, "{}", t["table"]);
    }
    for county in [county_a, county_b] {
        assert_ne!(
            summary["breaks"]["composite"],
            json(county)["breaks"]["composite"]
        );
    }
    for f in [
        "maps/composite.png",
        "maps/composite.svg",
        "gis/unit_risk.gpkg",
    ] {
        assert!(out1.join(f).is_file(), "{f}");
    }
    let svg = std::fs::read_to_string(out1.join("maps/composite.svg")).unwrap();
    assert!(svg.contains("云南省综合风险等级图"));
    // The counties are outlined and named on the provincial map.
    for county in ["宣威市", "红塔区"] {
        assert!(
            svg.contains(&format!(r##"font-size="52" text-anchor="middle" fill="#000" stroke="#ffffff" stroke-width="12" paint-order="stroke">{county}</text>"##)),
            "{county} not named"
        );
    }
    assert_eq!(
        svg.matches(r##"fill="none" stroke="#111111" stroke-width="9""##)
            .count(),
        2
    );

    // Same packages in the other order: the same bytes.
    let out2 = d.path().join("province2");
    let r2 = merge(&[b.clone(), a.clone()], &out2, None).unwrap();
    assert_eq!(
        std::fs::read(&r.package).unwrap(),
        std::fs::read(&r2.package).unwrap()
    );

    // Refusals.
    let bad = d.path().join("530381_bad.zip");
    rewrite_zip(&b, &bad, |name, mut bytes| {
        if name == "qc/summary.json" {
            bytes[5] ^= 1;
        }
        Some(bytes)
    });
    let e = merge(&[a.clone(), bad.clone()], &d.path().join("x"), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("530381_bad.zip") && e.contains("does not verify"),
        "{e}"
    );
    let e = merge(&[a.clone(), a.clone()], &d.path().join("x"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("530402"), "{e}");
    // A region that does not hold every county.
    let e = merge(&[a.clone(), b.clone()], &d.path().join("x"), Some("530300"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("530402") && e.contains("曲靖市"), "{e}");
    // The same county run with an edited model file.
    let c = d.path().join("c");
    county_package(&c, "530381", 8);
    let model = c.join("model.toml");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, text + "\n# edited by the county\n").unwrap();
    let other = package_of(&c);
    let named = other.display().to_string();
    let e = merge(&[a, other], &d.path().join("x"), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&named) && e.contains("model.toml differs"),
        "{e}"
    );
}
