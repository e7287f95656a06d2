//! Names in messages.

use riskcensus_schema::FieldType;

pub fn type_zh(t: FieldType) -> &'static str {
    match t {
        FieldType::Text => "文本",
        FieldType::Int => "整数",
        FieldType::Float => "数值",
        FieldType::Date => "日期",
        FieldType::Bool => "是/否",
    }
}

pub fn type_en(t: FieldType) -> &'static str {
    match t {
        FieldType::Text => "text",
        FieldType::Int => "whole number",
        FieldType::Float => "number",
        FieldType::Date => "date",
        FieldType::Bool => "yes/no",
    }
}

pub fn num(v: f64) -> String {
    riskcensus_ingest::format_number(v)
}
