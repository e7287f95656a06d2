//! Targets for what a county office sends: spreadsheets, csv, shapefiles, and its own schema files.
//!
//! A file that reads is also put through QC, because that is where every cell of it goes next in
//! `riskcensus validate`: a cell a reader lets through must not crash the checks either.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use riskcensus_ingest::{Error as IngestError, Input, VectorOptions, read_table};
use riskcensus_qc::{Context, check_table};
use riskcensus_schema::{Registry, SchemaSet, TableSchema, table::parse_table};

use crate::{Outcome, framing::split_parts, must_name, scratch};

/// The shipped schemas, loaded once: they are the same for every input.
pub(crate) fn builtin() -> &'static SchemaSet {
    static SET: OnceLock<SchemaSet> = OnceLock::new();
    SET.get_or_init(|| SchemaSet::builtin().expect("the shipped schemas load"))
}

fn table(code: &str) -> &'static TableSchema {
    builtin()
        .table(code)
        .unwrap_or_else(|| panic!("fuzz harness: no shipped table {code}"))
}

/// Reads one file as `schema` the way a pipeline input is read, then checks what was read.
fn read_and_check(
    schemas: &SchemaSet,
    schema: &TableSchema,
    path: PathBuf,
) -> Result<(), IngestError> {
    let input = Input {
        display: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path,
        ..Input::default()
    };
    let raw = read_table(schema, &[input], VectorOptions { reproject: false })?;
    let ctx = Context {
        registry: Registry::nbs2023(),
        schemas,
        reference_year: 2020,
        region_code: "530381".into(),
        stale: BTreeMap::new(),
        units: None,
    };
    check_table(raw, schema, &ctx);
    Ok(())
}

fn outcome(result: Result<(), IngestError>, names: &[&str]) -> Outcome {
    if let Err(IngestError::ReaderFailed { message, place, .. }) = &result {
        assert!(
            !is_own_code(place),
            "contained panic in the project's own code at {place}: {message}"
        );
    }
    must_name(result.map_err(|e| e.to_string()), names)
}

/// Whether a panic's place is in the project's crates (`crates/…`, relative in workspace builds,
/// absolute in the fuzz build). The readers contain a third-party parser's panic as an error, which
/// keeps the product's promise; a panic in the project's own code is still a bug to fix, contained
/// or not, so the targets report it.
fn is_own_code(place: &str) -> bool {
    place.starts_with("crates/") || place.contains("/crates/")
}

/// The extension an office's file of these bytes would carry: `xls` for an OLE2 compound file, `ods`
/// for a zip whose first entry declares OpenDocument, else `xlsx`. Sniffing rather than a fixed
/// extension keeps a mutated xls on calamine's xls reader instead of failing at the zip header.
fn spreadsheet_extension(data: &[u8]) -> &'static str {
    const OLE2: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0];
    const ODS: &[u8] = b"application/vnd.oasis.opendocument";
    if data.starts_with(OLE2) {
        "xls"
    } else if data.starts_with(b"PK") && data.get(..200).is_some_and(|h| contains(h, ODS)) {
        "ods"
    } else {
        "xlsx"
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// An xlsx/xls/ods workbook of the schools table (`czt_xx`), through calamine and QC.
pub fn spreadsheet(data: &[u8]) -> Outcome {
    let name = format!("input.{}", spreadsheet_extension(data));
    let path = scratch::file(&name, data);
    outcome(read_and_check(builtin(), table("czt_xx"), path), &[&name])
}

/// A csv of the buildings table (`fwjz`), in whatever encoding, through the csv reader and QC.
pub fn csv(data: &[u8]) -> Outcome {
    let path = scratch::file("input.csv", data);
    outcome(
        read_and_check(builtin(), table("fwjz"), path),
        &["input.csv"],
    )
}

/// The parts of a shapefile input, in framing order; the last (the DBF) takes the rest.
pub const SHAPEFILE_PARTS: [&str; 5] = ["shp", "shx", "prj", "cpg", "dbf"];

/// A shapefile (framed: see `frame_parts`, parts in `SHAPEFILE_PARTS` order; an empty .prj or .cpg
/// is left out) read as township boundaries (`xzqh_xz`), or as a hazard-zone layer (`hz_flood`)
/// when it lacks the township columns, through GDAL and QC.
pub fn shapefile(data: &[u8]) -> Outcome {
    let parts = split_parts(data, SHAPEFILE_PARTS.len());
    let mut shp = PathBuf::new();
    for (ext, bytes) in SHAPEFILE_PARTS.iter().zip(&parts) {
        let name = format!("input.{ext}");
        if bytes.is_empty() && matches!(*ext, "prj" | "cpg") {
            scratch::remove(&name);
            continue;
        }
        let path = scratch::file(&name, bytes);
        if *ext == "shp" {
            shp = path;
        }
    }
    let result = match read_and_check(builtin(), table("xzqh_xz"), shp.clone()) {
        Err(IngestError::MissingColumns { .. } | IngestError::MissingFields { .. }) => {
            read_and_check(builtin(), table("hz_flood"), shp)
        }
        other => other,
    };
    outcome(result, &["input."])
}

/// A schema file an office adds with `[schemas] dirs`: parsed as a table; a table that parses is
/// loaded beside the shipped schemas as a pipeline's directory is, and a small csv with its fields
/// is read and checked with it. Text that is not a table is tried as a code list.
pub fn schema_toml(data: &[u8]) -> Outcome {
    // The loader reads schema files as UTF-8 text and fails on anything else, naming the file.
    let Ok(text) = std::str::from_utf8(data) else {
        return Err("not UTF-8".into());
    };
    match parse_table("fuzz.toml", text) {
        Ok(_) => load_and_use_table(data),
        Err(e) => {
            // Checked for naming the file; then the text gets its chance as a code list.
            let _ = must_name(Err(e.to_string()), &["fuzz.toml"]);
            load_code_list(data)
        }
    }
}

fn load_and_use_table(data: &[u8]) -> Outcome {
    let dir = scratch::dir().join("schemas_table");
    scratch::file("schemas_table/tables/fuzz.toml", data);
    let mut set = builtin().clone();
    set.load_dir(&dir)
        .map_err(|e| e.to_string())
        .or_else(|e| must_name(Err(e), &["fuzz.toml"]))?;
    let Some(schema) = newest_table(&set) else {
        return Ok(());
    };
    let csv = scratch::file("schemas_table/records.csv", &sample_csv(schema));
    outcome(read_and_check(&set, schema, csv), &["records.csv"])
}

/// The table the fuzzed file defined (the one whose source is it).
fn newest_table(set: &SchemaSet) -> Option<&TableSchema> {
    set.tables
        .values()
        .find(|t| t.source.ends_with("fuzz.toml"))
}

fn load_code_list(data: &[u8]) -> Outcome {
    let dir = scratch::dir().join("schemas_codes");
    scratch::file("schemas_codes/codes/fuzz.toml", data);
    let mut set = SchemaSet::default();
    let result = set.load_dir(&dir).map_err(|e| e.to_string());
    must_name(result, &["fuzz.toml"])
}

/// A csv with the table's field codes as header and a few rows that exercise its rules: numbers,
/// a township code of the fixture county, text, a duplicate row and an empty row.
fn sample_csv(schema: &TableSchema) -> Vec<u8> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let header: Vec<String> = schema.fields.iter().map(|f| quote(&f.code)).collect();
    let row = |v: &str| vec![quote(v); schema.fields.len()].join(",");
    let lines = [
        header.join(","),
        row("1"),
        row("530381001"),
        row("530381001"),
        row(""),
        schema
            .fields
            .iter()
            .map(|f| quote(&f.name_zh))
            .collect::<Vec<_>>()
            .join(","),
    ];
    (lines.join("\n") + "\n").into_bytes()
}
