//! The ingest and QC stages of a run.

use std::collections::BTreeMap;
use std::path::Path;

use riskcensus_ingest::{Input, VectorOptions, read_table};
use riskcensus_qc::report::{RunInfo, Summary, summarize};
use riskcensus_qc::review::{Dispositions, Review, TableReview};
use riskcensus_qc::{Context, TableResult, check_table_reviewed};
use riskcensus_risk::units::UnitSet;
use riskcensus_schema::{GeometryKind, Registry, TableSchema};

use crate::{Error, FileHashes, InputSpec, Result, Run};

/// What ingest and QC produced.
pub struct Validated {
    pub summary: Summary,
    /// The units table first, then the inputs' tables in pipeline order.
    pub results: Vec<TableResult>,
    /// The reviewers' marks of each table's issues, index for index with `results`.
    pub reviews: Vec<TableReview>,
    /// The assessment units the records were checked against (`None` for an indicator table).
    pub units: Option<UnitSet>,
    /// Tables whose checked result was reused from the last run (inputs and rules unchanged).
    pub reused: Vec<String>,
}

/// The dispositions the run applies: none without `[review]`, none yet when its file is still to be
/// written by the first import (said in the run's warnings), else the file as read.
pub fn read_dispositions(run: &Run, warnings: &mut Vec<String>) -> Result<Option<Dispositions>> {
    let Some(path) = &run.dispositions else {
        return Ok(None);
    };
    if !path.exists() {
        warnings.push(format!(
            "[review] dispositions {} does not exist yet: no issue has a disposition",
            path.display()
        ));
        return Ok(Some(Dispositions::new()));
    }
    Dispositions::read(path)
        .map(Some)
        .map_err(|e| Error::Invalid {
            path: run.pipeline_path.clone(),
            message: e.to_string(),
            hint: "write it with `riskcensus review import <report.xlsx> --into <file>`".into(),
        })
}

fn input(spec: &InputSpec) -> Input {
    Input {
        path: spec.resolved.clone(),
        display: spec.path.clone(),
        sheet: spec.sheet.clone(),
        layer: spec.layer.clone(),
        encoding: spec.encoding.clone(),
        columns: spec.column_map.clone(),
    }
}

fn read_changes(path: &Path) -> Result<BTreeMap<String, String>> {
    let err = |message: String| Error::Invalid {
        path: path.to_owned(),
        message,
        hint: "division_changes.csv has columns old_code,new_code".into(),
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| err(e.to_string()))?;
    let mut out = BTreeMap::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        if let (Some(old), Some(new)) = (rec.get(0), rec.get(1)) {
            out.insert(old.trim().to_owned(), new.trim().to_owned());
        }
    }
    Ok(out)
}

/// Reads every input and checks it; writes `qc/` into the run's output directory.
pub fn validate(run: &Run, progress: &mut dyn FnMut(&str, u64, u64)) -> Result<Validated> {
    validate_then(run, &FileHashes::default(), progress, |_, _| ()).map(|(v, ())| v)
}

/// [`validate`], with the input hashes the run has already taken, and `then` run on the checked
/// tables and their units while the QC report is written (the next stage needs nothing of the
/// report). `then` does not run when validation fails, and a report that cannot be written is the
/// error even when `then` fails too.
pub(crate) fn validate_then<T: Send>(
    run: &Run,
    hashes: &FileHashes,
    progress: &mut dyn FnMut(&str, u64, u64),
    then: impl FnOnce(&[TableResult], Option<&UnitSet>) -> T + Send,
) -> Result<(Validated, T)> {
    let registry = Registry::nbs2023();
    let mut warnings = run.warnings.clone();
    let dispositions = read_dispositions(run, &mut warnings)?;
    let reviewed = dispositions.is_some();
    let mut review = Review::new(dispositions.unwrap_or_default());
    let stale = match &run.division_changes {
        Some(p) => read_changes(p)?,
        None => BTreeMap::new(),
    };
    let opts = VectorOptions {
        reproject: run.reproject,
    };
    let schema_of = |table: &str| {
        run.schemas.table(table).ok_or_else(|| Error::Invalid {
            path: run.pipeline_path.clone(),
            message: format!("no schema for table {table}"),
            hint: "run `riskcensus schema`".into(),
        })
    };

    // Group the inputs by table, keeping the pipeline's order.
    let mut groups: Vec<(String, Vec<Input>)> = Vec::new();
    for spec in &run.inputs {
        match groups.iter_mut().find(|g| g.0 == spec.table) {
            Some(g) => g.1.push(input(spec)),
            None => groups.push((spec.table.clone(), vec![input(spec)])),
        }
    }
    let total = groups.len() as u64 + 1;

    let info = RunInfo {
        run: &run.name,
        region_code: &run.region_code,
        region_name: &run.region_name,
        reference_year: run.reference_year,
        pass_threshold: run.pass_threshold,
        max_rejected_share: run.max_rejected_share,
    };
    let ctx = Context {
        registry,
        schemas: &run.schemas,
        reference_year: run.reference_year,
        region_code: run.region_code.clone(),
        stale,
        units: None,
    };
    let Some(units_input) = &run.units else {
        // An indicator table has no coordinates to reproject.
        let tables = Tables::new(run, hashes, VectorOptions { reproject: false });
        let v = validate_indicators(tables, &info, &ctx, warnings, review, reviewed, progress)?;
        let t = then(&v.results, v.units.as_ref());
        return Ok((v, t));
    };
    // The units first: every other table is checked against them.
    progress(&units_input.table, 0, total);
    let units_schema = schema_of(&units_input.table)?;
    if units_schema.geometry != GeometryKind::Polygon {
        return Err(Error::Invalid {
            path: run.pipeline_path.clone(),
            message: format!("[units] table {} has no polygons", units_schema.code),
            hint: "name a polygon layer, e.g. xzqh_xz".into(),
        });
    }
    let mut tables = Tables::new(run, hashes, opts);
    let units_checked =
        tables.check(units_schema, &[input(units_input)], &ctx, &mut review, None)?;
    let units_key = units_checked.key;
    let (units_result, units_review) = (units_checked.result, units_checked.review);
    // Units under their current codes: a retired code's polygon joins its successor's.
    let unit_set = UnitSet::from_table(
        &units_result.clean,
        &run.units_code_field,
        &run.units_name_field,
    );
    tracing::info!(units = unit_set.index.len(), "units indexed");
    let mut results = vec![units_result];
    let mut reviews = vec![units_review];

    let ctx = Context {
        units: Some(&unit_set.index),
        ..ctx
    };
    for (k, (table, inputs)) in groups.iter().enumerate() {
        progress(table, k as u64 + 1, total);
        let schema = schema_of(table)?;
        // Every record is checked against the units: their key is part of this table's.
        let checked = tables.check(schema, inputs, &ctx, &mut review, Some(&units_key))?;
        results.push(checked.result);
        reviews.push(checked.review);
    }
    progress("report", total, total);
    let (summary, t) = tables.store_while(&results, &reviews, || {
        rayon::join(
            || write_reports(run, &info, &results, &reviews, warnings, &review, reviewed),
            || then(&results, Some(&unit_set)),
        )
    });
    let validated = Validated {
        summary: summary?,
        results,
        reviews,
        units: Some(unit_set),
        reused: tables.reused,
    };
    Ok((validated, t))
}

/// One table, checked or reused.
struct Checked {
    result: TableResult,
    review: TableReview,
    /// The key it was checked (or found) under.
    key: String,
}

/// Reads and checks tables, reusing the result of any table whose key is unchanged since the last
/// run (see [`crate::cache`]).
struct Tables<'a> {
    run: &'a Run,
    hashes: &'a FileHashes,
    opts: VectorOptions,
    /// Tables whose cached result was used, in the order met.
    reused: Vec<String>,
    /// Per table checked, in order: the key to store its result under (empty: reused, nothing to
    /// store).
    to_store: Vec<String>,
}

impl<'a> Tables<'a> {
    fn new(run: &'a Run, hashes: &'a FileHashes, opts: VectorOptions) -> Tables<'a> {
        Tables {
            run,
            hashes,
            opts,
            reused: Vec::new(),
            to_store: Vec::new(),
        }
    }

    /// Writes the cache of every table checked (not reused) for the next run, while `alongside`
    /// runs on this thread (the report): the cache of a large table takes as long to write as the
    /// report, and neither needs the other.
    fn store_while<T>(
        &self,
        results: &[TableResult],
        reviews: &[TableReview],
        alongside: impl FnOnce() -> T,
    ) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                for ((key, r), review) in self.to_store.iter().zip(results).zip(reviews) {
                    if key.is_empty() {
                        continue;
                    }
                    let hashes: Vec<u64> = review.marks.iter().map(|m| m.record_hash).collect();
                    crate::cache::store(&self.run.out_dir, &r.table, key, r, &hashes);
                }
            });
            alongside()
        })
    }

    fn check(
        &mut self,
        schema: &TableSchema,
        inputs: &[Input],
        ctx: &Context<'_>,
        review: &mut Review,
        after: Option<&str>,
    ) -> Result<Checked> {
        let mut k = crate::cache::KeyBuilder::new(self.run, schema);
        if let Some(a) = after {
            k.after(a);
        }
        for i in inputs {
            k.input(i, self.hashes);
        }
        let key = k.finish();
        let table = schema.code.as_str();
        if let Some((result, hashes)) = crate::cache::load(&self.run.out_dir, table, &key) {
            // The reviewers' marks again, as checking would make them (the dispositions file is
            // part of the key), so that resolved dispositions are counted the same.
            let marks = result
                .issues
                .iter()
                .zip(&hashes)
                .map(|(i, h)| review.mark(i, *h))
                .collect();
            tracing::info!(
                table,
                rows = result.rows_read,
                "unchanged since the last run: reused"
            );
            self.reused.push(table.to_owned());
            self.to_store.push(String::new());
            return Ok(Checked {
                result,
                review: TableReview { marks },
                key,
            });
        }
        let raw = read_table(schema, inputs, self.opts)?;
        let rows = raw.rows.len();
        tracing::info!(table, rows, "read");
        let (result, table_review) = check_table_reviewed(raw, schema, ctx, review);
        tracing::info!(
            table,
            rows,
            clean = result.rows_clean,
            issues = result.issues.len(),
            "checked"
        );
        self.to_store.push(key.clone());
        Ok(Checked {
            result,
            review: table_review,
            key,
        })
    }
}

/// The summary, the report with the reviewers' marks, and the return list of every township.
fn write_reports(
    run: &Run,
    info: &RunInfo<'_>,
    results: &[TableResult],
    reviews: &[TableReview],
    warnings: Vec<String>,
    review: &Review,
    reviewed: bool,
) -> Result<Summary> {
    let registry = Registry::nbs2023();
    tracing::info!("writing the report");
    let mut summary = summarize(info, results, &run.schemas, registry);
    summary.warnings = warnings;
    if reviewed {
        summary.review = Some(review.counts(reviews));
    }
    riskcensus_qc::report::write_reviewed(
        &run.out_dir.join("qc"),
        &summary,
        results,
        reviews,
        &review.dispositions,
    )
    .map_err(|e| Error::Report(e.to_string()))?;
    let returned = riskcensus_qc::return_list::write(
        &run.out_dir.join("qc"),
        results,
        reviews,
        &run.schemas,
        registry,
    )
    .map_err(|e| Error::Report(e.to_string()))?;
    tracing::info!(townships = returned.len(), "report and return list written");
    Ok(summary)
}

/// A run scoring a per-unit indicator table: the table is read and checked like any other (its
/// schema made from its header when the pipeline loaded), with the reviewers' marks, and its
/// report written.
fn validate_indicators(
    mut tables: Tables<'_>,
    info: &RunInfo<'_>,
    ctx: &Context<'_>,
    warnings: Vec<String>,
    mut review: Review,
    reviewed: bool,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<Validated> {
    let run = tables.run;
    let (Some(t), Some(schema)) = (
        &run.indicator_table,
        run.schemas.table(crate::indicators::TABLE),
    ) else {
        return Err(Error::Invalid {
            path: run.pipeline_path.clone(),
            message: "no [units] and no [indicators]".into(),
            hint: "name the unit boundaries ([units]) or a per-unit indicator table ([indicators])"
                .into(),
        });
    };
    progress(crate::indicators::TABLE, 0, 2);
    let checked = tables.check(
        schema,
        &[crate::indicators::input(t)],
        ctx,
        &mut review,
        None,
    )?;
    progress("report", 2, 2);
    let results = vec![checked.result];
    let reviews = vec![checked.review];
    let summary = tables.store_while(&results, &reviews, || {
        write_reports(run, info, &results, &reviews, warnings, &review, reviewed)
    })?;
    Ok(Validated {
        summary,
        results,
        reviews,
        units: None,
        reused: tables.reused,
    })
}
