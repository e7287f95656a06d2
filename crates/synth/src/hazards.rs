//! Hazard-zone polygons: classes of a smooth field over the county grid, one polygon per connected
//! patch of a class.

use crate::county::County;
use crate::grid::{Grid, Noise, OUTSIDE, splitmix};
use crate::table::{Column, Kind, Roles, TableSpec};

/// One hazard layer the generator writes.
#[derive(Debug, Clone, Copy)]
pub struct HazardLayer {
    /// Table code and file stem.
    pub code: &'static str,
    pub hazard_zh: &'static str,
    pub hazard_en: &'static str,
    /// Class values and their names, lowest danger first.
    pub classes: &'static [(i64, &'static str)],
    /// Share of the county with no zone at all (flooding only reaches low ground).
    pub uncovered: f64,
}

pub const LAYERS: &[HazardLayer] = &[
    HazardLayer {
        code: "hz_earthquake",
        hazard_zh: "地震",
        hazard_en: "earthquake",
        classes: &[(6, "Ⅵ度"), (7, "Ⅶ度"), (8, "Ⅷ度"), (9, "Ⅸ度")],
        uncovered: 0.0,
    },
    HazardLayer {
        code: "hz_flood",
        hazard_zh: "洪水",
        hazard_en: "flood",
        classes: &[(1, "<0.5米"), (2, "0.5–1.5米"), (3, "1.5–3米"), (4, ">3米")],
        uncovered: 0.7,
    },
    HazardLayer {
        code: "hz_landslide",
        hazard_zh: "滑坡",
        hazard_en: "landslide",
        classes: &[(1, "低易发"), (2, "中易发"), (3, "高易发"), (4, "极高易发")],
        uncovered: 0.0,
    },
    HazardLayer {
        code: "hz_forest_fire",
        hazard_zh: "森林火灾",
        hazard_en: "forest_fire",
        classes: &[
            (1, "Ⅰ级（低）"),
            (2, "Ⅱ级（中）"),
            (3, "Ⅲ级（高）"),
            (4, "Ⅳ级（极高）"),
        ],
        uncovered: 0.0,
    },
];

pub fn spec(layer: &HazardLayer) -> TableSpec {
    let c = |code: &str, label: &str, kind| Column {
        code: code.into(),
        label: label.into(),
        group: "风险区".into(),
        kind,
    };
    TableSpec {
        code: layer.code.into(),
        name_zh: format!("{}危险性分区", layer.hazard_zh),
        file_stem: layer.code.into(),
        sheet: layer.code.into(),
        columns: vec![
            c("bh", "编号", Kind::Text),
            c("zhlx", "灾害类型", Kind::Text),
            c("dj", "等级", Kind::Int),
            c("djmc", "等级名称", Kind::Text),
            c("mj", "面积（平方千米）", Kind::Float),
        ],
        roles: Roles::default(),
    }
}

/// The class grid of a layer: class index + 1 per cell (0-based index into `classes`), `OUTSIDE`
/// where the layer has no zone.
pub fn class_grid(county: &County, layer_index: usize, seed: u64) -> Grid {
    let layer = &LAYERS[layer_index];
    let g = &county.grid;
    let mut out = Grid::new(g.cols, g.rows, g.x0, g.y0, g.cell);
    let s = splitmix(seed ^ (0x4A2A + layer_index as u64));
    let noise = Noise::new(s, g.cols as f64 / 4.0);
    let angle = (splitmix(s) % 360) as f64 * std::f64::consts::PI / 180.0;
    let field = |i: usize, j: usize| -> f64 {
        let (x, y) = (i as f64 + 0.5, j as f64 + 0.5);
        let n = noise.fractal(x, y);
        if layer_index == 0 {
            // Intensity falls off away from a fault: a gradient plus a little noise.
            let t = (x * angle.cos() + y * angle.sin()) / g.cols as f64;
            t + 0.25 * n
        } else {
            n
        }
    };
    let mut values: Vec<(usize, f64)> = Vec::new();
    for j in 0..g.rows {
        for i in 0..g.cols {
            if g.get(i, j) != OUTSIDE {
                values.push((j * g.cols + i, field(i, j)));
            }
        }
    }
    if values.is_empty() {
        return out;
    }
    let mut sorted: Vec<f64> = values.iter().map(|v| v.1).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
    let lo = q(layer.uncovered);
    let hi = q(1.0);
    let n = layer.classes.len() as f64;
    for (k, v) in values {
        if v < lo {
            continue;
        }
        let c = (((v - lo) / (hi - lo).max(1e-12)) * n).floor().min(n - 1.0) as u32;
        out.labels[k] = c;
    }
    for _ in 0..20 {
        if out.remove_pinches() == 0 {
            break;
        }
    }
    out
}
