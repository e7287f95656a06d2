//! The join and score stages: records to units, hazard overlay, the unit table, the model.

use std::collections::BTreeMap;

use riskcensus_risk::aggregate::{Assignments, TableInput, unit_table};
use riskcensus_risk::score::write_parquet;
use riskcensus_risk::units::{HazardLayer, UnitSet, is_hazard_table};

use crate::{Error, Result, Run, Validated, write_atomic};

/// What the join and score stages produced.
pub struct Scored {
    /// The unit table the model read (one row per unit).
    pub units: polars::prelude::DataFrame,
    /// The graded units, when the pipeline has a model.
    pub risk: Option<riskcensus_risk::ScoredUnits>,
    pub assignments: Assignments,
    /// Per joined table: each clean record's unit and how it was found (published as `unit_code`
    /// and `assigned_by`).
    pub records: BTreeMap<String, riskcensus_risk::units::RecordUnits>,
    /// The maps drawn (SVG and PNG per score); none without unit polygons or a model.
    pub maps: Vec<std::path::PathBuf>,
}

#[derive(serde::Serialize)]
struct RiskSummary<'a> {
    model: Option<&'a str>,
    units: usize,
    assignments: &'a Assignments,
    /// Per score: grade label, colour, number of units (highest risk first, then no rating).
    grades: BTreeMap<String, Vec<(String, String, u64)>>,
    breaks: BTreeMap<String, Vec<f64>>,
}

fn risk_err(e: riskcensus_risk::Error) -> Error {
    Error::Report(e.to_string())
}

/// Joins the clean records to the units, aggregates, scores and grades; writes
/// `parquet/unit_risk/county=…/part-0.parquet` (GeoParquet), `parquet/unit_table.parquet` and `risk/summary.json`.
pub fn join_and_score(run: &Run, v: &Validated) -> Result<Scored> {
    if let Some(t) = &run.indicator_table {
        let table = read_indicator_table(t)?;
        return finish(run, table, Assignments::new(), BTreeMap::new());
    }
    let Some(units_result) = v.results.first() else {
        return Err(Error::Report("no units table".into()));
    };
    let units = UnitSet::from_table(
        &units_result.clean,
        &run.units_code_field,
        &run.units_name_field,
    );
    let mut hazards = Vec::new();
    let mut inputs = Vec::new();
    for r in &v.results[1..] {
        let Some(schema) = run.schemas.table(&r.table) else {
            continue;
        };
        match is_hazard_table(schema) {
            Some(name) => hazards.push(HazardLayer::from_table(&name, &r.clean, schema, "dj")),
            None => inputs.push(TableInput {
                schema,
                clean: &r.clean,
            }),
        }
    }
    let riskcensus_risk::aggregate::UnitTable {
        df: table,
        assignments,
        records,
    } = unit_table(&units, &hazards, &inputs).map_err(risk_err)?;
    tracing::info!(
        units = table.height(),
        columns = table.width(),
        "unit table"
    );
    // Unit polygons as read (WKB), for the GIS layer.
    let code_k = units_result
        .clean
        .fields
        .iter()
        .position(|f| *f == run.units_code_field);
    let shapes: BTreeMap<String, Vec<u8>> = units_result
        .clean
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                r.values.get(code_k?)?.as_str()?.to_owned(),
                r.geometry.as_deref()?.to_vec(),
            ))
        })
        .collect();
    let mut scored = finish(run, table, assignments, shapes)?;
    scored.records = records;
    Ok(scored)
}

fn finish(
    run: &Run,
    mut table: polars::prelude::DataFrame,
    assignments: Assignments,
    shapes: BTreeMap<String, Vec<u8>>,
) -> Result<Scored> {
    let parquet = run.out_dir.join("parquet");
    write_parquet(&mut table, &parquet.join("unit_table.parquet")).map_err(risk_err)?;
    let mut maps = Vec::new();
    let risk = match &run.model {
        None => None,
        Some(model) => {
            let scored = riskcensus_risk::score(model, &table).map_err(risk_err)?;
            // The model travels with the package, so a provincial merge re-grades with it.
            write_atomic(
                &run.out_dir.join("risk").join("model.toml"),
                model.document.as_bytes(),
            )?;
            crate::geoparquet::write_unit_risk(&parquet, &scored.df, &shapes, &run.region_code)?;
            if !shapes.is_empty() {
                crate::gis::write_units(&run.out_dir.join("gis"), &scored.df, &shapes)?;
                let region = crate::maps::Region {
                    code: &run.region_code,
                    name: &run.region_name,
                    year: run.reference_year,
                };
                maps = crate::maps::draw_all(&region, &run.out_dir, model, &scored, &shapes)?;
            }
            Some(scored)
        }
    };
    let summary = RiskSummary {
        model: run.model.as_ref().map(|m| m.name.as_str()),
        units: table.height(),
        assignments: &assignments,
        grades: risk
            .as_ref()
            .map(|r| r.grade_counts.clone())
            .unwrap_or_default(),
        breaks: risk.as_ref().map(|r| r.breaks.clone()).unwrap_or_default(),
    };
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| Error::Report(e.to_string()))?;
    write_atomic(&run.out_dir.join("risk").join("summary.json"), &json)?;
    Ok(Scored {
        units: table,
        risk,
        assignments,
        records: BTreeMap::new(),
        maps,
    })
}

/// Reads a per-unit indicator table (csv, UTF-8 or GBK): the code and name columns become
/// `unit_code` and `unit_name`, every other column is a number (empty or unreadable: missing).
pub fn read_indicator_table(t: &crate::IndicatorTable) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let err = |message: String| Error::Invalid {
        path: t.resolved.clone(),
        message,
        hint: "a csv with a header row: unit code, unit name, then numeric indicators".into(),
    };
    let bytes = std::fs::read(&t.resolved).map_err(|e| err(e.to_string()))?;
    let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(&bytes)
            .map(|c| c.into_owned())
            .ok_or_else(|| err("neither UTF-8 nor GBK".into()))?,
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let kc = headers
        .iter()
        .position(|h| *h == t.code_field)
        .ok_or_else(|| err(format!("no column {}", t.code_field)))?;
    let kn = headers.iter().position(|h| *h == t.name_field);
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    let n = rows.len();
    let mut cols = vec![Column::new(
        "unit_code".into(),
        rows.iter()
            .map(|r| r.get(kc).unwrap_or("").trim().to_owned())
            .collect::<Vec<_>>(),
    )];
    cols.push(Column::new(
        "unit_name".into(),
        rows.iter()
            .map(|r| kn.and_then(|k| r.get(k)).unwrap_or("").trim().to_owned())
            .collect::<Vec<_>>(),
    ));
    for (k, h) in headers.iter().enumerate() {
        if k == kc || Some(k) == kn {
            continue;
        }
        let v: Vec<Option<f64>> = rows
            .iter()
            .map(|r| r.get(k).and_then(|s| s.trim().parse::<f64>().ok()))
            .collect();
        cols.push(Column::new(h.as_str().into(), v));
    }
    let df = DataFrame::new(n, cols).map_err(|e| err(e.to_string()))?;
    // Units in code order, as from a boundary layer.
    df.sort(["unit_code"], SortMultipleOptions::default())
        .map_err(|e| err(e.to_string()))
}

/// The columns an indicator table gives the model, read from its header.
pub fn indicator_columns(t: &crate::IndicatorTable) -> Result<Vec<String>> {
    Ok(read_indicator_table(t)?
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect())
}
