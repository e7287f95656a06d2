//! `min`/`max`: a number (or a date) within its field's range.

use riskcensus_schema::{FieldSchema, FieldType, Severity};

use super::{FieldRule, Finding, Row, finding};
use crate::Context;
use crate::coerce::{Value, civil_from_days};
use crate::messages::num;

pub(crate) struct Range;

impl FieldRule for Range {
    fn check(
        &self,
        k: usize,
        f: &FieldSchema,
        v: &Value,
        row: &mut Row<'_>,
        ctx: &Context<'_>,
    ) -> Option<Finding> {
        let x = match v {
            Value::Date(d) => *d as f64,
            v => v.as_f64()?,
        };
        if row.skip_range[k] || in_range(f, x, ctx) {
            return None;
        }
        let shown = show(f, x);
        Some(finding(
            k,
            shown.clone(),
            "out_of_range",
            Severity::Error,
            format!(
                "“{}”的值 {shown} 超出范围 {}",
                f.name_zh,
                range_text(f, ctx)
            ),
            format!("{} = {shown} is outside {}", f.code, range_text(f, ctx)),
        ))
    }
}

/// A number as messages write it; a date as `YYYY-MM-DD`.
fn show(f: &FieldSchema, x: f64) -> String {
    if f.ty == FieldType::Date {
        civil_from_days(x as i32)
    } else {
        num(x)
    }
}

fn range_text(f: &FieldSchema, ctx: &Context<'_>) -> String {
    let lo = f
        .min
        .map(|b| show(f, b.resolve(ctx.reference_year)))
        .unwrap_or_else(|| "-∞".into());
    let hi = f
        .max
        .map(|b| show(f, b.resolve(ctx.reference_year)))
        .unwrap_or_else(|| "+∞".into());
    format!("[{lo}, {hi}]")
}

/// Whether `v` is within the field's bounds (a date as its days since 1970-01-01).
pub(crate) fn in_range(f: &FieldSchema, v: f64, ctx: &Context<'_>) -> bool {
    f.min.is_none_or(|b| v >= b.resolve(ctx.reference_year))
        && f.max.is_none_or(|b| v <= b.resolve(ctx.reference_year))
}
