//! Division codes as offices deliver them: retired codes and their successors (the change list
//! applied in both directions), names that point at the right code, and unit codes that Excel
//! turned into numbers.

use std::collections::BTreeMap;

use riskcensus_schema::divisions::{Division, DivisionLevel, county_of, region_prefix};
use riskcensus_schema::{FieldSchema, TableSchema};

use crate::Context;

/// Longest chain of changes followed (a code retired twice: A → B → C); a longer or circular list
/// stops here rather than looping.
const MAX_CHAIN: usize = 16;

/// The current code of a retired one, following chains (A → B, B → C gives C); `None` when the
/// change list does not retire `code`.
pub(crate) fn successor<'a>(stale: &'a BTreeMap<String, String>, code: &str) -> Option<&'a str> {
    let mut now = stale.get(code)?.as_str();
    for _ in 0..MAX_CHAIN {
        match stale.get(now) {
            Some(next) if next != now => now = next.as_str(),
            _ => break,
        }
    }
    Some(now)
}

/// The change that made `new`, for messages: every code the list merges into it (`510104020、
/// 510104021 并入 510104022（春熙路街道）`), or the one it renames.
pub(crate) fn merger(ctx: &Context<'_>, new: &str) -> (String, String) {
    let olds: Vec<&str> = ctx
        .stale
        .keys()
        .map(String::as_str)
        .filter(|old| successor(&ctx.stale, old) == Some(new))
        .collect();
    let name = ctx.registry.get(new).map(|d| d.name.as_str()).unwrap_or("");
    if olds.len() > 1 {
        (
            format!("{} 合并为 {new}（{name}）", olds.join("、")),
            format!("{} were merged into {new} {name}", olds.join(", ")),
        )
    } else {
        (
            format!("{} 改为 {new}（{name}）", olds.join("")),
            format!("{} became {new} {name}", olds.join("")),
        )
    }
}

/// The field holding the name that goes with code field `k` (`xzqmc` for `xzqdm`, `unit_name` for
/// `unit_code`): by English name (`…_code` → `…_name`), else by pinyin code (`…dm` → `…mc`).
pub(crate) fn paired_name(schema: &TableSchema, k: usize) -> Option<usize> {
    let f: &FieldSchema = schema.fields.get(k)?;
    let by_en = f
        .name_en
        .strip_suffix("_code")
        .map(|stem| format!("{stem}_name"))
        .and_then(|n| schema.fields.iter().position(|g| g.name_en == n));
    by_en.or_else(|| {
        let stem = f.code.strip_suffix("dm")?;
        schema.field_index(&format!("{stem}mc"))
    })
}

fn same_name(a: &str, b: &str) -> bool {
    let tidy = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let (a, b) = (tidy(a), tidy(b));
    !a.is_empty() && a == b
}

/// For a code the list does not know: the current division of the same level, in the same county
/// (else the same parent, else the run's region), whose name is the record's name. What an office
/// needs when a township kept its name and changed its code (春熙路街道 → 510104022).
pub(crate) fn did_you_mean<'a>(
    ctx: &'a Context<'_>,
    code: &str,
    name: Option<&str>,
) -> Option<&'a Division> {
    let name = name?;
    let level = match code.len() {
        9 => DivisionLevel::Township,
        6 => DivisionLevel::County,
        4 => DivisionLevel::Prefecture,
        _ => return None,
    };
    let parent = match level {
        DivisionLevel::Township => county_of(code).or_else(|| code.get(..6)),
        _ => code.get(..level.digits().saturating_sub(2)),
    };
    let scopes = [parent, Some(region_prefix(&ctx.region_code))];
    scopes.into_iter().flatten().find_map(|prefix| {
        ctx.registry
            .within(prefix)
            .find(|d| d.level == level && d.code != code && same_name(&d.name, name))
    })
}

/// " — did you mean 510104022 (春熙路街道)?" in both languages, or empty.
pub(crate) fn suggestion(d: Option<&Division>) -> (String, String) {
    match d {
        Some(d) => (
            format!("；名称相同的现行代码为 {}（{}）", d.code, d.name),
            format!("; did you mean {} ({})?", d.code, d.name),
        ),
        None => (String::new(), String::new()),
    }
}

/// A unit code as Excel may have left it, made text again: `1001.0` and `1.10101001E+8` are the
/// numbers `1001` and `110101001`. `None` when the text is not such a number.
pub fn from_number_text(s: &str) -> Option<String> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let looks_numeric = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+'));
    if !looks_numeric || !s.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    // Integers only, and only those an f64 holds exactly (every 15-digit code).
    (v.fract() == 0.0 && (0.0..1e15).contains(&v)).then(|| format!("{v:.0}"))
}

/// The length of a table's unit codes, when most of them are all digits (after numbers are made
/// text again): the length most of those have (the longer on a tie), which the shorter ones lost
/// leading zeros from. `None` for codes of another kind (`A`, `BJ-01`).
pub fn unit_code_digits<'a>(codes: impl Iterator<Item = &'a str>) -> Option<usize> {
    let mut total = 0usize;
    let mut by_len: BTreeMap<usize, usize> = BTreeMap::new();
    for c in codes {
        total += 1;
        let c = c.trim();
        let text = from_number_text(c).unwrap_or_else(|| c.to_owned());
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            *by_len.entry(text.len()).or_default() += 1;
        }
    }
    let digital: usize = by_len.values().sum();
    if digital == 0 || digital * 2 < total {
        return None;
    }
    by_len
        .into_iter()
        .max_by_key(|&(len, n)| (n, len))
        .map(|(len, _)| len)
}

/// What normalising a unit code did.
#[derive(Debug, PartialEq, Eq)]
pub enum UnitCode {
    /// Already right (or only a number written back as text).
    Kept(String),
    /// An all-digit code shorter than the table's codes: its leading zeros restored.
    ZerosRestored { from: String, to: String },
    /// Neither: not all digits, or longer than the table's codes.
    Bad(String),
}

/// Normalises one unit code: numbers back to text, then, when the table's codes have `digits`
/// digits, lost leading zeros restored.
pub fn normalise_unit_code(s: &str, digits: Option<usize>) -> UnitCode {
    let s = s.trim();
    let text = from_number_text(s).unwrap_or_else(|| s.to_owned());
    let Some(n) = digits else {
        return UnitCode::Kept(text);
    };
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > n || text.is_empty() {
        return UnitCode::Bad(text);
    }
    if text.len() == n {
        return UnitCode::Kept(text);
    }
    UnitCode::ZerosRestored {
        to: format!("{text:0>n$}"),
        from: text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_excel_turned_into_numbers_come_back() {
        assert_eq!(
            normalise_unit_code("1001", Some(5)),
            UnitCode::ZerosRestored {
                from: "1001".into(),
                to: "01001".into()
            }
        );
        assert_eq!(
            normalise_unit_code("1.10101001E+8", Some(9)),
            UnitCode::Kept("110101001".into())
        );
        assert_eq!(
            normalise_unit_code("530402.0", Some(6)),
            UnitCode::Kept("530402".into())
        );
        assert_eq!(
            normalise_unit_code("5304021", Some(6)),
            UnitCode::Bad("5304021".into())
        );
        assert_eq!(
            normalise_unit_code("53040A", Some(6)),
            UnitCode::Bad("53040A".into())
        );
        assert_eq!(normalise_unit_code(" A ", None), UnitCode::Kept("A".into()));
    }

    #[test]
    fn the_code_length_is_the_one_most_codes_have() {
        let fips = ["01001", "1003", "1005", "02013", "02016"];
        assert_eq!(unit_code_digits(fips.iter().copied()), Some(5));
        assert_eq!(unit_code_digits(["A", "B", "1"].iter().copied()), None);
        assert_eq!(
            unit_code_digits(["5.30402E+5", "530403", "53"].iter().copied()),
            Some(6)
        );
    }

    #[test]
    fn chains_of_changes_are_followed_and_cycles_end() {
        let mut m = BTreeMap::new();
        m.insert("a".to_owned(), "b".to_owned());
        m.insert("b".to_owned(), "c".to_owned());
        assert_eq!(successor(&m, "a"), Some("c"));
        assert_eq!(successor(&m, "c"), None);
        m.insert("c".to_owned(), "a".to_owned());
        assert!(successor(&m, "a").is_some());
    }
}
