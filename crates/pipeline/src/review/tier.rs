//! The tiers a package has passed: the county's self-check, the city's sampled check, the
//! province's acceptance. Each is a record in the package's manifest (who, when, the dispositions
//! file's hash, the sample's seed and figures); `merge` reports per county the tier it reached and
//! can require one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Result, invalid};
use crate::package::{Manifest, unpack};
/// The tier records live with the manifest that carries them, in the publish crate.
pub use riskcensus_publish::package::{SampleFigures, Tier, TierRecord};

/// Checks a date is `YYYY-MM-DD`.
pub fn check_date(date: &str) -> std::result::Result<(), String> {
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits(0..4) && digits(5..7) && {
        let (m, d): (u32, u32) = (
            date[5..7].parse().unwrap_or(0),
            date[8..10].parse().unwrap_or(0),
        );
        digits(8..10) && (1..=12).contains(&m) && (1..=31).contains(&d)
    };
    if ok {
        Ok(())
    } else {
        Err(format!("date {date:?} is not YYYY-MM-DD"))
    }
}

/// The highest tier whose check passed, if any.
pub fn reached(manifest: &Manifest) -> Option<Tier> {
    manifest
        .tiers
        .iter()
        .filter(|t| t.passed)
        .map(|t| t.tier)
        .max()
}

/// Verifies `package`, appends `record` to its manifest's tiers (replacing an earlier record of the
/// same tier) and writes the package again under a temporary name, renamed when whole. The files
/// are the bytes verified, in the manifest's order, with the package's fixed timestamps.
pub fn sign(package: &Path, record: TierRecord) -> Result<Manifest> {
    check_date(&record.date).map_err(|m| invalid(package, m, "give --date as e.g. 2021-07-15"))?;
    if record.reviewer.trim().is_empty() {
        return Err(invalid(
            package,
            "no reviewer named",
            "give --reviewer, the person who signs for the tier",
        ));
    }
    let tmp = tempfile::tempdir().map_err(|e| invalid(package, e.to_string(), "check /tmp"))?;
    let mut manifest = unpack(package, tmp.path(), &|_| true).map_err(|problems| {
        invalid(
            package,
            format!("does not verify: {}", problems.join("; ")),
            "`riskcensus verify` lists every problem; sign only a whole package",
        )
    })?;
    if record.tier > Tier::County && !manifest.tiers.iter().any(|t| t.tier < record.tier) {
        tracing::warn!(
            tier = record.tier.as_str(),
            "no lower tier recorded in this package"
        );
    }
    manifest.tiers.retain(|t| t.tier != record.tier);
    manifest.tiers.push(record);
    manifest.tiers.sort_by_key(|t| t.tier);
    rewrite(package, tmp.path(), &manifest)?;
    Ok(manifest)
}

/// Writes `package` anew from the verified entries under `root` and `manifest`.
fn rewrite(package: &Path, root: &Path, manifest: &Manifest) -> Result<()> {
    let werr = |e: &dyn std::fmt::Display| invalid(package, e.to_string(), "check the folder");
    let name = package
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("package.zip");
    let out: PathBuf = package.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    {
        let f = std::fs::File::create(&out).map_err(|e| werr(&e))?;
        let mut zip = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for e in &manifest.files {
            zip.start_file(e.path.as_str(), opts)
                .map_err(|e| werr(&e))?;
            let mut f = std::fs::File::open(root.join(&e.path)).map_err(|e| werr(&e))?;
            std::io::copy(&mut f, &mut zip).map_err(|e| werr(&e))?;
        }
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| werr(&e))?;
        zip.start_file("manifest.json", opts)
            .map_err(|e| werr(&e))?;
        zip.write_all(&json).map_err(|e| werr(&e))?;
        let f = zip.finish().map_err(|e| werr(&e))?;
        f.sync_all().map_err(|e| werr(&e))?;
    }
    std::fs::rename(&out, package).map_err(|e| werr(&e))
}

/// The tier a county package reached, as `merge` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountyTier {
    pub package: PathBuf,
    pub region_code: String,
    pub region_name: String,
    pub reached: Option<Tier>,
    pub tiers: Vec<TierRecord>,
}

/// Verifies every package and reads the tier each reached; with `require`, a package below it is
/// refused, naming it, the tier it reached and the one required.
pub fn check_packages(packages: &[PathBuf], require: Option<Tier>) -> Result<Vec<CountyTier>> {
    let mut out = Vec::new();
    for p in packages {
        let tmp = tempfile::tempdir().map_err(|e| invalid(p, e.to_string(), "check /tmp"))?;
        let manifest = unpack(p, tmp.path(), &|_| false).map_err(|problems| {
            invalid(
                p,
                format!("does not verify: {}", problems.join("; ")),
                "ask the county office to send it again; `riskcensus verify` lists every problem",
            )
        })?;
        let reached = reached(&manifest);
        if let Some(req) = require
            && reached.is_none_or(|r| r < req)
        {
            return Err(invalid(
                p,
                format!(
                    "{} {} reached {}, and {} ({}) is required",
                    manifest.region_code,
                    manifest.region_name,
                    reached.map(|r| r.zh()).unwrap_or("no review tier"),
                    req.zh(),
                    req.as_str()
                ),
                "the county needs that tier signed into its package (`riskcensus review sign`)",
            ));
        }
        out.push(CountyTier {
            package: p.clone(),
            region_code: manifest.region_code.clone(),
            region_name: manifest.region_name.clone(),
            reached,
            tiers: manifest.tiers.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse() {
        assert!(check_date("2021-07-15").is_ok());
        for bad in ["2021-7-15", "2021-13-01", "20210715", "2021-07-1x"] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
    }
}
