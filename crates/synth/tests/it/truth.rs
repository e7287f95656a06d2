//! The ground truth matches what was written: a small independent checker reads every row of every
//! spreadsheet back with calamine, finds every defect it can see, and must find exactly the rows and
//! defects `ground_truth.csv` lists, no more and no fewer.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use calamine::Data;
use gdal::Dataset;
use gdal::vector::{Geometry, LayerAccess};
use riskcensus_schema::Registry;
use riskcensus_synth::BuildingGeometry;
use riskcensus_synth::gcj02::gcj02_to_wgs84;
use riskcensus_synth::table::{BadValue, Kind, TableSpec};
use riskcensus_synth::tables;

use crate::support;

type Finding = (String, String); // (field, defect)

struct Truth {
    /// (file, row) → findings; row None = file level.
    rows: BTreeMap<(String, Option<u32>), BTreeSet<Finding>>,
}

fn read_truth(dir: &Path) -> Truth {
    let mut reader = csv::Reader::from_path(dir.join("ground_truth.csv")).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().take(4).collect::<Vec<_>>(),
        ["table", "source_row", "field", "defect"]
    );
    let mut rows: BTreeMap<(String, Option<u32>), BTreeSet<Finding>> = BTreeMap::new();
    for r in reader.records() {
        let r = r.unwrap();
        let row = if r[1].is_empty() {
            None
        } else {
            Some(r[1].parse().unwrap())
        };
        let expect = &r[5];
        let defect = &r[3];
        let repaired = [
            "title_rows",
            "fullwidth_digits",
            "number_as_text",
            "trailing_space",
            "excel_date_serial",
        ]
        .contains(&defect);
        assert_eq!(expect, if repaired { "repaired" } else { "issue" }, "{r:?}");
        rows.entry((r[4].to_owned(), row))
            .or_default()
            .insert((r[2].to_owned(), defect.to_owned()));
    }
    Truth { rows }
}

struct Townships {
    polys: Vec<(String, Geometry, gdal::vector::Envelope)>,
}

impl Townships {
    fn load(dir: &Path) -> Townships {
        let ds = Dataset::open(dir.join("xzqh_xz.shp")).unwrap();
        let mut layer = ds.layer(0).unwrap();
        let idx = layer.defn().field_index("xzqdm").unwrap();
        let polys = layer
            .features()
            .map(|f| {
                let g = f.geometry().unwrap().clone();
                let env = g.envelope();
                (f.field_as_string(idx).unwrap().unwrap(), g, env)
            })
            .collect();
        Townships { polys }
    }

    fn at(&self, lon: f64, lat: f64) -> Option<&str> {
        let p = Geometry::from_wkt(&format!("POINT ({lon} {lat})")).unwrap();
        self.polys
            .iter()
            .find(|(_, g, e)| {
                lon >= e.MinX && lon <= e.MaxX && lat >= e.MinY && lat <= e.MaxY && g.contains(&p)
            })
            .map(|(c, _, _)| c.as_str())
    }
}

/// A number, including one stored as text or typed in full-width digits (the readers repair those).
fn num(c: &Data) -> Option<f64> {
    match c {
        Data::Float(v) => Some(*v),
        Data::Int(v) => Some(*v as f64),
        Data::String(s) => s
            .chars()
            .map(|ch| match ch {
                '０'..='９' => char::from_u32(ch as u32 - 0xFF10 + '0' as u32).unwrap(),
                '．' => '.',
                _ => ch,
            })
            .collect::<String>()
            .parse()
            .ok(),
        _ => None,
    }
}

fn text(c: &Data) -> Option<String> {
    match c {
        Data::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Every defect the checker can see in one row.
#[allow(clippy::too_many_arguments)]
fn check_row(
    spec: &TableSpec,
    cells: &[Data],
    towns: &Townships,
    stale: &HashSet<String>,
    county: &str,
    seen_ids: &mut HashSet<String>,
    year: i64,
) -> BTreeSet<Finding> {
    let mut found = BTreeSet::new();
    let registry = Registry::nbs2023();
    let r = &spec.roles;
    let cell = |k: usize| cells.get(k).cloned().unwrap_or(Data::Empty);
    let code = |k: usize| spec.columns[k].code.clone();
    for (k, c) in spec.columns.iter().enumerate() {
        let v = cell(k);
        match (c.kind, &v) {
            (Kind::Text, Data::String(s)) if s != s.trim() => {
                found.insert((code(k), "trailing_space".into()));
            }
            (Kind::Int | Kind::Float, Data::String(s)) => {
                let defect = if s.chars().any(|ch| ('０'..='９').contains(&ch)) {
                    "fullwidth_digits"
                } else {
                    "number_as_text"
                };
                found.insert((code(k), defect.into()));
            }
            (Kind::Date, Data::Float(_)) => {
                found.insert((code(k), "excel_date_serial".into()));
            }
            (Kind::Int | Kind::Float, Data::DateTime(_)) | (Kind::Date, Data::String(_)) => {
                panic!("{}: unexpected cell {v:?}", c.code)
            }
            _ => {}
        }
        if r.required.contains(&k) && v == Data::Empty {
            found.insert((code(k), "missing_required".into()));
        }
    }
    let classify = |c: &str| -> Option<&'static str> {
        if stale.contains(c) {
            Some("township_code_retired")
        } else if c.len() != 9 || !c.starts_with(county) || !registry.contains(c) {
            Some("unknown_township_code")
        } else {
            None
        }
    };
    let mut declared: Option<String> = None;
    if let Some(kt) = r.township {
        let t = text(&cell(kt)).unwrap_or_default();
        match classify(&t) {
            Some(d) => {
                found.insert((code(kt), d.into()));
            }
            None => declared = Some(t.clone()),
        }
        if let Some(kv) = r.village {
            let v = text(&cell(kv)).unwrap_or_default();
            assert_eq!(v.len(), 12, "village code {v}");
            if !v.starts_with(&t) {
                found.insert((code(kv), "village_prefix_mismatch".into()));
            }
        }
    } else if let Some(kv) = r.village {
        let v = text(&cell(kv)).unwrap_or_default();
        match classify(&v[..9]) {
            Some(d) => {
                found.insert((code(kv), d.into()));
            }
            None => declared = Some(v[..9].to_owned()),
        }
    }
    if let (Some(klon), Some(klat)) = (r.lon, r.lat) {
        let (lon, lat) = (num(&cell(klon)).unwrap(), num(&cell(klat)).unwrap());
        if lat > 90.0 || lon < lat {
            found.insert((code(klon), "swapped_lon_lat".into()));
        } else if let Some(d) = &declared {
            let at = towns.at(lon, lat);
            if at != Some(d.as_str()) {
                let (bx, by) = gcj02_to_wgs84(lon, lat);
                let defect = if towns.at(bx, by) == Some(d.as_str()) {
                    "gcj02_offset"
                } else {
                    "point_outside_township"
                };
                found.insert((code(klon), defect.into()));
            }
        }
    }
    if let Some(ki) = r.id {
        let id = text(&cell(ki)).unwrap();
        if !seen_ids.insert(id) {
            found.insert((code(ki), "duplicate_id".into()));
        }
        // Entered twice: every field but the id equal to an earlier record's.
        let rest: String = cells
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != ki)
            .map(|(_, c)| format!("{c:?}"))
            .collect::<Vec<_>>()
            .join("\u{1}");
        if r.lon.is_some() && !seen_ids.insert(format!("record:{rest}")) {
            found.insert((code(ki), "duplicate_record".into()));
        }
    }
    for &(k, bad) in &r.ranges {
        let Some(v) = num(&cell(k)) else { continue };
        let out = match bad {
            BadValue::Zero => v < 1.0,
            BadValue::Negative => v < 0.0,
            BadValue::FutureYear => v > year as f64,
        };
        if out {
            found.insert((code(k), "out_of_range".into()));
        }
    }
    found
}

#[test]
fn every_written_defect_is_in_the_ground_truth_and_nothing_else() {
    let county = "530402";
    let dir = support::generate(county, 2_000, 7, 0.05, BuildingGeometry::Point);
    let truth = read_truth(dir.path());
    let towns = Townships::load(dir.path());
    let stale: HashSet<String> = std::fs::read_to_string(dir.path().join("division_changes.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    let specs = [
        tables::buildings_spec(),
        tables::schools_spec(),
        tables::medical_spec(),
        tables::population_spec(),
        tables::resources_spec(),
        tables::hazard_points_spec(),
    ];
    let mut per_defect: BTreeMap<String, usize> = BTreeMap::new();
    let mut checked_rows = 0;
    for spec in &specs {
        let file = format!("{}.xlsx", spec.file_stem);
        let sheet = support::read_xlsx(&dir.path().join(&file));
        let labels: Vec<&str> = spec.columns.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(sheet.labels, labels, "{file}: header");
        assert_eq!(
            sheet.header_row, 4,
            "{file}: title, note and group rows above the header"
        );
        assert!(
            truth
                .rows
                .get(&(file.clone(), None))
                .is_some_and(|f| f.contains(&(String::new(), "title_rows".into()))),
            "{file}: title rows not in the truth"
        );
        let mut seen = HashSet::new();
        for (row, cells) in &sheet.rows {
            let found = check_row(spec, cells, &towns, &stale, county, &mut seen, 2020);
            let expected = truth
                .rows
                .get(&(file.clone(), Some(*row)))
                .cloned()
                .unwrap_or_default();
            assert_eq!(found, expected, "{file} row {row}: {cells:?}");
            assert!(found.len() <= 1, "{file} row {row}: one defect a row");
            for (_, d) in &found {
                *per_defect.entry(d.clone()).or_default() += 1;
            }
            checked_rows += 1;
        }
        // No truth row points past the data.
        let last = sheet.rows.last().map(|r| r.0).unwrap_or(0);
        assert!(
            truth
                .rows
                .keys()
                .filter(|(f, _)| f == &file)
                .all(|(_, r)| r.is_none_or(|r| r <= last && r > 4))
        );
    }
    assert!(checked_rows > 2_000);
    for d in [
        "fullwidth_digits",
        "number_as_text",
        "trailing_space",
        "excel_date_serial",
        "missing_required",
        "unknown_township_code",
        "township_code_retired",
        "village_prefix_mismatch",
        "swapped_lon_lat",
        "point_outside_township",
        "gcj02_offset",
        "duplicate_id",
        "out_of_range",
        "duplicate_record",
    ] {
        assert!(
            per_defect.get(d).copied().unwrap_or(0) > 0,
            "no {d} at 5% of 2,000 buildings: {per_defect:?}"
        );
    }

    // The point shapefile: same records in the same order, same points; its truth rows are the
    // xlsx's reported (not repaired) defects, by feature index.
    let sheet = support::read_xlsx(&dir.path().join("fwjz.xlsx"));
    let ds = Dataset::open(dir.path().join("fwjz.shp")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let points: Vec<(f64, f64)> = layer
        .features()
        .map(|f| {
            let p = f.geometry().unwrap().get_point(0);
            (p.0, p.1)
        })
        .collect();
    assert_eq!(points.len(), sheet.rows.len());
    for (k, ((row, cells), p)) in sheet.rows.iter().zip(&points).enumerate() {
        assert_eq!(
            (num(&cells[5]).unwrap(), num(&cells[6]).unwrap()),
            *p,
            "row {row}"
        );
        let x: BTreeSet<String> = truth
            .rows
            .get(&("fwjz.xlsx".into(), Some(*row)))
            .into_iter()
            .flatten()
            .filter(|(_, d)| {
                ![
                    "fullwidth_digits",
                    "number_as_text",
                    "trailing_space",
                    "excel_date_serial",
                ]
                .contains(&d.as_str())
            })
            .map(|(_, d)| d.clone())
            .collect();
        let v: BTreeSet<String> = truth
            .rows
            .get(&("fwjz.shp".into(), Some(k as u32 + 1)))
            .into_iter()
            .flatten()
            .map(|(_, d)| d.clone())
            .collect();
        assert_eq!(x, v, "feature {}", k + 1);
    }
}

/// Regression: a duplicate must repeat an id that is really in an earlier row. At 1M buildings a
/// duplicate once copied the id of a row whose own id had been replaced, so nothing was repeated.
#[test]
fn duplicate_ids_repeat_an_id_present_earlier() {
    let dir = support::generate("530402", 5_000, 3, 0.5, BuildingGeometry::None);
    let truth = read_truth(dir.path());
    let sheet = support::read_xlsx(&dir.path().join("fwjz.xlsx"));
    let mut seen = HashSet::new();
    let mut dups = 0;
    for (row, cells) in &sheet.rows {
        let id = text(&cells[0]).unwrap();
        let is_dup = truth
            .rows
            .get(&("fwjz.xlsx".to_owned(), Some(*row)))
            .is_some_and(|f| f.iter().any(|(_, d)| d == "duplicate_id"));
        assert_eq!(!seen.insert(id.clone()), is_dup, "row {row} id {id}");
        dups += usize::from(is_dup);
    }
    assert!(dups > 100, "{dups}");
}
