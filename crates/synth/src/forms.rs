//! Every census table from its schema alone: records as a careful office fills its form (values in
//! range, codes from the lists, credit codes with their check character, parts no larger than their
//! whole), and records carrying one defect of one rule each, with the issue QC must report.
//!
//! The six tables the county generator writes by hand (buildings, schools, hospitals, population,
//! township resources, geological hazard points) stay as they are; this covers the rest, so that a
//! generated county can hold every table a form exists for.

use std::collections::BTreeMap;

use rand::SeedableRng;
use riskcensus_schema::{
    CmpOp, FieldSchema, FieldType, Format, Literal, Op, Rule, SchemaSet, TableSchema,
};

use crate::County;

/// A cell as an office types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Text(String),
    Num(f64),
}

/// Fields of a table that the rules tie to places.
#[derive(Default)]
struct Roles {
    township: Vec<String>,
    village: Vec<String>,
    lon: Vec<String>,
    lat: Vec<String>,
    /// (height, floors)
    height_per_floor: Vec<(String, String)>,
}

fn roles(schema: &TableSchema) -> Roles {
    let mut r = Roles::default();
    for rule in &schema.rules {
        match rule {
            Rule::TownshipCode { field, .. } => r.township.push(field.clone()),
            Rule::VillagePrefix { village, township } => {
                r.village.push(village.clone());
                r.township.push(township.clone());
            }
            Rule::PointInUnit { lon, lat, .. } => {
                r.lon.push(lon.clone());
                r.lat.push(lat.clone());
            }
            Rule::HeightPerFloor { height, floors, .. } => {
                r.height_per_floor.push((height.clone(), floors.clone()))
            }
            _ => {}
        }
    }
    r
}

/// A number inside the field's range, different per row (so no two records are one).
fn number_in_range(f: &FieldSchema, row: usize, year: i32) -> f64 {
    let lo = f.min.map(|b| b.resolve(year)).unwrap_or(0.0);
    let hi = f.max.map(|b| b.resolve(year)).unwrap_or(lo + 1000.0);
    let v = lo + (hi - lo) * (0.3 + 0.1 * (row % 7) as f64);
    if f.ty == FieldType::Int {
        v.round().clamp(lo.ceil(), hi.floor())
    } else {
        (v * 100.0).round() / 100.0
    }
}

/// Digits for a pattern of N digits (or N code characters), distinct per row and field.
fn digits(n: usize, row: usize, field: usize) -> String {
    let seed = format!("{}{:03}{:04}", 7, field, row + 1);
    let s = format!("{seed:0>n$}");
    s[s.len() - n..].to_owned()
}

/// A value in a named format, distinct per row and field.
fn formatted(format: Format, county: &str, row: usize, field: usize) -> String {
    match format {
        Format::CreditCode => {
            let first: Vec<char> = format!("12{county}MB{}", digits(7, row, field))
                .chars()
                .collect();
            let c = riskcensus_schema::rule::credit_code_check_char(&first).unwrap_or('0');
            first.into_iter().chain([c]).collect()
        }
        Format::Phone => format!("0874-31{:05}", (row * 37 + field) % 100_000),
        Format::Postcode => format!("6554{:02}", row % 100),
        Format::IdCard => "11010519491231002X".into(),
    }
}

/// A date inside the field's bounds.
fn date_in_range(f: &FieldSchema, row: usize, year: i32) -> String {
    let lo = f.min.map(|b| b.resolve(year) as i32);
    let hi = f.max.map(|b| b.resolve(year) as i32);
    let r = (row % 28) as i32;
    let days = match (lo, hi) {
        (Some(a), Some(b)) => a + (b - a) / 2 + r,
        (Some(a), None) => a + 30 + r,
        (None, Some(b)) => b - 400 - r,
        (None, None) => riskcensus_schema::days_from_civil(2015, 6, 1).unwrap_or(16587) + r,
    };
    riskcensus_schema::civil_from_days(days)
}

/// What a careful office types in each field of record `row`, placed in township `t`: every field
/// filled, every rule of the table kept.
pub fn record(
    schema: &TableSchema,
    set: &SchemaSet,
    county: &County,
    t: usize,
    row: usize,
    year: i32,
) -> Vec<Option<Typed>> {
    let roles = roles(schema);
    let town = &county.townships[t % county.townships.len()];
    let village = &town.villages[row % town.villages.len()];
    // A point in the township, different for every row.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(row as u64 + 1);
    let (lon, lat) = county.point_in(t % county.townships.len(), &mut rng);
    let formats: BTreeMap<&str, Format> = schema
        .rules
        .iter()
        .filter_map(|r| match r {
            Rule::Format { field, format, .. } => Some((field.as_str(), *format)),
            _ => None,
        })
        .collect();
    let mut typed: Vec<Option<Typed>> = schema
        .fields
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let code = f.code.as_str();
            let is = |v: &[String]| v.iter().any(|x| x == code);
            let pattern = f.pattern.as_ref().map(|p| p.as_str().to_owned());
            // A 12-digit code is a village's, even where a rule reads its township from it.
            let value = if is(&roles.village) || pattern.as_deref() == Some(r"^\d{12}$") {
                Typed::Text(village.code.clone())
            } else if is(&roles.township) || pattern.as_deref() == Some(r"^\d{9}$") {
                Typed::Text(town.code.clone())
            } else if is(&roles.lon) {
                Typed::Num(lon)
            } else if is(&roles.lat) {
                Typed::Num(lat)
            } else if roles.height_per_floor.iter().any(|(h, _)| h == code) {
                Typed::Num(9.0)
            } else if roles.height_per_floor.iter().any(|(_, fl)| fl == code) {
                Typed::Num(3.0)
            } else if let Some(list) = &f.codes {
                let values = &set.codes[list];
                Typed::Text(values[row % values.len()].clone())
            } else if f.name_zh.starts_with("乡镇") && f.name_zh.ends_with("名称") {
                Typed::Text(town.name.clone())
            } else if let Some(format) = formats.get(code) {
                Typed::Text(formatted(*format, &county.code, row, k))
            } else {
                match (f.ty, pattern.as_deref()) {
                    (FieldType::Text, Some(r"^[0-9A-Z]{18}$")) => Typed::Text(digits(18, row, k)),
                    (FieldType::Text, Some(r"^\d{15}$")) => Typed::Text(digits(15, row, k)),
                    (FieldType::Text, Some(r"^\d{6}$")) => Typed::Text(county.code.clone()),
                    // A county's or a township's code: the township's, so the row has a unit.
                    (FieldType::Text, Some(r"^\d{6}(\d{3})?$")) => Typed::Text(town.code.clone()),
                    (FieldType::Text, _) => Typed::Text(format!("{}{}", f.name_zh, row + 1)),
                    (FieldType::Bool, _) => {
                        Typed::Text(if row.is_multiple_of(2) { "是" } else { "否" }.into())
                    }
                    (FieldType::Date, _) => Typed::Text(date_in_range(f, row, year)),
                    (FieldType::Int | FieldType::Float, _) => {
                        Typed::Num(number_in_range(f, row, year))
                    }
                }
            };
            Some(value)
        })
        .collect();
    // Twice: an implication may change a field that an earlier comparison reads.
    satisfy_rules(schema, set, &mut typed);
    satisfy_rules(schema, set, &mut typed);
    typed
}

fn number_of(v: &Option<Typed>) -> f64 {
    match v {
        Some(Typed::Num(x)) => *x,
        _ => 0.0,
    }
}

/// Whether a typed value meets a condition (as QC reads it; conditions on fields never typed as
/// the condition expects do not hold).
fn holds(op: &Op, v: &Option<Typed>) -> bool {
    match (op, v) {
        (Op::Empty, v) => v.is_none(),
        (Op::Filled, v) => v.is_some(),
        (Op::Eq(Literal::Number(x)), Some(Typed::Num(y))) => x == y,
        (Op::Eq(Literal::Text(x)), Some(Typed::Text(y))) => x == y,
        (Op::Ne(Literal::Number(x)), Some(Typed::Num(y))) => x != y,
        (Op::Ne(Literal::Text(x)), Some(Typed::Text(y))) => x != y,
        (Op::Gt(x), Some(Typed::Num(y))) => y > x,
        (Op::Ge(x), Some(Typed::Num(y))) => y >= x,
        (Op::Lt(x), Some(Typed::Num(y))) => y < x,
        (Op::Le(x), Some(Typed::Num(y))) => y <= x,
        (Op::Contains(x), Some(Typed::Text(y))) => y.contains(x.as_str()),
        (Op::In(xs), Some(Typed::Text(y))) => xs.contains(y),
        _ => false,
    }
}

/// A value meeting `op` (for `then` of an implication), or `None` to leave the cell empty.
fn meeting(op: &Op, current: &Option<Typed>) -> Option<Typed> {
    match op {
        Op::Eq(Literal::Number(x)) => Some(Typed::Num(*x)),
        Op::Eq(Literal::Text(x)) => Some(Typed::Text(x.clone())),
        Op::Gt(x) => Some(Typed::Num(x + 1.0)),
        Op::Ge(x) | Op::Le(x) => Some(Typed::Num(*x)),
        Op::Lt(x) => Some(Typed::Num(x - 1.0)),
        Op::In(xs) => xs.first().map(|x| Typed::Text(x.clone())),
        Op::Empty => None,
        _ => current.clone(),
    }
}

/// Mends a typed record so that it keeps the table's cross-field rules, as a careful office's
/// would: parts no larger than their whole, what a condition implies.
fn satisfy_rules(schema: &TableSchema, set: &SchemaSet, typed: &mut [Option<Typed>]) {
    let at = |f: &str| schema.field_index(f);
    for rule in &schema.rules {
        match rule {
            Rule::Compare {
                left,
                op,
                right,
                factor,
                ..
            } => {
                let Some(r) = at(right) else { continue };
                let whole = number_of(&typed[r]) * factor;
                let share = match op {
                    CmpOp::Le | CmpOp::Lt => (whole / (left.len() as f64 + 1.0)).floor(),
                    CmpOp::Ge | CmpOp::Gt => (whole * 2.0).ceil() + 1.0,
                    CmpOp::Eq => whole / left.len() as f64,
                };
                for k in left.iter().filter_map(|l| at(l)) {
                    typed[k] = Some(Typed::Num(share.max(0.0)));
                }
            }
            // A code checked only under a condition (a credit code where 代码类型 says so): the
            // condition holds, so the code is checked.
            Rule::Format { when: Some(c), .. } => {
                if let Some(w) = at(&c.field)
                    && !holds(&c.op, &typed[w])
                {
                    typed[w] = meeting_in(&c.op, &typed[w], set, &schema.fields[w]);
                }
            }
            Rule::Implies { when, then, .. } => {
                let (Some(w), Some(k)) = (at(&when.field), at(&then.field)) else {
                    continue;
                };
                if holds(&when.op, &typed[w]) && !holds(&then.op, &typed[k]) {
                    typed[k] = meeting_in(&then.op, &typed[k], set, &schema.fields[k]);
                }
            }
            _ => {}
        }
    }
}

/// One defect put into a record: the field QC reports and the rule it reports it under.
#[derive(Debug, Clone, PartialEq)]
pub struct Injected {
    pub field: String,
    pub rule: &'static str,
}

/// The defects a table's rules can be given, one per record: for each, how to damage a clean
/// record and what QC must say. A defect is only planted where the fields it touches take part in
/// no other cross-field rule, so that exactly one issue follows from it.
pub fn defects(schema: &TableSchema) -> Vec<Defect> {
    let mut out = Vec::new();
    // Whether another cross-field rule reads a field the defect changes (duplicates and the
    // location rules read fields no defect but their own changes). Implications onto the same
    // field are no trouble: they can only report the same field under the same rule.
    let entangled = |changed: &[&str], except: &Rule| {
        schema.rules.iter().any(|r| {
            if r == except
                || matches!(
                    r,
                    Rule::DuplicateRecord { .. }
                        | Rule::TownshipCode { .. }
                        | Rule::PointInUnit { .. }
                )
            {
                return false;
            }
            if let (Rule::Implies { when, then, .. }, Rule::Implies { then: mine, .. }) =
                (r, except)
                && then.field == mine.field
                && !changed.contains(&when.field.as_str())
            {
                return false;
            }
            r.fields().iter().any(|f| changed.contains(f))
        })
    };
    let none = Rule::DuplicateRecord {
        fields: Vec::new(),
        severity: riskcensus_schema::Severity::Error,
    };
    for f in &schema.fields {
        if entangled(&[f.code.as_str()], &none) || f.unique || schema.primary_key.contains(&f.code)
        {
            continue;
        }
        if f.required {
            out.push(Defect::Blank(f.code.clone()));
        }
        if matches!(f.ty, FieldType::Int | FieldType::Float) && f.min.is_some() {
            out.push(Defect::BelowMin(f.code.clone()));
        }
        if f.ty == FieldType::Date && f.max.is_some() {
            out.push(Defect::AfterMax(f.code.clone()));
        }
        if f.codes.is_some() {
            out.push(Defect::NotInList(f.code.clone()));
        }
    }
    for rule in &schema.rules {
        let d = match rule {
            Rule::Format { field, format, .. } if !entangled(&[field.as_str()], rule) => {
                Defect::BadFormat(field.clone(), *format)
            }
            Rule::Compare {
                left,
                op: CmpOp::Le | CmpOp::Lt,
                when: None,
                ..
            } if !entangled(&[left[0].as_str()], rule) => Defect::PartOverWhole(rule.clone()),
            Rule::Implies { when, then, .. }
                if !entangled(&[when.field.as_str(), then.field.as_str()], rule) =>
            {
                Defect::BrokenImplication(rule.clone())
            }
            Rule::RequiredWhen { field, when, .. }
                if !entangled(&[field.as_str(), when.field.as_str()], rule) =>
            {
                Defect::MissingWhen(rule.clone())
            }
            Rule::TownshipCode { field, .. } => Defect::UnknownTownship(field.clone()),
            Rule::PointInUnit { lon, lat, .. } => Defect::PointElsewhere(lon.clone(), lat.clone()),
            Rule::DuplicateRecord { .. } => Defect::Duplicate,
            _ => continue,
        };
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// How a record is damaged.
#[derive(Debug, Clone, PartialEq)]
pub enum Defect {
    Blank(String),
    BelowMin(String),
    AfterMax(String),
    NotInList(String),
    BadFormat(String, Format),
    PartOverWhole(Rule),
    BrokenImplication(Rule),
    MissingWhen(Rule),
    UnknownTownship(String),
    /// Lon and lat of a point in another township.
    PointElsewhere(String, String),
    /// The record is the one before it, entered again.
    Duplicate,
}

impl Defect {
    /// Damages `rec` (a clean record of township `t`; `previous` the record before it) and says
    /// what QC must report.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &self,
        schema: &TableSchema,
        set: &SchemaSet,
        county: &County,
        t: usize,
        rec: &mut [Option<Typed>],
        previous: &[Option<Typed>],
        year: i32,
    ) -> Vec<Injected> {
        let at = |f: &str| schema.field_index(f).unwrap_or(0);
        let one = |field: &str, rule: &'static str| {
            vec![Injected {
                field: field.to_owned(),
                rule,
            }]
        };
        match self {
            Defect::Blank(f) => {
                rec[at(f)] = None;
                one(f, "missing_required")
            }
            Defect::BelowMin(f) => {
                let lo = schema.fields[at(f)]
                    .min
                    .map(|b| b.resolve(year))
                    .unwrap_or(0.0);
                rec[at(f)] = Some(Typed::Num(lo - 5.0));
                one(f, "out_of_range")
            }
            Defect::AfterMax(f) => {
                let hi = schema.fields[at(f)]
                    .max
                    .map(|b| b.resolve(year))
                    .unwrap_or(0.0);
                rec[at(f)] = Some(Typed::Text(riskcensus_schema::civil_from_days(
                    hi as i32 + 40,
                )));
                one(f, "out_of_range")
            }
            Defect::NotInList(f) => {
                rec[at(f)] = Some(Typed::Text("不在代码表中的值".into()));
                one(f, "not_in_code_list")
            }
            Defect::BadFormat(f, format) => {
                let bad = match format {
                    // One character changed: the check character no longer fits.
                    Format::CreditCode => match &rec[at(f)] {
                        Some(Typed::Text(s)) => {
                            let mut c: Vec<char> = s.chars().collect();
                            if let Some(last) = c.last_mut() {
                                *last = if *last == '1' { '2' } else { '1' };
                            }
                            c.into_iter().collect()
                        }
                        _ => "12530402MB00000011".into(),
                    },
                    Format::IdCard => "110105194912310021".into(),
                    Format::Phone => "abc".into(),
                    Format::Postcode => "65540".into(),
                };
                rec[at(f)] = Some(Typed::Text(bad));
                one(
                    f,
                    match format {
                        Format::CreditCode => "bad_credit_code",
                        Format::IdCard => "bad_id_card",
                        Format::Phone => "bad_phone",
                        Format::Postcode => "bad_postcode",
                    },
                )
            }
            Defect::PartOverWhole(Rule::Compare {
                left,
                right,
                factor,
                ..
            }) => {
                let whole = number_of(&rec[at(right)]) * factor;
                let others: f64 = left[1..].iter().map(|l| number_of(&rec[at(l)])).sum();
                let part = (whole - others).max(0.0).floor() + 7.0;
                let f = &schema.fields[at(&left[0])];
                if f.max.is_some_and(|b| part > b.resolve(year)) {
                    // The part cannot pass its whole within its own range: not planted.
                    return Vec::new();
                }
                rec[at(&left[0])] = Some(Typed::Num(part));
                one(&left[0], "field_comparison")
            }
            Defect::BrokenImplication(Rule::Implies { when, then, .. }) => {
                let (w, k) = (at(&when.field), at(&then.field));
                let cause = meeting_in(&when.op, &rec[w], set, &schema.fields[w]);
                let broken = breaking(&then.op, set, &schema.fields[k], year);
                if !in_own_range(&cause, &schema.fields[w], year)
                    || !in_own_range(&broken, &schema.fields[k], year)
                {
                    return Vec::new();
                }
                rec[w] = cause;
                rec[k] = broken;
                one(&then.field, "conditional")
            }
            Defect::MissingWhen(Rule::RequiredWhen { field, when, .. }) => {
                let w = at(&when.field);
                rec[w] = meeting_in(&when.op, &rec[w], set, &schema.fields[w]);
                rec[at(field)] = None;
                one(field, "required_when")
            }
            Defect::UnknownTownship(f) => {
                rec[at(f)] = Some(Typed::Text(format!("{}999", county.code)));
                one(f, "unknown_township_code")
            }
            Defect::PointElsewhere(lon, lat) => {
                // A point in another township that no GCJ-02 correction brings back home, so the
                // defect is unambiguous.
                let home = t % county.townships.len();
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(t as u64 + 99);
                for k in 1..=64 {
                    let other = (home + k) % county.townships.len();
                    if other == home {
                        continue;
                    }
                    let (x, y) = county.point_in(other, &mut rng);
                    let back = crate::gcj02::gcj02_to_wgs84(x, y);
                    if county.township_at(back.0, back.1) != Some(home) {
                        rec[at(lon)] = Some(Typed::Num(x));
                        rec[at(lat)] = Some(Typed::Num(y));
                        return one(lon, "point_outside_township");
                    }
                }
                Vec::new()
            }
            Defect::Duplicate => {
                rec.clone_from_slice(previous);
                duplicate_issues(schema)
            }
            _ => Vec::new(),
        }
    }
}

/// A value meeting `op` that the field itself accepts: a value of its code list where it has one.
fn meeting_in(op: &Op, current: &Option<Typed>, set: &SchemaSet, f: &FieldSchema) -> Option<Typed> {
    let list = f.codes.as_ref().and_then(|l| set.codes.get(l));
    match (op, list) {
        (Op::Contains(x), Some(values)) => values
            .iter()
            .find(|v| v.contains(x.as_str()))
            .map(|v| Typed::Text(v.clone())),
        (Op::Contains(x), None) => Some(Typed::Text(x.clone())),
        (Op::Filled, _) => current.clone().or_else(|| Some(Typed::Text("有".into()))),
        _ => meeting(op, current),
    }
}

/// A value that breaks `op` and that the field itself accepts: another value of its code list, a
/// number past the bound, a value of the field's type where the condition asks for none.
fn breaking(op: &Op, set: &SchemaSet, f: &FieldSchema, year: i32) -> Option<Typed> {
    let list = f.codes.as_ref().and_then(|l| set.codes.get(l));
    let any = || match (list, f.ty) {
        (Some(values), _) => values.first().map(|v| Typed::Text(v.clone())),
        (None, FieldType::Int | FieldType::Float) => Some(Typed::Num(number_in_range(f, 3, year))),
        (None, FieldType::Date) => Some(Typed::Text(date_in_range(f, 3, year))),
        (None, FieldType::Bool) => Some(Typed::Text("是".into())),
        (None, FieldType::Text) => Some(Typed::Text("应为空".into())),
    };
    match op {
        Op::Eq(Literal::Number(x)) => Some(Typed::Num(x + 3.0)),
        Op::Eq(Literal::Text(x)) => match list {
            Some(values) => values
                .iter()
                .find(|v| *v != x)
                .map(|v| Typed::Text(v.clone())),
            None => Some(Typed::Text(format!("非{x}"))),
        },
        Op::Gt(x) | Op::Lt(x) => Some(Typed::Num(*x)),
        Op::Ge(x) => Some(Typed::Num(x - 1.0)),
        Op::Le(x) => Some(Typed::Num(x + 1.0)),
        Op::Empty => any(),
        _ => None,
    }
}

/// Whether a typed number lies within the field's own range (a defect of one rule must not break
/// another).
fn in_own_range(v: &Option<Typed>, f: &FieldSchema, year: i32) -> bool {
    let Some(Typed::Num(x)) = v else {
        return true;
    };
    f.min.is_none_or(|b| *x >= b.resolve(year)) && f.max.is_none_or(|b| *x <= b.resolve(year))
}

/// What QC reports on a record entered twice: each duplicate-record rule on the record key's field,
/// and each unique field.
fn duplicate_issues(schema: &TableSchema) -> Vec<Injected> {
    let mut out = Vec::new();
    for r in &schema.rules {
        if let Rule::DuplicateRecord { fields, .. } = r {
            let key = schema
                .primary_key
                .first()
                .or_else(|| fields.first())
                .cloned()
                .unwrap_or_default();
            out.push(Injected {
                field: key,
                rule: "duplicate_record",
            });
        }
    }
    for f in schema.fields.iter().filter(|f| f.unique) {
        let rule = if schema.primary_key.contains(&f.code) {
            "duplicate_id"
        } else {
            "duplicate_value"
        };
        out.push(Injected {
            field: f.code.clone(),
            rule,
        });
    }
    out.dedup();
    out
}
