//! Vector files through GDAL.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{FieldValue, LayerAccess};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use riskcensus_schema::{Rule, Severity, TableSchema};
use riskcensus_spatial::{Geom, parse_wkb};

use crate::header::FieldNames;
use crate::{
    Error, FileNote, Input, RawCell, RawRow, Result, SourceFile, VectorOptions, extension,
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
    for r in 0..records.min(5_000) {
        let start = header_len + r * record_len;
        for &(o, len) in &fields {
            let Some(v) = bytes.get(start + o..start + o + len) else {
                return Err(corrupt());
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
    .map_err(|e| Error::VectorOpen {
        path: path.clone(),
        message: e.to_string(),
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
    let lookup = FieldNames::new(schema);
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
    for name in &field_names {
        let k = lookup.lookup(name).filter(|&k| field_columns[k].is_none());
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
    }
    if let Some(missing) = crate::missing_required(schema, &field_columns) {
        return Err(Error::MissingColumns {
            path: path.clone(),
            sheet: layer_name,
            row: 0,
            missing,
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
        if let (Some((a, b)), Some(w)) = (fill_point, &geometry)
            && let Ok(Geom::Point(p)) = parse_wkb(w)
        {
            cells[a] = RawCell::Number(p.x());
            cells[b] = RawCell::Number(p.y());
        }
        rows.push(RawRow {
            file,
            row: k as u32 + 1,
            cells,
            extra,
            geometry,
        });
    }
    let source = SourceFile {
        path: input.display.clone(),
        sheet: layer_name,
        header_row: None,
        field_columns,
        extra_columns,
        encoding,
        notes,
        empty_rows_skipped: 0,
        records_in_file: None,
        records_excluded: 0,
    };
    Ok((source, rows))
}
