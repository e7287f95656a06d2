//! Blank survey forms (调查表模板): one xlsx per census table, written from the table's schema, so
//! that what an office fills in is what the readers expect and QC accepts.
//!
//! A form is laid out as the offices' own sheets are (and as the readers find them under title rows):
//! row 1 the title, row 2 a note (who filled it in, the reference date, what `*` means), rows 3–4 a
//! two-row header (a group label over each field's Chinese name with its unit), data from row 5.
//! Each header cell carries a note with the field's code, type, unit, whether it is required, its
//! range, code list or pattern; columns are formatted (text for codes, so 530402001 stays text; dates
//! as yyyy-mm-dd) and validated (dropdowns from the code lists, number ranges). A second sheet,
//! 填表说明, lists the same per field with the general rules; a hidden sheet, 代码表, holds the code
//! lists the dropdowns draw on (a list typed into a validation is limited to 255 characters).

use std::path::{Path, PathBuf};

use riskcensus_schema::{
    Bound, FieldSchema, FieldType, GeometryKind, Rule, SchemaSet, TableSchema,
};
use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, DataValidationRule, DocProperties, ExcelDateTime,
    Format, FormatAlign, FormatBorder, Formula, Note, Workbook, Worksheet,
};

use crate::{Error, Result};

/// Rows above the first data row: title, note, group labels, field labels.
pub const HEADER_ROWS: u32 = 4;
/// Data rows the validations and formats cover (Excel's last row).
const LAST_ROW: u32 = 1_048_575;
/// Name of the instructions sheet.
pub const INSTRUCTIONS_SHEET: &str = "填表说明";
/// Name of the hidden sheet holding the code lists.
pub const CODES_SHEET: &str = "代码表";

/// A township a form is made for (`--township`): its code goes into the township column's dropdown,
/// village codes must start with it, and a table with one record per township gets that record's
/// code and name filled in.
#[derive(Debug, Clone)]
pub struct Township {
    pub code: String,
    pub name: String,
}

/// What to write the forms for.
#[derive(Debug, Clone)]
pub struct TemplateOptions {
    /// The census reference year, for the note and for bounds given as `reference_year`.
    pub reference_year: i32,
    pub township: Option<Township>,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            reference_year: 2020,
            township: None,
        }
    }
}

/// What role a field plays on the form, from the table's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Township,
    Village,
    Coordinate,
    Other,
}

fn role(schema: &TableSchema, field: &str) -> Role {
    for r in &schema.rules {
        match r {
            Rule::TownshipCode { field: f, .. } if f == field => return Role::Township,
            Rule::VillagePrefix { village, township } => {
                if village == field {
                    return Role::Village;
                }
                if township == field {
                    return Role::Township;
                }
            }
            Rule::PointInUnit { lon, lat, .. } if lon == field || lat == field => {
                return Role::Coordinate;
            }
            _ => {}
        }
    }
    Role::Other
}

/// The upper header label of a field: the location fields (codes and coordinates) under 位置信息,
/// the rest under 基本信息 before them and 调查指标 after.
fn groups(schema: &TableSchema) -> Vec<&'static str> {
    let roles: Vec<Role> = schema
        .fields
        .iter()
        .map(|f| role(schema, &f.code))
        .collect();
    let first_location = roles.iter().position(|r| *r != Role::Other);
    roles
        .iter()
        .enumerate()
        .map(|(k, r)| match (r, first_location) {
            (Role::Other, Some(first)) if k > first => "调查指标",
            (Role::Other, _) => "基本信息",
            _ => "位置信息",
        })
        .collect()
}

/// The name a field goes by on a form: its Chinese name, else (a field the census dictionary left
/// unnamed) its English name or code, which the readers match as well.
pub fn display_name(field: &FieldSchema) -> &str {
    if field.name_zh.trim().is_empty() {
        &field.name_en
    } else {
        &field.name_zh
    }
}

/// The label a field's column carries: `*` for required, then the Chinese name, then the unit in
/// brackets (the readers ignore both when matching).
pub fn label(field: &FieldSchema) -> String {
    let mut s = String::new();
    if field.required {
        s.push('*');
    }
    s.push_str(display_name(field));
    if let Some(u) = &field.unit
        && !u.is_empty()
    {
        s.push_str(&format!("（{u}）"));
    }
    s
}

fn type_zh(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text => "文本",
        FieldType::Int => "整数",
        FieldType::Float => "数值",
        FieldType::Date => "日期（yyyy-mm-dd）",
        FieldType::Bool => "是/否",
    }
}

fn bound_text(b: Bound, year: i32) -> String {
    if matches!(b, Bound::Date(_) | Bound::ReferenceDate) {
        return riskcensus_schema::civil_from_days(b.resolve(year) as i32);
    }
    let v = b.resolve(year);
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// The range a field's values must lie in, as text (empty when unbounded).
fn range_text(f: &FieldSchema, year: i32) -> String {
    match (f.min, f.max) {
        (None, None) => String::new(),
        (Some(a), None) => format!("≥ {}", bound_text(a, year)),
        (None, Some(b)) => format!("≤ {}", bound_text(b, year)),
        (Some(a), Some(b)) => format!("{} – {}", bound_text(a, year), bound_text(b, year)),
    }
}

/// What a field's values look like beyond type and range: its code list or its pattern.
fn values_text(f: &FieldSchema, set: &SchemaSet) -> String {
    if let Some(list) = &f.codes {
        let name = set.code_names.get(list).cloned().unwrap_or_default();
        let values = set
            .codes
            .get(list)
            .map(|v| v.join("、"))
            .unwrap_or_default();
        let how = if f.multiple {
            "可多选，多个选项用“、”分隔；"
        } else {
            ""
        };
        return format!("{how}从下拉列表选择（代码表 {list} {name}）：{values}");
    }
    if f.ty == FieldType::Bool {
        return "从下拉列表选择：是、否".into();
    }
    match f.pattern.as_ref().map(|p| p.as_str()) {
        Some(r"^\d{9}$") => "9 位数字（乡镇街道统计用区划代码）".into(),
        Some(r"^\d{12}$") => "12 位数字（村居统计用区划代码）".into(),
        Some(r"^\d{6}$") => "6 位数字".into(),
        Some(p) => format!("格式须符合 {p}"),
        None => String::new(),
    }
}

/// The table's cross-field rules on a field, as a person filling in the column reads them.
fn rule_notes(schema: &TableSchema, f: &FieldSchema) -> Vec<String> {
    let name = |code: &str| {
        schema
            .field(code)
            .map(|x| display_name(x).to_owned())
            .unwrap_or_else(|| code.to_owned())
    };
    let when_zh = |c: &Option<riskcensus_schema::Condition>| {
        c.as_ref()
            .map(|c| format!("{}时，", c.describe_zh(&name(&c.field))))
            .unwrap_or_default()
    };
    schema
        .rules
        .iter()
        .filter_map(|r| match r {
            Rule::Format {
                field,
                format,
                when,
                ..
            } if *field == f.code => Some(format!(
                "{}格式：{}",
                when_zh(when),
                match format {
                    riskcensus_schema::Format::CreditCode => {
                        "统一社会信用代码（GB 32100-2015，18 位，末位为校验码）"
                    }
                    riskcensus_schema::Format::IdCard => "居民身份证号码（18 位，末位为校验码）",
                    riskcensus_schema::Format::Phone =>
                        "手机号 11 位，或 区号-号码（如 0874-3123456）",
                    riskcensus_schema::Format::Postcode => "6 位数字",
                }
            )),
            Rule::RequiredWhen { field, when, .. } if *field == f.code => {
                Some(format!("{}时必填", when.describe_zh(&name(&when.field))))
            }
            Rule::Compare {
                left,
                op,
                right,
                factor,
                when,
                ..
            } if left.contains(&f.code) => {
                let parts: Vec<String> = left.iter().map(|l| format!("“{}”", name(l))).collect();
                let scale = if *factor == 1.0 {
                    String::new()
                } else {
                    format!(" × {factor}")
                };
                Some(format!(
                    "{}{} {} “{}”{scale}",
                    when_zh(when),
                    parts.join(" + "),
                    op.symbol(),
                    name(right)
                ))
            }
            Rule::Implies { when, then, .. } if then.field == f.code => Some(format!(
                "{}时，应{}",
                when.describe_zh(&name(&when.field)),
                then.describe_zh(&name(&then.field))
            )),
            _ => None,
        })
        .collect()
}

/// The note on a field's header cell: everything a person filling in the column needs to know.
fn field_note(schema: &TableSchema, f: &FieldSchema, set: &SchemaSet, year: i32) -> String {
    let mut lines = vec![
        format!("字段：{}（{}）", display_name(f), f.code),
        format!("类型：{}", type_zh(f.ty)),
        format!("必填：{}", if f.required { "是" } else { "否" }),
    ];
    if let Some(u) = &f.unit {
        lines.push(format!("单位：{u}"));
    }
    let range = range_text(f, year);
    if !range.is_empty() {
        lines.push(format!("取值范围：{range}"));
    }
    let values = values_text(f, set);
    if !values.is_empty() {
        lines.push(values);
    }
    if f.unique {
        lines.push("不得重复".into());
    }
    lines.extend(rule_notes(schema, f));
    if let Some(d) = &f.description {
        lines.push(d.clone());
    }
    lines.join("\n")
}

/// Why a table has no form: polygon tables are surveyed as vector layers.
pub fn has_form(schema: &TableSchema) -> bool {
    schema.geometry != GeometryKind::Polygon && schema.geometry != GeometryKind::Line
}

/// The file name of a table's form: `<code>_<名称>.xlsx` (with the township code when for one).
pub fn file_name(schema: &TableSchema, opts: &TemplateOptions) -> String {
    // A schema of the office's own may name a table with a path separator in it.
    let name: String = schema
        .name_zh
        .chars()
        .map(|c| {
            if "/\\:".contains(c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match &opts.township {
        Some(t) => format!("{}_{name}_{}.xlsx", schema.code, t.code),
        None => format!("{}_{name}.xlsx", schema.code),
    }
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    if s.is_empty() { "调查表".into() } else { s }
}

/// Writes the form of each table in `tables` into `out`; returns the files written.
pub fn write_templates(
    set: &SchemaSet,
    tables: &[String],
    out: &Path,
    opts: &TemplateOptions,
) -> Result<Vec<PathBuf>> {
    let mut schemas = Vec::with_capacity(tables.len());
    for code in tables {
        let schema = set.table(code).ok_or_else(|| Error::BadOption {
            message: format!("no census table {code:?}"),
            hint: format!(
                "give table codes such as {} (`riskcensus schema` lists them)",
                set.tables
                    .values()
                    .filter(|t| has_form(t))
                    .take(5)
                    .map(|t| t.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        if !has_form(schema) {
            return Err(Error::BadOption {
                message: format!(
                    "table {code} ({}) holds {:?} geometries, which a spreadsheet form cannot carry",
                    schema.name_zh, schema.geometry
                ),
                hint: "survey polygon tables as shapefiles or GeoPackages; forms are for point tables (with 经度/纬度 columns) and tables without geometry".into(),
            });
        }
        schemas.push(schema);
    }
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_owned(),
        source,
    })?;
    schemas
        .into_iter()
        .map(|schema| {
            let path = out.join(file_name(schema, opts));
            write_template(set, schema, &path, opts)?;
            Ok(path)
        })
        .collect()
}

fn xerr(path: &Path) -> impl Fn(rust_xlsxwriter::XlsxError) -> Error + '_ {
    move |e| Error::Xlsx {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Writes one table's form to `path`.
pub fn write_template(
    set: &SchemaSet,
    schema: &TableSchema,
    path: &Path,
    opts: &TemplateOptions,
) -> Result<()> {
    write_filled(set, schema, path, opts, &[])
}

/// Writes one table's form to `path` with `rows` typed under its header, as an office fills it
/// (text as text, numbers as numbers, an empty cell left empty).
pub fn write_filled(
    set: &SchemaSet,
    schema: &TableSchema,
    path: &Path,
    opts: &TemplateOptions,
    rows: &[Vec<Option<crate::forms::Typed>>],
) -> Result<()> {
    let e = xerr(path);
    let mut workbook = Workbook::new();
    // A fixed creation time: the same schema gives the same bytes.
    let fixed = ExcelDateTime::from_ymd(2021, 6, 30).map_err(&e)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&fixed)
            .set_author("riskcensus template")
            .set_title(&schema.name_zh),
    );
    // Code lists used by the table, in field order, each a column of the hidden sheet.
    let mut lists: Vec<&str> = Vec::new();
    for f in &schema.fields {
        if let Some(c) = &f.codes
            && !lists.contains(&c.as_str())
        {
            lists.push(c);
        }
    }
    let form = workbook.add_worksheet();
    write_form(form, set, schema, opts, &lists).map_err(&e)?;
    for (r, row) in rows.iter().enumerate() {
        let at = HEADER_ROWS + r as u32;
        for (c, cell) in row.iter().enumerate() {
            match cell {
                Some(crate::forms::Typed::Text(s)) => {
                    form.write_string(at, c as u16, s).map_err(&e)?;
                }
                Some(crate::forms::Typed::Num(v)) => {
                    form.write_number(at, c as u16, *v).map_err(&e)?;
                }
                None => {}
            }
        }
    }
    let notes = workbook.add_worksheet();
    write_instructions(notes, set, schema, opts).map_err(&e)?;
    let codes = workbook.add_worksheet();
    write_code_lists(codes, set, &lists).map_err(&e)?;
    workbook.save(path).map_err(&e)
}

fn write_form(
    ws: &mut Worksheet,
    set: &SchemaSet,
    schema: &TableSchema,
    opts: &TemplateOptions,
    lists: &[&str],
) -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
    let year = opts.reference_year;
    ws.set_name(sheet_name(&schema.name_zh))?;
    let n = schema.fields.len() as u16;
    let last = n.saturating_sub(1);
    let title_fmt = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_background_color("#DDEBF7");
    let required_head = head.clone().set_font_color("#C00000");
    let title = match &opts.township {
        Some(t) => format!("{}（{}{}）", schema.name_zh, t.name, t.code),
        None => schema.name_zh.clone(),
    };
    if last > 0 {
        ws.merge_range(0, 0, 0, last, &title, &title_fmt)?;
    } else {
        ws.write_string_with_format(0, 0, &title, &title_fmt)?;
    }
    ws.write_string(
        1,
        0,
        format!(
            "填报单位：          填表人：          填表日期：          普查标准时点：{year}年12月31日。带 * 的为必填项；每行一条记录，请勿改动表头、合并单元格；说明见「{INSTRUCTIONS_SHEET}」。"
        ),
    )?;
    // Group labels, merged over runs of one group.
    let groups = groups(schema);
    let mut start = 0usize;
    for k in 1..=groups.len() {
        if k == groups.len() || groups[k] != groups[start] {
            if k - 1 > start {
                ws.merge_range(2, start as u16, 2, (k - 1) as u16, groups[start], &head)?;
            } else {
                ws.write_string_with_format(2, start as u16, groups[start], &head)?;
            }
            start = k;
        }
    }
    ws.set_row_height(3, 45)?;
    for (k, f) in schema.fields.iter().enumerate() {
        let c = k as u16;
        let fmt = if f.required { &required_head } else { &head };
        ws.write_string_with_format(3, c, label(f), fmt)?;
        ws.insert_note(
            3,
            c,
            &Note::new(field_note(schema, f, set, year))
                .add_author_prefix(false)
                .set_width(320)
                .set_height(160),
        )?;
        ws.set_column_width(c, column_width(f))?;
        ws.set_column_format(c, &column_format(schema, f))?;
        if let Some(v) = validation(schema, f, set, opts, lists, c)? {
            ws.add_data_validation(HEADER_ROWS, c, LAST_ROW, c, &v)?;
        }
    }
    ws.set_freeze_panes(HEADER_ROWS, 0)?;
    prefill(ws, schema, opts)?;
    Ok(())
}

/// A table with one record per township (its primary key is the township code) made for one
/// township gets that record's code and name; other tables' records are the office's to add.
fn prefill(
    ws: &mut Worksheet,
    schema: &TableSchema,
    opts: &TemplateOptions,
) -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
    let Some(t) = &opts.township else {
        return Ok(());
    };
    let [key] = schema.primary_key.as_slice() else {
        return Ok(());
    };
    if role(schema, key) != Role::Township {
        return Ok(());
    }
    for (k, f) in schema.fields.iter().enumerate() {
        if &f.code == key {
            ws.write_string(HEADER_ROWS, k as u16, &t.code)?;
        } else if is_township_name(f) {
            ws.write_string(HEADER_ROWS, k as u16, &t.name)?;
        }
    }
    Ok(())
}

fn is_township_name(f: &FieldSchema) -> bool {
    f.ty == FieldType::Text && f.name_zh.starts_with("乡镇") && f.name_zh.ends_with("名称")
}

fn column_width(f: &FieldSchema) -> f64 {
    let chars = label(f).chars().count() as f64;
    (chars * 1.6).clamp(10.0, 28.0)
}

/// The number format of a column: text for text fields (so codes keep their digits and leading
/// zeros), whole numbers for integers, six decimals for coordinates, dates as yyyy-mm-dd.
fn column_format(schema: &TableSchema, f: &FieldSchema) -> Format {
    match f.ty {
        FieldType::Text | FieldType::Bool => Format::new().set_num_format("@"),
        FieldType::Int => Format::new().set_num_format("0"),
        FieldType::Float if role(schema, &f.code) == Role::Coordinate => {
            Format::new().set_num_format("0.000000")
        }
        FieldType::Float => Format::new().set_num_format("0.00"),
        FieldType::Date => Format::new().set_num_format("yyyy-mm-dd"),
    }
}

/// Excel's column letters for a 0-based column.
fn column_letters(mut c: u16) -> String {
    let mut s = Vec::new();
    loop {
        s.push((b'A' + (c % 26) as u8) as char);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.iter().rev().collect()
}

/// The validation of a column: a dropdown for a code list, yes/no or the form's township; the
/// township prefix for village codes; the range for numbers. Excel warns (does not refuse), so a
/// value pasted from elsewhere still reaches QC, which says what is wrong with it.
fn validation(
    schema: &TableSchema,
    f: &FieldSchema,
    set: &SchemaSet,
    opts: &TemplateOptions,
    lists: &[&str],
    col: u16,
) -> std::result::Result<Option<DataValidation>, rust_xlsxwriter::XlsxError> {
    let year = opts.reference_year;
    let v = match (&f.codes, f.ty, role(schema, &f.code), &opts.township) {
        (Some(list), _, _, _) => {
            let k = lists.iter().position(|l| l == list).unwrap_or(0) as u16;
            let rows = set.codes.get(list).map_or(0, |v| v.len()) as u32;
            let letters = column_letters(k);
            DataValidation::new().allow_list_formula(Formula::new(format!(
                "='{CODES_SHEET}'!${letters}$2:${letters}${}",
                rows + 1
            )))
        }
        (None, FieldType::Bool, _, _) => DataValidation::new().allow_list_strings(&["是", "否"])?,
        (None, _, Role::Township, Some(t)) => {
            DataValidation::new().allow_list_strings(&[t.code.as_str()])?
        }
        (None, _, Role::Village, Some(t)) => {
            let cell = format!("{}{}", column_letters(col), HEADER_ROWS + 1);
            DataValidation::new().allow_custom(Formula::new(format!(
                "=AND(LEN({cell})=12,LEFT({cell},9)=\"{}\")",
                t.code
            )))
        }
        (None, FieldType::Int, _, _) => match int_rule(f, year) {
            Some(rule) => DataValidation::new().allow_whole_number(rule),
            None => return Ok(None),
        },
        (None, FieldType::Float, _, _) => match float_rule(f, year) {
            Some(rule) => DataValidation::new().allow_decimal_number(rule),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let range = range_text(f, year);
    let message = [values_text(f, set), range]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("；");
    let message: String = message.chars().take(250).collect();
    Ok(Some(
        v.set_error_style(DataValidationErrorStyle::Warning)
            .set_input_title(display_name(f).chars().take(30).collect::<String>())?
            .set_input_message(if message.is_empty() {
                type_zh(f.ty).to_owned()
            } else {
                message
            })?
            .set_error_title("与普查要求不符")?
            .set_error_message(format!(
                "{} 的值与普查要求不符，提交后质检会退回此记录。",
                display_name(f)
            ))?,
    ))
}

fn int_rule(f: &FieldSchema, year: i32) -> Option<DataValidationRule<i32>> {
    let r = |b: Bound| b.resolve(year).clamp(i32::MIN as f64, i32::MAX as f64) as i32;
    match (f.min, f.max) {
        (Some(a), Some(b)) => Some(DataValidationRule::Between(r(a), r(b))),
        (Some(a), None) => Some(DataValidationRule::GreaterThanOrEqualTo(r(a))),
        (None, Some(b)) => Some(DataValidationRule::LessThanOrEqualTo(r(b))),
        (None, None) => None,
    }
}

fn float_rule(f: &FieldSchema, year: i32) -> Option<DataValidationRule<f64>> {
    let r = |b: Bound| b.resolve(year);
    match (f.min, f.max) {
        (Some(a), Some(b)) => Some(DataValidationRule::Between(r(a), r(b))),
        (Some(a), None) => Some(DataValidationRule::GreaterThanOrEqualTo(r(a))),
        (None, Some(b)) => Some(DataValidationRule::LessThanOrEqualTo(r(b))),
        (None, None) => None,
    }
}

/// 填表说明: the general rules, then one row per field.
fn write_instructions(
    ws: &mut Worksheet,
    set: &SchemaSet,
    schema: &TableSchema,
    opts: &TemplateOptions,
) -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
    let year = opts.reference_year;
    ws.set_name(INSTRUCTIONS_SHEET)?;
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    ws.write_string_with_format(
        0,
        0,
        format!("{}（{}）填表说明", schema.name_zh, schema.code),
        &bold,
    )?;
    let mut rules = vec![
        format!("1. 普查标准时点为 {year} 年 12 月 31 日，数据反映该时点的状况。"),
        "2. 每行填写一条记录，从表头下第一行起连续填写；请勿改动、删除或合并表头，请勿插入合计行。"
            .into(),
        "3. 带 * 的字段为必填项；有下拉列表的字段请从列表中选择。".into(),
        "4. 代码类字段（区划代码、统一社会信用代码等）按文本填写，保留全部位数。".into(),
        "5. 日期按 yyyy-mm-dd 填写，例如 2015-06-01；数值只填数字，单位见表头括号。".into(),
    ];
    if schema.geometry == GeometryKind::Point {
        rules.push("6. 经纬度为 CGCS2000 坐标系下的十进制度，保留 6 位小数；请勿使用 GCJ-02（火星坐标）等偏移坐标。".into());
    }
    if let Some(t) = &opts.township {
        rules.push(format!(
            "{}. 本表用于 {}（{}）；村（社区）代码须以该乡镇代码开头。",
            rules.len() + 1,
            t.name,
            t.code
        ));
    }
    if !schema.primary_key.is_empty() {
        rules.push(format!(
            "{}. 以下字段唯一标识一条记录，不得重复：{}。",
            rules.len() + 1,
            schema
                .primary_key
                .iter()
                .filter_map(|k| schema.field(k))
                .map(|f| f.name_zh.as_str())
                .collect::<Vec<_>>()
                .join("、")
        ));
    }
    for (k, r) in rules.iter().enumerate() {
        ws.write_string(1 + k as u32, 0, r)?;
    }
    let top = rules.len() as u32 + 2;
    let headers = [
        "序号",
        "字段代码",
        "字段名称",
        "类型",
        "单位",
        "必填",
        "取值范围",
        "取值要求",
        "说明",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, *h, &bold)?;
    }
    for (k, f) in schema.fields.iter().enumerate() {
        let r = top + 1 + k as u32;
        ws.write_number(r, 0, (k + 1) as f64)?;
        ws.write_string(r, 1, &f.code)?;
        ws.write_string(r, 2, display_name(f))?;
        ws.write_string(r, 3, type_zh(f.ty))?;
        ws.write_string(r, 4, f.unit.as_deref().unwrap_or(""))?;
        ws.write_string(r, 5, if f.required { "是" } else { "否" })?;
        ws.write_string(r, 6, range_text(f, year))?;
        ws.write_string_with_format(r, 7, values_text(f, set), &wrap)?;
        ws.write_string_with_format(r, 8, f.description.as_deref().unwrap_or(""), &wrap)?;
    }
    ws.set_column_width(0, 6)?;
    ws.set_column_width(1, 12)?;
    ws.set_column_width(2, 28)?;
    ws.set_column_width(7, 50)?;
    ws.set_column_width(8, 40)?;
    Ok(())
}

/// The hidden sheet of code lists: one column per list, its name on row 1.
fn write_code_lists(
    ws: &mut Worksheet,
    set: &SchemaSet,
    lists: &[&str],
) -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
    ws.set_name(CODES_SHEET)?;
    for (k, list) in lists.iter().enumerate() {
        let c = k as u16;
        ws.write_string(0, c, *list)?;
        for (r, v) in set.codes.get(*list).into_iter().flatten().enumerate() {
            ws.write_string(1 + r as u32, c, v)?;
        }
    }
    ws.set_hidden(true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_follow_excel() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn polygon_tables_have_no_form_and_unknown_tables_are_named() {
        let set = SchemaSet::builtin().unwrap();
        let d = tempfile::tempdir().unwrap();
        let e = write_templates(&set, &["xzqh_xz".into()], d.path(), &Default::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("xzqh_xz") && e.contains("shapefile"), "{e}");
        let e = write_templates(&set, &["nope".into()], d.path(), &Default::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"nope\"") && e.contains("riskcensus schema"),
            "{e}"
        );
    }
}
