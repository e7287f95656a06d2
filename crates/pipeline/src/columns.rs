//! Column maps of the pipeline file (`[inputs.columns]`, `[units.columns]`): a file's own headers
//! mapped to schema field codes, checked when the pipeline loads so that a typo fails in a second,
//! naming its line, not after the data is read.

use std::collections::BTreeMap;

use riskcensus_ingest::normalize;
use riskcensus_schema::TableSchema;
use toml::Spanned;

/// A column map as written: header (or DBF field name) → field code, with where the code is written.
pub type ColumnMap = BTreeMap<String, Spanned<String>>;

/// A column map found wrong: the line it is on, what is wrong, and how to put it right.
#[derive(Debug)]
pub struct MapError {
    pub line: usize,
    pub message: String,
    pub hint: String,
}

/// 1-based line of a byte offset in the pipeline text.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .unwrap_or("")
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Checks a map against the table it feeds and returns it as (header, field code) pairs for the
/// readers. Refused: an empty header, a code that names no field of the table (with the field's code
/// when the value is one of its names), two headers that fold to the same text (the readers could
/// not tell which applies), and two headers mapped to one field (a field takes one column).
pub fn check(
    text: &str,
    section: &str,
    schema: &TableSchema,
    map: &ColumnMap,
) -> Result<Vec<(String, String)>, MapError> {
    let mut folded: BTreeMap<String, &str> = BTreeMap::new();
    let mut by_field: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = Vec::with_capacity(map.len());
    // In the order written, so that the second of two clashing entries is the one named.
    let mut entries: Vec<(&String, &Spanned<String>)> = map.iter().collect();
    entries.sort_by_key(|(_, code)| code.span().start);
    for (header, code) in entries {
        let line = line_of(text, code.span().start);
        let err = |message: String, hint: String| MapError {
            line,
            message: format!("{section} columns: {message}"),
            hint,
        };
        let code = code.get_ref().trim();
        let n = normalize(header);
        if n.is_empty() {
            return Err(err(
                format!("an empty header is mapped to {code:?}"),
                "the key is the file's header as it stands, e.g. \"NAME\" = \"xzqmc\"".into(),
            ));
        }
        let Some(field) = schema.field_index(code) else {
            let hint = match field_named(schema, code) {
                Some(k) => format!(
                    "{code:?} is the name of field {0}; write its code: {header:?} = {0:?}",
                    schema.fields[k].code
                ),
                None => format!(
                    "the value is a field code of {0}; `riskcensus schema {0}` lists them",
                    schema.code
                ),
            };
            return Err(err(
                format!(
                    "{header:?} = {code:?}: table {} has no field {code:?}",
                    schema.code
                ),
                hint,
            ));
        };
        if let Some(first) = folded.insert(n, header) {
            return Err(err(
                format!(
                    "{first:?} and {header:?} are the same header once spaces, full-width forms and case are ignored"
                ),
                "map each header once".into(),
            ));
        }
        if let Some(first) = by_field.insert(schema.fields[field].code.as_str(), header) {
            return Err(err(
                format!("{first:?} and {header:?} are both mapped to {code:?}"),
                "a field takes one column: map only the one that holds it".into(),
            ));
        }
        out.push((header.clone(), code.to_owned()));
    }
    Ok(out)
}

/// The field whose Chinese or English name, or alias, is `name`.
fn field_named(schema: &TableSchema, name: &str) -> Option<usize> {
    let n = normalize(name);
    schema.fields.iter().position(|f| {
        [&f.name_zh, &f.name_en]
            .into_iter()
            .chain(&f.aliases)
            .any(|a| normalize(a) == n)
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::Run;

    /// A pipeline over one layer that need not be a real shapefile: loading checks paths, not data.
    fn pipeline(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("p.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::write(dir.join("districts.shp"), b"x").unwrap();
        std::fs::write(dir.join("schools.xlsx"), b"x").unwrap();
        p
    }

    const HEAD: &str = "[run]\nname = \"demo\"\nregion_code = \"530402\"\nreference_year = 2020\n\n[units]\ntable = \"xzqh_xz\"\npath = \"districts.shp\"\ncode_field = \"xzqdm\"\nname_field = \"xzqmc\"\n";

    fn load_err(text: &str) -> String {
        let d = tempfile::tempdir().unwrap();
        Run::load(&pipeline(d.path(), text), None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn maps_in_both_spellings_reach_the_readers() {
        let d = tempfile::tempdir().unwrap();
        let text = format!(
            "{HEAD}columns = {{ \"ADMINCODE\" = \"xzqdm\", \"NAME\" = \"xzqmc\" }}\n\n[[inputs]]\ntable = \"czt_xx\"\npath = \"schools.xlsx\"\n\n[inputs.columns]\n\"机构名称\" = \"xxjgmc\"\n\"乡镇街道代码\" = \"xzqdm\"\n"
        );
        let run = Run::load(&pipeline(d.path(), &text), None).unwrap();
        let units = run.units.as_ref().unwrap();
        assert_eq!(
            units.column_map,
            [
                ("ADMINCODE".to_owned(), "xzqdm".to_owned()),
                ("NAME".to_owned(), "xzqmc".to_owned())
            ]
        );
        assert_eq!(
            run.inputs[0].column_map,
            [
                ("机构名称".to_owned(), "xxjgmc".to_owned()),
                ("乡镇街道代码".to_owned(), "xzqdm".to_owned())
            ]
        );
    }

    #[test]
    fn an_unknown_field_fails_at_load_naming_the_line() {
        let err = load_err(&format!(
            "{HEAD}\n[[inputs]]\ntable = \"czt_xx\"\npath = \"schools.xlsx\"\n\n[inputs.columns]\n\"机构名称\" = \"xxjgmc\"\n\"乡镇街道代码\" = \"xzqdmm\"\n"
        ));
        assert!(err.contains("line 18:"), "{err}");
        assert!(
            err.contains("\"乡镇街道代码\" = \"xzqdmm\": table czt_xx has no field \"xzqdmm\""),
            "{err}"
        );
        assert!(err.contains("riskcensus schema czt_xx"), "{err}");
    }

    #[test]
    fn a_field_given_by_its_name_is_told_its_code() {
        let err = load_err(&format!(
            "{HEAD}columns = {{ \"NAME\" = \"乡镇（街道）名称\" }}\n"
        ));
        assert!(
            err.contains("line 11:") && err.contains("[units] columns"),
            "{err}"
        );
        assert!(
            err.contains("write its code: \"NAME\" = \"xzqmc\""),
            "{err}"
        );
    }

    #[test]
    fn a_header_mapped_twice_or_two_headers_on_one_field_fail() {
        let err = load_err(&format!(
            "{HEAD}\n[units.columns]\nNAME = \"xzqmc\"\n\"ｎａｍｅ \" = \"xzqlx\"\n"
        ));
        assert!(
            err.contains("\"NAME\" and \"ｎａｍｅ \" are the same header"),
            "{err}"
        );
        let err = load_err(&format!(
            "{HEAD}\n[units.columns]\nNAME = \"xzqmc\"\nMC = \"xzqmc\"\n"
        ));
        assert!(err.contains("line 14:"), "{err}");
        assert!(
            err.contains("\"NAME\" and \"MC\" are both mapped to \"xzqmc\""),
            "{err}"
        );
    }

    #[test]
    fn a_column_name_as_code_field_points_to_the_map() {
        let err = load_err(&HEAD.replace("code_field = \"xzqdm\"", "code_field = \"ADMINCODE\""));
        assert!(
            err.contains("[units] code_field \"ADMINCODE\" is not a field of xzqh_xz"),
            "{err}"
        );
        assert!(
            err.contains("columns = { \"ADMINCODE\" = \"xzqdm\" }"),
            "{err}"
        );
    }
}
