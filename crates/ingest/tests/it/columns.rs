//! A file that keeps its own headers: the header check says which of them went unmatched and what
//! each missing field is probably called, and the pipeline's column map reads the file as it stands.

use riskcensus_ingest::{Error, Input, Missing, RawCell, read_table};

use super::{OPTS, input, schemas, workbook};

/// A schools workbook as a county office exports it: a title row, then headers that say 机构名称
/// and 乡镇街道代码 where the census form says 学校（机构）名称 and 乡镇（街道）代码, and a
/// 数据来源 column the schema does not know.
fn schools(path: &std::path::Path) {
    workbook(
        path,
        &[
            vec!["红塔区学校基本情况表"],
            vec![
                "机构名称",
                "统一社会信用代码",
                "学校（机构）办学类型（大类）",
                "教职工数",
                "在校生数",
                "乡镇街道代码",
                "经度",
                "纬度",
                "数据来源",
            ],
            vec![
                "玉溪第一中学",
                "12530400431260006X",
                "中学",
                "120",
                "2100",
                "530402001",
                "102.54",
                "24.35",
                "教育局2020年报",
            ],
        ],
    );
}

#[test]
fn unmatched_headers_get_did_you_mean_and_the_map_line_to_add() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("学校.xlsx");
    schools(&p);
    let s = schemas();
    let schema = s.table("czt_xx").unwrap();
    let e = read_table(schema, &[input(&p)], OPTS).unwrap_err();
    let m = e.to_string();
    let Error::MissingColumns { row, missing, .. } = &e else {
        panic!("{m}");
    };
    let Missing {
        missing,
        unmatched,
        suggest,
        hint,
    } = &**missing;
    assert_eq!(*row, 2, "header under the title row: {m}");
    assert_eq!(
        missing, "学校（机构）名称(xxjgmc), 乡镇（街道）代码(xzqdm)",
        "统一社会信用代码 is an alias of qgtyshxydm (as the census forms print it)"
    );
    assert_eq!(unmatched, "机构名称, 乡镇街道代码, 数据来源");
    assert_eq!(
        suggest,
        "; did you mean: 机构名称 → 学校（机构）名称(xxjgmc), 乡镇街道代码 → 乡镇（街道）代码(xzqdm)",
        "数据来源 is like no missing field and is not offered"
    );
    assert!(
        hint.contains(r#"columns = { "机构名称" = "xxjgmc", "乡镇街道代码" = "xzqdm" }"#),
        "{hint}"
    );
    assert!(m.contains("学校.xlsx") && m.contains("did you mean"), "{m}");

    // The map the hint offers reads the file as it stands.
    let mapped = Input {
        columns: vec![
            ("机构名称".into(), "xxjgmc".into()),
            ("统一社会信用代码".into(), "qgtyshxydm".into()),
            ("乡镇街道代码".into(), "xzqdm".into()),
        ],
        ..input(&p)
    };
    let t = read_table(schema, &[mapped], OPTS).unwrap();
    assert_eq!(t.rows.len(), 1);
    let cell = |code: &str| t.rows[0].cells.at(schema.field_index(code).unwrap());
    assert_eq!(cell("xxjgmc"), RawCell::Text("玉溪第一中学".into()));
    assert_eq!(cell("xzqdm"), RawCell::Text("530402001".into()));
    let file = &t.files[0];
    assert_eq!(
        file.field_columns[schema.field_index("xzqdm").unwrap()].as_deref(),
        Some("F")
    );
    let unknown: Vec<&str> = file.notes.iter().map(|n| n.value.as_str()).collect();
    assert_eq!(
        unknown,
        ["数据来源"],
        "only the stranger is an unknown column"
    );
}

#[test]
fn a_mapped_column_wins_over_an_earlier_one_named_like_the_field() {
    // 乡镇代码 is an alias of xzqdm, but here it holds the code before a merger; the office maps
    // 乡镇街道代码, which stands later in the row, and that column must be the one read.
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("schools.xlsx");
    workbook(
        &p,
        &[
            vec![
                "学校（机构）名称",
                "统一社会信用代码/机构编码",
                "学校（机构）办学类型（大类）",
                "教职工数",
                "在校生数",
                "乡镇代码",
                "乡镇街道代码",
                "经度",
                "纬度",
            ],
            vec![
                "玉溪第一中学",
                "12530400431260006X",
                "中学",
                "120",
                "2100",
                "530402105",
                "530402001",
                "102.54",
                "24.35",
            ],
        ],
    );
    let s = schemas();
    let schema = s.table("czt_xx").unwrap();
    let unmapped = read_table(schema, &[input(&p)], OPTS).unwrap();
    let xzqdm = schema.field_index("xzqdm").unwrap();
    assert_eq!(
        unmapped.rows[0].cells.at(xzqdm),
        RawCell::Text("530402105".into()),
        "without a map the alias decides"
    );
    let mapped = Input {
        columns: vec![("乡镇街道代码".into(), "xzqdm".into())],
        ..input(&p)
    };
    let t = read_table(schema, &[mapped], OPTS).unwrap();
    assert_eq!(t.rows[0].cells.at(xzqdm), RawCell::Text("530402001".into()));
    assert_eq!(t.files[0].field_columns[xzqdm].as_deref(), Some("G"));
    let rules: Vec<(&str, &str)> = t.files[0]
        .notes
        .iter()
        .map(|n| (n.rule, n.value.as_str()))
        .collect();
    assert_eq!(
        rules,
        [("duplicate_column", "乡镇代码")],
        "the unmapped look-alike is kept and reported, not read as the field"
    );
}

#[test]
fn inspect_finds_the_header_the_table_and_what_the_odd_columns_are_like() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("学校.xlsx");
    schools(&p);
    let s = schemas();
    let all: Vec<_> = s.tables.values().collect();
    let found = riskcensus_ingest::inspect(&all, &input(&p)).unwrap();
    assert_eq!(found.parts.len(), 1);
    let part = &found.parts[0];
    assert_eq!((part.kind, part.header_row), ("sheet", Some(2)));
    assert_eq!(part.candidates[0].0, "czt_xx");
    assert_eq!(
        part.candidates[0].2, 6,
        "6 of the 9 headers carry a field's name or alias"
    );
    let col = |h: &str| part.columns.iter().find(|c| c.header == h).unwrap();
    assert_eq!(col("机构名称").samples, ["玉溪第一中学"]);
    assert_eq!(col("机构名称").field, None);
    assert_eq!(
        col("机构名称").like.as_deref(),
        Some("xxjgmc 学校（机构）名称")
    );
    assert_eq!(
        col("乡镇街道代码").like.as_deref(),
        Some("xzqdm 乡镇（街道）代码")
    );
    assert_eq!(col("在校生数").field.as_deref(), Some("zxsrs 在校生数"));
    assert_eq!(col("数据来源").like, None);
    assert!(
        part.missing_required
            .contains(&"乡镇（街道）代码(xzqdm)".to_owned())
    );
}

#[test]
fn a_mapped_dbf_field_wins_over_an_earlier_field_named_like_the_field() {
    // A layer keeping the pre-merger code in a field named xzqdm and the current one in NEWCODE: the
    // map names NEWCODE, so NEWCODE is read, and xzqdm is kept as an unknown column.
    let d = tempfile::tempdir().unwrap();
    let dir = super::county(d.path());
    let out = dir.join("renamed.shp");
    super::ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        "-lco",
        "ENCODING=UTF-8",
        "-dialect",
        "SQLite",
        "-sql",
        "SELECT geometry, '530402999' AS xzqdm, xzqdm AS NEWCODE, xzqmc FROM xzqh_xz",
        out.to_str().unwrap(),
        dir.join("xzqh_xz.shp").to_str().unwrap(),
    ]);
    let s = schemas();
    let schema = s.table("xzqh_xz").unwrap();
    let k = schema.field_index("xzqdm").unwrap();
    let plain = read_table(schema, &[input(&out)], OPTS).unwrap();
    assert_eq!(plain.rows[0].cells.at(k), RawCell::Text("530402999".into()));
    let mapped = Input {
        columns: vec![("NEWCODE".into(), "xzqdm".into())],
        ..input(&out)
    };
    let t = read_table(schema, &[mapped], OPTS).unwrap();
    let first = riskcensus_schema::Registry::nbs2023().townships_of("530402")[0]
        .code
        .clone();
    assert_eq!(t.rows[0].cells.at(k), RawCell::Text(first.into()));
    assert_eq!(t.files[0].field_columns[k].as_deref(), Some("NEWCODE"));
    assert_eq!(t.files[0].extra_columns, [("xzqdm".into(), "xzqdm".into())]);
}
