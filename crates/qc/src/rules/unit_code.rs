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
    // A division code of another level than the table's codes (a province, city or county row
    // among townships) is a subtotal, not a unit: told as such, not "repaired" into a code of the
    // table's length, nor graded beside the units it sums.
    let written = codes::from_number_text(given.trim()).unwrap_or_else(|| given.trim().to_owned());
    if registry
        && let Some(n) = digits
        && written.len() != n
        && let Some(d) = ctx.registry.get(&written)
    {
        field_ok[k] = false;
        findings.push(other_level(k, f, &written, d, n));
        return None;
    }
    let code = match codes::normalise_unit_code(&given, digits) {
        codes::UnitCode::Kept(code) => code,
        // Zeros are restored only where they make a code of the list: a shorter code that no zeros
        // make one (81, 460302 among township codes) is no code of the table's kind.
        codes::UnitCode::ZerosRestored { from, to }
            if !registry || ctx.registry.get(&to).is_some() =>
        {
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
        codes::UnitCode::ZerosRestored { from: code, .. } | codes::UnitCode::Bad(code) => {
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

/// A row whose code is a division of another level than the table's units: a subtotal.
fn other_level(
    k: usize,
    f: &FieldSchema,
    code: &str,
    d: &riskcensus_schema::divisions::Division,
    n: usize,
) -> Finding {
    use riskcensus_schema::DivisionLevel as L;
    let (zh, en) = match d.level {
        L::Province => ("省级", "province"),
        L::Prefecture => ("地级", "prefecture"),
        L::County => ("县级", "county"),
        L::Township => ("乡级", "township"),
        L::Village => ("村级", "village"),
    };
    finding(
        k,
        code.to_owned(),
        "unit_code_other_level",
        Severity::Error,
        format!(
            "“{}”{code} 是{zh}区划（{}）的代码，本表单元代码为 {n} 位：疑似汇总行，不作为评估单元",
            f.name_zh, d.name
        ),
        format!(
            "{}: {code} is the code of a {en} ({}), not a unit like the table's {n}-digit codes: a subtotal row?",
            f.code, d.name
        ),
    )
}
