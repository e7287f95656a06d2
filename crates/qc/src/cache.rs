//! A checked table as bytes, for incremental reruns: every field of a [`TableResult`] and the record
//! hash of each issue (what a review needs to mark it again), written so that reading them back
//! gives the same values bit for bit (floats as their bits), hence the same outputs as checking
//! the table again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use riskcensus_schema::Severity;

use crate::{CleanRow, CleanTable, Counts, Issue, TableResult, Value, ValueRef};

/// Bumped whenever the layout below changes: an old cache is then a miss, never misread.
const FORMAT: &[u8; 8] = b"RCQC0002";

/// A rule name read back, as the `&'static str` issues carry: the names are few (one per rule),
/// so each is kept once for the life of the process.
pub fn intern_rule(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(|| Mutex::new(BTreeSet::new()));
    let mut names = names.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = names.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// The encoder's sink; the first write error is kept and returned at the end.
struct Out<W: Write> {
    w: W,
    err: Option<std::io::Error>,
}

impl<W: Write> Out<W> {
    fn put(&mut self, b: &[u8]) {
        if self.err.is_none()
            && let Err(e) = self.w.write_all(b)
        {
            self.err = Some(e);
        }
    }
    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
    /// A length-prefixed byte string (u32 lengths: no cell, code or footprint comes near 4 GiB;
    /// a longer one is cut to a length that fails to decode, so the cache misses).
    fn bytes(&mut self, b: &[u8]) {
        let n = u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.put(&n.to_le_bytes());
        self.put(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
    fn strs(&mut self, v: &[String]) {
        self.u64(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }
    fn counts(&mut self, c: &Counts) {
        for v in [c.records, c.indicators_checked, c.errors, c.rejected] {
            self.u64(v);
        }
    }
    fn value(&mut self, v: ValueRef<'_>) {
        match v {
            ValueRef::Null => self.u8(0),
            ValueRef::Text(s) => {
                self.u8(1);
                self.str(s);
            }
            ValueRef::Int(i) => {
                self.u8(2);
                self.u64(i as u64);
            }
            ValueRef::Float(f) => {
                self.u8(3);
                self.u64(f.to_bits());
            }
            ValueRef::Date(d) => {
                self.u8(4);
                self.u64(d as i64 as u64);
            }
            ValueRef::Bool(b) => {
                self.u8(5);
                self.u8(u8::from(b));
            }
        }
    }
}

/// The bytes of a checked table and its issues' record hashes (index for index with its issues).
pub fn encode(r: &TableResult, issue_hashes: &[u64]) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = encode_to(r, issue_hashes, &mut bytes);
    bytes
}

/// [`encode`] into a writer, as it goes: a big table's cache is never a second copy in memory.
pub fn encode_to(r: &TableResult, issue_hashes: &[u64], w: impl Write) -> std::io::Result<()> {
    let mut o = Out { w, err: None };
    o.put(FORMAT);
    o.str(&r.table);
    o.strs(&r.files);
    for v in [
        r.rows_read,
        r.rows_clean,
        r.rows_rejected,
        r.empty_rows_skipped,
        r.rows_excluded,
        r.repaired_cells,
    ] {
        o.u64(v);
    }
    o.counts(&r.counts);
    o.u64(r.by_unit.len() as u64);
    for (unit, c) in &r.by_unit {
        o.opt_str(unit.as_deref());
        o.counts(c);
    }
    o.strs(&r.missing_required_columns);
    o.u64(r.issues.len() as u64);
    for (i, h) in r.issues.iter().zip(issue_hashes) {
        for s in [&i.table, &i.file, &i.sheet] {
            o.str(s);
        }
        match i.row {
            Some(row) => {
                o.u8(1);
                o.u64(u64::from(row));
            }
            None => o.u8(0),
        }
        o.opt_str(i.column.as_deref());
        o.opt_str(i.field.as_deref());
        o.str(&i.value);
        o.str(i.rule);
        o.u8(u8::from(i.severity == Severity::Warning));
        for s in [&i.message_zh, &i.message_en, &i.record_key] {
            o.str(s);
        }
        o.opt_str(i.unit.as_deref());
        o.u64(*h);
    }
    o.str(&r.clean.table);
    o.strs(&r.clean.fields);
    o.u64(r.clean.rows.len() as u64);
    for row in &r.clean.rows {
        o.u64(u64::from(row.file));
        o.u64(u64::from(row.row));
        o.u64(row.values.len() as u64);
        for v in row.values.iter() {
            o.value(v);
        }
        match &row.geometry {
            Some(g) => {
                o.u8(1);
                o.bytes(g);
            }
            None => o.u8(0),
        }
        o.opt_str(row.unit.as_deref());
        o.u8(u8::from(row.unit_from_point));
    }
    match o.err {
        Some(e) => Err(e),
        None => o.w.flush(),
    }
}

struct In<'a> {
    b: &'a [u8],
    at: usize,
}

type Got<T> = Result<T, String>;

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Got<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| format!("cut short at byte {}", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Got<u8> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Got<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn len(&mut self) -> Got<usize> {
        let n = self.u64()?;
        // A length can never exceed what is left: a damaged cache is a miss, not a huge allocation.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len() - self.at)
            .ok_or_else(|| format!("length {n} at byte {} is past the end", self.at))
    }
    fn bytes(&mut self) -> Got<&'a [u8]> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        let n = u32::from_le_bytes(a) as usize;
        self.take(n)
    }
    fn string(&mut self) -> Got<String> {
        std::str::from_utf8(self.bytes()?)
            .map(str::to_owned)
            .map_err(|e| e.to_string())
    }
    fn opt_string(&mut self) -> Got<Option<String>> {
        Ok(match self.u8()? {
            0 => None,
            _ => Some(self.string()?),
        })
    }
    fn strings(&mut self) -> Got<Vec<String>> {
        let n = self.len()?;
        (0..n).map(|_| self.string()).collect()
    }
    fn counts(&mut self) -> Got<Counts> {
        Ok(Counts {
            records: self.u64()?,
            indicators_checked: self.u64()?,
            errors: self.u64()?,
            rejected: self.u64()?,
        })
    }
    fn small<T: TryFrom<u64>>(&mut self) -> Got<T> {
        let v = self.u64()?;
        T::try_from(v).map_err(|_| format!("{v} out of range at byte {}", self.at))
    }
    fn value(&mut self) -> Got<Value> {
        Ok(match self.u8()? {
            0 => Value::Null,
            1 => Value::Text(self.string()?.into()),
            2 => Value::Int(self.u64()? as i64),
            3 => Value::Float(f64::from_bits(self.u64()?)),
            4 => Value::Date(self.u64()? as i64 as i32),
            5 => Value::Bool(self.u8()? != 0),
            t => return Err(format!("unknown value tag {t}")),
        })
    }
}

/// A checked table and its issues' record hashes back from [`encode`]'s bytes; an error (a cache of
/// another format, or damaged) means the table is checked again.
pub fn decode(bytes: &[u8]) -> Result<(TableResult, Vec<u64>), String> {
    let mut i = In { b: bytes, at: 0 };
    if i.take(FORMAT.len())? != FORMAT {
        return Err("not a cache of this format".into());
    }
    let table = i.string()?;
    let files = i.strings()?;
    let mut n = [0u64; 6];
    for v in &mut n {
        *v = i.u64()?;
    }
    let counts = i.counts()?;
    let mut by_unit = BTreeMap::new();
    for _ in 0..i.len()? {
        let unit = i.opt_string()?;
        by_unit.insert(unit, i.counts()?);
    }
    let missing_required_columns = i.strings()?;
    let issue_count = i.len()?;
    let mut issues = Vec::with_capacity(issue_count);
    let mut hashes = Vec::with_capacity(issue_count);
    for _ in 0..issue_count {
        let (t, file, sheet) = (i.string()?, i.string()?, i.string()?);
        let row = match i.u8()? {
            0 => None,
            _ => Some(i.small::<u32>()?),
        };
        let column = i.opt_string()?;
        let field = i.opt_string()?;
        let value = i.string()?;
        let rule = intern_rule(&i.string()?);
        let severity = if i.u8()? == 1 {
            Severity::Warning
        } else {
            Severity::Error
        };
        let (message_zh, message_en, record_key) = (i.string()?, i.string()?, i.string()?);
        let unit = i.opt_string()?;
        hashes.push(i.u64()?);
        issues.push(Issue {
            table: t,
            file,
            sheet,
            row,
            column,
            field,
            value,
            rule,
            severity,
            message_zh,
            message_en,
            record_key,
            unit,
        });
    }
    let clean_table = i.string()?;
    let fields = i.strings()?;
    let row_count = i.len()?;
    let mut rows = Vec::with_capacity(row_count);
    for _ in 0..row_count {
        let file = i.small::<u16>()?;
        let row = i.small::<u32>()?;
        let nv = i.len()?;
        let values = (0..nv).map(|_| i.value()).collect::<Got<Vec<_>>>()?;
        let geometry = match i.u8()? {
            0 => None,
            _ => Some(i.bytes()?.to_vec().into_boxed_slice()),
        };
        let unit = i.opt_string()?;
        let unit_from_point = i.u8()? != 0;
        rows.push(CleanRow {
            file,
            row,
            values: values.into(),
            geometry,
            unit,
            unit_from_point,
        });
    }
    if i.at != bytes.len() {
        return Err(format!("{} bytes left over", bytes.len() - i.at));
    }
    let [
        rows_read,
        rows_clean,
        rows_rejected,
        empty_rows_skipped,
        rows_excluded,
        repaired_cells,
    ] = n;
    Ok((
        TableResult {
            table,
            files,
            rows_read,
            rows_clean,
            rows_rejected,
            empty_rows_skipped,
            rows_excluded,
            counts,
            by_unit,
            issues,
            clean: CleanTable {
                table: clean_table,
                fields,
                rows,
            },
            repaired_cells,
            missing_required_columns,
        },
        hashes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TableResult {
        let issue = Issue {
            table: "fwjz".into(),
            file: "fwjz.xlsx".into(),
            sheet: "房屋".into(),
            row: Some(7),
            column: Some("B".into()),
            field: Some("xzqdm".into()),
            value: "530402999".into(),
            rule: "unknown_township_code",
            severity: Severity::Error,
            message_zh: "不在".into(),
            message_en: "not in".into(),
            record_key: "530402000000007".into(),
            unit: None,
        };
        let counts = Counts {
            records: 2,
            indicators_checked: 30,
            errors: 1,
            rejected: 1,
        };
        TableResult {
            table: "fwjz".into(),
            files: vec!["fwjz.xlsx".into()],
            rows_read: 2,
            rows_clean: 1,
            rows_rejected: 1,
            empty_rows_skipped: 3,
            rows_excluded: 0,
            counts: counts.clone(),
            by_unit: [(None, counts.clone()), (Some("530402001".into()), counts)].into(),
            issues: vec![issue],
            clean: CleanTable {
                table: "fwjz".into(),
                fields: vec!["a".into(), "b".into()],
                rows: vec![CleanRow {
                    file: 0,
                    row: 6,
                    values: vec![
                        Value::Null,
                        Value::Text("砖混结构".into()),
                        Value::Int(-3),
                        Value::Float(0.1 + 0.2),
                        Value::Float(f64::NAN),
                        Value::Date(-719_162),
                        Value::Bool(true),
                    ]
                    .into(),
                    geometry: Some(vec![1, 1, 0, 0, 0].into_boxed_slice()),
                    unit: Some("530402001".into()),
                    unit_from_point: true,
                }],
            },
            repaired_cells: 4,
            missing_required_columns: vec!["fwjz.xlsx: 经度(lon)".into()],
        }
    }

    #[test]
    fn a_table_comes_back_bit_for_bit() {
        let r = sample();
        let bytes = encode(&r, &[0xdead_beef]);
        let (back, hashes) = decode(&bytes).unwrap();
        assert_eq!(hashes, [0xdead_beef]);
        // Debug prints floats exactly enough to tell 0.30000000000000004 from 0.3; NaN by bits.
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        let ValueRef::Float(nan) = back.clean.rows[0].values.at(4) else {
            panic!()
        };
        assert!(nan.is_nan());
        assert_eq!(
            encode(&back, &hashes),
            bytes,
            "and encodes to the same bytes"
        );
    }

    /// A damaged or foreign cache is a miss with a reason, at every length it can be cut to.
    #[test]
    fn a_cut_or_foreign_cache_is_an_error_not_a_panic() {
        let bytes = encode(&sample(), &[1]);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "cut at {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        assert!(decode(b"RCQC0000 and some more").is_err());
    }
}
