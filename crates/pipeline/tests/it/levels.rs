//! Runs at any level: a city run over two generated counties of 曲靖市, its package named for the
//! city, every partition a real county.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use riskcensus_pipeline::{Run, validate};
use riskcensus_synth::Options;

const CITY: &str = "530300";
const CITY_PREFIX: &str = "5303";
const COUNTIES: [&str; 2] = ["530302", "530381"];

/// Generates a county into `dir/<code>` (1,000 buildings, the usual defects).
fn county(dir: &Path, code: &str, seed: u64) {
    let mut o = Options::new(code, dir.join(code));
    o.buildings = 1_000;
    o.seed = seed;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
}

/// The townships of every county in one layer, as a city office would hold them.
fn merge_townships(dir: &Path, out: &Path) {
    let shp = |code: &str| dir.join(code).join("xzqh_xz.shp");
    let srs = crate::read_townships(&shp(COUNTIES[0])).1;
    let rows = COUNTIES
        .iter()
        .flat_map(|code| crate::read_townships(&shp(code)).0);
    crate::write_townships(out, &srs, rows);
}

/// A city pipeline: the merged township layer, both counties' inputs and division changes.
fn city_pipeline(dir: &Path, region_name: &str) -> std::path::PathBuf {
    let mut changes = String::from("old_code,new_code,new_name,change\n");
    let mut inputs = String::new();
    for code in COUNTIES {
        let c = std::fs::read_to_string(dir.join(code).join("division_changes.csv")).unwrap();
        for line in c.lines().skip(1) {
            changes.push_str(line);
            changes.push('\n');
        }
        let pipeline = std::fs::read_to_string(dir.join(code).join("pipeline.toml")).unwrap();
        let toml: toml::Value = toml::from_str(&pipeline).unwrap();
        for i in toml["inputs"].as_array().unwrap() {
            inputs.push_str(&format!(
                "[[inputs]]\ntable = \"{}\"\npath = \"{code}/{}\"\n\n",
                i["table"].as_str().unwrap(),
                i["path"].as_str().unwrap()
            ));
        }
    }
    std::fs::write(dir.join("division_changes.csv"), changes).unwrap();
    std::fs::copy(
        dir.join(COUNTIES[0]).join("model.toml"),
        dir.join("model.toml"),
    )
    .unwrap();
    merge_townships(dir, &dir.join("city_xz.shp"));
    let text = format!(
        "[run]\nname = \"city\"\nregion_code = \"{CITY}\"\nregion_name = \"{region_name}\"\nreference_year = 2020\n\n\
         [codes]\ndivision_changes = \"division_changes.csv\"\n\n\
         [units]\ntable = \"xzqh_xz\"\npath = \"city_xz.shp\"\ncode_field = \"xzqdm\"\nname_field = \"xzqmc\"\n\n\
         {inputs}[model]\nfile = \"model.toml\"\n"
    );
    let path = dir.join("city.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every `county=<code>` folder of each published table, and the unit codes found in each.
fn partitions(parquet: &Path) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    use polars::prelude::*;
    let mut out = BTreeMap::new();
    for table in std::fs::read_dir(parquet).unwrap() {
        let table = table.unwrap().path();
        if !table.is_dir() {
            continue;
        }
        let mut parts = BTreeMap::new();
        for part in std::fs::read_dir(&table).unwrap() {
            let part = part.unwrap().path();
            let name = part.file_name().unwrap().to_string_lossy().into_owned();
            let f = std::fs::File::open(part.join("part-0.parquet")).unwrap();
            let df = ParquetReader::new(f).finish().unwrap();
            let codes = df
                .column("unit_code")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .flatten()
                .map(str::to_owned)
                .collect();
            parts.insert(name, codes);
        }
        let name = table.file_name().unwrap().to_string_lossy().into_owned();
        out.insert(name, parts);
    }
    out
}

/// A city run over two of its counties: the package is named for the city (with the registry's
/// name, and a warning for the district name the pipeline gave), every township of either county
/// is in the region, and records, issues and units are partitioned by their own county, never by
/// the city code.
#[test]
fn a_city_run_is_named_for_the_city_and_partitioned_by_county() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    county(dir, COUNTIES[0], 7);
    county(dir, COUNTIES[1], 8);
    let pipeline = city_pipeline(dir, "麒麟区");
    let run = Run::load(&pipeline, Some(&dir.join("out"))).unwrap();
    assert_eq!(
        (run.region_code.as_str(), run.region_name.as_str()),
        (CITY, "曲靖市")
    );
    // The region's name, and the census model's optional indicators this run has no tables for.
    assert_eq!(run.warnings.len(), 2, "{:?}", run.warnings);
    assert!(run.warnings[0].contains("麒麟区"), "{}", run.warnings[0]);
    assert!(
        run.warnings[1].contains("optional indicator(s) left out")
            && run.warnings[1]
                .contains("emergency_shelter_per_head (no column emergency_shelter_capacity)"),
        "{}",
        run.warnings[1]
    );

    let report = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    let package = report.package.unwrap();
    assert_eq!(
        package.file_name().unwrap().to_string_lossy(),
        "530300_曲靖市_2020.zip"
    );
    let qc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.out_dir.join("qc/summary.json")).unwrap())
            .unwrap();
    assert_eq!(qc["warnings"][0].as_str(), Some(run.warnings[0].as_str()));

    // Every township of either county is in the city: the city run rejects exactly the records
    // each county's own run rejects (the township layers and ids repeated across the two generated counties aside: the
    // generator numbers each county from 1).
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let rejected =
        |results: &[riskcensus_qc::TableResult], prefix: &str| -> BTreeSet<(String, u32)> {
            results
                .iter()
                .filter(|r| r.table != "xzqh_xz")
                .flat_map(|r| &r.issues)
                .filter(|i| {
                    i.severity == riskcensus_schema::Severity::Error && i.rule != "duplicate_id"
                })
                .filter_map(|i| Some((format!("{prefix}{}", i.file), i.row?)))
                .collect()
        };
    let mut expected = BTreeSet::new();
    for code in COUNTIES {
        let own = Run::load(
            &dir.join(code).join("pipeline.toml"),
            Some(&dir.join(code).join("out")),
        )
        .unwrap();
        let results = validate(&own, &mut |_, _, _| {}).unwrap().results;
        expected.extend(rejected(&results, &format!("{code}/")));
    }
    let found = rejected(&v.results, "");
    assert!(!expected.is_empty());
    assert_eq!(found, expected);
    assert!(
        v.results
            .iter()
            .flat_map(|r| &r.issues)
            .all(|i| i.rule != "township_outside_region"),
        "a township of the city was called outside it"
    );

    // Partitions: the two counties, each holding only its own units; a hazard zone goes to the
    // county it overlaps most. An issue of a record with no valid township goes to the county its
    // value names (an unknown township code of 530381), else (no code to go by) to
    // `county=unassigned`, never the city's code.
    // The city's other counties are not in the township layer: each of their townships is a
    // unit_missing_from_layer warning, partitioned under its own county.
    let missing: Vec<&str> = v.results[0]
        .issues
        .iter()
        .filter(|i| i.rule == "unit_missing_from_layer")
        .map(|i| i.value.as_str())
        .collect();
    assert!(!missing.is_empty());
    assert!(
        missing
            .iter()
            .all(|c| c.starts_with(CITY_PREFIX) && !COUNTIES.iter().any(|k| c.starts_with(k))),
        "{missing:?}"
    );
    let missing_counties: BTreeSet<&str> = missing.iter().map(|c| &c[..6]).collect();
    let parts = partitions(&run.out_dir.join("parquet"));
    for (table, folders) in &parts {
        assert!(
            folders.keys().all(|f| (table == "issues"
                && (f == "county=unassigned" || missing_counties.contains(&f["county=".len()..])))
                || COUNTIES.contains(&&f["county=".len()..])),
            "{table}: {:?}",
            folders.keys()
        );
    }
    assert!(parts["hz_flood"].contains_key("county=530302"));
    for table in ["fwjz", "czt_xx", "issues", "unit_risk"] {
        let mut expected = BTreeSet::from(["county=530302", "county=530381"]);
        let others: Vec<String> = missing_counties
            .iter()
            .map(|c| format!("county={c}"))
            .collect();
        if table == "issues" {
            expected.insert("county=unassigned");
            expected.extend(others.iter().map(String::as_str));
        }
        let folders: BTreeSet<&str> = parts[table].keys().map(String::as_str).collect();
        assert_eq!(folders, expected, "{table}");
        for (folder, codes) in &parts[table] {
            let county = folder.strip_prefix("county=").unwrap();
            assert!(
                codes.iter().all(|c| c.starts_with(county)),
                "{table}/{folder}: {codes:?}"
            );
        }
    }
    assert!(parts["unit_risk"].values().all(|codes| !codes.is_empty()));
    {
        use polars::prelude::*;
        let f = std::fs::File::open(
            run.out_dir
                .join("parquet/issues/county=unassigned/part-0.parquet"),
        )
        .unwrap();
        let df = ParquetReader::new(f).finish().unwrap();
        let rules = df.column("rule").unwrap().str().unwrap().clone();
        let values = df.column("value").unwrap().str().unwrap().clone();
        for (rule, value) in rules.iter().zip(values.iter()) {
            assert!(
                !(rule == Some("unknown_township_code")
                    && COUNTIES.iter().any(|c| value.unwrap_or("").starts_with(c))),
                "{rule:?} {value:?} names its county but is unassigned"
            );
        }
    }
}

/// A run of the shipped NRI indicator example under another region code and name: its package.
fn indicator_package(dir: &Path, region_code: &str) -> std::path::PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(repo.join("pipelines/nri_example.toml"))
        .unwrap()
        .replace(
            "region_code = \"530381\"",
            &format!("region_code = \"{region_code}\""),
        )
        .replace("../fixtures/", &format!("{}/fixtures/", repo.display()))
        .replace(
            "\"models/",
            &format!("\"{}/pipelines/models/", repo.display()),
        );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("nri.toml");
    std::fs::write(&path, text).unwrap();
    let run = Run::load(&path, Some(&dir.join("out"))).unwrap();
    riskcensus_pipeline::run(&run, &mut |_, _, _| {})
        .unwrap()
        .package
        .unwrap()
}

/// Two packages holding the same units (the same indicator table run for two counties) are
/// refused, naming both packages and a shared unit, where the merge stacked every unit twice.
#[test]
fn merging_packages_whose_units_overlap_is_refused() {
    use riskcensus_pipeline::merge::merge;
    let d = tempfile::tempdir().unwrap();
    let a = indicator_package(&d.path().join("a"), "530381");
    let b = indicator_package(&d.path().join("b"), "530302");
    let e = merge(&[a.clone(), b.clone()], &d.path().join("province"), None)
        .unwrap_err()
        .to_string();
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/indicators/nri_example.csv"),
    )
    .unwrap()
    .lines()
    .nth(1)
    .unwrap()
    .split(',')
    .next()
    .unwrap()
    .to_owned();
    assert!(
        e.contains("overlap")
            && e.contains(&a.display().to_string())
            && e.contains(&b.display().to_string())
            && e.contains(&format!("unit {unit} and 3 more")),
        "{e}"
    );
    // Each alone still merges.
    merge(&[a], &d.path().join("alone"), None).unwrap();
}
