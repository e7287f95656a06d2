//! `unit_code`: the code of a row of a per-unit indicator table.

use riskcensus_schema::{FieldSchema, Rule, Severity, TableSchema};

use super::{Finding, RecordRule, Row, finding};
use crate::Context;
use crate::codes;
use crate::coerce::Value;

/// The table's (first) unit-code rule.
pub(crate) struct UnitCode;

impl UnitCode {
    pub fn of(schema: &TableSchema) -> Option<UnitCode> {
        schema
            .rules
            .iter()
            .any(|r| matches!(r, Rule::UnitCode { .. }))
            .then_some(UnitCode)
    }
}

impl RecordRule for UnitCode {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, ctx: &Context<'_>) {
        if let Some(code) = unit_code_rule(
            schema,
            &mut row.values,
            &mut row.field_ok,
            ctx,
            &mut row.findings,
            &mut row.repaired,
        ) {
            row.unit = Some(code);
        }
    }
}

/// A unit code of no edition of the division list, with the current code of the same name when the
/// record carries one.
pub(crate) fn unknown_unit(
    ctx: &Context<'_>,
    f: &FieldSchema,
    code: &str,
    name: Option<&str>,
) -> (&'static str, String, String) {
    let (mean_zh, mean_en) = codes::suggestion(codes::did_you_mean(ctx, code, name));
    (
        "unknown_unit_code",
        format!(
            "“{}”{code} 不在 {} 统计用区划代码中（旧版代码？）{mean_zh}",
            f.name_zh,
            riskcensus_schema::divisions::EDITION
        ),
        format!(
            "{}: unit code {code} is not in the division list ({}): a code of another edition?{mean_en}",
            f.code,
            riskcensus_schema::divisions::EDITION
        ),
    )
}

/// The code of a row of a per-unit indicator table ([`Rule::UnitCode`]): written back as text
/// when Excel made it a number, its leading zeros restored when the table's other codes show it
/// lost them (a warning: the record stays), and with `registry`, a code of the edition that no
/// change retired. An indicator row is not merged into its successor (its figures would have to
/// be combined with the successor's), so a retired code is an error naming the change. Returns
/// the code the row stands for.
fn unit_code_rule(
    schema: &TableSchema,
    values: &mut [Value],
    field_ok: &mut [bool],
    ctx: &Context<'_>,
    findings: &mut Vec<Finding>,
    repaired: &mut u32,
) -> Option<String> {
    let (field, digits, registry) = schema.rules.iter().find_map(|r| match r {
        Rule::UnitCode {
            field,
            digits,
            registry,
        } => Some((field, *digits, *registry)),
        _ => None,
    })?;
    let k = schema.field_index(field)?;
    let given = values[k].as_str().filter(|_| field_ok[k])?.to_owned();
    let f = &schema.fields[k];
    // A division code never lost a leading zero (none starts with one): a shorter code that is in
    // the list is a unit of another level, kept as it is and checked like the others.
    let digits = digits.filter(|_| !(registry && ctx.registry.get(given.trim()).is_some()));
    let code = match codes::normalise_unit_code(&given, digits) {
        codes::UnitCode::Kept(code) => code,
        codes::UnitCode::ZerosRestored { from, to } => {
            findings.push(finding(
                k,
                given.clone(),
                "code_zeros_restored",
                Severity::Warning,
                format!("“{}”{from} 缺少前导零（被 Excel 当作数字？），已补为 {to}", f.name_zh),
                format!(
                    "{}: {from} lost its leading zeros (read as a number by Excel?); repaired to {to}",
                    f.code
                ),
            ));
            to
        }
        codes::UnitCode::Bad(code) => {
            field_ok[k] = false;
            let n = digits.unwrap_or(0);
            findings.push(finding(
                k,
                given.clone(),
                "bad_unit_code",
                Severity::Error,
                format!(
                    "“{}”{code} 不是 {n} 位数字代码（本表其他代码均为 {n} 位）",
                    f.name_zh
                ),
                format!(
                    "{}: {code:?} is not a {n}-digit code like the table's others",
                    f.code
                ),
            ));
            return None;
        }
    };
    if code != given {
        *repaired += 1;
        values[k] = Value::Text(code.as_str().into());
    }
    if !registry {
        return Some(code);
    }
    let name = codes::paired_name(schema, k).and_then(|kn| values[kn].as_str());
    let problem = if let Some(new) = codes::successor(&ctx.stale, &code) {
        let (zh, en) = codes::merger(ctx, new);
        Some((
            "retired_unit_code",
            format!("单元代码 {code} 已撤销（{zh}），其指标应并入 {new} 后重报"),
            format!("unit code {code} was retired ({en}); its figures belong in {new}'s row"),
        ))
    } else if ctx.registry.get(&code).is_none() {
        Some(unknown_unit(ctx, f, &code, name))
    } else {
        None
    };
    match problem {
        Some((rule, zh, en)) => {
            field_ok[k] = false;
            findings.push(finding(k, given, rule, Severity::Error, zh, en));
            None
        }
        None => Some(code),
    }
}
