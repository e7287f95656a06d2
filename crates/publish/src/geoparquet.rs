//! Every clean table and the issues as GeoParquet 1.1 (WKB geometry with `geo` metadata, CGCS2000
//! PROJJSON, bbox, geometry types), zstd, Hive-partitioned by county:
//! `parquet/<table>/county=<code>/part-0.parquet`; and a data dictionary (csv and Markdown).

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use riskcensus_qc::{CleanTable, Issue, TableResult, ValueRef, Values};
use riskcensus_risk::units::{RecordUnits, UnitSet};
use riskcensus_schema::{FieldType, SchemaSet, TableSchema, divisions};
use riskcensus_spatial::{Geom, parse_wkb};

use crate::{Error, Result, write_atomic};

/// What the GeoParquet step reads of a run: where it writes, the region, the schemas, the checked
/// tables and what the run's units are. Plain borrowed fields, so publishing needs nothing of the
/// pipeline that produced them.
pub struct RunTables<'a> {
    /// `<output dir>/<run name>/`; the tables go under its `parquet/`.
    pub out_dir: &'a Path,
    /// The run's region (a county, city or province code).
    pub region_code: &'a str,
    pub schemas: &'a SchemaSet,
    /// The checked tables: the units table first, then the inputs' tables in pipeline order.
    pub results: &'a [TableResult],
    /// The units layer's code and name fields; `None` when the run scores an indicator table.
    pub unit_fields: Option<(&'a str, &'a str)>,
    /// The risk model, for the graded units' columns in the data dictionary.
    pub model: Option<&'a riskcensus_risk::Model>,
    /// Whether the units are polygons of a boundary layer (not rows of an indicator table): the
    /// graded units then carry a geometry column.
    pub unit_polygons: bool,
}

/// The Hive partition column, read from the folder name, not stored in the files.
const COUNTY_MEANING: &str = "Hive partition key, from the folder name county=<code> (readers with Hive partitioning add it)";

fn perr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Report(format!("cannot write {}: {e}", path.display()))
}

/// Stable snake_case column names: the schema's English name where it is one and unique, else the
/// field code.
pub fn column_names(schema: &TableSchema) -> Vec<String> {
    let mut used = std::collections::BTreeSet::new();
    for fixed in [
        "source_file",
        "source_row",
        "unit_code",
        "assigned_by",
        "geometry",
        "county",
    ] {
        used.insert(fixed.to_owned());
    }
    schema
        .fields
        .iter()
        .map(|f| {
            let en = &f.name_en;
            let ok = !en.is_empty()
                && en
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !en.starts_with(|c: char| c.is_ascii_digit());
            let name = if ok && !used.contains(en) {
                en.clone()
            } else {
                f.code.to_ascii_lowercase()
            };
            let mut n = name.clone();
            let mut k = 2;
            while !used.insert(n.clone()) {
                n = format!("{name}_{k}");
                k += 1;
            }
            n
        })
        .collect()
}

fn point_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut w = vec![1u8];
    w.extend_from_slice(&1u32.to_le_bytes());
    w.extend_from_slice(&x.to_le_bytes());
    w.extend_from_slice(&y.to_le_bytes());
    w
}

fn geo_metadata(projjson: &str, types: &[&str], bbox: [f64; 4]) -> String {
    let crs: serde_json::Value = serde_json::from_str(projjson).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": types, "crs": crs, "bbox": bbox}}
    })
    .to_string()
}

/// The `ARROW:schema` value polars would write, with one schema-level metadata entry added.
fn arrow_schema_with(df: &DataFrame, key: &str, value: &str) -> String {
    use base64::Engine;
    let schema = df.schema().to_arrow(CompatLevel::newest());
    let ipc_fields = polars_arrow::io::ipc::write::default_ipc_fields(schema.iter_values());
    let mut md = polars_arrow::datatypes::Metadata::new();
    md.insert(key.into(), value.into());
    let bytes = polars_arrow::io::ipc::write::schema_to_bytes(&schema, &ipc_fields, Some(&md));
    // Arrow's legacy IPC framing: continuation marker, then the length, then the message.
    let mut framed = Vec::with_capacity(bytes.len() + 8);
    framed.extend_from_slice(&[255u8, 255, 255, 255]);
    framed.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    framed.extend_from_slice(&bytes);
    base64::engine::general_purpose::STANDARD.encode(framed)
}

fn write_df(df: &mut DataFrame, path: &Path, geo: Option<String>) -> Result<()> {
    let (f, tmp) = create_tmp(path)?;
    parquet_writer(f, df, geo.as_deref())
        .finish(df)
        .map_err(|e| perr(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| perr(path, e))
}

/// The file a Parquet file is written to before it is renamed into place.
fn create_tmp(path: &Path) -> Result<(std::fs::File, PathBuf)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| perr(path, e))?;
    }
    let tmp = path.with_extension(format!("parquet.tmp-{}", std::process::id()));
    let f = std::fs::File::create(&tmp).map_err(|e| perr(path, e))?;
    Ok((f, tmp))
}

/// The writer of every Parquet file the run publishes: Zstd, and the `geo` key (when given) in the
/// footer, as GeoParquet requires, and in the embedded Arrow schema: pyarrow, and so geopandas,
/// take schema metadata from the latter.
fn parquet_writer(
    f: std::fs::File,
    df: &DataFrame,
    geo: Option<&str>,
) -> ParquetWriter<std::fs::File> {
    let kv = geo.map(|g| {
        KeyValueMetadata::from_static(vec![
            ("ARROW:schema".to_owned(), arrow_schema_with(df, "geo", g)),
            ("geo".to_owned(), g.to_owned()),
        ])
    });
    ParquetWriter::new(f)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(kv)
}

/// polars' default row-group size.
const ROW_GROUP: usize = 512 * 512;

/// The row groups `ParquetWriter::finish` cuts a one-chunk frame of `rows` rows into: `n = rows /
/// 512²` groups (one when that is 0), all of `rows / n` rows but the last, which takes the rest.
/// Written group by group with these bounds, a table's file is byte for byte the one `finish`
/// writes from the whole frame, without the whole frame ever being in memory.
fn row_groups(rows: usize) -> Vec<std::ops::Range<usize>> {
    let n = (rows / ROW_GROUP).max(1);
    let size = rows / n;
    (0..n)
        .map(|g| g * size..if g + 1 == n { rows } else { (g + 1) * size })
        .collect()
}

/// A Parquet file written one row group at a time.
struct GroupWriter {
    writer: polars::io::parquet::write::BatchedWriter<std::fs::File>,
    tmp: PathBuf,
}

impl GroupWriter {
    /// Starts the file with the schema of `first`, the first row group.
    fn create(path: &Path, first: &DataFrame, geo: Option<&str>) -> Result<GroupWriter> {
        let (f, tmp) = create_tmp(path)?;
        let writer = parquet_writer(f, first, geo)
            .batched(first.schema())
            .map_err(|e| perr(path, e))?;
        Ok(GroupWriter { writer, tmp })
    }

    fn finish(self, path: &Path) -> Result<()> {
        self.writer.finish().map_err(|e| perr(path, e))?;
        std::fs::rename(&self.tmp, path).map_err(|e| perr(path, e))
    }
}

/// Writes each frame `groups` gives as the next row group of one file, built as it is needed;
/// `false` (no file) when there is none.
fn write_groups(
    path: &Path,
    geo: Option<&str>,
    groups: impl Iterator<Item = Result<DataFrame>>,
) -> Result<bool> {
    let mut file: Option<GroupWriter> = None;
    for df in groups {
        let df = df?;
        let w = match &mut file {
            Some(w) => w,
            None => file.insert(GroupWriter::create(path, &df, geo)?),
        };
        w.writer.write_batch(&df).map_err(|e| perr(path, e))?;
    }
    match file {
        Some(w) => w.finish(path).map(|()| true),
        None => Ok(false),
    }
}

/// Records turned into columns at a time: each batch's values are dropped once they are columns, so
/// a table's records and its columns are not held at once.
const FRAME_BATCH: usize = 1 << 16;

/// Writes one clean table as county partitions (`<table>/county=<code>/part-0.parquet`), consuming
/// its records: their geometries move into the geometry column and their values are dropped batch
/// by batch as they become columns.
fn write_table(
    run: &RunTables,
    schema: &TableSchema,
    mut clean: CleanTable,
    files: &[String],
    assigned: Option<&RecordUnits>,
    units: Option<&UnitSet>,
    projjson: &str,
) -> Result<Vec<PathBuf>> {
    let names = column_names(schema);
    let point = riskcensus_risk::units::point_fields(schema);
    let parts = partition_rows(run.region_code, &clean, assigned, units);
    let mut written = Vec::with_capacity(parts.len());
    for (county, idx) in parts {
        let path = run
            .out_dir
            .join("parquet")
            .join(&clean.table)
            .join(format!("county={county}"))
            .join("part-0.parquet");
        let mut wkbs = take_geometries(&mut clean, point, &idx);
        let geo = geo_of(&wkbs, projjson);
        let groups = row_groups(idx.len()).into_iter().map(|g| {
            let rows = &idx[g.clone()];
            let mut cols = field_columns(schema, &names, &mut clean, rows)?;
            cols.extend(provenance_columns(&clean, files, assigned, rows));
            if geo.is_some() {
                cols.push(wkb_column(&wkbs[g.clone()]));
            }
            wkbs[g].fill(None);
            Ok(DataFrame::new(rows.len(), cols)?)
        });
        if write_groups(&path, geo.as_deref(), groups)? {
            written.push(path);
        }
    }
    Ok(written)
}

/// The schema fields' columns of the records `idx` (a partition: never empty), built batch by batch
/// on every core; each record's values are dropped once its batch is in the columns. The columns
/// come out in one piece each, as if built at once (the Parquet bytes do not change).
fn field_columns(
    schema: &TableSchema,
    names: &[String],
    clean: &mut CleanTable,
    idx: &[usize],
) -> Result<Vec<Column>> {
    let mut cols: Vec<Column> = Vec::new();
    for batch in idx.chunks(FRAME_BATCH) {
        let rows = &clean.rows;
        let part: Vec<Column> = schema
            .fields
            .par_iter()
            .enumerate()
            .map(|(k, f)| {
                let values = batch.iter().map(|&i| rows[i].values.at(k));
                field_column(names[k].as_str(), f.ty, values)
            })
            .collect();
        for &i in batch {
            clean.rows[i].values = Values::default();
        }
        if cols.is_empty() {
            cols = part;
        } else {
            for (c, p) in cols.iter_mut().zip(&part) {
                c.append(p)?;
            }
        }
    }
    cols.par_iter_mut().for_each(|c| *c = c.rechunk());
    Ok(cols)
}

/// The unit the join placed record `i` in, and how; a table the join did not read keeps its
/// declared unit (found "by code").
fn record_unit(
    clean: &CleanTable,
    assigned: Option<&RecordUnits>,
    i: usize,
) -> (Option<String>, Option<&'static str>) {
    match assigned {
        Some(a) => (a.unit[i].clone(), a.how[i].as_str()),
        None => {
            let u = clean.rows[i].unit.clone();
            let how = u.as_ref().map(|_| "code");
            (u, how)
        }
    }
}

/// The rows of each county partition, in row order. A record's county is that of the unit it went
/// to, else of the township it declared, else (a hazard zone of a city run) of the unit its
/// polygon overlaps most.
fn partition_rows(
    region: &str,
    clean: &CleanTable,
    assigned: Option<&RecordUnits>,
    units: Option<&UnitSet>,
) -> BTreeMap<String, Vec<usize>> {
    let county_of = |i: usize| {
        let placed = record_unit(clean, assigned, i).0;
        let code = placed
            .as_deref()
            .filter(|u| divisions::county_of(u).is_some())
            .or(clean.rows[i].unit.as_deref());
        match (code, units) {
            (None, Some(u)) => partition_county(
                largest_overlap(u, clean.rows[i].geometry.as_deref()),
                region,
            ),
            _ => partition_county(code, region),
        }
    };
    let mut parts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in 0..clean.rows.len() {
        parts.entry(county_of(i)).or_default().push(i);
    }
    parts
}

/// One schema field's column, typed as the schema says; a value of another type is null.
fn field_column<'v>(
    name: &str,
    ty: FieldType,
    values: impl Iterator<Item = ValueRef<'v>>,
) -> Column {
    match ty {
        FieldType::Int => Column::new(
            name.into(),
            values
                .map(|v| {
                    if let ValueRef::Int(x) = v {
                        Some(x)
                    } else {
                        None
                    }
                })
                .collect::<Vec<_>>(),
        ),
        FieldType::Float => {
            Column::new(name.into(), values.map(|v| v.as_f64()).collect::<Vec<_>>())
        }
        FieldType::Bool => Column::new(
            name.into(),
            values
                .map(|v| {
                    if let ValueRef::Bool(b) = v {
                        Some(b)
                    } else {
                        None
                    }
                })
                .collect::<Vec<_>>(),
        ),
        FieldType::Date => Column::new(
            name.into(),
            values
                .map(|v| {
                    if let ValueRef::Date(d) = v {
                        Some(riskcensus_qc::coerce::civil_from_days(d))
                    } else {
                        None
                    }
                })
                .collect::<Vec<_>>(),
        ),
        FieldType::Text => Column::new(name.into(), values.map(|v| v.as_str()).collect::<Vec<_>>()),
    }
}

/// The columns every published record carries after its fields: `unit_code`, `assigned_by`,
/// `source_file`, `source_row`.
fn provenance_columns(
    clean: &CleanTable,
    files: &[String],
    assigned: Option<&RecordUnits>,
    idx: &[usize],
) -> [Column; 4] {
    [
        Column::new(
            "unit_code".into(),
            idx.iter()
                .map(|&i| record_unit(clean, assigned, i).0)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "assigned_by".into(),
            idx.iter()
                .map(|&i| record_unit(clean, assigned, i).1)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "source_file".into(),
            idx.iter()
                .map(|&i| {
                    files
                        .get(clean.rows[i].file as usize)
                        .cloned()
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "source_row".into(),
            idx.iter()
                .map(|&i| clean.rows[i].row as i64)
                .collect::<Vec<_>>(),
        ),
    ]
}

/// Each record's geometry as WKB, moved out of the record: its own, else a point from its longitude
/// and latitude fields.
fn take_geometries(
    clean: &mut CleanTable,
    point: Option<(usize, usize)>,
    idx: &[usize],
) -> Vec<Option<Box<[u8]>>> {
    idx.iter()
        .map(|&i| {
            let r = &mut clean.rows[i];
            r.geometry.take().or_else(|| {
                point.and_then(|(a, b)| {
                    Some(
                        point_wkb(r.values.at(a).as_f64()?, r.values.at(b).as_f64()?)
                            .into_boxed_slice(),
                    )
                })
            })
        })
        .collect()
}

/// The `geometry` column of WKB values, with its `geo` metadata (types, bbox); None without any.
fn geometry_column<W: AsRef<[u8]>>(wkbs: &[Option<W>], projjson: &str) -> Option<(Column, String)> {
    let meta = geo_of(wkbs, projjson)?;
    Some((wkb_column(wkbs), meta))
}

/// A `geometry` column of WKB values.
fn wkb_column<W: AsRef<[u8]>>(wkbs: &[Option<W>]) -> Column {
    let ca: BinaryChunked = wkbs.iter().map(|w| w.as_ref().map(AsRef::as_ref)).collect();
    ca.with_name("geometry".into()).into_column()
}

/// The `geo` metadata of WKB values (geometry types, bounding box); None without any.
fn geo_of<W: AsRef<[u8]>>(wkbs: &[Option<W>], projjson: &str) -> Option<String> {
    if wkbs.iter().all(Option::is_none) {
        return None;
    }
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut types = std::collections::BTreeSet::new();
    for w in wkbs.iter().flatten().map(AsRef::as_ref) {
        match parse_wkb(w) {
            Ok(Geom::Point(p)) => {
                types.insert("Point");
                bbox = [
                    bbox[0].min(p.x()),
                    bbox[1].min(p.y()),
                    bbox[2].max(p.x()),
                    bbox[3].max(p.y()),
                ];
            }
            Ok(Geom::Polygon(mp)) => {
                types.insert(if w.get(1) == Some(&6) {
                    "MultiPolygon"
                } else {
                    "Polygon"
                });
                if let Some(r) = geo::BoundingRect::bounding_rect(&mp) {
                    bbox = [
                        bbox[0].min(r.min().x),
                        bbox[1].min(r.min().y),
                        bbox[2].max(r.max().x),
                        bbox[3].max(r.max().y),
                    ];
                }
            }
            _ => {}
        }
    }
    let types: Vec<&str> = types.into_iter().collect();
    Some(geo_metadata(projjson, &types, bbox))
}

/// PROJJSON of CGCS2000 (EPSG:4490), longitude first.
fn projjson_4490(at: &Path) -> Result<String> {
    let mut srs = gdal::spatial_ref::SpatialRef::from_epsg(4490).map_err(|e| perr(at, e))?;
    srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    srs.to_projjson().map_err(|e| perr(at, e))
}

/// The Hive partition (`county=<code>`) of a record, issue or unit with this township or unit
/// code in a run of `region`: the real county the code lies in (its first 6 digits); for a code
/// that names no county (none, or a unit numbered by another scheme), the region when it is a
/// county, else [`UNASSIGNED`]. Never a city or province code, never a whole unit code: a
/// partition is a county, whatever the level of the run or of its units.
pub fn partition_county(code: Option<&str>, region: &str) -> String {
    code.and_then(divisions::county_of)
        .or_else(|| divisions::county_of(region))
        .unwrap_or(UNASSIGNED)
        .to_owned()
}

/// The unit a polygon record (a hazard zone) overlaps most, for its partition.
fn largest_overlap<'a>(units: &'a UnitSet, wkb: Option<&[u8]>) -> Option<&'a str> {
    match parse_wkb(wkb?).ok()? {
        Geom::Polygon(mp) => units.largest_overlap(&mp),
        _ => None,
    }
}

/// The partition of what no county can be derived for in a city or provincial run.
pub const UNASSIGNED: &str = "unassigned";

/// Writes the graded units as GeoParquet, `parquet/unit_risk/county=<code>/part-0.parquet`, each
/// unit with its polygon (from `shapes`, by unit code), partitioned by the county each unit lies in
/// (see [`partition_county`]; `region` is the run's or merge's region code). Returns the files
/// written.
pub fn write_unit_risk(
    root: &Path,
    df: &DataFrame,
    shapes: &BTreeMap<String, Vec<u8>>,
    region: &str,
) -> Result<Vec<PathBuf>> {
    let projjson = projjson_4490(root)?;
    let codes: Vec<String> = crate::text_column(df, "unit_code")?;
    let mut parts: BTreeMap<String, Vec<IdxSize>> = BTreeMap::new();
    for (i, c) in codes.iter().enumerate() {
        parts
            .entry(partition_county(Some(c), region))
            .or_default()
            .push(i as IdxSize);
    }
    let mut written = Vec::new();
    for (county, idx) in parts {
        let wkbs: Vec<Option<Vec<u8>>> = idx
            .iter()
            .map(|&i| shapes.get(&codes[i as usize]).cloned())
            .collect();
        let mut part = df.take(&IdxCa::from_vec("idx".into(), idx))?;
        let geo = match geometry_column(&wkbs, &projjson) {
            Some((col, meta)) => {
                part.with_column(col)?;
                Some(meta)
            }
            None => None,
        };
        let path = root
            .join("unit_risk")
            .join(format!("county={}", crate::package::sanitize(&county)))
            .join("part-0.parquet");
        write_df(&mut part, &path, geo)?;
        written.push(path);
    }
    Ok(written)
}

fn issues_frame(issues: &[&Issue]) -> Result<DataFrame> {
    let s = |f: &dyn Fn(&Issue) -> String| issues.iter().map(|i| f(i)).collect::<Vec<_>>();
    let cols = vec![
        Column::new("table".into(), s(&|i| i.table.clone())),
        Column::new("source_file".into(), s(&|i| i.file.clone())),
        Column::new("sheet".into(), s(&|i| i.sheet.clone())),
        Column::new(
            "source_row".into(),
            issues
                .iter()
                .map(|i| i.row.map(i64::from))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "column".into(),
            issues.iter().map(|i| i.column.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "field".into(),
            issues.iter().map(|i| i.field.clone()).collect::<Vec<_>>(),
        ),
        Column::new("value".into(), s(&|i| i.value.clone())),
        Column::new("rule".into(), s(&|i| i.rule.to_owned())),
        Column::new("severity".into(), s(&|i| i.severity.as_str().to_owned())),
        Column::new("message_zh".into(), s(&|i| i.message_zh.clone())),
        Column::new("message_en".into(), s(&|i| i.message_en.clone())),
        Column::new("record_key".into(), s(&|i| i.record_key.clone())),
        Column::new(
            "unit_code".into(),
            issues.iter().map(|i| i.unit.clone()).collect::<Vec<_>>(),
        ),
    ];
    Ok(DataFrame::new(issues.len(), cols)?)
}

/// Writes every clean table, the issues, and the data dictionary (with the graded units' columns
/// when `unit_risk` is given). Returns the files written.
pub fn write_all(
    run: &RunTables,
    clean: Vec<CleanTable>,
    records: &BTreeMap<String, RecordUnits>,
    unit_risk: Option<&DataFrame>,
) -> Result<Vec<PathBuf>> {
    let root = run.out_dir.join("parquet");
    let projjson = projjson_4490(&root)?;
    let mut dictionary = Dictionary::new();
    let units = partition_units(run, clean.first());
    let tables: Vec<(&TableResult, &TableSchema, CleanTable)> = run
        .results
        .iter()
        .zip(clean)
        .filter_map(|(r, c)| Some((r, run.schemas.table(&r.table)?, c)))
        .collect();
    let names: Vec<(&str, &TableSchema)> = tables
        .iter()
        .map(|(r, s, _)| (r.table.as_str(), *s))
        .collect();
    // The tables are written side by side (the buildings take most of the time, the others fill
    // the other core); the paths are kept in table order.
    let per_table: Vec<Result<Vec<PathBuf>>> = tables
        .into_par_iter()
        .map(|(r, schema, clean)| {
            write_table(
                run,
                schema,
                clean,
                &r.files,
                records.get(&r.table),
                units.as_ref(),
                &projjson,
            )
        })
        .collect();
    let mut written = Vec::new();
    for ((table, schema), paths) in names.into_iter().zip(per_table) {
        written.extend(paths?);
        dictionary.add_table(table, schema);
    }
    if let Some(risk) = unit_risk {
        dictionary.add_unit_risk(unit_risk_entries(run, risk));
    }
    written.extend(write_issues(run, &root)?);
    dictionary.write(&root)?;
    Ok(written)
}

/// The units a city or provincial run places what has no code with; `None` in a county run, where
/// that is the county.
fn partition_units(run: &RunTables, units: Option<&CleanTable>) -> Option<UnitSet> {
    match (run.unit_fields, units) {
        (Some((code, name)), Some(u)) if divisions::county_of(run.region_code).is_none() => {
            Some(UnitSet::from_table(u, code, name))
        }
        _ => None,
    }
}

/// Every table's issues, partitioned by county: `parquet/issues/county=<code>/part-0.parquet`.
fn write_issues(run: &RunTables, root: &Path) -> Result<Vec<PathBuf>> {
    let all: Vec<&Issue> = run.results.iter().flat_map(|r| &r.issues).collect();
    let mut by_county: BTreeMap<String, Vec<&Issue>> = BTreeMap::new();
    for i in all {
        // A record without a valid township: an issue whose value is a code of a county inside the
        // region (an unknown township of 530381) goes to that county rather than `unassigned`.
        let code = i.unit.as_deref().or_else(|| {
            divisions::county_of(&i.value)
                .filter(|c| c.starts_with(divisions::region_prefix(run.region_code)))
        });
        let c = partition_county(code, run.region_code);
        by_county.entry(c).or_default().push(i);
    }
    let mut written = Vec::new();
    for (county, issues) in by_county {
        let mut df = issues_frame(&issues)?;
        let path = root
            .join("issues")
            .join(format!("county={county}"))
            .join("part-0.parquet");
        write_df(&mut df, &path, None)?;
        written.push(path);
    }
    Ok(written)
}

/// One column of the data dictionary: name, Chinese name, type, unit, meaning.
type DictEntry = (String, String, String, String, String);

/// The columns every published record carries besides its fields: name, Chinese name, type,
/// meaning.
const RECORD_COLUMNS: &[(&str, &str, &str, &str)] = &[
    (
        "unit_code",
        "评估单元代码",
        "text",
        "the unit the record was assigned to (its township, or the county unit of a city run)",
    ),
    (
        "assigned_by",
        "归属方式",
        "text",
        "how the unit was found: code (declared township code), point (point in polygon), overlap (largest footprint overlap); empty when none",
    ),
    (
        "source_file",
        "来源文件",
        "text",
        "the file the record was read from",
    ),
    (
        "source_row",
        "来源行号",
        "int",
        "the row an office sees in Excel, or the feature's 1-based index",
    ),
    (
        "geometry",
        "几何",
        "wkb",
        "CGCS2000 (EPSG:4490) geometry, WKB",
    ),
    ("county", "县级行政区代码", "text", COUNTY_MEANING),
];

/// The data dictionary as it is built: csv lines and the Markdown document.
struct Dictionary {
    csv: Vec<String>,
    markdown: String,
}

impl Dictionary {
    fn new() -> Dictionary {
        Dictionary {
            csv: vec!["table,column,name_zh,type,unit,meaning".to_owned()],
            markdown: String::from(
                "# Data dictionary\n\nEvery Parquet table of this run, its columns, their Chinese names, types and units.\n",
            ),
        }
    }

    /// A clean table's columns: its fields, then the columns every record carries.
    fn add_table(&mut self, table: &str, schema: &TableSchema) {
        self.markdown.push_str(&format!(
            "\n## {} — {}\n\n| column | 中文名 | type | unit | meaning |\n|---|---|---|---|---|\n",
            table, schema.name_zh
        ));
        for (name, f) in column_names(schema).iter().zip(&schema.fields) {
            let ty = format!("{:?}", f.ty).to_lowercase();
            let unit = f.unit.clone().unwrap_or_default();
            let meaning = f
                .description
                .clone()
                .unwrap_or_else(|| format!("{} ({})", f.name_zh, f.code));
            self.csv.push(format!(
                "{},{},\"{}\",{ty},{unit},\"{}\"",
                table,
                name,
                f.name_zh.replace('"', "'"),
                meaning.replace('"', "'")
            ));
            self.markdown.push_str(&format!(
                "| {name} | {} | {ty} | {unit} | {meaning} |\n",
                f.name_zh
            ));
        }
        for (name, zh, ty, meaning) in RECORD_COLUMNS {
            self.csv
                .push(format!("{table},{name},{zh},{ty},,\"{meaning}\""));
            self.markdown
                .push_str(&format!("| {name} | {zh} | {ty} |  | {meaning} |\n"));
        }
    }

    /// The graded units' columns.
    fn add_unit_risk(&mut self, entries: Vec<DictEntry>) {
        self.markdown.push_str(
            "\n## unit_risk — 评估单元风险（每个单元一行）\n\n| column | 中文名 | type | unit | meaning |\n|---|---|---|---|---|\n",
        );
        for (name, zh, ty, unit, meaning) in entries {
            self.csv.push(format!(
                "unit_risk,{name},\"{}\",{ty},{unit},\"{}\"",
                zh.replace('"', "'"),
                meaning.replace('"', "'")
            ));
            self.markdown
                .push_str(&format!("| {name} | {zh} | {ty} | {unit} | {meaning} |\n"));
        }
    }

    /// `data_dictionary.csv` and `data_dictionary.md` under `root`.
    fn write(self, root: &Path) -> Result<()> {
        write_atomic(
            &root.join("data_dictionary.csv"),
            (self.csv.join("\n") + "\n").as_bytes(),
        )?;
        write_atomic(&root.join("data_dictionary.md"), self.markdown.as_bytes())
    }
}

/// The dictionary entries of the graded units: the frame's columns, then the unit polygon (units
/// from a boundary layer carry theirs) and the partition column.
fn unit_risk_entries(run: &RunTables, risk: &DataFrame) -> Vec<DictEntry> {
    let mut entries = unit_risk_dictionary(run.model, risk);
    if run.unit_polygons {
        entries.push((
            "geometry".into(),
            "几何".into(),
            "wkb".into(),
            String::new(),
            "CGCS2000 (EPSG:4490) unit polygon, WKB".into(),
        ));
    }
    entries.push((
        "county".into(),
        "县级行政区代码".into(),
        "text".into(),
        String::new(),
        COUNTY_MEANING.into(),
    ));
    entries
}

/// The unit table's own columns: name, Chinese name, unit, meaning.
const UNIT_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("unit_code", "评估单元代码", "", "the unit's division code"),
    ("unit_name", "评估单元名称", "", "the unit's name"),
    (
        "no_rating_reason",
        "无评级原因",
        "",
        "why the unit got no rating (empty when rated)",
    ),
    ("area_km2", "面积", "km²", "area of the unit polygon"),
    (
        "population",
        "常住人口",
        "人",
        "resident population (xzjd_rkjj)",
    ),
    ("gdp", "地区生产总值", "万元", "GDP (xzjd_rkjj)"),
    ("households", "户数", "户", "households (xzjd_rkjj)"),
    (
        "n_buildings",
        "房屋栋数",
        "栋",
        "clean building records assigned to the unit",
    ),
    (
        "floor_area_m2",
        "建筑面积",
        "m²",
        "total floor area of the buildings",
    ),
    (
        "building_residents",
        "房屋居住人数",
        "人",
        "people living in the buildings",
    ),
    ("n_schools", "学校数", "所", "schools (czt_xx)"),
    (
        "n_medical",
        "医疗卫生机构数",
        "个",
        "medical institutions (czt_ylwsjg)",
    ),
    (
        "n_geohazard",
        "地质灾害隐患点数",
        "处",
        "geological hazard points (dzzhyhd)",
    ),
    (
        "n_geohazard_medium",
        "中型地质灾害隐患点数",
        "处",
        "geological hazard points of medium size",
    ),
    (
        "n_geohazard_large",
        "大型及以上地质灾害隐患点数",
        "处",
        "geological hazard points, large or bigger",
    ),
];

/// The columns a score writes, by suffix: Chinese name, meaning.
const SCORE_ROLES: &[(&str, &str, &str)] = &[
    ("hazard", "危险性", "hazard dimension"),
    ("exposure", "暴露度", "exposure dimension"),
    ("vulnerability", "脆弱性", "vulnerability dimension"),
    ("capacity", "减灾能力", "coping-capacity dimension"),
    ("score", "风险指数", "the risk score"),
    ("grade", "风险等级", "risk grade label"),
    (
        "color",
        "风险等级颜色",
        "colour of the grade on the maps (#rrggbb)",
    ),
];

/// Building structures of the `n_buildings_<structure>` columns, in Chinese.
const STRUCTURES_ZH: &[(&str, &str)] = &[
    ("brick_concrete", "砖混"),
    ("reinforced_concrete", "钢筋混凝土"),
    ("steel", "钢"),
    ("masonry", "砌体"),
    ("bottom_frame", "底部框架"),
    ("wood", "木"),
    ("earth_wood", "土木"),
    ("stone_wood", "石木"),
    ("mixed", "混杂"),
    ("other", "其他"),
];

/// The columns of the graded units: name, Chinese name, type, unit, meaning.
fn unit_risk_dictionary(model: Option<&riskcensus_risk::Model>, df: &DataFrame) -> Vec<DictEntry> {
    let scores = score_labels(model);
    df.columns()
        .iter()
        .map(|c| {
            let name = c.name().to_string();
            let ty = column_type(c.dtype()).to_owned();
            unit_column_entry(&name, &ty)
                .or_else(|| indicator_entry(model, &name, &ty))
                .or_else(|| score_entry(&scores, &name, &ty))
                .or_else(|| structure_entry(&name, &ty))
                .or_else(|| figure_entry(&name, &ty))
                .unwrap_or((
                    name,
                    String::new(),
                    ty,
                    String::new(),
                    "unit table column".into(),
                ))
        })
        .collect()
}

/// Each score's column prefix and Chinese label (its name when it has none).
fn score_labels(model: Option<&riskcensus_risk::Model>) -> Vec<(String, String)> {
    let Some(m) = model else {
        return Vec::new();
    };
    m.scores
        .iter()
        .map(|sc| {
            let label = if sc.label_zh.is_empty() {
                sc.name.clone()
            } else {
                sc.label_zh.clone()
            };
            (crate::maps::score_prefix(sc), label)
        })
        .collect()
}

/// A column's type as the dictionary names it.
fn column_type(dtype: &DataType) -> &'static str {
    match dtype {
        DataType::String => "text",
        DataType::Binary => "wkb",
        DataType::Boolean => "bool",
        t if t.is_integer() => "int",
        _ => "float",
    }
}

/// A column of the unit table itself (code, name, population, buildings, …).
fn unit_column_entry(name: &str, ty: &str) -> Option<DictEntry> {
    let (_, zh, unit, meaning) = UNIT_COLUMNS.iter().find(|f| f.0 == name)?;
    Some((
        name.to_owned(),
        zh.to_string(),
        ty.to_owned(),
        unit.to_string(),
        meaning.to_string(),
    ))
}

/// A column the unit table makes from a survey table's records (shelters, rescue teams, hidden
/// dangers, venues), with the Chinese name and unit the figure carries.
fn figure_entry(name: &str, ty: &str) -> Option<DictEntry> {
    let (table, figure) = riskcensus_risk::figures::figure_column(name)?;
    let (zh, unit) = figure.label();
    let meaning = match figure {
        riskcensus_risk::figures::Figure::Count { .. } => {
            format!("clean {table} records in the unit")
        }
        riskcensus_risk::figures::Figure::Sum { field, .. } => {
            format!("{table}.{field} summed over the unit's clean records")
        }
        riskcensus_risk::figures::Figure::CountOf { field, values, .. } => format!(
            "clean {table} records whose {field} is {}",
            values.join(" or ")
        ),
    };
    Some((
        name.to_owned(),
        zh.to_owned(),
        ty.to_owned(),
        unit.to_owned(),
        meaning,
    ))
}

/// An indicator's raw value, `ind_<indicator>`, described by its expression.
fn indicator_entry(
    model: Option<&riskcensus_risk::Model>,
    name: &str,
    ty: &str,
) -> Option<DictEntry> {
    let ind = name
        .strip_prefix("ind_")
        .and_then(|n| model.and_then(|m| m.indicators.iter().find(|i| i.name == n)))?;
    let zh = if ind.label_zh.is_empty() {
        ind.name.clone()
    } else {
        ind.label_zh.clone()
    };
    Some((
        name.to_owned(),
        zh,
        ty.to_owned(),
        String::new(),
        format!("indicator, raw value of: {}", ind.expr),
    ))
}

/// A score's column, `<prefix>_<role>` (its dimensions, score, grade, colour).
fn score_entry(scores: &[(String, String)], name: &str, ty: &str) -> Option<DictEntry> {
    scores.iter().find_map(|(prefix, label)| {
        let role = name
            .strip_prefix(prefix.as_str())
            .and_then(|r| r.strip_prefix('_'));
        let (_, zh, en) = SCORE_ROLES.iter().find(|r| Some(r.0) == role)?;
        Some((
            name.to_owned(),
            format!("{label}{zh}"),
            ty.to_owned(),
            String::new(),
            format!("{en} ({prefix})"),
        ))
    })
}

/// Buildings of one structure, `n_buildings_<structure>`.
fn structure_entry(name: &str, ty: &str) -> Option<DictEntry> {
    let structure = name.strip_prefix("n_buildings_")?;
    let zh = STRUCTURES_ZH
        .iter()
        .find(|(en, _)| *en == structure)
        .map_or(structure, |(_, zh)| zh);
    Some((
        name.to_owned(),
        format!("{zh}结构房屋栋数"),
        ty.to_owned(),
        "栋".into(),
        format!("buildings of structure {structure}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table written group by group is the file `finish` writes from the whole frame, for one
    /// group, and for several with the last taking the rest.
    #[test]
    fn a_table_written_by_row_groups_is_the_file_finish_writes() {
        let dir = tempfile::tempdir().unwrap();
        for rows in [1_000usize, 2 * ROW_GROUP + 12_345] {
            let frame = |r: std::ops::Range<usize>| {
                let ids: Vec<i64> = r.clone().map(|i| i as i64).collect();
                let names: Vec<Option<String>> = r
                    .map(|i| (i % 7 != 0).then(|| format!("红塔区房屋{}", i % 1_000)))
                    .collect();
                DataFrame::new(
                    ids.len(),
                    vec![
                        Column::new("id".into(), ids),
                        Column::new("name".into(), names),
                    ],
                )
                .unwrap()
            };
            let whole = dir.path().join(format!("whole-{rows}.parquet"));
            write_df(&mut frame(0..rows), &whole, Some("{}".into())).unwrap();
            let grouped = dir.path().join(format!("grouped-{rows}.parquet"));
            let groups = row_groups(rows);
            assert_eq!(groups.len(), (rows / ROW_GROUP).max(1));
            assert_eq!(groups.last().unwrap().end, rows);
            assert!(
                write_groups(
                    &grouped,
                    Some("{}"),
                    groups.into_iter().map(|g| Ok(frame(g)))
                )
                .unwrap()
            );
            let (a, b) = (
                std::fs::read(&whole).unwrap(),
                std::fs::read(&grouped).unwrap(),
            );
            assert!(a == b, "{rows} rows: the files differ");
        }
    }
}
