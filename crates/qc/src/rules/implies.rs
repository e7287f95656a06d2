//! `implies`: where one condition holds, another must (启用次数 = 0 ⇒ 接纳人次 = 0; a level filled
//! only where the flag says 是).

use riskcensus_schema::{Severity, TableSchema};

use super::condition::{Compiled, shown};
use super::{RecordRule, Row, finding};
use crate::Context;

pub(crate) struct Implies {
    pub when: Compiled,
    pub then: Compiled,
    pub severity: Severity,
}

impl RecordRule for Implies {
    fn check(&self, row: &mut Row<'_>, _schema: &TableSchema, _ctx: &Context<'_>) {
        let k = self.then.k;
        // A `then` field that failed its own checks already carries its error.
        if !row.field_ok[k] || !self.when.holds(row) || self.then.holds(row) {
            return;
        }
        let v = shown(&row.values[k]);
        let found = finding(
            k,
            v.clone(),
            "conditional",
            self.severity,
            format!("{}时，应{}（实为“{v}”）", self.when.zh, self.then.zh),
            format!(
                "when {}, {} should hold (found {v:?})",
                self.when.en, self.then.en
            ),
        );
        row.findings.push(found);
    }
}
