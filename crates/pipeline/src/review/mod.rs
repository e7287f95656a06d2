//! The census review loop: reviewers' dispositions read back from the report workbook, the city
//! tier's sampled check, the return list for townships, and the tiers a package has passed.

pub mod import;
pub mod sample;
pub mod score;
pub mod tier;

pub use import::import;
pub use sample::sample;
pub use score::score;

use std::path::{Path, PathBuf};

/// Errors of the review commands: each names the file and, where there is one, the sheet and row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {message} (hint: {hint})")]
    Invalid {
        path: PathBuf,
        message: String,
        hint: String,
    },
    #[error(transparent)]
    Dispositions(#[from] riskcensus_qc::review::Error),
    #[error(transparent)]
    Pipeline(#[from] crate::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid(path: &Path, message: impl Into<String>, hint: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.to_owned(),
        message: message.into(),
        hint: hint.into(),
    }
}

/// Signs the county tier into a run's package when the pipeline names its reviewer and date:
/// the dispositions file's hash (when there is one) and the run's QC verdict.
pub fn sign_county(run: &crate::Run, package: &Path, qc_passed: bool) -> crate::Result<()> {
    let Some((reviewer, date)) = &run.county_signoff else {
        return Ok(());
    };
    let dispositions_sha256 = match &run.dispositions {
        Some(p) if p.exists() => Some(
            crate::sha256_file(p)
                .map_err(|source| crate::Error::Input {
                    path: p.clone(),
                    source,
                })?
                .1,
        ),
        _ => None,
    };
    tier::sign(
        package,
        tier::TierRecord {
            tier: tier::Tier::County,
            reviewer: reviewer.clone(),
            date: date.clone(),
            dispositions_sha256,
            sample: None,
            passed: qc_passed,
        },
    )
    .map_err(|e| crate::Error::Report(e.to_string()))?;
    Ok(())
}

/// Signs `tier` into a package: the county with its dispositions file, the city with its scored
/// checking workbook (which must be a sample of this package's region), the province as accepted.
pub fn sign_tier(
    package: &Path,
    tier: tier::Tier,
    reviewer: &str,
    date: &str,
    sample: Option<&Path>,
    dispositions: Option<&Path>,
) -> Result<tier::TierRecord> {
    let figures = match (tier, sample) {
        (tier::Tier::City, None) => {
            return Err(invalid(
                package,
                "the city tier needs its sampled check",
                "give --sample <the checked workbook of `riskcensus review sample`>",
            ));
        }
        (_, Some(w)) => {
            let s = score::score(w, None)?;
            let id = package_identity(package)?;
            if s.region_code != id {
                return Err(invalid(
                    w,
                    format!("the sample is of {}, the package of {id}", s.region_code),
                    "sign with the workbook sampled from this package",
                ));
            }
            Some((
                tier::SampleFigures {
                    seed: s.seed,
                    rate: s.rate,
                    records: s.county.records,
                    indicators_checked: s.county.indicators_checked,
                    wrong: s.county.wrong,
                    error_rate: s.county.error_rate,
                    ci_low: s.county.ci_low,
                    ci_high: s.county.ci_high,
                    threshold: s.threshold,
                },
                s.county.passed,
            ))
        }
        _ => None,
    };
    let dispositions_sha256 = match dispositions {
        Some(p) => Some(
            crate::sha256_file(p)
                .map_err(|e| {
                    invalid(
                        p,
                        e.to_string(),
                        "name the dispositions file the run applied",
                    )
                })?
                .1,
        ),
        None => None,
    };
    let passed = match (&figures, tier) {
        (Some((_, passed)), _) => *passed,
        (None, tier::Tier::County) => package_qc_passed(package)?,
        (None, _) => true,
    };
    let record = tier::TierRecord {
        tier,
        reviewer: reviewer.to_owned(),
        date: date.to_owned(),
        dispositions_sha256,
        sample: figures.map(|(f, _)| f),
        passed,
    };
    tier::sign(package, record.clone())?;
    Ok(record)
}

/// The verified manifest of a package.
fn verified_manifest(package: &Path) -> Result<crate::package::Manifest> {
    let tmp = tempfile::tempdir().map_err(|e| invalid(package, e.to_string(), "check /tmp"))?;
    crate::package::unpack(package, tmp.path(), &|_| false).map_err(|problems| {
        invalid(
            package,
            format!("does not verify: {}", problems.join("; ")),
            "`riskcensus verify` lists every problem",
        )
    })
}

fn package_identity(package: &Path) -> Result<String> {
    Ok(verified_manifest(package)?.region_code)
}

fn package_qc_passed(package: &Path) -> Result<bool> {
    Ok(verified_manifest(package)?.qc_passed)
}
