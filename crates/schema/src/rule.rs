//! Cross-field and cross-table rules of a table schema (`[[rules]]`), as data: each kind is checked
//! by one file of the `qc` crate's `rules/`. A rule names fields of its table; one that names a field
//! the table lacks, or gives an operator a value of the wrong kind, fails at load with its line.

use serde::Deserialize;

use crate::table::Severity;

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
    /// A text field in a named format (a check digit, a phone number), where `when` holds.
    Format {
        field: String,
        format: Format,
        when: Option<Condition>,
        severity: Severity,
    },
    /// `field` must be filled where `when` holds (a field required by another's value).
    RequiredWhen {
        field: String,
        when: Condition,
        severity: Severity,
    },
    /// `left` (one field, or several summed) compared with `right` × `factor`: a part never larger
    /// than its whole, a capacity bounded by an area. Checked when every field is filled.
    Compare {
        left: Vec<String>,
        op: CmpOp,
        right: String,
        factor: f64,
        when: Option<Condition>,
        severity: Severity,
    },
    /// Where `when` holds, `then` must hold too.
    Implies {
        when: Condition,
        then: Condition,
        severity: Severity,
    },
}

impl Rule {
    /// The name the rule kind has in schema files.
    pub fn kind(&self) -> &'static str {
        match self {
            Rule::TownshipCode { .. } => "township_code",
            Rule::UnitCode { .. } => "unit_code",
            Rule::VillagePrefix { .. } => "village_prefix",
            Rule::PointInUnit { .. } => "point_in_unit",
            Rule::DuplicateRecord { .. } => "duplicate_record",
            Rule::HeightPerFloor { .. } => "height_per_floor",
            Rule::Format { .. } => "format",
            Rule::RequiredWhen { .. } => "required",
            Rule::Compare { .. } => "compare",
            Rule::Implies { .. } => "implies",
        }
    }

    /// Every field the rule names.
    pub fn fields(&self) -> Vec<&str> {
        match self {
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
            Rule::Format { field, when, .. } => {
                let mut v = vec![field.as_str()];
                v.extend(when.iter().map(|c| c.field.as_str()));
                v
            }
            Rule::RequiredWhen { field, when, .. } => vec![field, &when.field],
            Rule::Compare {
                left, right, when, ..
            } => {
                let mut v: Vec<&str> = left.iter().map(String::as_str).collect();
                v.push(right);
                v.extend(when.iter().map(|c| c.field.as_str()));
                v
            }
            Rule::Implies { when, then, .. } => vec![&when.field, &then.field],
        }
    }

    /// What the rule says, in one line (for `riskcensus schema` and the report's rule sheet).
    pub fn describe(&self) -> String {
        let when = |c: &Option<Condition>| {
            c.as_ref()
                .map(|c| format!(" when {}", c.describe()))
                .unwrap_or_default()
        };
        match self {
            Rule::TownshipCode { field, prefix } => {
                format!("{field}: first {prefix} digits a township of the region and the units")
            }
            Rule::UnitCode { field, .. } => format!("{field}: a unit code of the division list"),
            Rule::VillagePrefix { village, township } => {
                format!("{village} starts with {township}")
            }
            Rule::PointInUnit {
                lon,
                lat,
                township,
                village,
            } => format!(
                "({lon}, {lat}) inside {}",
                township.as_deref().or(village.as_deref()).unwrap_or("")
            ),
            Rule::DuplicateRecord { fields, .. } => {
                format!("no two records equal in {}", fields.join(", "))
            }
            Rule::HeightPerFloor {
                height,
                floors,
                min,
                max,
                ..
            } => format!("{height} ÷ {floors} within {min}–{max} m"),
            Rule::Format {
                field,
                format,
                when: w,
                ..
            } => format!("{field} is a {}{}", format.name(), when(w)),
            Rule::RequiredWhen { field, when, .. } => {
                format!("{field} filled when {}", when.describe())
            }
            Rule::Compare {
                left,
                op,
                right,
                factor,
                when: w,
                ..
            } => {
                let f = if *factor == 1.0 {
                    String::new()
                } else {
                    format!(" × {factor}")
                };
                format!("{} {} {right}{f}{}", left.join(" + "), op.symbol(), when(w))
            }
            Rule::Implies { when, then, .. } => {
                format!("{} ⇒ {}", when.describe(), then.describe())
            }
        }
    }
}

/// Named formats of text fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// 统一社会信用代码 (GB 32100-2015): 18 characters of 0–9 and A–Y without I, O, S, V, Z, the
    /// last a MOD 31 check character.
    CreditCode,
    /// 居民身份证号码 (GB 11643-1999): 17 digits with a birth date, then a MOD 11 check character.
    IdCard,
    /// A mainland phone number: a mobile, a landline with or without its area code, a 400/800
    /// number; several may be given.
    Phone,
    /// 邮政编码: six digits.
    Postcode,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::CreditCode => "credit_code",
            Format::IdCard => "id_card",
            Format::Phone => "phone",
            Format::Postcode => "postcode",
        }
    }
}

/// The 31 characters of a credit code, in value order (GB 32100-2015: no I, O, S, V, Z).
pub const CREDIT_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The check character GB 32100-2015 gives the first 17 characters of a credit code:
/// 31 − (Σ value × 3^(i−1) mod 31), 31 read as 0; `None` for a character outside the code's 31.
pub fn credit_code_check_char(first17: &[char]) -> Option<char> {
    let mut weight = 1u32;
    let mut sum = 0u32;
    for c in first17 {
        sum += CREDIT_CHARS.find(*c)? as u32 * weight;
        weight = weight * 3 % 31;
    }
    Some(CREDIT_CHARS.as_bytes()[((31 - sum % 31) % 31) as usize] as char)
}

/// Comparison of [`Rule::Compare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum CmpOp {
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "==")]
    Eq,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Le => "≤",
            CmpOp::Lt => "<",
            CmpOp::Ge => "≥",
            CmpOp::Gt => ">",
            CmpOp::Eq => "=",
        }
    }

    /// Whether `a op b` holds (equality within a millionth, for sums of decimals).
    pub fn holds(self, a: f64, b: f64) -> bool {
        let close = (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
        match self {
            CmpOp::Le => a <= b || close,
            CmpOp::Lt => a < b && !close,
            CmpOp::Ge => a >= b || close,
            CmpOp::Gt => a > b && !close,
            CmpOp::Eq => close,
        }
    }
}

/// A value a condition compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Literal::Number(v) => write!(f, "{v}"),
            Literal::Text(s) => write!(f, "“{s}”"),
        }
    }
}

/// What a condition asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Literal),
    Ne(Literal),
    Gt(f64),
    Ge(f64),
    Lt(f64),
    Le(f64),
    In(Vec<String>),
    Contains(String),
    Filled,
    Empty,
}

/// A condition on one field of a record (`{ field = "…", op = "…", value = … }`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: String,
    pub op: Op,
}

impl Condition {
    /// In the terms of the schema file: `syndqycs = 0`, `bzzl contains “其他”`.
    pub fn describe(&self) -> String {
        let f = &self.field;
        match &self.op {
            Op::Eq(v) => format!("{f} = {v}"),
            Op::Ne(v) => format!("{f} ≠ {v}"),
            Op::Gt(v) => format!("{f} > {v}"),
            Op::Ge(v) => format!("{f} ≥ {v}"),
            Op::Lt(v) => format!("{f} < {v}"),
            Op::Le(v) => format!("{f} ≤ {v}"),
            Op::In(v) => format!("{f} in {}", v.join("/")),
            Op::Contains(v) => format!("{f} contains “{v}”"),
            Op::Filled => format!("{f} filled"),
            Op::Empty => format!("{f} empty"),
        }
    }

    /// In Chinese, with the field's name: `“上一年度启用次数”为 0`.
    pub fn describe_zh(&self, name: &str) -> String {
        match &self.op {
            Op::Eq(v) => format!("“{name}”为 {v}"),
            Op::Ne(v) => format!("“{name}”不为 {v}"),
            Op::Gt(v) => format!("“{name}”大于 {v}"),
            Op::Ge(v) => format!("“{name}”不小于 {v}"),
            Op::Lt(v) => format!("“{name}”小于 {v}"),
            Op::Le(v) => format!("“{name}”不大于 {v}"),
            Op::In(v) => format!("“{name}”为 {} 之一", v.join("、")),
            Op::Contains(v) => format!("“{name}”含“{v}”"),
            Op::Filled => format!("“{name}”已填"),
            Op::Empty => format!("“{name}”为空"),
        }
    }
}

// ---- raw TOML shapes ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    field: String,
    op: String,
    #[serde(default)]
    value: Option<toml::Value>,
}

impl RawCondition {
    fn resolve(&self) -> Result<Condition, String> {
        let number = || match &self.value {
            Some(toml::Value::Integer(v)) => Ok(*v as f64),
            Some(toml::Value::Float(v)) => Ok(*v),
            _ => Err(format!("op {:?} needs a number `value`", self.op)),
        };
        let literal = || match &self.value {
            Some(toml::Value::Integer(v)) => Ok(Literal::Number(*v as f64)),
            Some(toml::Value::Float(v)) => Ok(Literal::Number(*v)),
            Some(toml::Value::String(s)) => Ok(Literal::Text(s.clone())),
            _ => Err(format!("op {:?} needs a number or text `value`", self.op)),
        };
        let op = match self.op.as_str() {
            "eq" => Op::Eq(literal()?),
            "ne" => Op::Ne(literal()?),
            "gt" => Op::Gt(number()?),
            "ge" => Op::Ge(number()?),
            "lt" => Op::Lt(number()?),
            "le" => Op::Le(number()?),
            "in" => match &self.value {
                Some(toml::Value::Array(a)) if !a.is_empty() => Op::In(
                    a.iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<_>>()
                        .ok_or("op \"in\" needs a list of texts")?,
                ),
                _ => return Err("op \"in\" needs a list of texts".into()),
            },
            "contains" => match &self.value {
                Some(toml::Value::String(s)) if !s.is_empty() => Op::Contains(s.clone()),
                _ => return Err("op \"contains\" needs a text `value`".into()),
            },
            "filled" | "empty" if self.value.is_some() => {
                return Err(format!("op {:?} takes no `value`", self.op));
            }
            "filled" => Op::Filled,
            "empty" => Op::Empty,
            other => {
                return Err(format!(
                    "unknown op {other:?} (hint: eq, ne, gt, ge, lt, le, in, contains, filled, empty)"
                ));
            }
        };
        Ok(Condition {
            field: self.field.clone(),
            op,
        })
    }
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawRule {
    TownshipCode {
        field: String,
        #[serde(default = "nine")]
        prefix: usize,
        #[serde(default)]
        source: Option<String>,
    },
    UnitCode {
        field: String,
        #[serde(default)]
        digits: Option<usize>,
        #[serde(default = "yes")]
        registry: bool,
        #[serde(default)]
        source: Option<String>,
    },
    VillagePrefix {
        village: String,
        township: String,
        #[serde(default)]
        source: Option<String>,
    },
    PointInUnit {
        lon: String,
        lat: String,
        #[serde(default)]
        township: Option<String>,
        #[serde(default)]
        village: Option<String>,
        #[serde(default)]
        source: Option<String>,
    },
    HeightPerFloor {
        height: String,
        floors: String,
        min: f64,
        max: f64,
        #[serde(default = "warning")]
        severity: Severity,
        #[serde(default)]
        source: Option<String>,
    },
    DuplicateRecord {
        fields: Vec<String>,
        #[serde(default)]
        severity: Severity,
        #[serde(default)]
        source: Option<String>,
    },
    Format {
        field: String,
        format: Format,
        #[serde(default)]
        when: Option<RawCondition>,
        #[serde(default)]
        severity: Severity,
        #[serde(default)]
        source: Option<String>,
    },
    Required {
        field: String,
        when: RawCondition,
        #[serde(default)]
        severity: Severity,
        #[serde(default)]
        source: Option<String>,
    },
    Compare {
        left: Vec<String>,
        op: CmpOp,
        right: String,
        #[serde(default = "one")]
        factor: f64,
        #[serde(default)]
        when: Option<RawCondition>,
        #[serde(default)]
        severity: Severity,
        #[serde(default)]
        source: Option<String>,
    },
    Implies {
        when: RawCondition,
        then: RawCondition,
        #[serde(default)]
        severity: Severity,
        #[serde(default)]
        source: Option<String>,
    },
}

fn nine() -> usize {
    9
}

fn yes() -> bool {
    true
}

fn one() -> f64 {
    1.0
}

fn warning() -> Severity {
    Severity::Warning
}

impl RawRule {
    /// The rule, checked for what a single entry can get wrong, and its source.
    pub(crate) fn resolve(&self) -> Result<(Rule, Option<String>), String> {
        let cond = |c: &Option<RawCondition>| c.as_ref().map(RawCondition::resolve).transpose();
        Ok(match self {
            RawRule::TownshipCode {
                field,
                prefix,
                source,
            } => (
                Rule::TownshipCode {
                    field: field.clone(),
                    prefix: *prefix,
                },
                source.clone(),
            ),
            RawRule::UnitCode {
                field,
                digits,
                registry,
                source,
            } => (
                Rule::UnitCode {
                    field: field.clone(),
                    digits: *digits,
                    registry: *registry,
                },
                source.clone(),
            ),
            RawRule::VillagePrefix {
                village,
                township,
                source,
            } => (
                Rule::VillagePrefix {
                    village: village.clone(),
                    township: township.clone(),
                },
                source.clone(),
            ),
            RawRule::PointInUnit {
                lon,
                lat,
                township,
                village,
                source,
            } => {
                if township.is_none() && village.is_none() {
                    return Err("point_in_unit needs `township` or `village`".into());
                }
                (
                    Rule::PointInUnit {
                        lon: lon.clone(),
                        lat: lat.clone(),
                        township: township.clone(),
                        village: village.clone(),
                    },
                    source.clone(),
                )
            }
            RawRule::HeightPerFloor {
                height,
                floors,
                min,
                max,
                severity,
                source,
            } => {
                if min >= max {
                    return Err(format!(
                        "height_per_floor: min {min} is not below max {max}"
                    ));
                }
                (
                    Rule::HeightPerFloor {
                        height: height.clone(),
                        floors: floors.clone(),
                        min: *min,
                        max: *max,
                        severity: *severity,
                    },
                    source.clone(),
                )
            }
            RawRule::DuplicateRecord {
                fields,
                severity,
                source,
            } => {
                if fields.is_empty() {
                    return Err("duplicate_record needs at least one field".into());
                }
                (
                    Rule::DuplicateRecord {
                        fields: fields.clone(),
                        severity: *severity,
                    },
                    source.clone(),
                )
            }
            RawRule::Format {
                field,
                format,
                when,
                severity,
                source,
            } => (
                Rule::Format {
                    field: field.clone(),
                    format: *format,
                    when: cond(when)?,
                    severity: *severity,
                },
                source.clone(),
            ),
            RawRule::Required {
                field,
                when,
                severity,
                source,
            } => (
                Rule::RequiredWhen {
                    field: field.clone(),
                    when: when.resolve()?,
                    severity: *severity,
                },
                source.clone(),
            ),
            RawRule::Compare {
                left,
                op,
                right,
                factor,
                when,
                severity,
                source,
            } => {
                if left.is_empty() {
                    return Err("compare needs at least one `left` field".into());
                }
                if !factor.is_finite() || *factor <= 0.0 {
                    return Err(format!("compare: factor {factor} is not a positive number"));
                }
                (
                    Rule::Compare {
                        left: left.clone(),
                        op: *op,
                        right: right.clone(),
                        factor: *factor,
                        when: cond(when)?,
                        severity: *severity,
                    },
                    source.clone(),
                )
            }
            RawRule::Implies {
                when,
                then,
                severity,
                source,
            } => (
                Rule::Implies {
                    when: when.resolve()?,
                    then: then.resolve()?,
                    severity: *severity,
                },
                source.clone(),
            ),
        })
    }
}
