//! The join and score stages: records to units, hazard overlay, the unit table, the model. They
//! compute and write nothing; [`publish_scores`] hands what they made to the publish step.

use std::collections::BTreeMap;
use std::path::PathBuf;

use riskcensus_publish::{ScoreOutputs, maps::Region, write_scores};
use riskcensus_risk::aggregate::{Assignments, TableInput, unit_table};
use riskcensus_risk::units::{HazardLayer, UnitSet, is_hazard_table};

use riskcensus_qc::TableResult;

use crate::{Error, Result, Run, Validated};

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
    /// Unit polygons (WKB) by unit code, for the GIS layer and the maps; empty when the units are
    /// an indicator table.
    pub shapes: BTreeMap<String, Vec<u8>>,
}

fn risk_err(e: riskcensus_risk::Error) -> Error {
    Error::Report(e.to_string())
}

/// Joins the clean records to the units, aggregates, scores and grades. Writes nothing: see
/// [`publish_scores`].
pub fn join_and_score(run: &Run, v: &Validated) -> Result<Scored> {
    join_and_score_tables(run, &v.results, v.units.as_ref())
}

/// [`join_and_score`] of the checked tables (the units first) and the units they were checked
/// against: all it needs of a validation, so that it can run while the QC report is written.
pub(crate) fn join_and_score_tables(
    run: &Run,
    results: &[TableResult],
    units: Option<&UnitSet>,
) -> Result<Scored> {
    if run.indicator_table.is_some() {
        let (Some(result), Some(schema)) =
            (results.first(), run.schemas.table(crate::indicators::TABLE))
        else {
            return Err(Error::Report("no indicator table".into()));
        };
        let table = crate::indicators::unit_table(schema, &result.clean)?;
        return grade_units(run, table, Assignments::new(), BTreeMap::new());
    }
    let (Some(units_result), Some(units)) = (results.first(), units) else {
        return Err(Error::Report("no units table".into()));
    };
    let mut hazards = Vec::new();
    let mut inputs = Vec::new();
    for r in &results[1..] {
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
    let mut scored = grade_units(run, table, assignments, shapes)?;
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

/// Scores and grades the unit table with the run's model, if it has one.
fn grade_units(
    run: &Run,
    table: polars::prelude::DataFrame,
    assignments: Assignments,
    shapes: BTreeMap<String, Vec<u8>>,
) -> Result<Scored> {
    let risk = match &run.model {
        None => None,
        Some(model) => Some(riskcensus_risk::score(model, &table).map_err(risk_err)?),
    };
    Ok(Scored {
        units: table,
        risk,
        assignments,
        records: BTreeMap::new(),
        shapes,
    })
}

/// The publish step of the scores: the unit table, the model, the graded units as GeoParquet, the
/// GIS layer and the maps, and `risk/summary.json` (see [`write_scores`]). Returns the maps
/// written (SVG and PNG per score); none without unit polygons or a model.
pub fn publish_scores(run: &Run, scored: &Scored) -> Result<Vec<PathBuf>> {
    let graded = match (&run.model, &scored.risk) {
        (Some(model), Some(risk)) => Some((model, risk)),
        _ => None,
    };
    Ok(write_scores(&ScoreOutputs {
        out_dir: &run.out_dir,
        region: Region {
            code: &run.region_code,
            name: &run.region_name,
            year: run.reference_year,
        },
        units: &scored.units,
        graded,
        assignments: &scored.assignments,
        shapes: &scored.shapes,
    })?)
}
