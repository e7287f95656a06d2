//! The risk model, read from the pipeline file (`[model]`, inline or `file = "models/…toml"`), checked
//! at load: names, weights that must sum to 1, breaks that must increase, colours, and every
//! indicator expression run once on an empty unit table so an unknown column fails before any work.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;
use serde::Deserialize;
use toml::Spanned;

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    None,
    MinMax,
    PercentileRank,
    CbrtMinMax,
    LogMinMax,
    ZScore,
    Fixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The value as it is: higher value, higher figure.
    #[default]
    Positive,
    /// Inverted after normalisation (1 − x; −z for z-scores): higher value, lower figure.
    Negative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// The unit gets no rating, with the reason.
    #[default]
    NoRating,
    Zero,
    Mean,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub name: String,
    /// A polars SQL expression over the unit table.
    pub expr: String,
    #[serde(default)]
    pub label_zh: String,
    #[serde(default = "min_max")]
    pub normalize: Normalize,
    #[serde(default)]
    pub direction: Direction,
    /// For `normalize = "fixed"`: values at these bounds map to 0 and 1 (clamped).
    #[serde(default)]
    pub bounds: Option<[f64; 2]>,
    #[serde(default)]
    pub missing: Missing,
    /// The indicator reads columns of a table a run may not have (shelters, rescue teams): where
    /// its expression does not run on the unit table, it is left out, and the other inputs of each
    /// dimension that uses it share its weight in proportion to theirs.
    #[serde(default)]
    pub optional: bool,
}

fn min_max() -> Normalize {
    Normalize::MinMax
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    WeightedSum,
    Product,
    GeometricMean,
    Mean,
    /// Hazard × Exposure × Vulnerability ÷ Capacity.
    Hevc,
    /// A polars SQL expression over the dimensions and earlier scores.
    Expr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    #[serde(default)]
    pub label_zh: String,
    #[serde(default = "weighted_sum")]
    pub combine: Combine,
    /// Inputs (indicators or earlier dimensions) and their weights.
    pub weights: BTreeMap<String, f64>,
}

fn weighted_sum() -> Combine {
    Combine::WeightedSum
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    #[default]
    Hazard,
    Composite,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Score {
    pub name: String,
    #[serde(default)]
    pub label_zh: String,
    #[serde(default)]
    pub kind: ScoreKind,
    pub formula: Combine,
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    #[serde(default)]
    pub hazard: Option<String>,
    #[serde(default)]
    pub exposure: Option<String>,
    #[serde(default)]
    pub vulnerability: Option<String>,
    #[serde(default)]
    pub capacity: Option<String>,
    /// For `formula = "expr"`.
    #[serde(default)]
    pub expr: Option<String>,
    /// Min-max the score to this range after computing it.
    #[serde(default)]
    pub rescale: Option<[f64; 2]>,
    /// For H×E×V÷C: capacity below this is taken as this (guards division by zero).
    #[serde(default = "capacity_floor")]
    pub capacity_floor: f64,
}

fn capacity_floor() -> f64 {
    0.1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Fixed,
    Quantiles,
    EqualInterval,
    Jenks,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grading {
    pub method: Method,
    pub classes: usize,
    /// Highest risk first.
    pub labels: Vec<String>,
    pub colors: Vec<String>,
    /// For `method = "fixed"`: `classes − 1` increasing inner breaks.
    #[serde(default)]
    pub breaks: Vec<f64>,
    #[serde(default = "no_rating_label")]
    pub no_rating_label: String,
    #[serde(default = "no_rating_color")]
    pub no_rating_color: String,
}

fn no_rating_label() -> String {
    "无评级".into()
}

fn no_rating_color() -> String {
    "#bdbdbd".into()
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub title_zh: String,
    /// Units with fewer buildings than this get no rating (0: no minimum).
    pub min_buildings: u64,
    pub indicators: Vec<Indicator>,
    pub dimensions: Vec<Dimension>,
    pub scores: Vec<Score>,
    pub grading: Grading,
    /// Optional indicators left out because the run lacks their columns, with why.
    pub left_out: Vec<String>,
    /// Where the model came from.
    pub source: String,
    /// The TOML document that defines it (a model file, or the pipeline holding `[model]`), so a
    /// package can carry the model and a provincial merge re-grade with it.
    pub document: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title_zh: Option<String>,
    #[serde(default)]
    min_buildings: u64,
    #[serde(default)]
    indicators: Vec<Spanned<Indicator>>,
    #[serde(default)]
    dimensions: Vec<Spanned<Dimension>>,
    #[serde(default)]
    scores: Vec<Spanned<Score>>,
    #[serde(default)]
    grading: Option<Spanned<Grading>>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    model: Option<Spanned<RawModel>>,
}

/// The names an expression reads that are not columns of the unit table (words followed by `(`,
/// SQL keywords and numbers aside).
fn missing_columns(expr: &str, columns: &[String]) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "and", "or", "not", "case", "when", "then", "else", "end", "null", "is", "in", "as",
        "true", "false", "cast", "double", "float", "int", "integer", "between", "like",
    ];
    let mut out: Vec<String> = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expr[start..i];
            let call = expr[i..].trim_start().starts_with('(');
            let known = columns.iter().any(|c| c == word);
            if !call && !known && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                out.push(word.to_owned());
            }
        } else if c == b'\'' || c == b'"' {
            // A quoted text or name: skipped whole.
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_digit() {
            // A number, with its exponent or decimal part (`1e-3`, `2.5`).
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out.dedup();
    out
}

/// Takes the optional indicators that cannot run out of the model: out of the indicators, and out
/// of each dimension's weights, the other inputs of a weighted sum rescaled to sum to 1 as before.
/// A dimension left with no input is an error naming it.
fn leave_out(
    raw: &mut RawModel,
    left_out: &[(String, String)],
) -> std::result::Result<(), (std::ops::Range<usize>, String)> {
    if left_out.is_empty() {
        return Ok(());
    }
    let out = |name: &String| left_out.iter().any(|(n, _)| n == name);
    raw.indicators.retain(|i| !out(&i.get_ref().name));
    for d in &mut raw.dimensions {
        let span = d.span();
        let dim = d.get_mut();
        if !dim.weights.keys().any(out) {
            continue;
        }
        let before: f64 = dim.weights.values().sum();
        dim.weights.retain(|k, _| !out(k));
        let kept: f64 = dim.weights.values().sum();
        if dim.weights.is_empty() || kept <= 0.0 {
            return Err((
                span,
                format!(
                    "dimension {}: every input is an optional indicator this run cannot compute",
                    dim.name
                ),
            ));
        }
        if dim.combine == Combine::WeightedSum && (before - 1.0).abs() <= 1e-6 {
            for w in dim.weights.values_mut() {
                *w /= kept;
            }
        }
    }
    Ok(())
}

/// How many files a chain of `file =` may pass through: one is all a pipeline needs, the rest is
/// room for a model file that points to a shared one.
const MAX_MODEL_FILES: usize = 4;

/// A file as the file system knows it (so `./p.toml` and `p.toml` are one), or the path as written
/// when it cannot be resolved.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

impl Model {
    /// The model of a pipeline file (`None` when it has no `[model]`). `columns` are the unit
    /// table's columns, against which every indicator expression is checked.
    pub fn from_pipeline(path: &Path, text: &str, columns: &[String]) -> Result<Option<Model>> {
        Model::from_document(path, text, columns, &mut Vec::new())
    }

    /// `from_pipeline`, with the files already followed through `file =`: a model file that names
    /// itself, or a chain that leads back, would otherwise recurse until the stack overflows
    /// (`[model] file = "pipeline.toml"` in pipeline.toml aborted the process).
    fn from_document(
        path: &Path,
        text: &str,
        columns: &[String],
        followed: &mut Vec<PathBuf>,
    ) -> Result<Option<Model>> {
        let file = path.display().to_string();
        let doc: Doc = toml::from_str(text).map_err(|e| Error::Model {
            file: file.clone(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
            message: e.message().to_owned(),
        })?;
        let Some(raw) = doc.model else {
            return Ok(None);
        };
        if let Some(rel) = &raw.get_ref().file {
            let p = path.parent().unwrap_or(Path::new(".")).join(rel);
            let line = line_of(text, raw.span().start);
            followed.push(identity(path));
            if followed.contains(&identity(&p)) || followed.len() > MAX_MODEL_FILES {
                return Err(Error::Model {
                    file,
                    line,
                    message: format!(
                        "model file {} leads back to a file already read (a model file defines the model; it does not point on to another)",
                        p.display()
                    ),
                });
            }
            let t = riskcensus_schema::read_utf8(&p).map_err(|e| Error::Model {
                file: file.clone(),
                line,
                message: format!("cannot read model file {}: {e}", p.display()),
            })?;
            // A model file holds a model: an empty or model-less file is an error, never a run
            // that silently grades nothing.
            return match Model::from_document(&p, &t, columns, followed)? {
                Some(m) => Ok(Some(m)),
                None => Err(Error::Model {
                    file: p.display().to_string(),
                    line: 1,
                    message: format!(
                        "the model file (named at {file} line {line}) has no [model] table"
                    ),
                }),
            };
        }
        Model::resolve(&file, text, raw.into_inner(), columns).map(Some)
    }

    fn resolve(file: &str, text: &str, mut raw: RawModel, columns: &[String]) -> Result<Model> {
        let err = |span: std::ops::Range<usize>, message: String| Error::Model {
            file: file.to_owned(),
            line: line_of(text, span.start),
            message,
        };
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut check_name = |name: &str, span: std::ops::Range<usize>| -> Result<()> {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(
                    span,
                    format!("name {name:?}: use ASCII letters, digits and '_'"),
                ));
            }
            if !names.insert(name.to_owned()) {
                return Err(err(span, format!("{name} is defined twice")));
            }
            Ok(())
        };

        // Indicators: names, bounds, and each expression against an empty unit table.
        let empty = DataFrame::new(
            0,
            columns
                .iter()
                .map(|c| Column::new(c.as_str().into(), Vec::<f64>::new()))
                .collect(),
        )?;
        let sql = SQLContext::new();
        sql.register("units", empty.lazy());
        let mut left_out: Vec<(String, String)> = Vec::new();
        for i in &raw.indicators {
            let span = i.span();
            let ind = i.get_ref();
            check_name(&ind.name, span.clone())?;
            if ind.normalize == Normalize::Fixed {
                match ind.bounds {
                    Some([a, b]) if a < b => {}
                    _ => {
                        return Err(err(
                            span,
                            format!(
                                "indicator {}: normalize = \"fixed\" needs bounds = [low, high] with low < high",
                                ind.name
                            ),
                        ));
                    }
                }
            }
            let mut ctx = sql.clone();
            let q = format!("SELECT ({}) AS v FROM units", ind.expr);
            match ctx.execute(&q).and_then(|lf| lf.collect()) {
                Ok(_) => {}
                Err(e) if ind.optional => {
                    let missing = missing_columns(&ind.expr, columns);
                    let why = if missing.is_empty() {
                        e.to_string()
                    } else {
                        format!("no column {}", missing.join(", "))
                    };
                    left_out.push((ind.name.clone(), why));
                }
                Err(e) => {
                    return Err(err(
                        span.clone(),
                        format!(
                            "indicator {}: expression {:?} does not run on the unit table: {e}",
                            ind.name, ind.expr
                        ),
                    ));
                }
            }
        }
        leave_out(&mut raw, &left_out).map_err(|(span, m)| err(span, m))?;
        let known: BTreeSet<String> = raw
            .indicators
            .iter()
            .map(|i| i.get_ref().name.clone())
            .collect();
        let mut known = known;

        let weights_ok = |w: &BTreeMap<String, f64>,
                          span: std::ops::Range<usize>,
                          what: &str,
                          known: &BTreeSet<String>|
         -> Result<()> {
            if w.is_empty() {
                return Err(err(span, format!("{what}: no inputs")));
            }
            for k in w.keys() {
                if !known.contains(k) {
                    return Err(err(
                        span.clone(),
                        format!("{what}: unknown input {k} (define it above)"),
                    ));
                }
            }
            if w.values().any(|v| !v.is_finite() || *v < 0.0) {
                return Err(err(
                    span,
                    format!("{what}: weights must be non-negative numbers"),
                ));
            }
            Ok(())
        };
        let sum_to_one =
            |w: &BTreeMap<String, f64>, span: std::ops::Range<usize>, what: &str| -> Result<()> {
                let s: f64 = w.values().sum();
                if (s - 1.0).abs() > 1e-6 {
                    return Err(err(span, format!("{what}: weights sum to {s}, not 1")));
                }
                Ok(())
            };
        for d in &raw.dimensions {
            let span = d.span();
            let dim = d.get_ref();
            check_name(&dim.name, span.clone())?;
            weights_ok(
                &dim.weights,
                span.clone(),
                &format!("dimension {}", dim.name),
                &known,
            )?;
            match dim.combine {
                Combine::WeightedSum => sum_to_one(
                    &dim.weights,
                    span.clone(),
                    &format!("dimension {}", dim.name),
                )?,
                Combine::Hevc | Combine::Expr => {
                    return Err(err(
                        span,
                        format!(
                            "dimension {}: combine is weighted_sum, product, geometric_mean or mean",
                            dim.name
                        ),
                    ));
                }
                _ => {}
            }
            known.insert(dim.name.clone());
        }
        let mut composites = 0;
        for s in &raw.scores {
            let span = s.span();
            let sc = s.get_ref();
            check_name(&sc.name, span.clone())?;
            let what = format!("score {}", sc.name);
            match sc.formula {
                Combine::Hevc => {
                    for (role, v) in [
                        ("hazard", &sc.hazard),
                        ("exposure", &sc.exposure),
                        ("vulnerability", &sc.vulnerability),
                        ("capacity", &sc.capacity),
                    ] {
                        match v {
                            Some(n) if known.contains(n) => {}
                            Some(n) => {
                                return Err(err(
                                    span.clone(),
                                    format!("{what}: {role} = {n:?} is not defined above"),
                                ));
                            }
                            None => {
                                return Err(err(
                                    span.clone(),
                                    format!("{what}: formula hevc needs {role}"),
                                ));
                            }
                        }
                    }
                    if sc.capacity_floor <= 0.0 {
                        return Err(err(span, format!("{what}: capacity_floor must be above 0")));
                    }
                }
                Combine::Expr => {
                    let Some(e) = &sc.expr else {
                        return Err(err(span, format!("{what}: formula expr needs expr")));
                    };
                    let cols: Vec<Column> = known
                        .iter()
                        .map(|c| Column::new(c.as_str().into(), Vec::<f64>::new()))
                        .collect();
                    let ctx = SQLContext::new();
                    ctx.register("dims", DataFrame::new(0, cols)?.lazy());
                    let mut ctx = ctx;
                    ctx.execute(&format!("SELECT ({e}) AS v FROM dims"))
                        .and_then(|lf| lf.collect())
                        .map_err(|x| {
                            err(
                                span.clone(),
                                format!("{what}: expression {e:?} does not run: {x}"),
                            )
                        })?;
                }
                Combine::WeightedSum => {
                    weights_ok(&sc.weights, span.clone(), &what, &known)?;
                    sum_to_one(&sc.weights, span.clone(), &what)?;
                }
                _ => weights_ok(&sc.weights, span.clone(), &what, &known)?,
            }
            if let Some([a, b]) = sc.rescale
                && a >= b
            {
                return Err(err(
                    span,
                    format!("{what}: rescale [{a}, {b}] does not increase"),
                ));
            }
            if sc.kind == ScoreKind::Composite {
                composites += 1;
            }
            known.insert(sc.name.clone());
        }
        let model_line = 0..0;
        if composites != 1 {
            return Err(err(
                model_line,
                format!(
                    "the model needs exactly one score with kind = \"composite\", it has {composites}"
                ),
            ));
        }
        let Some(g) = raw.grading else {
            return Err(err(0..0, "the model has no [model.grading]".into()));
        };
        let span = g.span();
        let grading = g.into_inner();
        if !(2..=9).contains(&grading.classes) {
            return Err(err(
                span,
                format!(
                    "grading: {} classes; use 2 to 9 (the census uses 5, or 4 for 四色图)",
                    grading.classes
                ),
            ));
        }
        if grading.labels.len() != grading.classes || grading.colors.len() != grading.classes {
            return Err(err(
                span,
                format!(
                    "grading: {} classes need {0} labels and {0} colours (highest risk first)",
                    grading.classes
                ),
            ));
        }
        for c in grading.colors.iter().chain([&grading.no_rating_color]) {
            if !(c.len() == 7
                && c.starts_with('#')
                && c[1..].chars().all(|x| x.is_ascii_hexdigit()))
            {
                return Err(err(
                    span.clone(),
                    format!("grading: colour {c:?} is not #rrggbb"),
                ));
            }
        }
        if grading.method == Method::Fixed {
            if grading.breaks.len() != grading.classes - 1 {
                return Err(err(
                    span,
                    format!(
                        "grading: fixed breaks need {} inner breaks, got {}",
                        grading.classes - 1,
                        grading.breaks.len()
                    ),
                ));
            }
            if grading.breaks.windows(2).any(|w| w[0] >= w[1]) {
                return Err(err(span, "grading: breaks must increase".into()));
            }
        }
        Ok(Model {
            name: raw.name.unwrap_or_else(|| "model".into()),
            title_zh: raw.title_zh.unwrap_or_else(|| "自然灾害综合风险".into()),
            min_buildings: raw.min_buildings,
            indicators: raw
                .indicators
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            dimensions: raw
                .dimensions
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            scores: raw.scores.into_iter().map(Spanned::into_inner).collect(),
            grading,
            left_out: left_out
                .into_iter()
                .map(|(name, why)| format!("{name} ({why})"))
                .collect(),
            source: file.to_owned(),
            document: text.to_owned(),
        })
    }

    pub fn composite(&self) -> Option<&Score> {
        self.scores.iter().find(|s| s.kind == ScoreKind::Composite)
    }
}
