use gdal::Dataset;
use gdal::vector::{Geometry, LayerAccess};
use riskcensus_schema::Registry;
use riskcensus_synth::BuildingGeometry;

use crate::support;

fn townships(dir: &std::path::Path) -> Vec<(String, String, Geometry)> {
    let ds = Dataset::open(dir.join("xzqh_xz.shp")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let code = layer.defn().field_index("xzqdm").unwrap();
    let name = layer.defn().field_index("xzqmc").unwrap();
    layer
        .features()
        .map(|f| {
            (
                f.field_as_string(code).unwrap().unwrap(),
                f.field_as_string(name).unwrap().unwrap(),
                f.geometry().unwrap().clone(),
            )
        })
        .collect()
}

/// Every real township of the county, once, with its real name, as a valid polygon; together they
/// cover one region with no gaps and no overlaps (checked with GEOS, not with the generator's grid).
#[test]
fn townships_are_real_and_tile_the_county() {
    for county in ["530402", "110105", "500101", "130524"] {
        let dir = support::generate(county, 1_000, 7, 0.05, BuildingGeometry::None);
        let towns = townships(dir.path());
        let registry = Registry::nbs2023();
        let mut expected: Vec<(String, String)> = registry
            .townships_of(county)
            .iter()
            .map(|d| (d.code.clone(), d.name.clone()))
            .collect();
        let mut got: Vec<(String, String)> =
            towns.iter().map(|t| (t.0.clone(), t.1.clone())).collect();
        expected.sort();
        got.sort();
        assert_eq!(
            got, expected,
            "{county}: township codes and names must be the official ones"
        );

        let mut sum = 0.0;
        let mut union: Option<Geometry> = None;
        for (code, _, g) in &towns {
            assert!(g.is_valid(), "{county} {code}: invalid polygon");
            sum += g.area();
            union = Some(match union {
                None => g.clone(),
                Some(u) => u.union(g).unwrap(),
            });
        }
        for (a, (ca, _, ga)) in towns.iter().enumerate() {
            for (cb, _, gb) in towns.iter().skip(a + 1) {
                if let Some(i) = ga.intersection(gb) {
                    assert!(
                        i.area() < 1e-12,
                        "{county}: {ca} and {cb} overlap by {}",
                        i.area()
                    );
                }
            }
        }
        let union = union.unwrap();
        assert!(
            (union.area() - sum).abs() < 1e-9,
            "{county}: union {} vs sum {sum}",
            union.area()
        );
        // One piece, no holes: no gaps between townships.
        assert_eq!(
            union.geometry_name(),
            "POLYGON",
            "{county}: the county is not one polygon"
        );
        assert_eq!(
            union.geometry_count(),
            1,
            "{county}: the county has holes (gaps between townships)"
        );
        let env = union.envelope();
        assert!(
            env.MinX > 70.0 && env.MaxX < 136.0 && env.MinY > 15.0 && env.MaxY < 54.0,
            "{county}: not in China"
        );
    }
}

#[test]
fn vector_files_are_cgcs2000_and_gbk() {
    let dir = support::generate("530402", 1_000, 7, 0.05, BuildingGeometry::Point);
    for stem in ["xzqh_xz", "fwjz", "hz_earthquake"] {
        let cpg = std::fs::read_to_string(dir.path().join(format!("{stem}.cpg"))).unwrap();
        assert_eq!(cpg.trim(), "CP936", "{stem}.cpg");
        let ds = Dataset::open(dir.path().join(format!("{stem}.shp"))).unwrap();
        let srs = ds.layer(0).unwrap().spatial_ref().unwrap();
        assert_eq!(srs.auth_code().ok(), Some(4490), "{stem} is not EPSG:4490");
    }
    // The DBF itself holds GBK bytes, not UTF-8.
    let dbf = std::fs::read(dir.path().join("xzqh_xz.dbf")).unwrap();
    let name = &Registry::nbs2023().townships_of("530402")[0].name;
    let (gbk, _, _) = encoding_rs::GBK.encode(name);
    assert!(
        dbf.windows(gbk.len()).any(|w| w == &gbk[..]),
        "GBK bytes of {name} not in the DBF"
    );
    assert!(
        !dbf.windows(name.len()).any(|w| w == name.as_bytes()),
        "UTF-8 bytes of {name} in the DBF"
    );
}

/// Hazard zones and footprints are valid, except exactly those the ground truth calls invalid.
#[test]
fn polygons_are_valid_except_the_injected_ones() {
    let dir = support::generate("530402", 3_000, 9, 0.08, BuildingGeometry::Footprint);
    let truth = std::fs::read_to_string(dir.path().join("ground_truth.csv")).unwrap();
    let mut injected = 0;
    for stem in [
        "hz_earthquake",
        "hz_flood",
        "hz_landslide",
        "hz_forest_fire",
        "fwjz",
    ] {
        let file = format!("{stem}.shp");
        let expected: std::collections::BTreeSet<u64> = truth
            .lines()
            .filter(|l| l.contains(",invalid_polygon,") && l.contains(&file))
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        injected += expected.len();
        let ds = Dataset::open(dir.path().join(&file)).unwrap();
        let mut layer = ds.layer(0).unwrap();
        let invalid: std::collections::BTreeSet<u64> = layer
            .features()
            .enumerate()
            .filter(|(_, f)| !f.geometry().unwrap().is_valid())
            .map(|(k, _)| k as u64 + 1)
            .collect();
        assert_eq!(invalid, expected, "{file}");
    }
    assert!(injected > 0, "no invalid polygon was injected at 8%");
}
