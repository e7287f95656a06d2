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
}

impl FieldNames {
    pub(crate) fn new(schema: &TableSchema) -> FieldNames {
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
        FieldNames { map }
    }

    pub(crate) fn lookup(&self, header: &str) -> Option<usize> {
        let n = normalize(header);
        if n.is_empty() {
            return None;
        }
        self.map
            .get(&n)
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

fn match_row(names: &FieldNames, grid: &[Vec<RawCell>], h: usize) -> RowMatch {
    let width = grid.iter().take(h + 1).map(|r| r.len()).max().unwrap_or(0);
    let mut used = vec![
        false;
        names
            .map
            .values()
            .copied()
            .max()
            .map(|m| m + 1)
            .unwrap_or(0)
    ];
    let mut cols = Vec::with_capacity(width);
    let mut duplicate_of = Vec::with_capacity(width);
    let mut score = 0;
    for c in 0..width {
        let lower = text(grid[h].get(c));
        let upper = if h > 0 {
            text(grid[h - 1].get(c))
        } else {
            String::new()
        };
        // A two-row header: the label is in the lower row, or in the upper row of a vertically
        // merged cell (lower empty), or split across both.
        let mut candidates = vec![lower.clone()];
        if !upper.is_empty() {
            candidates.push(format!("{upper}{lower}"));
            if lower.is_empty() {
                candidates.push(upper.clone());
            }
        }
        let found = candidates.iter().find_map(|t| {
            names
                .lookup(t)
                .filter(|&k| !used[k])
                .map(|k| (t.clone(), k))
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
pub(crate) fn find_header(schema: &TableSchema, grid: &[Vec<RawCell>]) -> Option<HeaderMatch> {
    let names = FieldNames::new(schema);
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
}
