//! `village_prefix`: a village code's first 9 digits are its record's township code.

use riskcensus_schema::{Severity, TableSchema};

use super::{RecordRule, Row, finding};
use crate::Context;

pub(crate) struct VillagePrefix {
    pub village: usize,
    pub township: usize,
}

impl RecordRule for VillagePrefix {
    fn check(&self, row: &mut Row<'_>, _schema: &TableSchema, _ctx: &Context<'_>) {
        let (kv, kt) = (self.village, self.township);
        if !row.field_ok[kv] || row.township_valid.get(&kt) == Some(&false) {
            return;
        }
        if let (Some(v), Some(t)) = (row.values[kv].as_str(), row.values[kt].as_str())
            && v.get(..9) != Some(t)
        {
            let found = finding(
                kv,
                v.to_owned(),
                "village_prefix_mismatch",
                Severity::Error,
                format!("村（社区）代码 {v} 的前 9 位与乡镇代码 {t} 不一致"),
                format!("village code {v} does not start with its township code {t}"),
            );
            row.findings.push(found);
        }
    }
}
