//! Reviewers' dispositions of issues: 确认 (a confirmed error), 误报 (a false alarm) or 例外 (an
//! accepted exception), kept in a plain csv beside the pipeline so that a rerun after corrections
//! does not bring back every warning a reviewer already dismissed.
//!
//! A disposition is keyed by what survives a rerun and a re-sorted spreadsheet: table, record key
//! (the primary key, or a hash of the record's content when the table has none), rule and field —
//! never the row number. It also keeps the hash of the record as it was when decided, so a record
//! edited since is told apart (`stale`: its decision needs a second look and is not applied).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use riskcensus_ingest::RawRow;
use serde::Serialize;

use crate::Issue;

/// Errors reading or writing a dispositions file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("dispositions file {path}, line {line}: {message} (hint: {hint})")]
    Invalid {
        path: PathBuf,
        line: u64,
        message: String,
        hint: String,
    },
    #[error("cannot read dispositions file {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write dispositions file {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// What a reviewer decided about one issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// 确认: the error is real; it counts as before.
    Confirmed,
    /// 误报: the rule was wrong about this record (a reason is required).
    FalseAlarm,
    /// 例外: the value is unusual but accepted (a reason and who approved it are required).
    Exception,
}

impl Decision {
    /// The three choices of the workbook's dropdown, in its order.
    pub const ZH: [&'static str; 3] = ["确认", "误报", "例外"];

    /// The code the dispositions file and `issues.csv` carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Confirmed => "confirmed",
            Decision::FalseAlarm => "false_alarm",
            Decision::Exception => "exception",
        }
    }

    /// What a reviewer picks in the workbook.
    pub fn zh(self) -> &'static str {
        match self {
            Decision::Confirmed => "确认",
            Decision::FalseAlarm => "误报",
            Decision::Exception => "例外",
        }
    }

    /// Reads either spelling (Chinese as in the dropdown, or the file's code).
    pub fn parse(s: &str) -> Option<Decision> {
        match s.trim() {
            "确认" | "confirmed" => Some(Decision::Confirmed),
            "误报" | "false_alarm" => Some(Decision::FalseAlarm),
            "例外" | "exception" => Some(Decision::Exception),
            _ => None,
        }
    }

    /// Dismissed and excepted issues no longer count toward 差错率 nor reject their record.
    pub fn waives(self) -> bool {
        !matches!(self, Decision::Confirmed)
    }
}

/// What identifies an issue across reruns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub table: String,
    /// Primary-key value(s) joined by `|`, or `#` and the record's content hash.
    pub record_key: String,
    pub rule: String,
    /// Field code, `geometry`, or empty for a file-level issue.
    pub field: String,
}

impl Key {
    /// The key of an issue whose record (or, for a file-level issue, place) hashes to `hash`.
    pub fn of(issue: &Issue, hash: u64) -> Key {
        Key {
            table: issue.table.clone(),
            record_key: if issue.record_key.is_empty() {
                format!("#{hash:016x}")
            } else {
                issue.record_key.clone()
            },
            rule: issue.rule.to_owned(),
            field: issue.field.clone().unwrap_or_default(),
        }
    }
}

/// One reviewer decision, as the dispositions file holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Disposition {
    pub key: Key,
    pub decision: Decision,
    /// Why (required for 误报 and 例外).
    pub reason: String,
    /// Who approved an exception (required for 例外).
    pub approved_by: String,
    /// Who recorded the decision (the importer's `--reviewer`).
    pub reviewer: String,
    /// The record's content hash when decided, 16 hex digits.
    pub record_hash: String,
    /// Where the issue was when decided: for people reading the file, not for matching.
    pub source_file: String,
    pub source_row: String,
    pub value: String,
}

/// Columns of a dispositions file, in order.
pub const COLUMNS: [&str; 12] = [
    "table",
    "record_key",
    "rule",
    "field",
    "decision",
    "reason",
    "approved_by",
    "reviewer",
    "record_hash",
    "source_file",
    "source_row",
    "value",
];

impl Disposition {
    /// The reason or approver a decision lacks, as a message, or `None` when it is complete.
    pub fn incomplete(&self) -> Option<&'static str> {
        match self.decision {
            Decision::FalseAlarm | Decision::Exception if self.reason.trim().is_empty() => {
                Some("误报 and 例外 need a reason (处理说明)")
            }
            Decision::Exception if self.approved_by.trim().is_empty() => {
                Some("例外 needs who approved it (批准人)")
            }
            _ => None,
        }
    }
}

/// Every disposition of a run, by key; written sorted, so the file diffs well.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dispositions {
    map: BTreeMap<Key, Disposition>,
}

impl Dispositions {
    pub fn new() -> Dispositions {
        Dispositions::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, key: &Key) -> Option<&Disposition> {
        self.map.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Disposition> {
        self.map.values()
    }

    /// Adds or replaces the disposition of its key.
    pub fn upsert(&mut self, d: Disposition) {
        self.map.insert(d.key.clone(), d);
    }

    /// Reads a dispositions csv (UTF-8, the header of [`COLUMNS`]). A key given twice, an unknown
    /// decision or a 误报/例外 without its reason is an error naming the line.
    pub fn read(path: &Path) -> Result<Dispositions, Error> {
        let invalid = |line: u64, message: String, hint: &str| Error::Invalid {
            path: path.to_owned(),
            line,
            message,
            hint: hint.to_owned(),
        };
        let mut reader = csv::Reader::from_path(path).map_err(|e| Error::Read {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let header = reader
            .headers()
            .map_err(|e| invalid(1, e.to_string(), "the file is UTF-8 csv"))?
            .clone();
        let index: Vec<usize> = COLUMNS
            .iter()
            .map(|c| {
                header.iter().position(|h| h.trim() == *c).ok_or_else(|| {
                    invalid(
                        1,
                        format!("no column {c}"),
                        &format!("the header is {}", COLUMNS.join(",")),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let mut out = Dispositions::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                invalid(line, e.to_string(), "every line has the header's columns")
            })?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let get = |k: usize| rec.get(index[k]).unwrap_or("").to_owned();
            let decision = Decision::parse(&get(4)).ok_or_else(|| {
                invalid(
                    line,
                    format!("decision {:?} is not one of the three", get(4)),
                    "confirmed, false_alarm or exception (确认, 误报, 例外)",
                )
            })?;
            let d = Disposition {
                key: Key {
                    table: get(0),
                    record_key: get(1),
                    rule: get(2),
                    field: get(3),
                },
                decision,
                reason: get(5),
                approved_by: get(6),
                reviewer: get(7),
                record_hash: get(8),
                source_file: get(9),
                source_row: get(10),
                value: get(11),
            };
            if let Some(m) = d.incomplete() {
                return Err(invalid(line, m.into(), "fill in the reason and approver"));
            }
            if out.map.contains_key(&d.key) {
                return Err(invalid(
                    line,
                    format!(
                        "{} {} {} {} is decided twice",
                        d.key.table, d.key.record_key, d.key.rule, d.key.field
                    ),
                    "keep one line per issue",
                ));
            }
            out.upsert(d);
        }
        Ok(out)
    }

    /// Writes the file sorted by key, under a temporary name renamed when whole.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let werr = |e: &dyn std::fmt::Display| Error::Write {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let tmp = path.with_file_name(format!(
            ".{}.tmp-{}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("dispositions"),
            std::process::id()
        ));
        {
            let mut w = csv::Writer::from_path(&tmp).map_err(|e| werr(&e))?;
            w.write_record(COLUMNS).map_err(|e| werr(&e))?;
            for d in self.map.values() {
                w.write_record([
                    &d.key.table,
                    &d.key.record_key,
                    &d.key.rule,
                    &d.key.field,
                    d.decision.as_str(),
                    &d.reason,
                    &d.approved_by,
                    &d.reviewer,
                    &d.record_hash,
                    &d.source_file,
                    &d.source_row,
                    &d.value,
                ])
                .map_err(|e| werr(&e))?;
            }
            w.flush().map_err(|e| werr(&e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| werr(&e))
    }

    /// The number of dispositions per decision.
    pub fn counts(&self) -> BTreeMap<Decision, u64> {
        let mut out = BTreeMap::new();
        for d in self.map.values() {
            *out.entry(d.decision).or_default() += 1;
        }
        out
    }
}

/// How a disposition stands in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The record is as it was when decided: the decision holds.
    Applied,
    /// The record changed since: the decision is shown but not applied until a reviewer looks again.
    Stale,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Stale => "stale",
        }
    }
}

/// An issue's review in this run: the hash its key uses and its disposition, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// The record's content hash (for a file-level issue, a hash of where it is).
    pub record_hash: u64,
    pub disposition: Option<(Decision, Status)>,
}

impl Mark {
    /// The issue no longer counts: dismissed or excepted, on an unchanged record.
    pub fn waived(&self) -> bool {
        matches!(self.disposition, Some((d, Status::Applied)) if d.waives())
    }
}

/// The marks of one table's issues, index for index with `TableResult::issues`.
#[derive(Debug, Clone, Default)]
pub struct TableReview {
    pub marks: Vec<Mark>,
}

/// The dispositions a run applies, and which of them met their issue.
#[derive(Debug, Default)]
pub struct Review {
    pub dispositions: Dispositions,
    matched: BTreeSet<Key>,
}

/// Figures of the review for `summary.json`: issues per disposition, and dispositions that are
/// stale or resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReviewCounts {
    /// Issues marked 确认 (they count as before).
    pub confirmed: u64,
    /// Issues marked 误报 on unchanged records (not counted).
    pub false_alarm: u64,
    /// Issues marked 例外 on unchanged records (not counted).
    pub exception: u64,
    /// Issues whose record changed since its decision: counted until looked at again.
    pub stale: u64,
    /// Dispositions whose issue is gone from this run.
    pub resolved: u64,
    /// Issues nobody has decided on yet.
    pub undecided: u64,
    /// The resolved dispositions, as `table/record key/rule/field`, so a reviewer can see which.
    pub resolved_keys: Vec<String>,
}

impl Review {
    pub fn new(dispositions: Dispositions) -> Review {
        Review {
            dispositions,
            matched: BTreeSet::new(),
        }
    }

    /// Looks an issue up, remembering that its disposition met it.
    pub fn mark(&mut self, issue: &Issue, record_hash: u64) -> Mark {
        if self.dispositions.is_empty() {
            return Mark {
                record_hash,
                disposition: None,
            };
        }
        let key = Key::of(issue, record_hash);
        let disposition = self.dispositions.get(&key).map(|d| {
            let status = if d.record_hash == hex16(record_hash) {
                Status::Applied
            } else {
                Status::Stale
            };
            (d.decision, status)
        });
        if disposition.is_some() {
            self.matched.insert(key);
        }
        Mark {
            record_hash,
            disposition,
        }
    }

    /// Dispositions no issue of the run met: their issue is gone (corrected, or its rule no
    /// longer fires).
    pub fn resolved(&self) -> Vec<&Disposition> {
        self.dispositions
            .iter()
            .filter(|d| !self.matched.contains(&d.key))
            .collect()
    }

    /// The figures of the run's review.
    pub fn counts(&self, reviews: &[TableReview]) -> ReviewCounts {
        let resolved = self.resolved();
        let mut c = ReviewCounts {
            resolved: resolved.len() as u64,
            resolved_keys: resolved
                .iter()
                .map(|d| {
                    let k = &d.key;
                    format!("{}/{}/{}/{}", k.table, k.record_key, k.rule, k.field)
                })
                .collect(),
            ..ReviewCounts::default()
        };
        for m in reviews.iter().flat_map(|r| &r.marks) {
            match m.disposition {
                None => c.undecided += 1,
                Some((_, Status::Stale)) => c.stale += 1,
                Some((Decision::Confirmed, _)) => c.confirmed += 1,
                Some((Decision::FalseAlarm, _)) => c.false_alarm += 1,
                Some((Decision::Exception, _)) => c.exception += 1,
            }
        }
        c
    }
}

/// A hash as the dispositions file writes it.
pub fn hex16(h: u64) -> String {
    format!("{h:016x}")
}

/// FNV-1a, 64 bits: fixed by its definition, so a hash written today matches one computed by any
/// later build (std's hasher promises no such thing).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Fnv {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }
    /// A field, then a separator no text carries, so ("ab","c") and ("a","bc") differ.
    fn field(&mut self, s: &str) -> &mut Fnv {
        self.bytes(s.as_bytes()).bytes(&[0xff])
    }
}

/// The content hash of a record: every cell as the office sees it (trimmed) and its geometry. The
/// row number is left out, so inserting rows above it or re-sorting the sheet changes nothing.
pub fn record_hash(row: &RawRow) -> u64 {
    let mut h = Fnv::new();
    for c in row.cells.iter() {
        h.field(c.display().trim());
    }
    if let Some(g) = &row.geometry {
        h.bytes(g);
    }
    h.0
}

/// The hash that stands for the record of an issue raised on a file or layer rather than on one
/// record (reader notes, boundary gaps): where it is and what it names, no row number.
pub fn place_hash(issue: &Issue) -> u64 {
    let mut h = Fnv::new();
    h.field(&issue.file)
        .field(&issue.sheet)
        .field(issue.column.as_deref().unwrap_or(""))
        .field(&issue.value);
    h.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use riskcensus_ingest::RawCell;
    use riskcensus_schema::Severity;

    fn row(cells: &[&str], n: u32) -> RawRow {
        RawRow {
            file: 0,
            row: n,
            cells: cells.iter().map(|c| RawCell::Text((*c).into())).collect(),
            extra: Default::default(),
            geometry: None,
        }
    }

    fn issue(record_key: &str) -> Issue {
        Issue {
            table: "fwjz".into(),
            file: "房屋.xlsx".into(),
            sheet: "Sheet1".into(),
            row: Some(7),
            column: Some("D".into()),
            field: Some("cs".into()),
            value: "-3".into(),
            rule: "range",
            severity: Severity::Error,
            message_zh: "层数超出范围".into(),
            message_en: "out of range".into(),
            record_key: record_key.into(),
            unit: None,
        }
    }

    #[test]
    fn a_record_hash_ignores_the_row_number_and_spaces_but_not_the_content() {
        let a = record_hash(&row(&["5303020001", " 3 "], 2));
        assert_eq!(a, record_hash(&row(&["5303020001", "3"], 900)));
        assert_ne!(a, record_hash(&row(&["5303020001", "4"], 2)));
        // Cells are separated: moving a character across a boundary is a different record.
        assert_ne!(
            record_hash(&row(&["ab", "c"], 1)),
            record_hash(&row(&["a", "bc"], 1))
        );
    }

    #[test]
    fn the_key_is_the_primary_key_or_the_content_hash() {
        assert_eq!(Key::of(&issue("FW001"), 42).record_key, "FW001");
        assert_eq!(Key::of(&issue(""), 0xabc).record_key, "#0000000000000abc");
    }

    #[test]
    fn a_changed_record_makes_its_disposition_stale_and_a_missing_issue_resolved() {
        let mut ds = Dispositions::new();
        for (k, hash) in [("FW001", 1u64), ("FW002", 2), ("FW003", 3)] {
            ds.upsert(Disposition {
                key: Key::of(&issue(k), hash),
                decision: Decision::FalseAlarm,
                reason: "实测".into(),
                approved_by: String::new(),
                reviewer: "张三".into(),
                record_hash: hex16(hash),
                source_file: String::new(),
                source_row: String::new(),
                value: String::new(),
            });
        }
        let mut review = Review::new(ds);
        let same = review.mark(&issue("FW001"), 1);
        let changed = review.mark(&issue("FW002"), 99);
        let new = review.mark(&issue("FW004"), 4);
        assert!(same.waived());
        assert_eq!(
            changed.disposition,
            Some((Decision::FalseAlarm, Status::Stale))
        );
        assert!(!changed.waived(), "a stale decision is not applied");
        assert_eq!(new.disposition, None);
        let resolved: Vec<_> = review
            .resolved()
            .iter()
            .map(|d| d.key.record_key.clone())
            .collect();
        assert_eq!(resolved, ["FW003"]);
        let counts = review.counts(&[TableReview {
            marks: vec![same, changed, new],
        }]);
        assert_eq!(
            (
                counts.false_alarm,
                counts.stale,
                counts.undecided,
                counts.resolved
            ),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn the_file_round_trips_sorted_and_refuses_an_exception_without_approver() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dispositions.csv");
        let mut ds = Dispositions::new();
        for (k, d, approver) in [
            ("FW009", Decision::Exception, "李四"),
            ("FW001", Decision::Confirmed, ""),
        ] {
            ds.upsert(Disposition {
                key: Key::of(&issue(k), 5),
                decision: d,
                reason: "老旧房屋，层高特殊".into(),
                approved_by: approver.into(),
                reviewer: "张三".into(),
                record_hash: hex16(5),
                source_file: "房屋.xlsx".into(),
                source_row: "7".into(),
                value: "-3".into(),
            });
        }
        ds.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().nth(1).unwrap();
        assert!(first.starts_with("fwjz,FW001,range,cs,confirmed"), "{text}");
        assert_eq!(Dispositions::read(&path).unwrap(), ds);

        std::fs::write(&path, text.replace("李四", "")).unwrap();
        let err = Dispositions::read(&path).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("批准人"), "{err}");
    }
}
