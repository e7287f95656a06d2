//! Vector files through GDAL.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{FieldValue, LayerAccess};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use riskcensus_schema::{Rule, Severity, TableSchema};
use riskcensus_spatial::{parse_wkb, representative_point};

use crate::header::FieldNames;
use crate::{
    Error, FileNote, Input, RawCell, RawRow, Result, SourceFile, VectorOptions, count, extension,
};

/// Marks an attribute column replaced by the geometry (a point layer's longitude and latitude).
const SUPERSEDED: usize = usize::MAX;

/// Finds a sibling file with another extension, in either case (`.DBF` or `.dbf`).
fn sibling(path: &Path, ext: &str) -> Option<PathBuf> {
    [ext.to_ascii_lowercase(), ext.to_ascii_uppercase()]
        .into_iter()
        .map(|e| path.with_extension(e))
        .find(|p| p.is_file())
}

/// Guesses the text encoding of a DBF from its character fields: `None` when all ASCII.
fn detect_dbf_encoding(dbf: &Path) -> Result<Option<&'static str>> {
    let bytes = std::fs::read(dbf).map_err(|e| Error::Gdal {
        path: dbf.to_owned(),
        message: e.to_string(),
    })?;
    let corrupt = || Error::Gdal {
        path: dbf.to_owned(),
        message: "DBF header is truncated or corrupt".into(),
    };
    if bytes.len() < 32 {
        return Err(corrupt());
    }
    let records = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let record_len = u16::from_le_bytes([bytes[10], bytes[11]]) as usize;
    let mut fields = Vec::new();
    let mut pos = 32;
    let mut offset = 1; // deletion flag
    while pos + 32 <= bytes.len() && bytes[pos] != 0x0D {
        let len = bytes[pos + 16] as usize;
        if bytes[pos + 11] == b'C' {
            fields.push((offset, len));
        }
        offset += len;
        pos += 32;
    }
    let mut utf8 = true;
    let mut gbk = true;
    let mut any = false;
    // Only the records present: a truncated .dbf is counted (and reported) later, not refused here.
    'records: for r in 0..records.min(5_000) {
        let start = header_len + r * record_len;
        for &(o, len) in &fields {
            let Some(v) = bytes.get(start + o..start + o + len) else {
                break 'records;
            };
            if v.is_ascii() {
                continue;
            }
            any = true;
            // Fixed-width fields can cut a multi-byte character at the end; trim trailing spaces only.
            let v = v.strip_suffix(b" ").unwrap_or(v);
            utf8 &= std::str::from_utf8(v).is_ok();
            gbk &= encoding_rs::GBK
                .decode_without_bom_handling_and_without_replacement(v)
                .is_some();
        }
    }
    Ok(match (any, utf8, gbk) {
        (false, _, _) => None,
        (true, true, _) => Some("UTF-8"),
        (true, false, true) => Some("CP936"),
        (true, false, false) => {
            return Err(Error::Encoding {
                path: dbf.to_owned(),
                offset: 0,
            });
        }
    })
}

fn is_cgcs2000(srs: &SpatialRef) -> Option<i32> {
    let mut s = srs.clone();
    let _ = s.auto_identify_epsg();
    s.auth_code().ok()
}

pub(crate) fn read_vector(
    schema: &TableSchema,
    input: &Input,
    file: u16,
    opts: VectorOptions,
) -> Result<(SourceFile, Vec<RawRow>)> {
    riskcensus_spatial::quiet_gdal();
    let path = &input.path;
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(Error::EmptyFile { path: path.clone() });
    }
    let mut notes = Vec::new();
    let mut shapefile_counts = None;
    let mut open_options: Vec<String> = Vec::new();
    let mut encoding = None;
    if extension(path) == "shp" {
        if sibling(path, "shx").is_none() {
            return Err(Error::ShapefilePart {
                path: path.clone(),
                part: ".shx (index)",
            });
        }
        let Some(dbf) = sibling(path, "dbf") else {
            return Err(Error::ShapefilePart {
                path: path.clone(),
                part: ".dbf (attribute table)",
            });
        };
        let shx = sibling(path, "shx").unwrap_or_else(|| path.with_extension("shx"));
        shapefile_counts = Some(count::shapefile(path, &shx, &dbf).map_err(
            |(path, message)| Error::Corrupt {
                path: path.into(),
                message,
            },
        )?);
        if let Some(e) = &input.encoding {
            let e = match e.to_ascii_uppercase().as_str() {
                "GBK" | "CP936" | "GB2312" | "GB18030" => "CP936",
                "UTF-8" | "UTF8" => "UTF-8",
                other => {
                    return Err(Error::UnknownEncoding {
                        path: path.clone(),
                        encoding: other.to_owned(),
                    });
                }
            };
            open_options.push(format!("ENCODING={e}"));
            encoding = Some(e.to_owned());
        } else if let Some(cpg) = sibling(path, "cpg") {
            encoding = std::fs::read_to_string(cpg)
                .ok()
                .map(|s| s.trim().to_owned());
        } else if let Some(e) = detect_dbf_encoding(&dbf)? {
            open_options.push(format!("ENCODING={e}"));
            encoding = Some(e.to_owned());
            notes.push(FileNote {
                rule: "encoding_detected",
                severity: Severity::Warning,
                column: None,
                row: None,
                value: e.to_owned(),
                message_zh: format!("缺少 .cpg 文件，属性表编码按内容判定为 {e}"),
                message_en: format!("no .cpg file; DBF text detected as {e}"),
            });
        }
    }
    let oo: Vec<&str> = open_options.iter().map(String::as_str).collect();
    let ds = Dataset::open_ex(
        path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR,
            open_options: if oo.is_empty() { None } else { Some(&oo) },
            ..Default::default()
        },
    )
    .map_err(|e| match shapefile_counts.as_ref().filter(|c| !c.agree()) {
        // GDAL's own words name no place; the parts' counts do.
        Some(c) => Error::Corrupt {
            path: path.clone(),
            message: format!(
                "GDAL cannot open it, and its parts disagree: {} ({e})",
                parts_disagree(c).message_en
            ),
        },
        None => Error::VectorOpen {
            path: path.clone(),
            message: e.to_string(),
        },
    })?;
    let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
    let mut layer = match &input.layer {
        Some(l) => ds.layer_by_name(l).map_err(|_| Error::NoSuchLayer {
            path: path.clone(),
            layer: l.clone(),
            available: names.join(", "),
        })?,
        None => ds.layer(0).map_err(|_| Error::VectorOpen {
            path: path.clone(),
            message: "no layer".into(),
        })?,
    };
    let layer_name = layer.name();

    // Coordinate system.
    let mut target = SpatialRef::from_epsg(4490).map_err(|e| Error::Gdal {
        path: path.clone(),
        message: e.to_string(),
    })?;
    target.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut reproject = false;
    match layer.spatial_ref() {
        None => notes.push(FileNote {
            rule: "crs_missing",
            severity: Severity::Warning,
            column: None,
            row: None,
            value: String::new(),
            message_zh: "缺少坐标系（.prj），按 CGCS2000 读取".into(),
            message_en: "no coordinate system (.prj); read as CGCS2000".into(),
        }),
        Some(srs) => match is_cgcs2000(&srs) {
            Some(4490) => {}
            Some(4326) => notes.push(FileNote {
                rule: "crs_wgs84",
                severity: Severity::Warning,
                column: None,
                row: None,
                value: "EPSG:4326".into(),
                message_zh: "坐标系为 WGS84，与 CGCS2000 相差在厘米级，按 CGCS2000 使用".into(),
                message_en:
                    "coordinate system is WGS84, within centimetres of CGCS2000; used as CGCS2000"
                        .into(),
            }),
            other => {
                let found = match other {
                    Some(code) => format!("EPSG:{code}"),
                    None => srs
                        .name()
                        .unwrap_or_else(|| "an unidentified system".into()),
                };
                if !opts.reproject {
                    return Err(Error::Crs {
                        path: path.clone(),
                        found,
                    });
                }
                reproject = true;
                notes.push(FileNote {
                    rule: "crs_reprojected",
                    severity: Severity::Warning,
                    column: None,
                    row: None,
                    value: found.clone(),
                    message_zh: format!("坐标系为 {found}，已转换为 CGCS2000"),
                    message_en: format!("coordinate system {found} transformed to CGCS2000"),
                });
            }
        },
    }

    // Fields.
    let field_names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    let lookup = FieldNames::new(schema, &input.columns);
    let mut field_columns: Vec<Option<String>> = vec![None; schema.fields.len()];
    let mut field_of_col: Vec<Option<usize>> = Vec::with_capacity(field_names.len());
    let mut extra_columns = Vec::new();
    // Point layers carry longitude and latitude in their geometry, which wins over any attribute
    // copy of them.
    let point_fields: Option<(usize, usize)> = schema.rules.iter().find_map(|r| match r {
        Rule::PointInUnit { lon, lat, .. } => {
            Some((schema.field_index(lon)?, schema.field_index(lat)?))
        }
        _ => None,
    });
    let point_layer = layer.defn().geom_fields().next().is_some_and(|g| {
        gdal::vector::geometry_type_flatten(g.field_type())
            == gdal::vector::OGRwkbGeometryType::wkbPoint
    });
    // Fields the pipeline's column map names are taken by the mapped field, wherever it stands.
    let mapped: Vec<usize> = field_names
        .iter()
        .filter_map(|n| lookup.lookup_mapped(n))
        .collect();
    for name in &field_names {
        let k = lookup.lookup(name).filter(|&k| {
            field_columns[k].is_none()
                && (lookup.lookup_mapped(name).is_some() || !mapped.contains(&k))
        });
        let superseded =
            point_layer && point_fields.is_some_and(|(a, b)| k == Some(a) || k == Some(b));
        match k {
            Some(_) if superseded => {
                field_of_col.push(Some(SUPERSEDED));
                continue;
            }
            Some(k) => field_columns[k] = Some(name.clone()),
            None => {
                extra_columns.push((name.clone(), name.clone()));
                notes.push(FileNote::unknown_column(schema, name, name));
            }
        }
        field_of_col.push(k);
    }
    let fill_point = point_fields.filter(|(a, b)| {
        point_layer || (field_columns[*a].is_none() && field_columns[*b].is_none())
    });
    if let Some((a, b)) = fill_point {
        field_columns[a] = Some("geometry".into());
        field_columns[b] = Some("geometry".into());
        if !point_layer {
            notes.push(FileNote {
                rule: "lon_lat_from_geometry",
                severity: Severity::Warning,
                column: None,
                row: None,
                value: String::new(),
                message_zh:
                    "图层无经纬度列：经纬度取自每个图形的面内代表点（保证落在面内，非质心）".into(),
                message_en: "the layer has no longitude/latitude columns: each record is located \
                             by a representative point inside its shape (not the centroid)"
                    .into(),
            });
        }
    }
    let unmatched: Vec<String> = extra_columns.iter().map(|(t, _)| t.clone()).collect();
    if let Some(m) = crate::missing_required(schema, &field_columns, &unmatched) {
        return Err(Error::MissingFields {
            path: path.clone(),
            layer: layer_name,
            missing: Box::new(m),
            table: schema.code.clone(),
        });
    }

    let mut rows = Vec::with_capacity(layer.feature_count() as usize);
    for (k, feature) in layer.features().enumerate() {
        let mut cells = vec![RawCell::Empty; schema.fields.len()];
        let mut extra = Vec::with_capacity(extra_columns.len());
        for (c, target_field) in field_of_col.iter().enumerate() {
            let v = match feature.field(c) {
                Ok(Some(FieldValue::StringValue(s))) => RawCell::Text(s.into()),
                Ok(Some(FieldValue::IntegerValue(v))) => RawCell::Number(v as f64),
                Ok(Some(FieldValue::Integer64Value(v))) => RawCell::Number(v as f64),
                Ok(Some(FieldValue::RealValue(v))) => RawCell::Number(v),
                Ok(Some(FieldValue::DateValue(d))) => RawCell::Text(d.to_string().into()),
                Ok(Some(FieldValue::DateTimeValue(d))) => {
                    RawCell::Text(d.naive_local().to_string().into())
                }
                Ok(Some(other)) => RawCell::Text(format!("{other:?}").into()),
                Ok(None) => RawCell::Empty,
                Err(e) => RawCell::Error(e.to_string().into()),
            };
            match target_field {
                Some(SUPERSEDED) => {}
                Some(t) => cells[*t] = v,
                None => extra.push(v),
            }
        }
        let geometry = match feature.geometry() {
            None => None,
            Some(g) => {
                let g = if reproject {
                    g.transform_to(&target).map_err(|e| Error::Gdal {
                        path: path.clone(),
                        message: format!("feature {}: {e}", k + 1),
                    })?
                } else {
                    g.clone()
                };
                g.wkb().ok().map(Vec::into_boxed_slice)
            }
        };
        // A point layer's point, or a footprint's representative point: the location QC checks
        // and the published lon/lat.
        if let (Some((a, b)), Some(w)) = (fill_point, &geometry)
            && let Some((x, y)) = parse_wkb(w).ok().as_ref().and_then(representative_point)
        {
            cells[a] = RawCell::Number(x);
            cells[b] = RawCell::Number(y);
        }
        // A shapefile feature is named by its record number (GDAL's FID), so a record GDAL skips
        // does not shift the rows after it.
        let row = match (&shapefile_counts, feature.fid()) {
            (Some(_), Some(fid)) => u32::try_from(fid + 1).unwrap_or(u32::MAX),
            _ => k as u32 + 1,
        };
        rows.push(RawRow {
            file,
            row,
            cells,
            extra,
            geometry,
        });
    }
    let records_in_file = match &shapefile_counts {
        Some(c) => Some(c.held()),
        None => independent_count(&ds, path, &layer_name),
    };
    let mut source = SourceFile {
        path: input.display.clone(),
        sheet: layer_name,
        header_row: None,
        field_columns,
        extra_columns,
        encoding,
        notes,
        empty_rows_skipped: 0,
        records_in_file,
        records_excluded: 0,
    };
    if let Some(counts) = &shapefile_counts {
        exclude_deleted(&mut source, &mut rows, counts);
        if !counts.agree() {
            source.notes.push(parts_disagree(counts));
        }
    }
    source.check_conservation(rows.len());
    Ok((source, rows))
}

/// The features a GeoPackage or GeoJSON file holds, counted apart from the features GDAL returned:
/// SQL `COUNT(*)` over a GeoPackage table, a scan of a GeoJSON's `features` array.
fn independent_count(ds: &Dataset, path: &Path, layer: &str) -> Option<u64> {
    match extension(path).as_str() {
        "gpkg" => {
            let sql = format!("SELECT COUNT(*) FROM \"{}\"", layer.replace('"', "\"\""));
            let mut rs = ds
                .execute_sql(sql, None, gdal::vector::sql::Dialect::SQLITE)
                .ok()??;
            let n = rs.features().next()?.field_as_integer64(0).ok()??;
            u64::try_from(n).ok()
        }
        "geojson" | "json" => count::geojson_features(&std::fs::read(path).ok()?),
        _ => None,
    }
}

/// Deleted DBF records (flag `*`) are not records of the table: each is reported with its record
/// number and counted as excluded, whether or not GDAL returned it.
fn exclude_deleted(
    source: &mut SourceFile,
    rows: &mut Vec<RawRow>,
    counts: &crate::count::ShapefileCounts,
) {
    if counts.deleted.is_empty() {
        return;
    }
    let deleted: std::collections::BTreeSet<u32> = counts.deleted.iter().copied().collect();
    rows.retain(|r| !deleted.contains(&r.row));
    source.records_excluded += deleted.len() as u64;
    for &n in &deleted {
        source.notes.push(FileNote {
            rule: "deleted_record",
            severity: Severity::Warning,
            column: None,
            row: Some(n),
            value: "*".into(),
            message_zh: format!("属性表（.dbf）第 {n} 条记录带删除标记（*），按规则不读入"),
            message_en: format!(
                "DBF record {n} carries the deleted flag (*); excluded by rule, not read"
            ),
        });
    }
}

/// The three parts of a shapefile tell different record counts: a file-level error.
fn parts_disagree(c: &crate::count::ShapefileCounts) -> FileNote {
    let dbf = if c.dbf_declared == c.dbf_present {
        c.dbf_declared.to_string()
    } else {
        format!("{} (header says {})", c.dbf_present, c.dbf_declared)
    };
    let dbf_zh = if c.dbf_declared == c.dbf_present {
        c.dbf_declared.to_string()
    } else {
        format!("{}（文件头记为 {}）", c.dbf_present, c.dbf_declared)
    };
    FileNote {
        rule: "shapefile_parts_disagree",
        severity: Severity::Error,
        column: None,
        row: None,
        value: format!("shp {}, shx {}, dbf {dbf}", c.shp, c.shx),
        message_zh: format!(
            "矢量文件各部分记录数不一致：.shp {} 条、.shx {} 条、.dbf {dbf_zh} 条（文件可能被截断或拼接）",
            c.shp, c.shx
        ),
        message_en: format!(
            "the shapefile's parts disagree: .shp {} records, .shx {}, .dbf {dbf} (truncated or mixed files?)",
            c.shp, c.shx
        ),
    }
}
