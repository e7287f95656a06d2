//! Conditions of rules (`when`, `then`): a field compared with a value, filled or empty.

use riskcensus_schema::{Condition, Literal, Op, TableSchema};

use super::Row;
use crate::coerce::Value;
use crate::messages::num;

/// A condition with its field resolved to an index.
pub(crate) struct Compiled {
    pub k: usize,
    pub op: Op,
    /// As messages write it.
    pub zh: String,
    pub en: String,
}

impl Compiled {
    pub fn new(c: &Condition, schema: &TableSchema) -> Option<Compiled> {
        let k = schema.field_index(&c.field)?;
        Some(Compiled {
            k,
            op: c.op.clone(),
            zh: c.describe_zh(&schema.fields[k].name_zh),
            en: c.describe(),
        })
    }

    /// An optional condition: `Some(None)` when there is none.
    pub fn of(c: Option<&Condition>, schema: &TableSchema) -> Option<Option<Compiled>> {
        match c {
            None => Some(None),
            Some(c) => Compiled::new(c, schema).map(Some),
        }
    }

    /// Whether the record meets the condition. A field whose own check failed meets none (its
    /// value is not known), nor does an empty one, except `empty`.
    pub fn holds(&self, row: &Row<'_>) -> bool {
        if !row.field_ok[self.k] {
            return false;
        }
        holds(&self.op, &row.values[self.k])
    }
}

/// Whether a value meets an operator.
pub(crate) fn holds(op: &Op, v: &Value) -> bool {
    match (op, v) {
        (Op::Empty, v) => v.is_null(),
        (Op::Filled, v) => !v.is_null(),
        (_, Value::Null) => false,
        (Op::Eq(x), v) => equals(x, v),
        (Op::Ne(x), v) => !equals(x, v),
        (Op::Gt(x), v) => number(v).is_some_and(|n| n > *x),
        (Op::Ge(x), v) => number(v).is_some_and(|n| n >= *x),
        (Op::Lt(x), v) => number(v).is_some_and(|n| n < *x),
        (Op::Le(x), v) => number(v).is_some_and(|n| n <= *x),
        (Op::In(list), v) => text(v).is_some_and(|s| list.contains(&s)),
        (Op::Contains(x), v) => text(v).is_some_and(|s| s.contains(x.as_str())),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Date(d) => Some(*d as f64),
        v => v.as_f64(),
    }
}

/// The value as text: a yes/no field as 是/否, a number as messages write it.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.to_string()),
        Value::Bool(b) => Some(if *b { "是" } else { "否" }.into()),
        v => v.as_f64().map(num),
    }
}

fn equals(x: &Literal, v: &Value) -> bool {
    match x {
        Literal::Number(n) => number(v).is_some_and(|m| (m - n).abs() <= 1e-9 * n.abs().max(1.0)),
        Literal::Text(s) => text(v).is_some_and(|t| t == *s),
    }
}

/// A value as messages show it.
pub(crate) fn shown(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Date(d) => crate::coerce::civil_from_days(*d),
        v => text(v).unwrap_or_default(),
    }
}
