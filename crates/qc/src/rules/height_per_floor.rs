//! `height_per_floor`: a building's height divided by its floors is a plausible storey height.

use riskcensus_schema::{Severity, TableSchema};

use super::{RecordRule, Row, finding};
use crate::Context;
use crate::messages::num;

pub(crate) struct HeightPerFloor {
    pub height: usize,
    pub floors: usize,
    pub min: f64,
    pub max: f64,
    pub severity: Severity,
}

impl RecordRule for HeightPerFloor {
    fn check(&self, row: &mut Row<'_>, _schema: &TableSchema, _ctx: &Context<'_>) {
        let (kh, kf, min, max) = (self.height, self.floors, self.min, self.max);
        if !row.field_ok[kh] || !row.field_ok[kf] {
            return;
        }
        let (Some(h), Some(n)) = (row.values[kh].as_f64(), row.values[kf].as_f64()) else {
            return;
        };
        if n < 1.0 {
            return;
        }
        let per = h / n;
        if per >= min && per <= max {
            return;
        }
        row.findings.push(finding(
            kh,
            num(h),
            "height_floors_mismatch",
            self.severity,
            format!(
                "建筑高度 {} 米与地上层数 {} 不符（每层 {:.1} 米，应在 {}–{} 米）",
                num(h),
                num(n),
                per,
                num(min),
                num(max)
            ),
            format!(
                "height {} m for {} floors is {:.1} m a floor, outside {}–{} m",
                num(h),
                num(n),
                per,
                num(min),
                num(max)
            ),
        ));
    }
}
