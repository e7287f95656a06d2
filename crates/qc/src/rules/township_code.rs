//! `township_code`: the first digits of a field are a township code that can place the record — in
//! the registry, inside the run's region, in the units layer — with the change list applied (a
//! retired code counts in its successor when that one is a unit of the run).

use riskcensus_schema::{DivisionLevel, FieldSchema, Severity, TableSchema};

use super::{RecordRule, Row, finding, name_of};
use crate::Context;
use crate::codes;

pub(crate) struct TownshipCode {
    pub k: usize,
    pub prefix: usize,
}

impl RecordRule for TownshipCode {
    fn check(&self, row: &mut Row<'_>, schema: &TableSchema, ctx: &Context<'_>) {
        let (k, prefix) = (self.k, self.prefix);
        let Some(s) = row.values[k].as_str().filter(|_| row.field_ok[k]) else {
            row.township_valid.insert(k, false);
            return;
        };
        let code = s.get(..prefix).unwrap_or(s);
        let successor = codes::successor(&ctx.stale, code);
        let target = successor.unwrap_or(code);
        let name = codes::paired_name(schema, k).and_then(|kn| row.values[kn].as_str());
        let ok = match (township_problem(ctx, &schema.fields[k], target), successor) {
            (None, None) => true,
            (None, Some(new)) => {
                let (zh, en) = codes::merger(ctx, new);
                row.findings.push(finding(
                    k,
                    s.to_owned(),
                    "township_code_retired",
                    Severity::Warning,
                    format!("乡镇代码 {code} 已撤销（{zh}），按 {new} 统计"),
                    format!("township code {code} was retired ({en}); counted in {new}"),
                ));
                true
            }
            (Some((_, why_zh, why_en)), Some(new)) => {
                let (zh, en) = codes::merger(ctx, new);
                row.findings.push(finding(
                k,
                s.to_owned(),
                "stale_township_code",
                Severity::Error,
                format!("乡镇代码 {code} 已撤销（{zh}），但现行代码不可用：{why_zh}"),
                format!(
                    "township code {code} was retired ({en}), and its successor cannot be used: {why_en}"
                ),
            ));
                false
            }
            (Some((rule, zh, en)), None) => {
                let (mean_zh, mean_en) = if rule == "unknown_township_code" {
                    codes::suggestion(codes::did_you_mean(ctx, code, name))
                } else {
                    (String::new(), String::new())
                };
                row.findings.push(finding(
                    k,
                    s.to_owned(),
                    rule,
                    Severity::Error,
                    zh + &mean_zh,
                    en + &mean_en,
                ));
                false
            }
        };
        if ok {
            row.declared_units.insert(k, target.to_owned());
            if row.unit.is_none() {
                row.unit = Some(target.to_owned());
            }
        }
        row.township_valid.insert(k, ok);
    }
}

/// Why a (current) township code cannot place a record: not a township of the edition, outside
/// the run's region, or not a unit of the boundary layer; `None` when it can.
fn township_problem(
    ctx: &Context<'_>,
    f: &FieldSchema,
    code: &str,
) -> Option<(&'static str, String, String)> {
    if ctx
        .registry
        .get(code)
        .is_none_or(|d| d.level != DivisionLevel::Township)
    {
        Some((
            "unknown_township_code",
            format!("“{}”{code} 不在 2023 年统计用区划代码中", f.name_zh),
            format!(
                "{}: township code {code} is not in the NBS 2023 division list",
                f.code
            ),
        ))
    } else if !code.starts_with(riskcensus_schema::divisions::region_prefix(
        &ctx.region_code,
    )) {
        Some((
            "township_outside_region",
            format!(
                "乡镇代码 {code}（{}）不属于 {}（{}）",
                name_of(ctx, code),
                ctx.region_code,
                name_of(ctx, &ctx.region_code)
            ),
            format!("township {code} is not in region {}", ctx.region_code),
        ))
    } else if let Some(units) = ctx.units
        && !units.covers_code(code)
    {
        Some((
            "township_not_in_units",
            format!(
                "乡镇代码 {code}（{}）不在乡镇边界图层中",
                name_of(ctx, code)
            ),
            format!("township {code} is not in the units (boundary) layer"),
        ))
    } else {
        None
    }
}
