//! Incremental reruns: a table whose files (by hash), schema, code lists, division changes,
//! dispositions, region, reference year and tool version are what they were at the last run is not
//! read and checked again; its checked result comes from `<out>/.cache/qc/<table>.bin`, written
//! beside the outputs (never packaged). The result is the same bit for bit, so every output is the
//! same bytes as a full run's. Anything that cannot be read back (another format, damage) is a miss.

use std::io::Write;
use std::path::{Path, PathBuf};

use riskcensus_ingest::Input;
use riskcensus_qc::TableResult;
use riskcensus_schema::TableSchema;
use sha2::{Digest, Sha256};

use crate::{FileHashes, Run};

/// The key of one table's checked result: SHA-256 over everything its checking reads.
pub(crate) struct KeyBuilder(Sha256);

impl KeyBuilder {
    /// Starts a key with what every table of the run shares.
    pub(crate) fn new(run: &Run, schema: &TableSchema) -> KeyBuilder {
        let mut h = Sha256::new();
        let mut part = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        part(env!("CARGO_PKG_VERSION"));
        part(riskcensus_schema::divisions::EDITION);
        part(&run.region_code);
        part(&run.reference_year.to_string());
        part(&run.reproject.to_string());
        part(&format!("{schema:?}"));
        part(&format!("{:?}", run.schemas.codes));
        let mut k = KeyBuilder(h);
        k.file_opt(run.division_changes.as_deref());
        k.file_opt(run.dispositions.as_deref());
        k
    }

    fn part(&mut self, s: &str) {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
    }

    /// A file's bytes (or that it is absent).
    fn file_opt(&mut self, path: Option<&Path>) {
        match path.map(std::fs::read) {
            Some(Ok(bytes)) => {
                self.part("file");
                self.0.update(Sha256::digest(&bytes));
            }
            Some(Err(_)) => self.part("unreadable"),
            None => self.part("none"),
        }
    }

    /// An input as the readers take it: how it is named and read, and the hashes of the file and
    /// of its sidecars (a shapefile's .dbf, .shx, .prj, .cpg), each hashed once per run.
    pub(crate) fn input(&mut self, i: &Input, hashes: &FileHashes) {
        self.part(&i.display);
        self.part(&format!(
            "{:?} {:?} {:?} {:?}",
            i.sheet, i.layer, i.encoding, i.columns
        ));
        for p in with_sidecars(&i.path) {
            self.part(&p.display().to_string());
            match hashes.of(&p) {
                Ok((_, sha256)) => self.part(&sha256),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.part("absent"),
                Err(_) => self.part("unreadable"),
            }
        }
    }

    /// Another table's key this one depends on (the units every record is checked against).
    pub(crate) fn after(&mut self, key: &str) {
        self.part(key);
    }

    pub(crate) fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// A file and the sidecars that are part of it: for `x.shp`, `x.shx`, `x.dbf`, `x.prj`, `x.cpg`.
fn with_sidecars(path: &Path) -> Vec<PathBuf> {
    let is_shp = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("shp"));
    let mut out = vec![path.to_owned()];
    if is_shp {
        for ext in ["shx", "dbf", "prj", "cpg"] {
            out.push(path.with_extension(ext));
        }
    }
    out
}

/// Where the run keeps its cache.
fn path_of(out_dir: &Path, table: &str) -> PathBuf {
    out_dir
        .join(".cache")
        .join("qc")
        .join(format!("{}.bin", crate::package::sanitize(table)))
}

/// The cached result of a table checked under `key`, with its issues' record hashes; `None` when
/// there is none, it was made under another key, or it cannot be read back.
pub(crate) fn load(out_dir: &Path, table: &str, key: &str) -> Option<(TableResult, Vec<u64>)> {
    let bytes = std::fs::read(path_of(out_dir, table)).ok()?;
    let rest = bytes.strip_prefix(key.as_bytes())?.strip_prefix(b"\n")?;
    match riskcensus_qc::cache::decode(rest) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(table, error = %e, "cache unreadable; checking the table again");
            None
        }
    }
}

/// Keeps a table's checked result for the next run. A cache that cannot be written costs the next
/// run time, not correctness: it is a warning in the log, not an error.
pub(crate) fn store(out_dir: &Path, table: &str, key: &str, r: &TableResult, hashes: &[u64]) {
    let path = path_of(out_dir, table);
    let written = crate::write_atomic_with(&path, |w| {
        w.write_all(key.as_bytes())?;
        w.write_all(b"\n")?;
        riskcensus_qc::cache::encode_to(r, hashes, w)
    });
    if let Err(e) = written {
        tracing::warn!(table, error = %e, "cannot write the cache; the next run checks the table again");
    }
}
