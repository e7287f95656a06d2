//! The seed corpus: small, valid inputs for every target, made from the committed fixtures
//! (`fixtures/county_530381`, `fixtures/formats`, `pipelines/`, `schemas/`).
//!
//! Seeds are kept small and zips are re-packed without compression, because a fuzzer mutates
//! bytes: a flipped byte in a deflate stream or in a 300 KB workbook teaches it little, a flipped
//! byte in the XML of a 5 KB stored workbook reaches the parser. `make-seeds` writes them to
//! `fuzz/seeds/<target>/`, where the campaigns start and the replay test reads them.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use polars::prelude::ParquetWriter;
use riskcensus_pipeline::package::{FORMAT, FileEntry, Manifest, TableRows, sha256};
use zip::write::SimpleFileOptions;

use crate::framing::frame_parts;

/// One seed: its target, a file name, the bytes.
pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The repository this crate is in (fixtures, pipelines and schemas are read from it).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> Vec<u8> {
    let p = repo().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("seed source {}: {e}", p.display()))
}

fn text(rel: &str) -> String {
    String::from_utf8(read(rel)).unwrap_or_else(|e| panic!("seed source {rel}: {e}"))
}

fn seed(target: &'static str, name: &str, bytes: Vec<u8>) -> Seed {
    Seed {
        target,
        name: name.to_owned(),
        bytes,
    }
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut out = Vec::new();
    out.extend(spreadsheet());
    out.extend(csv());
    out.extend(shapefile());
    out.extend(schema_toml());
    out.extend(pipeline_toml());
    out.extend(model_toml());
    out.extend(package());
    out
}

// ---- spreadsheets ----

const SCHOOLS: &str = "fixtures/county_530381/czt_xx.xlsx";

/// The fixture's schools workbook as sent (deflated), its first rows as a small stored workbook,
/// and LibreOffice's xls and ods of it.
fn spreadsheet() -> Vec<Seed> {
    let small = first_rows_workbook(&repo().join(SCHOOLS), 9);
    vec![
        seed("spreadsheet", "czt_xx_small.xlsx", stored_zip(&small, LEAN)),
        seed("spreadsheet", "czt_xx_fixture.xlsx", read(SCHOOLS)),
        seed(
            "spreadsheet",
            "czt_xx.xls",
            read("fixtures/formats/czt_xx.xls"),
        ),
        // As converted (deflated): stored, its verbose XML makes a 440 KB seed.
        seed(
            "spreadsheet",
            "czt_xx.ods",
            read("fixtures/formats/czt_xx.ods"),
        ),
    ]
}

/// The first `n` rows of a workbook's first sheet (title rows, the two-row header, a few records).
fn first_rows(path: &Path, n: usize) -> Vec<Vec<Data>> {
    let mut wb = open_workbook_auto(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).expect("first sheet");
    range.rows().take(n).map(<[Data]>::to_vec).collect()
}

/// A new xlsx holding the first `n` rows of `path`, cell for cell (text and numbers).
fn first_rows_workbook(path: &Path, n: usize) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, row) in first_rows(path, n).iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                Data::Empty => continue,
                Data::Float(v) => ws.write_number(r, c, *v),
                Data::Int(v) => ws.write_number(r, c, *v as f64),
                other => ws.write_string(r, c, other.to_string()),
            }
            .expect("write a seed cell");
        }
    }
    wb.save_to_buffer().expect("seed workbook")
}

/// Parts of an xlsx that calamine does not need to read cells (theme, document properties): left
/// out of the small seed, so the fuzzer's bytes go to the parts it parses.
const LEAN: &[&str] = &[
    "xl/theme/theme1.xml",
    "docProps/app.xml",
    "docProps/core.xml",
];

/// The same zip with every entry stored (no compression), in the same order, less `leave_out`.
fn stored_zip(bytes: &[u8], leave_out: &[&str]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a seed zip");
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("zip entry");
        let name = entry.name().expect("zip entry name").into_owned();
        if leave_out.contains(&name.as_str()) {
            continue;
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("zip entry bytes");
        out.start_file(name, stored()).expect("zip entry");
        out.write_all(&content).expect("zip entry bytes");
    }
    out.finish().expect("zip").into_inner()
}

fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
}

// ---- csv ----

/// The fixture's first building records as csv: UTF-8, UTF-8 with a BOM and CRLF, and GBK.
fn csv() -> Vec<Seed> {
    let rows = first_rows(&repo().join("fixtures/county_530381/fwjz.xlsx"), 10);
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for row in &rows {
        w.write_record(row.iter().map(|c| match c {
            Data::Empty => String::new(),
            other => other.to_string(),
        }))
        .expect("csv row");
    }
    let utf8 = String::from_utf8(w.into_inner().expect("csv")).expect("utf-8 csv");
    let bom_crlf = format!("\u{feff}{}", utf8.replace('\n', "\r\n"));
    let (gbk, _, lossy) = encoding_rs::GBK.encode(&utf8);
    let gbk = gbk.into_owned();
    assert!(!lossy, "the fixture's text is all in GBK");
    vec![
        seed("csv", "fwjz_utf8.csv", utf8.into_bytes()),
        seed("csv", "fwjz_bom_crlf.csv", bom_crlf.into_bytes()),
        seed("csv", "fwjz_gbk.csv", gbk),
    ]
}

// ---- shapefiles ----

/// The fixture's township boundaries (GBK DBF with .cpg and .prj) and a hazard layer without .cpg
/// (so the DBF encoding is detected), each cut to its first two features.
fn shapefile() -> Vec<Seed> {
    let framed = |stem: &str, cpg: bool| {
        let part = |ext: &str| read(&format!("fixtures/county_530381/{stem}.{ext}"));
        let (shp, shx, dbf) = first_records(&part("shp"), &part("shx"), &part("dbf"), 2);
        let cpg = if cpg { part("cpg") } else { Vec::new() };
        // Order as `readers::SHAPEFILE_PARTS`: shp, shx, prj, cpg, dbf.
        frame_parts(&[&shp, &shx, &part("prj"), &cpg, &dbf])
    };
    vec![
        seed("shapefile", "xzqh_xz_2.shpf", framed("xzqh_xz", true)),
        seed(
            "shapefile",
            "hz_flood_2_no_cpg.shpf",
            framed("hz_flood", false),
        ),
    ]
}

fn be_u32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize
}

/// A shapefile cut to its first `n` records: the .shp up to the end of record `n`, the .shx's
/// first `n` entries, the DBF's first `n` records, each header's length or count set to match.
fn first_records(shp: &[u8], shx: &[u8], dbf: &[u8], n: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let last = 100 + 8 * (n - 1);
    let shp_end = (be_u32(shx, last) + 4 + be_u32(shx, last + 4)) * 2;
    let mut shp = shp[..shp_end].to_vec();
    shp[24..28].copy_from_slice(&((shp_end / 2) as u32).to_be_bytes());
    let shx_end = 100 + 8 * n;
    let mut shx = shx[..shx_end].to_vec();
    shx[24..28].copy_from_slice(&((shx_end / 2) as u32).to_be_bytes());
    let header_len = u16::from_le_bytes([dbf[8], dbf[9]]) as usize;
    let record_len = u16::from_le_bytes([dbf[10], dbf[11]]) as usize;
    let mut dbf = dbf[..header_len + n * record_len].to_vec();
    dbf[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    dbf.push(0x1A);
    (shp, shx, dbf)
}

// ---- schema files ----

/// Every shipped table schema and code list.
fn schema_toml() -> Vec<Seed> {
    let mut out = Vec::new();
    for dir in ["schemas/tables", "schemas/codes"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
            .expect("schema directory")
            .map(|e| e.expect("schema entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for p in files {
            let name = p.file_name().expect("file name").to_string_lossy();
            let prefix = if dir.ends_with("tables") {
                "table_"
            } else {
                "codes_"
            };
            out.push(seed(
                "schema_toml",
                &format!("{prefix}{name}"),
                std::fs::read(&p).expect("schema file"),
            ));
        }
    }
    out
}

// ---- pipeline and model files ----

const FIXTURE_PIPELINE: &str = "fixtures/county_530381/pipeline.toml";

/// The fixture county's pipeline, the same with the census model inline and with an extra schema
/// directory, and the two indicator-table examples with their paths made local (the fuzz target
/// puts the files they name beside them).
fn pipeline_toml() -> Vec<Seed> {
    let fixture = text(FIXTURE_PIPELINE);
    let model = text("pipelines/models/census.toml");
    let inline = fixture.replace("[model]\n", "[removed]\n");
    let inline = strip_table(&inline, "[removed]") + "\n" + &model;
    let schemas = fixture.replace("[output]", "[schemas]\ndirs = [\"my_schemas\"]\n\n[output]");
    let local = |rel: &str| text(rel).replace("../fixtures/indicators/", "");
    vec![
        seed("pipeline_toml", "fixture.toml", fixture.into_bytes()),
        seed("pipeline_toml", "inline_model.toml", inline.into_bytes()),
        seed("pipeline_toml", "schema_dirs.toml", schemas.into_bytes()),
        seed(
            "pipeline_toml",
            "nri.toml",
            local("pipelines/nri_example.toml").into_bytes(),
        ),
        seed(
            "pipeline_toml",
            "inform.toml",
            local("pipelines/inform_example.toml").into_bytes(),
        ),
    ]
}

/// `toml` without the table headed `header` (up to the next table header).
fn strip_table(toml: &str, header: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in toml.lines() {
        if line.starts_with('[') {
            skipping = line.trim() == header;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The shipped models, and a pipeline naming one by `file`.
fn model_toml() -> Vec<Seed> {
    let mut out: Vec<Seed> = ["census", "fema_nri", "inform"]
        .iter()
        .map(|m| {
            let bytes = read(&format!("pipelines/models/{m}.toml"));
            seed("model_toml", &format!("{m}.toml"), bytes)
        })
        .collect();
    out.push(seed(
        "model_toml",
        "file_reference.toml",
        b"[model]\nfile = \"models/inform.toml\"\n".to_vec(),
    ));
    out
}

// ---- upload package ----

/// A small package that verifies: a three-row Parquet table, a QC summary and the model, each
/// listed in the manifest with its size and SHA-256; entries stored so mutations reach them.
fn package() -> Vec<Seed> {
    let mut df = polars::df!(
        "unit_code" => ["530381001", "530381002", "530381003"],
        "composite_score" => [0.2, 0.5, 0.9],
    )
    .expect("seed frame");
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet)
        .finish(&mut df)
        .expect("seed parquet");
    let parquet_path = "parquet/unit_risk/county=530381/part-0.parquet";
    let files: Vec<(&str, Vec<u8>)> = vec![
        (parquet_path, parquet),
        (
            "qc/summary.json",
            br#"{"passed":true,"tables":[]}"#.to_vec(),
        ),
        ("risk/model.toml", read("pipelines/models/inform.toml")),
    ];
    let manifest = Manifest {
        format: FORMAT.into(),
        tool: "riskcensus".into(),
        tool_version: "0.1.0".into(),
        run: "seed".into(),
        region_code: "530381".into(),
        region_name: "宣威市".into(),
        reference_year: 2020,
        pipeline_sha256: sha256(b""),
        inputs: Vec::new(),
        schema_files: Vec::new(),
        division_codes: "NBS 2023".into(),
        qc_passed: true,
        qc: Vec::new(),
        tables: vec![TableRows {
            table: "unit_risk".into(),
            file: parquet_path.into(),
            rows: 3,
        }],
        files: files
            .iter()
            .map(|(path, bytes)| FileEntry {
                path: (*path).into(),
                bytes: bytes.len() as u64,
                sha256: sha256(bytes),
            })
            .collect(),
        tiers: Vec::new(),
        previous_package_sha256: None,
    };
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in &files {
        zip.start_file(*path, stored()).expect("zip entry");
        zip.write_all(bytes).expect("zip entry bytes");
    }
    zip.start_file("manifest.json", stored())
        .expect("zip entry");
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest json");
    zip.write_all(&json).expect("manifest bytes");
    let bytes = zip.finish().expect("zip").into_inner();
    vec![seed("package", "small_package.zip", bytes)]
}
