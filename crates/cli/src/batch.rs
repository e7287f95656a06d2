//! `riskcensus batch`: many counties in one command.

use std::path::PathBuf;

use anyhow::Result;
use riskcensus_pipeline::batch::{self, BatchOptions, CountyStatus, Outcome};

#[derive(Debug, clap::Args)]
pub struct BatchArgs {
    /// Pipeline files, or directories holding one folder per county (each with pipeline.toml).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output root: each county goes to <OUT>/<run name>/; the status table to <OUT>/batch_status.csv.
    #[arg(long)]
    out: PathBuf,
    /// Counties run at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Memory the running counties may take together, in GiB (estimated from their input sizes).
    #[arg(long)]
    memory_gib: Option<f64>,
    /// Run every county, even those whose package already matches their inputs.
    #[arg(long)]
    force: bool,
    /// Then merge the counties' packages into this directory (as `riskcensus merge --out`).
    #[arg(long)]
    merge: Option<PathBuf>,
    /// Run only the county of this 0-based index (a scheduler's array task: $SLURM_ARRAY_TASK_ID,
    /// $JOB_COMPLETION_INDEX); its status goes to <OUT>/batch_status_task<N>.csv.
    #[arg(long, conflicts_with = "merge")]
    task: Option<usize>,
}

fn line(c: &CountyStatus) -> String {
    format!(
        "{:<8} {:<10} {:<11} {:>9} {:<7} {:>7.1}s  {}",
        c.region_code,
        c.region_name,
        c.outcome.as_str(),
        c.rows.map_or("-".into(), |r| r.to_string()),
        match c.qc_passed {
            Some(true) => "passed",
            Some(false) => "FAILED",
            None => "-",
        },
        c.seconds,
        match (&c.error, &c.package) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(p)) => p.display().to_string(),
            (None, None) => String::new(),
        }
    )
}

pub fn batch(args: BatchArgs) -> Result<i32> {
    let mut pipelines = batch::find_pipelines(&args.inputs)?;
    let mut status_name = "batch_status".to_owned();
    if let Some(k) = args.task {
        pipelines = vec![batch::task_pipeline(&pipelines, k)?];
        status_name = format!("batch_status_task{k}");
    }
    let opts = BatchOptions {
        out: args.out.clone(),
        jobs: args.jobs.max(1),
        memory_budget: args.memory_gib.map(|g| (g * (1u64 << 30) as f64) as u64),
        force: args.force,
        status_name,
    };
    println!(
        "{} counties, {} at a time, into {}",
        pipelines.len(),
        opts.jobs.min(pipelines.len()),
        args.out.display()
    );
    let report = batch::batch(&pipelines, &opts, &|done, total, c| {
        eprintln!(
            "[{done}/{total}] {} {}: {}",
            c.region_code,
            c.run,
            c.outcome.as_str()
        );
    })?;
    println!(
        "{:<8} {:<10} {:<11} {:>9} {:<7} {:>8}  package / error",
        "county", "name", "outcome", "rows", "QC", "time"
    );
    for c in &report.counties {
        println!("{}", line(c));
    }
    println!(
        "{} ran and passed, {} QC failed, {} up to date, {} failed, in {:.1} s; status: {}",
        report.count(Outcome::Passed),
        report.count(Outcome::QcFailed),
        report.count(Outcome::UpToDate),
        report.failed(),
        report.seconds,
        report.status_csv.display()
    );
    if let Some(dir) = &args.merge {
        let packages = report.packages();
        if packages.is_empty() {
            anyhow::bail!("no county has a package to merge (hint: see the errors above)");
        }
        let m = riskcensus_pipeline::merge::merge(&packages, dir, None)?;
        println!(
            "merged {} counties into {} {}: {}",
            m.counties.len(),
            m.region_code,
            m.region_name,
            m.package.display()
        );
    }
    // 2: nothing could run; 1: some county failed or failed QC; 0: all well.
    Ok(if report.failed() == report.counties.len() {
        crate::app::EXIT_COULD_NOT_RUN
    } else if report.failed() > 0 || report.count(Outcome::QcFailed) > 0 {
        crate::app::EXIT_QC_FAILED
    } else {
        crate::app::EXIT_OK
    })
}
