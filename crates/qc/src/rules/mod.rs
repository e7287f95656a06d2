//! The rules a record is checked against: one file per rule kind, each behind [`RecordRule`] (or
//! [`FieldRule`], for the rules of one field), and [`Plan::new`] the registry that turns a table's
//! schema into the list of rules to run, in order. Checking a record is a loop over that list.
//!
//! Adding a rule kind is adding its schema shape (`riskcensus_schema::Rule`), a file here with its
//! check and its messages in Chinese and English, and its line in [`Plan::new`].
//!
//! The order is part of the output (issues are listed in the order found): swapped coordinates
//! first (both values would otherwise fail their ranges, hiding the cause), then every field in
//! schema order (type, required, range, pattern, code list), then the township codes that place the
//! record, then the other cross-field rules in schema order, then the geometry.

mod code_list;
mod compare;
mod condition;
pub(crate) mod duplicate_record;
mod format;
mod geometry;
mod height_per_floor;
mod implies;
mod pattern;
mod point_in_unit;
mod range;
mod required;
mod required_when;
mod swapped_lon_lat;
mod township_code;
pub(crate) mod unique;
mod unit_code;
mod unit_layer_code;
mod village_prefix;

use std::collections::HashMap;

use riskcensus_ingest::{CellRef, RawRow};
use riskcensus_schema::{FieldSchema, FieldType, Rule, Severity, TableSchema};

use crate::Context;
use crate::coerce::{Value, coerce, is_placeholder};
use crate::messages::{type_en, type_zh};

pub(crate) use range::in_range;

/// A finding before provenance is attached.
pub(crate) struct Finding {
    pub field: Option<usize>,
    /// For findings on the geometry rather than a field.
    pub geometry: bool,
    pub value: String,
    pub rule: &'static str,
    pub severity: Severity,
    pub zh: String,
    pub en: String,
}

pub(crate) fn finding(
    field: usize,
    value: String,
    rule: &'static str,
    severity: Severity,
    zh: String,
    en: String,
) -> Finding {
    Finding {
        field: Some(field),
        geometry: false,
        value,
        rule,
        severity,
        zh,
        en,
    }
}

/// A record while its rules run: the values as coerced so far and what the rules found and decided.
pub(crate) struct Row<'r> {
    pub raw: &'r RawRow,
    /// Coerced values, in schema field order (complete once the fields are checked).
    pub values: Vec<Value>,
    /// Fields whose own checks passed: a cross-field rule does not pile onto a field that failed.
    pub field_ok: Vec<bool>,
    /// Fields whose range is not checked (swapped coordinates, already reported).
    pub skip_range: Vec<bool>,
    pub findings: Vec<Finding>,
    /// Cells repaired by coercion or by a code rule.
    pub repaired: u32,
    /// The record's unit, as its codes declare it.
    pub unit: Option<String>,
    /// The unit the point of a record that declares none falls in.
    pub point_unit: Option<String>,
    /// Township-code fields checked: whether each can place the record.
    pub township_valid: HashMap<usize, bool>,
    /// Township-code fields that place the record: the unit each names.
    pub declared_units: HashMap<usize, String>,
}

impl Row<'_> {
    /// The value of field `k`, when its own checks passed.
    pub fn ok_value(&self, k: usize) -> Option<&Value> {
        self.field_ok[k].then(|| &self.values[k])
    }
}

/// A rule over a whole record.
pub(crate) trait RecordRule: Send + Sync {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, ctx: &Context<'_>);
}

/// A rule of one field, run on its coerced value `v` (null included) in the fields' pass.
pub(crate) trait FieldRule: Send + Sync {
    fn check(
        &self,
        k: usize,
        f: &FieldSchema,
        v: &Value,
        row: &mut Row<'_>,
        ctx: &Context<'_>,
    ) -> Option<Finding>;
}

/// The rules of one table, in the order they run.
pub(crate) struct Plan {
    before_fields: Vec<Box<dyn RecordRule>>,
    /// Per field (schema order), its rules.
    fields: Vec<Vec<Box<dyn FieldRule>>>,
    after_fields: Vec<Box<dyn RecordRule>>,
}

impl Plan {
    /// The registry: every rule kind a schema can ask for, and where it runs.
    pub fn new(schema: &TableSchema) -> Plan {
        let index = |f: &str| schema.field_index(f);
        let mut before_fields: Vec<Box<dyn RecordRule>> = Vec::new();
        for rule in &schema.rules {
            if let Rule::PointInUnit { lon, lat, .. } = rule
                && let (Some(a), Some(b)) = (index(lon), index(lat))
            {
                before_fields.push(Box::new(swapped_lon_lat::SwappedLonLat { lon: a, lat: b }));
            }
        }
        let fields = schema.fields.iter().map(field_rules).collect();

        let mut after_fields: Vec<Box<dyn RecordRule>> = Vec::new();
        for rule in &schema.rules {
            if let Rule::TownshipCode { field, prefix } = rule
                && let Some(k) = index(field)
            {
                after_fields.push(Box::new(township_code::TownshipCode { k, prefix: *prefix }));
            }
        }
        after_fields.push(Box::new(unit_layer_code::UnitLayerCode));
        if let Some(rule) = unit_code::UnitCode::of(schema) {
            after_fields.push(Box::new(rule));
        }
        for rule in &schema.rules {
            if let Some(r) = cross_field_rule(rule, schema) {
                after_fields.push(r);
            }
        }
        after_fields.push(Box::new(geometry::Geometry));
        Plan {
            before_fields,
            fields,
            after_fields,
        }
    }

    /// Runs every rule over one record.
    pub fn check<'r>(&self, raw: &'r RawRow, schema: &TableSchema, ctx: &Context<'_>) -> Row<'r> {
        let n = schema.fields.len();
        let mut row = Row {
            raw,
            values: Vec::with_capacity(n),
            field_ok: vec![true; n],
            skip_range: vec![false; n],
            findings: Vec::new(),
            repaired: 0,
            unit: None,
            point_unit: None,
            township_valid: HashMap::new(),
            declared_units: HashMap::new(),
        };
        for rule in &self.before_fields {
            rule.check(&mut row, schema, ctx);
        }
        for (k, (f, rules)) in schema.fields.iter().zip(&self.fields).enumerate() {
            let v = coerced(k, f, &mut row);
            if let Some(v) = &v {
                for rule in rules {
                    if let Some(found) = rule.check(k, f, v, &mut row, ctx) {
                        row.field_ok[k] = false;
                        row.findings.push(found);
                    }
                }
            }
            row.values.push(v.unwrap_or(Value::Null));
        }
        for rule in &self.after_fields {
            rule.check(&mut row, schema, ctx);
        }
        row
    }
}

/// The rules of one field.
fn field_rules(f: &FieldSchema) -> Vec<Box<dyn FieldRule>> {
    let mut rules: Vec<Box<dyn FieldRule>> = Vec::new();
    if f.required {
        rules.push(Box::new(required::Required));
    }
    if f.min.is_some() || f.max.is_some() {
        rules.push(Box::new(range::Range));
    }
    if f.pattern.is_some() {
        rules.push(Box::new(pattern::Pattern));
    }
    if f.codes.is_some() {
        rules.push(Box::new(code_list::CodeList));
    }
    rules
}

/// The record rule of a schema rule that runs after the fields, if it is one.
fn cross_field_rule(rule: &Rule, schema: &TableSchema) -> Option<Box<dyn RecordRule>> {
    let index = |f: &str| schema.field_index(f);
    Some(match rule {
        // Run in their own places (or, for duplicates, as a pass over the table).
        Rule::TownshipCode { .. } | Rule::UnitCode { .. } | Rule::DuplicateRecord { .. } => {
            return None;
        }
        Rule::VillagePrefix { village, township } => Box::new(village_prefix::VillagePrefix {
            village: index(village)?,
            township: index(township)?,
        }),
        Rule::PointInUnit {
            lon,
            lat,
            township,
            village,
        } => Box::new(point_in_unit::PointInUnit {
            lon: index(lon)?,
            lat: index(lat)?,
            declared: township.as_deref().or(village.as_deref()).and_then(index),
        }),
        Rule::HeightPerFloor {
            height,
            floors,
            min,
            max,
            severity,
        } => Box::new(height_per_floor::HeightPerFloor {
            height: index(height)?,
            floors: index(floors)?,
            min: *min,
            max: *max,
            severity: *severity,
        }),
        Rule::Format {
            field,
            format,
            when,
            severity,
        } => Box::new(format::FormatRule {
            k: index(field)?,
            format: *format,
            when: condition::Compiled::of(when.as_ref(), schema)?,
            severity: *severity,
        }),
        Rule::RequiredWhen {
            field,
            when,
            severity,
        } => Box::new(required_when::RequiredWhen {
            k: index(field)?,
            when: condition::Compiled::new(when, schema)?,
            severity: *severity,
        }),
        Rule::Compare {
            left,
            op,
            right,
            factor,
            when,
            severity,
        } => Box::new(compare::Compare {
            left: left.iter().map(|f| index(f)).collect::<Option<_>>()?,
            op: *op,
            right: index(right)?,
            factor: *factor,
            when: condition::Compiled::of(when.as_ref(), schema)?,
            severity: *severity,
        }),
        Rule::Implies {
            when,
            then,
            severity,
        } => Box::new(implies::Implies {
            when: condition::Compiled::new(when, schema)?,
            then: condition::Compiled::new(then, schema)?,
            severity: *severity,
        }),
    })
}

/// Field `k`'s cell coerced to its type; a cell that cannot be is a `type_mismatch` and `None`.
fn coerced(k: usize, f: &FieldSchema, row: &mut Row<'_>) -> Option<Value> {
    let cell = row.raw.cells.at(k);
    if matches!(f.ty, FieldType::Int | FieldType::Float)
        && let CellRef::Text(s) = cell
        && is_placeholder(s)
    {
        let shown = s.trim().to_owned();
        row.findings.push(finding(
            k,
            shown.clone(),
            "placeholder_value",
            Severity::Warning,
            format!("“{}”填写“{shown}”表示无数据，按空值处理", f.name_zh),
            format!("{}: {shown:?} stands for no figure; read as empty", f.code),
        ));
        return Some(Value::Null);
    }
    let v = match coerce(cell, f.ty) {
        Ok(v) => v,
        Err(()) => {
            let shown = cell.display();
            row.field_ok[k] = false;
            row.findings.push(finding(
                k,
                shown.clone(),
                "type_mismatch",
                Severity::Error,
                format!("“{}”的值“{shown}”不是{}", f.name_zh, type_zh(f.ty)),
                format!("{}: {shown:?} is not a {}", f.code, type_en(f.ty)),
            ));
            return None;
        }
    };
    if !v.is_null() && matches!(cell, CellRef::Text(s) if s != v.as_str().unwrap_or(s)) {
        row.repaired += 1;
    }
    Some(v)
}

/// The registry's name of a code: a township's or county's, or the run's region at any level
/// (530300 is 曲靖市).
pub(crate) fn name_of(ctx: &Context<'_>, code: &str) -> String {
    ctx.registry
        .get(code)
        .map(|d| d.name.clone())
        .or_else(|| ctx.registry.region_name(code))
        .unwrap_or_default()
}
