//! The upload package (汇交包): `<county code>_<county name>_<year>.zip` with a fixed layout and a
//! manifest, and `verify`, which a provincial office runs on what it receives.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

mod read;
mod tier;
pub use read::{MAX_MANIFEST_BYTES, MAX_PARQUET_FOOTER_BYTES, unpack, verify};
pub use tier::{SampleFigures, Tier, TierRecord};

/// Top-level folders a package may hold (besides `manifest.json`).
pub const LAYOUT: &[&str] = &["parquet/", "qc/", "maps/", "gis/", "risk/", "changes/"];
pub const FORMAT: &str = "riskcensus-package/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableRows {
    pub table: String,
    pub file: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QcTable {
    pub table: String,
    pub rows_read: u64,
    pub rows_clean: u64,
    pub rows_rejected: u64,
    /// Indicators checked and found wrong: 差错率 = errors ÷ indicators_checked.
    #[serde(default)]
    pub indicators_checked: u64,
    #[serde(default)]
    pub errors: u64,
    pub error_rate: f64,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub tool: String,
    pub tool_version: String,
    pub run: String,
    pub region_code: String,
    pub region_name: String,
    pub reference_year: i32,
    pub pipeline_sha256: String,
    pub inputs: Vec<InputHash>,
    pub schema_files: Vec<String>,
    pub division_codes: String,
    pub qc_passed: bool,
    pub qc: Vec<QcTable>,
    pub tables: Vec<TableRows>,
    pub files: Vec<FileEntry>,
    /// The review tiers the data has passed (county self-check, city sampled check, province
    /// acceptance); absent in packages from before the review loop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierRecord>,
    /// SHA-256 of the package this one follows (`run --previous`), whose differences are under
    /// `changes/`: packages of one county form a chain anyone can check by hashing the earlier file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_package_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputHash {
    pub table: String,
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A file name part with no path separator, no `..`, no control character.
pub fn sanitize(part: &str) -> String {
    let s: String = part
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() || c == ':' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let s = s.replace("..", "_");
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() { "_".into() } else { s }
}

/// SHA-256 of bytes, as hex.
pub fn sha256(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    format!("{:x}", h.finalize())
}

/// Rows of a Parquet file, from its footer.
fn rows_of_parquet(bytes: &[u8]) -> Option<u64> {
    use polars::prelude::{ParquetReader, SerReader};
    ParquetReader::new(std::io::Cursor::new(bytes))
        .num_rows()
        .ok()
        .map(|n| n as u64)
}

/// Empties an output directory of what a package is built from (the layout folders) and of the
/// temporary files a killed run left, so nothing of an earlier run enters the next package. The
/// whole package of an earlier run stays until the new one replaces it.
pub fn clear_outputs(out: &Path) -> Result<()> {
    if let Ok(entries) = std::fs::read_dir(out) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(".tmp-") && e.path().is_file() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    for top in LAYOUT {
        let d = out.join(top.trim_end_matches('/'));
        if d.is_dir() {
            std::fs::remove_dir_all(&d).map_err(|source| Error::Write { path: d, source })?;
        }
    }
    Ok(())
}

/// Who a package is from: the header of its manifest.
#[derive(Debug, Clone)]
pub struct Identity {
    pub run: String,
    pub region_code: String,
    pub region_name: String,
    pub reference_year: i32,
    /// SHA-256 of the pipeline file (of the model, for a provincial merge).
    pub pipeline_sha256: String,
    pub schema_files: Vec<String>,
    /// SHA-256 of the package this one follows, if any.
    pub previous_package_sha256: Option<String>,
}

/// Builds the package of a finished run from its output directory `out`: `id` says who it is
/// from (and the package it follows, if any), `inputs` the files the run read, `qc` the run's QC
/// figures. Returns its path.
pub fn build(
    out: &Path,
    id: &Identity,
    inputs: Vec<InputHash>,
    qc: &riskcensus_qc::report::Summary,
) -> Result<PathBuf> {
    build_from(out, id, inputs, qc.passed, qc_tables(qc))
}

/// The QC figures of each table, as the manifest records them.
pub fn qc_tables(qc: &riskcensus_qc::report::Summary) -> Vec<QcTable> {
    qc.tables
        .iter()
        .map(|t| QcTable {
            table: t.table.clone(),
            rows_read: t.rows_read,
            rows_clean: t.rows_clean,
            rows_rejected: t.rows_rejected,
            indicators_checked: t.indicators_checked,
            errors: t.errors,
            error_rate: t.error_rate,
            passed: t.passed,
        })
        .collect()
}

/// How an entry is stored: Parquet (zstd inside) and PNG are compressed already, so deflating them
/// again costs time for a few bytes; everything else is deflated. Fixed timestamps and permissions:
/// the same run gives the same bytes.
fn entry_options(rel: &str) -> zip::write::SimpleFileOptions {
    let method = if rel.ends_with(".parquet") || rel.ends_with(".png") {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
}

/// Builds a package from the layout folders of `out`, named `<code>_<name>_<year>.zip` and written
/// under a temporary name, renamed when whole.
pub fn build_from(
    out: &Path,
    id: &Identity,
    inputs: Vec<InputHash>,
    qc_passed: bool,
    qc: Vec<QcTable>,
) -> Result<PathBuf> {
    let files = layout_files(out)?;
    let name = format!(
        "{}_{}_{}.zip",
        sanitize(&id.region_code),
        sanitize(&id.region_name),
        id.reference_year
    );
    let path = out.join(&name);
    let tmp = out.join(format!(".{name}.tmp-{}", std::process::id()));
    let f = std::fs::File::create(&tmp).map_err(|e| werr(&tmp, &e))?;
    let mut zip = zip::ZipWriter::new(f);
    let (entries, tables) = write_entries(&mut zip, &files, &tmp)?;
    let manifest = Manifest {
        format: FORMAT.into(),
        tool: "riskcensus".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        run: id.run.clone(),
        region_code: id.region_code.clone(),
        region_name: id.region_name.clone(),
        reference_year: id.reference_year,
        pipeline_sha256: id.pipeline_sha256.clone(),
        inputs,
        schema_files: id.schema_files.clone(),
        division_codes: riskcensus_schema::divisions::EDITION.into(),
        qc_passed,
        qc,
        tables,
        files: entries,
        tiers: Vec::new(),
        previous_package_sha256: id.previous_package_sha256.clone(),
    };
    finish_zip(zip, &manifest, &tmp)?;
    std::fs::rename(&tmp, &path).map_err(|e| werr(&path, &e))?;
    // The rename itself reaches the disk, so a power cut after this leaves the new package.
    std::fs::File::open(out)
        .and_then(|d| d.sync_all())
        .map_err(|e| werr(out, &e))?;
    Ok(path)
}

/// An error writing the package, naming the file.
fn werr(p: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::Report(format!("cannot write the package {}: {e}", p.display()))
}

/// Every file under the layout folders of `out` (relative path with `/`, full path), in path
/// order; hidden and temporary files left out.
fn layout_files(out: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for top in LAYOUT {
        let dir = out.join(top.trim_end_matches('/'));
        if !dir.is_dir() {
            continue;
        }
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(|e| werr(&d, &e))? {
                let p = e.map_err(|e| werr(&d, &e))?.path();
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with('.') || name.contains(".tmp-") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(out) {
                    files.push((rel.to_string_lossy().replace('\\', "/"), p.clone()));
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Writes `files` into the zip (`tmp`, for errors) and returns the manifest's entry of each and
/// the rows of each Parquet table. One file in memory at a time (a provincial package is many
/// counties' worth), read once: hashed, counted and written into the zip from the same bytes.
fn write_entries(
    zip: &mut zip::ZipWriter<std::fs::File>,
    files: &[(String, PathBuf)],
    tmp: &Path,
) -> Result<(Vec<FileEntry>, Vec<TableRows>)> {
    let mut entries = Vec::new();
    let mut tables = Vec::new();
    for (rel, p) in files {
        let bytes = std::fs::read(p).map_err(|e| werr(p, &e))?;
        zip.start_file(rel.as_str(), entry_options(rel))
            .map_err(|e| werr(tmp, &e))?;
        zip.write_all(&bytes).map_err(|e| werr(tmp, &e))?;
        entries.push(FileEntry {
            path: rel.clone(),
            bytes: bytes.len() as u64,
            sha256: sha256(&bytes),
        });
        if let Some(t) = table_rows(rel, &bytes) {
            tables.push(t);
        }
    }
    Ok((entries, tables))
}

/// The table and rows of a Parquet file of the package (`parquet/<table>.parquet` or
/// `parquet/<table>/county=<code>/part-0.parquet`); `None` for any other file.
fn table_rows(rel: &str, bytes: &[u8]) -> Option<TableRows> {
    if !(rel.starts_with("parquet/") && rel.ends_with(".parquet")) {
        return None;
    }
    let inner = rel.trim_start_matches("parquet/");
    let table = inner
        .split('/')
        .next()
        .unwrap_or(inner)
        .trim_end_matches(".parquet")
        .to_owned();
    Some(TableRows {
        table,
        file: rel.to_owned(),
        rows: rows_of_parquet(bytes).unwrap_or(0),
    })
}

/// Writes the manifest last, closes the zip and syncs it to the disk.
fn finish_zip(
    mut zip: zip::ZipWriter<std::fs::File>,
    manifest: &Manifest,
    tmp: &Path,
) -> Result<()> {
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| werr(tmp, &e))?;
    zip.start_file("manifest.json", entry_options("manifest.json"))
        .map_err(|e| werr(tmp, &e))?;
    zip.write_all(&json).map_err(|e| werr(tmp, &e))?;
    let f = zip.finish().map_err(|e| werr(tmp, &e))?;
    f.sync_all().map_err(|e| werr(tmp, &e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_cannot_escape() {
        assert_eq!(super::sanitize("../etc/passwd"), "__etc_passwd");
        assert_eq!(super::sanitize("红塔区"), "红塔区");
        assert_eq!(super::sanitize("a\\b"), "a_b");
        assert_eq!(super::sanitize(".."), "_");
    }
}
