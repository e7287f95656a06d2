//! Checking one table.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use riskcensus_ingest::{RawRow, RawTable};
use riskcensus_schema::{DivisionLevel, FieldSchema, GeometryKind, Rule, Severity, TableSchema};
use riskcensus_spatial::gcj02::{gcj02_to_wgs84, wgs84_to_gcj02};
use riskcensus_spatial::{
    BoundaryProblem, Geom, UnitIndex, boundary_problems, is_empty, is_valid_wkb, parse_wkb,
};

use crate::codes;
use crate::coerce::{Value, coerce};
use crate::messages::{num, type_en, type_zh};
use crate::review::{Mark, Review, TableReview, place_hash, record_hash};
use crate::{CleanRow, CleanTable, Context, Counts, Issue, TableResult};

/// A finding before provenance is attached.
struct Finding {
    field: Option<usize>,
    /// For findings on the geometry rather than a field.
    geometry: bool,
    value: String,
    rule: &'static str,
    severity: Severity,
    zh: String,
    en: String,
}

struct RowOutcome {
    values: Vec<Value>,
    findings: Vec<Finding>,
    unit: Option<String>,
    unit_from_point: bool,
    repaired: u32,
}

fn finding(
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

fn geometry_finding(rule: &'static str, zh: &str, en: &str) -> Finding {
    Finding {
        field: None,
        geometry: true,
        value: String::new(),
        rule,
        severity: Severity::Error,
        zh: zh.into(),
        en: en.into(),
    }
}

/// Checks one table: every record against every rule of its schema.
pub fn check_table(raw: RawTable, schema: &TableSchema, ctx: &Context<'_>) -> TableResult {
    check_table_reviewed(raw, schema, ctx, &mut Review::default()).0
}

/// Checks one table and applies the reviewers' dispositions: every issue is kept and marked, and
/// one dismissed or excepted on an unchanged record neither counts as an error nor rejects it.
pub fn check_table_reviewed(
    raw: RawTable,
    schema: &TableSchema,
    ctx: &Context<'_>,
    review: &mut Review,
) -> (TableResult, TableReview) {
    let outcomes: Vec<RowOutcome> = raw
        .rows
        .par_iter()
        .map(|r| check_row(r, schema, ctx))
        .collect();
    let mut outcomes = outcomes;

    // Uniqueness needs the order of the rows: the first occurrence stands, later ones are reported.
    for (k, f) in schema.fields.iter().enumerate().filter(|(_, f)| f.unique) {
        let mut first: HashMap<&str, u32> = HashMap::new();
        let mut dups: Vec<(usize, u32)> = Vec::new();
        for (i, o) in outcomes.iter().enumerate() {
            let field_failed = o
                .findings
                .iter()
                .any(|x| x.field == Some(k) && x.severity == Severity::Error);
            if let (Value::Text(s), false) = (&o.values[k], field_failed) {
                match first.get(s.as_ref()) {
                    Some(&row) => dups.push((i, row)),
                    None => {
                        first.insert(s, raw.rows[i].row);
                    }
                }
            }
        }
        let rule = if schema.primary_key.contains(&f.code) {
            "duplicate_id"
        } else {
            "duplicate_value"
        };
        for (i, first_row) in dups {
            let v = outcomes[i].values[k].as_str().unwrap_or("").to_owned();
            let first_file = &raw.files[raw.rows[i].file as usize].path;
            outcomes[i].findings.push(finding(
                k,
                v.clone(),
                rule,
                Severity::Error,
                format!(
                    "“{}”的值“{v}”与 {first_file} 第 {first_row} 行重复",
                    f.name_zh
                ),
                format!(
                    "{} {v:?} repeats the one at row {first_row} of {first_file}",
                    f.code
                ),
            ));
        }
    }

    duplicate_records(&raw, schema, &mut outcomes);

    let mut issues = file_issues(&raw, schema);
    if schema.geometry == GeometryKind::Polygon && ctx.units.is_none() {
        boundary_issues(&raw, schema, &outcomes, &mut issues);
    }

    let mut marks: Vec<Mark> = issues
        .iter()
        .map(|i| review.mark(i, place_hash(i)))
        .collect();
    let per_row = indicators_per_record(&raw, schema);
    let missing_required_columns = missing_required_columns(&raw, schema);
    let mut counts = Counts::default();
    let mut by_unit: BTreeMap<Option<String>, Counts> = BTreeMap::new();
    let mut clean_rows = Vec::with_capacity(raw.rows.len());
    let mut rejected = 0u64;
    let mut repaired = 0u64;
    let key_fields: Vec<usize> = schema
        .primary_key
        .iter()
        .filter_map(|k| schema.field_index(k))
        .collect();
    for (raw_row, o) in raw.rows.into_iter().zip(outcomes) {
        let first_issue = issues.len();
        repaired += o.repaired as u64;
        let source = &raw.files[raw_row.file as usize];
        let record_key = key_fields
            .iter()
            .map(|&k| raw_row.cells[k].display().trim().to_owned())
            .collect::<Vec<_>>()
            .join("|");
        // Only records with findings need their hash (the key of a table without a primary key,
        // and the fingerprint that tells a changed record).
        let hash = if o.findings.is_empty() {
            0
        } else {
            record_hash(&raw_row)
        };
        for f in &o.findings {
            let (column, field) = match (f.geometry, f.field) {
                (true, _) => (None, Some("geometry".to_owned())),
                // Coordinates a point layer carries in its geometry are reported on the geometry.
                (false, Some(k)) if source.field_columns[k].as_deref() == Some("geometry") => {
                    (None, Some("geometry".to_owned()))
                }
                (false, Some(k)) => (
                    source.field_columns[k].clone(),
                    Some(schema.fields[k].code.clone()),
                ),
                (false, None) => (None, None),
            };
            issues.push(Issue {
                table: schema.code.clone(),
                file: source.path.clone(),
                sheet: source.sheet.clone(),
                row: Some(raw_row.row),
                column,
                field,
                value: f.value.clone(),
                rule: f.rule,
                severity: f.severity,
                message_zh: f.zh.clone(),
                message_en: f.en.clone(),
                record_key: record_key.clone(),
                unit: o.unit.clone(),
            });
            marks.push(review.mark(&issues[issues.len() - 1], hash));
        }
        // Indicators with an error no reviewer dismissed or excepted (findings and the issues
        // just pushed are index for index).
        let mut error_fields: Vec<Option<usize>> = o
            .findings
            .iter()
            .zip(&marks[first_issue..])
            .filter(|(f, m)| f.severity == Severity::Error && !m.waived())
            .map(|(f, _)| if f.geometry { None } else { f.field })
            .collect();
        error_fields.sort();
        error_fields.dedup();
        let errors = error_fields.len() as u64;
        for c in [&mut counts, by_unit.entry(o.unit.clone()).or_default()] {
            c.records += 1;
            c.indicators_checked += per_row[raw_row.file as usize];
            c.errors += errors;
            c.rejected += u64::from(errors > 0);
        }
        if errors > 0 {
            rejected += 1;
        } else {
            clean_rows.push(CleanRow {
                file: raw_row.file,
                row: raw_row.row,
                values: o.values,
                geometry: raw_row.geometry,
                unit: o.unit,
                unit_from_point: o.unit_from_point,
            });
        }
    }
    let rows_clean = clean_rows.len() as u64;
    debug_assert_eq!(counts.records, rows_clean + rejected);
    let result = TableResult {
        table: schema.code.clone(),
        files: raw.files.iter().map(|f| f.path.clone()).collect(),
        rows_read: counts.records,
        rows_clean,
        rows_rejected: rejected,
        empty_rows_skipped: raw.files.iter().map(|f| f.empty_rows_skipped).sum(),
        rows_excluded: raw.files.iter().map(|f| f.records_excluded).sum(),
        counts,
        by_unit,
        issues,
        clean: CleanTable {
            table: schema.code.clone(),
            fields: schema.fields.iter().map(|f| f.code.clone()).collect(),
            rows: clean_rows,
        },
        repaired_cells: repaired,
        missing_required_columns,
    };
    (result, TableReview { marks })
}

/// Indicators one record of each file holds: the fields the file has a column for (or that come
/// from its geometry), every required field (absent, it is still owed), and the geometry of a
/// polygon table. A field the file lacks was never filled in, so it is no indicator of the file's
/// quality: counting it would dilute the 差错率 of a file that has few columns.
fn indicators_per_record(raw: &RawTable, schema: &TableSchema) -> Vec<u64> {
    let geometry = u64::from(schema.geometry == GeometryKind::Polygon);
    raw.files
        .iter()
        .map(|f| {
            let fields = schema
                .fields
                .iter()
                .zip(&f.field_columns)
                .filter(|(field, column)| field.required || column.is_some())
                .count() as u64;
            fields + geometry
        })
        .collect()
}

/// Required fields some file of the table has no column for (`file: 名称(code)`). Readers refuse
/// such files today; the check stands so that no reader change can let a table pass unchecked.
fn missing_required_columns(raw: &RawTable, schema: &TableSchema) -> Vec<String> {
    raw.files
        .iter()
        .flat_map(|f| {
            schema
                .fields
                .iter()
                .zip(&f.field_columns)
                .filter(|(field, column)| field.required && column.is_none())
                .map(move |(field, _)| format!("{}: {}({})", f.path, field.name_zh, field.code))
        })
        .collect()
}

/// Same place and attributes: the first record stands, later copies are reported on the record key.
fn duplicate_records(raw: &RawTable, schema: &TableSchema, outcomes: &mut [RowOutcome]) {
    for rule in &schema.rules {
        let Rule::DuplicateRecord { fields, severity } = rule else {
            continue;
        };
        let ks: Vec<usize> = fields
            .iter()
            .filter_map(|f| schema.field_index(f))
            .collect();
        let key_field = schema
            .primary_key
            .first()
            .and_then(|k| schema.field_index(k))
            .unwrap_or(ks[0]);
        // Keys are hashed in parallel; equal hashes are confirmed on the values themselves.
        let hashes: Vec<Option<u64>> = outcomes
            .par_iter()
            .map(|o| {
                let failed = o.findings.iter().any(|x| {
                    x.severity == Severity::Error && x.field.is_some_and(|f| ks.contains(&f))
                });
                if failed || ks.iter().any(|&k| o.values[k].is_null()) {
                    return None;
                }
                let mut h = std::hash::DefaultHasher::new();
                for &k in &ks {
                    hash_value(&o.values[k], &mut h);
                }
                Some(std::hash::Hasher::finish(&h))
            })
            .collect();
        let mut first: HashMap<u64, Vec<usize>> = HashMap::new();
        for i in 0..outcomes.len() {
            let Some(h) = hashes[i] else { continue };
            let earlier = first.entry(h).or_default();
            let same = earlier.iter().copied().find(|&j| {
                ks.iter()
                    .all(|&k| outcomes[j].values[k] == outcomes[i].values[k])
            });
            match same.map(|j| raw.rows[j].row) {
                None => earlier.push(i),
                Some(row) => {
                    let names = fields.join(", ");
                    outcomes[i].findings.push(finding(
                        key_field,
                        raw.rows[i].cells[key_field].display(),
                        "duplicate_record",
                        *severity,
                        format!("与第 {row} 行的位置和属性完全相同（{names}），疑似重复录入"),
                        format!("same place and attributes ({names}) as row {row}: entered twice?"),
                    ));
                }
            }
        }
    }
}

fn hash_value(v: &Value, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    match v {
        Value::Null => 0u8.hash(h),
        Value::Text(s) => (1u8, s).hash(h),
        Value::Int(x) => (2u8, x).hash(h),
        Value::Float(x) => (3u8, x.to_bits()).hash(h),
        Value::Date(x) => (4u8, x).hash(h),
        Value::Bool(x) => (5u8, x).hash(h),
    }
}

/// Reader notes (unknown columns, guessed encodings, CRS) as file-level issues.
fn file_issues(raw: &RawTable, schema: &TableSchema) -> Vec<Issue> {
    raw.files
        .iter()
        .flat_map(|f| {
            f.notes.iter().map(move |n| Issue {
                table: schema.code.clone(),
                file: f.path.clone(),
                sheet: f.sheet.clone(),
                row: n.row,
                column: n.column.clone(),
                field: None,
                value: n.value.clone(),
                rule: n.rule,
                severity: n.severity,
                message_zh: n.message_zh.clone(),
                message_en: n.message_en.clone(),
                record_key: String::new(),
                unit: None,
            })
        })
        .collect()
}

/// Gaps and overlaps of the units layer (the layer checked before any units exist).
fn boundary_issues(
    raw: &RawTable,
    schema: &TableSchema,
    outcomes: &[RowOutcome],
    issues: &mut Vec<Issue>,
) {
    let Some(code_field) = schema
        .primary_key
        .first()
        .and_then(|k| schema.field_index(k))
    else {
        return;
    };
    let units: Vec<(String, Vec<u8>)> = raw
        .rows
        .iter()
        .zip(outcomes)
        .filter_map(|(r, o)| {
            Some((
                o.values[code_field].as_str()?.to_owned(),
                r.geometry.as_ref()?.to_vec(),
            ))
        })
        .collect();
    let row_of: HashMap<&str, &RawRow> = raw
        .rows
        .iter()
        .zip(outcomes)
        .filter_map(|(r, o)| Some((o.values[code_field].as_str()?, r)))
        .collect();
    let Some(first) = raw.files.first() else {
        return;
    };
    for p in boundary_problems(&units, 1e-10) {
        let (row, value, zh, en, rule, file) = match &p {
            BoundaryProblem::Overlap { a, b, area } => {
                let r = row_of.get(a.as_str());
                (
                    r.map(|r| r.row),
                    format!("{a}/{b}"),
                    format!("{a} 与 {b} 的边界重叠（约 {:.0} 平方米）", area * 1.2e10),
                    format!("{a} and {b} overlap (about {:.0} m²)", area * 1.2e10),
                    "boundary_overlap",
                    r.map(|r| raw.files[r.file as usize].path.clone())
                        .unwrap_or_else(|| first.path.clone()),
                )
            }
            BoundaryProblem::Gap { at, area } => (
                None,
                format!("{:.6},{:.6}", at.0, at.1),
                format!(
                    "边界存在缝隙（约 {:.0} 平方米），位于 {:.6}, {:.6}",
                    area * 1.2e10,
                    at.0,
                    at.1
                ),
                format!(
                    "gap between units (about {:.0} m²) at {:.6}, {:.6}",
                    area * 1.2e10,
                    at.0,
                    at.1
                ),
                "boundary_gap",
                first.path.clone(),
            ),
        };
        issues.push(Issue {
            table: schema.code.clone(),
            file,
            sheet: first.sheet.clone(),
            row,
            column: None,
            field: Some("geometry".into()),
            value,
            rule,
            // A topology problem of the layer, not of one record: reported, no record rejected.
            severity: Severity::Warning,
            message_zh: zh,
            message_en: en,
            record_key: String::new(),
            unit: None,
        });
    }
}

fn range_text(f: &FieldSchema, ctx: &Context<'_>) -> String {
    let lo = f
        .min
        .map(|b| num(b.resolve(ctx.reference_year)))
        .unwrap_or_else(|| "-∞".into());
    let hi = f
        .max
        .map(|b| num(b.resolve(ctx.reference_year)))
        .unwrap_or_else(|| "+∞".into());
    format!("[{lo}, {hi}]")
}

fn in_range(f: &FieldSchema, v: f64, ctx: &Context<'_>) -> bool {
    f.min.is_none_or(|b| v >= b.resolve(ctx.reference_year))
        && f.max.is_none_or(|b| v <= b.resolve(ctx.reference_year))
}

/// The registry's name of a code: a township's or county's, or the run's region at any level
/// (530300 is 曲靖市).
fn name_of(ctx: &Context<'_>, code: &str) -> String {
    ctx.registry
        .get(code)
        .map(|d| d.name.clone())
        .or_else(|| ctx.registry.region_name(code))
        .unwrap_or_default()
}

/// Why a (current) township code cannot place a record: not a township of the edition, outside
/// the run's region, or not a unit of the boundary layer; `None` when it can.
fn township_problem(
    ctx: &Context<'_>,
    f: &FieldSchema,
    code: &str,
) -> Option<(&'static str, String, String)> {
    if ctx
        .registry
        .get(code)
        .is_none_or(|d| d.level != DivisionLevel::Township)
    {
        Some((
            "unknown_township_code",
            format!("“{}”{code} 不在 2023 年统计用区划代码中", f.name_zh),
            format!(
                "{}: township code {code} is not in the NBS 2023 division list",
                f.code
            ),
        ))
    } else if !code.starts_with(riskcensus_schema::divisions::region_prefix(
        &ctx.region_code,
    )) {
        Some((
            "township_outside_region",
            format!(
                "乡镇代码 {code}（{}）不属于 {}（{}）",
                name_of(ctx, code),
                ctx.region_code,
                name_of(ctx, &ctx.region_code)
            ),
            format!("township {code} is not in region {}", ctx.region_code),
        ))
    } else if let Some(units) = ctx.units
        && !units.covers_code(code)
    {
        Some((
            "township_not_in_units",
            format!(
                "乡镇代码 {code}（{}）不在乡镇边界图层中",
                name_of(ctx, code)
            ),
            format!("township {code} is not in the units (boundary) layer"),
        ))
    } else {
        None
    }
}

/// A unit code of no edition of the division list, with the current code of the same name when the
/// record carries one.
fn unknown_unit(
    ctx: &Context<'_>,
    f: &FieldSchema,
    code: &str,
    name: Option<&str>,
) -> (&'static str, String, String) {
    let (mean_zh, mean_en) = codes::suggestion(codes::did_you_mean(ctx, code, name));
    (
        "unknown_unit_code",
        format!(
            "“{}”{code} 不在 {} 统计用区划代码中（旧版代码？）{mean_zh}",
            f.name_zh,
            riskcensus_schema::divisions::EDITION
        ),
        format!(
            "{}: unit code {code} is not in the division list ({}): a code of another edition?{mean_en}",
            f.code,
            riskcensus_schema::divisions::EDITION
        ),
    )
}

/// The code of a unit layer (checked before any units exist) that no township rule covers, e.g. a
/// county layer: it must be a code of the registry's edition, or one the change list retired in
/// favour of one (the unit is then graded under its successor, merged with any other unit the
/// change merged into it), or the unit would be graded under a code no other table can match.
/// Returns the code the unit is graded under.
fn unit_layer_code(
    schema: &TableSchema,
    values: &[Value],
    field_ok: &[bool],
    ctx: &Context<'_>,
    township_valid: &mut HashMap<usize, bool>,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    if ctx.units.is_some() || schema.geometry != GeometryKind::Polygon {
        return None;
    }
    let k = schema
        .primary_key
        .first()
        .and_then(|k| schema.field_index(k))?;
    if township_valid.contains_key(&k) || !field_ok[k] {
        return None;
    }
    let code = values[k].as_str()?;
    let name = codes::paired_name(schema, k).and_then(|kn| values[kn].as_str());
    let successor = codes::successor(&ctx.stale, code);
    let target = successor.unwrap_or(code);
    let known = ctx.registry.get(target).is_some();
    let f = &schema.fields[k];
    let problem = match (known, successor) {
        (true, None) => None,
        (true, Some(new)) => {
            let (zh, en) = codes::merger(ctx, new);
            findings.push(finding(
                k,
                code.to_owned(),
                "unit_code_retired",
                Severity::Warning,
                format!("单元代码 {code} 已撤销（{zh}），按 {new} 评估"),
                format!("unit code {code} was retired ({en}); graded as {new}"),
            ));
            None
        }
        (false, Some(new)) => Some((
            "retired_unit_code",
            format!("单元代码 {code} 已撤销，现为 {new}，但 {new} 不在 2023 年统计用区划代码中",),
            format!(
                "unit code {code} was retired; it is now {new}, which is not in the NBS 2023 division list"
            ),
        )),
        (false, None) => Some(unknown_unit(ctx, f, code, name)),
    };
    let ok = problem.is_none();
    if let Some((rule, zh, en)) = problem {
        findings.push(finding(k, code.to_owned(), rule, Severity::Error, zh, en));
    }
    township_valid.insert(k, ok);
    ok.then(|| target.to_owned())
}

/// The code of a row of a per-unit indicator table ([`Rule::UnitCode`]): written back as text
/// when Excel made it a number, its leading zeros restored when the table's other codes show it
/// lost them (a warning: the record stays), and with `registry`, a code of the edition that no
/// change retired. An indicator row is not merged into its successor (its figures would have to
/// be combined with the successor's), so a retired code is an error naming the change. Returns
/// the code the row stands for.
fn unit_code_rule(
    schema: &TableSchema,
    values: &mut [Value],
    field_ok: &mut [bool],
    ctx: &Context<'_>,
    findings: &mut Vec<Finding>,
    repaired: &mut u32,
) -> Option<String> {
    let (field, digits, registry) = schema.rules.iter().find_map(|r| match r {
        Rule::UnitCode {
            field,
            digits,
            registry,
        } => Some((field, *digits, *registry)),
        _ => None,
    })?;
    let k = schema.field_index(field)?;
    let given = values[k].as_str().filter(|_| field_ok[k])?.to_owned();
    let f = &schema.fields[k];
    // A division code never lost a leading zero (none starts with one): a shorter code that is in
    // the list is a unit of another level, kept as it is and checked like the others.
    let digits = digits.filter(|_| !(registry && ctx.registry.get(given.trim()).is_some()));
    let code = match codes::normalise_unit_code(&given, digits) {
        codes::UnitCode::Kept(code) => code,
        codes::UnitCode::ZerosRestored { from, to } => {
            findings.push(finding(
                k,
                given.clone(),
                "code_zeros_restored",
                Severity::Warning,
                format!("“{}”{from} 缺少前导零（被 Excel 当作数字？），已补为 {to}", f.name_zh),
                format!(
                    "{}: {from} lost its leading zeros (read as a number by Excel?); repaired to {to}",
                    f.code
                ),
            ));
            to
        }
        codes::UnitCode::Bad(code) => {
            field_ok[k] = false;
            let n = digits.unwrap_or(0);
            findings.push(finding(
                k,
                given.clone(),
                "bad_unit_code",
                Severity::Error,
                format!(
                    "“{}”{code} 不是 {n} 位数字代码（本表其他代码均为 {n} 位）",
                    f.name_zh
                ),
                format!(
                    "{}: {code:?} is not a {n}-digit code like the table's others",
                    f.code
                ),
            ));
            return None;
        }
    };
    if code != given {
        *repaired += 1;
        values[k] = Value::Text(code.as_str().into());
    }
    if !registry {
        return Some(code);
    }
    let name = codes::paired_name(schema, k).and_then(|kn| values[kn].as_str());
    let problem = if let Some(new) = codes::successor(&ctx.stale, &code) {
        let (zh, en) = codes::merger(ctx, new);
        Some((
            "retired_unit_code",
            format!("单元代码 {code} 已撤销（{zh}），其指标应并入 {new} 后重报"),
            format!("unit code {code} was retired ({en}); its figures belong in {new}'s row"),
        ))
    } else if ctx.registry.get(&code).is_none() {
        Some(unknown_unit(ctx, f, &code, name))
    } else {
        None
    };
    match problem {
        Some((rule, zh, en)) => {
            field_ok[k] = false;
            findings.push(finding(k, given, rule, Severity::Error, zh, en));
            None
        }
        None => Some(code),
    }
}

/// A point that falls in no unit: names the nearest unit and the distance, and says so when a
/// GCJ-02 shift (either way: the point from a web map, or the boundaries) would place it.
fn outside_units(field: usize, x: f64, y: f64, units: &UnitIndex, ctx: &Context<'_>) -> Finding {
    let nearest = units.nearest(x, y);
    let (near_zh, near_en) = match nearest {
        Some((code, m)) => (
            format!(
                "；最近的单元为{}（{code}），相距约 {:.0} 米",
                name_of(ctx, code),
                m
            ),
            format!("; the nearest unit is {code}, about {m:.0} m away"),
        ),
        None => (String::new(), String::new()),
    };
    let (wx, wy) = gcj02_to_wgs84(x, y);
    let (gx, gy) = wgs84_to_gcj02(x, y);
    let (shift_zh, shift_en) = if let Some(at) = units.locate(wx, wy) {
        (
            format!(
                "；按火星坐标（GCJ-02）纠偏后落在{}（{at}）内，疑似坐标取自网络地图",
                name_of(ctx, at)
            ),
            format!("; corrected from GCJ-02 it falls in {at}: coordinates from a web map?"),
        )
    } else if let Some(at) = units.locate(gx, gy) {
        (
            format!(
                "；按 GCJ-02 偏移后落在{}（{at}）内，疑似边界图层为火星坐标",
                name_of(ctx, at)
            ),
            format!("; shifted to GCJ-02 it falls in {at}: are the unit boundaries GCJ-02?"),
        )
    } else {
        (String::new(), String::new())
    };
    finding(
        field,
        format!("{}, {}", num(x), num(y)),
        "point_outside_units",
        Severity::Error,
        format!(
            "坐标 {}, {} 不在任何评估单元内，无法归属{near_zh}{shift_zh}",
            num(x),
            num(y)
        ),
        format!(
            "point {}, {} falls in no unit and cannot be assigned{near_en}{shift_en}",
            num(x),
            num(y)
        ),
    )
}

fn check_row(raw: &RawRow, schema: &TableSchema, ctx: &Context<'_>) -> RowOutcome {
    let mut findings = Vec::new();
    let mut values = Vec::with_capacity(schema.fields.len());
    let mut repaired = 0u32;
    // The unit a record without a declared township falls in.
    let mut point_unit: Option<String> = None;
    let mut skip_range = vec![false; schema.fields.len()];

    // Swapped coordinates first: both values would otherwise fail their ranges, which hides the cause.
    for rule in &schema.rules {
        if let Rule::PointInUnit { lon, lat, .. } = rule
            && let (Some(a), Some(b)) = (schema.field_index(lon), schema.field_index(lat))
            && let (Ok(x), Ok(y)) = (
                coerce(&raw.cells[a], schema.fields[a].ty),
                coerce(&raw.cells[b], schema.fields[b].ty),
            )
            && let (Some(x), Some(y)) = (x.as_f64(), y.as_f64())
            && !in_range(&schema.fields[a], x, ctx)
            && !in_range(&schema.fields[b], y, ctx)
            && in_range(&schema.fields[a], y, ctx)
            && in_range(&schema.fields[b], x, ctx)
        {
            skip_range[a] = true;
            skip_range[b] = true;
            findings.push(finding(
                a,
                format!("{}, {}", num(x), num(y)),
                "swapped_lon_lat",
                Severity::Error,
                format!("经纬度疑似填反：经度 {}、纬度 {}", num(x), num(y)),
                format!(
                    "longitude and latitude look swapped: lon {}, lat {}",
                    num(x),
                    num(y)
                ),
            ));
        }
    }

    let mut field_ok = vec![true; schema.fields.len()];
    for (k, f) in schema.fields.iter().enumerate() {
        let cell = &raw.cells[k];
        let v = match coerce(cell, f.ty) {
            Ok(v) => v,
            Err(()) => {
                let shown = cell.display();
                field_ok[k] = false;
                findings.push(finding(
                    k,
                    shown.clone(),
                    "type_mismatch",
                    Severity::Error,
                    format!("“{}”的值“{shown}”不是{}", f.name_zh, type_zh(f.ty)),
                    format!("{}: {shown:?} is not a {}", f.code, type_en(f.ty)),
                ));
                values.push(Value::Null);
                continue;
            }
        };
        if !v.is_null()
            && matches!(cell, riskcensus_ingest::RawCell::Text(s) if s.as_ref() != v.as_str().unwrap_or(s.as_ref()))
        {
            repaired += 1;
        }
        if v.is_null() {
            if f.required {
                field_ok[k] = false;
                findings.push(finding(
                    k,
                    String::new(),
                    "missing_required",
                    Severity::Error,
                    format!("必填项“{}”为空", f.name_zh),
                    format!("required field {} ({}) is empty", f.code, f.name_en),
                ));
            }
            values.push(v);
            continue;
        }
        if let Some(x) = v.as_f64()
            && !skip_range[k]
            && !in_range(f, x, ctx)
        {
            field_ok[k] = false;
            findings.push(finding(
                k,
                num(x),
                "out_of_range",
                Severity::Error,
                format!(
                    "“{}”的值 {} 超出范围 {}",
                    f.name_zh,
                    num(x),
                    range_text(f, ctx)
                ),
                format!("{} = {} is outside {}", f.code, num(x), range_text(f, ctx)),
            ));
        }
        if let Some(s) = v.as_str() {
            if let Some(p) = &f.pattern
                && !p.is_match(s)
            {
                field_ok[k] = false;
                findings.push(finding(
                    k,
                    s.to_owned(),
                    "pattern_mismatch",
                    Severity::Error,
                    format!("“{}”的值“{s}”格式不符", f.name_zh),
                    format!("{} {s:?} does not match {}", f.code, p.as_str()),
                ));
            }
            if let Some(list) = &f.codes
                && let Some(values) = ctx.schemas.codes.get(list)
                && !values.iter().any(|x| x == s)
            {
                field_ok[k] = false;
                let list_zh = ctx
                    .schemas
                    .code_names
                    .get(list)
                    .cloned()
                    .unwrap_or_else(|| list.clone());
                findings.push(finding(
                    k,
                    s.to_owned(),
                    "not_in_code_list",
                    Severity::Error,
                    format!("“{}”的值“{s}”不在代码表“{list_zh}”中", f.name_zh),
                    format!("{} {s:?} is not in code list {list}", f.code),
                ));
            }
        }
        values.push(v);
    }

    // Cross-table: township codes, as the change list makes them (a retired code counts in its
    // successor when that one is a unit of the run).
    let mut unit: Option<String> = None;
    let mut township_valid: HashMap<usize, bool> = HashMap::new();
    let mut declared_units: HashMap<usize, String> = HashMap::new();
    for rule in &schema.rules {
        let Rule::TownshipCode { field, prefix } = rule else {
            continue;
        };
        let Some(k) = schema.field_index(field) else {
            continue;
        };
        let Some(s) = values[k].as_str().filter(|_| field_ok[k]) else {
            township_valid.insert(k, false);
            continue;
        };
        let code = s.get(..*prefix).unwrap_or(s);
        let successor = codes::successor(&ctx.stale, code);
        let target = successor.unwrap_or(code);
        let name = codes::paired_name(schema, k).and_then(|kn| values[kn].as_str());
        let ok = match (township_problem(ctx, &schema.fields[k], target), successor) {
            (None, None) => true,
            (None, Some(new)) => {
                let (zh, en) = codes::merger(ctx, new);
                findings.push(finding(
                    k,
                    s.to_owned(),
                    "township_code_retired",
                    Severity::Warning,
                    format!("乡镇代码 {code} 已撤销（{zh}），按 {new} 统计"),
                    format!("township code {code} was retired ({en}); counted in {new}"),
                ));
                true
            }
            (Some((_, why_zh, why_en)), Some(new)) => {
                let (zh, en) = codes::merger(ctx, new);
                findings.push(finding(
                    k,
                    s.to_owned(),
                    "stale_township_code",
                    Severity::Error,
                    format!("乡镇代码 {code} 已撤销（{zh}），但现行代码不可用：{why_zh}"),
                    format!(
                        "township code {code} was retired ({en}), and its successor cannot be used: {why_en}"
                    ),
                ));
                false
            }
            (Some((rule, zh, en)), None) => {
                let (mean_zh, mean_en) = if rule == "unknown_township_code" {
                    codes::suggestion(codes::did_you_mean(ctx, code, name))
                } else {
                    (String::new(), String::new())
                };
                findings.push(finding(
                    k,
                    s.to_owned(),
                    rule,
                    Severity::Error,
                    zh + &mean_zh,
                    en + &mean_en,
                ));
                false
            }
        };
        if ok {
            declared_units.insert(k, target.to_owned());
            if unit.is_none() {
                unit = Some(target.to_owned());
            }
        }
        township_valid.insert(k, ok);
    }

    if let Some(code) = unit_layer_code(
        schema,
        &values,
        &field_ok,
        ctx,
        &mut township_valid,
        &mut findings,
    ) {
        unit = Some(code);
    }
    if let Some(code) = unit_code_rule(
        schema,
        &mut values,
        &mut field_ok,
        ctx,
        &mut findings,
        &mut repaired,
    ) {
        unit = Some(code);
    }

    for rule in &schema.rules {
        match rule {
            Rule::TownshipCode { .. } | Rule::UnitCode { .. } | Rule::DuplicateRecord { .. } => {}
            Rule::VillagePrefix { village, township } => {
                let (Some(kv), Some(kt)) =
                    (schema.field_index(village), schema.field_index(township))
                else {
                    continue;
                };
                if !field_ok[kv] || township_valid.get(&kt) == Some(&false) {
                    continue;
                }
                if let (Some(v), Some(t)) = (values[kv].as_str(), values[kt].as_str())
                    && v.get(..9) != Some(t)
                {
                    findings.push(finding(
                        kv,
                        v.to_owned(),
                        "village_prefix_mismatch",
                        Severity::Error,
                        format!("村（社区）代码 {v} 的前 9 位与乡镇代码 {t} 不一致"),
                        format!("village code {v} does not start with its township code {t}"),
                    ));
                }
            }
            Rule::PointInUnit {
                lon,
                lat,
                township,
                village,
            } => {
                let (Some(a), Some(b)) = (schema.field_index(lon), schema.field_index(lat)) else {
                    continue;
                };
                if !field_ok[a] || !field_ok[b] || skip_range[a] {
                    continue;
                }
                let (Some(x), Some(y)) = (values[a].as_f64(), values[b].as_f64()) else {
                    continue;
                };
                let declared_field = township
                    .as_deref()
                    .or(village.as_deref())
                    .and_then(|f| schema.field_index(f));
                let Some(units) = ctx.units else { continue };
                let declared_ok = declared_field.map(|kd| township_valid.get(&kd) == Some(&true));
                // A record that names no township (no such column, or left empty) is placed by its
                // point; one that names an invalid township already carries that error.
                let names_none = declared_field.is_none_or(|kd| values[kd].is_null());
                if declared_ok != Some(true) {
                    if names_none {
                        match units.locate(x, y) {
                            Some(at) => point_unit = Some(at.to_owned()),
                            None => findings.push(outside_units(a, x, y, units, ctx)),
                        }
                    }
                    continue;
                }
                let Some(kd) = declared_field else { continue };
                let Some(declared) = declared_units.get(&kd).map(String::as_str) else {
                    continue;
                };
                let at = units.locate(x, y);
                // Units may be townships or larger (counties): a unit covers the codes it prefixes.
                let covers = |u: Option<&str>| u.is_some_and(|u| declared.starts_with(u));
                if covers(at) {
                    continue;
                }
                let back = gcj02_to_wgs84(x, y);
                let (rule, zh, en) = if covers(units.locate(back.0, back.1)) {
                    (
                        "gcj02_offset",
                        format!(
                            "坐标 {}, {} 疑似火星坐标（GCJ-02）偏移：纠偏后位于所报{}（{declared}）内",
                            num(x),
                            num(y),
                            name_of(ctx, declared)
                        ),
                        format!(
                            "point {}, {} looks GCJ-02 shifted: corrected, it falls in its township {declared}",
                            num(x),
                            num(y)
                        ),
                    )
                } else if let Some(at) = at {
                    (
                        "point_outside_township",
                        format!(
                            "坐标位于{}（{at}），不在所报{}（{declared}）内",
                            name_of(ctx, at),
                            name_of(ctx, declared)
                        ),
                        format!("point falls in township {at}, not in its township {declared}"),
                    )
                } else {
                    (
                        "point_outside_county",
                        format!(
                            "坐标 {}, {} 不在{}（{}）范围内",
                            num(x),
                            num(y),
                            name_of(ctx, &ctx.region_code),
                            ctx.region_code
                        ),
                        format!(
                            "point {}, {} is outside the region {}",
                            num(x),
                            num(y),
                            ctx.region_code
                        ),
                    )
                };
                findings.push(finding(
                    a,
                    format!("{}, {}", num(x), num(y)),
                    rule,
                    Severity::Error,
                    zh,
                    en,
                ));
            }
            Rule::HeightPerFloor {
                height,
                floors,
                min,
                max,
                severity,
            } => {
                let (Some(kh), Some(kf)) = (schema.field_index(height), schema.field_index(floors))
                else {
                    continue;
                };
                if !field_ok[kh] || !field_ok[kf] {
                    continue;
                }
                if let (Some(h), Some(n)) = (values[kh].as_f64(), values[kf].as_f64())
                    && n >= 1.0
                {
                    let per = h / n;
                    if per < *min || per > *max {
                        findings.push(finding(
                            kh,
                            num(h),
                            "height_floors_mismatch",
                            *severity,
                            format!(
                                "建筑高度 {} 米与地上层数 {} 不符（每层 {:.1} 米，应在 {}–{} 米）",
                                num(h),
                                num(n),
                                per,
                                num(*min),
                                num(*max)
                            ),
                            format!(
                                "height {} m for {} floors is {:.1} m a floor, outside {}–{} m",
                                num(h),
                                num(n),
                                per,
                                num(*min),
                                num(*max)
                            ),
                        ));
                    }
                }
            }
        }
    }

    // Geometry of vector records.
    if matches!(schema.geometry, GeometryKind::Polygon | GeometryKind::Line)
        || raw.geometry.is_some()
    {
        match raw.geometry.as_deref() {
            None if schema.geometry == GeometryKind::Polygon => findings.push(geometry_finding(
                "missing_geometry",
                "缺少图形",
                "the record has no geometry",
            )),
            None => {}
            Some(w) => match parse_wkb(w) {
                Err(_) => findings.push(geometry_finding(
                    "invalid_geometry",
                    "图形数据无法解析",
                    "the geometry cannot be parsed",
                )),
                Ok(g) if is_empty(&g) => findings.push(geometry_finding(
                    "empty_geometry",
                    "图形为空",
                    "the geometry is empty",
                )),
                Ok(Geom::Polygon(_)) => {
                    if is_valid_wkb(w) == Some(false) {
                        findings.push(geometry_finding(
                            "invalid_polygon",
                            "面图形无效（自相交或环方向错误）",
                            "invalid polygon (self-intersection or bad rings)",
                        ));
                    }
                }
                Ok(_) => {}
            },
        }
    }
    let unit_from_point = unit.is_none() && point_unit.is_some();
    if unit_from_point {
        unit = point_unit;
    }
    // The units layer's own code is its unit.
    if unit.is_none()
        && ctx.units.is_none()
        && let Some(k) = schema
            .primary_key
            .first()
            .and_then(|k| schema.field_index(k))
        && township_valid.get(&k) == Some(&true)
    {
        unit = values[k].as_str().map(str::to_owned);
    }
    RowOutcome {
        values,
        findings,
        unit,
        unit_from_point,
        repaired,
    }
}
