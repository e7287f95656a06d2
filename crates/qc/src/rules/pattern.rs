//! `pattern`: a text matching its field's regular expression.

use riskcensus_schema::{FieldSchema, Severity};

use super::{FieldRule, Finding, Row, finding};
use crate::Context;
use crate::coerce::Value;

pub(crate) struct Pattern;

impl FieldRule for Pattern {
    fn check(
        &self,
        k: usize,
        f: &FieldSchema,
        v: &Value,
        _row: &mut Row<'_>,
        _ctx: &Context<'_>,
    ) -> Option<Finding> {
        let (s, p) = (v.as_str()?, f.pattern.as_ref()?);
        (!p.is_match(s)).then(|| {
            finding(
                k,
                s.to_owned(),
                "pattern_mismatch",
                Severity::Error,
                format!(
                    "“{}”的值“{s}”格式不符{}",
                    f.name_zh,
                    expected_zh(p.as_str())
                ),
                format!("{} {s:?} does not match {}", f.code, p.as_str()),
            )
        })
    }
}

/// What a pattern of N digits asks for, in words (`^\\d{15}$`: 应为 15 位数字).
fn expected_zh(pattern: &str) -> String {
    let digits = pattern
        .strip_prefix("^\\d{")
        .and_then(|t| t.strip_suffix("}$"))
        .and_then(|n| n.parse::<usize>().ok());
    match digits {
        Some(n) => format!("（应为 {n} 位数字）"),
        None => format!("（应符合 {pattern}）"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn digit_patterns_say_how_many_digits() {
        assert_eq!(super::expected_zh(r"^\d{15}$"), "（应为 15 位数字）");
        assert_eq!(
            super::expected_zh(r"^[0-9A-Z]{18}$"),
            "（应符合 ^[0-9A-Z]{18}$）"
        );
    }
}
