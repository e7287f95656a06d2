//! `riskcensus batch`: many counties in one command on one machine. Counties run in parallel (at
//! most `jobs` at a time, and within a memory budget), a county whose package already matches its
//! inputs is skipped, a county that fails is recorded with its error and the others go on, and the
//! batch ends with a status table (`batch_status.csv` and `.json`) and, on request, the merge.
//!
//! For more than one machine there is no scheduler here: `deploy/slurm/` and `deploy/k8s/` run one
//! county per task with `riskcensus run` and merge at the end.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::package::{InputHash, Manifest, sha256};
use crate::{Error, Result, Run};

/// What a batch is asked to do.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Output root: each county goes to `<out>/<run name>/`, as `riskcensus run --out` does.
    pub out: PathBuf,
    /// Counties run at once (at least 1).
    pub jobs: usize,
    /// Memory the running counties may take together, in bytes, estimated from their input sizes
    /// (`MEMORY_PER_INPUT_BYTE` × bytes); a county bigger than the budget still runs, alone.
    pub memory_budget: Option<u64>,
    /// Run every county even when its package matches its inputs.
    pub force: bool,
    /// File name (without extension) of the status table under `out`: `batch_status`, or one per
    /// task when a scheduler runs one county per task (`batch_status_task7`), so tasks do not write
    /// over each other.
    pub status_name: String,
}

impl BatchOptions {
    pub fn new(out: impl Into<PathBuf>) -> BatchOptions {
        BatchOptions {
            out: out.into(),
            jobs: 1,
            memory_budget: None,
            force: false,
            status_name: "batch_status".into(),
        }
    }
}

/// The one pipeline a scheduler's task `index` (0-based: `SLURM_ARRAY_TASK_ID`,
/// `JOB_COMPLETION_INDEX`) runs, out of those the arguments name.
pub fn task_pipeline(pipelines: &[PathBuf], index: usize) -> Result<PathBuf> {
    pipelines.get(index).cloned().ok_or_else(|| Error::Invalid {
        path: PathBuf::from(format!("task {index}")),
        message: format!(
            "there are {} pipelines, so task indices run 0 to {}",
            pipelines.len(),
            pipelines.len().saturating_sub(1)
        ),
        hint:
            "submit the array as --array=0-<count - 1> (Slurm) or completions: <count> (Kubernetes)"
                .into(),
    })
}

/// Peak memory of a run per byte of its inputs: a planning figure for the budget, not a limit on any
/// run. Measured: a generated county of 100,000 buildings (11 MB of inputs) peaked at 363 MB, ~34
/// per byte; 100 leaves room for inputs that inflate more (xlsx with many columns, footprints).
pub const MEMORY_PER_INPUT_BYTE: u64 = 100;

/// How a county ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Ran, QC passed.
    Passed,
    /// Ran, QC failed its threshold (a package is written all the same).
    QcFailed,
    /// Its package already matched its inputs, pipeline, model, schemas and tool version.
    UpToDate,
    /// Could not run: see `error`.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::QcFailed => "qc_failed",
            Outcome::UpToDate => "up_to_date",
            Outcome::Failed => "failed",
        }
    }
}

/// One county's line in the status table.
#[derive(Debug, Clone, Serialize)]
pub struct CountyStatus {
    pub pipeline: String,
    pub run: String,
    pub region_code: String,
    pub region_name: String,
    pub outcome: Outcome,
    /// Records read over every table (from QC), when it ran or its package was kept.
    pub rows: Option<u64>,
    pub qc_passed: Option<bool>,
    pub package: Option<PathBuf>,
    pub seconds: f64,
    /// The error chain, one line, when it failed.
    pub error: Option<String>,
}

/// The whole batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    pub counties: Vec<CountyStatus>,
    pub jobs: usize,
    pub seconds: f64,
    pub status_csv: PathBuf,
    pub status_json: PathBuf,
}

impl BatchReport {
    pub fn failed(&self) -> usize {
        self.count(Outcome::Failed)
    }

    pub fn count(&self, o: Outcome) -> usize {
        self.counties.iter().filter(|c| c.outcome == o).count()
    }

    /// Packages of the counties that have one (ran, or were up to date), for a merge.
    pub fn packages(&self) -> Vec<PathBuf> {
        self.counties
            .iter()
            .filter(|c| c.outcome != Outcome::Failed)
            .filter_map(|c| c.package.clone())
            .collect()
    }
}

/// The pipeline files the arguments name: a file as given; a directory's own `pipeline.toml`, else
/// the `pipeline.toml` of each of its subdirectories (a province's folder of counties), in name
/// order.
pub fn find_pipelines(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for a in args {
        if a.is_file() {
            out.push(a.clone());
            continue;
        }
        if !a.is_dir() {
            return Err(Error::Invalid {
                path: a.clone(),
                message: "is neither a pipeline file nor a directory".into(),
                hint: "give pipeline files, or a directory with one folder per county each holding pipeline.toml".into(),
            });
        }
        if a.join("pipeline.toml").is_file() {
            out.push(a.join("pipeline.toml"));
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(a)
            .map_err(|source| Error::Input {
                path: a.clone(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path().join("pipeline.toml")))
            .filter(|p| p.is_file())
            .collect();
        if found.is_empty() {
            return Err(Error::Invalid {
                path: a.clone(),
                message: "holds no pipeline.toml, nor any folder with one".into(),
                hint: "lay counties out as <dir>/<county>/pipeline.toml (as `riskcensus gen-fixtures` writes them)".into(),
            });
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// A county's previous package in its output directory, if one there matches what a run would
/// read now: the pipeline file, every input, the model, the schema files and the tool version.
/// The package is verified (every entry hashed) before it is trusted.
fn up_to_date(run: &Run) -> Option<(PathBuf, Manifest)> {
    let entries = std::fs::read_dir(&run.out_dir).ok()?;
    let mut zips: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&format!("{}_", crate::package::sanitize(&run.region_code)))
            })
        })
        .collect();
    zips.sort();
    let [zip] = zips.as_slice() else {
        return None;
    };
    let tmp = tempfile::tempdir().ok()?;
    let manifest = crate::package::unpack(zip, tmp.path(), &|_| false).ok()?;
    let inputs = current_inputs(run).ok()?;
    let model_now = run.model.as_ref().map(|m| sha256(m.document.as_bytes()));
    let model_then = manifest
        .files
        .iter()
        .find(|f| f.path == "risk/model.toml")
        .map(|f| f.sha256.clone());
    let same = manifest.pipeline_sha256 == run.pipeline_sha256
        && manifest.tool_version == env!("CARGO_PKG_VERSION")
        && manifest.inputs == inputs
        && manifest.schema_files == run.schemas.files
        && model_now == model_then
        && manifest.reference_year == run.reference_year;
    same.then(|| (zip.clone(), manifest))
}

/// The inputs a run would hash, as its manifest lists them.
fn current_inputs(run: &Run) -> Result<Vec<InputHash>> {
    let mut hashed = crate::hash_inputs(run)?;
    if let Some(t) = &run.indicator_table {
        let (bytes, sha256) = crate::sha256_file(&t.resolved).map_err(|source| Error::Input {
            path: t.resolved.clone(),
            source,
        })?;
        hashed.push(crate::HashedInput {
            table: "indicators".into(),
            path: t.path.clone(),
            bytes,
            sha256,
        });
    }
    Ok(hashed
        .into_iter()
        .map(|i| InputHash {
            table: i.table,
            path: i.path,
            bytes: i.bytes,
            sha256: i.sha256,
        })
        .collect())
}

/// Bytes of a run's inputs, for the memory estimate.
fn input_bytes(run: &Run) -> u64 {
    run.inputs
        .iter()
        .chain(run.units.iter())
        .filter_map(|i| std::fs::metadata(&i.resolved).ok())
        .map(|m| m.len())
        .sum()
}

/// The memory the running counties have claimed, and a way to wait for some to be given back.
struct Budget {
    limit: Option<u64>,
    used: Mutex<u64>,
    freed: Condvar,
}

impl Budget {
    /// Waits until `want` fits (or nothing else runs), then claims it.
    fn claim(&self, want: u64) {
        let Some(limit) = self.limit else { return };
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        while *used > 0 && *used + want > limit {
            used = self.freed.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += want;
    }

    fn release(&self, want: u64) {
        if self.limit.is_none() {
            return;
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(want);
        self.freed.notify_all();
    }
}

/// One error chain as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let t = x.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = x.source();
    }
    s
}

/// Runs one county: load, skip when up to date, else run. Never panics outward.
fn one_county(pipeline: &Path, opts: &BatchOptions, budget: &Budget) -> CountyStatus {
    let started = Instant::now();
    let mut status = CountyStatus {
        pipeline: pipeline.display().to_string(),
        run: String::new(),
        region_code: String::new(),
        region_name: String::new(),
        outcome: Outcome::Failed,
        rows: None,
        qc_passed: None,
        package: None,
        seconds: 0.0,
        error: None,
    };
    let run = match Run::load(pipeline, Some(&opts.out)) {
        Ok(r) => r,
        Err(e) => {
            status.error = Some(chain(&e));
            status.seconds = started.elapsed().as_secs_f64();
            return status;
        }
    };
    status.run = run.name.clone();
    status.region_code = run.region_code.clone();
    status.region_name = run.region_name.clone();
    if !opts.force
        && let Some((zip, manifest)) = up_to_date(&run)
    {
        status.outcome = Outcome::UpToDate;
        status.rows = Some(manifest.qc.iter().map(|t| t.rows_read).sum());
        status.qc_passed = Some(manifest.qc_passed);
        status.package = Some(zip);
        status.seconds = started.elapsed().as_secs_f64();
        return status;
    }
    let want = input_bytes(&run).saturating_mul(MEMORY_PER_INPUT_BYTE);
    budget.claim(want);
    // A panic in one county (a bug, not bad input: that is an error) must not end the others.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::run(&run, &mut |_, _, _| {})
    }));
    budget.release(want);
    match result {
        Ok(Ok(report)) => {
            status.outcome = if report.qc_passed {
                Outcome::Passed
            } else {
                Outcome::QcFailed
            };
            status.qc_passed = Some(report.qc_passed);
            status.package = report.package.clone();
            // Ran, but graded no unit: no package to merge, and the status table says why.
            if let Some(why) = &report.not_packaged {
                status.outcome = Outcome::Failed;
                status.error = Some(format!("no package written: {why}"));
            }
            status.rows = qc_rows(&run.out_dir);
        }
        Ok(Err(e)) => status.error = Some(chain(&e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            status.error = Some(format!(
                "the run panicked (a bug; please report it with this county's files): {what}"
            ));
        }
    }
    status.seconds = started.elapsed().as_secs_f64();
    status
}

/// Records read over every table, from the run's `qc/summary.json`.
fn qc_rows(out_dir: &Path) -> Option<u64> {
    let bytes = std::fs::read(out_dir.join("qc").join("summary.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(
        v["tables"]
            .as_array()?
            .iter()
            .filter_map(|t| t["rows_read"].as_u64())
            .sum(),
    )
}

/// Two pipelines writing to one output directory would overwrite each other: refused before any
/// runs, naming both.
fn check_distinct(pipelines: &[PathBuf], out: &Path) -> Result<()> {
    let mut seen: std::collections::BTreeMap<PathBuf, &Path> = Default::default();
    for p in pipelines {
        // A pipeline that does not load is reported per county; only loadable ones can clash.
        let Ok(run) = Run::load(p, Some(out)) else {
            continue;
        };
        if let Some(first) = seen.insert(run.out_dir.clone(), p) {
            return Err(Error::Invalid {
                path: p.clone(),
                message: format!(
                    "writes to {}, as {} does",
                    run.out_dir.display(),
                    first.display()
                ),
                hint: "give each county's pipeline its own [run] name".into(),
            });
        }
    }
    Ok(())
}

/// Runs every pipeline; `progress` hears of each county as it ends (done, total, its status).
pub fn batch(
    pipelines: &[PathBuf],
    opts: &BatchOptions,
    progress: &(dyn Fn(usize, usize, &CountyStatus) + Sync),
) -> Result<BatchReport> {
    let started = Instant::now();
    check_distinct(pipelines, &opts.out)?;
    std::fs::create_dir_all(&opts.out).map_err(|source| Error::Write {
        path: opts.out.clone(),
        source,
    })?;
    let jobs = opts.jobs.clamp(1, pipelines.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<CountyStatus>>> =
        pipelines.iter().map(|_| Mutex::new(None)).collect();
    let budget = Budget {
        limit: opts.memory_budget,
        used: Mutex::new(0),
        freed: Condvar::new(),
    };
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(p) = pipelines.get(k) else { break };
                    let status = one_county(p, opts, &budget);
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    progress(n, pipelines.len(), &status);
                    *slots[k].lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
                }
            });
        }
    });
    let counties: Vec<CountyStatus> = slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect();
    let mut report = BatchReport {
        counties,
        jobs,
        seconds: started.elapsed().as_secs_f64(),
        status_csv: opts.out.join(format!("{}.csv", opts.status_name)),
        status_json: opts.out.join(format!("{}.json", opts.status_name)),
    };
    write_status(&mut report)?;
    Ok(report)
}

/// The status table as CSV (UTF-8 with a BOM, so Excel opens the Chinese names) and JSON.
fn write_status(report: &mut BatchReport) -> Result<()> {
    let mut csv =
        String::from("\u{feff}county,name,run,outcome,rows,qc,package,seconds,error,pipeline\n");
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    for c in &report.counties {
        csv.push_str(
            &[
                q(&c.region_code),
                q(&c.region_name),
                q(&c.run),
                c.outcome.as_str().to_owned(),
                c.rows.map_or(String::new(), |r| r.to_string()),
                match c.qc_passed {
                    Some(true) => "passed".into(),
                    Some(false) => "FAILED".into(),
                    None => String::new(),
                },
                q(&c.package
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()),
                format!("{:.1}", c.seconds),
                q(c.error.as_deref().unwrap_or("")),
                q(&c.pipeline),
            ]
            .join(","),
        );
        csv.push('\n');
    }
    crate::write_atomic(&report.status_csv, csv.as_bytes())?;
    let json = serde_json::to_vec_pretty(&*report).map_err(|e| Error::Write {
        path: report.status_json.clone(),
        source: std::io::Error::other(e),
    })?;
    Ok(crate::write_atomic(&report.status_json, &json)?)
}
