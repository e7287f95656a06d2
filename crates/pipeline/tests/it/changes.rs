//! Division changes applied to records and unit layers alike, and per-unit indicator tables checked
//! like any census table: files shaped like the ones offices send (a GBK csv with Chinese headers,
//! an xlsx a national table was re-saved as, codes Excel turned into numbers).

use std::collections::BTreeSet;
use std::path::Path;

use polars::prelude::*;
use riskcensus_pipeline::{Run, join_and_score, validate};
use riskcensus_schema::Registry;
use riskcensus_synth::BuildingGeometry;

use crate::{generate, read_townships, write_townships};

const MODEL: &str = "[model]\nfile = \"MODELS/fema_nri.toml\"\n";

fn models() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../pipelines/models")
        .display()
        .to_string()
}

/// Rewrites the township layer with `code`'s row carrying `old` instead (a boundary file from
/// before the change), keeping the other rows as they are.
fn recode_township(dir: &Path, code: &str, old: &str) {
    let (rows, srs) = read_townships(&dir.join("xzqh_xz.shp"));
    let recoded = rows.into_iter().map(|(c, name, g)| {
        let c = if c == code { old.to_owned() } else { c };
        (c, name, g)
    });
    write_townships(&dir.join("old_xz.shp"), &srs, recoded);
}

/// The generator's change list: (old, new) per line.
fn changes(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("division_changes.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let mut p = l.split(',');
            (p.next().unwrap().into(), p.next().unwrap().into())
        })
        .collect()
}

/// Records coded with a retired township code are counted in its successor, the merger named;
/// a boundary layer still carrying the retired code grades that township under its successor, so
/// records coded either way find it.
#[test]
fn a_merger_moves_records_and_units_to_the_successor() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    generate(dir, 1_000, BuildingGeometry::None);
    let list = changes(dir);
    let run = Run::load(&dir.join("pipeline.toml"), Some(&dir.join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let s = join_and_score(&run, &v).unwrap();
    let fwjz = v.results.iter().find(|r| r.table == "fwjz").unwrap();
    let retired: Vec<_> = fwjz
        .issues
        .iter()
        .filter(|i| i.rule == "township_code_retired")
        .collect();
    assert!(!retired.is_empty(), "the generator writes retired codes");
    let units = &s.records["fwjz"];
    for issue in &retired {
        let (old, new) = list.iter().find(|(o, _)| *o == issue.value).unwrap();
        assert!(
            issue.message_en.contains(&format!("{old} became {new}"))
                && issue.message_en.contains(&format!("counted in {new}")),
            "{}",
            issue.message_en
        );
        assert!(issue.message_zh.contains("已撤销"), "{}", issue.message_zh);
        // The record is clean and counted in the successor.
        let k = fwjz
            .clean
            .rows
            .iter()
            .position(|r| Some(r.row) == issue.row)
            .unwrap_or_else(|| panic!("row {:?} was rejected", issue.row));
        assert_eq!(units.unit[k].as_deref(), Some(new.as_str()));
    }

    // The other direction: the boundary layer is from before the change.
    let (old, new) = list[0].clone();
    recode_township(dir, &new, &old);
    let text = std::fs::read_to_string(dir.join("pipeline.toml"))
        .unwrap()
        .replace("xzqh_xz.shp", "old_xz.shp");
    std::fs::write(dir.join("old.toml"), text).unwrap();
    let run = Run::load(&dir.join("old.toml"), Some(&dir.join("out-old"))).unwrap();
    let v2 = validate(&run, &mut |_, _, _| {}).unwrap();
    // The layer's own issues as before (the generator's damaged polygons), and one more.
    assert_eq!(v2.results[0].issues.len(), v.results[0].issues.len() + 1);
    let unit_issues: Vec<_> = v2.results[0]
        .issues
        .iter()
        .filter(|i| i.rule == "township_code_retired")
        .collect();
    assert_eq!(unit_issues.len(), 1, "{unit_issues:#?}");
    assert_eq!(unit_issues[0].rule, "township_code_retired");
    assert!(
        unit_issues[0]
            .message_en
            .contains(&format!("counted in {new}")),
        "{}",
        unit_issues[0].message_en
    );
    // Every record is judged as against the current layer: the same clean records, the same units.
    let fwjz2 = v2.results.iter().find(|r| r.table == "fwjz").unwrap();
    assert_eq!(fwjz2.rows_clean, fwjz.rows_clean);
    let s2 = join_and_score(&run, &v2).unwrap();
    assert_eq!(s2.records["fwjz"].unit, units.unit);
    let codes: BTreeSet<String> = unit_codes(&s2.units).into_iter().collect();
    assert!(codes.contains(&new) && !codes.contains(&old), "{codes:?}");
}

fn unit_codes(df: &DataFrame) -> Vec<String> {
    df.column("unit_code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|c| c.unwrap().to_owned())
        .collect()
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// An indicator table of the townships of 530402 as a county office would send it: a GBK csv with
/// Chinese headers, a text column, a code Excel wrote as a number, a retired code, a code of no
/// edition whose name is a current township, and a township entered twice.
#[test]
fn an_indicator_csv_is_checked_like_any_table() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let towns = Registry::nbs2023().townships_of("530402");
    assert!(towns.len() >= 6);
    let mut csv = String::from("乡镇代码,乡镇名称,eal,sovi,resl,备注\n");
    for (k, t) in towns.iter().enumerate() {
        let code = if k == 1 {
            // As Excel writes a 9-digit number in a csv it re-saved.
            format!("{}E+8", &format!("{}.{}", &t.code[..1], &t.code[1..]))
        } else {
            t.code.clone()
        };
        let note = if k % 2 == 0 { "山区" } else { "" };
        csv.push_str(&format!(
            "{code},{},{},{},{},{note}\n",
            t.name,
            1000 + 10 * k,
            40 + k,
            50
        ));
    }
    // Line numbers of the defective rows (header = line 1).
    let first = towns.len() + 2;
    csv.push_str("530402990,某某镇,10,10,10,\n"); // retired: merged into the first township
    csv.push_str(&format!("530402998,{},10,10,10,\n", towns[2].name)); // no edition has it
    csv.push_str(&format!("{},{},1,1,1,\n", towns[3].code, towns[3].name)); // twice
    std::fs::write(dir.join("指标.csv"), gbk(&csv)).unwrap();
    std::fs::write(
        dir.join("changes.csv"),
        format!("old_code,new_code\n530402990,{}\n", towns[0].code),
    )
    .unwrap();
    let pipeline = format!(
        "[run]\nname = \"ind\"\nregion_code = \"530402\"\nreference_year = 2020\n\n\
         [indicators]\npath = \"指标.csv\"\ncode_field = \"乡镇代码\"\nname_field = \"乡镇名称\"\n\n\
         [codes]\ndivision_changes = \"changes.csv\"\n\n[qc]\nmax_rejected_share = 0.5\n\n{}",
        MODEL.replace("MODELS", &models())
    );
    std::fs::write(dir.join("ind.toml"), pipeline).unwrap();
    let run = Run::load(&dir.join("ind.toml"), Some(&dir.join("out"))).unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let t = &v.results[0];
    assert_eq!(t.table, "indicators");
    // The file-level note: the csv is GBK, detected rather than declared.
    let file_notes: Vec<(&str, &str)> = t
        .issues
        .iter()
        .filter(|i| i.row.is_none())
        .map(|i| (i.rule, i.value.as_str()))
        .collect();
    assert_eq!(file_notes, [("encoding_detected", "GBK")]);
    let got: BTreeSet<(u32, &str)> = t
        .issues
        .iter()
        .filter_map(|i| Some((i.row?, i.rule)))
        .collect();
    let want: BTreeSet<(u32, &str)> = [
        (first as u32, "retired_unit_code"),
        (first as u32 + 1, "unknown_unit_code"),
        (first as u32 + 2, "duplicate_id"),
    ]
    .into();
    assert_eq!(got, want, "{:#?}", t.issues);
    let find = |rule: &str| t.issues.iter().find(|i| i.rule == rule).unwrap();
    assert!(
        find("retired_unit_code")
            .message_en
            .contains(&format!("530402990 became {}", towns[0].code)),
        "{}",
        find("retired_unit_code").message_en
    );
    assert!(
        find("unknown_unit_code")
            .message_en
            .contains(&format!("did you mean {}", towns[2].code)),
        "{}",
        find("unknown_unit_code").message_en
    );
    assert_eq!(t.rows_clean, towns.len() as u64);
    assert!(t.repaired_cells >= 1, "the number-as-code is repaired");

    // Scored: one row per township, codes as text, the text column kept as text.
    let s = join_and_score(&run, &v).unwrap();
    assert_eq!(s.units.height(), towns.len());
    let codes = unit_codes(&s.units);
    let want: Vec<String> = towns.iter().map(|t| t.code.clone()).collect();
    assert_eq!(codes, want);
    let notes = s.units.column("备注").unwrap();
    assert_eq!(notes.dtype(), &DataType::String);
    assert_eq!(notes.str().unwrap().get(0), Some("山区"));
}

/// A national county table re-saved by Excel: FIPS-style codes stored as numbers lost their
/// leading zero; the xlsx is read (title row and all), the zeros restored with a warning on exactly
/// those rows, and the run says the codes are not division codes rather than rejecting them all.
#[test]
fn an_indicator_workbook_gets_its_lost_leading_zeros_back() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "County indicators, 2020").unwrap();
    for (c, h) in ["GEOID", "NAME", "eal", "sovi", "resl", "STATE"]
        .iter()
        .enumerate()
    {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    let rows: [(&str, f64, &str); 5] = [
        ("", 1001.0, "Autauga"),
        ("", 1003.0, "Baldwin"),
        ("02013", 0.0, "Aleutians East"),
        ("02016", 0.0, "Aleutians West"),
        ("04001", 0.0, "Apache"),
    ];
    for (k, (text, number, name)) in rows.iter().enumerate() {
        let r = k as u32 + 2;
        if text.is_empty() {
            ws.write_number(r, 0, *number).unwrap();
        } else {
            ws.write_string(r, 0, *text).unwrap();
        }
        ws.write_string(r, 1, *name).unwrap();
        ws.write_number(r, 2, 1000.0 * (k + 1) as f64).unwrap();
        ws.write_number(r, 3, 40.0 + k as f64).unwrap();
        ws.write_number(r, 4, 50.0).unwrap();
        ws.write_string(r, 5, if k < 2 { "AL" } else { "AK" })
            .unwrap();
    }
    wb.save(dir.join("counties.xlsx")).unwrap();
    let pipeline = format!(
        "[run]\nname = \"us\"\nregion_code = \"530402\"\nreference_year = 2020\n\n\
         [indicators]\npath = \"counties.xlsx\"\ncode_field = \"GEOID\"\nname_field = \"NAME\"\n\n{}",
        MODEL.replace("MODELS", &models())
    );
    std::fs::write(dir.join("us.toml"), pipeline).unwrap();
    let run = Run::load(&dir.join("us.toml"), Some(&dir.join("out"))).unwrap();
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("not codes of the division list")),
        "{:?}",
        run.warnings
    );
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let t = &v.results[0];
    let got: Vec<(u32, &str, &str)> = t
        .issues
        .iter()
        .map(|i| (i.row.unwrap(), i.rule, i.value.as_str()))
        .collect();
    // Excel rows 3 and 4 (after the title and header rows).
    assert_eq!(
        got,
        vec![
            (3, "code_zeros_restored", "1001"),
            (4, "code_zeros_restored", "1003"),
        ]
    );
    assert_eq!(t.rows_clean, 5);
    let s = join_and_score(&run, &v).unwrap();
    riskcensus_pipeline::publish_scores(&run, &s).unwrap();
    let codes = unit_codes(&s.units);
    assert_eq!(codes, ["01001", "01003", "02013", "02016", "04001"]);
    // Units numbered by another scheme are not counties: one partition, the run's county, not one
    // folder per unit.
    let parts: Vec<String> = std::fs::read_dir(run.out_dir.join("parquet").join("unit_risk"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(parts, ["county=530402"]);
    assert_eq!(s.units.column("STATE").unwrap().dtype(), &DataType::String);
}

/// A run whose model can grade no unit (the indicator it needs is empty in every row) writes its
/// outputs for the office to see why, but no package: there is nothing to upload.
#[test]
fn a_run_that_grades_no_unit_writes_no_package() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let towns = Registry::nbs2023().townships_of("530402");
    let mut csv = String::from("unit_code,unit_name,eal,sovi,resl\n");
    for t in &towns {
        csv.push_str(&format!("{},{},,40,50\n", t.code, t.name));
    }
    std::fs::write(dir.join("ind.csv"), csv).unwrap();
    let pipeline = format!(
        "[run]\nname = \"empty\"\nregion_code = \"530402\"\nreference_year = 2020\n\n\
         [indicators]\npath = \"ind.csv\"\n\n{}",
        MODEL.replace("MODELS", &models())
    );
    std::fs::write(dir.join("p.toml"), pipeline).unwrap();
    let run = Run::load(&dir.join("p.toml"), Some(&dir.join("out"))).unwrap();
    let report = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    assert!(report.qc_passed);
    assert_eq!(report.package, None);
    let why = report.not_packaged.unwrap();
    assert!(
        why.contains(&format!("none of the {} units", towns.len())),
        "{why}"
    );
    let zips: Vec<_> = walk(&run.out_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    assert!(zips.is_empty(), "{zips:?}");
    assert!(run.out_dir.join("qc").join("summary.json").is_file());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every file under `dir`, with its bytes, except the cache itself.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == ".cache"))
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            (rel, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// A rerun with nothing changed reads and checks nothing again and writes the same bytes as a full
/// run; a changed input is read again, with the tables that depend on it and no others.
#[test]
fn an_incremental_rerun_equals_a_full_run_byte_for_byte() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    generate(dir, 1_000, BuildingGeometry::None);
    let pipeline = dir.join("pipeline.toml");
    let run = Run::load(&pipeline, Some(&dir.join("out"))).unwrap();
    let first = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    assert!(first.reused.is_empty());
    let full = tree(&run.out_dir);
    let second = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    let tables: BTreeSet<String> = run
        .inputs
        .iter()
        .map(|i| i.table.clone())
        .chain(run.units.iter().map(|u| u.table.clone()))
        .collect();
    assert_eq!(
        second.reused.iter().cloned().collect::<BTreeSet<_>>(),
        tables,
        "every table reused"
    );
    let again = tree(&run.out_dir);
    assert_eq!(
        full.keys().collect::<Vec<_>>(),
        again.keys().collect::<Vec<_>>()
    );
    for (k, v) in &full {
        assert!(again[k] == *v, "{k} differs after an incremental rerun");
    }

    // One school's figure edited: the schools are checked again, nothing else, and the outputs
    // equal a full run on the edited files (the same directory, its cache removed).
    let schools = dir.join("czt_xx.xlsx");
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&schools).unwrap();
    let sheet = calamine::Reader::sheet_names(&book)[0].clone();
    let range = calamine::Reader::worksheet_range(&mut book, &sheet).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let last = range.height() - 1;
    for (r, row) in range.rows().enumerate() {
        let edit = r == last;
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + range.start().unwrap().0, c as u16);
            match cell {
                calamine::Data::Float(f) if edit => ws.write_number(r, c, *f + 1.0).map(|_| ()),
                calamine::Data::Float(f) => ws.write_number(r, c, *f).map(|_| ()),
                calamine::Data::Int(i) => ws.write_number(r, c, *i as f64).map(|_| ()),
                calamine::Data::Empty => Ok(()),
                other => ws.write_string(r, c, other.to_string()).map(|_| ()),
            }
            .unwrap();
        }
    }
    wb.save(&schools).unwrap();
    let third = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    assert!(
        !third.reused.contains(&"czt_xx".to_owned()),
        "{:?}",
        third.reused
    );
    assert_eq!(third.reused.len(), tables.len() - 1, "{:?}", third.reused);
    let incremental = tree(&run.out_dir);
    std::fs::remove_dir_all(run.out_dir.join(".cache")).unwrap();
    let full_again = riskcensus_pipeline::run(&run, &mut |_, _, _| {}).unwrap();
    assert!(full_again.reused.is_empty());
    let fresh_tree = tree(&run.out_dir);
    assert_eq!(
        incremental.keys().collect::<Vec<_>>(),
        fresh_tree.keys().collect::<Vec<_>>()
    );
    for (k, v) in &incremental {
        assert!(fresh_tree[k] == *v, "{k} differs from a full run");
    }
}
