//! The review loop on a generated county: a reviewer's choices in the report workbook are imported,
//! a rerun honours them, and an edited record's disposition comes back stale.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use riskcensus_pipeline::{Run, Validated, review, validate};
use riskcensus_qc::review::{Decision, Status};
use riskcensus_schema::Severity;
use riskcensus_synth::BuildingGeometry;

use super::generate;

/// An issue a reviewer decides on, by where the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pick {
    row: u32,
    rule: String,
    field: String,
    record_key: String,
}

/// Adds `[review] dispositions` to the generated pipeline and loads it.
fn reviewed_run(dir: &Path) -> Run {
    let p = dir.join("pipeline.toml");
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str("\n[review]\ndispositions = \"dispositions.csv\"\n");
    std::fs::write(&p, text).unwrap();
    Run::load(&p, Some(&dir.join("out"))).unwrap()
}

fn table(v: &Validated, code: &str) -> usize {
    v.results
        .iter()
        .position(|r| r.table == code)
        .unwrap_or_else(|| panic!("no table {code}"))
}

/// Building records whose only error is one issue (warnings aside), with a primary key: dismissing
/// that issue must take exactly one wrong indicator off the count and make the record clean.
fn single_error_records(v: &Validated) -> Vec<Pick> {
    let r = &v.results[table(v, "fwjz")];
    let mut errors: BTreeMap<u32, Vec<Pick>> = BTreeMap::new();
    let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &r.issues {
        *keys.entry(i.record_key.as_str()).or_default() += 1;
    }
    for i in r.issues.iter().filter(|i| i.severity == Severity::Error) {
        errors.entry(i.row.unwrap()).or_default().push(Pick {
            row: i.row.unwrap(),
            rule: i.rule.to_owned(),
            field: i.field.clone().unwrap_or_default(),
            record_key: i.record_key.clone(),
        });
    }
    errors
        .into_values()
        .filter(|e| e.len() == 1 && !e[0].record_key.is_empty() && e[0].rule != "duplicate_id")
        .map(|mut e| e.remove(0))
        .collect()
}

/// The reviewer's work, done as a person would in Excel: the 问题清单 sheet of `report` with the
/// rows re-sorted (reversed) and 处理结果, 处理说明 and 批准人 filled in for `decided`, written with
/// rust_xlsxwriter to `to`.
fn review_in_workbook(report: &Path, to: &Path, decided: &BTreeMap<Pick, Decision>) {
    let mut wb = open_workbook_auto(report).unwrap();
    let range = wb.worksheet_range("问题清单").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (table_c, row_c, rule_c, field_c, key_c) = (
        col("表"),
        col("行号"),
        col("规则"),
        col("字段"),
        col("记录编号"),
    );
    let (decision_c, reason_c, approver_c) = (col("处理结果"), col("处理说明"), col("批准人"));
    let mut out = rust_xlsxwriter::Workbook::new();
    let ws = out.add_worksheet();
    ws.set_name("问题清单").unwrap();
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    let mut found = 0;
    for (n, cells) in rows[1..].iter().rev().enumerate() {
        let r = n as u32 + 1;
        for (c, v) in cells.iter().enumerate() {
            match v {
                Data::Float(f) => _ = ws.write_number(r, c as u16, *f).unwrap(),
                Data::Empty => {}
                other => _ = ws.write_string(r, c as u16, other.to_string()).unwrap(),
            }
        }
        if cells[table_c] != "fwjz" {
            continue;
        }
        let pick = Pick {
            row: cells[row_c].to_string().parse().unwrap_or(0),
            rule: cells[rule_c].to_string(),
            field: cells[field_c].to_string(),
            record_key: cells[key_c].to_string(),
        };
        if let Some(d) = decided.get(&pick) {
            found += 1;
            ws.write_string(r, decision_c as u16, d.zh()).unwrap();
            let reason = match d {
                Decision::FalseAlarm => "现场核实，数据无误",
                _ => "历史建筑，情况特殊，予以认可",
            };
            ws.write_string(r, reason_c as u16, reason).unwrap();
            if *d == Decision::Exception {
                ws.write_string(r, approver_c as u16, "王主任").unwrap();
            }
        }
    }
    assert_eq!(found, decided.len(), "every pick is a row of 问题清单");
    out.save(to).unwrap();
}

/// Rewrites one cell of the first worksheet of an xlsx written by the generator (inline strings)
/// through the zip library: the office corrects a record in the file it sent.
fn edit_inline_cell(xlsx: &Path, cell: &str, edit: impl Fn(&str) -> String) -> bool {
    let bytes = std::fs::read(xlsx).unwrap();
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut entries = Vec::new();
    let mut edited = false;
    for k in 0..zin.len() {
        let mut f = zin.by_index(k).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            let xml = String::from_utf8(data).unwrap();
            let start = format!("<c r=\"{cell}\"");
            if let Some(at) = xml.find(&start) {
                let end = at + xml[at..].find("</c>").unwrap_or(0);
                let element = &xml[at..end];
                if let (true, Some(t0), Some(t1)) = (
                    element.contains("t=\"inlineStr\""),
                    element.find("<t>"),
                    element.find("</t>"),
                ) {
                    let text = &element[t0 + 3..t1];
                    let new = format!("{}{}{}", &element[..t0 + 3], edit(text), &element[t1..]);
                    data = format!("{}{}{}", &xml[..at], new, &xml[end..]).into_bytes();
                    edited = true;
                } else {
                    data = xml.into_bytes();
                }
            } else {
                data = xml.into_bytes();
            }
        }
        entries.push((name, data));
    }
    if edited {
        let mut zout = zip::ZipWriter::new(std::fs::File::create(xlsx).unwrap());
        for (name, data) in entries {
            zout.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zout.write_all(&data).unwrap();
        }
        zout.finish().unwrap();
    }
    edited
}

/// The column letter of a header in the generated fwjz.xlsx.
fn header_column(xlsx: &Path, header: &str) -> String {
    let mut wb = open_workbook_auto(xlsx).unwrap();
    let name = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&name).unwrap();
    for row in range.rows().take(10) {
        if let Some(c) = row.iter().position(|d| *d == header) {
            return riskcensus_ingest::column_letter(c);
        }
    }
    panic!("no header {header} in {}", xlsx.display())
}

fn rows_of_clean(v: &Validated, code: &str) -> BTreeSet<u32> {
    v.results[table(v, code)]
        .clean
        .rows
        .iter()
        .map(|r| r.row)
        .collect()
}

/// The return list as written: per csv file (township), its rows as header → value maps.
fn return_lists(qc: &Path) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(qc.join("return_list")).unwrap() {
        let p = e.unwrap().path();
        let mut r = csv::Reader::from_path(&p).unwrap();
        let h = r.headers().unwrap().clone();
        let rows = r
            .records()
            .map(|x| {
                let x = x.unwrap();
                h.iter()
                    .zip(x.iter())
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .collect()
            })
            .collect();
        out.insert(p.file_stem().unwrap().to_string_lossy().into_owned(), rows);
    }
    out
}

/// The return list holds every error that still counts, each in its township's file and sheet,
/// and none a reviewer dismissed or excepted.
fn check_return_list(v: &Validated, qc: &Path, waived_rows: &BTreeSet<u32>) {
    let lists = return_lists(qc);
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for (r, rv) in v.results.iter().zip(&v.reviews) {
        for (i, m) in r.issues.iter().zip(&rv.marks) {
            if i.severity == Severity::Error && i.row.is_some() && !m.waived() {
                *want.entry(i.unit.clone().unwrap_or_default()).or_default() += 1;
            }
        }
    }
    let got: usize = lists.values().map(Vec::len).sum();
    assert_eq!(got, want.values().sum::<usize>());
    for (code, n) in &want {
        let (stem, rows) = lists
            .iter()
            .find(|(stem, _)| {
                if code.is_empty() {
                    stem.as_str() == "无有效乡镇代码"
                } else {
                    stem.starts_with(code.as_str())
                }
            })
            .unwrap_or_else(|| panic!("no return list for township {code:?}"));
        assert_eq!(rows.len(), *n, "{stem}");
        for row in rows {
            assert!(
                !row["问题说明"].is_empty() && !row["文件"].is_empty(),
                "{row:?}"
            );
            if row["表"] == "fwjz" {
                let n: u32 = row["行号"].parse().unwrap();
                assert!(
                    !waived_rows.contains(&n),
                    "a waived error is on the list: {row:?}"
                );
            }
        }
    }
    let wb = open_workbook_auto(qc.join("return_list.xlsx")).unwrap();
    let sheets: BTreeSet<String> = wb
        .sheet_names()
        .into_iter()
        .map(|s| s.replace(' ', "_"))
        .collect();
    assert_eq!(sheets, lists.keys().cloned().collect());
}

/// The whole loop the issue asks for: run → a reviewer dismisses 10 issues and excepts 5 in the
/// workbook → import → rerun: the 15 are marked, 差错率 drops by exactly 15 ÷ indicators checked,
/// the records are clean → one source row is edited → its disposition is stale.
#[test]
fn dispositions_survive_a_rerun_and_an_edited_record_turns_stale() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 2_000, BuildingGeometry::None);
    let run = reviewed_run(d.path());
    let first = validate(&run, &mut |_, _, _| {}).unwrap();
    assert!(
        first
            .summary
            .warnings
            .iter()
            .any(|w| w.contains("does not exist yet")),
        "{:?}",
        first.summary.warnings
    );
    check_return_list(&first, &run.out_dir.join("qc"), &BTreeSet::new());
    let counts = first.summary.review.clone().unwrap();
    let total_issues: u64 = first.summary.tables.iter().map(|t| t.issues).sum();
    assert_eq!(counts.undecided, total_issues);

    // The office edits the address of the first excepted record later, so it must be a text cell.
    let fwjz = d.path().join("fwjz.xlsx");
    let address = header_column(&fwjz, "详细地址");
    let candidates = single_error_records(&first);
    assert!(candidates.len() >= 15, "{} candidates", candidates.len());
    let mut decided = BTreeMap::new();
    for (k, p) in candidates.iter().take(15).enumerate() {
        let d = if k < 10 {
            Decision::FalseAlarm
        } else {
            Decision::Exception
        };
        decided.insert(p.clone(), d);
    }
    let excepted: Vec<&Pick> = candidates[10..15].iter().collect();

    let report = run.out_dir.join("qc/report.xlsx");
    let reviewed = d.path().join("审核后.xlsx");
    review_in_workbook(&report, &reviewed, &decided);
    let dispositions = d.path().join("dispositions.csv");
    let imported = review::import(&reviewed, &dispositions, "张三").unwrap();
    assert_eq!((imported.decided, imported.total), (15, 15));

    let second = validate(&run, &mut |_, _, _| {}).unwrap();
    let counts = second.summary.review.clone().unwrap();
    assert_eq!(
        (
            counts.false_alarm,
            counts.exception,
            counts.stale,
            counts.resolved
        ),
        (10, 5, 0, 0),
        "{counts:?}"
    );
    let t1 = &first.summary.tables[table(&first, "fwjz")];
    let t2 = &second.summary.tables[table(&second, "fwjz")];
    assert_eq!(t2.issues, t1.issues, "dismissed issues stay in the list");
    assert_eq!(t2.indicators_checked, t1.indicators_checked);
    assert_eq!(t1.errors - t2.errors, 15);
    assert_eq!(t1.rows_rejected - t2.rows_rejected, 15);
    let drop = 15.0 / t1.indicators_checked as f64;
    assert!(
        (t1.error_rate - t2.error_rate - drop).abs() < 2e-10,
        "差错率 {} → {}, expected a drop of {drop}",
        t1.error_rate,
        t2.error_rate
    );
    let clean = rows_of_clean(&second, "fwjz");
    let before = rows_of_clean(&first, "fwjz");
    for p in decided.keys() {
        assert!(
            !before.contains(&p.row) && clean.contains(&p.row),
            "row {}",
            p.row
        );
    }
    let waived: BTreeSet<u32> = decided.keys().map(|p| p.row).collect();
    check_return_list(&second, &run.out_dir.join("qc"), &waived);
    // The marks are in issues.csv and the workbook shows the applied decisions.
    let mut r = csv::Reader::from_path(run.out_dir.join("qc/issues.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let dc = h.iter().position(|c| c == "disposition").unwrap();
    let sc = h.iter().position(|c| c == "disposition_status").unwrap();
    let marked: Vec<(String, String)> = r
        .records()
        .map(|x| x.unwrap())
        .filter(|x| !x[dc].is_empty())
        .map(|x| (x[dc].to_owned(), x[sc].to_owned()))
        .collect();
    assert_eq!(marked.len(), 15);
    assert!(marked.iter().all(|(_, s)| s == "applied"));
    // Importing the rerun's own report changes nothing: the decisions are prefilled in it.
    let before_text = std::fs::read_to_string(&dispositions).unwrap();
    let again = review::import(&report, &dispositions, "张三").unwrap();
    assert_eq!(again.total, 15);
    assert_eq!(std::fs::read_to_string(&dispositions).unwrap(), before_text);

    // The office edits one excepted record (its address; the error stays).
    let target = excepted
        .iter()
        .find(|p| {
            edit_inline_cell(&fwjz, &format!("{address}{}", p.row), |t| {
                format!("{t}（已核实）")
            })
        })
        .expect("an excepted record with a text address");
    let third = validate(&run, &mut |_, _, _| {}).unwrap();
    let counts = third.summary.review.clone().unwrap();
    assert_eq!(
        (counts.false_alarm, counts.exception, counts.stale),
        (10, 4, 1),
        "{counts:?}"
    );
    let k = table(&third, "fwjz");
    let stale: Vec<u32> = third.results[k]
        .issues
        .iter()
        .zip(&third.reviews[k].marks)
        .filter(|(_, m)| matches!(m.disposition, Some((_, Status::Stale))))
        .map(|(i, _)| i.row.unwrap())
        .collect();
    assert_eq!(stale, [target.row]);
    let t3 = &third.summary.tables[k];
    assert_eq!(t3.errors, t2.errors + 1, "a stale decision is not applied");
    assert!(!rows_of_clean(&third, "fwjz").contains(&target.row));
    // The stale one is back on its township's list, saying why.
    let lists = return_lists(&run.out_dir.join("qc"));
    let back: Vec<_> = lists
        .values()
        .flatten()
        .filter(|r| r["表"] == "fwjz" && r["行号"] == target.row.to_string())
        .collect();
    assert_eq!(back.len(), 1, "{back:?}");
    assert!(back[0]["处理情况"].contains("待复核"), "{:?}", back[0]);
}

/// An 例外 without who approved it is refused, naming the sheet and the row; nothing is written.
#[test]
fn an_exception_without_approver_names_its_row() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let run = reviewed_run(d.path());
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let pick = single_error_records(&v).remove(0);
    let report = run.out_dir.join("qc/report.xlsx");
    let reviewed = d.path().join("审核后.xlsx");
    review_in_workbook(
        &report,
        &reviewed,
        &BTreeMap::from([(pick.clone(), Decision::Exception)]),
    );
    // Take the approver out again, as a hurried reviewer would leave it.
    let mut wb = open_workbook_auto(&reviewed).unwrap();
    let rows: Vec<Vec<Data>> = wb
        .worksheet_range("问题清单")
        .unwrap()
        .rows()
        .map(|r| r.to_vec())
        .collect();
    let approver = rows[0].iter().position(|h| *h == "批准人").unwrap();
    let at = 1 + rows[1..]
        .iter()
        .position(|r| r[approver] != Data::Empty)
        .unwrap();
    let mut out = rust_xlsxwriter::Workbook::new();
    let ws = out.add_worksheet();
    ws.set_name("问题清单").unwrap();
    for (r, cells) in rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            if c == approver && r == at {
                continue;
            }
            match v {
                Data::Float(f) => _ = ws.write_number(r as u32, c as u16, *f).unwrap(),
                Data::Empty => {}
                other => {
                    _ = ws
                        .write_string(r as u32, c as u16, other.to_string())
                        .unwrap()
                }
            }
        }
    }
    out.save(&reviewed).unwrap();
    let into = d.path().join("dispositions.csv");
    let err = review::import(&reviewed, &into, "张三")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("审核后.xlsx")
            && err.contains(&format!("row {}", at + 1))
            && err.contains("批准人"),
        "{err}"
    );
    assert!(!into.exists());
}

/// Every sheet of an xlsx as text cells.
fn sheets_of(path: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    let mut wb = open_workbook_auto(path).unwrap();
    wb.sheet_names()
        .into_iter()
        .map(|n| {
            let rows = wb
                .worksheet_range(&n)
                .unwrap()
                .rows()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect();
            (n, rows)
        })
        .collect()
}

/// The city tier: the same seed draws the same sample (the same bytes), another seed another; every
/// stratum (table × township with records) is in it at the rate rounded up; a checker's marks are
/// scored to the 差错率 and interval computed here from the workbook itself.
#[test]
fn a_sampled_check_is_reproducible_covers_every_stratum_and_scores() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 2_000, BuildingGeometry::None);
    let run = Run::load(&d.path().join("pipeline.toml"), Some(&d.path().join("out"))).unwrap();
    let package = riskcensus_pipeline::run(&run, &mut |_, _, _| {})
        .unwrap()
        .package
        .unwrap();
    let (a, b, c) = (
        d.path().join("a.xlsx"),
        d.path().join("b.xlsx"),
        d.path().join("c.xlsx"),
    );
    let drawn = review::sample(&package, 0.1, 2021, &a).unwrap();
    let again = review::sample(&package, 0.1, 2021, &b).unwrap();
    let other = review::sample(&package, 0.1, 2022, &c).unwrap();
    assert_eq!(drawn, again);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_ne!(drawn.records["fwjz"], other.records["fwjz"]);

    // The strata, counted here from the package by SQL: every township's buildings are a stratum.
    let df = riskcensus_pipeline::query::query(
        &package,
        "SELECT unit_code, count(*) AS n FROM fwjz GROUP BY unit_code ORDER BY unit_code",
    )
    .unwrap();
    let codes = df.column("unit_code").unwrap().str().unwrap().clone();
    let counts = df
        .column("n")
        .unwrap()
        .cast(&polars::prelude::DataType::UInt64)
        .unwrap();
    let counts = counts.u64().unwrap();
    let sheets = sheets_of(&a);
    let fwjz = &sheets.iter().find(|(n, _)| n == "fwjz").unwrap().1;
    assert!(codes.len() > 5);
    for (code, n) in codes.iter().zip(counts.iter()) {
        let (code, n) = (code.unwrap_or(""), n.unwrap() as usize);
        let want = (n as f64 * 0.1).ceil() as usize;
        let rows = fwjz[1..].iter().filter(|r| r[0] == code).count();
        assert_eq!(rows, want.max(1), "township {code}: {n} buildings");
    }
    for s in &drawn.strata {
        assert!(s.records > 0 && s.sampled >= 1, "{s:?}");
    }

    // A checker marks three wrong indicators in two buildings.
    let checked = d.path().join("核查后.xlsx");
    let mut out = rust_xlsxwriter::Workbook::new();
    let mut marked = 0;
    for (name, rows) in &sheets {
        let ws = out.add_worksheet();
        ws.set_name(name).unwrap();
        for (r, cells) in rows.iter().enumerate() {
            for (c, v) in cells.iter().enumerate() {
                if !v.is_empty() {
                    ws.write_string(r as u32, c as u16, v).unwrap();
                }
            }
            if name == "fwjz" && (r == 1 || r == 2) {
                let wrong = if r == 1 {
                    "地上层数、jzmj"
                } else {
                    "jcnd"
                };
                ws.write_string(r as u32, 6, wrong).unwrap();
                marked += 1;
            }
        }
    }
    assert_eq!(marked, 2);
    out.save(&checked).unwrap();
    let score = review::score(&checked, None).unwrap();
    let indicators: u64 = fwjz[1..].iter().map(|r| r[4].parse::<u64>().unwrap()).sum();
    let t = score.tables.iter().find(|t| t.code == "fwjz").unwrap();
    assert_eq!(
        (t.records, t.indicators_checked, t.wrong),
        (fwjz.len() as u64 - 1, indicators, 3)
    );
    assert_eq!(t.error_rate, 3.0 / indicators as f64);
    let (lo, hi) = review::score::wilson(3, indicators, 1.959_963_984_540_054);
    assert_eq!((t.ci_low, t.ci_high), (lo, hi));
    assert!(t.ci_low < t.error_rate && t.error_rate < t.ci_high);
    assert_eq!(score.county.wrong, 3);
    assert_eq!(score.threshold, 0.05);
    assert!(score.county.passed);
    let towns: u64 = score.townships.iter().map(|l| l.wrong).sum();
    assert_eq!(towns, 3);
}

/// Tiers: a run whose pipeline names its reviewer signs the county tier into its package (the
/// dispositions file's hash, the same bytes every time); the city signs its scored sample; a merge
/// requiring the city tier takes that county and refuses one that only checked itself.
#[test]
fn tiers_are_signed_into_the_manifest_and_a_merge_can_require_one() {
    use riskcensus_pipeline::review::tier::{Tier, check_packages};
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), 1_000, BuildingGeometry::None);
    let p = d.path().join("pipeline.toml");
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str(
        "\n[review]\ndispositions = \"dispositions.csv\"\nreviewer = \"张三\"\ndate = \"2021-06-30\"\n",
    );
    std::fs::write(&p, text).unwrap();
    std::fs::write(
        d.path().join("dispositions.csv"),
        "table,record_key,rule,field,decision,reason,approved_by,reviewer,record_hash,source_file,source_row,value\n",
    )
    .unwrap();
    let run_once = |out: &str| {
        let run = Run::load(&p, Some(&d.path().join(out))).unwrap();
        riskcensus_pipeline::run(&run, &mut |_, _, _| {})
            .unwrap()
            .package
            .unwrap()
    };
    let package = run_once("a");
    let again = run_once("b");
    assert_eq!(
        std::fs::read(&package).unwrap(),
        std::fs::read(&again).unwrap()
    );
    assert!(riskcensus_pipeline::package::verify(&package).is_empty());
    let tiers = check_packages(std::slice::from_ref(&package), Some(Tier::County)).unwrap();
    let county = &tiers[0].tiers[0];
    assert_eq!(
        (county.tier, county.reviewer.as_str(), county.date.as_str()),
        (Tier::County, "张三", "2021-06-30")
    );
    let (_, sha) = riskcensus_pipeline::sha256_file(&d.path().join("dispositions.csv")).unwrap();
    assert_eq!(county.dispositions_sha256.as_deref(), Some(sha.as_str()));

    // Below the city tier: refused, naming the package and the tiers.
    let err = check_packages(std::slice::from_ref(&again), Some(Tier::City))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("530402_红塔区_2020.zip")
            && err.contains("县级自检")
            && err.contains("市级抽检"),
        "{err}"
    );

    // The city checks a sample (nothing wrong found) and signs.
    let workbook = d.path().join("抽样核查.xlsx");
    let drawn = review::sample(&package, 0.1, 7, &workbook).unwrap();
    let record = review::sign_tier(
        &package,
        Tier::City,
        "李四",
        "2021-07-15",
        Some(&workbook),
        None,
    )
    .unwrap();
    let figures = record.sample.clone().unwrap();
    let sampled: usize = drawn.strata.iter().map(|s| s.sampled).sum();
    assert_eq!(
        (figures.seed, figures.records, figures.wrong),
        (7, sampled as u64, 0)
    );
    assert!(record.passed);
    assert!(riskcensus_pipeline::package::verify(&package).is_empty());
    let tiers = check_packages(std::slice::from_ref(&package), Some(Tier::City)).unwrap();
    assert_eq!(tiers[0].reached, Some(Tier::City));
    assert_eq!(tiers[0].tiers.len(), 2);
    // A bad date is refused before anything is written.
    let before = std::fs::read(&package).unwrap();
    let err = review::sign_tier(&package, Tier::Province, "王五", "2021/8/1", None, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("YYYY-MM-DD"), "{err}");
    assert_eq!(std::fs::read(&package).unwrap(), before);
}
