//! `required = true`: a field that must be filled.

use riskcensus_schema::{FieldSchema, Severity};

use super::{FieldRule, Finding, Row, finding};
use crate::Context;
use crate::coerce::Value;

pub(crate) struct Required;

impl FieldRule for Required {
    fn check(
        &self,
        k: usize,
        f: &FieldSchema,
        v: &Value,
        _row: &mut Row<'_>,
        _ctx: &Context<'_>,
    ) -> Option<Finding> {
        v.is_null().then(|| {
            finding(
                k,
                String::new(),
                "missing_required",
                Severity::Error,
                format!("必填项“{}”为空", f.name_zh),
                format!("required field {} ({}) is empty", f.code, f.name_en),
            )
        })
    }
}
