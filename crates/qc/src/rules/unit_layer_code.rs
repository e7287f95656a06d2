//! The code of a unit layer checked before any units exist (a county layer, say), which no
//! township rule covers: a code of the registry's edition, or one the change list retired.

use std::collections::HashMap;

use riskcensus_schema::{GeometryKind, Severity, TableSchema};

use super::unit_code::unknown_unit;
use super::{Finding, RecordRule, Row, finding};
use crate::Context;
use crate::codes;
use crate::coerce::Value;

pub(crate) struct UnitLayerCode;

impl RecordRule for UnitLayerCode {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, ctx: &Context<'_>) {
        if let Some(code) = unit_layer_code(
            schema,
            &row.values,
            &row.field_ok,
            ctx,
            &mut row.township_valid,
            &mut row.findings,
        ) {
            row.unit = Some(code);
        }
    }
}

/// The code of a unit layer (checked before any units exist) that no township rule covers, e.g. a
/// county layer: it must be a code of the registry's edition, or one the change list retired in
/// favour of one (the unit is then graded under its successor, merged with any other unit the
/// change merged into it), or the unit would be graded under a code no other table can match.
/// Returns the code the unit is graded under.
pub(crate) fn unit_layer_code(
    schema: &TableSchema,
    values: &[Value],
    field_ok: &[bool],
    ctx: &Context<'_>,
    township_valid: &mut HashMap<usize, bool>,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    if ctx.units.is_some() || schema.geometry != GeometryKind::Polygon {
        return None;
    }
    let k = schema
        .primary_key
        .first()
        .and_then(|k| schema.field_index(k))?;
    if township_valid.contains_key(&k) || !field_ok[k] {
        return None;
    }
    let code = values[k].as_str()?;
    let name = codes::paired_name(schema, k).and_then(|kn| values[kn].as_str());
    let successor = codes::successor(&ctx.stale, code);
    let target = successor.unwrap_or(code);
    let known = ctx.registry.get(target).is_some();
    let f = &schema.fields[k];
    let problem = match (known, successor) {
        (true, None) => None,
        (true, Some(new)) => {
            let (zh, en) = codes::merger(ctx, new);
            findings.push(finding(
                k,
                code.to_owned(),
                "unit_code_retired",
                Severity::Warning,
                format!("单元代码 {code} 已撤销（{zh}），按 {new} 评估"),
                format!("unit code {code} was retired ({en}); graded as {new}"),
            ));
            None
        }
        (false, Some(new)) => Some((
            "retired_unit_code",
            format!("单元代码 {code} 已撤销，现为 {new}，但 {new} 不在 2023 年统计用区划代码中",),
            format!(
                "unit code {code} was retired; it is now {new}, which is not in the NBS 2023 division list"
            ),
        )),
        (false, None) => Some(unknown_unit(ctx, f, code, name)),
    };
    let ok = problem.is_none();
    if let Some((rule, zh, en)) = problem {
        findings.push(finding(k, code.to_owned(), rule, Severity::Error, zh, en));
    }
    township_valid.insert(k, ok);
    ok.then(|| target.to_owned())
}
