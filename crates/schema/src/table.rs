//! Census table schemas, read from TOML files (`schemas/tables/*.toml`) so an office can add a table
//! or correct a field without recompiling, and code lists (`schemas/codes/*.toml`).
//!
//! A schema that cannot be right fails at load, naming the file and the line: an unknown type, a
//! duplicate field, a pattern that is not a regular expression, a rule naming a field the table does
//! not have, a code list that does not exist.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::rule::{RawRule, Rule};

/// Errors loading schemas.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    #[error("schema {file} line {line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
    #[error("cannot read schema directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What geometry the records of a table carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeometryKind {
    None,
    Point,
    Polygon,
    Line,
}

/// The type of a field's values after coercion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Int,
    Float,
    Date,
    Bool,
}

/// A range bound: a number or the census reference year of the run (numbers), a date or the
/// reference date of the run (dates: 31 December of the reference year, the census's standard time
/// point 2020-12-31 for the 2020 census).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Value(f64),
    ReferenceYear,
    /// Days since 1970-01-01.
    Date(i32),
    ReferenceDate,
}

impl Bound {
    /// The bound as a number: a date as its days since 1970-01-01.
    pub fn resolve(self, reference_year: i32) -> f64 {
        match self {
            Bound::Value(v) => v,
            Bound::ReferenceYear => reference_year as f64,
            Bound::Date(d) => d as f64,
            Bound::ReferenceDate => {
                crate::days_from_civil(reference_year as i64, 12, 31).unwrap_or(i32::MAX) as f64
            }
        }
    }

    /// As a schema file writes it.
    pub fn describe(self) -> String {
        match self {
            Bound::Value(v) => format!("{v}"),
            Bound::ReferenceYear => "reference_year".into(),
            Bound::Date(d) => crate::civil_from_days(d),
            Bound::ReferenceDate => "reference_date".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone)]
pub struct FieldSchema {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub aliases: Vec<String>,
    pub ty: FieldType,
    pub unit: Option<String>,
    pub required: bool,
    pub min: Option<Bound>,
    pub max: Option<Bound>,
    pub pattern: Option<Regex>,
    /// Name of a code list; its values are in `SchemaSet::codes`.
    pub codes: Option<String>,
    /// A multiple choice: the cell holds several values of the code list.
    pub multiple: bool,
    pub unique: bool,
    pub description: Option<String>,
    /// Where the field's rules (required, range, pattern, code list, unique) come from.
    pub citation: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TableSchema {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub geometry: GeometryKind,
    pub primary_key: Vec<String>,
    /// Why a table has no primary key, or how its key is meant.
    pub primary_key_note: Option<String>,
    pub fields: Vec<FieldSchema>,
    pub rules: Vec<Rule>,
    /// Where each rule comes from, index for index with `rules`.
    pub rule_citations: Vec<Option<String>>,
    /// Where the table's code and name come from.
    pub citation: Option<String>,
    /// Where the schema came from (file name), for messages and manifests.
    pub source: String,
}

impl TableSchema {
    pub fn field(&self, code: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.code == code)
    }

    pub fn field_index(&self, code: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.code == code)
    }
}

// ---- raw TOML shapes ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    code: String,
    name_zh: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    category: String,
    #[serde(default = "default_geometry")]
    geometry: GeometryKind,
    #[serde(default)]
    primary_key: Vec<String>,
    #[serde(default)]
    primary_key_note: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    fields: Vec<Spanned<RawField>>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
}

fn default_geometry() -> GeometryKind {
    GeometryKind::None
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawBound {
    Number(f64),
    Name(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    code: String,
    name_zh: String,
    #[serde(default)]
    name_en: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(rename = "type")]
    ty: FieldType,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    min: Option<RawBound>,
    #[serde(default)]
    max: Option<RawBound>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    codes: Option<String>,
    #[serde(default)]
    multiple: bool,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCodeList {
    name: String,
    #[serde(default)]
    name_zh: String,
    #[serde(default)]
    #[allow(dead_code)] // documentation for the reader of the file
    source: Option<String>,
    values: Vec<String>,
}

/// The first line of a schema file that holds `needle` (0 when the file is not on disk, e.g. a
/// built-in schema): to point at a reference only checked once every file is loaded.
fn line_naming(file: &str, needle: &str) -> usize {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.lines().position(|l| l.contains(needle)))
        .map_or(0, |k| k + 1)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

fn toml_error(file: &str, text: &str, e: toml::de::Error) -> SchemaError {
    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
    SchemaError::Invalid {
        file: file.to_owned(),
        line,
        message: e.message().to_owned(),
    }
}

/// Parses one table schema.
pub fn parse_table(file: &str, text: &str) -> Result<TableSchema, SchemaError> {
    let raw: RawTable = toml::from_str(text).map_err(|e| toml_error(file, text, e))?;
    let invalid = |line: usize, message: String| SchemaError::Invalid {
        file: file.to_owned(),
        line,
        message,
    };
    if raw.code.trim().is_empty() || raw.code.contains(['/', '\\', '.']) {
        return Err(invalid(
            1,
            format!("table code {:?} is not a plain code", raw.code),
        ));
    }
    let mut fields: Vec<FieldSchema> = Vec::with_capacity(raw.fields.len());
    let mut lines: BTreeMap<String, usize> = BTreeMap::new();
    for f in &raw.fields {
        let line = line_of(text, f.span().start);
        let r = f.get_ref();
        if r.code.trim().is_empty() {
            return Err(invalid(line, "a field has an empty code".into()));
        }
        if let Some(prev) = lines.insert(r.code.clone(), line) {
            return Err(invalid(
                line,
                format!("field {} is defined twice (first at line {prev})", r.code),
            ));
        }
        let bound = |b: &Option<RawBound>, which: &str| -> Result<Option<Bound>, SchemaError> {
            let date = r.ty == FieldType::Date;
            match b {
                None => Ok(None),
                Some(RawBound::Number(v)) if !date => Ok(Some(Bound::Value(*v))),
                Some(RawBound::Name(n)) if !date && n == "reference_year" => {
                    Ok(Some(Bound::ReferenceYear))
                }
                Some(RawBound::Name(n)) if date && n == "reference_date" => {
                    Ok(Some(Bound::ReferenceDate))
                }
                Some(RawBound::Name(n)) if date && parse_iso_date(n).is_some() => {
                    Ok(Some(Bound::Date(parse_iso_date(n).unwrap_or_default())))
                }
                Some(b) => Err(invalid(
                    line,
                    format!(
                        "field {}: {which} = {}; {}",
                        r.code,
                        match b {
                            RawBound::Number(v) => v.to_string(),
                            RawBound::Name(n) => format!("{n:?}"),
                        },
                        if date {
                            "a date bound is \"YYYY-MM-DD\" or \"reference_date\""
                        } else {
                            "a bound is a number or \"reference_year\""
                        }
                    ),
                )),
            }
        };
        let pattern = match &r.pattern {
            None => None,
            Some(p) => Some(Regex::new(p).map_err(|e| {
                invalid(
                    line,
                    // One line: regex errors draw a caret diagram over several lines.
                    format!(
                        "field {}: pattern is not a regular expression: {}",
                        r.code,
                        e.to_string()
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                )
            })?),
        };
        let (min, max) = (bound(&r.min, "min")?, bound(&r.max, "max")?);
        if let (
            Some(a @ (Bound::Value(_) | Bound::Date(_))),
            Some(b @ (Bound::Value(_) | Bound::Date(_))),
        ) = (min, max)
            && a.resolve(0) > b.resolve(0)
        {
            return Err(invalid(
                line,
                format!(
                    "field {}: min {} is above max {}",
                    r.code,
                    a.describe(),
                    b.describe()
                ),
            ));
        }
        if r.multiple && r.codes.is_none() {
            return Err(invalid(
                line,
                format!("field {}: `multiple` needs a code list (`codes`)", r.code),
            ));
        }
        fields.push(FieldSchema {
            code: r.code.clone(),
            name_zh: r.name_zh.clone(),
            name_en: r.name_en.clone().unwrap_or_else(|| r.code.clone()),
            aliases: r.aliases.clone(),
            ty: r.ty,
            unit: r.unit.clone(),
            required: r.required,
            min,
            max,
            pattern,
            codes: r.codes.clone(),
            multiple: r.multiple,
            unique: r.unique,
            description: r.description.clone(),
            citation: r.source.clone(),
        });
    }
    let has = |code: &str| lines.contains_key(code);
    let mut rules = Vec::with_capacity(raw.rules.len());
    let mut rule_citations = Vec::with_capacity(raw.rules.len());
    for r in &raw.rules {
        let line = line_of(text, r.span().start);
        let (rule, citation) = r.get_ref().resolve().map_err(|m| invalid(line, m))?;
        for f in rule.fields() {
            if !has(f) {
                return Err(invalid(
                    line,
                    format!(
                        "rule names field {f}, which table {} does not have",
                        raw.code
                    ),
                ));
            }
        }
        check_rule_types(&rule, &fields).map_err(|m| invalid(line, m))?;
        rules.push(rule);
        rule_citations.push(citation);
    }
    for k in &raw.primary_key {
        if !has(k) {
            return Err(invalid(
                1,
                format!("primary_key names field {k}, which is not defined"),
            ));
        }
    }
    Ok(TableSchema {
        code: raw.code,
        name_zh: raw.name_zh,
        name_en: raw.name_en,
        category: raw.category,
        geometry: raw.geometry,
        primary_key: raw.primary_key,
        primary_key_note: raw.primary_key_note,
        fields,
        rules,
        rule_citations,
        citation: raw.source,
        source: file.to_owned(),
    })
}

/// A rule's fields have the types it works on: numbers to compare, text in a format.
fn check_rule_types(rule: &Rule, fields: &[FieldSchema]) -> Result<(), String> {
    let ty = |code: &str| fields.iter().find(|f| f.code == code).map(|f| f.ty);
    let numeric = |code: &str| matches!(ty(code), Some(FieldType::Int | FieldType::Float));
    match rule {
        Rule::Compare { left, right, .. } => {
            match left.iter().chain([right]).find(|f| !numeric(f)) {
                Some(f) => Err(format!("compare: field {f} is not a number (int or float)")),
                None => Ok(()),
            }
        }
        Rule::Format { field, .. } if ty(field) != Some(FieldType::Text) => {
            Err(format!("format: field {field} is not text"))
        }
        _ => Ok(()),
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_iso_date(s: &str) -> Option<i32> {
    let mut parts = s.splitn(3, '-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    crate::days_from_civil(y, m, d)
}

/// All table schemas and code lists of a run.
#[derive(Debug, Clone, Default)]
pub struct SchemaSet {
    pub tables: BTreeMap<String, TableSchema>,
    pub codes: BTreeMap<String, Vec<String>>,
    pub code_names: BTreeMap<String, String>,
    /// Files loaded, in order, for manifests.
    pub files: Vec<String>,
}

impl SchemaSet {
    /// The schemas shipped with the project (compiled in).
    pub fn builtin() -> Result<SchemaSet, SchemaError> {
        let mut set = SchemaSet::default();
        for (name, text) in crate::builtin::CODES {
            set.add_codes(&format!("schemas/codes/{name}"), text)?;
        }
        for (name, text) in crate::builtin::TABLES {
            set.add_table(&format!("schemas/tables/{name}"), text)?;
        }
        set.check()?;
        Ok(set)
    }

    fn add_codes(&mut self, file: &str, text: &str) -> Result<(), SchemaError> {
        let raw: RawCodeList = toml::from_str(text).map_err(|e| toml_error(file, text, e))?;
        self.code_names.insert(raw.name.clone(), raw.name_zh);
        self.codes.insert(raw.name, raw.values);
        self.files.push(file.to_owned());
        Ok(())
    }

    fn add_table(&mut self, file: &str, text: &str) -> Result<(), SchemaError> {
        let t = parse_table(file, text)?;
        self.tables.insert(t.code.clone(), t);
        self.files.push(file.to_owned());
        Ok(())
    }

    /// Adds (or replaces, by code) the tables in `dir/tables/*.toml` and the code lists in
    /// `dir/codes/*.toml`; a directory holding `*.toml` tables directly works too.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), SchemaError> {
        let list = |d: &Path| -> Result<Vec<std::path::PathBuf>, SchemaError> {
            if !d.is_dir() {
                return Ok(Vec::new());
            }
            let mut v: Vec<_> = std::fs::read_dir(d)
                .map_err(|source| SchemaError::Io {
                    path: d.display().to_string(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            v.sort();
            Ok(v)
        };
        if !dir.is_dir() {
            return Err(SchemaError::Io {
                path: dir.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        let read = |p: &Path| {
            crate::read_utf8(p).map_err(|source| SchemaError::Io {
                path: p.display().to_string(),
                source,
            })
        };
        for p in list(&dir.join("codes"))? {
            self.add_codes(&p.display().to_string(), &read(&p)?)?;
        }
        let mut tables = list(&dir.join("tables"))?;
        tables.extend(list(dir)?);
        for p in tables {
            self.add_table(&p.display().to_string(), &read(&p)?)?;
        }
        self.check()
    }

    /// Cross-file checks: every code list a field names exists.
    fn check(&self) -> Result<(), SchemaError> {
        for t in self.tables.values() {
            for f in &t.fields {
                if let Some(c) = &f.codes
                    && !self.codes.contains_key(c)
                {
                    return Err(SchemaError::Invalid {
                        file: t.source.clone(),
                        line: line_naming(&t.source, &format!("\"{c}\"")),
                        message: format!(
                            "field {} names code list {c:?}, which no file under codes/ defines",
                            f.code
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn table(&self, code: &str) -> Option<&TableSchema> {
        self.tables.get(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_table("t.toml", text).unwrap_err().to_string()
    }

    const HEAD: &str = "code = \"t\"\nname_zh = \"表\"\n";

    #[test]
    fn shipped_schemas_load() {
        let set = SchemaSet::builtin().unwrap();
        for t in [
            "fwjz",
            "czt_xx",
            "czt_ylwsjg",
            "xzjd_rkjj",
            "zhjzzy_jc_xzzy",
            "dzzhyhd",
            "xzqh_xz",
            "hz_earthquake",
        ] {
            assert!(set.table(t).is_some(), "{t}");
        }
        assert!(set.tables.len() >= 23 + 5);
        // Every table says what identifies a record, or why nothing does.
        for t in set.tables.values() {
            assert!(
                !t.primary_key.is_empty() || t.primary_key_note.is_some(),
                "{}: no primary key and no primary_key_note",
                t.code
            );
        }
        // Every rule of the tables poured from the census sources names its source.
        for t in set.tables.values().filter(|t| {
            t.code.starts_with("zdyh_")
                || t.code.starts_with("lszh_")
                || t.code.starts_with("zhjzzy_zf")
        }) {
            for (rule, c) in t.rules.iter().zip(&t.rule_citations) {
                assert!(
                    c.is_some(),
                    "{}: rule {} has no source",
                    t.code,
                    rule.describe()
                );
            }
        }
    }

    #[test]
    fn new_rule_kinds_load_and_name_bad_values() {
        let base = format!(
            "{HEAD}\n[[fields]]\ncode = \"a\"\nname_zh = \"甲\"\ntype = \"int\"\n\n[[fields]]\ncode = \"b\"\nname_zh = \"乙\"\ntype = \"int\"\n\n[[fields]]\ncode = \"d\"\nname_zh = \"日期\"\ntype = \"date\"\nmin = \"1949-10-01\"\nmax = \"reference_date\"\n"
        );
        let t = parse_table(
            "t.toml",
            &format!("{base}\n[[rules]]\nkind = \"compare\"\nleft = [\"a\"]\nop = \"<=\"\nright = \"b\"\nsource = \"[I] x\"\n\n[[rules]]\nkind = \"implies\"\nwhen = {{ field = \"a\", op = \"eq\", value = 0 }}\nthen = {{ field = \"b\", op = \"eq\", value = 0 }}\n"),
        )
        .unwrap();
        assert_eq!(t.rules.len(), 2);
        assert_eq!(t.rule_citations[0].as_deref(), Some("[I] x"));
        assert_eq!(t.rules[0].describe(), "a ≤ b");
        assert_eq!(t.rules[1].describe(), "a = 0 ⇒ b = 0");
        let d = t.field("d").unwrap();
        assert_eq!(d.min.map(|b| b.describe()).as_deref(), Some("1949-10-01"));
        assert_eq!(
            d.max.unwrap().resolve(2020),
            crate::days_from_civil(2020, 12, 31).unwrap() as f64
        );
        let e = err(&format!(
            "{base}\n[[rules]]\nkind = \"compare\"\nleft = [\"a\"]\nop = \"<=\"\nright = \"d\"\n"
        ));
        assert!(
            e.contains("line 21") && e.contains("d is not a number"),
            "{e}"
        );
        let e = err(&format!(
            "{base}\n[[rules]]\nkind = \"implies\"\nwhen = {{ field = \"a\", op = \"around\", value = 0 }}\nthen = {{ field = \"b\", op = \"filled\" }}\n"
        ));
        assert!(e.contains("unknown op \"around\""), "{e}");
        let e = err(&format!(
            "{base}\n[[rules]]\nkind = \"format\"\nfield = \"a\"\nformat = \"credit_code\"\n"
        ));
        assert!(e.contains("a is not text"), "{e}");
        let e = err(&format!(
            "{HEAD}\n[[fields]]\ncode = \"d\"\nname_zh = \"日期\"\ntype = \"date\"\nmax = 2020\n"
        ));
        assert!(e.contains("a date bound is"), "{e}");
    }

    #[test]
    fn bad_schemas_name_the_line() {
        let e = err(&format!(
            "{HEAD}\n[[fields]]\ncode = \"a\"\nname_zh = \"甲\"\ntype = \"decimal\"\n"
        ));
        assert!(e.contains("t.toml line 7") && e.contains("decimal"), "{e}");
        let e = err(&format!(
            "{HEAD}\n[[fields]]\ncode = \"a\"\nname_zh = \"甲\"\ntype = \"int\"\n\n[[fields]]\ncode = \"a\"\nname_zh = \"乙\"\ntype = \"int\"\n"
        ));
        assert!(e.contains("line 9") && e.contains("twice"), "{e}");
        let e = err(&format!(
            "{HEAD}\n[[fields]]\ncode = \"a\"\nname_zh = \"甲\"\ntype = \"text\"\npattern = \"[\"\n"
        ));
        assert!(
            e.contains("line 4") && e.contains("regular expression"),
            "{e}"
        );
        let e = err(&format!(
            "{HEAD}\n[[fields]]\ncode = \"a\"\nname_zh = \"甲\"\ntype = \"int\"\n\n[[rules]]\nkind = \"village_prefix\"\nvillage = \"a\"\ntownship = \"b\"\n"
        ));
        assert!(e.contains("line 9") && e.contains("field b"), "{e}");
        let e = err(&format!("{HEAD}\n[[rules]]\nkind = \"teleport\"\n"));
        assert!(e.contains("teleport"), "{e}");
    }
}
