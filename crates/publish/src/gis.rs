//! The graded units as a GIS layer: a GeoPackage, and a shapefile (GBK, `.cpg`, field names of at
//! most 10 characters) for offices that need one. Written through GDAL, under temporary names.

use std::collections::BTreeMap;
use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{
    Feature, FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use polars::prelude::*;

use crate::{Error, Result};

fn gerr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Report(format!("cannot write {}: {e}", path.display()))
}

/// Shapefile field names: at most 10 characters, unique. `earthquake_score` → `earthq_sco`.
pub fn short_names(columns: &[String]) -> Vec<String> {
    let mut used = std::collections::BTreeSet::new();
    columns
        .iter()
        .map(|c| {
            let mut base: String = if c.len() <= 10 {
                c.clone()
            } else {
                match c.rsplit_once('_') {
                    Some((head, tail)) => {
                        let t: String = tail.chars().take(3).collect();
                        let h: String = head.chars().take(10 - 1 - t.len()).collect();
                        format!("{h}_{t}")
                    }
                    None => c.chars().take(10).collect(),
                }
            };
            let mut k = 1;
            while !used.insert(base.clone()) {
                let suffix = k.to_string();
                base = format!(
                    "{}{suffix}",
                    base.chars().take(10 - suffix.len()).collect::<String>()
                );
                k += 1;
            }
            base
        })
        .collect()
}

/// Writes `unit_risk.gpkg` and `unit_risk.shp` into `dir`: one polygon a unit with its scores and grades.
pub fn write_units(dir: &Path, risk: &DataFrame, shapes: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    riskcensus_spatial::quiet_gdal();
    // GeoPackages record when they were written; a fixed date keeps the same inputs giving the
    // same bytes.
    gdal::config::set_config_option("OGR_CURRENT_DATE", "2021-06-30T00:00:00Z")
        .map_err(|e| gerr(dir, e))?;
    std::fs::create_dir_all(dir).map_err(|e| gerr(dir, e))?;
    let keep = map_columns(risk);
    let layer = Layer {
        risk,
        shapes,
        codes: crate::text_column(risk, "unit_code")?,
        keep: &keep,
    };
    for (driver, file, names) in [
        ("GPKG", "unit_risk.gpkg", keep.clone()),
        ("ESRI Shapefile", "unit_risk.shp", short_names(&keep)),
    ] {
        let path = dir.join(file);
        let tmp_dir = dir.join(format!(".gis-tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp_dir);
        std::fs::create_dir_all(&tmp_dir).map_err(|e| gerr(&tmp_dir, e))?;
        // GDAL closes the files when `write` returns.
        layer.write(driver, &tmp_dir.join(file), &names, &path)?;
        move_into_place(&tmp_dir, dir, &path)?;
    }
    Ok(())
}

/// The columns worth a map: identity, scores, grades, colours, the reason for no rating.
fn map_columns(risk: &DataFrame) -> Vec<String> {
    risk.get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| {
            c == "unit_code"
                || c == "unit_name"
                || c.ends_with("_score")
                || c.ends_with("_grade")
                || c.ends_with("_color")
                || c == "no_rating_reason"
        })
        .collect()
}

/// The graded units as one GIS layer writes them.
struct Layer<'a> {
    risk: &'a DataFrame,
    shapes: &'a BTreeMap<String, Vec<u8>>,
    /// The unit code of each row of `risk`.
    codes: Vec<String>,
    /// The columns of `risk` the layer carries.
    keep: &'a [String],
}

impl Layer<'_> {
    /// Writes the layer with `driver` to `tmp`, its fields called `names`; errors name `path`, the
    /// file the caller will move it to.
    fn write(&self, driver: &str, tmp: &Path, names: &[String], path: &Path) -> Result<()> {
        let drv = gdal::DriverManager::get_driver_by_name(driver).map_err(|e| gerr(path, e))?;
        let mut ds = drv.create_vector_only(tmp).map_err(|e| gerr(path, e))?;
        let mut srs = SpatialRef::from_epsg(4490).map_err(|e| gerr(path, e))?;
        srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let options: &[&str] = if driver == "GPKG" {
            &[]
        } else {
            &["ENCODING=CP936", "DBF_DATE_LAST_UPDATE=2021-06-30"]
        };
        let layer = ds
            .create_layer(LayerOptions {
                name: "unit_risk",
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbPolygon,
                options: Some(options),
            })
            .map_err(|e| gerr(path, e))?;
        self.add_fields(&layer, names, path)?;
        for (row, code) in self.codes.iter().enumerate() {
            self.add_feature(&layer, row, code, path)?;
        }
        Ok(())
    }

    /// One field per kept column: scores as reals, the rest as text wide enough for it.
    fn add_fields(&self, layer: &gdal::vector::Layer, names: &[String], path: &Path) -> Result<()> {
        for (c, name) in self.keep.iter().zip(names) {
            let ty = if c.ends_with("_score") {
                OGRFieldType::OFTReal
            } else {
                OGRFieldType::OFTString
            };
            let f = FieldDefn::new(name, ty).map_err(|e| gerr(path, e))?;
            if ty == OGRFieldType::OFTString {
                f.set_width(if c == "no_rating_reason" { 200 } else { 60 });
            }
            f.add_to_layer(layer).map_err(|e| gerr(path, e))?;
        }
        Ok(())
    }

    /// The feature of unit `row`: its kept values and its polygon.
    fn add_feature(
        &self,
        layer: &gdal::vector::Layer,
        row: usize,
        code: &str,
        path: &Path,
    ) -> Result<()> {
        let mut feature = Feature::new(layer.defn()).map_err(|e| gerr(path, e))?;
        for (k, c) in self.keep.iter().enumerate() {
            let col = self.risk.column(c)?;
            match col.dtype() {
                DataType::Float64 => {
                    if let Some(v) = col.f64()?.get(row) {
                        feature.set_field_double(k, v).map_err(|e| gerr(path, e))?;
                    }
                }
                _ => {
                    if let Some(v) = col.str()?.get(row) {
                        feature.set_field_string(k, v).map_err(|e| gerr(path, e))?;
                    }
                }
            }
        }
        if let Some(wkb) = self.shapes.get(code) {
            let g = Geometry::from_wkb(wkb).map_err(|e| gerr(path, e))?;
            feature.set_geometry(g).map_err(|e| gerr(path, e))?;
        }
        feature.create(layer).map_err(|e| gerr(path, e))
    }
}

/// Moves every file GDAL wrote in `tmp_dir` into `dir` (only whole files, GDAL has closed them),
/// then removes `tmp_dir`.
fn move_into_place(tmp_dir: &Path, dir: &Path, path: &Path) -> Result<()> {
    for entry in std::fs::read_dir(tmp_dir).map_err(|e| gerr(tmp_dir, e))? {
        let entry = entry.map_err(|e| gerr(tmp_dir, e))?;
        std::fs::rename(entry.path(), dir.join(entry.file_name())).map_err(|e| gerr(path, e))?;
    }
    std::fs::remove_dir_all(tmp_dir).map_err(|e| gerr(tmp_dir, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapefile_names_fit_in_ten_characters() {
        let cols: Vec<String> = [
            "unit_code",
            "earthquake_score",
            "earthquake_grade",
            "forest_fire_score",
            "composite_score",
            "composite_color",
            "no_rating_reason",
        ]
        .map(String::from)
        .to_vec();
        let s = super::short_names(&cols);
        assert!(s.iter().all(|n| n.len() <= 10), "{s:?}");
        let unique: std::collections::BTreeSet<_> = s.iter().collect();
        assert_eq!(unique.len(), s.len(), "{s:?}");
        assert_eq!(s[0], "unit_code");
    }
}
