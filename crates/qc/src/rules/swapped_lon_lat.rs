//! Swapped coordinates (from a `point_in_unit` rule): longitude and latitude each outside their
//! own range and inside the other's. Run before the fields, so that the two ranges are not reported
//! as well, hiding the cause.

use riskcensus_schema::{Severity, TableSchema};

use super::{RecordRule, Row, finding, in_range};
use crate::Context;
use crate::coerce::coerce;
use crate::messages::num;

pub(crate) struct SwappedLonLat {
    pub lon: usize,
    pub lat: usize,
}

impl RecordRule for SwappedLonLat {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, ctx: &Context<'_>) {
        let (a, b) = (self.lon, self.lat);
        let (fa, fb) = (&schema.fields[a], &schema.fields[b]);
        if let (Ok(x), Ok(y)) = (
            coerce(row.raw.cells.at(a), fa.ty),
            coerce(row.raw.cells.at(b), fb.ty),
        ) && let (Some(x), Some(y)) = (x.as_f64(), y.as_f64())
            && !in_range(fa, x, ctx)
            && !in_range(fb, y, ctx)
            && in_range(fa, y, ctx)
            && in_range(fb, x, ctx)
        {
            row.skip_range[a] = true;
            row.skip_range[b] = true;
            row.findings.push(finding(
                a,
                format!("{}, {}", num(x), num(y)),
                "swapped_lon_lat",
                Severity::Error,
                format!("经纬度疑似填反：经度 {}、纬度 {}", num(x), num(y)),
                format!(
                    "longitude and latitude look swapped: lon {}, lat {}",
                    num(x),
                    num(y)
                ),
            ));
        }
    }
}
