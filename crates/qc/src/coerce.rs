//! Coercion of cells as typed into values of a field's type. Repairs what offices do to numbers and
//! dates (full-width digits, numbers stored as text, thousands separators, Excel date serials,
//! trailing spaces); a cell that cannot be repaired is a type error.

use compact_str::CompactString;
use riskcensus_ingest::pack::{self, Packed, Packer};
use riskcensus_ingest::{CellRef, format_number};
use riskcensus_schema::FieldType;

/// A typed value. Text is a `CompactString`: most census texts (codes, names, categories) are at
/// most 24 bytes and are kept inside the value without an allocation of their own, which at a
/// million buildings is a few hundred megabytes. The value stays 24 bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(CompactString),
    Int(i64),
    Float(f64),
    /// Days since 1970-01-01.
    Date(i32),
    Bool(bool),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::Float(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// A value of a packed row, borrowed: what [`Value`] holds, without an allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Float(f64),
    /// Days since 1970-01-01.
    Date(i32),
    Bool(bool),
}

impl<'a> ValueRef<'a> {
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            ValueRef::Int(v) => Some(v as f64),
            ValueRef::Float(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            ValueRef::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, ValueRef::Null)
    }

    pub fn to_value(&self) -> Value {
        match *self {
            ValueRef::Null => Value::Null,
            ValueRef::Text(s) => Value::Text(s.into()),
            ValueRef::Int(v) => Value::Int(v),
            ValueRef::Float(v) => Value::Float(v),
            ValueRef::Date(v) => Value::Date(v),
            ValueRef::Bool(b) => Value::Bool(b),
        }
    }
}

impl Value {
    /// The value borrowed, as a packed row gives it.
    pub fn value_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Text(s) => ValueRef::Text(s),
            Value::Int(v) => ValueRef::Int(*v),
            Value::Float(v) => ValueRef::Float(*v),
            Value::Date(v) => ValueRef::Date(*v),
            Value::Bool(b) => ValueRef::Bool(*b),
        }
    }
}

impl PartialEq<Value> for ValueRef<'_> {
    fn eq(&self, other: &Value) -> bool {
        *self == other.value_ref()
    }
}

/// The values of one checked record in schema field order, packed into one allocation
/// ([`pack`]): about a third of the memory of a `Vec<Value>`. The clean records of a table are
/// held from QC to GeoParquet, so at a million buildings this is most of a run's memory.
#[derive(Clone, Default, PartialEq)]
pub struct Values(Packed);

mod value_tag {
    pub const NULL: u8 = 0;
    pub const TEXT: u8 = 1;
    pub const INT: u8 = 2;
    pub const FLOAT: u8 = 3;
    pub const DATE: u8 = 4;
    pub const FALSE: u8 = 5;
    pub const TRUE: u8 = 6;
}

impl Values {
    /// Packs values with a packer reused from record to record.
    pub fn pack<'v>(packer: &mut Packer, values: impl IntoIterator<Item = ValueRef<'v>>) -> Self {
        use value_tag::*;
        for v in values {
            match v {
                ValueRef::Null => packer.push(NULL, &[]),
                ValueRef::Text(s) => packer.push(TEXT, s.as_bytes()),
                ValueRef::Int(x) => packer.push(INT, &x.to_le_bytes()),
                ValueRef::Float(x) => packer.push(FLOAT, &x.to_le_bytes()),
                ValueRef::Date(x) => packer.push(DATE, &x.to_le_bytes()),
                ValueRef::Bool(b) => packer.push(if b { TRUE } else { FALSE }, &[]),
            }
        }
        Values(packer.finish())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Value `k`, if the record has that many.
    pub fn get(&self, k: usize) -> Option<ValueRef<'_>> {
        let (tag, b) = self.0.item(k)?;
        Some(value_ref(tag, b))
    }

    /// Value `k`, `Null` past the end.
    pub fn at(&self, k: usize) -> ValueRef<'_> {
        self.get(k).unwrap_or(ValueRef::Null)
    }

    pub fn iter(&self) -> impl Iterator<Item = ValueRef<'_>> + '_ {
        self.0.items().map(|(tag, b)| value_ref(tag, b))
    }
}

impl From<Vec<Value>> for Values {
    fn from(values: Vec<Value>) -> Self {
        pack::with_packer(|p| Values::pack(p, values.iter().map(Value::value_ref)))
    }
}

impl FromIterator<Value> for Values {
    fn from_iter<I: IntoIterator<Item = Value>>(values: I) -> Self {
        values.into_iter().collect::<Vec<_>>().into()
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

fn value_ref(tag: u8, b: &[u8]) -> ValueRef<'_> {
    use value_tag::*;
    match tag {
        TEXT => ValueRef::Text(pack::text(b)),
        INT => ValueRef::Int(i64::from_le_bytes(pack::eight(b))),
        FLOAT => ValueRef::Float(f64::from_le_bytes(pack::eight(b))),
        DATE => ValueRef::Date(i32::from_le_bytes(pack::four(b))),
        FALSE => ValueRef::Bool(false),
        TRUE => ValueRef::Bool(true),
        _ => ValueRef::Null,
    }
}

/// Text as an office meant it: full-width digits and Latin letters to ASCII (codes typed with a
/// Chinese input method), surrounding spaces (ASCII and ideographic) trimmed. Chinese punctuation
/// such as （） stays: it is part of names.
pub fn tidy_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if full_width_alnum(c) {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            } else {
                c
            }
        })
        .collect::<String>()
        .trim_matches(is_space)
        .to_owned()
}

/// Full-width digits and Latin letters.
fn full_width_alnum(c: char) -> bool {
    matches!(c, '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}')
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{3000}'
}

/// [`tidy_text`] as a value's text, without building the text again when it is tidy already (most
/// cells: a million buildings have about ten million text cells).
fn tidy_value_text(s: &str) -> CompactString {
    let untidy =
        s.starts_with(is_space) || s.ends_with(is_space) || s.chars().any(full_width_alnum);
    if untidy {
        tidy_text(s).into()
    } else {
        s.into()
    }
}

/// Full-width to ASCII, full-width and ideographic spaces trimmed (for numbers and dates).
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn parse_number(s: &str) -> Option<f64> {
    let t: String = fold(s).chars().filter(|&c| c != ',' && c != ' ').collect();
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

pub use riskcensus_schema::{civil_from_days, days_from_civil};

/// Texts that offices (and statistical tables) write in a number cell for "no figure": read as
/// empty, and reported, never as a number nor as a text that turns the column into text.
pub const PLACEHOLDERS: &[&str] = &[
    "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "—", "——", "-", "--", "/", "无", "空",
    "暂无", "不详", "…",
];

/// Whether a cell's text is one of [`PLACEHOLDERS`] (spaces around it aside).
pub fn is_placeholder(s: &str) -> bool {
    PLACEHOLDERS.contains(&s.trim())
}

/// Excel serial days (1900 system) to days since 1970.
fn serial_to_days(v: f64) -> Option<i32> {
    (1.0..2_958_466.0)
        .contains(&v)
        .then(|| (v.floor() - 25_569.0) as i32)
}

fn parse_date(s: &str) -> Option<i32> {
    let t = fold(s);
    let t = t.split([' ', 'T']).next().unwrap_or("");
    let parts: Vec<&str> = t
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    let (y, m, d) = match parts.as_slice() {
        [y, m, d] => (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
        // `20210521`: eight ASCII digits. Eight bytes are not enough, since slicing at bytes 4 and 6
        // would cut a character such as `443競54` in two.
        [ymd] if ymd.len() == 8 && ymd.bytes().all(|b| b.is_ascii_digit()) => (
            ymd[..4].parse().ok()?,
            ymd[4..6].parse().ok()?,
            ymd[6..].parse().ok()?,
        ),
        _ => return None,
    };
    if !(1800..=2200).contains(&y) {
        return None;
    }
    days_from_civil(y, m, d)
}

/// Coerces a cell; `Err(())` when it cannot be a value of the type.
#[allow(clippy::result_unit_err)]
pub fn coerce<'c>(cell: impl Into<CellRef<'c>>, ty: FieldType) -> Result<Value, ()> {
    let cell = cell.into();
    if cell.is_empty() {
        return Ok(Value::Null);
    }
    match ty {
        FieldType::Text => Ok(match cell {
            CellRef::Text(s) => Value::Text(tidy_value_text(s)),
            CellRef::Number(v) => Value::Text(format_number(v).into()),
            CellRef::Date(v) => Value::Text(
                serial_to_days(v)
                    .map(civil_from_days)
                    .unwrap_or_else(|| format_number(v))
                    .into(),
            ),
            CellRef::Bool(b) => Value::Text(if b { "是" } else { "否" }.into()),
            CellRef::Error(_) => return Err(()),
            CellRef::Empty => Value::Null,
        }),
        FieldType::Int => {
            let v = match cell {
                CellRef::Number(v) => v,
                CellRef::Text(s) => parse_number(s).ok_or(())?,
                _ => return Err(()),
            };
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(Value::Int(v as i64))
            } else {
                Err(())
            }
        }
        FieldType::Float => match cell {
            CellRef::Number(v) if v.is_finite() => Ok(Value::Float(v)),
            CellRef::Text(s) => parse_number(s).map(Value::Float).ok_or(()),
            _ => Err(()),
        },
        FieldType::Date => match cell {
            CellRef::Date(v) | CellRef::Number(v) => serial_to_days(v).map(Value::Date).ok_or(()),
            CellRef::Text(s) => parse_date(s).map(Value::Date).ok_or(()),
            _ => Err(()),
        },
        FieldType::Bool => match cell {
            CellRef::Bool(b) => Ok(Value::Bool(b)),
            CellRef::Number(v) if v == 0.0 || v == 1.0 => Ok(Value::Bool(v == 1.0)),
            CellRef::Text(s) => match fold(s).to_ascii_lowercase().as_str() {
                "是" | "有" | "y" | "yes" | "true" | "1" => Ok(Value::Bool(true)),
                "否" | "无" | "n" | "no" | "false" | "0" => Ok(Value::Bool(false)),
                _ => Err(()),
            },
            _ => Err(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million records of 18 fields hold 18 million values: the value must not grow past the
    /// 24 bytes the old `Box<str>` text had, and short texts must not allocate.
    #[test]
    fn a_value_is_24_bytes_and_short_text_is_inline() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        let Value::Text(code) = Value::Text("530402001000012345".into()) else {
            unreachable!()
        };
        assert!(!code.is_heap_allocated());
        let name = CompactString::from("云南省玉溪市红塔区玉兴街道办事处");
        assert!(name.is_heap_allocated());
    }

    use riskcensus_ingest::RawCell;

    fn t(s: &str) -> RawCell {
        RawCell::Text(s.into())
    }

    #[test]
    fn repairs_what_offices_type() {
        assert_eq!(coerce(&t("１２"), FieldType::Int), Ok(Value::Int(12)));
        assert_eq!(coerce(&t(" 1,234 "), FieldType::Int), Ok(Value::Int(1234)));
        assert_eq!(
            coerce(&t("１２．５"), FieldType::Float),
            Ok(Value::Float(12.5))
        );
        assert_eq!(
            coerce(&t("张家村  \u{3000}"), FieldType::Text),
            Ok(Value::Text("张家村".into()))
        );
        assert_eq!(
            coerce(&RawCell::Number(44136.0), FieldType::Date),
            Ok(Value::Date(days_from_civil(2020, 11, 1).unwrap()))
        );
        assert_eq!(
            coerce(&t("2020年11月1日"), FieldType::Date),
            Ok(Value::Date(days_from_civil(2020, 11, 1).unwrap()))
        );
        assert_eq!(
            civil_from_days(days_from_civil(2021, 6, 30).unwrap()),
            "2021-06-30"
        );
        assert_eq!(
            coerce(&RawCell::Number(3.0), FieldType::Text),
            Ok(Value::Text("3".into()))
        );
    }

    /// Tidy text is kept as it is, untidy text is tidied: the same text either way.
    #[test]
    fn text_is_tidied_exactly_when_it_needs_it() {
        for s in [
            "张家村",
            "  张家村\u{3000}",
            "\u{3000}５３０４０２",
            "ＡＢｃ１２",
            "a b",
            "",
            " ",
            "砖混\t",
            "\u{FF0F}全角斜线",
        ] {
            assert_eq!(tidy_value_text(s).as_str(), tidy_text(s), "{s:?}");
        }
    }

    #[test]
    fn refuses_what_cannot_be_repaired() {
        assert!(coerce(&t("三层"), FieldType::Int).is_err());
        assert!(coerce(&RawCell::Number(2.5), FieldType::Int).is_err());
        assert!(coerce(&t("2021-02-30"), FieldType::Date).is_err());
        assert!(coerce(&RawCell::Error("#N/A".into()), FieldType::Float).is_err());
        // Eight bytes that are not eight digits (found by fuzzing: this panicked).
        assert!(coerce(&t("443競54"), FieldType::Date).is_err());
        assert_eq!(
            coerce(&t("20210521"), FieldType::Date),
            Ok(Value::Date(days_from_civil(2021, 5, 21).unwrap()))
        );
    }
}
