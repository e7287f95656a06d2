//! Checking one table.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use riskcensus_ingest::{RawRow, RawTable, SourceFile};
use riskcensus_schema::{GeometryKind, Rule, Severity, TableSchema};
use riskcensus_spatial::{BoundaryProblem, boundary_problems};

use crate::coerce::Values;
use crate::review::{Mark, Review, TableReview, place_hash, record_hash};
use crate::rules::duplicate_record::{DuplicateRule, duplicate_records};
use crate::rules::unique::{FirstSeen, unique_field};
use crate::rules::{Finding, Plan, Row};
use crate::{CleanRow, CleanTable, Context, Counts, Issue, TableResult};

/// A record as checked. Once its findings are final it is settled: what issues need of its raw
/// cells is kept and the cells are dropped.
pub(crate) struct RowOutcome {
    pub(crate) file: u16,
    pub(crate) row: u32,
    pub(crate) values: Values,
    pub(crate) findings: Vec<Finding>,
    pub(crate) unit: Option<String>,
    pub(crate) unit_from_point: bool,
    pub(crate) repaired: u32,
    /// The record's primary key as the file writes it (set when settled).
    pub(crate) record_key: String,
    /// The record's fingerprint for the reviewers' marks; only records with findings need it
    /// (set when settled).
    pub(crate) hash: u64,
    /// Moved from the raw record when settled.
    pub(crate) geometry: Option<Box<[u8]>>,
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
    let plan = Plan::new(schema);
    let mut passes = Passes::new(schema);
    let mut outcomes: Vec<RowOutcome> = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter();
    loop {
        let batch: Vec<RawRow> = rows.by_ref().take(batch_rows).collect();
        if batch.is_empty() {
            break;
        }
        let start = outcomes.len();
        outcomes.par_extend(batch.par_iter().map(|r| check_row(&plan, r, schema, ctx)));
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
        missing_units(&files, schema, &outcomes, ctx, &mut issues);
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

/// Townships of the run's region that a township layer does not hold: their records fall in no
/// unit and no grade would say so (a layer with 13 of a district's 16 townships graded 13, silently).
/// A layer of other units (counties) is not compared.
fn missing_units(
    files: &[SourceFile],
    schema: &TableSchema,
    outcomes: &[RowOutcome],
    ctx: &Context<'_>,
    issues: &mut Vec<Issue>,
) {
    let (Some(first), Some(k)) = (
        files.first(),
        schema
            .primary_key
            .first()
            .and_then(|c| schema.field_index(c)),
    ) else {
        return;
    };
    let mut held: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for o in outcomes {
        held.extend(o.values.at(k).as_str());
        held.extend(o.unit.as_deref());
    }
    if held.is_empty() || held.iter().any(|c| c.len() != 9) {
        return;
    }
    let prefix = riskcensus_schema::divisions::region_prefix(&ctx.region_code);
    for d in ctx.registry.within(prefix) {
        if d.level != riskcensus_schema::DivisionLevel::Township || held.contains(d.code.as_str()) {
            continue;
        }
        issues.push(Issue {
            table: schema.code.clone(),
            file: first.path.clone(),
            sheet: first.sheet.clone(),
            row: None,
            column: None,
            field: Some(schema.fields[k].code.clone()),
            value: d.code.clone(),
            rule: "unit_missing_from_layer",
            severity: Severity::Warning,
            message_zh: format!(
                "{}（{}）的乡镇 {}（{}）不在边界图层中：落在其中的记录无法归属和评估",
                ctx.registry.region_name(&ctx.region_code).unwrap_or_default(),
                ctx.region_code,
                d.code,
                d.name
            ),
            message_en: format!(
                "township {} ({}) of region {} is not in the units layer: records in it cannot be assigned or graded",
                d.code, d.name, ctx.region_code
            ),
            record_key: String::new(),
            unit: None,
        });
    }
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

/// One record through the table's rules, and the unit it belongs to.
fn check_row(plan: &Plan, raw: &RawRow, schema: &TableSchema, ctx: &Context<'_>) -> RowOutcome {
    let Row {
        values,
        findings,
        mut unit,
        point_unit,
        township_valid,
        repaired,
        ..
    } = plan.check(raw, schema, ctx);
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
