//! Spreadsheets that describe more than they hold, and the cells offices really leave in them: each
//! is read as what it is (records, stray cells, a clear error naming file, sheet and cell), never an
//! abort, and every record the file holds is accounted for.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use riskcensus_ingest::{Error, RawCell, RawTable, SourceFile, column_letter};
use rust_xlsxwriter::{Format, Formula, Workbook, Worksheet};

use super::{county, input, read, repo, schemas};

const HEADERS: [&str; 10] = [
    "房屋编号",
    "乡镇（街道）代码",
    "村（社区）代码",
    "经度",
    "纬度",
    "结构类型",
    "地上层数",
    "建筑面积（平方米）",
    "建成年份",
    "房屋用途",
];

/// Building `k` as an office types it.
fn building(k: u32) -> [String; 10] {
    [
        format!("5304020000{k:05}"),
        "530402001".into(),
        "530402001001".into(),
        "102.5".into(),
        "24.3".into(),
        "砖混结构".into(),
        "3".into(),
        "100".into(),
        "2000".into(),
        "农村住宅".into(),
    ]
}

/// A 房屋建筑 sheet: a merged title row, the header in Excel row 2, `n` buildings from row 3, then
/// whatever `more` adds.
fn fwjz_workbook(path: &Path, n: u32, more: impl FnOnce(&mut Worksheet)) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("房屋建筑").unwrap();
    ws.merge_range(0, 0, 0, 9, "某县房屋建筑调查表", &Format::new())
        .unwrap();
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    for k in 0..n {
        for (c, v) in building(k).iter().enumerate() {
            ws.write_string(2 + k, c as u16, v).unwrap();
        }
    }
    more(ws);
    wb.save(path).unwrap();
}

fn read_fwjz(path: &Path) -> Result<RawTable, Error> {
    read(schemas().table("fwjz").unwrap(), path)
}

/// Rewrites some parts of a zip (the bytes of each part through `edit`), keeping the others.
fn rewrite_zip(path: &Path, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut parts = Vec::new();
    for k in 0..archive.len() {
        let mut f = archive.by_index(k).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        let name = f.name().unwrap().into_owned();
        parts.push((name.clone(), edit(&name, bytes)));
    }
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in parts {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file(name, opts).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
}

/// Replaces text in the parts whose name contains `part`.
fn replace_in(path: &Path, part: &str, from: &str, to: &str) {
    rewrite_zip(path, |name, bytes| {
        if !name.contains(part) {
            return bytes;
        }
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(from), "{name} has no {from:?}");
        text.replace(from, to).into_bytes()
    });
}

/// The file's conservation: its count of records equals the records read, with no mismatch note.
fn assert_conserved(t: &RawTable) {
    let f = &t.files[0];
    assert_eq!(
        f.records_in_file,
        Some(t.rows.len() as u64),
        "records the file holds vs records read"
    );
    assert!(
        !f.notes.iter().any(|n| n.rule == "row_count_mismatch"),
        "{:?}",
        f.notes
    );
}

fn notes<'a>(f: &'a SourceFile, rule: &str) -> Vec<&'a riskcensus_ingest::FileNote> {
    f.notes.iter().filter(|n| n.rule == rule).collect()
}

#[test]
fn a_note_at_xfd1048576_is_a_stray_cell_not_a_seventeen_billion_cell_grid() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 3, |ws| {
        ws.write_string(1_048_575, 16_383, "备注：张三填报")
            .unwrap();
    });
    let t = read_fwjz(&p).unwrap();
    assert_eq!(t.rows.len(), 3);
    assert_eq!(
        t.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    let f = &t.files[0];
    let stray = notes(f, "stray_cell");
    assert_eq!(stray.len(), 1, "{:?}", f.notes);
    assert_eq!(stray[0].row, Some(1_048_576));
    assert_eq!(stray[0].column.as_deref(), Some("XFD"));
    assert_eq!(stray[0].value, "备注：张三填报");
    assert!(stray[0].message_en.contains("XFD1048576"), "{stray:?}");
    // The note's row is no record: skipped, with the note; the rows between are not counted.
    assert_eq!(f.empty_rows_skipped, 1);
    assert_conserved(&t);
}

#[test]
fn a_dimension_claiming_the_whole_sheet_reads_as_the_cells_present() {
    let d = tempfile::tempdir().unwrap();
    let plain = d.path().join("plain.xlsx");
    fwjz_workbook(&plain, 4, |_| {});
    let claimed = d.path().join("claimed.xlsx");
    std::fs::copy(&plain, &claimed).unwrap();
    replace_in(
        &claimed,
        "xl/worksheets/sheet1.xml",
        r#"<dimension ref="A1:J6"/>"#,
        r#"<dimension ref="A1:XFD1048576"/>"#,
    );
    let (a, b) = (read_fwjz(&plain).unwrap(), read_fwjz(&claimed).unwrap());
    assert_eq!(b.rows.len(), 4);
    assert_same_records(&a, &b);
    assert!(b.files[0].notes.is_empty(), "{:?}", b.files[0].notes);
    assert_conserved(&b);
}

fn assert_same_records(a: &RawTable, b: &RawTable) {
    assert_eq!(a.rows.len(), b.rows.len());
    for (x, y) in a.rows.iter().zip(&b.rows) {
        assert_eq!((x.row, &x.cells, &x.extra), (y.row, &y.cells, &y.extra));
    }
}

#[test]
fn merged_cells_sit_in_their_top_left_cell() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 0, |ws| {
        let b = building(1);
        for (c, v) in b.iter().enumerate().skip(2) {
            ws.write_string(2, c as u16, v).unwrap();
            ws.write_string(3, c as u16, v).unwrap();
        }
        // Two buildings whose id and township an office merged over both rows.
        ws.merge_range(2, 0, 3, 0, "530402000000001", &Format::new())
            .unwrap();
        ws.merge_range(2, 1, 3, 1, "530402001", &Format::new())
            .unwrap();
    });
    let t = read_fwjz(&p).unwrap();
    assert_eq!(t.files[0].header_row, Some(2));
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.rows[0].cells.at(0).display(), "530402000000001");
    assert_eq!(t.rows[0].cells.at(1).display(), "530402001");
    // calamine (like Excel's own cell model) gives the value to the top-left cell only: the second
    // row's id is empty, and QC reports it as missing rather than the reader guessing.
    assert_eq!(t.rows[1].cells.at(0), RawCell::Empty);
    assert_eq!(t.rows[1].cells.at(2).display(), "530402001001");
    assert_conserved(&t);
    assert_reads_as_calamine_range(&p, "fwjz");
}

#[test]
fn formulas_are_read_as_their_cached_values() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 2, |ws| {
        ws.write_formula(2, 7, Formula::new("=10*20").set_result("200"))
            .unwrap();
        ws.write_formula(
            3,
            5,
            Formula::new(r#"=IF(1,"钢混结构","")"#).set_result("钢混结构"),
        )
        .unwrap();
    });
    let t = read_fwjz(&p).unwrap();
    let schema = schemas();
    let schema = schema.table("fwjz").unwrap();
    let area = schema.field_index("jzmj").unwrap();
    let structure = schema.field_index("jglx").unwrap();
    assert_eq!(t.rows[0].cells.at(area), RawCell::Number(200.0));
    assert_eq!(
        t.rows[1].cells.at(structure),
        RawCell::Text("钢混结构".into())
    );
    assert_conserved(&t);
    assert_reads_as_calamine_range(&p, "fwjz");
}

#[test]
fn hidden_rows_are_records() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 5, |ws| {
        ws.set_row_hidden(3).unwrap();
        ws.set_row_hidden(5).unwrap();
    });
    let t = read_fwjz(&p).unwrap();
    assert_eq!(
        t.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![3, 4, 5, 6, 7]
    );
    assert_conserved(&t);
}

#[test]
fn a_cell_of_40000_characters_is_refused_naming_it_not_cut() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 3, |ws| {
        ws.write_string(3, 9, "LONG-CELL").unwrap();
    });
    let long = "长".repeat(40_000);
    replace_in(&p, "xl/sharedStrings.xml", "LONG-CELL", &long);
    let e = read_fwjz(&p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::CellTooLong { chars: 40_000, .. }), "{m}");
    assert!(
        m.contains("fwjz.xlsx")
            && m.contains("房屋建筑")
            && m.contains("J4")
            && m.contains("32,767"),
        "{m}"
    );
}

#[test]
fn a_second_column_with_the_same_header_is_reported_and_kept() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 2, |ws| {
        ws.write_string(1, 10, "房屋编号").unwrap();
        ws.write_string(2, 10, "530402000099999").unwrap();
    });
    let t = read_fwjz(&p).unwrap();
    let f = &t.files[0];
    assert_eq!(f.field_columns[0].as_deref(), Some("A"));
    let dup = notes(f, "duplicate_column");
    assert_eq!(dup.len(), 1, "{:?}", f.notes);
    assert_eq!(dup[0].column.as_deref(), Some("K"));
    assert!(dup[0].message_zh.contains("第 A 列"), "{dup:?}");
    assert_eq!(
        f.extra_columns,
        vec![("房屋编号".to_owned(), "K".to_owned())]
    );
    assert_eq!(t.rows[0].extra.at(0).display(), "530402000099999");
    assert_eq!(t.rows[0].cells.at(0).display(), "530402000000000");
    assert_conserved(&t);
}

#[test]
fn the_last_row_excel_has_is_a_record_and_the_next_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 2, |ws| {
        ws.write_string(1_048_575, 0, "530402000077777").unwrap();
    });
    let t = read_fwjz(&p).unwrap();
    assert_eq!(t.rows.len(), 3);
    let last = t.rows.last().unwrap();
    assert_eq!(last.row, 1_048_576);
    assert_eq!(last.cells.at(0).display(), "530402000077777");
    assert_eq!(last.cells.at(1), RawCell::Empty, "QC reports it incomplete");
    assert_eq!(t.files[0].empty_rows_skipped, 1_048_576 - 5);
    assert_conserved(&t);

    replace_in(
        &p,
        "xl/worksheets/sheet1.xml",
        r#"r="1048576""#,
        r#"r="1048577""#,
    );
    replace_in(
        &p,
        "xl/worksheets/sheet1.xml",
        r#"r="A1048576""#,
        r#"r="A1048577""#,
    );
    let e = read_fwjz(&p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::OutsideSheet { .. }), "{m}");
    assert!(
        m.contains("fwjz.xlsx")
            && m.contains("房屋建筑")
            && m.contains("A1048577")
            && m.contains("row 1,048,577 exceeds Excel's 1,048,576 rows"),
        "{m}"
    );
}

/// Overwrites the declared uncompressed size of a zip part in the central directory (the local
/// header keeps the truth: only the declaration lies).
fn declare_size(path: &Path, part: &str, size: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let name = part.as_bytes();
    let at = (0..bytes.len() - 46)
        .find(|&k| {
            bytes[k..k + 4] == [0x50, 0x4B, 0x01, 0x02]
                && bytes.get(k + 46..k + 46 + name.len()) == Some(name)
        })
        .expect("central directory entry");
    bytes[at + 24..at + 28].copy_from_slice(&size.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_bomb_like_shared_string_table_is_refused_before_it_is_inflated() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 2, |_| {});
    // Declared: 3.5 GiB of shared strings.
    let declared = d.path().join("declared.xlsx");
    std::fs::copy(&p, &declared).unwrap();
    declare_size(&declared, "xl/sharedStrings.xml", 0xE000_0000);
    let e = read_fwjz(&declared).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::Container { .. }), "{m}");
    assert!(
        m.contains("declared.xlsx") && m.contains("xl/sharedStrings.xml") && m.contains("3.5 GiB"),
        "{m}"
    );
    // Real: 80 MiB of padding that deflates about 1000:1.
    rewrite_zip(&p, |name, mut bytes| {
        if name == "xl/sharedStrings.xml" {
            bytes.extend(std::iter::repeat_n(b' ', 80 << 20));
        }
        bytes
    });
    let e = read_fwjz(&p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::Container { .. }), "{m}");
    assert!(
        m.contains("xl/sharedStrings.xml") && m.contains("only zip bombs"),
        "{m}"
    );
}

#[test]
fn cells_beside_the_header_are_stray_and_rows_of_them_are_not_records() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 3, |ws| {
        // A tally typed to the right of the table, and a signature line below it, outside it.
        ws.write_number(2, 12, 3.0).unwrap();
        ws.write_string(7, 11, "填表人：李四").unwrap();
    });
    let t = read_fwjz(&p).unwrap();
    assert_eq!(t.rows.len(), 3);
    let f = &t.files[0];
    let stray: Vec<(Option<u32>, Option<&str>, &str)> = notes(f, "stray_cell")
        .iter()
        .map(|n| (n.row, n.column.as_deref(), n.value.as_str()))
        .collect();
    assert_eq!(
        stray,
        vec![
            (Some(3), Some("M"), "3"),
            (Some(8), Some("L"), "填表人：李四")
        ]
    );
    assert_eq!(f.empty_rows_skipped, 1);
    assert_conserved(&t);
}

/// What calamine's dense grid holds at a cell, as the reader should give it.
fn oracle(d: &Data) -> RawCell {
    match d {
        Data::Empty => RawCell::Empty,
        Data::String(s) => RawCell::Text(s.as_str().into()),
        Data::Float(v) => RawCell::Number(*v),
        Data::Int(v) => RawCell::Number(*v as f64),
        Data::Bool(b) => RawCell::Bool(*b),
        Data::DateTime(dt) => RawCell::Date(dt.as_f64()),
        Data::DateTimeIso(s) => {
            let days = riskcensus_ingest::days_from_civil(
                s[..4].parse().unwrap(),
                s[5..7].parse().unwrap(),
                s[8..10].parse().unwrap(),
            )
            .unwrap();
            RawCell::Date(days as f64 + 25_569.0)
        }
        Data::DurationIso(s) => RawCell::Text(s.as_str().into()),
        Data::Error(e) => RawCell::Error(e.to_string().into()),
    }
}

fn column_index(letter: &str) -> usize {
    (0..20_000).find(|&c| column_letter(c) == letter).unwrap()
}

/// Reads `path` with the reader and with calamine's `worksheet_range`, and finds the same records:
/// the same rows, and in every field and extra column the same cell.
fn assert_reads_as_calamine_range(path: &Path, table: &str) {
    let s = schemas();
    let schema = s.table(table).unwrap();
    let t = read(schema, path).unwrap();
    let f = &t.files[0];
    let mut wb = calamine::open_workbook_auto(path).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).unwrap();
    let (_, col0) = range.start().unwrap();
    let at = |row: u32, col: usize| -> RawCell {
        range
            .get_value((row - 1, col as u32))
            .map(oracle)
            .unwrap_or(RawCell::Empty)
    };
    let header_row = f.header_row.unwrap();
    let field_cols: Vec<Option<usize>> = f
        .field_columns
        .iter()
        .map(|c| c.as_deref().map(column_index))
        .collect();
    let extra_cols: Vec<usize> = f
        .extra_columns
        .iter()
        .map(|(_, c)| column_index(c))
        .collect();
    let under_header: Vec<usize> = field_cols
        .iter()
        .flatten()
        .chain(&extra_cols)
        .copied()
        .collect();
    let (_, end_col) = range.end().unwrap();
    assert!(
        under_header
            .iter()
            .all(|&c| c as u32 >= col0 && c as u32 <= end_col),
        "{}: header columns inside the range",
        path.display()
    );
    let expected: Vec<u32> = (header_row + 1..=range.end().unwrap().0 + 1)
        .filter(|&r| under_header.iter().any(|&c| !at(r, c).is_empty()))
        .collect();
    let got: Vec<u32> = t.rows.iter().map(|r| r.row).collect();
    assert_eq!(got, expected, "{}: record rows", path.display());
    for r in &t.rows {
        for (k, c) in field_cols.iter().enumerate() {
            let want = c.map_or(RawCell::Empty, |c| at(r.row, c));
            assert_eq!(
                r.cells.at(k),
                want,
                "{} row {} field {k}",
                path.display(),
                r.row
            );
        }
        for (j, &c) in extra_cols.iter().enumerate() {
            assert_eq!(
                r.extra.at(j),
                at(r.row, c),
                "{} row {} extra {j}",
                path.display(),
                r.row
            );
        }
    }
    assert_conserved(&t);
}

/// The table a workbook holds, from its name (`fwjz.xlsx`, `fwjz_part2.xlsx`, `czt_xx.ods`).
fn table_of(path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    stem.split("_part").next().unwrap().to_owned()
}

fn workbooks_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("xlsx" | "xls" | "ods")
            )
        })
        .collect();
    out.sort();
    out
}

/// Every workbook under fixtures/ and every one the generator writes (title rows, merged group
/// labels, two-row headers, the defects offices make) reads as calamine's dense range does.
#[test]
fn every_workbook_reads_as_calamine_range_does() {
    let d = tempfile::tempdir().unwrap();
    let generated = county(d.path());
    let mut all = workbooks_in(&repo().join("fixtures/county_530381"));
    all.extend(workbooks_in(&repo().join("fixtures/formats")));
    all.extend(workbooks_in(&generated));
    assert!(all.len() >= 10, "{all:?}");
    let s = schemas();
    for p in &all {
        assert_reads_as_calamine_range(p, &table_of(p));
        // Nothing of these files lies outside their tables: no stray or duplicate notes, which QC
        // would report as issues the generator did not inject.
        let t = read(s.table(&table_of(p)).unwrap(), p).unwrap();
        let rules: Vec<&str> = t.files[0].notes.iter().map(|n| n.rule).collect();
        assert!(
            rules.iter().all(|r| *r == "unknown_column"),
            "{}: {rules:?}",
            p.display()
        );
    }
}

#[test]
fn csv_counts_its_records_and_names_cells_past_the_header() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fw.csv");
    let mut text = HEADERS.join(",") + "\n";
    for k in 0..3 {
        text += &(building(k).join(",") + "\n");
    }
    text += ",,,,,,,,,,,备注\n";
    std::fs::write(&p, text).unwrap();
    let t = read_table_csv(&p);
    assert_eq!(t.rows.len(), 3);
    let stray = notes(&t.files[0], "stray_cell");
    assert_eq!(stray.len(), 1);
    assert_eq!(
        (stray[0].row, stray[0].column.as_deref()),
        (Some(5), Some("L"))
    );
    assert_conserved(&t);
}

fn read_table_csv(p: &Path) -> RawTable {
    riskcensus_ingest::read_table(schemas().table("fwjz").unwrap(), &[input(p)], super::OPTS)
        .unwrap()
}

fn ods_copy(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(repo().join("fixtures/formats/czt_xx.ods"), &p).unwrap();
    p
}

/// The ods fixture ends, as LibreOffice writes it, with empty rows filling the sheet to row
/// 1,048,576; the last of them is this one.
const ODS_LAST_ROW: &str = r#"<table:table-row table:style-name="ro1"><table:table-cell table:number-columns-repeated="16384"/></table:table-row></table:table>"#;

#[test]
fn an_ods_note_at_xfd1048576_is_a_clear_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let p = ods_copy(d.path(), "czt_xx.ods");
    replace_in(
        &p,
        "content.xml",
        ODS_LAST_ROW,
        r#"<table:table-row><table:table-cell table:number-columns-repeated="16383"/><table:table-cell office:value-type="string"><text:p>备注</text:p></table:table-cell></table:table-row></table:table>"#,
    );
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::SheetTooLarge { .. }), "{m}");
    assert!(
        m.contains("czt_xx.ods") && m.contains("学校") && m.contains("XFD1048576"),
        "{m}"
    );
}

#[test]
fn an_ods_cell_of_a_billion_spaces_is_refused_before_calamine_builds_it() {
    let d = tempfile::tempdir().unwrap();
    let p = ods_copy(d.path(), "czt_xx.ods");
    replace_in(
        &p,
        "content.xml",
        ODS_LAST_ROW,
        r#"<table:table-row><table:table-cell office:value-type="string"><text:p>a<text:s text:c="1000000000"/></text:p></table:table-cell></table:table-row></table:table>"#,
    );
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::CellTooLong { .. }), "{m}");
    assert!(m.contains("学校") && m.contains("A1048576"), "{m}");
}

/// The xls fixture with some bytes of its workbook stream replaced (records lie whole inside it).
fn xls_patched(dir: &Path, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let p = dir.join("czt_xx.xls");
    let mut bytes = std::fs::read(repo().join("fixtures/formats/czt_xx.xls")).unwrap();
    patch(&mut bytes);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Offset of the data of the last record of type `typ` and length `len`.
fn last_record(bytes: &[u8], typ: u16, len: u16) -> usize {
    let head = [typ.to_le_bytes(), len.to_le_bytes()].concat();
    (0..bytes.len() - 4)
        .rev()
        .find(|&k| bytes[k..k + 4] == head[..])
        .unwrap()
        + 4
}

#[test]
fn an_xls_dimensions_record_claiming_billions_of_rows_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = xls_patched(d.path(), |b| {
        let at = last_record(b, 0x0200, 14);
        b[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    });
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::OutsideSheet { .. }), "{m}");
    assert!(
        m.contains("czt_xx.xls") && m.contains("学校") && m.contains("65,536"),
        "{m}"
    );
    // Backwards: from row 101 to row 50.
    let p = xls_patched(d.path(), |b| {
        let at = last_record(b, 0x0200, 14);
        b[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
        b[at + 4..at + 8].copy_from_slice(&50u32.to_le_bytes());
    });
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    assert!(e.to_string().contains("backwards"), "{e}");
}

#[test]
fn an_xls_cell_past_column_iv_is_refused_naming_it() {
    let d = tempfile::tempdir().unwrap();
    // The last shared-string cell moved to row 65,536, column 65,536: calamine's grid would be
    // 65,536 × 65,536 cells.
    let p = xls_patched(d.path(), |b| {
        let at = last_record(b, 0x00FD, 10);
        b[at..at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
        b[at + 2..at + 4].copy_from_slice(&u16::MAX.to_le_bytes());
    });
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::OutsideSheet { .. }), "{m}");
    assert!(
        m.contains("czt_xx.xls") && m.contains("学校") && m.contains("CRXP65536"),
        "{m}"
    );
}

#[test]
fn a_dimension_written_backwards_is_refused_in_every_build() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fwjz.xlsx");
    fwjz_workbook(&p, 2, |_| {});
    // calamine subtracts the corners unchecked: a debug build panics, a release build wraps.
    replace_in(
        &p,
        "xl/worksheets/sheet1.xml",
        r#"<dimension ref="A1:J4"/>"#,
        r#"<dimension ref="J4:A1"/>"#,
    );
    let e = read_fwjz(&p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::Container { .. }), "{m}");
    assert!(
        m.contains("fwjz.xlsx")
            && m.contains("xl/worksheets/sheet1.xml")
            && m.contains("backwards"),
        "{m}"
    );
}

/// References a mutation fuzzer puts in a cell's `r`: past Excel, past 32 bits, empty, lower case,
/// zero, letters only.
const MUTANT_REFS: [&str; 12] = [
    "XFD1048576",
    "A1048577",
    "XFE1",
    "A99999999999",
    "ZZZZZZZZZZZZZZ1",
    "a1",
    "A0",
    "",
    "B",
    "AAAA7",
    "C3000000",
    "J4",
];

/// Cell references rewritten as a mutation fuzzer would: every outcome is records or an error
/// naming the file, never an abort or a panic escaping the reader, and records stay conserved.
#[test]
fn mutated_cell_references_never_abort() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base.xlsx");
    fwjz_workbook(&base, 6, |_| {});
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut read_ok, mut refused) = (0, 0);
    for k in 0..60 {
        let p = d.path().join(format!("mutant{k}.xlsx"));
        std::fs::copy(&base, &p).unwrap();
        let target = format!(
            r#"r="{}{}""#,
            column_letter((next() % 10) as usize),
            next() % 8 + 3
        );
        let mutant = format!(r#"r="{}""#, MUTANT_REFS[(next() % 12) as usize]);
        rewrite_zip(&p, |name, bytes| {
            if name != "xl/worksheets/sheet1.xml" {
                return bytes;
            }
            String::from_utf8(bytes)
                .unwrap()
                .replacen(&target, &mutant, 1)
                .into_bytes()
        });
        match read_fwjz(&p) {
            Ok(t) => {
                read_ok += 1;
                assert_conserved(&t);
            }
            Err(e) => {
                refused += 1;
                assert!(e.to_string().contains(&format!("mutant{k}.xlsx")), "{e}");
            }
        }
    }
    assert!(
        read_ok > 0 && refused > 0,
        "{read_ok} read, {refused} refused"
    );
}

/// A csv with one unclosed quote swallows the rest of the file into one field: the records after it
/// would vanish into a single cell. Past Excel's 32,767 characters that cell is an error naming
/// where it starts, not a silent merge.
#[test]
fn a_csv_quote_left_open_is_an_error_not_records_swallowed() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fw.csv");
    let mut text = HEADERS.join(",") + "\n";
    for k in 0..3000 {
        let mut b = building(k);
        if k == 1 {
            b[5] = "\"砖混结构".into();
        }
        text += &(b.join(",") + "\n");
    }
    std::fs::write(&p, text).unwrap();
    let e =
        riskcensus_ingest::read_table(schemas().table("fwjz").unwrap(), &[input(&p)], super::OPTS)
            .unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::CellTooLong { .. }), "{m}");
    assert!(m.contains("fw.csv") && m.contains("F3"), "{m}");
}
