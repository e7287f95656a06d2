//! `diff` and `run --previous`: a county against itself is no change; a resubmission with 50 edited,
//! 20 added and 10 removed buildings is reported as exactly those, and its package links the
//! previous one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use riskcensus_pipeline::diff::{Diff, diff};
use riskcensus_pipeline::{Run, RunOptions, run_with};
use riskcensus_schema::SchemaSet;

/// The buildings sheet as CSV rows (header first), as an office exports it.
fn sheet_rows(xlsx: &Path) -> Vec<Vec<String>> {
    let mut wb = open_workbook_auto(xlsx).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.clone(),
                    Data::Float(v) if v.fract() == 0.0 => format!("{v:.0}"),
                    Data::Float(v) => v.to_string(),
                    Data::Int(v) => v.to_string(),
                    Data::DateTime(d) => {
                        let (y, m, dd) = excel_date(d.as_f64());
                        format!("{y:04}-{m:02}-{dd:02}")
                    }
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// Civil date of an Excel serial day (1900 system, after March 1900).
fn excel_date(serial: f64) -> (i64, i64, i64) {
    let z = serial.floor() as i64 - 25569 + 719468; // days since 1970-01-01, shifted to 0000-03-01
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn write_csv(path: &Path, rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

/// What the test helper did to the buildings: keys edited (with old and new floor area), added and
/// removed.
struct Edits {
    edited: Vec<(String, String, String)>,
    added: BTreeSet<String>,
    removed: BTreeSet<String>,
}

/// Edits the buildings CSV as a county resubmits it: 50 floor areas corrected, 20 buildings added
/// (surveyed late: copies of existing ones with a new number and area), 10 removed (demolished).
fn resubmit(csv_path: &Path) -> Edits {
    let mut rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(csv_path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let header = rows[0].clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, area) = (col("房屋编号"), col("建筑面积（平方米）"));
    let mut edits = Edits {
        edited: Vec::new(),
        added: BTreeSet::new(),
        removed: BTreeSet::new(),
    };
    for k in 0..50 {
        let r = &mut rows[1 + k * 7];
        let old = r[area].clone();
        let new = format!("{:.1}", old.parse::<f64>().unwrap() + 12.5);
        r[area] = new.clone();
        edits.edited.push((r[id].clone(), old, new));
    }
    for k in 0..20 {
        let mut r = rows[2 + k * 11].clone();
        r[id] = format!("999999{:09}", k);
        r[area] = format!("{:.1}", r[area].parse::<f64>().unwrap() + 0.5);
        edits.added.insert(r[id].clone());
        rows.push(r);
    }
    // Removed from rows that were not edited (1 + 7k) nor copied.
    let removed: Vec<usize> = (0..10).map(|k| 400 + k * 3).collect();
    for &r in removed.iter().rev() {
        edits.removed.insert(rows[r][id].clone());
        rows.remove(r);
    }
    write_csv(csv_path, &rows);
    edits
}

/// A clean generated county whose buildings are read from a CSV (so a test can edit them).
fn csv_county(dir: &Path) -> PathBuf {
    let mut o = riskcensus_synth::Options::new("530402", dir);
    o.buildings = 2_000;
    o.seed = 11;
    o.defect_rate = 0.0;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
    write_csv(&dir.join("fwjz.csv"), &sheet_rows(&dir.join("fwjz.xlsx")));
    let p = dir.join("pipeline.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains("path = \"fwjz.xlsx\""));
    std::fs::write(
        &p,
        text.replace("path = \"fwjz.xlsx\"", "path = \"fwjz.csv\""),
    )
    .unwrap();
    p
}

fn run_to(pipeline: &Path, out: &Path, previous: Option<PathBuf>) -> (PathBuf, PathBuf) {
    let run = Run::load(pipeline, Some(out)).unwrap();
    let r = run_with(&run, &RunOptions { previous }, &mut |_, _, _| {}).unwrap();
    (r.package.unwrap(), r.out_dir)
}

fn assert_no_change(d: &Diff, what: &str) {
    assert!(d.is_empty(), "{what}: {:#?}", d.summary_lines());
    assert!(
        d.tables
            .iter()
            .any(|t| t.table == "fwjz" && t.old_records > 1_900)
    );
}

#[test]
fn a_county_diffed_with_itself_is_no_change() {
    let d = tempfile::tempdir().unwrap();
    let pipeline = csv_county(d.path());
    let (pkg, out) = run_to(&pipeline, &d.path().join("out"), None);
    assert_no_change(&diff(&pkg, &pkg).unwrap(), "package against itself");
    // The output directory and the package of one run are the same version.
    assert_no_change(&diff(&out, &pkg).unwrap(), "directory against its package");
}

#[test]
fn edited_added_and_removed_records_are_reported_exactly_and_the_package_links_its_previous() {
    let d = tempfile::tempdir().unwrap();
    let pipeline = csv_county(d.path());
    let (v1, _) = run_to(&pipeline, &d.path().join("out1"), None);
    let edits = resubmit(&d.path().join("fwjz.csv"));
    let (v2, out2) = run_to(&pipeline, &d.path().join("out2"), Some(v1.clone()));
    let result = diff(&v1, &v2).unwrap();

    let set = SchemaSet::builtin().unwrap();
    let fwjz = set.table("fwjz").unwrap();
    let names = riskcensus_pipeline::column_names(fwjz);
    let area_col = &names[fwjz.field_index("jzmj").unwrap()];
    let t = result.tables.iter().find(|t| t.table == "fwjz").unwrap();
    assert_eq!(t.key_columns, ["building_id"]);
    assert_eq!(
        t.added.iter().cloned().collect::<BTreeSet<_>>(),
        edits.added
    );
    assert_eq!(t.added.len(), 20);
    assert_eq!(
        t.removed.iter().cloned().collect::<BTreeSet<_>>(),
        edits.removed
    );
    assert_eq!(t.removed.len(), 10);
    assert_eq!(
        t.changed.len(),
        50,
        "{:#?}",
        &t.changed[..3.min(t.changed.len())]
    );
    for (key, old, new) in &edits.edited {
        let c = t.changed.iter().find(|c| &c.key == key).unwrap();
        assert_eq!(c.fields.len(), 1, "{key}: {:?}", c.fields);
        let f = &c.fields[0];
        assert_eq!(&f.field, area_col);
        assert_eq!(f.old.parse::<f64>().unwrap(), old.parse::<f64>().unwrap());
        assert_eq!(f.new.parse::<f64>().unwrap(), new.parse::<f64>().unwrap());
    }
    assert_eq!(t.new_records, t.old_records + 20 - 10);
    for other in result.tables.iter().filter(|t| t.table != "fwjz") {
        assert!(other.is_empty(), "{}: {other:?}", other.table);
    }
    let inputs: Vec<(&str, &str)> = result
        .inputs
        .iter()
        .map(|i| (i.path.as_str(), i.change))
        .collect();
    assert_eq!(inputs, [("fwjz.csv", "changed")]);
    let qc = result.qc.iter().find(|q| q.table == "fwjz").unwrap();
    assert_eq!(qc.new_rows_read.unwrap(), qc.old_rows_read.unwrap() + 10);
    // More floor area and buildings move some township's scores.
    assert!(!result.units.is_empty());

    // The new package carries changes/ and the previous package's SHA-256, and verifies.
    assert!(riskcensus_pipeline::package::verify(&v2).is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let manifest =
        riskcensus_pipeline::package::unpack(&v2, tmp.path(), &|n| n.starts_with("changes/"))
            .unwrap();
    let (_, sha1) = riskcensus_pipeline::sha256_file(&v1).unwrap();
    assert_eq!(
        manifest.previous_package_sha256.as_deref(),
        Some(sha1.as_str())
    );
    let inside: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("changes/diff.json")).unwrap())
            .unwrap();
    let inside_fwjz = inside["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "fwjz")
        .unwrap();
    assert_eq!(inside_fwjz["changed"].as_array().unwrap().len(), 50);
    assert_eq!(inside["old"]["package_sha256"], sha1.as_str());
    let mut wb = open_workbook_auto(tmp.path().join("changes/diff.xlsx")).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "概要",
            "各表汇总",
            "记录变化",
            "单元风险变化",
            "质检变化",
            "问题变化",
            "输入文件变化"
        ]
    );
    let records = wb.worksheet_range("记录变化").unwrap();
    assert_eq!(records.height(), 1 + 20 + 10 + 50);
    assert!(out2.join("changes/diff.json").is_file());
    // A package without --previous links nothing (and its manifest is as before).
    let tmp1 = tempfile::tempdir().unwrap();
    let m1 = riskcensus_pipeline::package::unpack(&v1, tmp1.path(), &|_| false).unwrap();
    assert_eq!(m1.previous_package_sha256, None);
}
