//! A per-unit indicator table (`[indicators]`): read through the same bounded readers as every
//! census table (csv in UTF-8 or GBK, xlsx, xls, ods; title rows found), given a schema made from
//! its own header, and checked like any table — codes normalised (numbers back to text, lost
//! leading zeros restored), checked against the division list when they are division codes,
//! duplicates rejected — so that only clean rows are scored and every other row is in the issues.

use riskcensus_ingest::{CellRef, Input, RawTable, VectorOptions, read_table};
use riskcensus_qc::codes::{UnitCode, normalise_unit_code, unit_code_digits};
use riskcensus_qc::coerce::{coerce, is_placeholder};
use riskcensus_schema::{FieldSchema, FieldType, GeometryKind, Registry, Rule, TableSchema};

use crate::{Error, IndicatorTable, Result};

/// The table name of an indicator table in reports, summaries and the package.
pub const TABLE: &str = "indicators";
/// Its code and name fields, as the unit table names them.
pub const CODE: &str = "unit_code";
pub const NAME: &str = "unit_name";

/// The file as the ingest readers take it.
pub fn input(t: &IndicatorTable) -> Input {
    Input {
        path: t.resolved.clone(),
        display: t.path.clone(),
        sheet: t.sheet.clone(),
        ..Input::default()
    }
}

fn field(code: &str, header: &str, name_en: &str, ty: FieldType, key: bool) -> FieldSchema {
    FieldSchema {
        code: code.to_owned(),
        name_zh: header.to_owned(),
        name_en: name_en.to_owned(),
        aliases: Vec::new(),
        ty,
        unit: None,
        required: key,
        min: None,
        max: None,
        pattern: None,
        codes: None,
        multiple: false,
        unique: key,
        description: None,
        citation: None,
    }
}

fn table(fields: Vec<FieldSchema>, rules: Vec<Rule>) -> TableSchema {
    TableSchema {
        code: TABLE.into(),
        name_zh: "评估单元指标表".into(),
        name_en: "unit indicators".into(),
        category: "指标".into(),
        geometry: GeometryKind::None,
        primary_key: vec![CODE.into()],
        primary_key_note: None,
        rule_citations: vec![None; rules.len()],
        fields,
        rules,
        citation: None,
        source: "[indicators]".into(),
    }
}

/// What the file's header and values say about the table: its schema, and a note when its codes
/// are not division codes (so no registry check is possible).
pub struct Derived {
    pub schema: TableSchema,
    pub warning: Option<String>,
}

/// Reads the table once to make its schema: the code column (`code_field`), the name column when
/// present, and every other headed column — a number column when every value in it is a number,
/// else text (kept as text, never dropped). The code length is the one most of its codes have;
/// the division list is checked when most codes are in it.
pub fn derive(t: &IndicatorTable) -> Result<Derived> {
    let probe = table(
        vec![field(CODE, &t.code_field, CODE, FieldType::Text, true)],
        Vec::new(),
    );
    let raw = read_table(&probe, &[input(t)], VectorOptions { reproject: false })?;
    let Some(source) = raw.files.first() else {
        return Err(no_rows(t));
    };
    let mut fields = vec![field(CODE, &t.code_field, CODE, FieldType::Text, true)];
    let mut seen = std::collections::BTreeSet::new();
    for (k, (header, letter)) in source.extra_columns.iter().enumerate() {
        let header = header.trim();
        if header.is_empty() {
            continue;
        }
        if !seen.insert(riskcensus_ingest::normalize(header)) {
            return Err(Error::Invalid {
                path: t.resolved.clone(),
                message: format!("column {letter}: the header {header:?} appears twice"),
                hint: "give every column of the indicator table its own header".into(),
            });
        }
        if riskcensus_ingest::normalize(header) == riskcensus_ingest::normalize(&t.name_field) {
            fields.push(field(NAME, header, NAME, FieldType::Text, false));
            continue;
        }
        let ty = if column_is_numeric(&raw, k) {
            FieldType::Float
        } else {
            FieldType::Text
        };
        fields.push(field(header, header, header, ty, false));
    }
    // The name column, when there is one, comes second as in every unit table.
    if let Some(k) = fields.iter().position(|f| f.code == NAME) {
        let name = fields.remove(k);
        fields.insert(1, name);
    }
    let codes: Vec<String> = raw
        .rows
        .iter()
        .filter_map(|r| {
            coerce(r.cells.get(0)?, FieldType::Text)
                .ok()?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let digits = unit_code_digits(codes.iter().map(String::as_str));
    let registry = Registry::nbs2023();
    // A code counts as one of the list as written (a subtotal of another level too) or with its
    // zeros restored: the check below must not decide against the list because a county row was
    // padded into no code.
    let normalised: Vec<(String, bool)> = codes
        .iter()
        .filter_map(|c| match normalise_unit_code(c, digits) {
            UnitCode::Kept(c) => {
                let listed = registry.get(&c).is_some();
                Some((c, listed))
            }
            UnitCode::ZerosRestored { from, to } => {
                let listed = registry.get(&to).is_some() || registry.get(&from).is_some();
                Some((to, listed))
            }
            UnitCode::Bad(_) => None,
        })
        .collect();
    let listed = normalised.iter().filter(|c| c.1).count();
    let check_registry = !normalised.is_empty() && listed * 2 >= normalised.len();
    let warning = (!check_registry && !normalised.is_empty()).then(|| {
        format!(
            "{}: the unit codes (e.g. {}) are not codes of the division list ({}), so they are not checked against it",
            t.path,
            normalised[0].0,
            riskcensus_schema::divisions::EDITION
        )
    });
    let rules = vec![Rule::UnitCode {
        field: CODE.into(),
        digits,
        registry: check_registry,
    }];
    Ok(Derived {
        schema: table(fields, rules),
        warning,
    })
}

fn no_rows(t: &IndicatorTable) -> Error {
    Error::Invalid {
        path: t.resolved.clone(),
        message: "the indicator table has no rows".into(),
        hint: "one row per unit: unit code, unit name, then the indicators".into(),
    }
}

/// Whether every value of extra column `k` is a number (a column with no values is a number
/// column: its cells are missing values). A placeholder (`NA`, `—`, `/`) is no figure, not a text:
/// it leaves the column a number column, and QC reports it.
fn column_is_numeric(raw: &RawTable, k: usize) -> bool {
    raw.rows.iter().all(|r| match r.extra.get(k) {
        None | Some(CellRef::Empty) => true,
        Some(CellRef::Text(s)) if is_placeholder(s) => true,
        Some(cell) => coerce(cell, FieldType::Float).is_ok(),
    })
}

/// The unit table an indicator table gives the model: its clean rows, one per unit, with number
/// columns as numbers and text columns as text, in code order as from a boundary layer.
pub fn unit_table(
    schema: &TableSchema,
    clean: &riskcensus_qc::CleanTable,
) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let n = clean.rows.len();
    let mut cols = Vec::with_capacity(schema.fields.len() + 1);
    for (k, f) in schema.fields.iter().enumerate() {
        let values = clean.rows.iter().map(|r| r.values.at(k));
        let col = match f.ty {
            FieldType::Float | FieldType::Int => Column::new(
                f.code.as_str().into(),
                values.map(|v| v.as_f64()).collect::<Vec<Option<f64>>>(),
            ),
            _ => Column::new(
                f.code.as_str().into(),
                values
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Vec<Option<String>>>(),
            ),
        };
        cols.push(col);
    }
    if schema.field_index(NAME).is_none() {
        cols.insert(1, Column::new(NAME.into(), vec![String::new(); n]));
    }
    let df = DataFrame::new(n, cols).map_err(|e| Error::Report(e.to_string()))?;
    df.sort([CODE], SortMultipleOptions::default())
        .map_err(|e| Error::Report(e.to_string()))
}
