//! The geometry of a vector record: present where the table needs one, parseable, not empty, and
//! a valid polygon.

use riskcensus_schema::{GeometryKind, Severity, TableSchema};
use riskcensus_spatial::{Geom, is_empty, is_valid_wkb, parse_wkb};

use super::{Finding, RecordRule, Row};
use crate::Context;

pub(crate) struct Geometry;

fn geometry_finding(rule: &'static str, zh: &str, en: &str) -> Finding {
    Finding {
        field: None,
        geometry: true,
        value: String::new(),
        rule,
        severity: Severity::Error,
        zh: zh.into(),
        en: en.into(),
    }
}

impl RecordRule for Geometry {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, _ctx: &Context<'_>) {
        if !matches!(schema.geometry, GeometryKind::Polygon | GeometryKind::Line)
            && row.raw.geometry.is_none()
        {
            return;
        }
        let found = match row.raw.geometry.as_deref() {
            None if schema.geometry == GeometryKind::Polygon => Some(geometry_finding(
                "missing_geometry",
                "缺少图形",
                "the record has no geometry",
            )),
            None => None,
            Some(w) => match parse_wkb(w) {
                Err(_) => Some(geometry_finding(
                    "invalid_geometry",
                    "图形数据无法解析",
                    "the geometry cannot be parsed",
                )),
                Ok(g) if is_empty(&g) => Some(geometry_finding(
                    "empty_geometry",
                    "图形为空",
                    "the geometry is empty",
                )),
                Ok(Geom::Polygon(_)) if is_valid_wkb(w) == Some(false) => Some(geometry_finding(
                    "invalid_polygon",
                    "面图形无效（自相交或环方向错误）",
                    "invalid polygon (self-intersection or bad rings)",
                )),
                Ok(_) => None,
            },
        };
        row.findings.extend(found);
    }
}
