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
    use crate::count::Source;
    let io = |e: std::io::Error| Error::Gdal {
        path: dbf.to_owned(),
        message: e.to_string(),
    };
    // The header and the first records the guess looks at, not the whole file (600 MB at a
    // million buildings).
    let mut file = crate::count::FileWindow::open(dbf).map_err(io)?;
    let wanted = match file.get(0, 12) {
        Some(h) => {
            let header_len = u16::from_le_bytes([h[8], h[9]]) as usize;
            let record_len = u16::from_le_bytes([h[10], h[11]]) as usize;
            header_len + record_len * 5_000
        }
        None => 12,
    };
    let got = wanted.min(file.len());
    let bytes = file.get(0, got).unwrap_or_default().to_vec();
    if let Some(e) = file.error {
        return Err(io(e));
    }
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

/// Reads one vector file (a layer of it) as a census table: the shapefile's parts checked and
/// counted, the encoding settled, the coordinate system checked, the layer's fields matched to the
/// schema, then every feature as a raw row, counted against what the file holds.
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
    let parts = if extension(path) == "shp" {
        shapefile_parts(input, &mut notes)?
    } else {
        ShapefileParts::default()
    };
    let ds = open_dataset(path, &parts)?;
    let mut layer = select_layer(&ds, input)?;
    let layer_name = layer.name();
    let target = cgcs2000(path)?;
    let reproject = check_crs(&layer, path, opts, &mut notes)?;
    let fields = match_fields(schema, input, &layer, parts.gbk, &mut notes);
    let unmatched: Vec<String> = fields
        .extra_columns
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    if let Some(m) = crate::missing_required(schema, &fields.field_columns, &unmatched) {
        return Err(Error::MissingFields {
            path: path.clone(),
            layer: layer_name,
            missing: Box::new(m),
            table: schema.code.clone(),
        });
    }
    let reading = FeatureReading {
        path,
        file,
        fields: &fields,
        width: schema.fields.len(),
        reproject: reproject.then_some(&target),
        numbered_by_fid: parts.counts.is_some(),
        gbk: parts.gbk,
    };
    let mut rows = Vec::with_capacity(layer.feature_count() as usize);
    for (k, feature) in layer.features().enumerate() {
        rows.push(reading.row(k, &feature)?);
    }
    let records_in_file = match &parts.counts {
        Some(c) => Some(c.held()),
        None => independent_count(&ds, path, &layer_name),
    };
    let mut source = SourceFile {
        path: input.display.clone(),
        sheet: layer_name,
        header_row: None,
        field_columns: fields.field_columns,
        extra_columns: fields.extra_columns,
        encoding: parts.encoding,
        notes,
        empty_rows_skipped: 0,
        records_in_file,
        records_excluded: 0,
    };
    if let Some(counts) = &parts.counts {
        exclude_deleted(&mut source, &mut rows, counts);
        if !counts.agree() {
            source.notes.push(parts_disagree(counts));
        }
    }
    source.check_conservation(rows.len());
    Ok((source, rows))
}

/// What a shapefile's parts say before GDAL opens it: the record counts of `.shp`, `.shx` and
/// `.dbf`, GDAL's open options (the DBF encoding) and the encoding as recorded.
#[derive(Default)]
struct ShapefileParts {
    counts: Option<crate::count::ShapefileCounts>,
    open_options: Vec<String>,
    encoding: Option<String>,
    /// The DBF's text is GBK and is decoded here, not by GDAL (see [`gbk_by_latin1`]).
    gbk: bool,
}

/// DBF text in GBK (CP936), the encoding of most census shapefiles, is not recoded by GDAL: GDAL
/// opens an iconv converter for every value it recodes, which was more than half of reading a
/// million building footprints. It is read as ISO-8859-1 instead, which GDAL passes through
/// without iconv (one character per byte), and the bytes are decoded here as the csv reader
/// decodes GBK. The same text comes out.
fn gbk_by_latin1(encoding: &str) -> bool {
    let e = encoding.trim().to_ascii_uppercase();
    matches!(e.as_str(), "CP936" | "GBK" | "936" | "GB2312" | "ANSI 936")
}

/// Text GDAL read as ISO-8859-1 from a GBK DBF, decoded as GBK (GB18030, as the csv reader).
fn decode_gbk(latin1: &str) -> String {
    if latin1.is_ascii() {
        return latin1.to_owned();
    }
    // Every character is one byte of the file (ISO-8859-1 maps bytes to U+0000–U+00FF).
    let bytes: Vec<u8> = latin1.chars().map(|c| c as u32 as u8).collect();
    encoding_rs::GB18030
        .decode_without_bom_handling(&bytes)
        .0
        .into_owned()
}

/// Checks that the shapefile's `.shx` and `.dbf` are there, counts the records of each part, and
/// settles the DBF encoding: the pipeline's, else the `.cpg`'s, else detected from the text (with
/// an `encoding_detected` note).
fn shapefile_parts(input: &Input, notes: &mut Vec<FileNote>) -> Result<ShapefileParts> {
    let path = &input.path;
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
    let counts = count::shapefile(path, &shx, &dbf).map_err(|(path, message)| Error::Corrupt {
        path: path.into(),
        message,
    })?;
    let mut parts = ShapefileParts {
        counts: Some(counts),
        ..ShapefileParts::default()
    };
    // Whether GDAL must be told the encoding: it reads a `.cpg` itself.
    let mut tell_gdal = true;
    if let Some(e) = &input.encoding {
        parts.encoding = Some(gdal_encoding(path, e)?.to_owned());
    } else if let Some(cpg) = sibling(path, "cpg") {
        parts.encoding = std::fs::read_to_string(cpg)
            .ok()
            .map(|s| s.trim().to_owned());
        tell_gdal = false;
    } else if let Some(e) = detect_dbf_encoding(&dbf)? {
        parts.encoding = Some(e.to_owned());
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
    match parts.encoding.as_deref() {
        Some(e) if gbk_by_latin1(e) => {
            parts.open_options.push("ENCODING=ISO-8859-1".into());
            parts.gbk = true;
        }
        Some(e) if tell_gdal => parts.open_options.push(format!("ENCODING={e}")),
        _ => {}
    }
    Ok(parts)
}

/// GDAL's name of an encoding the pipeline gives for a DBF (GBK and its kin are CP936).
fn gdal_encoding(path: &Path, encoding: &str) -> Result<&'static str> {
    match encoding.to_ascii_uppercase().as_str() {
        "GBK" | "CP936" | "GB2312" | "GB18030" => Ok("CP936"),
        "UTF-8" | "UTF8" => Ok("UTF-8"),
        other => Err(Error::UnknownEncoding {
            path: path.to_owned(),
            encoding: other.to_owned(),
        }),
    }
}

/// Opens the file through GDAL; when it cannot and the shapefile's parts disagree, the error says
/// so (GDAL's own words name no place; the parts' counts do).
fn open_dataset(path: &Path, parts: &ShapefileParts) -> Result<Dataset> {
    let oo: Vec<&str> = parts.open_options.iter().map(String::as_str).collect();
    Dataset::open_ex(
        path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR,
            open_options: if oo.is_empty() { None } else { Some(&oo) },
            ..Default::default()
        },
    )
    .map_err(|e| match parts.counts.as_ref().filter(|c| !c.agree()) {
        Some(c) => Error::Corrupt {
            path: path.to_owned(),
            message: format!(
                "GDAL cannot open it, and its parts disagree: {} ({e})",
                parts_disagree(c).message_en
            ),
        },
        None => Error::VectorOpen {
            path: path.to_owned(),
            message: e.to_string(),
        },
    })
}

/// The layer the pipeline names, else the first; a missing one lists those the file has.
fn select_layer<'d>(ds: &'d Dataset, input: &Input) -> Result<gdal::vector::Layer<'d>> {
    let path = &input.path;
    let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
    match &input.layer {
        Some(l) => ds.layer_by_name(l).map_err(|_| Error::NoSuchLayer {
            path: path.clone(),
            layer: l.clone(),
            available: names.join(", "),
        }),
        None => ds.layer(0).map_err(|_| Error::VectorOpen {
            path: path.clone(),
            message: "no layer".into(),
        }),
    }
}

/// CGCS2000 (EPSG:4490), longitude first: what every geometry is read as.
fn cgcs2000(path: &Path) -> Result<SpatialRef> {
    let mut target = SpatialRef::from_epsg(4490).map_err(|e| Error::Gdal {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    target.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(target)
}

/// Checks the layer's coordinate system: CGCS2000 as is; none or WGS84 read as CGCS2000 with a
/// warning; any other an error, unless the pipeline asks to reproject. Returns whether to.
fn check_crs(
    layer: &gdal::vector::Layer,
    path: &Path,
    opts: VectorOptions,
    notes: &mut Vec<FileNote>,
) -> Result<bool> {
    let Some(srs) = layer.spatial_ref() else {
        notes.push(FileNote {
            rule: "crs_missing",
            severity: Severity::Warning,
            column: None,
            row: None,
            value: String::new(),
            message_zh: "缺少坐标系（.prj），按 CGCS2000 读取".into(),
            message_en: "no coordinate system (.prj); read as CGCS2000".into(),
        });
        return Ok(false);
    };
    let found = match is_cgcs2000(&srs) {
        Some(4490) => return Ok(false),
        Some(4326) => {
            notes.push(FileNote {
                rule: "crs_wgs84",
                severity: Severity::Warning,
                column: None,
                row: None,
                value: "EPSG:4326".into(),
                message_zh: "坐标系为 WGS84，与 CGCS2000 相差在厘米级，按 CGCS2000 使用".into(),
                message_en:
                    "coordinate system is WGS84, within centimetres of CGCS2000; used as CGCS2000"
                        .into(),
            });
            return Ok(false);
        }
        Some(code) => format!("EPSG:{code}"),
        None => srs
            .name()
            .unwrap_or_else(|| "an unidentified system".into()),
    };
    if !opts.reproject {
        return Err(Error::Crs {
            path: path.to_owned(),
            found,
        });
    }
    notes.push(FileNote {
        rule: "crs_reprojected",
        severity: Severity::Warning,
        column: None,
        row: None,
        value: found.clone(),
        message_zh: format!("坐标系为 {found}，已转换为 CGCS2000"),
        message_en: format!("coordinate system {found} transformed to CGCS2000"),
    });
    Ok(true)
}

/// How the layer's fields map to the schema's.
struct FieldMap {
    /// Per schema field, the layer field it is read from (`geometry` for a point's coordinates).
    field_columns: Vec<Option<String>>,
    /// Per layer field, the schema field it fills ([`SUPERSEDED`] when the geometry wins; `None`
    /// for an extra column).
    field_of_col: Vec<Option<usize>>,
    /// Layer fields no schema field takes (header, column).
    extra_columns: Vec<(String, String)>,
    /// The longitude and latitude fields filled from each feature's geometry.
    fill_point: Option<(usize, usize)>,
}

/// Matches the layer's fields to the schema (the pipeline's column map first), noting unknown
/// columns, and decides which fields the geometry fills: a point layer's coordinates always win
/// over attribute copies; a polygon layer without longitude/latitude columns gets a point inside
/// each shape (noted `lon_lat_from_geometry`).
fn match_fields(
    schema: &TableSchema,
    input: &Input,
    layer: &gdal::vector::Layer,
    gbk: bool,
    notes: &mut Vec<FileNote>,
) -> FieldMap {
    let field_names: Vec<String> = layer
        .defn()
        .fields()
        .map(|f| if gbk { decode_gbk(&f.name()) } else { f.name() })
        .collect();
    let lookup = FieldNames::new(schema, &input.columns);
    let mut field_columns: Vec<Option<String>> = vec![None; schema.fields.len()];
    let mut field_of_col: Vec<Option<usize>> = Vec::with_capacity(field_names.len());
    let mut extra_columns = Vec::new();
    let point_fields = lon_lat_fields(schema);
    let point_layer = is_point_layer(layer);
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
            notes.push(lon_lat_from_geometry());
        }
    }
    FieldMap {
        field_columns,
        field_of_col,
        extra_columns,
        fill_point,
    }
}

/// The schema's longitude and latitude fields (those its point-in-unit rule checks).
fn lon_lat_fields(schema: &TableSchema) -> Option<(usize, usize)> {
    schema.rules.iter().find_map(|r| match r {
        Rule::PointInUnit { lon, lat, .. } => {
            Some((schema.field_index(lon)?, schema.field_index(lat)?))
        }
        _ => None,
    })
}

/// Whether the layer's geometry is points: they carry longitude and latitude themselves.
fn is_point_layer(layer: &gdal::vector::Layer) -> bool {
    layer.defn().geom_fields().next().is_some_and(|g| {
        gdal::vector::geometry_type_flatten(g.field_type())
            == gdal::vector::OGRwkbGeometryType::wkbPoint
    })
}

/// The note that longitude and latitude come from a point inside each shape.
fn lon_lat_from_geometry() -> FileNote {
    FileNote {
        rule: "lon_lat_from_geometry",
        severity: Severity::Warning,
        column: None,
        row: None,
        value: String::new(),
        message_zh: "图层无经纬度列：经纬度取自每个图形的面内代表点（保证落在面内，非质心）".into(),
        message_en: "the layer has no longitude/latitude columns: each record is located \
                     by a representative point inside its shape (not the centroid)"
            .into(),
    }
}

/// How each feature becomes a raw row.
struct FeatureReading<'a> {
    path: &'a Path,
    file: u16,
    fields: &'a FieldMap,
    /// Fields in the schema.
    width: usize,
    /// The system to transform each geometry to, when the layer is in another.
    reproject: Option<&'a SpatialRef>,
    /// A shapefile's features are numbered by their record (GDAL's FID + 1).
    numbered_by_fid: bool,
    /// Text fields come as ISO-8859-1 and are decoded as GBK here.
    gbk: bool,
}

impl FeatureReading<'_> {
    /// Feature `k` (0-based, in GDAL's order) as a raw row: its fields into the schema's cells or
    /// the extra columns, its geometry as WKB, the longitude and latitude filled from it.
    fn row(&self, k: usize, feature: &gdal::vector::Feature) -> Result<RawRow> {
        let mut cells = vec![RawCell::Empty; self.width];
        let mut extra = Vec::with_capacity(self.fields.extra_columns.len());
        for (c, target_field) in self.fields.field_of_col.iter().enumerate() {
            let mut v = if has_value(feature, c) {
                raw_cell(feature.field(c))
            } else {
                RawCell::Empty
            };
            if self.gbk
                && let RawCell::Text(t) = &v
                && !t.is_ascii()
            {
                v = RawCell::Text(decode_gbk(t).into());
            }
            match target_field {
                Some(SUPERSEDED) => {}
                Some(t) => cells[*t] = v,
                None => extra.push(v),
            }
        }
        let geometry = self.geometry(k, feature)?;
        // A point layer's point, or a footprint's representative point: the location QC checks
        // and the published lon/lat.
        if let (Some((a, b)), Some(w)) = (self.fields.fill_point, &geometry)
            && let Some((x, y)) = parse_wkb(w).ok().as_ref().and_then(representative_point)
        {
            cells[a] = RawCell::Number(x);
            cells[b] = RawCell::Number(y);
        }
        // A shapefile feature is named by its record number (GDAL's FID), so a record GDAL skips
        // does not shift the rows after it.
        let row = match (self.numbered_by_fid, feature.fid()) {
            (true, Some(fid)) => u32::try_from(fid + 1).unwrap_or(u32::MAX),
            _ => k as u32 + 1,
        };
        Ok(RawRow {
            file: self.file,
            row,
            cells: cells.into(),
            extra: extra.into(),
            geometry,
        })
    }

    /// The feature's geometry as WKB, transformed to CGCS2000 when the layer is in another system.
    fn geometry(&self, k: usize, feature: &gdal::vector::Feature) -> Result<Option<Box<[u8]>>> {
        let Some(g) = feature.geometry() else {
            return Ok(None);
        };
        // Exported as it is unless it must be transformed: no copy of the geometry per feature.
        let wkb = match self.reproject {
            Some(target) => g
                .transform_to(target)
                .map_err(|e| Error::Gdal {
                    path: self.path.to_owned(),
                    message: format!("feature {}: {e}", k + 1),
                })?
                .wkb(),
            None => g.wkb(),
        };
        Ok(wkb.ok().map(Vec::into_boxed_slice))
    }
}

/// Whether field `c` of a feature holds a value. GDAL tells an unset field (a GeoJSON feature
/// without the property) from a null one, and the gdal crate checks only for null: it reads an
/// unset number as 0 (absent heights were rejected as "0 out of range") and an unset list through a
/// null pointer (an abort in a debug build). An absent value is empty, never zero.
fn has_value(feature: &gdal::vector::Feature, c: usize) -> bool {
    let Ok(i) = i32::try_from(c) else {
        return false;
    };
    // SAFETY: the handle is the feature's own, alive for the borrow, and `c` is one of its
    // fields (checked against its count), as OGR_F_IsFieldSetAndNotNull requires.
    c < feature.field_count()
        && unsafe { gdal_sys::OGR_F_IsFieldSetAndNotNull(feature.c_feature(), i) != 0 }
}

/// One attribute value as read: text, a number, a date as text; a value GDAL cannot read is an
/// error cell.
fn raw_cell(value: gdal::errors::Result<Option<FieldValue>>) -> RawCell {
    match value {
        Ok(Some(FieldValue::StringValue(s))) => RawCell::Text(s.into()),
        Ok(Some(FieldValue::IntegerValue(v))) => RawCell::Number(v as f64),
        Ok(Some(FieldValue::Integer64Value(v))) => RawCell::Number(v as f64),
        Ok(Some(FieldValue::RealValue(v))) => RawCell::Number(v),
        Ok(Some(FieldValue::DateValue(d))) => RawCell::Text(d.to_string().into()),
        Ok(Some(FieldValue::DateTimeValue(d))) => RawCell::Text(d.naive_local().to_string().into()),
        Ok(Some(other)) => RawCell::Text(format!("{other:?}").into()),
        Ok(None) => RawCell::Empty,
        Err(e) => RawCell::Error(e.to_string().into()),
    }
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
