//! `pattern`: a text matching its field's regular expression.

use riskcensus_schema::{FieldSchema, Severity};

use super::{FieldRule, Finding, Row, finding};
use crate::Context;
use crate::coerce::Value;

pub(crate) struct Pattern;

impl FieldRule for Pattern {
    fn check(
        &self,
        k: usize,
        f: &FieldSchema,
        v: &Value,
        _row: &mut Row<'_>,
        _ctx: &Context<'_>,
    ) -> Option<Finding> {
        let (s, p) = (v.as_str()?, f.pattern.as_ref()?);
        (!p.is_match(s)).then(|| {
            finding(
                k,
                s.to_owned(),
                "pattern_mismatch",
                Severity::Error,
                format!("“{}”的值“{s}”格式不符", f.name_zh),
                format!("{} {s:?} does not match {}", f.code, p.as_str()),
            )
        })
    }
}
