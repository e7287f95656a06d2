//! `codes`: a value of the field's code list; with `multiple`, every value of a multiple choice.

use riskcensus_schema::{FieldSchema, Severity};

use super::{FieldRule, Finding, Row, finding};
use crate::Context;
use crate::coerce::Value;

pub(crate) struct CodeList;

impl FieldRule for CodeList {
    fn check(
        &self,
        k: usize,
        f: &FieldSchema,
        v: &Value,
        _row: &mut Row<'_>,
        ctx: &Context<'_>,
    ) -> Option<Finding> {
        let s = v.as_str()?;
        let list = f.codes.as_ref()?;
        let values = ctx.schemas.codes.get(list)?;
        let allowed = |x: &str| values.iter().any(|v| v == x);
        let bad: Vec<String> = if f.multiple && !allowed(s.trim()) {
            unmatched(&choices(s).collect::<Vec<_>>(), allowed)
        } else if allowed(s) {
            Vec::new()
        } else {
            vec![s.to_owned()]
        };
        if bad.is_empty() {
            return None;
        }
        let list_zh = ctx
            .schemas
            .code_names
            .get(list)
            .cloned()
            .unwrap_or_else(|| list.clone());
        let shown = bad.join("、");
        Some(finding(
            k,
            s.to_owned(),
            "not_in_code_list",
            Severity::Error,
            format!(
                "“{}”的值“{shown}”不在代码表“{list_zh}”中（可选：{}）",
                f.name_zh,
                allowed_text(values, "、")
            ),
            format!(
                "{} {shown:?} is not in code list {list} (allowed: {})",
                f.code,
                allowed_text(values, ", ")
            ),
        ))
    }
}

/// A code list's values for a message: all of a short list, the first twelve of a long one.
fn allowed_text(values: &[String], sep: &str) -> String {
    let shown: Vec<&str> = values.iter().take(12).map(String::as_str).collect();
    let more = values.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!("{sep}… (+{more})")
    } else {
        String::new()
    };
    format!("{}{tail}", shown.join(sep))
}

/// The pieces of a multiple-choice cell that are no option of the list. An option may itself
/// hold a 、 (`风暴潮、海啸应急预案`): the longest run of pieces that joins into an option is one.
fn unmatched(pieces: &[&str], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let mut bad = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let run = (i + 1..=pieces.len())
            .rev()
            .find(|&j| allowed(&pieces[i..j].join("、")));
        match run {
            Some(j) => i = j,
            None => {
                bad.push(pieces[i].to_owned());
                i += 1;
            }
        }
    }
    bad
}

/// The values of a multiple-choice cell: separated by 、，,;；/ or newlines, or written as the
/// national system exports them, a JSON array `["地震","洪水"]`. A separator inside brackets is part
/// of its value (`地质灾害（滑坡、泥石流、崩塌）应急预案` is one option).
pub(crate) fn choices(s: &str) -> impl Iterator<Item = &str> {
    let inner = s.trim();
    let inner = inner
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(inner);
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut parts = Vec::new();
    for (i, c) in inner.char_indices() {
        match c {
            '（' | '(' => depth += 1,
            '）' | ')' => depth = depth.saturating_sub(1),
            '、' | '，' | ',' | ';' | '；' | '/' | '\n' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(|x| x.trim().trim_matches('"').trim())
        .filter(|x| !x.is_empty())
}

#[cfg(test)]
mod tests {
    use super::choices;

    #[test]
    fn multiple_choice_cells_split_as_offices_and_the_national_system_write_them() {
        for cell in [
            "地震、洪水",
            "地震,洪水",
            "地震；洪水",
            "[\"地震\",\"洪水\"]",
            " 地震 / 洪水 ",
        ] {
            assert_eq!(
                choices(cell).collect::<Vec<_>>(),
                ["地震", "洪水"],
                "{cell}"
            );
        }
        let many: Vec<String> = (1..=14).map(|k| format!("类{k}")).collect();
        assert_eq!(super::allowed_text(&many[..2], "、"), "类1、类2");
        assert!(super::allowed_text(&many, ", ").ends_with("类12, … (+2)"));
        let options = ["风暴潮、海啸应急预案", "地震灾害应急预案"];
        let allowed = |x: &str| options.contains(&x);
        let pieces: Vec<&str> = choices("地震灾害应急预案、风暴潮、海啸应急预案、台风").collect();
        assert_eq!(super::unmatched(&pieces, allowed), ["台风"]);
        assert_eq!(
            choices("地质灾害（滑坡、泥石流、崩塌）应急预案、地震灾害应急预案").collect::<Vec<_>>(),
            ["地质灾害（滑坡、泥石流、崩塌）应急预案", "地震灾害应急预案"]
        );
    }
}
