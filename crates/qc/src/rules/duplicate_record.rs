//! `duplicate_record`: records equal in every given field (same place and attributes) are one
//! record entered twice; the first stands, later copies are reported on the record key.

use rayon::prelude::*;
use riskcensus_ingest::RawRow;
use riskcensus_schema::Severity;

use super::finding;
use super::unique::FirstSeen;
use crate::check::RowOutcome;
use crate::coerce::ValueRef;

/// A duplicate-record rule and the records it has seen.
pub(crate) struct DuplicateRule {
    /// The fields compared, by index, and as the rule names them.
    pub(crate) fields: Vec<usize>,
    pub(crate) names: String,
    pub(crate) severity: Severity,
    /// The field a finding is reported on (the primary key's first).
    pub(crate) key_field: usize,
    pub(crate) seen: FirstSeen,
}

/// Same place and attributes: the first record stands, later copies are reported on the record key.
pub(crate) fn duplicate_records(
    rule: &mut DuplicateRule,
    batch: &[RawRow],
    outcomes: &mut [RowOutcome],
    start: usize,
) {
    let DuplicateRule {
        fields: ks,
        names,
        severity,
        key_field,
        seen,
    } = rule;
    // Keys are hashed in parallel.
    let hashes: Vec<Option<u64>> = outcomes[start..]
        .par_iter()
        .map(|o| {
            let failed = o
                .findings
                .iter()
                .any(|x| x.severity == Severity::Error && x.field.is_some_and(|f| ks.contains(&f)));
            if failed || ks.iter().any(|&k| o.values.at(k).is_null()) {
                return None;
            }
            let mut h = std::hash::DefaultHasher::new();
            for &k in ks.iter() {
                hash_value(o.values.at(k), &mut h);
            }
            Some(std::hash::Hasher::finish(&h))
        })
        .collect();
    for (b, h) in hashes.into_iter().enumerate() {
        let Some(h) = h else { continue };
        let i = start + b;
        let same = |j: usize| {
            ks.iter()
                .all(|&k| outcomes[j].values.at(k) == outcomes[i].values.at(k))
        };
        let Some(j) = seen.earlier(h, i, same) else {
            continue;
        };
        let row = outcomes[j].row;
        let f = finding(
            *key_field,
            batch[b].cells.at(*key_field).display(),
            "duplicate_record",
            *severity,
            format!("与第 {row} 行的位置和属性完全相同（{names}），疑似重复录入"),
            format!("same place and attributes ({names}) as row {row}: entered twice?"),
        );
        outcomes[i].findings.push(f);
    }
}
fn hash_value(v: ValueRef<'_>, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    match v {
        ValueRef::Null => 0u8.hash(h),
        ValueRef::Text(s) => (1u8, s).hash(h),
        ValueRef::Int(x) => (2u8, x).hash(h),
        ValueRef::Float(x) => (3u8, x.to_bits()).hash(h),
        ValueRef::Date(x) => (4u8, x).hash(h),
        ValueRef::Bool(x) => (5u8, x).hash(h),
    }
}
