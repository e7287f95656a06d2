//! Survey forms (`riskcensus template`): every table's blank form, filled in the way an office fills
//! it (cells typed under the header, nothing else touched), reads back through a real pipeline with
//! zero issues; the forms carry the header, notes, dropdowns and 填表说明 they promise.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use riskcensus_pipeline::{Run, validate};
use riskcensus_schema::{SchemaSet, TableSchema};
use riskcensus_synth::County;
pub(crate) use riskcensus_synth::forms::{self, Typed};
use riskcensus_synth::template::{
    self, CODES_SHEET, HEADER_ROWS, INSTRUCTIONS_SHEET, TemplateOptions, Township,
};

pub(crate) const COUNTY: &str = "530402";
const SEED: u64 = 7;

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn letters(mut c: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push((b'A' + (c % 26) as u8) as char);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.iter().rev().collect()
}

/// Fills a form in place: the data rows (from row 5) are replaced by `rows`, typed as an office types
/// them (text cells as text, numbers as numbers); the header, notes, formats and validations stay
/// as the template wrote them. Works on the sheet's XML, since no xlsx library here edits a file.
pub(crate) fn fill_form(path: &Path, rows: &[Vec<Option<Typed>>]) {
    let mut zin = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut entries = Vec::new();
    for k in 0..zin.len() {
        let mut f = zin.by_index(k).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        entries.push((f.name().unwrap().into_owned(), bytes));
    }
    let width = rows.iter().map(Vec::len).max().unwrap_or(1);
    for (name, bytes) in &mut entries {
        if name != "xl/worksheets/sheet1.xml" {
            continue;
        }
        let mut xml = String::from_utf8(std::mem::take(bytes)).unwrap();
        // Drop the rows below the header (a pre-filled row is typed over whole).
        let first_data = format!("<row r=\"{}\"", HEADER_ROWS + 1);
        if let Some(a) = xml.find(&first_data) {
            let b = xml.find("</sheetData>").unwrap();
            xml.replace_range(a..b, "");
        }
        let mut body = String::new();
        for (k, row) in rows.iter().enumerate() {
            let r = HEADER_ROWS as usize + 1 + k;
            body.push_str(&format!("<row r=\"{r}\">"));
            for (c, cell) in row.iter().enumerate() {
                let at = format!("{}{r}", letters(c));
                match cell {
                    None => {}
                    Some(Typed::Text(s)) => body.push_str(&format!(
                        "<c r=\"{at}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
                        xml_escape(s)
                    )),
                    Some(Typed::Num(v)) => body.push_str(&format!("<c r=\"{at}\"><v>{v}</v></c>")),
                }
            }
            body.push_str("</row>");
        }
        let at = xml.find("</sheetData>").unwrap();
        xml.insert_str(at, &body);
        // The sheet's extent, as a spreadsheet program would record it.
        let a = xml.find("<dimension ref=\"").unwrap() + "<dimension ref=\"".len();
        let b = a + xml[a..].find('"').unwrap();
        let last = HEADER_ROWS as usize + rows.len();
        xml.replace_range(a..b, &format!("A1:{}{last}", letters(width - 1)));
        *bytes = xml.into_bytes();
    }
    let mut zout = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        zout.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zout.write_all(&bytes).unwrap();
    }
    zout.finish().unwrap();
}

/// What a careful office types in each field of record `row`, placed in township `t`.
pub(crate) fn record(
    schema: &TableSchema,
    set: &SchemaSet,
    county: &County,
    t: usize,
    row: usize,
) -> Vec<Option<Typed>> {
    forms::record(schema, set, county, t, row, 2020)
}

pub(crate) fn generated_county(dir: &Path) -> County {
    let mut o = riskcensus_synth::Options::new(COUNTY, dir);
    o.buildings = 1_000;
    o.seed = SEED;
    o.defect_rate = 0.0;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
    County::build(COUNTY, SEED).unwrap()
}

/// A pipeline reading `forms` (table, file) with the generated county's townships as the units.
pub(crate) fn forms_pipeline(dir: &Path, forms: &[(String, PathBuf)]) -> Run {
    let mut toml = format!(
        "[run]\nname = \"forms\"\nregion_code = \"{COUNTY}\"\nreference_year = 2020\n\n[units]\ntable = \"xzqh_xz\"\npath = \"xzqh_xz.shp\"\ncode_field = \"xzqdm\"\nname_field = \"xzqmc\"\n"
    );
    for (table, path) in forms {
        toml.push_str(&format!(
            "\n[[inputs]]\ntable = \"{table}\"\npath = \"{}\"\n",
            path.display()
        ));
    }
    let p = dir.join("forms.toml");
    std::fs::write(&p, toml).unwrap();
    Run::load(&p, Some(&dir.join("out"))).unwrap()
}

/// The column letters of a field on its table's form.
fn schema_letter(set: &SchemaSet, table: &str, field: &str) -> String {
    letters(set.table(table).unwrap().field_index(field).unwrap())
}

fn sheet_xml(path: &Path, entry: &str) -> String {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut s = String::new();
    z.by_name(entry).unwrap().read_to_string(&mut s).unwrap();
    s
}

/// Every table a form can carry: its blank form, filled with three records by `fill_form`, reads
/// back through `validate` with every record clean and not one issue; the form has the title, the
/// two-row header, a note per field, the code-list dropdowns and the 填表说明 and 代码表 sheets.
#[test]
fn every_tables_form_filled_in_reads_back_with_zero_issues() {
    let d = tempfile::tempdir().unwrap();
    let county = generated_county(d.path());
    let set = SchemaSet::builtin().unwrap();
    let tables: Vec<String> = set
        .tables
        .values()
        .filter(|t| template::has_form(t))
        .map(|t| t.code.clone())
        .collect();
    assert!(tables.len() >= 20, "{tables:?}");
    let forms_dir = d.path().join("forms");
    let files =
        template::write_templates(&set, &tables, &forms_dir, &TemplateOptions::default()).unwrap();
    let mut forms = Vec::new();
    for (table, path) in tables.iter().zip(&files) {
        let schema = set.table(table).unwrap();
        // The blank form as written.
        let mut wb = open_workbook_auto(path).unwrap();
        let names = wb.sheet_names();
        assert_eq!(
            names[1..],
            [INSTRUCTIONS_SHEET.to_owned(), CODES_SHEET.to_owned()]
        );
        let grid = wb.worksheet_range(&names[0]).unwrap();
        assert_eq!(
            grid.get_value((0, 0)),
            Some(&Data::String(schema.name_zh.clone()))
        );
        for (k, f) in schema.fields.iter().enumerate() {
            assert_eq!(
                grid.get_value((3, k as u32)),
                Some(&Data::String(template::label(f))),
                "{table} column {k}"
            );
            assert!(
                grid.get_value((2, k as u32)).is_some(),
                "{table}: no group label over {k}"
            );
        }
        assert_eq!(
            grid.height(),
            HEADER_ROWS as usize,
            "{table}: a blank form has no data rows"
        );
        let instructions = wb.worksheet_range(INSTRUCTIONS_SHEET).unwrap();
        for f in &schema.fields {
            assert!(
                instructions
                    .rows()
                    .any(|r| r.get(1) == Some(&Data::String(f.code.clone()))),
                "{table}: {} not in {INSTRUCTIONS_SHEET}",
                f.code
            );
        }
        let comments = sheet_xml(path, "xl/comments1.xml");
        assert_eq!(
            comments.matches("<comment ").count(),
            schema.fields.len(),
            "{table}: one note per field"
        );
        let xml = sheet_xml(path, "xl/worksheets/sheet1.xml");
        for (k, f) in schema.fields.iter().enumerate() {
            if f.codes.is_some() {
                let sqref = format!("sqref=\"{}5:{}1048576\"", letters(k), letters(k));
                let validation = xml
                    .split("<dataValidation ")
                    .find(|v| v.contains(&sqref))
                    .unwrap_or_else(|| panic!("{table}.{}: no dropdown", f.code));
                assert!(
                    validation.starts_with("type=\"list\"") && validation.contains(CODES_SHEET),
                    "{table}.{}: {validation}",
                    f.code
                );
            }
        }
        // Three records in three townships, filled in.
        let rows: Vec<_> = (0..3)
            .map(|row| record(schema, &set, &county, row, row))
            .collect();
        fill_form(path, &rows);
        let local = d.path().join(format!("{table}.xlsx"));
        std::fs::copy(path, &local).unwrap();
        forms.push((table.clone(), local));
    }
    let run = forms_pipeline(d.path(), &forms);
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let mut issues: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &v.results {
        for i in &r.issues {
            issues.entry(r.table.clone()).or_default().push(format!(
                "row {:?} {:?} {} {}",
                i.row, i.field, i.rule, i.message_en
            ));
        }
    }
    assert!(
        issues.is_empty(),
        "forms filled in gave issues: {issues:#?}"
    );
    for (table, _) in &forms {
        let t = v.summary.tables.iter().find(|t| &t.table == table).unwrap();
        assert_eq!((t.rows_read, t.rows_clean), (3, 3), "{table}");
    }
}

/// A form made for one township: a table with one record per township comes with that record's code
/// and name filled in, the township column offers only that code, village codes must start with it.
#[test]
fn a_township_form_is_prefilled_and_reads_back_clean() {
    let d = tempfile::tempdir().unwrap();
    let county = generated_county(d.path());
    let set = SchemaSet::builtin().unwrap();
    let town = &county.townships[1];
    let opts = TemplateOptions {
        reference_year: 2020,
        township: Some(Township {
            code: town.code.clone(),
            name: town.name.clone(),
        }),
    };
    let files = template::write_templates(
        &set,
        &["xzjd_rkjj".into(), "fwjz".into()],
        &d.path().join("forms"),
        &opts,
    )
    .unwrap();
    assert!(files[0].to_string_lossy().contains(&town.code));
    let mut wb = open_workbook_auto(&files[0]).unwrap();
    let grid = wb.worksheet_range_at(0).unwrap().unwrap();
    let schema = set.table("xzjd_rkjj").unwrap();
    let at = |code: &str| schema.field_index(code).unwrap() as u32;
    assert_eq!(
        grid.get_value((4, at("xzqdm"))),
        Some(&Data::String(town.code.clone()))
    );
    assert_eq!(
        grid.get_value((4, at("xzqmc"))),
        Some(&Data::String(town.name.clone()))
    );
    let fwjz = sheet_xml(&files[1], "xl/worksheets/sheet1.xml");
    assert!(
        fwjz.contains(&format!("<formula1>\"{}\"</formula1>", town.code)),
        "township dropdown"
    );
    let village = schema_letter(&set, "fwjz", "cjdm");
    assert!(
        fwjz.contains(&format!(
            "<formula1>AND(LEN({village}5)=12,LEFT({village}5,9)=\"{}\")</formula1>",
            town.code
        )),
        "village prefix check"
    );
    // Filled in over the pre-filled row, and fwjz with two buildings of the township.
    fill_form(&files[0], &[record(schema, &set, &county, 1, 0)]);
    let fwjz_schema = set.table("fwjz").unwrap();
    fill_form(
        &files[1],
        &[
            record(fwjz_schema, &set, &county, 1, 0),
            record(fwjz_schema, &set, &county, 1, 1),
        ],
    );
    let run = forms_pipeline(
        d.path(),
        &[
            ("xzjd_rkjj".into(), files[0].clone()),
            ("fwjz".into(), files[1].clone()),
        ],
    );
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    for r in &v.results {
        assert!(r.issues.is_empty(), "{}: {:?}", r.table, r.issues);
    }
    let rows: Vec<(String, u64)> = v
        .summary
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows_clean))
        .collect();
    assert!(
        rows.contains(&("xzjd_rkjj".into(), 1)) && rows.contains(&("fwjz".into(), 2)),
        "{rows:?}"
    );
}
