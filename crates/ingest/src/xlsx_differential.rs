//! The two-core xlsx reader against calamine, the reference: the same grid (every cell, bit for
//! bit, every note) or the same error message, on every xlsx the repository holds, on workbooks
//! written to cover each kind of cell, on hand-written sheet XML calamine reads in its own ways,
//! and on damaged copies. In tests a chunk is 4 KiB, so that small files are cut into many chunks.

use std::io::Write;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Formula, Workbook};

use crate::Input;
use crate::grid::Place;

/// What reading the file's sheet gives: the grid, or the error's message.
fn outcome(path: &Path, sheet: Option<&str>, fast: bool) -> String {
    let input = Input {
        path: path.to_owned(),
        display: path.display().to_string(),
        sheet: sheet.map(str::to_owned),
        ..Input::default()
    };
    match crate::sheet::spreadsheet_grid_with(&input, fast) {
        Ok((name, grid)) => format!("sheet {name}\n{}", grid.snapshot()),
        Err(e) => format!("error: {e}"),
    }
}

/// Whether the fast path reads the sheet itself (rather than handing it back to calamine).
fn handled(path: &Path, sheet: &str) -> bool {
    let place = Place {
        path: path.to_owned(),
        sheet: sheet.to_owned(),
    };
    // An error is handled too: a limit of `Cells` met at the same cell as calamine's path.
    !matches!(super::read_sheet(path, sheet, place), Ok(None))
}

/// Asserts both readers agree on the file's chosen sheet; returns calamine's outcome.
fn same(path: &Path, sheet: Option<&str>) -> String {
    let reference = outcome(path, sheet, false);
    let fast = outcome(path, sheet, true);
    assert!(
        reference == fast,
        "{}: the fast path differs from calamine\n--- calamine\n{}\n--- fast\n{}",
        path.display(),
        head(&reference),
        head(&fast)
    );
    reference
}

fn head(s: &str) -> String {
    s.lines().take(40).collect::<Vec<_>>().join("\n")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.xlsx` under the repository's data folders.
fn repo_workbooks() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![
        repo().join("fixtures"),
        repo().join("fuzz"),
        repo().join("crates"),
    ];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("target") {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "xlsx") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_workbook_in_the_repository_reads_the_same() {
    let books = repo_workbooks();
    assert!(books.len() >= 8, "found only {books:?}");
    for path in &books {
        let names = crate::sheet::sheet_names(path).unwrap();
        for name in &names {
            let got = same(path, Some(name));
            // The fast path must actually read the files offices send, not hand them all back.
            assert!(
                handled(path, name),
                "{} {name}: not handled",
                path.display()
            );
            assert!(got.starts_with("sheet "), "{got}");
        }
    }
}

#[test]
fn damaged_copies_give_the_same_cells_or_the_same_error() {
    // A flip inside deflated XML fails the checksum: the fast path hands nearly all back.
    damaged_copies_of("fixtures/county_530381/fwjz.xlsx", 0);
}

/// The fuzz seed is stored without compression: a flipped byte lands in the XML itself.
#[test]
fn damaged_copies_of_a_stored_workbook_give_the_same_outcome() {
    damaged_copies_of("fuzz/seeds/spreadsheet/czt_xx_small.xlsx", 20);
}

/// Cut and bit-flipped copies of `rel` read the same both ways; at least `min_fast` of them are
/// read by the fast path itself (not handed back).
fn damaged_copies_of(rel: &str, min_fast: usize) {
    let original = std::fs::read(repo().join(rel)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.xlsx");
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for cut in [0.1, 0.35, 0.5, 0.8, 0.97, 0.999] {
        cases.push(original[..(original.len() as f64 * cut) as usize].to_vec());
    }
    // Flipped bytes across the file: the sheet's deflate stream, the directory, the headers.
    let mut state = 0x9E37_79B9_u64;
    for _ in 0..200 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let mut copy = original.clone();
        let at = (state >> 20) as usize % copy.len();
        copy[at] ^= 1 << ((state >> 8) % 8);
        cases.push(copy);
    }
    let (mut differed, mut fast) = (0, 0);
    for bytes in cases {
        std::fs::write(&path, &bytes).unwrap();
        let got = same(&path, None);
        match got.lines().next().and_then(|l| l.strip_prefix("sheet ")) {
            Some(sheet) => fast += usize::from(handled(&path, sheet)),
            None => differed += 1,
        }
    }
    assert!(
        differed > 5,
        "too few damaged copies were errors: {differed}"
    );
    assert!(
        fast >= min_fast,
        "the fast path read only {fast} damaged copies"
    );
}

/// A workbook as an office writes it: shared strings, dates, numbers, booleans, formulas with
/// cached values, rich text, sparse rows, long text, Chinese headers.
fn write_book(path: &Path, constant_memory: bool) {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let builtin_date = Format::new().set_num_format_index(14);
    let duration = Format::new().set_num_format("[h]:mm:ss");
    let money = Format::new().set_num_format("#,##0.00");
    let bold = Format::new().set_bold();
    let red = Format::new().set_font_color(rust_xlsxwriter::Color::Red);
    let ws = if constant_memory {
        wb.add_worksheet_with_constant_memory().unwrap()
    } else {
        wb.add_worksheet()
    };
    ws.set_name("房屋建筑").unwrap();
    ws.write_string(0, 0, "红塔区房屋建筑调查表").unwrap();
    for (c, h) in [
        "房屋编号",
        "建筑面积（平方米）",
        "调查日期",
        "是否抗震设防",
        "备注",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(2, c as u16, *h, &bold).unwrap();
    }
    for r in 3..900u32 {
        ws.write_string(r, 0, format!("5304020000{r:05}")).unwrap();
        if r % 7 != 0 {
            ws.write_number_with_format(r, 1, f64::from(r) * 1.25 + 0.1, &money)
                .unwrap();
        }
        ws.write_number_with_format(r, 2, 44_000.0 + f64::from(r), &date)
            .unwrap();
        ws.write_boolean(r, 3, r % 3 == 0).unwrap();
        match r % 11 {
            0 => {
                ws.write_string(r, 4, "  前后空格 ").unwrap();
            }
            1 => {
                ws.write_rich_string(r, 4, &[(&bold, "粗体"), (&red, "红色 "), (&bold, "x")])
                    .unwrap();
            }
            2 => {
                ws.write_formula(r, 4, Formula::new("=B4*2").set_result("8.5"))
                    .unwrap();
            }
            3 => {
                ws.write_formula(r, 4, Formula::new("=A4&\"号\"").set_result("甲&乙<丙>"))
                    .unwrap();
            }
            4 => {
                ws.write_number_with_format(r, 4, 0.75, &duration).unwrap();
            }
            5 => {
                ws.write_number_with_format(r, 4, 44_561.5, &builtin_date)
                    .unwrap();
            }
            6 => {
                ws.write_string(r, 4, "line\nbreak_x000D_ & <tag> \"q\"")
                    .unwrap();
            }
            7 => {
                ws.write_string(r, 4, "长".repeat(3_000)).unwrap();
            }
            _ => {}
        }
    }
    // A sparse corner: a note far to the right, rows far below.
    ws.write_string(2_000, 40, "远处的备注").unwrap();
    ws.write_number(50_000, 1, -0.0).unwrap();
    wb.save(path).unwrap();
}

#[test]
fn written_workbooks_read_the_same_with_shared_and_inline_strings() {
    let dir = tempfile::tempdir().unwrap();
    for constant_memory in [false, true] {
        let path = dir.path().join(format!("book_{constant_memory}.xlsx"));
        write_book(&path, constant_memory);
        let got = same(&path, None);
        assert!(
            handled(&path, "房屋建筑"),
            "constant_memory={constant_memory}"
        );
        // The covered kinds are all there.
        for kind in ["Date(", "Bool(true)", "Number(", "Text(\"粗体红色 x\")"] {
            assert!(got.contains(kind), "{kind} missing:\n{}", head(&got));
        }
    }
}

/// A workbook of hand-written parts, for what no writer library emits.
struct Parts {
    sheet: String,
    strings: Option<String>,
    styles: Option<String>,
    date1904: bool,
}

impl Parts {
    fn new(sheet_data: &str) -> Parts {
        Parts {
            sheet: format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:C9"/><sheetData>{sheet_data}</sheetData></worksheet>"#
            ),
            strings: Some(
                r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4" uniqueCount="4"><si><t>房屋编号</t></si><si><r><rPr><b/></rPr><t xml:space="preserve"> 富 </t></r><r><t>文本</t></r><rPh sb="0" eb="1"><t>フ</t></rPh></si><si><t>a&amp;b_x000D_c</t></si><si/></sst>"#
                    .to_owned(),
            ),
            styles: Some(
                r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;"/><numFmt numFmtId="165" formatCode="0.00&quot;m&quot;"/></numFmts><fonts count="1"><font><sz val="11"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="14"/><xf numFmtId="46"/></cellXfs></styleSheet>"#
                    .to_owned(),
            ),
            date1904: false,
        }
    }

    fn write(&self, path: &Path) {
        let file = std::fs::File::create(path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let opts = zip::write::SimpleFileOptions::default();
        let mut put = |name: &str, body: &str| {
            zip.start_file(name, opts).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        };
        put(
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#,
        );
        put(
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        );
        put(
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        );
        let pr = if self.date1904 {
            r#"<workbookPr date1904="1"/>"#
        } else {
            ""
        };
        put(
            "xl/workbook.xml",
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">{pr}<sheets><sheet name="表" sheetId="1" r:id="rId1"/></sheets></workbook>"#
            ),
        );
        if let Some(s) = &self.strings {
            put("xl/sharedStrings.xml", s);
        }
        if let Some(s) = &self.styles {
            put("xl/styles.xml", s);
        }
        put("xl/worksheets/sheet1.xml", &self.sheet);
        zip.finish().unwrap();
    }
}

/// Sheet XML each reader could read its own way: cells and rows without `r`, every `t`, empty
/// values, formulas before and after values, inline rich text, dates by custom and built-in
/// formats, out-of-order and repeated cells, and constructs the fast path leaves to calamine.
const CASES: &[(&str, &str, bool)] = &[
    (
        "types",
        r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row><row r="2"><c r="A2" t="b"><v>1</v></c><c r="B2" t="b"><v> false </v></c><c r="C2" t="e"><v>#DIV/0!</v></c><c r="D2" t="str"><v>公式文本</v></c><c r="E2" t="d"><v>2021-05-21T00:00:00</v></c><c r="F2" t="d"><v>not a date</v></c><c r="G2" t="n"><v>1e3</v></c><c r="H2"><v>abc</v></c><c r="I2" t="s"><v>x</v></c></row>"#,
        true,
    ),
    (
        "empties",
        r#"<row r="1"><c r="A1"/><c r="B1"><v/></c><c r="C1" t="str"><v/></c><c r="D1" t="inlineStr"><is/></c><c r="E1" t="inlineStr"><v>9</v></c><c r="F1" t="s"><v></v></c><c r="G1" t="b"><v>  </v></c><c r="H1" t="d"><v/></c></row><row r="3"/><row r="4"></row>"#,
        true,
    ),
    (
        "formulas",
        r#"<row r="1"><c r="A1"><f>1+1</f><v>2</v></c><c r="B1"><v>2</v><f>1+1</f></c><c r="C1" t="str"><f t="shared" ref="C1:C2" si="0">A1&amp;"x"</f><v>2x</v></c><c r="D1"><f/><v>5</v></c></row>"#,
        true,
    ),
    (
        "no references",
        r#"<row><c t="inlineStr"><is><t>甲</t></is></c><c><v>1</v></c><c r="E1"><v>2</v></c><c><v>3</v></c></row><row><c><v>4</v></c></row><row r="7"><c><v>5</v></c><c r="B9"><v>6</v></c><c><v>7</v></c></row><row><c><v>8</v></c></row>"#,
        true,
    ),
    (
        "out of order and repeated",
        r#"<row r="5"><c r="C5"><v>1</v></c><c r="A5"><v>2</v></c></row><row r="2"><c r="B2"><v>3</v></c><c r="B2"><v>4</v></c></row><row r="5"><c r="A5"><v>9</v></c></row>"#,
        true,
    ),
    (
        "inline rich text",
        r#"<row r="1"><c r="A1" t="inlineStr"><is><r><rPr><b/><sz val="11"/></rPr><t xml:space="preserve"> 前 </t></r><r><t>  后  </t></r><rPh sb="0" eb="1"><t>ゼン</t></rPh></is></c><c r="B1" t="inlineStr"><is><t>a_x000D_b_x005F_x000D_</t><t>c</t></is></c><c r="C1" t="inlineStr"><is><t/></is></c></row>"#,
        true,
    ),
    (
        "dates by style",
        r#"<row r="1"><c r="A1" s="1"><v>44386</v></c><c r="B1" s="2"><v>44386</v></c><c r="C1" s="3"><v>44386.5</v></c><c r="D1" s="4"><v>1.25</v></c><c r="E1" s="9"><v>44386</v></c><c r="F1" s="x"><v>44386</v></c><c r="G1" s="1" t="n"><v>-1</v></c></row>"#,
        true,
    ),
    (
        "whitespace and attributes",
        "<row r=\"1\" spans=\"1:3\" x14ac:dyDescent=\"0.25\">\n  <c r=\"A1\" s=\"0\" t=\"n\" cm='1'>\n    <v>1.5</v>\n  </c>\n</row>\n",
        true,
    ),
    // Left to calamine: the result must still be the same.
    (
        "entities in text",
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>甲&amp;乙&lt;&#20013;&#x4E2D;&quot;&apos;&gt;</t></is></c><c r="B1" t="str"><v>&#32;x&amp;_x0041_</v></c><c r="C1" t="inlineStr"><is><t>&#32;trimmed?&#x20;</t></is></c></row>"#,
        true,
    ),
    (
        "entity in a number",
        r#"<row r="1"><c r="B1"><v>1&#48;</v></c></row>"#,
        false,
    ),
    (
        "unknown entity",
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>&nbsp;</t></is></c></row>"#,
        false,
    ),
    (
        "comment",
        r#"<row r="1"><!-- note --><c r="A1"><v>1</v></c></row>"#,
        false,
    ),
    (
        "namespaced",
        r#"<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>"#,
        false,
    ),
    (
        "string index out of range",
        r#"<row r="1"><c r="A1" t="s"><v>99</v></c></row>"#,
        false,
    ),
    (
        "unknown type",
        r#"<row r="1"><c r="A1" t="zz"><v>1</v></c></row>"#,
        false,
    ),
    (
        "bad bool",
        r#"<row r="1"><c r="A1" t="b"><v>2</v></c></row>"#,
        false,
    ),
    (
        "unclosed cell",
        r#"<row r="1"><c r="A1"><v>1</v></row>"#,
        false,
    ),
    (
        "past Excel",
        r#"<row r="1"><c r="XFE1"><v>1</v></c></row>"#,
        true,
    ),
];

#[test]
fn hand_written_sheets_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for (k, (name, xml, fast)) in CASES.iter().enumerate() {
        // Enough rows that the sheet is cut into several chunks.
        let filler: String = (100..400)
            .map(|r| format!(r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>填充{r}</t></is></c><c r="B{r}"><v>{r}.5</v></c></row>"#))
            .collect();
        for body in [xml.to_string(), format!("{xml}{filler}")] {
            let path = dir.path().join(format!("case{k}.xlsx"));
            Parts::new(&body).write(&path);
            same(&path, None);
            assert_eq!(handled(&path, "表"), *fast, "{name}");
        }
    }
}

#[test]
fn rows_without_references_across_chunks_keep_calamine_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..600)
        .map(|r| {
            format!(r#"<row><c t="inlineStr"><is><t>行{r}</t></is></c><c><v>{r}</v></c></row>"#)
        })
        .collect();
    let path = dir.path().join("norefs.xlsx");
    Parts::new(&format!(r#"<row r="3"><c><v>0</v></c></row>{rows}"#)).write(&path);
    let got = same(&path, None);
    assert!(handled(&path, "表"));
    // Row 3, then 600 more numbered on from it, as calamine numbers them.
    assert!(got.contains("603 1 Number(599.0)"), "{}", head(&got));
}

#[test]
fn workbook_variants_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"<row r="1"><c r="A1" s="1"><v>100</v></c><c r="B1" t="s"><v>1</v></c></row>"#;
    let mut variants = Vec::new();
    let mut p = Parts::new(body);
    p.date1904 = true;
    variants.push(("1904", p, true));
    let mut p = Parts::new(body);
    p.styles = None;
    variants.push(("no styles", p, true));
    let mut p = Parts::new(r#"<row r="1"><c r="A1"><v>1</v></c></row>"#);
    p.strings = None;
    variants.push(("no shared strings", p, true));
    let mut p = Parts::new(body);
    p.sheet = p.sheet.replace("<sheetData>", "<!-- c --><sheetData>");
    variants.push(("comment before the cells", p, false));
    let mut p = Parts::new(body);
    p.sheet = p.sheet.replace("</sheetData></worksheet>", "");
    variants.push(("cut after the last row", p, false));
    for (name, parts, fast) in variants {
        let path = dir.path().join(format!("{name}.xlsx"));
        parts.write(&path);
        same(&path, None);
        assert_eq!(handled(&path, "表"), fast, "{name}");
    }
}

/// A sheet whose content is whole but whose CRC is wrong: calamine may stop before the check, the
/// fast path reads to it; either way the two agree (the fast path hands such a sheet back).
#[test]
fn a_wrong_checksum_after_the_cells_gives_the_same_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crc.xlsx");
    for filler in [0u32, 300] {
        let rows: String = (1..=filler.max(1))
            .map(|r| format!(r#"<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>"#))
            .collect();
        Parts::new(&rows).write(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        let name = b"xl/worksheets/sheet1.xml";
        let at: Vec<usize> = bytes
            .windows(name.len())
            .enumerate()
            .filter(|(_, w)| *w == name)
            .map(|(k, _)| k)
            .collect();
        let mut flipped = 0;
        for k in at {
            // The CRC-32 sits 16 bytes before the name in a local header, 30 in the directory.
            if k >= 30 && bytes[k - 30..k - 26] == *b"PK\x03\x04" {
                bytes[k - 16] ^= 0xFF;
                flipped += 1;
            }
            if k >= 46 && bytes[k - 46..k - 42] == *b"PK\x01\x02" {
                bytes[k - 30] ^= 0xFF;
                flipped += 1;
            }
        }
        assert_eq!(flipped, 2);
        std::fs::write(&path, &bytes).unwrap();
        same(&path, None);
        assert!(!handled(&path, "表"), "a bad checksum must be handed back");
    }
}
