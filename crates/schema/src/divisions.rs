//! The official statistical division codes (统计用区划代码), NBS 2023 edition.
//!
//! A full code has 12 digits: province 2 + prefecture 2 + county 2 + township 3 + village 3. A child's
//! code keeps its parent's prefix; the county is the first 6 digits and the township the first 9.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::{Error, Result};

const PROVINCES: &str = include_str!("../../../schemas/codes/divisions_nbs2023/provinces.csv");
const CITIES: &str = include_str!("../../../schemas/codes/divisions_nbs2023/cities.csv");
const AREAS: &str = include_str!("../../../schemas/codes/divisions_nbs2023/areas.csv");
const STREETS: &str = include_str!("../../../schemas/codes/divisions_nbs2023/streets.csv");

/// The edition of the shipped list, as recorded in package manifests.
pub const EDITION: &str = "NBS 2023 (统计用区划代码, cutoff 2023-06-30)";

/// The level of a division code, by its number of significant digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DivisionLevel {
    Province,
    Prefecture,
    County,
    Township,
    Village,
}

impl DivisionLevel {
    /// Digits a code of this level has when written without trailing zeros.
    pub fn digits(self) -> usize {
        match self {
            Self::Province => 2,
            Self::Prefecture => 4,
            Self::County => 6,
            Self::Township => 9,
            Self::Village => 12,
        }
    }
}

/// Why a string is not a well-formed division code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    #[error("{0:?} is not all ASCII digits")]
    NotDigits(String),
    #[error("{code:?} has {len} digits; a division code has 2, 4, 6, 9 or 12")]
    BadLength { code: String, len: usize },
    #[error("{code:?}: segment {segment} is {value}, which no division uses")]
    BadSegment {
        code: String,
        segment: &'static str,
        value: String,
    },
}

/// Prefecture-level cities with no counties or districts (不设区的地级市): NBS gives the city itself a
/// county-level code ending in 00 (东莞市 441900, 中山市 442000, 儋州市 460400), and their townships
/// codes under it (441900003 东城街道). A test holds this list to the division list's county codes.
pub const CITIES_WITHOUT_COUNTIES: &[&str] = &["4419", "4420", "4604"];

/// Checks the structure of a code (not whether it exists) and returns its level.
///
/// Trailing zero segments in a 12-digit code mean a higher level: `530402000000` is a county.
pub fn parse_level(code: &str) -> Result<DivisionLevel, CodeError> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::NotDigits(code.to_owned()));
    }
    let level = match code.len() {
        2 => DivisionLevel::Province,
        4 => DivisionLevel::Prefecture,
        6 => DivisionLevel::County,
        9 => DivisionLevel::Township,
        12 => {
            if &code[9..] != "000" {
                DivisionLevel::Village
            } else if &code[6..9] != "000" {
                DivisionLevel::Township
            } else if &code[4..6] != "00" {
                DivisionLevel::County
            } else if &code[2..4] != "00" {
                DivisionLevel::Prefecture
            } else {
                DivisionLevel::Province
            }
        }
        len => {
            return Err(CodeError::BadLength {
                code: code.to_owned(),
                len,
            });
        }
    };
    let bad = |segment, value: &str| CodeError::BadSegment {
        code: code.to_owned(),
        segment,
        value: value.to_owned(),
    };
    let province = &code[0..2];
    if !("11"..="82").contains(&province) {
        return Err(bad("province", province));
    }
    if level >= DivisionLevel::Prefecture && &code[2..4] == "00" {
        return Err(bad("prefecture", &code[2..4]));
    }
    if level >= DivisionLevel::County
        && &code[4..6] == "00"
        && !CITIES_WITHOUT_COUNTIES.contains(&&code[..4])
    {
        return Err(bad("county", &code[4..6]));
    }
    if level >= DivisionLevel::Township {
        let t = &code[6..9];
        // 300–399 and 600–999 are not used for townships (see schemas/codes/README.md).
        if t == "000" || ("300".."400").contains(&t) || t >= "600" {
            return Err(bad("township", t));
        }
    }
    Ok(level)
}

/// Checks a region code as a run or a package names it and returns its level. Besides the forms of
/// [`parse_level`], a 6-digit code with trailing zero pairs is a higher level, as GB/T 2260 writes
/// them: `530000` is a province, `530300` a city (prefecture), `530302` a county.
pub fn parse_region(code: &str) -> Result<DivisionLevel, CodeError> {
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        if &code[2..] == "0000" {
            return parse_level(&code[..2]);
        }
        if &code[4..] == "00" {
            return parse_level(&code[..4]);
        }
    }
    parse_level(code)
}

/// The significant digits of a region code (`53` of `530000`, `5303` of `530300`): every division
/// in the region has a code that starts with them. Codes that are not well formed come back whole.
pub fn region_prefix(code: &str) -> &str {
    match parse_region(code) {
        Ok(level) if level <= DivisionLevel::County => &code[..level.digits()],
        _ => code,
    }
}

/// The county a code of county level or below lies in: its first 6 digits, when they are a county
/// code (`530381` of `530381101`); `None` for a city or province code, or a code that is not a
/// division code at all (a unit numbered by some other scheme).
pub fn county_of(code: &str) -> Option<&str> {
    let county = code.get(..6)?;
    (parse_level(code).is_ok() && parse_level(county) == Ok(DivisionLevel::County))
        .then_some(county)
}

/// A division in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub level: DivisionLevel,
}

/// The official division list, indexed by code.
#[derive(Debug)]
pub struct Registry {
    by_code: BTreeMap<String, Division>,
}

impl Registry {
    /// The shipped NBS 2023 list, parsed once.
    pub fn nbs2023() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            // The embedded files are part of the binary and checked by this crate's tests, so a
            // failure here is a build defect, not bad input.
            Registry::from_csv_texts(&[
                ("provinces.csv", PROVINCES, DivisionLevel::Province),
                ("cities.csv", CITIES, DivisionLevel::Prefecture),
                ("areas.csv", AREAS, DivisionLevel::County),
                ("streets.csv", STREETS, DivisionLevel::Township),
            ])
            .unwrap_or_else(|e| panic!("embedded division list is broken: {e}"))
        })
    }

    fn from_csv_texts(files: &[(&'static str, &str, DivisionLevel)]) -> Result<Registry> {
        let mut by_code = BTreeMap::new();
        for &(file, text, level) in files {
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            for record in reader.records() {
                let record = record.map_err(|e| Error::EmbeddedTable {
                    file,
                    line: e.position().map(|p| p.line()).unwrap_or(0),
                    message: e.to_string(),
                })?;
                let (Some(code), Some(name)) = (record.get(0), record.get(1)) else {
                    return Err(Error::EmbeddedTable {
                        file,
                        line: record.position().map(|p| p.line()).unwrap_or(0),
                        message: "fewer than two columns".into(),
                    });
                };
                by_code.insert(
                    code.to_owned(),
                    Division {
                        code: code.to_owned(),
                        name: name.to_owned(),
                        level,
                    },
                );
            }
        }
        Ok(Registry { by_code })
    }

    /// The division with this code (2, 4, 6 or 9 digits, or 12 with trailing zero segments).
    pub fn get(&self, code: &str) -> Option<&Division> {
        let short = match parse_level(code).ok()? {
            DivisionLevel::Village => return None,
            level => &code[..level.digits()],
        };
        self.by_code.get(short)
    }

    /// The division a region code names, at any level (`530000`, `530300`, `530302`, or the short
    /// forms `53`, `5303`).
    pub fn region(&self, code: &str) -> Option<&Division> {
        match parse_region(code).ok()? {
            DivisionLevel::Village => None,
            level => self.by_code.get(&code[..level.digits()]),
        }
    }

    /// The name a region is known by: the registry's name, except that a city's 市辖区 (the urban
    /// districts of a municipality, e.g. 310100) goes by its province's name (上海市).
    pub fn region_name(&self, code: &str) -> Option<String> {
        let d = self.region(code)?;
        if d.level == DivisionLevel::Prefecture && d.name == "市辖区" {
            return self.by_code.get(&d.code[..2]).map(|p| p.name.clone());
        }
        Some(d.name.clone())
    }

    /// Whether this code is in the list.
    pub fn contains(&self, code: &str) -> bool {
        self.get(code).is_some()
    }

    /// The county with this 6-digit code, or an error that says what a county code looks like.
    pub fn county(&self, code: &str) -> Result<&Division> {
        match self.get(code) {
            Some(d) if d.level == DivisionLevel::County => Ok(d),
            _ => Err(Error::UnknownCounty {
                code: code.to_owned(),
            }),
        }
    }

    /// The townships of a county, in code order.
    pub fn townships_of(&self, county: &str) -> Vec<&Division> {
        let lo = format!("{county}000");
        let hi = format!("{county}999");
        self.by_code
            .range(lo..=hi)
            .map(|(_, d)| d)
            .filter(|d| d.level == DivisionLevel::Township)
            .collect()
    }

    /// Every division whose code starts with `prefix` (its significant digits: `510104` for the
    /// county and all its townships), in code order.
    pub fn within<'a>(&'a self, prefix: &str) -> impl Iterator<Item = &'a Division> + 'a {
        let prefix = prefix.to_owned();
        self.by_code
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(code, _)| code.starts_with(prefix.as_str()))
            .map(|(_, d)| d)
    }

    /// The parent of a division (province of a prefecture, …), if it is listed.
    pub fn parent(&self, code: &str) -> Option<&Division> {
        let level = parse_level(code).ok()?;
        let parent_digits = match level {
            DivisionLevel::Province => return None,
            DivisionLevel::Prefecture => 2,
            DivisionLevel::County => 4,
            DivisionLevel::Township => 6,
            DivisionLevel::Village => 9,
        };
        self.by_code.get(&code[..parent_digits])
    }

    /// Number of divisions listed at a level.
    pub fn count(&self, level: DivisionLevel) -> usize {
        self.by_code.values().filter(|d| d.level == level).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_published_edition() {
        let r = Registry::nbs2023();
        assert_eq!(r.count(DivisionLevel::Province), 31);
        assert_eq!(r.count(DivisionLevel::Prefecture), 342);
        assert_eq!(r.count(DivisionLevel::County), 2978);
        assert_eq!(r.count(DivisionLevel::Township), 41352);
    }

    #[test]
    fn lookups_follow_the_prefix_rule() {
        let r = Registry::nbs2023();
        assert_eq!(
            r.get("110101001").map(|d| d.name.as_str()),
            Some("东华门街道")
        );
        assert_eq!(
            r.get("110101001000").map(|d| d.name.as_str()),
            Some("东华门街道")
        );
        assert_eq!(
            r.parent("110101001").map(|d| d.code.as_str()),
            Some("110101")
        );
        assert_eq!(r.parent("110101").map(|d| d.code.as_str()), Some("1101"));
        let towns = r.townships_of("110101");
        assert!(!towns.is_empty());
        assert!(towns.iter().all(|t| t.code.starts_with("110101")));
        assert!(r.county("999999").is_err());
        assert!(r.county("110101001").is_err());
    }

    #[test]
    fn regions_at_every_level() {
        let r = Registry::nbs2023();
        assert_eq!(parse_region("530000"), Ok(DivisionLevel::Province));
        assert_eq!(parse_region("530300"), Ok(DivisionLevel::Prefecture));
        assert_eq!(parse_region("530302"), Ok(DivisionLevel::County));
        assert_eq!(parse_region("530302001"), Ok(DivisionLevel::Township));
        assert!(parse_region("000000").is_err());
        assert_eq!(r.region_name("530000").as_deref(), Some("云南省"));
        assert_eq!(r.region_name("530300").as_deref(), Some("曲靖市"));
        assert_eq!(r.region_name("5303").as_deref(), Some("曲靖市"));
        assert_eq!(r.region_name("310100").as_deref(), Some("上海市"));
        assert_eq!(r.region_name("530402").as_deref(), Some("红塔区"));
        assert_eq!(region_prefix("530000"), "53");
        assert_eq!(region_prefix("530300"), "5303");
        assert_eq!(region_prefix("530302"), "530302");
        assert_eq!(county_of("530381101"), Some("530381"));
        assert_eq!(county_of("530381"), Some("530381"));
        assert_eq!(county_of("530300"), None);
        assert_eq!(county_of("530000"), None);
        assert_eq!(county_of("01001"), None);
        assert_eq!(county_of("53038110x"), None);
    }

    #[test]
    fn structure_rules() {
        assert_eq!(parse_level("53").unwrap(), DivisionLevel::Province);
        assert_eq!(parse_level("530402100").unwrap(), DivisionLevel::Township);
        assert_eq!(parse_level("530402100201").unwrap(), DivisionLevel::Village);
        assert_eq!(
            parse_level("530400000000").unwrap(),
            DivisionLevel::Prefecture
        );
        assert!(matches!(
            parse_level("53040210"),
            Err(CodeError::BadLength { .. })
        ));
        assert!(matches!(
            parse_level("５30402"),
            Err(CodeError::NotDigits(_))
        ));
        assert!(matches!(
            parse_level("990402"),
            Err(CodeError::BadSegment { .. })
        ));
        assert!(matches!(
            parse_level("530402700"),
            Err(CodeError::BadSegment { .. })
        ));
    }

    /// 东莞, 中山 and 儋州 are county-level units in NBS 2023 (prefecture cities without districts):
    /// their codes and their townships' are codes of the list, not structural errors; other codes
    /// with a 00 county segment still are.
    #[test]
    fn cities_without_counties_are_county_level_units() {
        let r = Registry::nbs2023();
        for (code, name) in [
            ("441900", "东莞市"),
            ("442000", "中山市"),
            ("460400", "儋州市"),
        ] {
            let d = r.get(code).unwrap_or_else(|| panic!("{code} not found"));
            assert_eq!((d.name.as_str(), d.level), (name, DivisionLevel::County));
        }
        let t = r.get("441900003").unwrap();
        assert_eq!(
            (t.name.as_str(), t.level),
            ("东城街道", DivisionLevel::Township)
        );
        assert!(parse_level("530300").is_err());
        assert!(parse_level("530300001").is_err());
        // The list is exactly the county codes of the division list that end in 00.
        let ending_00: Vec<&str> = r
            .by_code
            .values()
            .filter(|d| d.level == DivisionLevel::County && d.code.ends_with("00"))
            .map(|d| &d.code[..4])
            .collect();
        assert_eq!(ending_00, CITIES_WITHOUT_COUNTIES);
    }
}
