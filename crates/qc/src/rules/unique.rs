//! `unique = true`: no two records share a field's value. The first record holding a value stands;
//! later ones are reported, naming the first's row and file. Run as a pass over each batch, with
//! what earlier batches held.

use std::collections::HashMap;

use riskcensus_ingest::SourceFile;
use riskcensus_schema::{FieldSchema, Severity};

use super::finding;
use crate::check::RowOutcome;
use crate::coerce::ValueRef;

/// Per value (by hash), the first record holding it; a later record with an equal value is a
/// repeat. Hashes are only an index: equal hashes are confirmed on the values themselves.
#[derive(Default)]
pub(crate) struct FirstSeen {
    first: HashMap<u64, usize>,
    /// Further records whose values share a hash with an unequal earlier one (rare).
    more: HashMap<u64, Vec<usize>>,
}

impl FirstSeen {
    /// The earlier record equal to record `i` (by `same`), or `None` after remembering `i` as the
    /// first of its value.
    pub(crate) fn earlier(
        &mut self,
        h: u64,
        i: usize,
        same: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let Some(&j) = self.first.get(&h) else {
            self.first.insert(h, i);
            return None;
        };
        if same(j) {
            return Some(j);
        }
        let more = self.more.entry(h).or_default();
        if let Some(&j) = more.iter().find(|&&j| same(j)) {
            return Some(j);
        }
        more.push(i);
        None
    }
}

fn hash_of(v: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(v)
}

/// A unique field: the first record holding a value stands, later ones are reported, naming the
/// first's row and file. A value whose own check failed is not compared.
pub(crate) fn unique_field(
    field: &FieldSchema,
    k: usize,
    rule: &'static str,
    seen: &mut FirstSeen,
    files: &[SourceFile],
    outcomes: &mut [RowOutcome],
    start: usize,
) {
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for i in start..outcomes.len() {
        let o = &outcomes[i];
        let field_failed = o
            .findings
            .iter()
            .any(|x| x.field == Some(k) && x.severity == Severity::Error);
        let (ValueRef::Text(s), false) = (o.values.at(k), field_failed) else {
            continue;
        };
        let same = |j: usize| outcomes[j].values.at(k).as_str() == Some(s);
        if let Some(j) = seen.earlier(hash_of(s), i, same) {
            repeats.push((i, j));
        }
    }
    for (i, j) in repeats {
        let (first_row, first_file) = (outcomes[j].row, &files[outcomes[j].file as usize].path);
        let v = outcomes[i].values.at(k).as_str().unwrap_or("").to_owned();
        let f = finding(
            k,
            v.clone(),
            rule,
            Severity::Error,
            format!(
                "“{}”的值“{v}”与 {first_file} 第 {first_row} 行重复",
                field.name_zh
            ),
            format!(
                "{} {v:?} repeats the one at row {first_row} of {first_file}",
                field.code
            ),
        );
        outcomes[i].findings.push(f);
    }
}
