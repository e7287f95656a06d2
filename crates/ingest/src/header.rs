//! Finding the header row under title rows, merging two-row headers, and matching headers to fields.

use std::collections::HashMap;

use riskcensus_schema::TableSchema;

use crate::RawCell;

/// Header text and matched field of each column.
pub(crate) type Columns = Vec<(String, Option<usize>)>;

/// Rows scanned for the header.
pub const HEADER_SCAN: usize = 30;

/// Folds a header for matching: full-width forms to ASCII, ideographic space and all whitespace
/// removed, Chinese brackets to ASCII, lower case. `建筑高度（米）` and `建筑高度 (米)` match.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '【' | '〔' => '(',
                '】' | '〕' => ')',
                _ => c,
            };
            if c.is_whitespace() || c == '*' || c == '\u{3000}' {
                None
            } else {
                Some(c.to_ascii_lowercase())
            }
        })
        .collect()
}

/// A header without a trailing unit in brackets: `建筑高度(米)` → `建筑高度`.
fn strip_unit(s: &str) -> &str {
    if s.ends_with(')')
        && let Some(k) = s.rfind('(')
        && k > 0
    {
        return &s[..k];
    }
    s
}

/// Names a field answers to, normalized.
pub(crate) struct FieldNames {
    map: HashMap<String, usize>,
    /// The pipeline's column map (`[inputs.columns]`), normalized: consulted before any name of the
    /// schema, so a header the office chose wins over an alias that happens to look like it.
    mapped: HashMap<String, usize>,
}

impl FieldNames {
    /// The schema's names plus the input's column map (header → field code). A map entry naming no
    /// field of the table is skipped here: the pipeline refuses such a map when it loads, with the line.
    pub(crate) fn new(schema: &TableSchema, columns: &[(String, String)]) -> FieldNames {
        let mapped = columns
            .iter()
            .filter_map(|(header, code)| Some((normalize(header), schema.field_index(code)?)))
            .filter(|(n, _)| !n.is_empty())
            .collect();
        let mut map = HashMap::new();
        // Later entries do not overwrite earlier ones: codes and Chinese names win over aliases.
        let mut add = |name: &str, k: usize| {
            let n = normalize(name);
            if !n.is_empty() {
                map.entry(n.clone()).or_insert(k);
                map.entry(strip_unit(&n).to_owned()).or_insert(k);
            }
        };
        for (k, f) in schema.fields.iter().enumerate() {
            add(&f.code, k);
            add(&f.name_zh, k);
        }
        for (k, f) in schema.fields.iter().enumerate() {
            add(&f.name_en, k);
            for a in &f.aliases {
                add(a, k);
            }
        }
        FieldNames { map, mapped }
    }

    /// The field the pipeline's column map gives `header`, if it names it.
    pub(crate) fn lookup_mapped(&self, header: &str) -> Option<usize> {
        self.mapped.get(&normalize(header)).copied()
    }

    pub(crate) fn lookup(&self, header: &str) -> Option<usize> {
        let n = normalize(header);
        if n.is_empty() {
            return None;
        }
        self.mapped
            .get(&n)
            .or_else(|| self.map.get(&n))
            .or_else(|| self.map.get(strip_unit(&n)))
            .copied()
    }
}

fn text(c: Option<&RawCell>) -> String {
    match c {
        Some(RawCell::Text(s)) => s.trim().to_owned(),
        Some(RawCell::Number(v)) => crate::format_number(*v),
        _ => String::new(),
    }
}

/// A matched header.
pub(crate) struct HeaderMatch {
    /// Index of the field-label row in the grid.
    pub row: usize,
    /// Per grid column: header text and the field it matched.
    pub columns: Columns,
    /// Per grid column: the field an unmatched header names that an earlier column already took
    /// (two columns headed 房屋编号), so that the second is reported as a duplicate.
    pub duplicate_of: Vec<Option<usize>>,
}

/// One candidate header row: how many fields it matched, and its columns.
struct RowMatch {
    score: usize,
    columns: Columns,
    duplicate_of: Vec<Option<usize>>,
}

/// A column's lower and upper header cells, and the labels it may carry. A two-row header: the
/// label is in the lower row, or in the upper row of a vertically merged cell (lower empty), or
/// split across both.
fn labels(grid: &[Vec<RawCell>], h: usize, c: usize) -> (String, String, Vec<String>) {
    let lower = text(grid[h].get(c));
    let upper = if h > 0 {
        text(grid[h - 1].get(c))
    } else {
        String::new()
    };
    let mut candidates = vec![lower.clone()];
    if !upper.is_empty() {
        candidates.push(format!("{upper}{lower}"));
        if lower.is_empty() {
            candidates.push(upper.clone());
        }
    }
    (lower, upper, candidates)
}

fn match_row(names: &FieldNames, grid: &[Vec<RawCell>], h: usize) -> RowMatch {
    let width = grid.iter().take(h + 1).map(|r| r.len()).max().unwrap_or(0);
    let mut used = vec![
        false;
        names
            .map
            .values()
            .chain(names.mapped.values())
            .copied()
            .max()
            .map(|m| m + 1)
            .unwrap_or(0)
    ];
    let mut cols = Vec::with_capacity(width);
    let mut duplicate_of = Vec::with_capacity(width);
    let mut score = 0;
    let labels: Vec<(String, String, Vec<String>)> =
        (0..width).map(|c| labels(grid, h, c)).collect();
    // Columns the pipeline's map names take their fields first, wherever they stand: the office
    // said which column holds the field, so an earlier column that merely looks like it does not.
    let mut mapped: Vec<Option<(String, usize)>> = Vec::with_capacity(width);
    for (_, _, candidates) in &labels {
        let hit = candidates.iter().find_map(|t| {
            names
                .lookup_mapped(t)
                .filter(|&k| !used[k])
                .map(|k| (t.clone(), k))
        });
        if let Some((_, k)) = &hit {
            used[*k] = true;
        }
        mapped.push(hit);
    }
    for (c, (lower, upper, candidates)) in labels.into_iter().enumerate() {
        let found = mapped[c].take().or_else(|| {
            candidates.iter().find_map(|t| {
                names
                    .lookup(t)
                    .filter(|&k| !used[k])
                    .map(|k| (t.clone(), k))
            })
        });
        match found {
            Some((t, k)) => {
                used[k] = true;
                score += 1;
                cols.push((t, Some(k)));
                duplicate_of.push(None);
            }
            None => {
                duplicate_of.push(candidates.iter().find_map(|t| names.lookup(t)));
                cols.push((if lower.is_empty() { upper } else { lower }, None));
            }
        }
    }
    RowMatch {
        score,
        columns: cols,
        duplicate_of,
    }
}

/// Finds the field-label row in the first `HEADER_SCAN` rows: the row matching the most fields.
pub(crate) fn find_header(
    schema: &TableSchema,
    columns: &[(String, String)],
    grid: &[Vec<RawCell>],
) -> Option<HeaderMatch> {
    let names = FieldNames::new(schema, columns);
    let mut best: Option<(usize, RowMatch)> = None;
    for h in 0..grid.len().min(HEADER_SCAN) {
        let m = match_row(&names, grid, h);
        if m.score > 0 && best.as_ref().is_none_or(|b| m.score > b.1.score) {
            best = Some((h, m));
        }
    }
    let needed = 2.min(schema.fields.len());
    best.filter(|b| b.1.score >= needed)
        .map(|(row, m)| HeaderMatch {
            row,
            columns: m.columns,
            duplicate_of: m.duplicate_of,
        })
}

/// A header folded for likeness: normalized, without brackets and separators, so that 乡镇街道代码
/// and 乡镇（街道）代码 are the same text.
fn squeeze(s: &str) -> Vec<char> {
    normalize(s)
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | '/' | '-' | '_' | '、' | '.' | ':' | '：'))
        .collect()
}

/// Length of the longest common subsequence: 实有床位数 is a subsequence of 实有住院床位数.
fn common_subsequence(a: &[char], b: &[char]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    for x in a {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Likeness of two headers from 0 to 1: twice the common subsequence over both lengths.
fn likeness(a: &str, b: &str) -> f64 {
    let (a, b) = (squeeze(a), squeeze(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = common_subsequence(&a, &b);
    if common < 2 {
        return 0.0;
    }
    2.0 * common as f64 / (a.len() + b.len()) as f64
}

/// Below this likeness a header is not offered as "did you mean": half the text in common.
const LIKE_ENOUGH: f64 = 0.5;

/// For each field in `fields`, the header of `headers` most like one of its names (code, Chinese
/// and English names, aliases), if any is like enough; each header is offered for one field only,
/// so that the suggestions can be pasted as a column map.
pub(crate) fn closest_headers<'h>(
    schema: &TableSchema,
    fields: &[usize],
    headers: &'h [String],
) -> Vec<(usize, &'h str)> {
    let mut taken = vec![false; headers.len()];
    let mut out = Vec::new();
    for &k in fields {
        let f = &schema.fields[k];
        let names: Vec<&str> = [f.code.as_str(), &f.name_zh, &f.name_en]
            .into_iter()
            .chain(f.aliases.iter().map(String::as_str))
            .collect();
        let best = headers
            .iter()
            .enumerate()
            .filter(|(h, _)| !taken[*h])
            .map(|(h, text)| {
                let score = names.iter().map(|n| likeness(text, n)).fold(0.0, f64::max);
                (h, score)
            })
            .filter(|(_, score)| *score >= LIKE_ENOUGH)
            // The first column wins a tie.
            .fold(None::<(usize, f64)>, |best, (h, score)| match best {
                Some((_, s)) if s >= score => best,
                _ => Some((h, score)),
            });
        if let Some((h, _)) = best {
            taken[h] = true;
            out.push((k, headers[h].as_str()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_widths_spaces_brackets() {
        assert_eq!(normalize(" 建筑高度（米） "), "建筑高度(米)");
        assert_eq!(normalize("ＬＯＮ"), "lon");
        assert_eq!(normalize("房屋\u{3000}编号"), "房屋编号");
        assert_eq!(strip_unit("建筑高度(米)"), "建筑高度");
    }

    #[test]
    fn likeness_finds_the_office_variants_and_not_strangers() {
        assert!(likeness("机构名称", "医疗卫生机构名称") >= LIKE_ENOUGH);
        assert!(likeness("实有床位数", "实有住院床位数") >= LIKE_ENOUGH);
        assert_eq!(likeness("乡镇街道代码", "乡镇（街道）代码"), 1.0);
        assert!(likeness("联系电话", "乡镇（街道）代码") < LIKE_ENOUGH);
        assert!(likeness("ADMINCODE", "xzqdm") < LIKE_ENOUGH);
    }
}
