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

/// A range bound: a number, or the census reference year of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Value(f64),
    ReferenceYear,
}

impl Bound {
    pub fn resolve(self, reference_year: i32) -> f64 {
        match self {
            Bound::Value(v) => v,
            Bound::ReferenceYear => reference_year as f64,
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
    pub unique: bool,
    pub description: Option<String>,
}

/// Cross-field and cross-table rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// The first `prefix` digits of `field` are a township code: in the registry (else unknown, or
    /// stale when a retired code), inside the run's region, and in the units layer.
    TownshipCode { field: String, prefix: usize },
    /// `field` is the code of an assessment unit (a row of a per-unit indicator table): codes that
    /// Excel stored as numbers are written back as text, an all-digit code shorter than `digits`
    /// gets its lost leading zeros back (a warning), other lengths are errors; with `registry`, the
    /// code must be in the division list's edition and not retired by the change list.
    UnitCode {
        field: String,
        digits: Option<usize>,
        registry: bool,
    },
    /// A village code's first 9 digits equal the township field.
    VillagePrefix { village: String, township: String },
    /// The point (lon, lat) falls in the unit named by `township` (or by the first 9 digits of
    /// `village`): catches swapped coordinates, points outside their township or the county, and
    /// GCJ-02 offsets.
    PointInUnit {
        lon: String,
        lat: String,
        township: Option<String>,
        village: Option<String>,
    },
    /// Records with equal values in all of `fields` (same place and attributes) are one record
    /// entered twice: every copy after the first is reported.
    DuplicateRecord {
        fields: Vec<String>,
        severity: Severity,
    },
    /// Height ÷ floors within [min, max] metres.
    HeightPerFloor {
        height: String,
        floors: String,
        min: f64,
        max: f64,
        severity: Severity,
    },
}

#[derive(Debug, Clone)]
pub struct TableSchema {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub geometry: GeometryKind,
    pub primary_key: Vec<String>,
    pub fields: Vec<FieldSchema>,
    pub rules: Vec<Rule>,
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
    unique: bool,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawRule {
    TownshipCode {
        field: String,
        #[serde(default = "nine")]
        prefix: usize,
    },
    UnitCode {
        field: String,
        #[serde(default)]
        digits: Option<usize>,
        #[serde(default = "yes")]
        registry: bool,
    },
    VillagePrefix {
        village: String,
        township: String,
    },
    PointInUnit {
        lon: String,
        lat: String,
        #[serde(default)]
        township: Option<String>,
        #[serde(default)]
        village: Option<String>,
    },
    HeightPerFloor {
        height: String,
        floors: String,
        min: f64,
        max: f64,
        #[serde(default = "warning")]
        severity: Severity,
    },
    DuplicateRecord {
        fields: Vec<String>,
        #[serde(default)]
        severity: Severity,
    },
}

fn nine() -> usize {
    9
}

fn yes() -> bool {
    true
}

fn warning() -> Severity {
    Severity::Warning
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCodeList {
    name: String,
    #[serde(default)]
    name_zh: String,
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
            match b {
                None => Ok(None),
                Some(RawBound::Number(v)) => Ok(Some(Bound::Value(*v))),
                Some(RawBound::Name(n)) if n == "reference_year" => Ok(Some(Bound::ReferenceYear)),
                Some(RawBound::Name(n)) => Err(invalid(
                    line,
                    format!(
                        "field {}: {which} = {n:?}; a bound is a number or \"reference_year\"",
                        r.code
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
        if let (Some(Bound::Value(a)), Some(Bound::Value(b))) = (min, max)
            && a > b
        {
            return Err(invalid(
                line,
                format!("field {}: min {a} is above max {b}", r.code),
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
            unique: r.unique,
            description: r.description.clone(),
        });
    }
    let has = |code: &str| lines.contains_key(code);
    let mut rules = Vec::with_capacity(raw.rules.len());
    for r in &raw.rules {
        let line = line_of(text, r.span().start);
        let rule = match r.get_ref() {
            RawRule::TownshipCode { field, prefix } => Rule::TownshipCode {
                field: field.clone(),
                prefix: *prefix,
            },
            RawRule::UnitCode {
                field,
                digits,
                registry,
            } => Rule::UnitCode {
                field: field.clone(),
                digits: *digits,
                registry: *registry,
            },
            RawRule::VillagePrefix { village, township } => Rule::VillagePrefix {
                village: village.clone(),
                township: township.clone(),
            },
            RawRule::PointInUnit {
                lon,
                lat,
                township,
                village,
            } => {
                if township.is_none() && village.is_none() {
                    return Err(invalid(
                        line,
                        "point_in_unit needs `township` or `village`".into(),
                    ));
                }
                Rule::PointInUnit {
                    lon: lon.clone(),
                    lat: lat.clone(),
                    township: township.clone(),
                    village: village.clone(),
                }
            }
            RawRule::HeightPerFloor {
                height,
                floors,
                min,
                max,
                severity,
            } => {
                if min >= max {
                    return Err(invalid(
                        line,
                        format!("height_per_floor: min {min} is not below max {max}"),
                    ));
                }
                Rule::HeightPerFloor {
                    height: height.clone(),
                    floors: floors.clone(),
                    min: *min,
                    max: *max,
                    severity: *severity,
                }
            }
            RawRule::DuplicateRecord { fields, severity } => {
                if fields.is_empty() {
                    return Err(invalid(
                        line,
                        "duplicate_record needs at least one field".into(),
                    ));
                }
                Rule::DuplicateRecord {
                    fields: fields.clone(),
                    severity: *severity,
                }
            }
        };
        for f in rule_fields(&rule) {
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
        rules.push(rule);
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
        fields,
        rules,
        source: file.to_owned(),
    })
}

fn rule_fields(rule: &Rule) -> Vec<&str> {
    match rule {
        Rule::TownshipCode { field, .. } | Rule::UnitCode { field, .. } => vec![field],
        Rule::VillagePrefix { village, township } => vec![village, township],
        Rule::PointInUnit {
            lon,
            lat,
            township,
            village,
        } => {
            let mut v = vec![lon.as_str(), lat.as_str()];
            v.extend(township.as_deref());
            v.extend(village.as_deref());
            v
        }
        Rule::HeightPerFloor { height, floors, .. } => vec![height, floors],
        Rule::DuplicateRecord { fields, .. } => fields.iter().map(String::as_str).collect(),
    }
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
