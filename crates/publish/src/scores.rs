//! The scored units' outputs: the unit table, the model the grades came from, the graded units as
//! GeoParquet, the GIS layer, the maps, and `risk/summary.json`. The join and score stages compute;
//! this step only writes what they computed, in the order a run always wrote it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use riskcensus_risk::aggregate::Assignments;
use riskcensus_risk::{Model, ScoredUnits};

use crate::{Error, Result, geoparquet, gis, maps, write_atomic};

/// What the join and score stages produced, as the publish step reads it.
pub struct ScoreOutputs<'a> {
    /// `<output dir>/<run name>/`.
    pub out_dir: &'a Path,
    /// The region the maps are titled with; its code also names the partitions.
    pub region: maps::Region<'a>,
    /// The unit table the model read (one row per unit).
    pub units: &'a DataFrame,
    /// The model and the units it graded, when the run has a model.
    pub graded: Option<(&'a Model, &'a ScoredUnits)>,
    /// How the records of each table found their unit.
    pub assignments: &'a Assignments,
    /// Unit polygons (WKB) by unit code; empty when the units are an indicator table.
    pub shapes: &'a BTreeMap<String, Vec<u8>>,
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

/// Writes `parquet/unit_table.parquet`, then with a model `risk/model.toml`, the graded units as
/// GeoParquet (`parquet/unit_risk/county=…/part-0.parquet`) and, with unit polygons, the GIS layer
/// and the maps; last `risk/summary.json`. Returns the maps written (SVG and PNG per score).
pub fn write_scores(o: &ScoreOutputs) -> Result<Vec<PathBuf>> {
    let parquet = o.out_dir.join("parquet");
    // The writer may rechunk the frame it is given; the caller's stays as it was.
    let mut table = o.units.clone();
    riskcensus_risk::score::write_parquet(&mut table, &parquet.join("unit_table.parquet"))
        .map_err(risk_err)?;
    let maps = match o.graded {
        Some((model, scored)) => write_graded(o, model, scored)?,
        None => Vec::new(),
    };
    write_risk_summary(o)?;
    Ok(maps)
}

/// The outputs of a graded run: the model (it travels with the package, so a provincial merge
/// re-grades with it), the graded units as GeoParquet, and, when the units have polygons, the GIS
/// layer and the maps.
fn write_graded(o: &ScoreOutputs, model: &Model, scored: &ScoredUnits) -> Result<Vec<PathBuf>> {
    write_atomic(
        &o.out_dir.join("risk").join("model.toml"),
        model.document.as_bytes(),
    )?;
    let parquet = o.out_dir.join("parquet");
    geoparquet::write_unit_risk(&parquet, &scored.df, o.shapes, o.region.code)?;
    if o.shapes.is_empty() {
        return Ok(Vec::new());
    }
    gis::write_units(&o.out_dir.join("gis"), &scored.df, o.shapes)?;
    maps::draw_all(&o.region, o.out_dir, model, scored, o.shapes)
}

/// `risk/summary.json`: the model's name, the number of units, how records were assigned, and per
/// score the grade counts and breaks.
fn write_risk_summary(o: &ScoreOutputs) -> Result<()> {
    let risk = o.graded.map(|(_, scored)| scored);
    let summary = RiskSummary {
        model: o.graded.map(|(model, _)| model.name.as_str()),
        units: o.units.height(),
        assignments: o.assignments,
        grades: risk.map(|r| r.grade_counts.clone()).unwrap_or_default(),
        breaks: risk.map(|r| r.breaks.clone()).unwrap_or_default(),
    };
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| Error::Report(e.to_string()))?;
    write_atomic(&o.out_dir.join("risk").join("summary.json"), &json)
}
