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
/// `parquet/unit_risk.parquet`, `parquet/unit_table.parquet` and `risk/summary.json`.
pub fn join_and_score(run: &Run, v: &Validated) -> Result<Scored> {
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
    let (mut table, assignments) = unit_table(&units, &hazards, &inputs).map_err(risk_err)?;
    tracing::info!(
        units = table.height(),
        columns = table.width(),
        "unit table"
    );
    let parquet = run.out_dir.join("parquet");
    write_parquet(&mut table, &parquet.join("unit_table.parquet")).map_err(risk_err)?;
    let risk = match &run.model {
        None => None,
        Some(model) => {
            let mut scored = riskcensus_risk::score(model, &table).map_err(risk_err)?;
            write_parquet(&mut scored.df, &parquet.join("unit_risk.parquet")).map_err(risk_err)?;
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
    })
}
