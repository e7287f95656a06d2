//! Integration tests of the generator: determinism, counts, real township codes, a clean tessellation,
//! and a ground truth that matches what was written, checked with independent readers (calamine for
//! the spreadsheets, GDAL/GEOS for the vector files).

mod support;
mod tessellation;
mod truth;

use std::fs;

use riskcensus_synth::{BuildingGeometry, Options};

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let a = support::generate("530402", 1_500, 11, 0.05, BuildingGeometry::Point);
    let b = support::generate("530402", 1_500, 11, 0.05, BuildingGeometry::Point);
    let c = support::generate("530402", 1_500, 12, 0.05, BuildingGeometry::Point);
    let files = support::files(a.path());
    assert!(files.len() > 30, "{files:?}");
    assert_eq!(files, support::files(b.path()));
    for f in &files {
        let (x, y) = (
            fs::read(a.path().join(f)).unwrap(),
            fs::read(b.path().join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    let differs = files
        .iter()
        .filter(|f| f.ends_with(".xlsx") || f.ends_with(".csv"))
        .any(|f| fs::read(a.path().join(f)).unwrap() != fs::read(c.path().join(f)).unwrap());
    assert!(differs, "another seed gave the same tables");
}

#[test]
fn row_counts_match_the_request_and_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new("530402", dir.path());
    opts.buildings = 2_345;
    let summary = riskcensus_synth::generate(&opts, &mut |_| {}).unwrap();
    let buildings = summary.tables.iter().find(|t| t.0 == "fwjz").unwrap();
    assert_eq!(buildings.2, 2_345);
    for (table, files, rows) in &summary.tables {
        let mut counted = 0u64;
        for f in files {
            counted += support::count_records(&dir.path().join(f));
        }
        assert_eq!(
            counted, *rows,
            "{table}: the summary says {rows} records, the files hold {counted}"
        );
    }
    assert_eq!(
        summary.townships,
        riskcensus_schema::Registry::nbs2023()
            .townships_of("530402")
            .len()
    );
}

#[test]
fn clean_county_has_no_defects_and_plain_headers() {
    let dir = support::generate("110105", 1_000, 3, 0.0, BuildingGeometry::None);
    let truth = fs::read_to_string(dir.path().join("ground_truth.csv")).unwrap();
    assert_eq!(truth.lines().count(), 1, "only the header: {truth}");
    let rows = support::read_xlsx(&dir.path().join("fwjz.xlsx"));
    assert_eq!(rows.header_row, 1);
    assert_eq!(rows.labels[0], "房屋编号");
}

#[test]
fn bad_options_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new("999999", dir.path());
    let e = riskcensus_synth::generate(&opts, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("999999"), "{e}");
    opts.county = "530402".into();
    opts.buildings = 10;
    let e = riskcensus_synth::generate(&opts, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("--buildings"), "{e}");
    opts.buildings = 1_000;
    opts.defect_rate = 2.0;
    assert!(riskcensus_synth::generate(&opts, &mut |_| {}).is_err());
}

#[test]
fn pipeline_file_lists_every_table_written() {
    let dir = support::generate("530402", 1_000, 5, 0.05, BuildingGeometry::None);
    let text = fs::read_to_string(dir.path().join("pipeline.toml")).unwrap();
    for table in [
        "fwjz",
        "czt_xx",
        "czt_ylwsjg",
        "xzjd_rkjj",
        "zhjzzy_jc_xzzy",
        "dzzhyhd",
        "hz_earthquake",
        "hz_flood",
        "hz_landslide",
        "hz_forest_fire",
    ] {
        assert!(
            text.contains(&format!("table = \"{table}\"")),
            "{table} missing from pipeline.toml"
        );
    }
    assert!(text.contains("path = \"xzqh_xz.shp\""));
    assert!(text.contains("region_code = \"530402\""));
}
