//! Vector files through GDAL: shapefiles with a GBK (CP936) DBF and its `.cpg`, in CGCS2000.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{
    Feature, FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::{Dataset, DriverManager};

use crate::table::{Cell, Kind, TableSpec};
use crate::{Error, Result};

/// CGCS2000 geographic coordinates.
pub const EPSG_CGCS2000: u32 = 4490;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeomKind {
    Point,
    Polygon,
}

/// A shapefile being written feature by feature.
pub struct ShapeWriter {
    dataset: Dataset,
    path: PathBuf,
    kinds: Vec<Kind>,
    count: u64,
}

impl ShapeWriter {
    pub fn create(path: &Path, spec: &TableSpec, geom: GeomKind) -> Result<ShapeWriter> {
        route_gdal_messages();
        let err = |e: gdal::errors::GdalError| Error::Gdal {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let driver = DriverManager::get_driver_by_name("ESRI Shapefile").map_err(err)?;
        let mut dataset = driver.create_vector_only(path).map_err(err)?;
        let mut srs = SpatialRef::from_epsg(EPSG_CGCS2000).map_err(err)?;
        srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("layer");
        let layer = dataset
            .create_layer(LayerOptions {
                name: stem,
                srs: Some(&srs),
                ty: match geom {
                    GeomKind::Point => OGRwkbGeometryType::wkbPoint,
                    GeomKind::Polygon => OGRwkbGeometryType::wkbPolygon,
                },
                // GDAL recodes our UTF-8 to GBK and writes the `.cpg`.
                // A fixed DBF date: the same inputs must give the same bytes on any day.
                options: Some(&["ENCODING=CP936", "DBF_DATE_LAST_UPDATE=2021-06-30"]),
            })
            .map_err(err)?;
        for c in &spec.columns {
            let (ty, width, precision) = match c.kind {
                Kind::Text => (OGRFieldType::OFTString, dbf_width(&c.code), 0),
                Kind::Date => (OGRFieldType::OFTString, 10, 0),
                Kind::Int => (OGRFieldType::OFTInteger64, 12, 0),
                Kind::Float => (OGRFieldType::OFTReal, 18, 6),
            };
            let field = FieldDefn::new(&c.code, ty).map_err(err)?;
            field.set_width(width);
            if precision > 0 {
                field.set_precision(precision);
            }
            field.add_to_layer(&layer).map_err(err)?;
        }
        Ok(ShapeWriter {
            dataset,
            path: path.to_owned(),
            kinds: spec.columns.iter().map(|c| c.kind).collect(),
            count: 0,
        })
    }

    /// Writes one feature from its WKB geometry and cells; returns its 1-based index.
    pub fn write(&mut self, wkb: &[u8], cells: &[Cell]) -> Result<u64> {
        let path = &self.path;
        let err = |e: gdal::errors::GdalError| Error::Gdal {
            path: path.clone(),
            message: e.to_string(),
        };
        let layer = self.dataset.layer(0).map_err(err)?;
        let mut feature = Feature::new(layer.defn()).map_err(err)?;
        for (k, cell) in cells.iter().enumerate() {
            match (cell, self.kinds[k]) {
                (Cell::Empty, _) => Ok(()),
                (Cell::Text(s) | Cell::NumText(s), _) if s.is_empty() => Ok(()),
                (Cell::Text(s) | Cell::NumText(s), _) => feature.set_field_string(k, s),
                (Cell::Int(v), _) => feature.set_field_integer64(k, *v),
                (Cell::Num(v), _) => feature.set_field_double(k, *v),
                (Cell::Date(v) | Cell::Serial(v), _) => {
                    feature.set_field_string(k, &serial_to_iso(*v))
                }
            }
            .map_err(err)?;
        }
        feature
            .set_geometry(Geometry::from_wkb(wkb).map_err(err)?)
            .map_err(err)?;
        feature.create(&layer).map_err(err)?;
        self.count += 1;
        Ok(self.count)
    }

    pub fn finish(self) -> Result<u64> {
        // Dropping the dataset flushes and closes the files.
        let count = self.count;
        drop(self.dataset);
        Ok(count)
    }
}

/// DBF text width in bytes (GBK: two a character). DBF rows are fixed-width, so generous widths cost
/// gigabytes at a million rows; these fit what the generator writes.
fn dbf_width(code: &str) -> i32 {
    match code {
        "dz" | "jzmc" | "dlwz" | "yhdmc" | "xxjgmc" | "ylwsjgmc" | "xzjdmc" | "tbdw" => 120,
        c if c.ends_with("dm") || c.ends_with("bh") || c == "xzqhgs" || c == "qgtyshxydm" => 24,
        _ => 40,
    }
}

/// Sends GDAL's own messages (e.g. GEOS validity notes) to the log instead of raw stderr.
pub fn route_gdal_messages() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gdal::config::set_error_handler(|class, number, message| {
            tracing::debug!(target: "gdal", ?class, number, "{message}");
        });
    });
}

/// `yyyy-mm-dd` of an Excel serial day number.
pub fn serial_to_iso(serial: f64) -> String {
    // Civil-from-days (Howard Hinnant), from 1970-01-01 = serial 25569.
    let z = serial.floor() as i64 - 25569 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// WKB (little-endian) of a point.
pub fn wkb_point(p: (f64, f64)) -> Vec<u8> {
    let mut out = Vec::with_capacity(21);
    out.push(1);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&p.0.to_le_bytes());
    out.extend_from_slice(&p.1.to_le_bytes());
    out
}

/// WKB (little-endian) of a polygon from closed rings (shell first).
pub fn wkb_polygon(rings: &[Vec<(f64, f64)>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + rings.iter().map(|r| 4 + 16 * r.len()).sum::<usize>());
    out.push(1);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(rings.len() as u32).to_le_bytes());
    for ring in rings {
        out.extend_from_slice(&(ring.len() as u32).to_le_bytes());
        for p in ring {
            out.extend_from_slice(&p.0.to_le_bytes());
            out.extend_from_slice(&p.1.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_dates() {
        assert_eq!(serial_to_iso(44136.0), "2020-11-01");
        assert_eq!(serial_to_iso(61.0), "1900-03-01");
    }
}
