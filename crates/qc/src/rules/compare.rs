//! `compare`: one field (or a sum of fields) against another, scaled — a part never larger than
//! its whole, a capacity bounded by an area. Checked when every field is filled and passed its own
//! checks.

use riskcensus_schema::{CmpOp, Severity, TableSchema};

use super::condition::Compiled;
use super::{RecordRule, Row, finding};
use crate::Context;
use crate::messages::num;

pub(crate) struct Compare {
    pub left: Vec<usize>,
    pub op: CmpOp,
    pub right: usize,
    pub factor: f64,
    pub when: Option<Compiled>,
    pub severity: Severity,
}

impl RecordRule for Compare {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, _ctx: &Context<'_>) {
        if self.when.as_ref().is_some_and(|c| !c.holds(row)) {
            return;
        }
        let number = |k: usize| row.ok_value(k).and_then(|v| v.as_f64());
        let Some(parts) = self
            .left
            .iter()
            .map(|&k| number(k))
            .collect::<Option<Vec<f64>>>()
        else {
            return;
        };
        let Some(whole) = number(self.right) else {
            return;
        };
        let sum: f64 = parts.iter().sum();
        let bound = whole * self.factor;
        if self.op.holds(sum, bound) {
            return;
        }
        let name = |k: usize| schema.fields[k].name_zh.as_str();
        let code = |k: usize| schema.fields[k].code.as_str();
        let left_zh: Vec<String> = self
            .left
            .iter()
            .map(|&k| format!("“{}”", name(k)))
            .collect();
        let left_en: Vec<&str> = self.left.iter().map(|&k| code(k)).collect();
        let (scale_zh, scale_en) = if self.factor == 1.0 {
            (String::new(), String::new())
        } else {
            (
                format!(" × {}（{}）", num(self.factor), num(bound)),
                format!(" × {} ({})", num(self.factor), num(bound)),
            )
        };
        let sym = self.op.symbol();
        let found = finding(
            self.left[0],
            num(sum),
            "field_comparison",
            self.severity,
            format!(
                "{} {} 应 {sym} “{}” {}{scale_zh}",
                left_zh.join(" + "),
                num(sum),
                name(self.right),
                num(whole)
            ),
            format!(
                "{} = {} should be {sym} {} = {}{scale_en}",
                left_en.join(" + "),
                num(sum),
                code(self.right),
                num(whole)
            ),
        );
        row.findings.push(found);
    }
}
