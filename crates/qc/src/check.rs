//! Checking one table.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use riskcensus_ingest::{CellRef, RawRow, RawTable, SourceFile};
use riskcensus_schema::{DivisionLevel, FieldSchema, GeometryKind, Rule, Severity, TableSchema};
use riskcensus_spatial::gcj02::{gcj02_to_wgs84, wgs84_to_gcj02};
use riskcensus_spatial::{
    BoundaryProblem, Geom, UnitIndex, boundary_problems, is_empty, is_valid_wkb, parse_wkb,
};

use crate::codes;
use crate::coerce::{Value, ValueRef, Values, coerce};
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

/// A record as checked. Once its findings are final it is settled: what issues need of its raw
/// cells is kept and the cells are dropped.
struct RowOutcome {
    file: u16,
    row: u32,
    values: Values,
    findings: Vec<Finding>,
    unit: Option<String>,
    unit_from_point: bool,
    repaired: u32,
    /// The record's primary key as the file writes it (set when settled).
    record_key: String,
    /// The record's fingerprint for the reviewers' marks; only records with findings need it
    /// (set when settled).
    hash: u64,
    /// Moved from the raw record when settled.
    geometry: Option<Box<[u8]>>,
}

impl RowOutcome {
    fn settle(&mut self, raw: RawRow, key_fields: &[usize]) {
        self.record_key = key_fields
            .iter()
            .map(|&k| raw.cells.at(k).display().trim().to_owned())
            .collect::<Vec<_>>()
            .join("|");
        if !self.findings.is_empty() {
            self.hash = record_hash(&raw);
        }
        self.geometry = raw.geometry;
    }
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
///
/// Records are checked in batches, in file order: a batch's checks run in parallel, then its
/// uniqueness and duplicate-record passes against what earlier batches held, and then its raw cells
/// are dropped (only the record key, the fingerprint and the geometry are kept). So the raw cells
/// and the checked values of a whole table are never held at once.
pub fn check_table_reviewed(
    raw: RawTable,
    schema: &TableSchema,
    ctx: &Context<'_>,
    review: &mut Review,
) -> (TableResult, TableReview) {
    check_in_batches(raw, schema, ctx, review, BATCH)
}

fn check_in_batches(
    raw: RawTable,
    schema: &TableSchema,
    ctx: &Context<'_>,
    review: &mut Review,
    batch_rows: usize,
) -> (TableResult, TableReview) {
    let RawTable { files, rows, .. } = raw;
    let mut passes = Passes::new(schema);
    let mut outcomes: Vec<RowOutcome> = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter();
    loop {
        let batch: Vec<RawRow> = rows.by_ref().take(batch_rows).collect();
        if batch.is_empty() {
            break;
        }
        let start = outcomes.len();
        outcomes.par_extend(batch.par_iter().map(|r| check_row(r, schema, ctx)));
        passes.run(schema, &files, &batch, &mut outcomes, start);
        outcomes[start..]
            .par_iter_mut()
            .zip(batch.into_par_iter())
            .for_each(|(o, r)| o.settle(r, &passes.key_fields));
    }
    drop(rows);

    let mut issues = file_issues(&files, schema);
    if schema.geometry == GeometryKind::Polygon && ctx.units.is_none() {
        boundary_issues(&files, schema, &outcomes, &mut issues);
    }

    let mut marks: Vec<Mark> = issues
        .iter()
        .map(|i| review.mark(i, place_hash(i)))
        .collect();
    let per_row = indicators_per_record(&files, schema);
    let missing_required_columns = missing_required_columns(&files, schema);
    let mut counts = Counts::default();
    let mut by_unit: BTreeMap<Option<String>, Counts> = BTreeMap::new();
    let mut clean_rows = Vec::with_capacity(outcomes.len());
    let mut rejected = 0u64;
    let mut repaired = 0u64;
    for o in outcomes {
        let first_issue = issues.len();
        repaired += o.repaired as u64;
        let source = &files[o.file as usize];
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
                row: Some(o.row),
                column,
                field,
                value: f.value.clone(),
                rule: f.rule,
                severity: f.severity,
                message_zh: f.zh.clone(),
                message_en: f.en.clone(),
                record_key: o.record_key.clone(),
                unit: o.unit.clone(),
            });
            marks.push(review.mark(&issues[issues.len() - 1], o.hash));
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
            c.indicators_checked += per_row[o.file as usize];
            c.errors += errors;
            c.rejected += u64::from(errors > 0);
        }
        if errors > 0 {
            rejected += 1;
        } else {
            clean_rows.push(CleanRow {
                file: o.file,
                row: o.row,
                values: o.values,
                geometry: o.geometry,
                unit: o.unit,
                unit_from_point: o.unit_from_point,
            });
        }
    }
    let rows_clean = clean_rows.len() as u64;
    debug_assert_eq!(counts.records, rows_clean + rejected);
    let result = TableResult {
        table: schema.code.clone(),
        files: files.iter().map(|f| f.path.clone()).collect(),
        rows_read: counts.records,
        rows_clean,
        rows_rejected: rejected,
        empty_rows_skipped: files.iter().map(|f| f.empty_rows_skipped).sum(),
        rows_excluded: files.iter().map(|f| f.records_excluded).sum(),
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

/// Records checked at a time (see [`check_table_reviewed`]).
const BATCH: usize = 1 << 16;

/// The checks that compare a record with the records before it — unique fields and duplicate
/// records — with what they remember of earlier batches: per value, the first record holding it.
struct Passes {
    /// Unique fields: index, the rule they raise, and the values seen.
    unique: Vec<(usize, &'static str, FirstSeen)>,
    duplicates: Vec<DuplicateRule>,
    /// The primary key's fields, which make the record key of issues.
    key_fields: Vec<usize>,
}

impl Passes {
    fn new(schema: &TableSchema) -> Passes {
        let unique = schema
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.unique)
            .map(|(k, f)| {
                let rule = if schema.primary_key.contains(&f.code) {
                    "duplicate_id"
                } else {
                    "duplicate_value"
                };
                (k, rule, FirstSeen::default())
            })
            .collect();
        let duplicates = schema
            .rules
            .iter()
            .filter_map(|rule| {
                let Rule::DuplicateRecord { fields, severity } = rule else {
                    return None;
                };
                let ks: Vec<usize> = fields
                    .iter()
                    .filter_map(|f| schema.field_index(f))
                    .collect();
                let key_field = schema
                    .primary_key
                    .first()
                    .and_then(|k| schema.field_index(k))
                    .or_else(|| ks.first().copied())?;
                Some(DuplicateRule {
                    fields: ks,
                    names: fields.join(", "),
                    severity: *severity,
                    key_field,
                    seen: FirstSeen::default(),
                })
            })
            .collect();
        let key_fields = schema
            .primary_key
            .iter()
            .filter_map(|k| schema.field_index(k))
            .collect();
        Passes {
            unique,
            duplicates,
            key_fields,
        }
    }

    /// Runs the passes over `outcomes[start..]`, the records of `batch`.
    fn run(
        &mut self,
        schema: &TableSchema,
        files: &[SourceFile],
        batch: &[RawRow],
        outcomes: &mut [RowOutcome],
        start: usize,
    ) {
        for (k, rule, seen) in &mut self.unique {
            let field = &schema.fields[*k];
            unique_field(field, *k, rule, seen, files, &mut outcomes[..], start);
        }
        for rule in &mut self.duplicates {
            duplicate_records(rule, batch, outcomes, start);
        }
    }
}

/// Per value (by hash), the first record holding it; a later record with an equal value is a
/// repeat. Hashes are only an index: equal hashes are confirmed on the values themselves.
#[derive(Default)]
struct FirstSeen {
    first: HashMap<u64, usize>,
    /// Further records whose values share a hash with an unequal earlier one (rare).
    more: HashMap<u64, Vec<usize>>,
}

impl FirstSeen {
    /// The earlier record equal to record `i` (by `same`), or `None` after remembering `i` as the
    /// first of its value.
    fn earlier(&mut self, h: u64, i: usize, same: impl Fn(usize) -> bool) -> Option<usize> {
        let Some(&j) = self.first.get(&h) else {
            self.first.insert(h, i);
            return None;
        };
        if same(j) {
            return Some(j);
        }
        let more = self.more.entry(h).or_default();
        if let Some(&j) = more.iter().find(|&&j| same(j)) {
            return Some(j);
        }
        more.push(i);
        None
    }
}

fn hash_of(v: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(v)
}

/// A unique field: the first record holding a value stands, later ones are reported, naming the
/// first's row and file. A value whose own check failed is not compared.
fn unique_field(
    field: &FieldSchema,
    k: usize,
    rule: &'static str,
    seen: &mut FirstSeen,
    files: &[SourceFile],
    outcomes: &mut [RowOutcome],
    start: usize,
) {
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for i in start..outcomes.len() {
        let o = &outcomes[i];
        let field_failed = o
            .findings
            .iter()
            .any(|x| x.field == Some(k) && x.severity == Severity::Error);
        let (ValueRef::Text(s), false) = (o.values.at(k), field_failed) else {
            continue;
        };
        let same = |j: usize| outcomes[j].values.at(k).as_str() == Some(s);
        if let Some(j) = seen.earlier(hash_of(s), i, same) {
            repeats.push((i, j));
        }
    }
    for (i, j) in repeats {
        let (first_row, first_file) = (outcomes[j].row, &files[outcomes[j].file as usize].path);
        let v = outcomes[i].values.at(k).as_str().unwrap_or("").to_owned();
        let f = finding(
            k,
            v.clone(),
            rule,
            Severity::Error,
            format!(
                "“{}”的值“{v}”与 {first_file} 第 {first_row} 行重复",
                field.name_zh
            ),
            format!(
                "{} {v:?} repeats the one at row {first_row} of {first_file}",
                field.code
            ),
        );
        outcomes[i].findings.push(f);
    }
}

/// A duplicate-record rule and the records it has seen.
struct DuplicateRule {
    /// The fields compared, by index, and as the rule names them.
    fields: Vec<usize>,
    names: String,
    severity: Severity,
    /// The field a finding is reported on (the primary key's first).
    key_field: usize,
    seen: FirstSeen,
}

/// Same place and attributes: the first record stands, later copies are reported on the record key.
fn duplicate_records(
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
/// Indicators one record of each file holds: the fields the file has a column for (or that come
/// from its geometry), every required field (absent, it is still owed), and the geometry of a
/// polygon table. A field the file lacks was never filled in, so it is no indicator of the file's
/// quality: counting it would dilute the 差错率 of a file that has few columns.
fn indicators_per_record(files: &[SourceFile], schema: &TableSchema) -> Vec<u64> {
    let geometry = u64::from(schema.geometry == GeometryKind::Polygon);
    files
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
fn missing_required_columns(files: &[SourceFile], schema: &TableSchema) -> Vec<String> {
    files
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

/// Reader notes (unknown columns, guessed encodings, CRS) as file-level issues.
fn file_issues(files: &[SourceFile], schema: &TableSchema) -> Vec<Issue> {
    files
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
    files: &[SourceFile],
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
    let units: Vec<(String, Vec<u8>)> = outcomes
        .iter()
        .filter_map(|o| {
            Some((
                o.values.at(code_field).as_str()?.to_owned(),
                o.geometry.as_ref()?.to_vec(),
            ))
        })
        .collect();
    let row_of: HashMap<&str, &RowOutcome> = outcomes
        .iter()
        .filter_map(|o| Some((o.values.at(code_field).as_str()?, o)))
        .collect();
    let Some(first) = files.first() else {
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
                    r.map(|r| files[r.file as usize].path.clone())
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
                coerce(raw.cells.at(a), schema.fields[a].ty),
                coerce(raw.cells.at(b), schema.fields[b].ty),
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
        let cell = raw.cells.at(k);
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
        if !v.is_null() && matches!(cell, CellRef::Text(s) if s != v.as_str().unwrap_or(s)) {
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
        file: raw.file,
        row: raw.row,
        values: values.into(),
        findings,
        unit,
        unit_from_point,
        repaired,
        record_key: String::new(),
        hash: 0,
        geometry: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riskcensus_ingest::RawCell;
    use riskcensus_schema::{Registry, SchemaSet};

    /// A school record of 红塔区 with a name, a credit code and a place.
    fn school(schema: &TableSchema, row: u32, name: &str, code: &str, at: (f64, f64)) -> RawRow {
        let mut cells = vec![RawCell::Empty; schema.fields.len()];
        let mut set = |f: &str, v: RawCell| {
            if let Some(k) = schema.field_index(f) {
                cells[k] = v;
            }
        };
        set("xxjgmc", RawCell::Text(name.into()));
        set("qgtyshxydm", RawCell::Text(code.into()));
        set("xzqdm", RawCell::Text("530402001".into()));
        set("lon", RawCell::Number(at.0));
        set("lat", RawCell::Number(at.1));
        RawRow {
            file: (row / 100) as u16,
            row: row % 100,
            cells: cells.into(),
            extra: Default::default(),
            geometry: None,
        }
    }

    fn file(schema: &TableSchema, path: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            sheet: "学校".into(),
            header_row: Some(1),
            field_columns: schema.fields.iter().map(|f| Some(f.code.clone())).collect(),
            extra_columns: Vec::new(),
            encoding: None,
            notes: Vec::new(),
            empty_rows_skipped: 0,
            records_in_file: None,
            records_excluded: 0,
        }
    }

    /// Repeats found by a later batch name the record of an earlier one, as one pass over the
    /// whole table finds them — across files too, where the first record's own file is named.
    #[test]
    fn repeats_are_found_across_batches_as_in_one_pass() {
        let schemas = SchemaSet::builtin().expect("the built-in schemas load");
        let schema = schemas.table("czt_xx").expect("czt_xx is built in");
        let (p, q) = ((102.5431, 24.3512), (102.5502, 24.3601));
        // Rows 2.. of 学校_1.xlsx (file 0) and of 学校_2.xlsx (file 1, rows 1xx).
        let rows = vec![
            school(schema, 2, "玉溪第一中学", "12530400431640123A", p),
            school(schema, 3, "红塔区实验小学", "12530400431640456B", q),
            school(schema, 4, "玉溪第二中学", "12530400431640123A", q),
            school(schema, 5, "玉溪第一中学", "12530400431640789C", p),
            school(
                schema,
                102,
                "北城小学",
                "12530400431640456B",
                (102.56, 24.37),
            ),
            school(schema, 103, "红塔区实验小学", "12530400431640999D", q),
        ];
        let raw = RawTable {
            table: "czt_xx".into(),
            files: vec![file(schema, "学校_1.xlsx"), file(schema, "学校_2.xlsx")],
            rows,
        };
        let ctx = Context {
            registry: Registry::nbs2023(),
            schemas: &schemas,
            reference_year: 2020,
            region_code: "530402".into(),
            stale: BTreeMap::new(),
            units: None,
        };
        let run = |batch| {
            let (result, _) =
                check_in_batches(raw.clone(), schema, &ctx, &mut Review::default(), batch);
            result
        };
        let whole = run(BATCH);
        for batch in [1, 2, 4] {
            let r = run(batch);
            assert_eq!(r.issues, whole.issues, "batches of {batch}");
            assert_eq!(r.counts, whole.counts, "batches of {batch}");
            let rows = |t: &TableResult| {
                t.clean
                    .rows
                    .iter()
                    .map(|c| (c.file, c.row))
                    .collect::<Vec<_>>()
            };
            assert_eq!(rows(&r), rows(&whole), "batches of {batch}");
        }
        let repeats: Vec<(&str, u32, &str, &str)> = whole
            .issues
            .iter()
            .filter(|i| i.rule.starts_with("duplicate"))
            .map(|i| {
                (
                    i.file.as_str(),
                    i.row.unwrap_or(0),
                    i.rule,
                    i.message_en.as_str(),
                )
            })
            .collect();
        assert_eq!(
            repeats,
            [
                (
                    "学校_1.xlsx",
                    4,
                    "duplicate_id",
                    "qgtyshxydm \"12530400431640123A\" repeats the one at row 2 of 学校_1.xlsx"
                ),
                (
                    "学校_1.xlsx",
                    5,
                    "duplicate_record",
                    "same place and attributes (lon, lat, xxjgmc) as row 2: entered twice?"
                ),
                (
                    "学校_2.xlsx",
                    2,
                    "duplicate_id",
                    "qgtyshxydm \"12530400431640456B\" repeats the one at row 3 of 学校_1.xlsx"
                ),
                (
                    "学校_2.xlsx",
                    3,
                    "duplicate_record",
                    "same place and attributes (lon, lat, xxjgmc) as row 3: entered twice?"
                ),
            ]
        );
    }
}
