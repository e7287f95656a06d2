//! A district layer shaped like a real city's (fields ADMINCODE and NAME, UTF-8) runs as the units
//! with a column map in the pipeline file and no schema override, and gives the same units and the
//! same assignments as the census-shaped layer it was made from.

use std::path::Path;

use riskcensus_ingest::Error as IngestError;
use riskcensus_pipeline::{Error, Run, join_and_score, validate};
use riskcensus_synth::BuildingGeometry;

use super::generate;

/// The generated township layer with its fields renamed as a downloaded district layer has them.
fn district_layer(dir: &Path) {
    let status = std::process::Command::new("ogr2ogr")
        .args([
            "-f",
            "ESRI Shapefile",
            "-lco",
            "ENCODING=UTF-8",
            "-overwrite",
        ])
        .args([
            "-sql",
            "SELECT xzqdm AS ADMINCODE, xzqmc AS NAME FROM xzqh_xz",
        ])
        .arg(dir.join("districts.shp"))
        .arg(dir.join("xzqh_xz.shp"))
        .status()
        .unwrap();
    assert!(status.success(), "ogr2ogr");
}

/// The generated pipeline with the district layer as its units; `map` is added under [units].
fn district_pipeline(dir: &Path, name: &str, map: &str) -> Run {
    let text = std::fs::read_to_string(dir.join("pipeline.toml"))
        .unwrap()
        .replace("path = \"xzqh_xz.shp\"", "path = \"districts.shp\"")
        .replace(
            "name_field = \"xzqmc\"\n",
            &format!("name_field = \"xzqmc\"\n{map}"),
        );
    assert!(text.contains("districts.shp"));
    std::fs::write(dir.join(name), text).unwrap();
    Run::load(&dir.join(name), Some(&dir.join(format!("out-{name}")))).unwrap()
}

#[test]
fn a_district_layer_with_its_own_field_names_runs_with_a_column_map() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    generate(dir, 1_000, BuildingGeometry::None);
    district_layer(dir);

    // Without a map: one error naming the layer's own fields and the line to add.
    let run = district_pipeline(dir, "bare.toml", "");
    let e = validate(&run, &mut |_, _, _| {})
        .err()
        .expect("fails without a map");
    let m = e.to_string();
    let Error::Ingest(IngestError::MissingFields { missing, .. }) = &e else {
        panic!("{m}");
    };
    let (unmatched, hint) = (&missing.unmatched, &missing.hint);
    assert_eq!(unmatched, "ADMINCODE, NAME", "{m}");
    assert!(m.contains("districts.shp") && m.contains("xzqdm"), "{m}");
    assert!(hint.contains("columns = {"), "{hint}");

    // With the map: the same units and the same assignments as the census-shaped layer.
    let base = Run::load(&dir.join("pipeline.toml"), Some(&dir.join("out-base"))).unwrap();
    let base_v = validate(&base, &mut |_, _, _| {}).unwrap();
    let run = district_pipeline(
        dir,
        "mapped.toml",
        "columns = { \"ADMINCODE\" = \"xzqdm\", \"NAME\" = \"xzqmc\" }\n",
    );
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let (units, base_units) = (&v.results[0], &base_v.results[0]);
    assert!(units.rows_clean > 0);
    assert_eq!(units.rows_read, base_units.rows_read);
    assert_eq!(units.rows_clean, base_units.rows_clean);
    assert_eq!(units.clean.rows.len(), base_units.clean.rows.len());
    for (a, b) in units.clean.rows.iter().zip(&base_units.clean.rows) {
        // The district layer carries code and name only (no 类型, no 面积).
        assert_eq!(
            a.values.iter().take(2).collect::<Vec<_>>(),
            b.values.iter().take(2).collect::<Vec<_>>(),
            "unit codes and names as in the census layer"
        );
        assert_eq!(a.geometry, b.geometry);
    }
    assert!(
        units.issues.iter().all(|i| i.rule != "unknown_column"),
        "mapped fields are not unknown columns"
    );
    let scored = join_and_score(&run, &v).unwrap();
    let base_scored = join_and_score(&base, &base_v).unwrap();
    assert_eq!(
        format!("{:?}", scored.assignments),
        format!("{:?}", base_scored.assignments)
    );
    assert!(scored.units.equals_missing(&base_scored.units));
}
