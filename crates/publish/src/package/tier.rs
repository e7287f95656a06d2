//! The review tiers a package records in its manifest: the county's self-check, the city's sampled
//! check, the province's acceptance. The types live here, with the manifest that carries them;
//! signing a tier into a package and checking packages for one is the pipeline's `review`.

use serde::{Deserialize, Serialize};

/// A review tier, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 县级自检: the county office checked its own data and decided on the issues.
    County,
    /// 市级抽检: the city office checked a sample.
    City,
    /// 省级验收: the province accepted the data.
    Province,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::County => "county",
            Tier::City => "city",
            Tier::Province => "province",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Tier::County => "县级自检",
            Tier::City => "市级抽检",
            Tier::Province => "省级验收",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        match s.trim() {
            "county" | "县级自检" | "县级" => Some(Tier::County),
            "city" | "市级抽检" | "市级" => Some(Tier::City),
            "province" | "省级验收" | "省级" => Some(Tier::Province),
            _ => None,
        }
    }
}

/// The figures of a city tier's sampled check, as `review score` computed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleFigures {
    pub seed: u64,
    pub rate: f64,
    pub records: u64,
    pub indicators_checked: u64,
    pub wrong: u64,
    pub error_rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub threshold: f64,
}

/// One tier's record in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierRecord {
    pub tier: Tier,
    pub reviewer: String,
    /// `YYYY-MM-DD`, as given: the record says when the review was done, not when it was written.
    pub date: String,
    /// SHA-256 of the dispositions file the run applied (county tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispositions_sha256: Option<String>,
    /// The sampled check (city tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleFigures>,
    /// Whether the tier's check passed: the county's QC verdict, the sample's 差错率 against its
    /// threshold, the province's acceptance (always).
    pub passed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_and_order() {
        assert!(Tier::County < Tier::City && Tier::City < Tier::Province);
        assert_eq!(Tier::parse("市级抽检"), Some(Tier::City));
        assert_eq!(Tier::parse("city"), Some(Tier::City));
        assert_eq!(Tier::parse("town"), None);
        assert_eq!(Tier::County.zh(), "县级自检");
    }
}
