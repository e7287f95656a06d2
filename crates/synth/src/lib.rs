#![doc = include_str!("../README.md")]

pub mod county;
pub mod defects;
pub mod forms;
pub use riskcensus_spatial::gcj02;
pub mod grid;
pub mod hazards;
pub mod names;
pub mod table;
pub mod tables;
pub mod template;
pub mod truth;
pub mod vector;
mod write;
pub mod xlsx;

use std::path::PathBuf;

pub use county::County;
pub use write::{HAND_WRITTEN, generate};

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Schema(#[from] riskcensus_schema::Error),
    #[error(
        "county {county} has no townships in the NBS 2023 list, so there is nothing to generate (hint: pick a county-level code from schemas/codes/divisions_nbs2023/areas.csv that has townships in streets.csv)"
    )]
    NoTownships { county: String },
    #[error("{message} (hint: {hint})")]
    BadOption { message: String, hint: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write spreadsheet {path}: {message}")]
    Xlsx { path: PathBuf, message: String },
    #[error(
        "GDAL cannot write {path}: {message} (hint: is Debian's libgdal-dev installed? run scripts/setup.sh)"
    )]
    Gdal { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Geometry of the optional vector copy of the buildings table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildingGeometry {
    /// Only the xlsx workbook.
    #[default]
    None,
    /// Also a point shapefile.
    Point,
    /// Also a shapefile of footprint polygons.
    Footprint,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// A real 6-digit county code from the NBS 2023 list.
    pub county: String,
    pub buildings: u64,
    pub seed: u64,
    /// Share of records given one defect, 0 to 1. Zero also gives clean sheet layouts.
    pub defect_rate: f64,
    pub building_geometry: BuildingGeometry,
    /// The census reference year (普查标准时点 2020-12-31).
    pub reference_year: i32,
    /// Also every other table a form exists for (hidden dangers, shelters, stores, rescue teams,
    /// venues, historical disasters), generated from its schema with one defect of each rule.
    pub all_tables: bool,
    pub out: PathBuf,
}

impl Options {
    pub fn new(county: impl Into<String>, out: impl Into<PathBuf>) -> Options {
        Options {
            county: county.into(),
            buildings: 2_000,
            seed: 7,
            defect_rate: 0.05,
            building_geometry: BuildingGeometry::None,
            reference_year: 2020,
            all_tables: false,
            out: out.into(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(1_000..=5_000_000).contains(&self.buildings) {
            return Err(Error::BadOption {
                message: format!("--buildings {} is out of range", self.buildings),
                hint: "give 1000 to 5000000".into(),
            });
        }
        if !(0.0..=0.5).contains(&self.defect_rate) {
            return Err(Error::BadOption {
                message: format!("--defect-rate {} is out of range", self.defect_rate),
                hint: "give a share from 0 to 0.5, e.g. 0.05 for 5%".into(),
            });
        }
        if !(1990..=2100).contains(&self.reference_year) {
            return Err(Error::BadOption {
                message: format!("reference year {} is implausible", self.reference_year),
                hint: "the census reference year is 2020".into(),
            });
        }
        Ok(())
    }
}

/// Progress of a long step, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub step: &'a str,
    pub done: u64,
    pub total: u64,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub county_code: String,
    pub county_name: String,
    pub townships: usize,
    /// Per table: code, files, rows.
    pub tables: Vec<(String, Vec<String>, u64)>,
    /// Defects written to `ground_truth.csv`.
    pub defects: u64,
}
