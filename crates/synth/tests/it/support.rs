use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use gdal::Dataset;
use gdal::vector::LayerAccess;
use riskcensus_synth::{BuildingGeometry, Options};
use tempfile::TempDir;

pub fn generate(
    county: &str,
    buildings: u64,
    seed: u64,
    defect_rate: f64,
    geometry: BuildingGeometry,
) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(county, dir.path());
    opts.buildings = buildings;
    opts.seed = seed;
    opts.defect_rate = defect_rate;
    opts.building_geometry = geometry;
    riskcensus_synth::generate(&opts, &mut |_| {}).unwrap();
    dir
}

pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A sheet as read by calamine: header labels, and data rows with their Excel row numbers.
pub struct Sheet {
    /// Excel row number of the field-label header row.
    pub header_row: u32,
    pub labels: Vec<String>,
    pub rows: Vec<(u32, Vec<Data>)>,
}

pub fn read_xlsx(path: &Path) -> Sheet {
    let mut wb = open_workbook_auto(path).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let start = range.start().unwrap_or((0, 0)).0;
    let all: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    // The field-label row is the first row whose cells are all non-empty strings.
    let h = all
        .iter()
        .position(|r| {
            r.iter()
                .all(|c| matches!(c, Data::String(s) if !s.is_empty()))
        })
        .unwrap();
    let labels = all[h].iter().map(|c| c.to_string()).collect();
    let rows = all
        .into_iter()
        .enumerate()
        .skip(h + 1)
        .map(|(k, r)| (start + k as u32 + 1, r))
        .collect();
    Sheet {
        header_row: start + h as u32 + 1,
        labels,
        rows,
    }
}

pub fn count_records(path: &Path) -> u64 {
    if path.extension().is_some_and(|e| e == "xlsx") {
        read_xlsx(path).rows.len() as u64
    } else {
        let ds = Dataset::open(path).unwrap();
        ds.layer(0).unwrap().feature_count()
    }
}
