#![doc = include_str!("../README.md")]

pub mod batch;
mod cache;
pub mod columns;
pub mod diff;
pub mod indicators;
pub mod merge;
pub mod progress;
pub mod query;
pub mod review;
mod risk;
mod spec;
mod validate;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

// Publishing is its own crate; these keep the paths callers have used (`riskcensus_pipeline::
// package::verify`, `::maps`, `::column_names`) working.
pub use risk::{Scored, join_and_score, publish_scores};
pub use riskcensus_publish::{
    column_names, maps, package, short_names, write_atomic, write_atomic_with,
};
use riskcensus_publish::{geoparquet, text_column};
use riskcensus_qc::CleanTable;
pub use spec::{IndicatorTable, InputSpec, PipelineFile, Run};
pub use validate::{Validated, read_dispositions, validate};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read pipeline file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("pipeline file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("pipeline file {path}: {message} (hint: {hint})")]
    Invalid {
        path: PathBuf,
        message: String,
        hint: String,
    },
    #[error("cannot merge {path}: {message} (hint: {hint})")]
    Merge {
        path: PathBuf,
        message: String,
        hint: String,
    },
    #[error("package {path} does not verify: {message} (hint: {hint})")]
    Package {
        path: PathBuf,
        message: String,
        hint: String,
    },
    #[error("cannot read input {path}: {source}")]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Ingest(#[from] riskcensus_ingest::Error),
    #[error("cannot write the QC report: {0}")]
    Report(String),
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Publishing's errors, passed on as they are (their messages were this crate's).
    #[error(transparent)]
    Publish(#[from] riskcensus_publish::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One input file as hashed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HashedInput {
    pub table: String,
    /// Path as written in the pipeline file.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub name: String,
    pub region_code: String,
    pub region_name: String,
    pub reference_year: i32,
    pub pipeline_sha256: String,
    pub inputs: Vec<HashedInput>,
    /// Stages that ran.
    pub stages_done: Vec<&'static str>,
    /// Stages not built yet.
    pub stages_pending: Vec<&'static str>,
    /// Whether every table passed QC.
    pub qc_passed: bool,
    /// The upload package.
    pub package: Option<PathBuf>,
    /// Why no package was written (no unit could be graded).
    pub not_packaged: Option<String>,
    /// Tables not read and checked again: unchanged since the last run, their result reused.
    /// Printed and logged, not written: a rerun's outputs are the same bytes as a full run's.
    #[serde(skip)]
    pub reused: Vec<String>,
    /// The risk grading maps written (SVG and PNG per score).
    pub maps: Vec<PathBuf>,
    /// Units per composite grade (label, count), highest risk first, when a model ran.
    pub composite_grades: Vec<(String, u64)>,
    pub units: usize,
    #[serde(skip)]
    pub out_dir: PathBuf,
}

/// Why a run has nothing to package: no units at all, or a model that could grade none of them
/// (the first unit's reason, which is usually every unit's); `None` when units were graded or the
/// run has no model.
fn nothing_graded(scored: &Scored) -> Option<String> {
    if scored.units.height() == 0 {
        return Some(
            "the unit table is empty: no unit row passed QC (see the units table in qc/)".into(),
        );
    }
    let risk = scored.risk.as_ref()?;
    let counts = risk
        .grade_counts
        .get("composite")
        .or_else(|| risk.grade_counts.values().next())?;
    let graded: u64 = counts.iter().rev().skip(1).map(|(_, _, n)| n).sum();
    if graded > 0 {
        return None;
    }
    let first = risk
        .df
        .column("no_rating_reason")
        .ok()
        .and_then(|c| c.str().ok()?.iter().flatten().next().map(str::to_owned))
        .unwrap_or_default();
    Some(format!(
        "none of the {} units could be graded (e.g. {first})",
        risk.df.height()
    ))
}

/// SHA-256 of files, each hashed once per run: `inputs.json` and the incremental cache's keys both
/// need every input's hash, and a 1M-building workbook takes half a second to hash. Scoped to one
/// run (never process-wide), so a file edited between two runs is hashed again.
#[derive(Debug, Default)]
pub struct FileHashes(std::sync::Mutex<std::collections::HashMap<PathBuf, (u64, String)>>);

impl FileHashes {
    /// Size and SHA-256 of `path`, hashed the first time it is asked for.
    pub fn of(&self, path: &Path) -> std::io::Result<(u64, String)> {
        if let Some(h) = self.lock().get(path) {
            return Ok(h.clone());
        }
        let h = sha256_file(path)?;
        self.lock().insert(path.to_owned(), h.clone());
        Ok(h)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<PathBuf, (u64, String)>> {
        // A panic while holding the lock cannot leave a half-written entry: inserts are whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// Hashes every input (SHA-256) in pipeline order.
pub fn hash_inputs(run: &Run) -> Result<Vec<HashedInput>> {
    hash_inputs_with(run, &FileHashes::default())
}

/// [`hash_inputs`], the files hashed in parallel and remembered in `hashes`.
fn hash_inputs_with(run: &Run, hashes: &FileHashes) -> Result<Vec<HashedInput>> {
    use rayon::prelude::*;
    let inputs: Vec<&InputSpec> = run.inputs.iter().chain(run.units.iter()).collect();
    inputs
        .into_par_iter()
        .map(|input| {
            let (bytes, sha256) = hashes.of(&input.resolved).map_err(|source| Error::Input {
                path: input.resolved.clone(),
                source,
            })?;
            Ok(HashedInput {
                table: input.table.clone(),
                path: input.path.clone(),
                bytes,
                sha256,
            })
        })
        .collect()
}

/// Hashes every input of the run, the indicator table last.
fn hash_run_inputs(run: &Run, hashes: &FileHashes) -> Result<Vec<HashedInput>> {
    let mut inputs = hash_inputs_with(run, hashes)?;
    if let Some(t) = &run.indicator_table {
        let (bytes, sha256) = hashes.of(&t.resolved).map_err(|source| Error::Input {
            path: t.resolved.clone(),
            source,
        })?;
        inputs.push(HashedInput {
            table: "indicators".into(),
            path: t.path.clone(),
            bytes,
            sha256,
        });
    }
    Ok(inputs)
}

/// The inputs as the package manifest and `changes/` record them.
fn input_hashes(inputs: &[HashedInput]) -> Vec<package::InputHash> {
    inputs
        .iter()
        .map(|i| package::InputHash {
            table: i.table.clone(),
            path: i.path.clone(),
            bytes: i.bytes,
            sha256: i.sha256.clone(),
        })
        .collect()
}

/// Who the run's package is from, linking the package it follows when there is one.
fn identity(run: &Run, previous_package_sha256: Option<String>) -> package::Identity {
    package::Identity {
        previous_package_sha256,
        run: run.name.clone(),
        region_code: run.region_code.clone(),
        region_name: run.region_name.clone(),
        reference_year: run.reference_year,
        pipeline_sha256: run.pipeline_sha256.clone(),
        schema_files: run.schemas.files.clone(),
    }
}

/// What the GeoParquet step reads of a run and its checked tables.
fn run_tables<'a>(run: &'a Run, validated: &'a Validated) -> geoparquet::RunTables<'a> {
    geoparquet::RunTables {
        out_dir: &run.out_dir,
        region_code: &run.region_code,
        schemas: &run.schemas,
        results: &validated.results,
        unit_fields: run
            .units
            .as_ref()
            .map(|_| (run.units_code_field.as_str(), run.units_name_field.as_str())),
        model: run.model.as_ref(),
        unit_polygons: run.indicator_table.is_none(),
    }
}

/// Builds the run's package from its outputs and signs the county tier into it when the
/// pipeline names a reviewer.
fn package_run(
    run: &Run,
    inputs: &[HashedInput],
    validated: &Validated,
    previous: Option<String>,
) -> Result<PathBuf> {
    let id = identity(run, previous);
    let package = package::build(&run.out_dir, &id, input_hashes(inputs), &validated.summary)?;
    review::sign_county(run, &package, validated.summary.passed)?;
    Ok(package)
}

/// The stages a run did, in order.
fn stages_done(
    run: &Run,
    scored: &Scored,
    maps: &[PathBuf],
    options: &RunOptions,
    packaged: bool,
) -> Vec<&'static str> {
    [
        ("resolve", true),
        ("hash inputs", true),
        ("ingest", true),
        ("qc", true),
        ("join", run.indicator_table.is_none()),
        ("risk", scored.risk.is_some()),
        ("geoparquet", true),
        ("gis layer", !maps.is_empty()),
        ("maps", !maps.is_empty()),
        ("changes", options.previous.is_some()),
        ("package", packaged),
    ]
    .into_iter()
    .filter_map(|(s, done)| done.then_some(s))
    .collect()
}

/// The report of a run as far as its stages before publishing tell it (no stages, package or
/// maps yet).
fn report_of(
    run: &Run,
    inputs: Vec<HashedInput>,
    validated: &Validated,
    scored: &Scored,
) -> RunReport {
    RunReport {
        name: run.name.clone(),
        region_code: run.region_code.clone(),
        region_name: run.region_name.clone(),
        reference_year: run.reference_year,
        pipeline_sha256: run.pipeline_sha256.clone(),
        inputs,
        stages_done: Vec::new(),
        stages_pending: if scored.risk.is_some() {
            Vec::new()
        } else {
            vec!["risk, gis layer and maps (no [model] in the pipeline)"]
        },
        package: None,
        not_packaged: None,
        reused: validated.reused.clone(),
        maps: Vec::new(),
        qc_passed: validated.summary.passed,
        composite_grades: scored
            .risk
            .as_ref()
            .and_then(|r| r.grade_counts.get("composite"))
            .map(|g| g.iter().map(|(l, _, n)| (l.clone(), *n)).collect())
            .unwrap_or_default(),
        units: scored.units.height(),
        out_dir: run.out_dir.clone(),
    }
}

/// Runs the pipeline as far as it is built: resolve, hash the inputs into `inputs.json`, then ingest
/// and QC (writing `qc/`).
pub fn run(run: &Run, progress: &mut dyn FnMut(&str, u64, u64)) -> Result<RunReport> {
    run_with(run, &RunOptions::default(), progress)
}

/// What a run does beyond its pipeline file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The county's previous package: the run writes `changes/` (what changed since it) into the new
    /// package and links the previous package's SHA-256 in the manifest.
    pub previous: Option<PathBuf>,
}

/// [`run`], with options. The stages, one way: hash the inputs, ingest and QC ([`validate`]), join
/// and score ([`join_and_score`]), then publish (the scores, GeoParquet of every table, what
/// changed, the package).
pub fn run_with(
    run: &Run,
    options: &RunOptions,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<RunReport> {
    let hashes = FileHashes::default();
    let inputs = hash_run_inputs(run, &hashes)?;
    package::clear_outputs(&run.out_dir)?;
    // Join and score run while the QC report is written.
    let (mut validated, scored) =
        validate::validate_then(run, &hashes, progress, |results, units| {
            risk::join_and_score_tables(run, results, units)
        })?;
    progress("join and score", 1, 1);
    let scored = scored?;
    // From here on the records are only published: the GeoParquet writer takes them, and drops
    // each batch as it becomes columns.
    let clean: Vec<CleanTable> = validated
        .results
        .iter_mut()
        .map(|r| CleanTable {
            table: r.clean.table.clone(),
            fields: r.clean.fields.clone(),
            rows: std::mem::take(&mut r.clean.rows),
        })
        .collect();
    // The scores' outputs (unit table, GIS layer, maps) and every table's GeoParquet need nothing
    // of each other: they are written side by side.
    let (maps, tables) = rayon::join(
        || publish_scores(run, &scored),
        || {
            geoparquet::write_all(
                &run_tables(run, &validated),
                clean,
                &scored.records,
                scored.risk.as_ref().map(|r| &r.df),
            )
        },
    );
    let maps = maps?;
    tables?;
    let previous = match &options.previous {
        Some(p) => {
            progress("changes since the previous package", 0, 1);
            Some(diff::write_changes(p, &run.out_dir, &input_hashes(&inputs))?.0)
        }
        None => None,
    };
    // A package says "these are the graded units": with none graded there is nothing to upload,
    // and the outputs stay for the office to see why.
    let not_packaged = nothing_graded(&scored);
    let package = match &not_packaged {
        None => Some(package_run(run, &inputs, &validated, previous)?),
        Some(why) => {
            tracing::warn!(%why, "no package written");
            None
        }
    };
    let report = RunReport {
        stages_done: stages_done(run, &scored, &maps, options, package.is_some()),
        package,
        not_packaged,
        maps,
        ..report_of(run, inputs, &validated, &scored)
    };
    let json = serde_json::to_vec_pretty(&report).map_err(|e| Error::Write {
        path: run.out_dir.join("inputs.json"),
        source: std::io::Error::other(e),
    })?;
    write_atomic(&run.out_dir.join("inputs.json"), &json)?;
    Ok(report)
}
