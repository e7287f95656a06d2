//! Readers on the files offices really send, and on broken ones: each broken file is one clear error
//! that names it.

use std::path::{Path, PathBuf};

use riskcensus_ingest::{CellRef, Error, Input, VectorOptions, read_table};
use riskcensus_schema::{SchemaSet, TableSchema};
use riskcensus_synth::{BuildingGeometry, Options};
use rust_xlsxwriter::Workbook;

mod columns;
mod shapefile_parts;
mod sheets;

fn schemas() -> SchemaSet {
    SchemaSet::builtin().unwrap()
}

fn input(path: &Path) -> Input {
    Input {
        path: path.to_owned(),
        display: path.display().to_string(),
        ..Default::default()
    }
}

const OPTS: VectorOptions = VectorOptions { reproject: false };

fn read(schema: &TableSchema, path: &Path) -> Result<riskcensus_ingest::RawTable, Error> {
    read_table(schema, &[input(path)], OPTS)
}

pub(crate) fn county(dir: &Path) -> PathBuf {
    let mut o = Options::new("530402", dir);
    o.buildings = 1_000;
    o.building_geometry = BuildingGeometry::Point;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
    dir.to_owned()
}

fn text(c: CellRef<'_>) -> String {
    c.display()
}

#[test]
fn generated_workbook_is_read_under_its_title_rows() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    let s = schemas();
    let t = read(s.table("fwjz").unwrap(), &dir.join("fwjz.xlsx")).unwrap();
    assert_eq!(t.rows.len(), 1_000);
    assert_eq!(t.files[0].header_row, Some(4));
    assert_eq!(t.rows[0].row, 5, "first data row is Excel row 5");
    assert_eq!(t.files[0].field_columns[0].as_deref(), Some("A"));
    assert!(t.files[0].notes.is_empty(), "{:?}", t.files[0].notes);
}

#[test]
fn point_shapefile_fills_coordinates_from_geometry() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    let s = schemas();
    let t = read(s.table("fwjz").unwrap(), &dir.join("fwjz.shp")).unwrap();
    assert_eq!(t.rows.len(), 1_000);
    assert_eq!(t.rows[0].row, 1);
    let schema = s.table("fwjz").unwrap();
    let lon = schema.field_index("lon").unwrap();
    assert!(matches!(t.rows[0].cells.at(lon), CellRef::Number(v) if v > 100.0));
    assert!(t.rows[0].geometry.is_some());
}

#[test]
fn truncated_xlsx_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    let bytes = std::fs::read(dir.join("czt_xx.xlsx")).unwrap();
    let p = d.path().join("broken.xlsx");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    assert!(matches!(e, Error::Spreadsheet { .. }), "{e}");
    assert!(e.to_string().contains("broken.xlsx"), "{e}");
}

#[test]
fn not_a_spreadsheet_and_empty_file_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("notes.xlsx");
    std::fs::write(&p, "这不是表格").unwrap();
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    assert!(
        matches!(e, Error::Spreadsheet { .. }) && e.to_string().contains("notes.xlsx"),
        "{e}"
    );
    let p = d.path().join("empty.csv");
    std::fs::write(&p, "").unwrap();
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    assert!(matches!(e, Error::EmptyFile { .. }), "{e}");
}

#[test]
fn csv_with_a_binary_blob_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("blob.csv");
    let mut bytes = "房屋编号,乡镇（街道）代码\n530402000000001,530402001\n"
        .as_bytes()
        .to_vec();
    bytes.extend_from_slice(&[0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0xFF, 0x10]);
    std::fs::write(&p, &bytes).unwrap();
    let e = read(schemas().table("fwjz").unwrap(), &p).unwrap_err();
    assert!(matches!(e, Error::Binary { .. }), "{e}");
    assert!(e.to_string().contains("blob.csv"), "{e}");
}

#[test]
fn shapefile_without_dbf_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    std::fs::remove_file(dir.join("xzqh_xz.dbf")).unwrap();
    let e = read(
        schemas().table("xzqh_xz").unwrap(),
        &dir.join("xzqh_xz.shp"),
    )
    .unwrap_err();
    assert!(matches!(e, Error::ShapefilePart { .. }), "{e}");
    assert!(
        e.to_string().contains(".dbf") && e.to_string().contains("xzqh_xz.shp"),
        "{e}"
    );
}

#[test]
fn gbk_dbf_without_cpg_is_detected_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    std::fs::remove_file(dir.join("xzqh_xz.cpg")).unwrap();
    let t = read(
        schemas().table("xzqh_xz").unwrap(),
        &dir.join("xzqh_xz.shp"),
    )
    .unwrap();
    let note = &t.files[0].notes;
    assert!(
        note.iter()
            .any(|n| n.rule == "encoding_detected" && n.value == "CP936"),
        "{note:?}"
    );
    let names: Vec<String> = t.rows.iter().map(|r| text(r.cells.at(1))).collect();
    let expected: Vec<String> = riskcensus_schema::Registry::nbs2023()
        .townships_of("530402")
        .iter()
        .map(|d| d.name.clone())
        .collect();
    assert_eq!(names, expected, "names must decode from GBK exactly");
}

#[test]
fn wgs84_is_accepted_with_a_warning_and_other_crs_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    std::fs::write(dir.join("xzqh_xz.prj"), r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#).unwrap();
    let t = read(
        schemas().table("xzqh_xz").unwrap(),
        &dir.join("xzqh_xz.shp"),
    )
    .unwrap();
    assert!(
        t.files[0].notes.iter().any(|n| n.rule == "crs_wgs84"),
        "{:?}",
        t.files[0].notes
    );
    // A projected CRS (CGCS2000 / 3-degree Gauss-Kruger CM 102E, EPSG:4543).
    let wkt = gdal::spatial_ref::SpatialRef::from_epsg(4543)
        .unwrap()
        .to_wkt()
        .unwrap();
    std::fs::write(dir.join("xzqh_xz.prj"), wkt).unwrap();
    let e = read(
        schemas().table("xzqh_xz").unwrap(),
        &dir.join("xzqh_xz.shp"),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Crs { .. }) && e.to_string().contains("4543"),
        "{e}"
    );
}

fn workbook(path: &Path, rows: &[Vec<&str>]) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
    }
    wb.save(path).unwrap();
}

#[test]
fn empty_sheet_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("empty.xlsx");
    let mut wb = Workbook::new();
    wb.add_worksheet().set_name("学校").unwrap();
    wb.save(&p).unwrap();
    let e = read(schemas().table("czt_xx").unwrap(), &p).unwrap_err();
    assert!(matches!(e, Error::EmptySheet { .. }), "{e}");
    assert!(
        e.to_string().contains("empty.xlsx") && e.to_string().contains("学校"),
        "{e}"
    );
}

#[test]
fn missing_required_columns_are_one_error_naming_them_all() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fw.xlsx");
    workbook(
        &p,
        &[
            vec![
                "房屋编号",
                "乡镇（街道）代码",
                "村（社区）代码",
                "经度",
                "纬度",
                "建筑面积",
                "建成年份",
                "房屋用途",
            ],
            vec![
                "530402000000001",
                "530402001",
                "530402001001",
                "102.5",
                "24.3",
                "100",
                "2000",
                "农村住宅",
            ],
        ],
    );
    let e = read(schemas().table("fwjz").unwrap(), &p).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::MissingColumns { .. }), "{m}");
    assert!(
        m.contains("结构类型(jglx)")
            && m.contains("地上层数(dscs)")
            && m.contains("fw.xlsx")
            && m.contains("row 1"),
        "{m}"
    );
}

#[test]
fn two_row_headers_aliases_full_width_and_unknown_columns() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fw.xlsx");
    workbook(
        &p,
        &[
            vec!["某县房屋建筑调查表"],
            vec![
                "基本信息",
                "",
                "",
                "位置",
                "",
                "建筑信息",
                "层数",
                "",
                "",
                "",
                "",
                "备注",
            ],
            // Row 3: lower header; 层数 sits in the upper row of a vertically merged cell.
            vec![
                "编号",
                "乡镇代码",
                "村代码",
                "ＬＯＮ",
                "纬 度",
                "结构类型",
                "",
                "建筑面积（平方米）",
                "建成年份",
                "房屋用途",
                "调查员",
                "",
            ],
            vec![
                "530402000000001",
                "530402001",
                "530402001001",
                "102.5",
                "24.3",
                "砖混结构",
                "3",
                "100",
                "2000",
                "农村住宅",
                "张三",
                "无",
            ],
        ],
    );
    let s = schemas();
    let schema = s.table("fwjz").unwrap();
    let t = read(schema, &p).unwrap();
    let f = &t.files[0];
    assert_eq!(f.header_row, Some(3));
    assert_eq!(
        f.field_columns[schema.field_index("dscs").unwrap()].as_deref(),
        Some("G")
    );
    assert_eq!(
        f.field_columns[schema.field_index("lon").unwrap()].as_deref(),
        Some("D")
    );
    assert_eq!(
        f.field_columns[schema.field_index("lat").unwrap()].as_deref(),
        Some("E")
    );
    assert_eq!(
        f.extra_columns,
        vec![
            ("调查员".to_owned(), "K".to_owned()),
            ("备注".to_owned(), "L".to_owned())
        ]
    );
    assert_eq!(
        f.notes
            .iter()
            .filter(|n| n.rule == "unknown_column")
            .count(),
        2
    );
    assert_eq!(t.rows.len(), 1);
    assert_eq!(t.rows[0].row, 4);
    assert_eq!(text(t.rows[0].extra.at(0)), "张三");
}

#[test]
fn gbk_csv_with_title_rows() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fw.csv");
    let text = "某县房屋建筑调查表,,,,,,,,,\n房屋编号,乡镇（街道）代码,村（社区）代码,经度,纬度,结构类型,地上层数,建筑面积（平方米）,建成年份,房屋用途\n530402000000001,530402001,530402001001,102.5,24.3,砖混结构,３,100,2000,农村住宅\n\n530402000000002,530402001,530402001001,102.5,24.3,砖混结构,2,80,1999,农村住宅\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    std::fs::write(&p, &gbk).unwrap();
    let t = read(schemas().table("fwjz").unwrap(), &p).unwrap();
    assert_eq!(t.files[0].encoding.as_deref(), Some("GBK"));
    // Detected, not declared: a note says so, as for a DBF without a .cpg.
    let detected: Vec<_> = t.files[0]
        .notes
        .iter()
        .filter(|n| n.rule == "encoding_detected")
        .collect();
    assert_eq!(detected.len(), 1);
    assert_eq!(detected[0].value, "GBK");
    assert_eq!(t.files[0].header_row, Some(2));
    assert_eq!(t.rows.len(), 2);
    // The blank line is not a record, and row numbers stay the lines an office sees.
    assert_eq!((t.rows[0].row, t.rows[1].row), (3, 5));
    let s = schemas();
    let schema = s.table("fwjz").unwrap();
    assert_eq!(
        t.rows[0]
            .cells
            .at(schema.field_index("jglx").unwrap())
            .display(),
        "砖混结构"
    );
    assert_eq!(
        t.rows[0]
            .cells
            .at(schema.field_index("dscs").unwrap())
            .display(),
        "３"
    );
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The same school table as xlsx, ods and xls (converted by LibreOffice): the same records, cell for
/// cell, at the same Excel rows.
#[test]
fn xlsx_ods_and_xls_read_alike() {
    let s = schemas();
    let schema = s.table("czt_xx").unwrap();
    let xlsx = read(schema, &repo().join("fixtures/county_530381/czt_xx.xlsx")).unwrap();
    for f in ["fixtures/formats/czt_xx.ods", "fixtures/formats/czt_xx.xls"] {
        let other = read(schema, &repo().join(f)).unwrap();
        assert_eq!(other.rows.len(), xlsx.rows.len(), "{f}");
        assert_eq!(other.files[0].header_row, xlsx.files[0].header_row, "{f}");
        for (a, b) in xlsx.rows.iter().zip(&other.rows) {
            assert_eq!(a.row, b.row, "{f}");
            let (ta, tb): (Vec<String>, Vec<String>) = (
                a.cells.iter().map(text).collect(),
                b.cells.iter().map(text).collect(),
            );
            assert_eq!(ta, tb, "{f} row {}", a.row);
        }
    }
}

pub(crate) fn ogr2ogr(args: &[&str]) {
    let st = std::process::Command::new("ogr2ogr")
        .args(args)
        .status()
        .expect("ogr2ogr (Debian's gdal-bin, installed by scripts/setup.sh)");
    assert!(st.success(), "ogr2ogr {args:?}");
}

#[test]
fn geopackage_and_geojson_read_like_the_shapefile() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    let shp = dir.join("xzqh_xz.shp");
    let gpkg = dir.join("towns.gpkg");
    let json = dir.join("towns.geojson");
    ogr2ogr(&[
        "-f",
        "GPKG",
        gpkg.to_str().unwrap(),
        shp.to_str().unwrap(),
        "-nln",
        "townships",
    ]);
    ogr2ogr(&[
        "-f",
        "GeoJSON",
        json.to_str().unwrap(),
        shp.to_str().unwrap(),
    ]);
    let s = schemas();
    let schema = s.table("xzqh_xz").unwrap();
    let base = read(schema, &shp).unwrap();
    for p in [&gpkg, &json] {
        let t = read(schema, p).unwrap();
        assert_eq!(t.rows.len(), base.rows.len(), "{}", p.display());
        for (a, b) in base.rows.iter().zip(&t.rows) {
            assert_eq!(text(a.cells.at(0)), text(b.cells.at(0)));
            assert_eq!(
                text(a.cells.at(1)),
                text(b.cells.at(1)),
                "Chinese names survive {}",
                p.display()
            );
            assert!(b.geometry.is_some());
        }
    }
    let layer = Input {
        layer: Some("nope".into()),
        ..input(&gpkg)
    };
    let e = read_table(schema, &[layer], OPTS).unwrap_err();
    assert!(
        matches!(e, Error::NoSuchLayer { .. }) && e.to_string().contains("townships"),
        "{e}"
    );
}

#[test]
fn a_projected_layer_is_reprojected_when_asked() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    let shp = dir.join("xzqh_xz.shp");
    let gk = dir.join("gk.shp");
    // CGCS2000 / 3-degree Gauss-Kruger CM 102E.
    ogr2ogr(&[
        "-t_srs",
        "EPSG:4543",
        "-lco",
        "ENCODING=CP936",
        gk.to_str().unwrap(),
        shp.to_str().unwrap(),
    ]);
    let s = schemas();
    let schema = s.table("xzqh_xz").unwrap();
    assert!(matches!(read(schema, &gk), Err(Error::Crs { .. })));
    let t = read_table(schema, &[input(&gk)], VectorOptions { reproject: true }).unwrap();
    assert!(t.files[0].notes.iter().any(|n| n.rule == "crs_reprojected"));
    let base = read(schema, &shp).unwrap();
    for (a, b) in base.rows.iter().zip(&t.rows) {
        let (riskcensus_spatial::Geom::Polygon(pa), riskcensus_spatial::Geom::Polygon(pb)) = (
            riskcensus_spatial::parse_wkb(a.geometry.as_deref().unwrap()).unwrap(),
            riskcensus_spatial::parse_wkb(b.geometry.as_deref().unwrap()).unwrap(),
        ) else {
            panic!("not polygons")
        };
        let (ca, cb) = (pa.0[0].exterior().0[0], pb.0[0].exterior().0[0]);
        assert!(
            (ca.x - cb.x).abs() < 1e-6 && (ca.y - cb.y).abs() < 1e-6,
            "{ca:?} vs {cb:?}"
        );
    }
}

#[test]
fn the_pipeline_can_name_the_dbf_encoding() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    std::fs::remove_file(dir.join("xzqh_xz.cpg")).unwrap();
    let s = schemas();
    let schema = s.table("xzqh_xz").unwrap();
    let t = read_table(
        schema,
        &[Input {
            encoding: Some("GBK".into()),
            ..input(&dir.join("xzqh_xz.shp"))
        }],
        OPTS,
    )
    .unwrap();
    assert!(
        t.files[0].notes.is_empty(),
        "an encoding the pipeline names is not a finding"
    );
    assert_eq!(
        text(t.rows[0].cells.at(1)),
        riskcensus_schema::Registry::nbs2023().townships_of("530402")[0].name
    );
    let e = read_table(
        schema,
        &[Input {
            encoding: Some("EBCDIC".into()),
            ..input(&dir.join("xzqh_xz.shp"))
        }],
        OPTS,
    )
    .unwrap_err();
    assert!(matches!(e, Error::UnknownEncoding { .. }), "{e}");
}

/// A GBK DBF is decoded by the reader, not by GDAL (see `gbk_by_latin1` in vector.rs): Chinese
/// field names and values come out as GDAL's own recoding gave them, whatever form the `.cpg`
/// names the code page in.
#[test]
fn gbk_field_names_and_values_decode_with_any_cpg_form() {
    let d = tempfile::tempdir().unwrap();
    let dir = county(d.path());
    let shp = dir.join("xzqh_xz.shp");
    let s = schemas();
    let schema = s.table("xzqh_xz").unwrap();
    let base = read(schema, &shp).unwrap();
    let zh = dir.join("zh.shp");
    ogr2ogr(&[
        "-sql",
        "SELECT xzqdm, xzqmc, xzqlx AS \"类型\", mj AS \"备注说明\" FROM xzqh_xz",
        "-lco",
        "ENCODING=CP936",
        zh.to_str().unwrap(),
        shp.to_str().unwrap(),
    ]);
    let dbf = std::fs::read(dir.join("zh.dbf")).unwrap();
    let gbk_name = encoding_rs::GBK.encode("类型").0;
    assert!(
        dbf.windows(gbk_name.len()).any(|w| w == &*gbk_name),
        "the field name is stored in GBK"
    );
    let xzqlx = schema.field_index("xzqlx").unwrap();
    for cpg in ["CP936", "936", "GBK", "gbk\r\n"] {
        std::fs::write(dir.join("zh.cpg"), cpg).unwrap();
        let t = read(schema, &zh).unwrap();
        assert_eq!(
            t.files[0].field_columns[xzqlx].as_deref(),
            Some("类型"),
            "{cpg:?}"
        );
        assert_eq!(t.files[0].extra_columns[0].0, "备注说明", "{cpg:?}");
        assert!(
            t.files[0]
                .notes
                .iter()
                .any(|n| n.rule == "unknown_column" && n.value == "备注说明"),
            "{:?}",
            t.files[0].notes
        );
        assert_eq!(t.rows.len(), base.rows.len());
        for (a, b) in base.rows.iter().zip(&t.rows) {
            assert_eq!(text(a.cells.at(1)), text(b.cells.at(1)), "{cpg:?}");
            assert_eq!(text(a.cells.at(xzqlx)), text(b.cells.at(xzqlx)), "{cpg:?}");
        }
    }
}

/// A GeoJSON feature without a property (GDAL: the field is unset) or with it null reads as an
/// empty cell, never as 0: absent heights were rejected as "建筑高度 0 超出范围". A list property
/// present on one feature and absent on a later one reads without the abort the gdal crate's null
/// list slice gave.
#[test]
fn absent_or_null_attributes_read_as_empty_never_zero() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("buildings.geojson");
    // The required attributes of a building, then the ones under test.
    let feature = |props: &str, x: f64| {
        format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"xzqdm\":\"530402001\",\"cjdm\":\"530402001001\",\"jglx\":\"砖混结构\",\"dscs\":3,\"jzmj\":320.5,\"jcnd\":2005,\"fwyt\":\"住宅\",{props}}},\"geometry\":{{\"type\":\"Point\",\"coordinates\":[{x},24.35]}}}}"
        )
    };
    let features = [
        feature(
            "\"fwbh\":\"530402001000001\",\"height\":12.5,\"arr\":[1,2]",
            102.51,
        ),
        feature("\"fwbh\":\"530402001000002\"", 102.52),
        feature("\"fwbh\":\"530402001000003\",\"height\":null", 102.53),
        feature("\"fwbh\":\"530402001000004\",\"height\":0", 102.54),
    ];
    std::fs::write(
        &path,
        format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[{}]}}",
            features.join(",")
        ),
    )
    .unwrap();
    let s = schemas();
    let schema = s.table("fwjz").unwrap();
    let k = schema.field_index("jzgd").unwrap();
    let t = read_table(
        schema,
        &[Input {
            columns: vec![("height".to_owned(), "jzgd".to_owned())],
            ..input(&path)
        }],
        OPTS,
    )
    .unwrap();
    let heights: Vec<String> = t.rows.iter().map(|r| text(r.cells.at(k))).collect();
    assert_eq!(heights, ["12.5", "", "", "0"]);
    assert!(matches!(t.rows[1].cells.at(k), CellRef::Empty));
    assert!(matches!(t.rows[2].cells.at(k), CellRef::Empty));
}
