//! The census's own field dictionary: 23 survey tables, 872 fields, as shipped.
//!
//! The dictionary has known defects (a code used twice in a table, swapped labels); this module keeps
//! them as found. The table schemas under `schemas/` are where they are fixed, on purpose.

use std::sync::OnceLock;

const DICTIONARY: &str = include_str!("../../../schemas/census_fields/census_field_dictionary.csv");
const TABLE_NAMES: &str = include_str!("../../../schemas/census_fields/table_names_inferred.csv");

/// One field of a census table as the dictionary lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CensusField {
    pub table: String,
    pub code: String,
    pub name_zh: String,
    pub order: u32,
}

fn all() -> &'static [CensusField] {
    static FIELDS: OnceLock<Vec<CensusField>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut reader = csv::Reader::from_reader(DICTIONARY.as_bytes());
        let mut out: Vec<CensusField> = reader
            .records()
            .filter_map(|r| r.ok())
            .filter_map(|r| {
                Some(CensusField {
                    table: r.get(0)?.trim().to_owned(),
                    code: r.get(2)?.trim().to_owned(),
                    name_zh: r.get(3)?.trim().to_owned(),
                    order: r.get(4)?.trim().parse().ok()?,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.table, a.order).cmp(&(&b.table, b.order)));
        out
    })
}

/// The fields of one census table in the dictionary's order (empty for an unknown table).
pub fn fields(table: &str) -> Vec<&'static CensusField> {
    all().iter().filter(|f| f.table == table).collect()
}

/// The Chinese name of a census table (inferred from its codes; the source gave none).
pub fn table_name_zh(table: &str) -> Option<&'static str> {
    static NAMES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            let mut reader = csv::Reader::from_reader(TABLE_NAMES.as_bytes());
            reader
                .records()
                .filter_map(|r| r.ok())
                .filter_map(|r| Some((r.get(0)?.to_owned(), r.get(1)?.to_owned())))
                .collect()
        })
        .iter()
        .find(|(code, _)| code == table)
        .map(|(_, name)| name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_complete() {
        assert_eq!(all().len(), 872);
        let xx = fields("czt_xx");
        assert_eq!(xx.first().map(|f| f.code.as_str()), Some("xxjgmc"));
        assert_eq!(table_name_zh("czt_xx"), Some("学校"));
        // A known defect, kept as found: dzzhyhd labels `lon` 纬度.
        let lon = fields("dzzhyhd").into_iter().find(|f| f.code == "lon");
        assert_eq!(lon.map(|f| f.name_zh.as_str()), Some("纬度"));
    }
}
