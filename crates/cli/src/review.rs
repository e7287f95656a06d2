//! `riskcensus review …`: the county, city and province tiers of the census review.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use riskcensus_pipeline::review::tier::{self, Tier};

use crate::app::EXIT_OK;

#[derive(Debug, Subcommand)]
pub enum ReviewCmd {
    /// Read the 处理结果 (确认/误报/例外), 处理说明 and 批准人 a reviewer chose in a run's
    /// qc/report.xlsx into the dispositions file the pipeline names ([review] dispositions).
    ///
    /// Example: riskcensus review import out/demo/qc/report.xlsx --into pipelines/dispositions.csv
    Import {
        /// The report workbook (qc/report.xlsx), with the reviewer's choices.
        workbook: PathBuf,
        /// The dispositions file to create or update (csv, one line per issue).
        #[arg(long)]
        into: PathBuf,
        /// Who reviewed (kept with every decision imported).
        #[arg(long, default_value = "")]
        reviewer: String,
    },
    /// Draw the city tier's stratified sample from a county package (per table and township, at
    /// least one record of each) and write the checking workbook. Same seed, same sample.
    ///
    /// Example: riskcensus review sample out/530402_红塔区_2020.zip --rate 0.1 --seed 2021 --out 抽样核查.xlsx
    Sample {
        /// The county's upload package (verified before anything is read).
        package: PathBuf,
        /// Share of each stratum's records to check (rounded up, at least one).
        #[arg(long, default_value_t = 0.1)]
        rate: f64,
        /// Random seed; record it, so anyone can draw the same sample again.
        #[arg(long)]
        seed: u64,
        /// The checking workbook to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Compute the sampled 差错率 of a checked workbook per county, table and township, with a 95%
    /// confidence interval and pass/fail against the threshold.
    ///
    /// Exit 0 when the county passes, 1 when it does not.
    Score {
        /// The checking workbook, with the wrong indicators filled in.
        workbook: PathBuf,
        /// Highest passing 差错率 (default: the package's [qc] pass_threshold, kept in the workbook).
        #[arg(long)]
        threshold: Option<f64>,
        /// Also write the figures as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Record a review tier in a package's manifest (county self-check, city sampled check,
    /// province acceptance): who, when, and the dispositions file's hash or the sample's figures.
    ///
    /// Example: riskcensus review sign 530402_红塔区_2020.zip --tier city --reviewer 李四 --date 2021-07-15 --sample 核查后.xlsx
    Sign {
        /// The package (verified first, then written again with the tier added).
        package: PathBuf,
        /// county, city or province.
        #[arg(long)]
        tier: String,
        /// Who signs for the tier.
        #[arg(long)]
        reviewer: String,
        /// When the review was done, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The checked sample workbook (required for the city tier).
        #[arg(long)]
        sample: Option<PathBuf>,
        /// The dispositions file the county applied.
        #[arg(long)]
        dispositions: Option<PathBuf>,
    },
}

pub fn dispatch(cmd: ReviewCmd) -> Result<i32> {
    match cmd {
        ReviewCmd::Import {
            workbook,
            into,
            reviewer,
        } => {
            let done = riskcensus_pipeline::review::import(&workbook, &into, &reviewer)?;
            println!(
                "imported {} decisions from {}; {} now holds {} (rerun the pipeline to apply them)",
                done.decided,
                workbook.display(),
                into.display(),
                done.total
            );
            Ok(EXIT_OK)
        }
        ReviewCmd::Sample {
            package,
            rate,
            seed,
            out,
        } => {
            let r = riskcensus_pipeline::review::sample(&package, rate, seed, &out)?;
            let sampled: usize = r.strata.iter().map(|s| s.sampled).sum();
            let records: usize = r.strata.iter().map(|s| s.records).sum();
            println!(
                "sampled {sampled} of {records} records of {} {} in {} strata (rate {rate}, seed {seed}) into {}",
                r.region_code,
                r.region_name,
                r.strata.len(),
                out.display()
            );
            Ok(EXIT_OK)
        }
        ReviewCmd::Score {
            workbook,
            threshold,
            json,
        } => {
            let s = riskcensus_pipeline::review::score(&workbook, threshold)?;
            let line = |what: &str, l: &riskcensus_pipeline::review::score::Line| {
                println!(
                    "  {what:<8} {:<12} {:<10} {:>6} records {:>8} indicators {:>5} wrong  差错率 {:.4}% (95% CI {:.4}%–{:.4}%)  {}",
                    l.code,
                    l.name,
                    l.records,
                    l.indicators_checked,
                    l.wrong,
                    l.error_rate * 100.0,
                    l.ci_low * 100.0,
                    l.ci_high * 100.0,
                    if l.passed { "通过" } else { "不通过" }
                )
            };
            println!(
                "sampled check of {} {} (threshold {:.2}%)",
                s.region_code,
                s.region_name,
                s.threshold * 100.0
            );
            line("county", &s.county);
            for l in &s.tables {
                line("table", l);
            }
            for l in &s.townships {
                line("township", l);
            }
            if let Some(p) = json {
                std::fs::write(&p, serde_json::to_vec_pretty(&s)?)?;
            }
            Ok(if s.county.passed {
                EXIT_OK
            } else {
                crate::app::EXIT_QC_FAILED
            })
        }
        ReviewCmd::Sign {
            package,
            tier,
            reviewer,
            date,
            sample,
            dispositions,
        } => {
            let Some(t) = Tier::parse(&tier) else {
                anyhow::bail!("--tier {tier:?} is not a tier (hint: county, city or province)");
            };
            let r = riskcensus_pipeline::review::sign_tier(
                &package,
                t,
                &reviewer,
                &date,
                sample.as_deref(),
                dispositions.as_deref(),
            )?;
            println!(
                "signed {} ({}) by {} on {} into {}: {}",
                t.zh(),
                t.as_str(),
                r.reviewer,
                r.date,
                package.display(),
                if r.passed { "passed" } else { "NOT passed" }
            );
            Ok(EXIT_OK)
        }
    }
}

/// Prints the tier each county package reached; with `require`, refuses a package below it.
pub fn check_tiers(packages: &[PathBuf], require: Option<&str>) -> Result<()> {
    let require = match require {
        Some(r) => Some(Tier::parse(r).ok_or_else(|| {
            anyhow::anyhow!("--require-tier {r:?} is not a tier (hint: county, city or province)")
        })?),
        None => None,
    };
    for c in tier::check_packages(packages, require)? {
        println!(
            "  {} {}: review tier reached: {}",
            c.region_code,
            c.region_name,
            c.reached.map(|t| t.zh()).unwrap_or("none")
        );
    }
    Ok(())
}

/// The review figures of a validate run and where the return list is, when the pipeline names a
/// dispositions file; the warnings the review added (a dispositions file not written yet).
pub fn print_review(run: &riskcensus_pipeline::Run, s: &riskcensus_qc::report::Summary) {
    for w in s.warnings.iter().filter(|w| !run.warnings.contains(w)) {
        eprintln!("warning: {}: {w}", run.pipeline_path.display());
    }
    println!(
        "return list (退回修改清单): {}",
        run.out_dir.join("qc").join("return_list.xlsx").display()
    );
    let Some(r) = &s.review else { return };
    println!(
        "review: {} 误报, {} 例外, {} 确认 applied; {} stale (record changed, not applied); {} resolved; {} undecided",
        r.false_alarm, r.exception, r.confirmed, r.stale, r.resolved, r.undecided
    );
}
