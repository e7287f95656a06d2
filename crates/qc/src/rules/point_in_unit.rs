//! `point_in_unit`: the point falls in the township its record declares; a point that declares
//! none is placed by where it falls. Names the township it does fall in, a GCJ-02 offset (points
//! from a web map) or a point outside the region.

use riskcensus_schema::{Severity, TableSchema};
use riskcensus_spatial::UnitIndex;
use riskcensus_spatial::gcj02::{gcj02_to_wgs84, wgs84_to_gcj02};

use super::{Finding, RecordRule, Row, finding, name_of};
use crate::Context;
use crate::messages::num;

pub(crate) struct PointInUnit {
    pub lon: usize,
    pub lat: usize,
    /// The township (or village) field that declares the unit.
    pub declared: Option<usize>,
}

impl RecordRule for PointInUnit {
    fn check(&self, row: &mut Row<'_>, _schema: &TableSchema, ctx: &Context<'_>) {
        let (a, b) = (self.lon, self.lat);
        if !row.field_ok[a] || !row.field_ok[b] || row.skip_range[a] {
            return;
        }
        let (Some(x), Some(y)) = (row.values[a].as_f64(), row.values[b].as_f64()) else {
            return;
        };
        let declared_field = self.declared;
        let Some(units) = ctx.units else { return };
        let declared_ok = declared_field.map(|kd| row.township_valid.get(&kd) == Some(&true));
        // A record that names no township (no such column, or left empty) is placed by its
        // point; one that names an invalid township already carries that error.
        let names_none = declared_field.is_none_or(|kd| row.values[kd].is_null());
        if declared_ok != Some(true) {
            if names_none {
                match units.locate(x, y) {
                    Some(at) => row.point_unit = Some(at.to_owned()),
                    None => row.findings.push(outside_units(a, x, y, units, ctx)),
                }
            }
            return;
        }
        let Some(kd) = declared_field else { return };
        let Some(declared) = row.declared_units.get(&kd).cloned() else {
            return;
        };
        let declared = declared.as_str();
        let at = units.locate(x, y);
        // Units may be townships or larger (counties): a unit covers the codes it prefixes.
        let covers = |u: Option<&str>| u.is_some_and(|u| declared.starts_with(u));
        if covers(at) {
            return;
        }
        let back = gcj02_to_wgs84(x, y);
        let (rule, zh, en) = if covers(units.locate(back.0, back.1)) {
            (
                "gcj02_offset",
                format!(
                    "坐标 {}, {} 疑似火星坐标（GCJ-02）偏移：纠偏后位于所报{}（{declared}）内",
                    num(x),
                    num(y),
                    name_of(ctx, declared)
                ),
                format!(
                    "point {}, {} looks GCJ-02 shifted: corrected, it falls in its township {declared}",
                    num(x),
                    num(y)
                ),
            )
        } else if let Some(at) = at {
            (
                "point_outside_township",
                format!(
                    "坐标位于{}（{at}），不在所报{}（{declared}）内",
                    name_of(ctx, at),
                    name_of(ctx, declared)
                ),
                format!("point falls in township {at}, not in its township {declared}"),
            )
        } else {
            (
                "point_outside_county",
                format!(
                    "坐标 {}, {} 不在{}（{}）范围内",
                    num(x),
                    num(y),
                    name_of(ctx, &ctx.region_code),
                    ctx.region_code
                ),
                format!(
                    "point {}, {} is outside the region {}",
                    num(x),
                    num(y),
                    ctx.region_code
                ),
            )
        };
        row.findings.push(finding(
            a,
            format!("{}, {}", num(x), num(y)),
            rule,
            Severity::Error,
            zh,
            en,
        ));
    }
}

/// A point that falls in no unit: names the nearest unit and the distance, and says so when a
/// GCJ-02 shift (either way: the point from a web map, or the boundaries) would place it.
fn outside_units(field: usize, x: f64, y: f64, units: &UnitIndex, ctx: &Context<'_>) -> Finding {
    let nearest = units.nearest(x, y);
    let (near_zh, near_en) = match nearest {
        Some((code, m)) => (
            format!(
                "；最近的单元为{}（{code}），相距约 {:.0} 米",
                name_of(ctx, code),
                m
            ),
            format!("; the nearest unit is {code}, about {m:.0} m away"),
        ),
        None => (String::new(), String::new()),
    };
    let (wx, wy) = gcj02_to_wgs84(x, y);
    let (gx, gy) = wgs84_to_gcj02(x, y);
    let (shift_zh, shift_en) = if let Some(at) = units.locate(wx, wy) {
        (
            format!(
                "；按火星坐标（GCJ-02）纠偏后落在{}（{at}）内，疑似坐标取自网络地图",
                name_of(ctx, at)
            ),
            format!("; corrected from GCJ-02 it falls in {at}: coordinates from a web map?"),
        )
    } else if let Some(at) = units.locate(gx, gy) {
        (
            format!(
                "；按 GCJ-02 偏移后落在{}（{at}）内，疑似边界图层为火星坐标",
                name_of(ctx, at)
            ),
            format!("; shifted to GCJ-02 it falls in {at}: are the unit boundaries GCJ-02?"),
        )
    } else {
        (String::new(), String::new())
    };
    finding(
        field,
        format!("{}, {}", num(x), num(y)),
        "point_outside_units",
        Severity::Error,
        format!(
            "坐标 {}, {} 不在任何评估单元内，无法归属{near_zh}{shift_zh}",
            num(x),
            num(y)
        ),
        format!(
            "point {}, {} falls in no unit and cannot be assigned{near_en}{shift_en}",
            num(x),
            num(y)
        ),
    )
}
