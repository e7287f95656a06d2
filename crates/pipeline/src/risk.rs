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
    if run.indicator_table.is_some() {
        let (Some(result), Some(schema)) = (
            v.results.first(),
            run.schemas.table(crate::indicators::TABLE),
        ) else {
            return Err(Error::Report("no indicator table".into()));
        };
        let table = crate::indicators::unit_table(schema, &result.clean)?;
        return finish(run, table, Assignments::new(), BTreeMap::new());
    }
    let (Some(units_result), Some(units)) = (v.results.first(), v.units.as_ref()) else {
        return Err(Error::Report("no units table".into()));
    };
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
    } = unit_table(units, &hazards, &inputs).map_err(risk_err)?;
    tracing::info!(
        units = table.height(),
        columns = table.width(),
        "unit table"
    );
    let shapes = unit_shapes(run, units_result, units);
    let mut scored = finish(run, table, assignments, shapes)?;
    scored.records = records;
    Ok(scored)
}

/// Unit polygons (WKB) for the GIS layer and maps: as read, except a unit the change list merged
/// from several rows, whose polygons are written together.
fn unit_shapes(
    run: &Run,
    units_result: &riskcensus_qc::TableResult,
    units: &UnitSet,
) -> BTreeMap<String, Vec<u8>> {
    let code_k = units_result
        .clean
        .fields
        .iter()
        .position(|f| *f == run.units_code_field);
    let mut rows: BTreeMap<&str, Vec<&[u8]>> = BTreeMap::new();
    for r in &units_result.clean.rows {
        let own = code_k.and_then(|k| r.values.get(k)?.as_str());
        if let (Some(code), Some(wkb)) = (r.unit.as_deref().or(own), r.geometry.as_deref()) {
            rows.entry(code).or_default().push(wkb);
        }
    }
    units
        .units
        .iter()
        .map(|u| {
            let wkb = match rows.get(u.code.as_str()).map(Vec::as_slice) {
                Some([one]) => one.to_vec(),
                _ => riskcensus_spatial::multipolygon_wkb(&u.shape),
            };
            (u.code.clone(), wkb)
        })
        .collect()
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
