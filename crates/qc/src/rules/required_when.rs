//! `required` with `when`: a field that must be filled where another field has a given value (the
//! 其他说明 of a choice that ticks 其他, say).

use riskcensus_schema::{Severity, TableSchema};

use super::condition::Compiled;
use super::{RecordRule, Row, finding};
use crate::Context;

pub(crate) struct RequiredWhen {
    pub k: usize,
    pub when: Compiled,
    pub severity: Severity,
}

impl RecordRule for RequiredWhen {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, _ctx: &Context<'_>) {
        let k = self.k;
        if !row.field_ok[k] || !row.values[k].is_null() || !self.when.holds(row) {
            return;
        }
        let f = &schema.fields[k];
        let found = finding(
            k,
            String::new(),
            "required_when",
            self.severity,
            format!("{}时，“{}”必填", self.when.zh, f.name_zh),
            format!(
                "{} ({}) is required when {}",
                f.code, f.name_en, self.when.en
            ),
        );
        row.findings.push(found);
    }
}
