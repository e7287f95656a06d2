//! Scoring and grading the unit table with a model.

use std::collections::BTreeMap;

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::Result;
use crate::grade::{breaks, class_of};
use crate::model::{Combine, Direction, Missing, Model, Normalize, ScoreKind};

/// The unit risk table and what stands behind it.
pub struct ScoredUnits {
    /// One row per unit: `unit_code`, `unit_name`, per score `<s>_score`, `<s>_grade`, `<s>_color`
    /// (and `<s>_hazard`, `_exposure`, `_vulnerability`, `_capacity` for H×E×V÷C), then
    /// `composite_score`, `composite_grade`, `composite_color`, `no_rating_reason`, the indicators'
    /// raw values, and the unit table's record counts.
    pub df: DataFrame,
    /// Per score: (label, colour, number of units), highest risk first, then the no-rating grade.
    pub grade_counts: BTreeMap<String, Vec<(String, String, u64)>>,
    /// Inner breaks used per score.
    pub breaks: BTreeMap<String, Vec<f64>>,
}

fn to_vec(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let s = df.column(name)?.cast(&DataType::Float64)?;
    Ok(s.f64()?
        .iter()
        .map(|v| v.filter(|x| x.is_finite()))
        .collect())
}

fn minmax(v: &[f64]) -> (f64, f64) {
    v.iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// Normalises present values; a constant indicator maps to 0 (it separates no unit).
fn normalize(values: &[f64], how: Normalize, bounds: Option<[f64; 2]>) -> Vec<f64> {
    let scale = |v: Vec<f64>| {
        let (lo, hi) = minmax(&v);
        v.into_iter()
            .map(|x| if hi > lo { (x - lo) / (hi - lo) } else { 0.0 })
            .collect::<Vec<_>>()
    };
    match how {
        Normalize::None => values.to_vec(),
        Normalize::MinMax => scale(values.to_vec()),
        Normalize::CbrtMinMax => scale(values.iter().map(|x| x.cbrt()).collect()),
        Normalize::LogMinMax => scale(
            values
                .iter()
                .map(|x| if *x > -1.0 { x.ln_1p() } else { 0.0 })
                .collect(),
        ),
        Normalize::ZScore => {
            let n = values.len().max(1) as f64;
            let mean = values.iter().sum::<f64>() / n;
            let sd = (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
            values
                .iter()
                .map(|x| if sd > 0.0 { (x - mean) / sd } else { 0.0 })
                .collect()
        }
        Normalize::PercentileRank => {
            // Average rank of ties, then (rank − 1) / (n − 1).
            let n = values.len();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
            let mut ranks = vec![0.0; n];
            let mut i = 0;
            while i < n {
                let mut j = i;
                while j + 1 < n && values[order[j + 1]] == values[order[i]] {
                    j += 1;
                }
                let avg = (i + j) as f64 / 2.0;
                for k in i..=j {
                    ranks[order[k]] = if n > 1 { avg / (n - 1) as f64 } else { 0.0 };
                }
                i = j + 1;
            }
            ranks
        }
        Normalize::Fixed => {
            let [lo, hi] = bounds.unwrap_or([0.0, 1.0]);
            values
                .iter()
                .map(|x| ((x - lo) / (hi - lo)).clamp(0.0, 1.0))
                .collect()
        }
    }
}

fn combine(
    how: Combine,
    weights: &BTreeMap<String, f64>,
    known: &BTreeMap<String, Vec<f64>>,
    n: usize,
) -> Vec<f64> {
    let inputs: Vec<(&Vec<f64>, f64)> = weights
        .iter()
        .filter_map(|(k, w)| Some((known.get(k)?, *w)))
        .collect();
    (0..n)
        .map(|i| match how {
            Combine::WeightedSum => inputs.iter().map(|(v, w)| v[i] * w).sum(),
            Combine::Mean => {
                inputs.iter().map(|(v, _)| v[i]).sum::<f64>() / inputs.len().max(1) as f64
            }
            Combine::Product => inputs.iter().map(|(v, w)| v[i].max(0.0).powf(*w)).product(),
            Combine::GeometricMean => {
                let wsum: f64 = inputs.iter().map(|(_, w)| w).sum();
                if inputs.iter().any(|(v, _)| v[i] <= 0.0) {
                    0.0
                } else {
                    (inputs.iter().map(|(v, w)| w * v[i].ln()).sum::<f64>() / wsum).exp()
                }
            }
            Combine::Hevc | Combine::Expr => f64::NAN,
        })
        .collect()
}

/// Scores and grades every unit of the table with the model.
pub fn score(model: &Model, units: &DataFrame) -> Result<ScoredUnits> {
    let n = units.height();
    let mut reason: Vec<Option<String>> = vec![None; n];

    // Indicators: one SQL query over the unit table, rows in table order.
    let ctx = SQLContext::new();
    ctx.register("units", units.clone().lazy());
    let mut ctx = ctx;
    let select: Vec<String> = model
        .indicators
        .iter()
        .map(|i| format!("({}) AS \"{}\"", i.expr, i.name))
        .collect();
    let raw = if select.is_empty() {
        DataFrame::empty()
    } else {
        ctx.execute(&format!("SELECT {} FROM units", select.join(", ")))?
            .collect()?
    };

    if model.min_buildings > 0
        && let Ok(nb) = to_vec(units, "n_buildings")
    {
        for (i, v) in nb.iter().enumerate() {
            let v = v.unwrap_or(0.0);
            if v < model.min_buildings as f64 && reason[i].is_none() {
                reason[i] = Some(format!(
                    "建筑记录不足（{v} < {}）/ too few building records",
                    model.min_buildings
                ));
            }
        }
    }

    let mut known: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut raw_values: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    for ind in &model.indicators {
        let vals = to_vec(&raw, &ind.name)?;
        let present: Vec<f64> = vals.iter().flatten().copied().collect();
        let mean = if present.is_empty() {
            0.0
        } else {
            present.iter().sum::<f64>() / present.len() as f64
        };
        let filled: Vec<f64> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| match (v, ind.missing) {
                (Some(x), _) => *x,
                (None, Missing::Zero) => 0.0,
                (None, Missing::Mean) => mean,
                (None, Missing::NoRating) => {
                    if reason[i].is_none() {
                        reason[i] = Some(format!(
                            "指标 {} 缺失或无法计算 / indicator {} is missing",
                            ind.name, ind.name
                        ));
                    }
                    mean
                }
            })
            .collect();
        let mut norm = normalize(&filled, ind.normalize, ind.bounds);
        if ind.direction == Direction::Negative {
            for x in &mut norm {
                *x = if ind.normalize == Normalize::ZScore {
                    -*x
                } else {
                    1.0 - *x
                };
            }
        }
        known.insert(ind.name.clone(), norm);
        raw_values.push((format!("ind_{}", ind.name), vals));
    }
    for d in &model.dimensions {
        let v = combine(d.combine, &d.weights, &known, n);
        known.insert(d.name.clone(), v);
    }

    let mut out: Vec<Column> = vec![
        units.column("unit_code")?.clone(),
        units.column("unit_name")?.clone(),
    ];
    let mut grade_counts = BTreeMap::new();
    let mut all_breaks = BTreeMap::new();
    let rated: Vec<bool> = reason.iter().map(Option::is_none).collect();
    let g = &model.grading;
    for s in &model.scores {
        let mut v = match s.formula {
            Combine::Hevc => {
                let get = |k: &Option<String>| {
                    k.as_ref()
                        .and_then(|k| known.get(k))
                        .cloned()
                        .unwrap_or_else(|| vec![0.0; n])
                };
                let (h, e, vu, c) = (
                    get(&s.hazard),
                    get(&s.exposure),
                    get(&s.vulnerability),
                    get(&s.capacity),
                );
                for (role, vals) in [
                    ("hazard", &h),
                    ("exposure", &e),
                    ("vulnerability", &vu),
                    ("capacity", &c),
                ] {
                    let col = if s.kind == ScoreKind::Composite {
                        format!("composite_{role}")
                    } else {
                        format!("{}_{role}", s.name)
                    };
                    out.push(Column::new(col.into(), vals.clone()));
                }
                (0..n)
                    .map(|i| h[i] * e[i] * vu[i] / c[i].max(s.capacity_floor))
                    .collect::<Vec<f64>>()
            }
            Combine::Expr => {
                let cols: Vec<Column> = known
                    .iter()
                    .map(|(k, v)| Column::new(k.as_str().into(), v.clone()))
                    .collect();
                let c2 = SQLContext::new();
                c2.register("dims", DataFrame::new(n, cols)?.lazy());
                let mut c2 = c2;
                let e = s.expr.clone().unwrap_or_default();
                let df = c2
                    .execute(&format!("SELECT ({e}) AS v FROM dims"))?
                    .collect()?;
                to_vec(&df, "v")?
                    .into_iter()
                    .map(|x| x.unwrap_or(f64::NAN))
                    .collect()
            }
            how => combine(how, &s.weights, &known, n),
        };
        if let Some([a, b]) = s.rescale {
            let rated_vals: Vec<f64> = v
                .iter()
                .zip(&rated)
                .filter(|(_, r)| **r)
                .map(|(x, _)| *x)
                .collect();
            let (lo, hi) = minmax(&rated_vals);
            for x in &mut v {
                *x = if hi > lo {
                    a + (b - a) * (*x - lo) / (hi - lo)
                } else {
                    a
                };
            }
        }
        known.insert(s.name.clone(), v.clone());

        let rated_vals: Vec<f64> = v
            .iter()
            .zip(&rated)
            .filter(|(x, r)| **r && x.is_finite())
            .map(|(x, _)| *x)
            .collect();
        let br = breaks(g.method, &rated_vals, g.classes, &g.breaks);
        let mut counts = vec![0u64; g.classes];
        let mut no = 0u64;
        let mut labels = Vec::with_capacity(n);
        let mut colors = Vec::with_capacity(n);
        let mut scores = Vec::with_capacity(n);
        for i in 0..n {
            if rated[i] && v[i].is_finite() {
                let class = class_of(v[i], &br);
                let idx = g.classes - 1 - class.min(g.classes - 1);
                counts[idx] += 1;
                labels.push(g.labels[idx].clone());
                colors.push(g.colors[idx].clone());
                scores.push(Some(v[i]));
            } else {
                no += 1;
                labels.push(g.no_rating_label.clone());
                colors.push(g.no_rating_color.clone());
                scores.push(None);
            }
        }
        let prefix = if s.kind == ScoreKind::Composite {
            "composite".to_owned()
        } else {
            s.name.clone()
        };
        out.push(Column::new(format!("{prefix}_score").into(), scores));
        out.push(Column::new(format!("{prefix}_grade").into(), labels));
        out.push(Column::new(format!("{prefix}_color").into(), colors));
        let mut gc: Vec<(String, String, u64)> = (0..g.classes)
            .map(|k| (g.labels[k].clone(), g.colors[k].clone(), counts[k]))
            .collect();
        gc.push((g.no_rating_label.clone(), g.no_rating_color.clone(), no));
        grade_counts.insert(prefix.clone(), gc);
        all_breaks.insert(prefix, br);
    }
    out.push(Column::new("no_rating_reason".into(), reason));
    for (name, vals) in raw_values {
        out.push(Column::new(name.into(), vals));
    }
    for c in units.columns() {
        let name = c.name().as_str();
        if name.starts_with("n_")
            || [
                "population",
                "area_km2",
                "floor_area_m2",
                "building_residents",
            ]
            .contains(&name)
        {
            out.push(c.clone());
        }
    }
    Ok(ScoredUnits {
        df: DataFrame::new(n, out)?,
        grade_counts,
        breaks: all_breaks,
    })
}

/// Writes the unit risk table as Parquet (zstd), under a temporary name renamed when whole.
pub fn write_parquet(df: &mut DataFrame, path: &std::path::Path) -> Result<()> {
    let err = |m: String| crate::Error::Write {
        path: path.to_owned(),
        message: m,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let tmp = path.with_extension(format!("parquet.tmp-{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(|e| err(e.to_string()))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn normalisations_by_hand() {
        let v = [1.0, 8.0, 27.0, 64.0];
        assert!(close(
            &normalize(&v, Normalize::MinMax, None),
            &[0.0, 7.0 / 63.0, 26.0 / 63.0, 1.0]
        ));
        assert!(close(
            &normalize(&v, Normalize::CbrtMinMax, None),
            &[0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]
        ));
        assert!(close(
            &normalize(&[3.0, 1.0, 3.0, 2.0], Normalize::PercentileRank, None),
            &[2.5 / 3.0, 0.0, 2.5 / 3.0, 1.0 / 3.0]
        ));
        assert!(close(
            &normalize(&[2.0, 4.0, 6.0], Normalize::ZScore, None),
            &[-(1.5f64).sqrt(), 0.0, (1.5f64).sqrt()]
        ));
        assert!(close(
            &normalize(&[-5.0, 5.0, 15.0], Normalize::Fixed, Some([0.0, 10.0])),
            &[0.0, 0.5, 1.0]
        ));
        let l = normalize(&[0.0, (1.0f64).exp() - 1.0], Normalize::LogMinMax, None);
        assert!(close(&l, &[0.0, 1.0]));
        // A constant indicator separates no unit.
        assert!(close(
            &normalize(&[7.0, 7.0], Normalize::MinMax, None),
            &[0.0, 0.0]
        ));
    }

    #[test]
    fn combinations_by_hand() {
        let known: BTreeMap<String, Vec<f64>> = [
            ("a".to_owned(), vec![0.5, 0.2]),
            ("b".to_owned(), vec![0.5, 0.8]),
        ]
        .into_iter()
        .collect();
        let w: BTreeMap<String, f64> = [("a".to_owned(), 0.25), ("b".to_owned(), 0.75)]
            .into_iter()
            .collect();
        assert!(close(
            &combine(Combine::WeightedSum, &w, &known, 2),
            &[0.5, 0.65]
        ));
        let eq: BTreeMap<String, f64> = [("a".to_owned(), 1.0), ("b".to_owned(), 1.0)]
            .into_iter()
            .collect();
        assert!(close(
            &combine(Combine::GeometricMean, &eq, &known, 2),
            &[0.5, 0.4]
        ));
        assert!(close(
            &combine(Combine::Product, &eq, &known, 2),
            &[0.25, 0.16000000000000003]
        ));
    }
}
