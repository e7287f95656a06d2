//! `format`: a text in a named format — 统一社会信用代码 (GB 32100-2015) and 居民身份证号码
//! (GB 11643-1999) with their check characters, mainland phone numbers, postcodes.

use riskcensus_schema::{Format, Severity, TableSchema};

use super::condition::Compiled;
use super::{RecordRule, Row, finding};
use crate::Context;

pub(crate) struct FormatRule {
    pub k: usize,
    pub format: Format,
    pub when: Option<Compiled>,
    pub severity: Severity,
}

impl RecordRule for FormatRule {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, _ctx: &Context<'_>) {
        let k = self.k;
        if self.when.as_ref().is_some_and(|c| !c.holds(row)) {
            return;
        }
        let Some(s) = row.ok_value(k).and_then(|v| v.as_str()) else {
            return;
        };
        let Err(why) = check(self.format, s) else {
            return;
        };
        let f = &schema.fields[k];
        let (rule, what_zh, what_en) = match self.format {
            Format::CreditCode => (
                "bad_credit_code",
                "统一社会信用代码（GB 32100-2015）",
                "unified social credit code (GB 32100-2015)",
            ),
            Format::IdCard => (
                "bad_id_card",
                "居民身份证号码（GB 11643-1999）",
                "resident ID card number (GB 11643-1999)",
            ),
            Format::Phone => ("bad_phone", "电话号码", "phone number"),
            Format::Postcode => (
                "bad_postcode",
                "邮政编码（6 位数字）",
                "postcode (6 digits)",
            ),
        };
        let found = finding(
            k,
            s.to_owned(),
            rule,
            self.severity,
            format!("“{}”的值“{s}”不是有效的{what_zh}：{}", f.name_zh, why.zh),
            format!("{} {s:?} is not a valid {what_en}: {}", f.code, why.en),
        );
        row.findings.push(found);
    }
}

/// Why a value is not in its format.
#[derive(Debug, PartialEq)]
pub(crate) struct Why {
    pub zh: String,
    pub en: String,
}

fn why(zh: impl Into<String>, en: impl Into<String>) -> Why {
    Why {
        zh: zh.into(),
        en: en.into(),
    }
}

/// Checks `s` against a format.
pub(crate) fn check(format: Format, s: &str) -> Result<(), Why> {
    match format {
        Format::CreditCode => credit_code(s),
        Format::IdCard => id_card(s),
        Format::Phone => phone(s),
        Format::Postcode => {
            if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(why("应为 6 位数字", "expected 6 digits"))
            }
        }
    }
}

use riskcensus_schema::rule::{CREDIT_CHARS, credit_code_check_char};

/// GB 32100-2015: 18 characters; positions 3–8 digits (the registering office's division code);
/// the 18th is 31 − (Σ value × 3^(i−1) mod 31) mod 31.
fn credit_code(s: &str) -> Result<(), Why> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != 18 {
        return Err(why(
            format!("应为 18 位，实为 {} 位", chars.len()),
            format!("expected 18 characters, found {}", chars.len()),
        ));
    }
    let values: Vec<Option<u32>> = chars
        .iter()
        .map(|c| CREDIT_CHARS.find(*c).map(|v| v as u32))
        .collect();
    if let Some(at) = values.iter().position(Option::is_none) {
        return Err(why(
            format!(
                "第 {} 位“{}”不是允许的字符（数字或除 I、O、S、V、Z 外的大写字母）",
                at + 1,
                chars[at]
            ),
            format!(
                "character {} {:?} is not allowed (digits, capitals but I, O, S, V, Z)",
                at + 1,
                chars[at]
            ),
        ));
    }
    if !chars[2..8].iter().all(char::is_ascii_digit) {
        return Err(why(
            "第 3–8 位（登记管理机关行政区划码）应为数字",
            "characters 3–8 (the registering office's division code) must be digits",
        ));
    }
    let c = credit_code_check_char(&chars[..17]).unwrap_or('0');
    if chars[17] == c {
        return Ok(());
    }
    Err(why(
        format!("校验码应为 {c}（早期试点地区的个别代码不符合校验规则，核实后可标记为例外）"),
        format!(
            "the check character should be {c} (a few early pilot-region codes fail the check: verify and mark it an exception)"
        ),
    ))
}

/// GB 11643-1999: 17 digits whose 7th–14th are a birth date, then the check character of
/// Σ digit × weight mod 11.
fn id_card(s: &str) -> Result<(), Why> {
    let b = s.as_bytes();
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
    {
        return Err(why(
            "应为 17 位数字加 1 位校验码（数字或 X）",
            "expected 17 digits and a check character (a digit or X)",
        ));
    }
    let digits = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let (y, m, d) = (digits(6..10), digits(10..12), digits(12..14));
    if !(1900..=2100).contains(&y) || riskcensus_schema::days_from_civil(y as i64, m, d).is_none() {
        return Err(why(
            format!("出生日期 {} 不存在", &s[6..14]),
            format!("birth date {} does not exist", &s[6..14]),
        ));
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(c, w)| (c - b'0') as u32 * w)
        .sum();
    let expected = b"10X98765432"[(sum % 11) as usize];
    if b[17].to_ascii_uppercase() == expected {
        Ok(())
    } else {
        Err(why(
            format!("校验码应为 {}", expected as char),
            format!("the check character should be {}", expected as char),
        ))
    }
}

/// A mainland number: a mobile (11 digits from 13–19, an optional +86 or 86 before it), a landline
/// with its area code (0 and 2–3 digits, then 7–8 digits, an optional extension) or without it (7–8
/// digits), or a 400/800 service number. Several may be given, separated by 、 , ; / or spaces.
fn phone(s: &str) -> Result<(), Why> {
    let parts: Vec<&str> = s
        .split(['、', '，', ',', ';', '；', '/', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let bad = parts.iter().find(|p| !one_phone(p));
    match (parts.is_empty(), bad) {
        (false, None) => Ok(()),
        (_, bad) => Err(why(
            format!(
                "“{}”不是手机号（11 位）、固定电话（区号-号码）或 400/800 号码",
                bad.unwrap_or(&s)
            ),
            format!(
                "{:?} is no mobile (11 digits), landline (area code-number) or 400/800 number",
                bad.unwrap_or(&s)
            ),
        )),
    }
}

fn one_phone(p: &str) -> bool {
    let p = p.replace(['（', '('], "").replace(['）', ')'], "-");
    let p = p
        .strip_prefix("+86")
        .or_else(|| p.strip_prefix("86-"))
        .unwrap_or(&p);
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let (main, ext) = match p.split_once(['转', '#']) {
        Some((m, e)) => (m, Some(e)),
        None => (p, None),
    };
    if ext.is_some_and(|e| !all_digits(e) || e.len() > 6) {
        return false;
    }
    let groups: Vec<&str> = main.split('-').collect();
    match groups.as_slice() {
        [n] if n.len() == 11 && n.starts_with('1') && all_digits(n) => {
            (b'3'..=b'9').contains(&n.as_bytes()[1])
        }
        [n] if (n.starts_with("400") || n.starts_with("800")) && n.len() == 10 => all_digits(n),
        [a, b, c] if *a == "400" || *a == "800" => all_digits(b) && all_digits(c),
        [n] if (7..=8).contains(&n.len()) => all_digits(n) && !n.starts_with('0'),
        // An area code written into the number: 0 + 2–3 digits + 7–8 digits.
        [n] if n.starts_with('0') && (10..=12).contains(&n.len()) => all_digits(n),
        [area, n] => {
            area.starts_with('0')
                && (3..=4).contains(&area.len())
                && all_digits(area)
                && (7..=8).contains(&n.len())
                && all_digits(n)
        }
        [area, n, e] => {
            area.starts_with('0')
                && (3..=4).contains(&area.len())
                && all_digits(area)
                && (7..=8).contains(&n.len())
                && all_digits(n)
                && all_digits(e)
                && e.len() <= 6
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Credit codes of the shape real ones have, with their check characters computed as GB 32100
    /// states (the reference's worked example, and codes of a 事业单位, a 社会团体 and a company).
    #[test]
    fn credit_codes_pass_and_a_one_character_change_fails_the_check() {
        for good in [
            "91350100M000100Y43",
            "12530381MB0123456Y",
            "51530381MJ0000000R",
        ] {
            let base = &good[..17];
            // The check character the algorithm gives for the first 17.
            let c = (0..31)
                .map(|v| CREDIT_CHARS.as_bytes()[v] as char)
                .find(|c| credit_code(&format!("{base}{c}")).is_ok())
                .expect("some check character fits");
            let code = format!("{base}{c}");
            assert_eq!(credit_code(&code), Ok(()), "{code}");
            // Every one-character change in the first 17 is caught.
            for at in 0..17 {
                let mut chars: Vec<char> = code.chars().collect();
                let old = chars[at];
                chars[at] = if old == '1' { '2' } else { '1' };
                let changed: String = chars.into_iter().collect();
                assert!(credit_code(&changed).is_err(), "{changed} passes");
            }
        }
        assert_eq!(credit_code("91350100M000100Y43"), Ok(()));
        let e = credit_code("91350100M000100Y44").unwrap_err();
        assert!(e.zh.contains("校验码应为 3"), "{}", e.zh);
        assert!(
            credit_code("9135010OM000100Y43")
                .unwrap_err()
                .zh
                .contains("第 8 位")
        );
        assert!(
            credit_code("913501")
                .unwrap_err()
                .en
                .contains("18 characters")
        );
        assert!(
            credit_code("91AB0100M000100Y43")
                .unwrap_err()
                .en
                .contains("3–8")
        );
    }

    #[test]
    fn id_cards_check_their_birth_date_and_check_character() {
        assert_eq!(id_card("11010519491231002X"), Ok(()));
        assert_eq!(id_card("11010519491231002x"), Ok(()));
        assert!(
            id_card("110105194912310021")
                .unwrap_err()
                .zh
                .contains("校验码应为 X")
        );
        assert!(
            id_card("110105194913310028")
                .unwrap_err()
                .zh
                .contains("出生日期")
        );
        assert!(id_card("11010519491231002").is_err());
    }

    #[test]
    fn phones_as_offices_write_them() {
        for good in [
            "13812345678",
            "+8613812345678",
            "0874-3123456",
            "0874-31234567",
            "(0874)3123456",
            "010-12345678-123",
            "3123456",
            "4008123456",
            "400-812-3456",
            "13812345678、0874-3123456",
            "0874-3123456转8001",
        ] {
            assert_eq!(phone(good), Ok(()), "{good}");
        }
        for bad in [
            "abc",
            "12345",
            "1381234567",
            "12812345678",
            "874-3123456",
            "0874-12",
        ] {
            assert!(phone(bad).is_err(), "{bad} passes");
        }
        assert!(phone("13812345678、abc").unwrap_err().zh.contains("“abc”"));
    }

    #[test]
    fn postcodes_are_six_digits() {
        assert_eq!(check(Format::Postcode, "655400"), Ok(()));
        assert!(check(Format::Postcode, "65540").is_err());
        assert!(check(Format::Postcode, "65540A").is_err());
    }
}
