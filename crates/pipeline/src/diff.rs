//! What changed between two versions of a county's census data (常普常新): `riskcensus diff <old>
//! <new>` over two upload packages or two run output directories, and the `changes/` folder a run
//! given `--previous` puts into its package.
//!
//! Per table, records added, removed and changed, matched by the schema's primary key (changed
//! fields with old and new values); a table with no primary key is matched by content, so an edited
//! record there shows as one removed and one added. Per unit, composite score and grade changes and
//! the hazards that moved. QC: per table figures before and after, issues fixed and new. Inputs:
//! files added, removed or changed, by SHA-256. Everything is sorted, so the same two versions give
//! the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, DataType};
use riskcensus_schema::SchemaSet;
use serde::Serialize;

use crate::package::{InputHash, Manifest, sha256};
use crate::{Error, Result};

/// Columns that say where a record was read, not what it is: a record that moved down a row because
/// one above it was deleted has not changed.
const PROVENANCE: &[&str] = &["source_file", "source_row"];
/// Published tables that are not survey records: compared as units, or not at all.
const NOT_RECORDS: &[&str] = &["unit_risk", "unit_table", "issues"];

/// One side of a diff, opened: a run's output directory, or a verified package unpacked.
struct Side {
    /// The folder holding `parquet/` and `qc/`.
    dir: PathBuf,
    label: String,
    manifest: Option<Manifest>,
    package_sha256: Option<String>,
    inputs: Vec<InputHash>,
    /// Keeps an unpacked package alive while it is read.
    _tmp: Option<tempfile::TempDir>,
}

fn invalid(path: &Path, message: String, hint: &str) -> Error {
    Error::Invalid {
        path: path.to_owned(),
        message,
        hint: hint.into(),
    }
}

impl Side {
    /// A package (verified, then its `parquet/` and `qc/` unpacked from the bytes verified) or a run's
    /// output directory (with `parquet/`; its inputs from `inputs.json` unless given).
    fn open(path: &Path, inputs: Option<Vec<InputHash>>) -> Result<Side> {
        if path.is_file() {
            return Side::package(path);
        }
        if !path.join("parquet").is_dir() {
            return Err(invalid(
                path,
                "is neither an upload package nor a run's output directory (no parquet/ in it)"
                    .into(),
                "give two packages (<code>_<name>_<year>.zip) or two output directories of `riskcensus run`",
            ));
        }
        let inputs = match inputs {
            Some(i) => i,
            None => read_inputs_json(&path.join("inputs.json"))?,
        };
        Ok(Side {
            dir: path.to_owned(),
            label: path.display().to_string(),
            manifest: None,
            package_sha256: None,
            inputs,
            _tmp: None,
        })
    }

    fn package(path: &Path) -> Result<Side> {
        let tmp = tempfile::tempdir().map_err(|source| Error::Input {
            path: path.to_owned(),
            source,
        })?;
        let manifest =
            crate::package::unpack(path, tmp.path(), &|name| {
                name.starts_with("parquet/") || name.starts_with("qc/")
            })
            .map_err(|problems| {
                Error::Package {
            path: path.to_owned(),
            message: format!(
                "{} problem(s): {}",
                problems.len(),
                problems.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            ),
            hint: "`riskcensus verify` lists every problem; a diff reads only packages that verify"
                .into(),
        }
            })?;
        let (_, sha) = crate::sha256_file(path).map_err(|source| Error::Input {
            path: path.to_owned(),
            source,
        })?;
        Ok(Side {
            dir: tmp.path().to_owned(),
            label: path.display().to_string(),
            inputs: manifest.inputs.clone(),
            manifest: Some(manifest),
            package_sha256: Some(sha),
            _tmp: Some(tmp),
        })
    }
}

/// The inputs a run hashed, from its `inputs.json` (absent: none known).
fn read_inputs_json(path: &Path) -> Result<Vec<InputHash>> {
    #[derive(serde::Deserialize)]
    struct Report {
        inputs: Vec<InputHash>,
    }
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(Error::Input {
            path: path.to_owned(),
            source,
        }),
        Ok(bytes) => serde_json::from_slice::<Report>(&bytes)
            .map(|r| r.inputs)
            .map_err(|e| Error::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            }),
    }
}

/// Who a side is.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SideInfo {
    pub path: String,
    /// SHA-256 of the package file, when a package.
    pub package_sha256: Option<String>,
    pub run: Option<String>,
    pub region_code: Option<String>,
}

/// One field of a record that changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A record present on both sides whose fields differ.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangedRecord {
    pub key: String,
    pub fields: Vec<FieldChange>,
}

/// Records of one table, old against new.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableDiff {
    pub table: String,
    /// The columns records are matched by (the primary key), or empty when matched by content.
    pub key_columns: Vec<String>,
    pub old_records: usize,
    pub new_records: usize,
    /// Keys (or, matched by content, the record's values) of records only in the new version.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ChangedRecord>,
}

impl TableDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// A hazard's score and grade in a unit, old and new.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HazardMove {
    pub hazard: String,
    pub old_score: Option<f64>,
    pub new_score: Option<f64>,
    pub old_grade: String,
    pub new_grade: String,
}

/// A unit whose scores or grades changed (or that is in one version only).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnitChange {
    pub unit_code: String,
    pub unit_name: String,
    pub old_score: Option<f64>,
    pub new_score: Option<f64>,
    pub old_grade: String,
    pub new_grade: String,
    /// The hazards whose score or grade moved: what moved the composite.
    pub hazards: Vec<HazardMove>,
}

/// A table's QC figures before and after, listed when any differs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QcChange {
    pub table: String,
    pub old_rows_read: Option<u64>,
    pub new_rows_read: Option<u64>,
    pub old_rows_rejected: Option<u64>,
    pub new_rows_rejected: Option<u64>,
    pub old_errors: Option<u64>,
    pub new_errors: Option<u64>,
    /// 差错率 before and after.
    pub old_error_rate: Option<f64>,
    pub new_error_rate: Option<f64>,
    pub old_passed: Option<bool>,
    pub new_passed: Option<bool>,
}

/// An issue, by what it is about rather than the row it was on.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct IssueKey {
    pub table: String,
    /// The record's key, or its file and row when it has none.
    pub record: String,
    pub field: String,
    pub rule: String,
    pub value: String,
}

/// An input file added, removed or changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InputChange {
    pub table: String,
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    pub old_sha256: Option<String>,
    pub new_sha256: Option<String>,
}

/// Everything that changed between two versions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diff {
    pub format: &'static str,
    pub old: SideInfo,
    pub new: SideInfo,
    /// Every table on either side, changed or not (so an empty diff still says what was compared).
    pub tables: Vec<TableDiff>,
    pub units: Vec<UnitChange>,
    pub qc: Vec<QcChange>,
    pub issues_fixed: Vec<IssueKey>,
    pub issues_new: Vec<IssueKey>,
    pub inputs: Vec<InputChange>,
}

impl Diff {
    /// Nothing changed: no record, unit, QC figure, issue or input.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(TableDiff::is_empty)
            && self.units.is_empty()
            && self.qc.is_empty()
            && self.issues_fixed.is_empty()
            && self.issues_new.is_empty()
            && self.inputs.is_empty()
    }

    /// Counts, one line per part, for a terminal.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in self.tables.iter().filter(|t| !t.is_empty()) {
            out.push(format!(
                "{}: {} added, {} removed, {} changed ({} → {} records)",
                t.table,
                t.added.len(),
                t.removed.len(),
                t.changed.len(),
                t.old_records,
                t.new_records
            ));
        }
        let regraded = self
            .units
            .iter()
            .filter(|u| u.old_grade != u.new_grade)
            .count();
        if !self.units.is_empty() {
            out.push(format!(
                "units: {} with changed scores, {regraded} re-graded",
                self.units.len()
            ));
        }
        for q in &self.qc {
            out.push(format!(
                "QC {}: 差错率 {} → {}, rejected {} → {}",
                q.table,
                pct(q.old_error_rate),
                pct(q.new_error_rate),
                opt(q.old_rows_rejected),
                opt(q.new_rows_rejected)
            ));
        }
        if !self.issues_fixed.is_empty() || !self.issues_new.is_empty() {
            out.push(format!(
                "issues: {} fixed, {} new",
                self.issues_fixed.len(),
                self.issues_new.len()
            ));
        }
        for i in &self.inputs {
            out.push(format!("input {} ({}): {}", i.path, i.table, i.change));
        }
        if out.is_empty() {
            out.push("no changes".into());
        }
        out
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.3}%", v * 100.0))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

/// Compares two versions (packages or output directories).
pub fn diff(old: &Path, new: &Path) -> Result<Diff> {
    let old = Side::open(old, None)?;
    let new = Side::open(new, None)?;
    diff_sides(&old, &new)
}

fn info(side: &Side) -> SideInfo {
    SideInfo {
        path: side.label.clone(),
        package_sha256: side.package_sha256.clone(),
        run: side.manifest.as_ref().map(|m| m.run.clone()),
        region_code: side.manifest.as_ref().map(|m| m.region_code.clone()),
    }
}

fn diff_sides(old: &Side, new: &Side) -> Result<Diff> {
    let schemas = SchemaSet::builtin().map_err(|e| Error::Report(e.to_string()))?;
    Ok(Diff {
        format: "riskcensus-diff/1",
        old: info(old),
        new: info(new),
        tables: record_diffs(&schemas, &old.dir, &new.dir)?,
        units: unit_changes(&old.dir, &new.dir)?,
        qc: qc_changes(&old.dir, &new.dir)?,
        issues_fixed: sorted_difference(&issues(&old.dir)?, &issues(&new.dir)?),
        issues_new: sorted_difference(&issues(&new.dir)?, &issues(&old.dir)?),
        inputs: input_changes(&old.inputs, &new.inputs),
    })
}

fn sorted_difference(a: &BTreeSet<IssueKey>, b: &BTreeSet<IssueKey>) -> Vec<IssueKey> {
    a.difference(b).cloned().collect()
}

/// Record tables published on a side: every `parquet/<table>` but the unit tables and issues.
fn record_tables(dir: &Path) -> Result<BTreeSet<String>> {
    Ok(crate::query::tables(dir)?
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !NOT_RECORDS.contains(&n.as_str()))
        .collect())
}

/// Each column of a frame as text: numbers as polars prints them, geometry (WKB) by its length and
/// hash, null as empty.
fn column_texts(df: &DataFrame) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::with_capacity(df.width());
    for col in df.columns() {
        let name = col.name().to_string();
        let values: Vec<String> = match col.dtype() {
            DataType::Binary => col
                .binary()?
                .iter()
                .map(|b| {
                    b.map(|b| format!("WKB {} bytes, SHA-256 {}", b.len(), &sha256(b)[..16]))
                        .unwrap_or_default()
                })
                .collect(),
            _ => col
                .cast(&DataType::String)?
                .str()?
                .iter()
                .map(|v| v.unwrap_or("").to_owned())
                .collect(),
        };
        out.push((name, values));
    }
    Ok(out)
}

/// A table's records as (key, column → value), and the key columns used.
type Records = (
    Vec<String>,
    BTreeMap<String, BTreeMap<String, String>>,
    usize,
);

fn records(dir: &Path, table: &str, key: &[String], present: bool) -> Result<Records> {
    if !present {
        return Ok((key.to_vec(), BTreeMap::new(), 0));
    }
    let df = crate::query::read_table(dir, table)?;
    let cols = column_texts(&df)?;
    let compared: Vec<&(String, Vec<String>)> = cols
        .iter()
        .filter(|(n, _)| !PROVENANCE.contains(&n.as_str()))
        .collect();
    let keyed = !key.is_empty() && key.iter().all(|k| cols.iter().any(|(n, _)| n == k));
    let key_cols: Vec<&Vec<String>> = if keyed {
        key.iter()
            .filter_map(|k| cols.iter().find(|(n, _)| n == k).map(|(_, v)| v))
            .collect()
    } else {
        Vec::new()
    };
    let mut out = BTreeMap::new();
    for r in 0..df.height() {
        let values: BTreeMap<String, String> = compared
            .iter()
            .map(|(n, v)| (n.clone(), v[r].clone()))
            .collect();
        let k = if keyed {
            key_cols
                .iter()
                .map(|c| c[r].as_str())
                .collect::<Vec<_>>()
                .join("|")
        } else {
            // Matched by content: a record is its values; copies are told apart by a count.
            let mut k = values
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let base = k.clone();
            let mut copy = 2;
            while out.contains_key(&k) {
                k = format!("{base} (#{copy})");
                copy += 1;
            }
            k
        };
        // A key given twice (QC keeps the first clean copy, so only on a hand-made table): the first.
        out.entry(k).or_insert(values);
    }
    Ok((
        if keyed { key.to_vec() } else { Vec::new() },
        out,
        df.height(),
    ))
}

/// The published column names of a table's primary key, from its schema.
fn key_columns(schemas: &SchemaSet, table: &str) -> Vec<String> {
    let Some(schema) = schemas.table(table) else {
        return Vec::new();
    };
    let names = crate::column_names(schema);
    schema
        .primary_key
        .iter()
        .filter_map(|k| schema.field_index(k).map(|i| names[i].clone()))
        .collect()
}

fn record_diffs(schemas: &SchemaSet, old: &Path, new: &Path) -> Result<Vec<TableDiff>> {
    let (a, b) = (record_tables(old)?, record_tables(new)?);
    let mut out = Vec::new();
    for table in a.union(&b) {
        let key = key_columns(schemas, table);
        let (key_a, ra, na) = records(old, table, &key, a.contains(table))?;
        let (key_b, rb, nb) = records(new, table, &key, b.contains(table))?;
        // Both sides must be matched the same way; by content if either lacks the key.
        let (ra, rb, key_columns) = if key_a != key_b && a.contains(table) && b.contains(table) {
            let (_, ra, _) = records(old, table, &[], true)?;
            let (_, rb, _) = records(new, table, &[], true)?;
            (ra, rb, Vec::new())
        } else if a.contains(table) {
            (ra, rb, key_a)
        } else {
            (ra, rb, key_b)
        };
        let added = rb
            .keys()
            .filter(|k| !ra.contains_key(*k))
            .cloned()
            .collect();
        let removed = ra
            .keys()
            .filter(|k| !rb.contains_key(*k))
            .cloned()
            .collect();
        let mut changed = Vec::new();
        for (k, va) in &ra {
            let Some(vb) = rb.get(k) else { continue };
            let fields: Vec<FieldChange> = va
                .keys()
                .chain(vb.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter_map(|f| {
                    let (x, y) = (va.get(f), vb.get(f));
                    (x != y).then(|| FieldChange {
                        field: f.clone(),
                        old: x.cloned().unwrap_or_default(),
                        new: y.cloned().unwrap_or_default(),
                    })
                })
                .collect();
            if !fields.is_empty() {
                changed.push(ChangedRecord {
                    key: k.clone(),
                    fields,
                });
            }
        }
        out.push(TableDiff {
            table: table.clone(),
            key_columns,
            old_records: na,
            new_records: nb,
            added,
            removed,
            changed,
        });
    }
    Ok(out)
}

/// A unit's composite and per-hazard (score, grade), by unit code.
type UnitScores = BTreeMap<String, (String, BTreeMap<String, (Option<f64>, String)>)>;

fn unit_scores(dir: &Path) -> Result<UnitScores> {
    let has = crate::query::tables(dir)?
        .iter()
        .any(|(n, _)| n == "unit_risk");
    if !has {
        return Ok(BTreeMap::new());
    }
    let df = crate::query::read_table(dir, "unit_risk")?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let scores: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_suffix("_score").map(str::to_owned))
        .filter(|h| names.contains(&format!("{h}_grade")))
        .collect();
    let codes = crate::text_column(&df, "unit_code")?;
    let unit_names = if names.iter().any(|n| n == "unit_name") {
        crate::text_column(&df, "unit_name")?
    } else {
        vec![String::new(); df.height()]
    };
    let mut per: BTreeMap<String, (Vec<Option<f64>>, Vec<String>)> = BTreeMap::new();
    for h in &scores {
        let s = df
            .column(&format!("{h}_score"))?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect();
        let g = df
            .column(&format!("{h}_grade"))?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or("").to_owned())
            .collect();
        per.insert(h.clone(), (s, g));
    }
    let mut out = BTreeMap::new();
    for (r, code) in codes.iter().enumerate() {
        let by_hazard = per
            .iter()
            .map(|(h, (s, g))| (h.clone(), (s[r], g[r].clone())))
            .collect();
        out.insert(code.clone(), (unit_names[r].clone(), by_hazard));
    }
    Ok(out)
}

fn same_score(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        (None, None) => true,
        _ => false,
    }
}

fn unit_changes(old: &Path, new: &Path) -> Result<Vec<UnitChange>> {
    let (a, b) = (unit_scores(old)?, unit_scores(new)?);
    let codes: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let empty = (String::new(), BTreeMap::new());
    let mut out = Vec::new();
    for code in codes {
        let (name_a, ha) = a.get(code).unwrap_or(&empty);
        let (name_b, hb) = b.get(code).unwrap_or(&empty);
        let none = (None, String::new());
        let hazards: Vec<HazardMove> = ha
            .keys()
            .chain(hb.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|h| h.as_str() != "composite")
            .filter_map(|h| {
                let (sa, ga) = ha.get(h).unwrap_or(&none);
                let (sb, gb) = hb.get(h).unwrap_or(&none);
                (!same_score(*sa, *sb) || ga != gb).then(|| HazardMove {
                    hazard: h.clone(),
                    old_score: *sa,
                    new_score: *sb,
                    old_grade: ga.clone(),
                    new_grade: gb.clone(),
                })
            })
            .collect();
        let (sa, ga) = ha.get("composite").unwrap_or(&none);
        let (sb, gb) = hb.get("composite").unwrap_or(&none);
        let only_one = a.contains_key(code) != b.contains_key(code);
        if only_one || !hazards.is_empty() || !same_score(*sa, *sb) || ga != gb {
            out.push(UnitChange {
                unit_code: code.clone(),
                unit_name: if name_b.is_empty() { name_a } else { name_b }.clone(),
                old_score: *sa,
                new_score: *sb,
                old_grade: ga.clone(),
                new_grade: gb.clone(),
                hazards,
            });
        }
    }
    Ok(out)
}

/// Per table QC figures from `qc/summary.json`: (rows_read, rows_rejected, errors, error_rate, passed).
type QcFigures = BTreeMap<String, (u64, u64, u64, f64, bool)>;

fn qc_figures(dir: &Path) -> Result<QcFigures> {
    let path = dir.join("qc").join("summary.json");
    let bytes = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(Error::Input { path, source }),
        Ok(b) => b,
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::Parse {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let mut out = BTreeMap::new();
    for t in v["tables"].as_array().into_iter().flatten() {
        let n = |k: &str| t[k].as_u64().unwrap_or(0);
        out.insert(
            t["table"].as_str().unwrap_or("").to_owned(),
            (
                n("rows_read"),
                n("rows_rejected"),
                n("errors"),
                t["error_rate"].as_f64().unwrap_or(0.0),
                t["passed"].as_bool().unwrap_or(false),
            ),
        );
    }
    Ok(out)
}

fn qc_changes(old: &Path, new: &Path) -> Result<Vec<QcChange>> {
    let (a, b) = (qc_figures(old)?, qc_figures(new)?);
    let tables: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    Ok(tables
        .into_iter()
        .filter(|t| a.get(*t) != b.get(*t))
        .map(|t| {
            let (x, y) = (a.get(t), b.get(t));
            QcChange {
                table: t.clone(),
                old_rows_read: x.map(|f| f.0),
                new_rows_read: y.map(|f| f.0),
                old_rows_rejected: x.map(|f| f.1),
                new_rows_rejected: y.map(|f| f.1),
                old_errors: x.map(|f| f.2),
                new_errors: y.map(|f| f.2),
                old_error_rate: x.map(|f| f.3),
                new_error_rate: y.map(|f| f.3),
                old_passed: x.map(|f| f.4),
                new_passed: y.map(|f| f.4),
            }
        })
        .collect())
}

/// The issues of `qc/issues.csv`, by record, field, rule and value (not by row, which moves).
fn issues(dir: &Path) -> Result<BTreeSet<IssueKey>> {
    let path = dir.join("qc").join("issues.csv");
    if !path.is_file() {
        return Ok(BTreeSet::new());
    }
    let mut r = csv::Reader::from_path(&path).map_err(|e| Error::Parse {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let headers = r
        .headers()
        .map_err(|e| Error::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (table, file, row, field, rule, value, key) = (
        col("table"),
        col("source_file"),
        col("source_row"),
        col("field"),
        col("rule"),
        col("value"),
        col("record_key"),
    );
    let mut out = BTreeSet::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| Error::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").to_owned();
        let record = match get(key) {
            k if !k.is_empty() => k,
            _ => format!("{} row {}", get(file), get(row)),
        };
        out.insert(IssueKey {
            table: get(table),
            record,
            field: get(field),
            rule: get(rule),
            value: get(value),
        });
    }
    Ok(out)
}

fn input_changes(old: &[InputHash], new: &[InputHash]) -> Vec<InputChange> {
    let by = |v: &[InputHash]| -> BTreeMap<(String, String), String> {
        v.iter()
            .map(|i| ((i.table.clone(), i.path.clone()), i.sha256.clone()))
            .collect()
    };
    let (a, b) = (by(old), by(new));
    let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (a.get(k), b.get(k));
            let change = match (x, y) {
                (Some(x), Some(y)) if x == y => return None,
                (Some(_), Some(_)) => "changed",
                (None, _) => "added",
                (_, None) => "removed",
            };
            Some(InputChange {
                table: k.0.clone(),
                path: k.1.clone(),
                change,
                old_sha256: x.cloned(),
                new_sha256: y.cloned(),
            })
        })
        .collect()
}

/// Writes `diff.json` and `diff.xlsx` into `out`.
pub fn write(diff: &Diff, out: &Path) -> Result<Vec<PathBuf>> {
    let json_path = out.join("diff.json");
    let json = serde_json::to_vec_pretty(diff).map_err(|e| Error::Write {
        path: json_path.clone(),
        source: std::io::Error::other(e),
    })?;
    crate::write_atomic(&json_path, &json)?;
    let xlsx_path = out.join("diff.xlsx");
    let bytes = xlsx(diff).map_err(|e| Error::Report(format!("{}: {e}", xlsx_path.display())))?;
    crate::write_atomic(&xlsx_path, &bytes)?;
    Ok(vec![json_path, xlsx_path])
}

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.6}"))
}

/// The workbook: one sheet per part, Chinese headers.
fn xlsx(d: &Diff) -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2021, 6, 30)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&fixed));
    let bold = Format::new().set_bold();
    let mut sheet = |name: &str,
                     headers: &[&str],
                     rows: Vec<Vec<String>>|
     -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
        let ws = wb.add_worksheet();
        ws.set_name(name)?;
        for (c, h) in headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
            ws.set_column_width(c as u16, 16)?;
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                ws.write_string(1 + r as u32, c as u16, v)?;
            }
        }
        ws.set_freeze_panes(1, 0)?;
        if !rows.is_empty() {
            ws.autofilter(0, 0, rows.len() as u32, headers.len() as u16 - 1)?;
        }
        Ok(())
    };
    let summary = vec![
        vec!["原版本".into(), d.old.path.clone()],
        vec![
            "原版本 SHA-256".into(),
            d.old.package_sha256.clone().unwrap_or_default(),
        ],
        vec!["新版本".into(), d.new.path.clone()],
        vec![
            "新版本 SHA-256".into(),
            d.new.package_sha256.clone().unwrap_or_default(),
        ],
    ]
    .into_iter()
    .chain(
        d.summary_lines()
            .into_iter()
            .map(|l| vec!["变化".into(), l]),
    )
    .collect();
    sheet("概要", &["项目", "内容"], summary)?;
    let tables = d
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                if t.key_columns.is_empty() {
                    "（按内容）".into()
                } else {
                    t.key_columns.join("+")
                },
                t.old_records.to_string(),
                t.new_records.to_string(),
                t.added.len().to_string(),
                t.removed.len().to_string(),
                t.changed.len().to_string(),
            ]
        })
        .collect();
    sheet(
        "各表汇总",
        &["表", "主键", "原记录数", "新记录数", "新增", "删除", "修改"],
        tables,
    )?;
    let mut records = Vec::new();
    for t in &d.tables {
        for k in &t.added {
            records.push(vec![
                t.table.clone(),
                k.clone(),
                "新增".into(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for k in &t.removed {
            records.push(vec![
                t.table.clone(),
                k.clone(),
                "删除".into(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for c in &t.changed {
            for f in &c.fields {
                records.push(vec![
                    t.table.clone(),
                    c.key.clone(),
                    "修改".into(),
                    f.field.clone(),
                    f.old.clone(),
                    f.new.clone(),
                ]);
            }
        }
    }
    sheet(
        "记录变化",
        &["表", "主键", "变化", "字段", "原值", "新值"],
        records,
    )?;
    let mut units = Vec::new();
    for u in &d.units {
        units.push(vec![
            u.unit_code.clone(),
            u.unit_name.clone(),
            "综合".into(),
            num(u.old_score),
            num(u.new_score),
            u.old_grade.clone(),
            u.new_grade.clone(),
        ]);
        for h in &u.hazards {
            units.push(vec![
                u.unit_code.clone(),
                u.unit_name.clone(),
                h.hazard.clone(),
                num(h.old_score),
                num(h.new_score),
                h.old_grade.clone(),
                h.new_grade.clone(),
            ]);
        }
    }
    sheet(
        "单元风险变化",
        &[
            "单元代码",
            "单元名称",
            "灾种",
            "原得分",
            "新得分",
            "原等级",
            "新等级",
        ],
        units,
    )?;
    let qc =
        d.qc.iter()
            .map(|q| {
                vec![
                    q.table.clone(),
                    opt(q.old_rows_read),
                    opt(q.new_rows_read),
                    opt(q.old_rows_rejected),
                    opt(q.new_rows_rejected),
                    opt(q.old_errors),
                    opt(q.new_errors),
                    pct(q.old_error_rate),
                    pct(q.new_error_rate),
                    q.old_passed.map_or("-".into(), pass_zh),
                    q.new_passed.map_or("-".into(), pass_zh),
                ]
            })
            .collect();
    sheet(
        "质检变化",
        &[
            "表",
            "原读入记录",
            "新读入记录",
            "原退回记录",
            "新退回记录",
            "原错误指标",
            "新错误指标",
            "原差错率",
            "新差错率",
            "原结论",
            "新结论",
        ],
        qc,
    )?;
    let issue_row = |i: &IssueKey, what: &str| {
        vec![
            what.to_owned(),
            i.table.clone(),
            i.record.clone(),
            i.field.clone(),
            i.rule.clone(),
            i.value.clone(),
        ]
    };
    let issues = d
        .issues_fixed
        .iter()
        .map(|i| issue_row(i, "已修正"))
        .chain(d.issues_new.iter().map(|i| issue_row(i, "新问题")))
        .collect();
    sheet(
        "问题变化",
        &["变化", "表", "记录", "字段", "规则", "值"],
        issues,
    )?;
    let inputs = d
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.table.clone(),
                i.path.clone(),
                match i.change {
                    "added" => "新增",
                    "removed" => "删除",
                    _ => "修改",
                }
                .into(),
                i.old_sha256.clone().unwrap_or_default(),
                i.new_sha256.clone().unwrap_or_default(),
            ]
        })
        .collect();
    sheet(
        "输入文件变化",
        &["表", "文件", "变化", "原 SHA-256", "新 SHA-256"],
        inputs,
    )?;
    wb.save_to_buffer()
}

fn pass_zh(p: bool) -> String {
    if p { "通过" } else { "不通过" }.into()
}

/// For `run --previous`: compares the previous package with the run's fresh outputs (`out` holds
/// `parquet/` and `qc/`; `inputs` as just hashed), writes `changes/` into `out` so the package
/// carries it, and returns the previous package's SHA-256 for the manifest.
pub fn write_changes(previous: &Path, out: &Path, inputs: &[InputHash]) -> Result<(String, Diff)> {
    if !previous.is_file() {
        return Err(invalid(
            previous,
            "--previous is not a file".into(),
            "give the county's previous upload package (<code>_<name>_<year>.zip)",
        ));
    }
    let old = Side::open(previous, None)?;
    let new = Side::open(out, Some(inputs.to_vec()))?;
    let mut d = diff_sides(&old, &new)?;
    // Named by file, not by the path given, so the package does not depend on where the office
    // keeps its previous one; the new side is this run, whose package is not written yet.
    d.old.path = previous
        .file_name()
        .map_or_else(|| d.old.path.clone(), |n| n.to_string_lossy().into_owned());
    d.new.path = "(this package)".into();
    write(&d, &out.join("changes"))?;
    let sha = old.package_sha256.clone().unwrap_or_default();
    Ok((sha, d))
}
