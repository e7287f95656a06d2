//! The unit table: one row per unit, the figures a risk model reads, aggregated with polars.

use std::collections::BTreeMap;

use polars::prelude::*;
use rayon::prelude::*;
use riskcensus_qc::{CleanTable, ValueRef};
use riskcensus_schema::TableSchema;

use crate::Result;
use crate::figures::{Figure, figures_of};
use crate::units::{HazardLayer, RecordUnits, UnitSet, assign, locate};

/// Structures the census treats as weak against earthquakes.
pub const WEAK_STRUCTURES: &[&str] = &["土木结构", "石木结构", "木(竹)结构", "混杂结构", "其他"];
/// Structure types (the census's list) and the column slugs their counts and floor areas take.
pub const STRUCTURE_SLUGS: &[(&str, &str)] = &[
    ("砖混结构", "brick_concrete"),
    ("钢筋混凝土结构", "reinforced_concrete"),
    ("钢结构", "steel"),
    ("砌体结构", "masonry"),
    ("底部框架-抗震墙砌体结构", "bottom_frame"),
    ("木(竹)结构", "wood"),
    ("土木结构", "earth_wood"),
    ("石木结构", "stone_wood"),
    ("混杂结构", "mixed"),
    ("其他", "other"),
];

/// Buildings completed before this year are "old".
pub const OLD_BEFORE: i64 = 1990;

/// One checked table.
pub struct TableInput<'a> {
    pub schema: &'a TableSchema,
    pub clean: &'a CleanTable,
}

fn idx(t: &CleanTable, field: &str) -> Option<usize> {
    t.fields.iter().position(|f| f == field)
}

fn f64s(t: &CleanTable, field: &str) -> Vec<Option<f64>> {
    match idx(t, field) {
        Some(k) => t.rows.iter().map(|r| r.values.at(k).as_f64()).collect(),
        None => vec![None; t.rows.len()],
    }
}

/// A text column, borrowed from the rows (no string copied per record).
fn strs<'a>(t: &'a CleanTable, field: &str) -> Vec<Option<&'a str>> {
    match idx(t, field) {
        Some(k) => t
            .rows
            .iter()
            .map(|r| {
                if let ValueRef::Text(s) = r.values.at(k) {
                    Some(s)
                } else {
                    None
                }
            })
            .collect(),
        None => vec![None; t.rows.len()],
    }
}

fn flag(values: &[Option<&str>], pred: impl Fn(&str) -> bool) -> Vec<f64> {
    values
        .iter()
        .map(|v| if v.is_some_and(&pred) { 1.0 } else { 0.0 })
        .collect()
}

/// Thousandths as integers.
fn milli(values: &[Option<f64>]) -> Vec<Option<i64>> {
    values
        .iter()
        .map(|v| {
            v.filter(|x| x.is_finite())
                .map(|x| (x * 1000.0).round() as i64)
        })
        .collect()
}

/// Sum of a thousandths column, back in units.
fn total(name: &str) -> Expr {
    (col(name).sum().cast(DataType::Float64) / lit(1000.0)).alias(name)
}

/// Share of records with a flag (a thousandths column of 0 and 1000).
fn share(name: &str, alias: &str) -> Expr {
    (col(name).sum().cast(DataType::Float64) / lit(1000.0) / len().cast(DataType::Float64))
        .alias(alias)
}

/// Sum of a thousandths column where a condition holds, in units.
fn total_where(name: &str, cond: Expr, alias: &str) -> Expr {
    (col(name).filter(cond).sum().cast(DataType::Float64) / lit(1000.0)).alias(alias)
}

/// How records of each table were assigned, for the run's report.
pub type Assignments = BTreeMap<String, crate::units::Assignment>;

/// The unit table, and how the records of each table were assigned to units.
pub struct UnitTable {
    /// One row per unit.
    pub df: DataFrame,
    /// Per table: counts by how records were assigned.
    pub assignments: Assignments,
    /// Per table: each clean record's unit and how it was found, in row order.
    pub records: BTreeMap<String, RecordUnits>,
}

/// The columns `unit_table` makes for these tables and hazards (name, classes), in order: what a
/// model may refer to, known before any data is read.
pub fn expected_columns(tables: &[&str], hazards: &[(String, Vec<i64>)]) -> Vec<String> {
    let mut out: Vec<String> = BASE_COLUMNS.iter().map(|s| s.to_string()).collect();
    for (h, _) in hazards {
        out.push(format!("hz_{h}_mean"));
    }
    for t in tables {
        let cols: Vec<String> = match *t {
            "fwjz" => {
                let mut v: Vec<String> = [
                    "n_buildings",
                    "floor_area_m2",
                    "building_residents",
                    "weak_structure_share",
                    "old_building_share",
                    "unfortified_share",
                    "weak_floor_area_m2",
                ]
                .map(String::from)
                .to_vec();
                for (_, slug) in STRUCTURE_SLUGS {
                    v.push(format!("n_buildings_{slug}"));
                    v.push(format!("floor_area_{slug}_m2"));
                }
                for (h, classes) in hazards {
                    for c in classes {
                        v.push(format!("pop_{h}_c{c}"));
                        v.push(format!("floor_area_{h}_c{c}"));
                    }
                    v.push(format!("pop_{h}_weighted"));
                }
                v
            }
            t => figures_of(t)
                .map(|f| f.iter().map(|x| x.column().to_owned()).collect())
                .unwrap_or_default(),
        };
        out.extend(cols);
    }
    out
}

/// Columns every unit table has, whatever the inputs.
pub const BASE_COLUMNS: &[&str] = &["unit_code", "unit_name", "area_km2"];

/// Builds the unit table. Rows are the units in code order; aggregates are left-joined onto them, so
/// a unit without records has zero counts, never a missing row.
pub fn unit_table(
    units: &UnitSet,
    hazards: &[HazardLayer],
    tables: &[TableInput<'_>],
) -> Result<UnitTable> {
    let n = units.units.len();
    let mut base = vec![
        Column::new(
            "unit_code".into(),
            units
                .units
                .iter()
                .map(|u| u.code.clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "unit_name".into(),
            units
                .units
                .iter()
                .map(|u| u.name.clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "area_km2".into(),
            units.units.iter().map(|u| u.area_km2).collect::<Vec<_>>(),
        ),
    ];
    for h in hazards {
        let means: Vec<f64> = units.units.iter().map(|u| h.area_weighted(u)).collect();
        base.push(Column::new(format!("hz_{}_mean", h.name).into(), means));
    }
    let mut lf = DataFrame::new(n, base)?.lazy();
    let mut assignments = Assignments::new();
    let mut per_record = BTreeMap::new();
    let mut count_columns: Vec<String> = Vec::new();

    for t in tables {
        let code = t.schema.code.as_str();
        let located = locate(t.clean, t.schema);
        let (records, how) = assign(t.clean, &located, units);
        assignments.insert(code.to_owned(), how);
        let mut cols = vec![Column::new("unit".into(), records.unit.clone())];
        per_record.insert(code.to_owned(), records);
        let mut aggs: Vec<Expr> = Vec::new();
        // Figures are summed as integers (thousandths): integer sums do not depend on the order of
        // the rows or on how polars splits them across threads, so neither changes a score.
        let mut add = |name: &str, values: Vec<Option<f64>>| {
            cols.push(Column::new(name.into(), milli(&values)))
        };
        match code {
            "fwjz" => {
                let area = f64s(t.clean, "jzmj");
                let residents = f64s(t.clean, "czrk");
                let structure = strs(t.clean, "jglx");
                let year = f64s(t.clean, "jcnd");
                let fortified = strs(t.clean, "kzsf");
                add("floor_area", area);
                add("residents", residents);
                add(
                    "weak",
                    flag(&structure, |s| WEAK_STRUCTURES.contains(&s))
                        .into_iter()
                        .map(Some)
                        .collect(),
                );
                add(
                    "old",
                    year.iter()
                        .map(|y| {
                            Some(if y.is_some_and(|y| (y as i64) < OLD_BEFORE) {
                                1.0
                            } else {
                                0.0
                            })
                        })
                        .collect(),
                );
                add(
                    "unfortified",
                    flag(&fortified, |s| s == "否")
                        .into_iter()
                        .map(Some)
                        .collect(),
                );
                aggs.extend([
                    len().cast(DataType::Float64).alias("n_buildings"),
                    total("floor_area").alias("floor_area_m2"),
                    total("residents").alias("building_residents"),
                    share("weak", "weak_structure_share"),
                    share("old", "old_building_share"),
                    share("unfortified", "unfortified_share"),
                    total_where("floor_area", col("weak").gt(lit(0)), "weak_floor_area_m2"),
                ]);
                count_columns.extend(
                    [
                        "n_buildings",
                        "floor_area_m2",
                        "building_residents",
                        "weak_floor_area_m2",
                    ]
                    .map(String::from),
                );
                let kind: Vec<Option<i64>> = structure
                    .iter()
                    .map(|s| {
                        s.and_then(|s| STRUCTURE_SLUGS.iter().position(|x| x.0 == s))
                            .map(|k| k as i64)
                    })
                    .collect();
                cols.push(Column::new("structure".into(), kind));
                for (k, (_, slug)) in STRUCTURE_SLUGS.iter().enumerate() {
                    let n = format!("n_buildings_{slug}");
                    let fa = format!("floor_area_{slug}_m2");
                    aggs.push(
                        col("structure")
                            .eq(lit(k as i64))
                            .sum()
                            .cast(DataType::Float64)
                            .alias(n.as_str()),
                    );
                    aggs.push(total_where(
                        "floor_area",
                        col("structure").eq(lit(k as i64)),
                        &fa,
                    ));
                    count_columns.extend([n, fa]);
                }
                for h in hazards {
                    // One point-in-zone lookup per record and layer: the largest part of the
                    // unit table's time, spread over the threads (the order of results is kept).
                    let classes: Vec<i64> = located
                        .par_iter()
                        .map(|l| l.point.map(|(x, y)| h.class_at(x, y)).unwrap_or(0))
                        .collect();
                    let name = format!("class_{}", h.name);
                    cols.push(Column::new(name.as_str().into(), classes));
                    for &c in &h.classes {
                        let pop = format!("pop_{}_c{c}", h.name);
                        let fa = format!("floor_area_{}_c{c}", h.name);
                        aggs.push(total_where(
                            "residents",
                            col(name.as_str()).eq(lit(c)),
                            &pop,
                        ));
                        aggs.push(total_where(
                            "floor_area",
                            col(name.as_str()).eq(lit(c)),
                            &fa,
                        ));
                        count_columns.extend([pop, fa]);
                    }
                    let w = format!("pop_{}_weighted", h.name);
                    aggs.push(
                        ((col("residents") * col(name.as_str()))
                            .sum()
                            .cast(DataType::Float64)
                            / lit(1000.0))
                        .alias(w.as_str()),
                    );
                    count_columns.push(w);
                }
            }
            other => {
                let Some(figures) = figures_of(other) else {
                    continue;
                };
                for (k, figure) in figures.iter().enumerate() {
                    let column = figure.column();
                    let values = match *figure {
                        Figure::Count { .. } => {
                            aggs.push(len().cast(DataType::Float64).alias(column));
                            count_columns.push(column.to_owned());
                            continue;
                        }
                        Figure::Sum { field, .. } => f64s(t.clean, field),
                        Figure::CountOf { field, values, .. } => {
                            flag(&strs(t.clean, field), |s| values.contains(&s))
                                .into_iter()
                                .map(Some)
                                .collect()
                        }
                    };
                    // Per-record columns are named by position: two figures may read one field.
                    let name = format!("figure_{k}");
                    add(&name, values);
                    aggs.push(total(&name).alias(column));
                    count_columns.push(column.to_owned());
                }
            }
        }
        let height = t.clean.rows.len();
        let records = DataFrame::new(height, cols)?
            .lazy()
            .filter(col("unit").is_not_null());
        let agg = records.group_by([col("unit")]).agg(aggs);
        let mut args = JoinArgs::new(JoinType::Left);
        args.maintain_order = MaintainOrderJoin::Left;
        lf = lf.join(agg, [col("unit_code")], [col("unit")], args);
    }
    let fill: Vec<Expr> = count_columns
        .iter()
        .map(|c| col(c.as_str()).fill_null(lit(0.0)))
        .collect();
    let df = if fill.is_empty() {
        lf.collect()?
    } else {
        lf.with_columns(fill).collect()?
    };
    Ok(UnitTable {
        df,
        assignments,
        records: per_record,
    })
}
