//! The synthetic county: real township codes and names, a plausible location, township polygons that
//! tile the county, synthetic villages, and the hazard fields.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use riskcensus_schema::Registry;

use crate::grid::{Grid, Noise, OUTSIDE, splitmix};
use crate::names;
use crate::{Error, Result};

/// Cell size of the county grid, in degrees (about 250 m).
pub const CELL_DEG: f64 = 0.0025;
/// Cells per township on average: about 55 km² a township.
const CELLS_PER_TOWNSHIP: f64 = 900.0;

/// Approximate centres (the provincial capitals) and spreads of the provinces, in degrees. The shipped
/// division list has no coordinates; this places a county plausibly, not exactly.
const PROVINCE_CENTRES: &[(&str, f64, f64, f64)] = &[
    ("11", 116.40, 39.90, 0.3),
    ("12", 117.20, 39.10, 0.3),
    ("13", 114.50, 38.00, 1.5),
    ("14", 112.50, 37.90, 1.5),
    ("15", 111.70, 40.80, 3.0),
    ("21", 123.40, 41.80, 1.5),
    ("22", 125.30, 43.90, 1.5),
    ("23", 126.60, 45.80, 2.0),
    ("31", 121.50, 31.20, 0.2),
    ("32", 118.80, 32.10, 1.2),
    ("33", 120.20, 30.30, 1.0),
    ("34", 117.30, 31.90, 1.2),
    ("35", 119.30, 26.10, 1.2),
    ("36", 115.90, 28.70, 1.5),
    ("37", 117.00, 36.70, 1.5),
    ("41", 113.70, 34.80, 1.5),
    ("42", 114.30, 30.60, 1.5),
    ("43", 113.00, 28.20, 1.5),
    ("44", 113.30, 23.10, 1.5),
    ("45", 108.30, 22.80, 1.5),
    ("46", 110.30, 20.00, 0.5),
    ("50", 106.50, 29.60, 1.0),
    ("51", 104.10, 30.70, 2.0),
    ("52", 106.70, 26.60, 1.2),
    ("53", 102.70, 25.00, 2.0),
    ("54", 91.10, 29.60, 3.0),
    ("61", 108.90, 34.30, 1.5),
    ("62", 103.80, 36.10, 2.0),
    ("63", 101.80, 36.60, 2.5),
    ("64", 106.30, 38.50, 0.8),
    ("65", 87.60, 43.80, 4.0),
];

/// What kind of township a code segment says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TownshipKind {
    /// 街道 (000–099): urban.
    Subdistrict,
    /// 镇 (100–199).
    Town,
    /// 乡 (200–299).
    Township,
    /// 林场, 农场, 园区 and the like (400–599).
    Other,
}

impl TownshipKind {
    fn of(code: &str) -> TownshipKind {
        match code
            .get(6..9)
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(999)
        {
            0..=99 => Self::Subdistrict,
            100..=199 => Self::Town,
            200..=299 => Self::Township,
            _ => Self::Other,
        }
    }

    pub fn is_urban(self) -> bool {
        self == Self::Subdistrict
    }
}

/// A synthetic village (村/社区) with a synthetic 12-digit code under a real township.
#[derive(Debug, Clone)]
pub struct Village {
    pub code: String,
    pub name: String,
    /// Centre, in grid cell units.
    pub centre: (f64, f64),
}

#[derive(Debug, Clone)]
pub struct Township {
    pub code: String,
    pub name: String,
    pub kind: TownshipKind,
    /// Relative share of the county's buildings.
    pub weight: f64,
    /// Indices into the grid's cells.
    pub cells: Vec<u32>,
    pub villages: Vec<Village>,
}

/// A township code retired in an earlier edition and the current code that replaced it.
#[derive(Debug, Clone)]
pub struct StaleCode {
    pub old: String,
    pub new: String,
}

#[derive(Debug)]
pub struct County {
    pub code: String,
    pub name: String,
    pub province: String,
    pub prefecture: String,
    pub townships: Vec<Township>,
    /// Township index per cell (`OUTSIDE` beyond the county).
    pub grid: Grid,
    /// Codes well-formed for this county but absent from the registry and from the stale list.
    pub unknown_codes: Vec<String>,
    pub stale_codes: Vec<StaleCode>,
    /// Cumulative building weights, for sampling a township.
    cumulative: Vec<f64>,
}

impl County {
    pub fn build(code: &str, seed: u64) -> Result<County> {
        let registry = Registry::nbs2023();
        let county = registry.county(code)?;
        let prefecture = registry
            .parent(code)
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let province = registry
            .get(&code[..2])
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let towns = registry.townships_of(code);
        if towns.is_empty() {
            return Err(Error::NoTownships {
                county: code.to_owned(),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(splitmix(seed ^ 0xC0_07E5));
        let n = towns.len();

        // Where: near the province's capital, at a place fixed by the county code.
        let (lon_c, lat_c, spread) = PROVINCE_CENTRES
            .iter()
            .find(|p| p.0 == &code[..2])
            .map(|p| (p.1, p.2, p.3))
            .unwrap_or((105.0, 35.0, 1.0));
        let h = splitmix(code.parse::<u64>().unwrap_or(0));
        let fx = ((h & 0xFFFF) as f64 / 65535.0) * 2.0 - 1.0;
        let fy = (((h >> 16) & 0xFFFF) as f64 / 65535.0) * 2.0 - 1.0;
        let side = ((n as f64 * CELLS_PER_TOWNSHIP / 0.62).sqrt().ceil() as usize).max(24);
        let centre_lon = lon_c + fx * spread;
        let centre_lat = lat_c + fy * spread * 0.8;
        // Snap the grid origin to the cell size so that corners are round numbers.
        let x0 = ((centre_lon - side as f64 * CELL_DEG / 2.0) / CELL_DEG).round() * CELL_DEG;
        let y0 = ((centre_lat - side as f64 * CELL_DEG / 2.0) / CELL_DEG).round() * CELL_DEG;
        let mut grid = Grid::new(side, side, x0, y0, CELL_DEG);

        // The county outline: a noisy disc.
        let outline = Noise::new(splitmix(seed ^ 1), side as f64 / 3.0);
        let c = side as f64 / 2.0;
        let radius = side as f64 * 0.45;
        for j in 0..side {
            for i in 0..side {
                let (x, y) = (i as f64 + 0.5, j as f64 + 0.5);
                let d = ((x - c).powi(2) + (y - c).powi(2)).sqrt();
                let r = radius * (0.82 + 0.2 * outline.fractal(x, y));
                if d < r {
                    grid.set(i, j, 0);
                }
            }
        }

        // Township seeds: subdistricts (街道) around the county seat, the rest spread out by
        // best-candidate sampling.
        let inside: Vec<(usize, usize)> = (0..side)
            .flat_map(|j| (0..side).map(move |i| (i, j)))
            .filter(|&(i, j)| grid.get(i, j) != OUTSIDE)
            .collect();
        let seat = (
            c + (rng.random::<f64>() - 0.5) * side as f64 * 0.2,
            c + (rng.random::<f64>() - 0.5) * side as f64 * 0.2,
        );
        let mut seeds: Vec<(f64, f64)> = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(n);
        for t in &towns {
            let kind = TownshipKind::of(&t.code);
            let pick = if kind.is_urban() {
                let ring = (seeds.len() as f64).sqrt() * 4.0 + 2.0;
                let a = rng.random::<f64>() * std::f64::consts::TAU;
                (seat.0 + ring * a.cos(), seat.1 + ring * a.sin())
            } else {
                let mut best = (0.0, (c, c));
                for _ in 0..24 {
                    let (i, j) = inside[rng.random_range(0..inside.len())];
                    let p = (i as f64 + 0.5, j as f64 + 0.5);
                    let dmin = seeds
                        .iter()
                        .map(|s| (s.0 - p.0).powi(2) + (s.1 - p.1).powi(2))
                        .fold(f64::INFINITY, f64::min)
                        .min(((p.0 - seat.0).powi(2) + (p.1 - seat.1).powi(2)) * 2.0);
                    if dmin > best.0 {
                        best = (dmin, p);
                    }
                }
                best.1
            };
            seeds.push(pick);
            weights.push(match kind {
                TownshipKind::Subdistrict => 0.45,
                TownshipKind::Town => 1.0,
                TownshipKind::Township => 1.1,
                TownshipKind::Other => 0.9,
            });
        }

        // Weighted nearest seed, with noise so boundaries wander like real ones.
        let wobble = Noise::new(splitmix(seed ^ 2), 9.0);
        let wobble2 = Noise::new(splitmix(seed ^ 3), 9.0);
        for &(i, j) in &inside {
            let (x, y) = (i as f64 + 0.5, j as f64 + 0.5);
            let (x, y) = (
                x + 5.0 * wobble.fractal(x, y),
                y + 5.0 * wobble2.fractal(x, y),
            );
            let mut best = (f64::INFINITY, 0u32);
            for (k, s) in seeds.iter().enumerate() {
                let d = ((s.0 - x).powi(2) + (s.1 - y).powi(2)).sqrt() / weights[k];
                if d < best.0 {
                    best = (d, k as u32);
                }
            }
            grid.set(i, j, best.1);
        }
        // Every township keeps at least its seed cell.
        for (k, s) in seeds.iter().enumerate() {
            let (i, j) = ((s.0 as usize).min(side - 1), (s.1 as usize).min(side - 1));
            grid.set(i, j, k as u32);
        }
        // Make each township one simple polygon: no fragments, no pinch points. Bounded: each pass
        // only moves cells to a neighbour's label, and the loop stops when a pass changes nothing.
        settle(&mut grid);
        fill_holes(&mut grid);
        settle(&mut grid);

        let mut cells: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (k, &l) in grid.labels.iter().enumerate() {
            if l != OUTSIDE {
                cells[l as usize].push(k as u32);
            }
        }
        let county_name = county.name.clone();
        let mut townships = Vec::with_capacity(n);
        for (k, t) in towns.iter().enumerate() {
            let kind = TownshipKind::of(&t.code);
            let mut cells_k = std::mem::take(&mut cells[k]);
            if cells_k.is_empty() {
                // A seed swallowed by its neighbours: give it its seed cell back. Rare, and the next
                // seed changes it; kept so that every real township exists.
                let (i, j) = (
                    (seeds[k].0 as usize).min(side - 1),
                    (seeds[k].1 as usize).min(side - 1),
                );
                cells_k.push((j * side + i) as u32);
            }
            let density = match kind {
                TownshipKind::Subdistrict => 6.0,
                TownshipKind::Town => 1.3,
                TownshipKind::Township => 0.7,
                TownshipKind::Other => 0.4,
            } * (0.7 + 0.6 * rng.random::<f64>());
            let weight = density * cells_k.len() as f64;
            let villages = make_villages(&t.code, kind, &cells_k, side, &mut rng);
            townships.push(Township {
                code: t.code.clone(),
                name: t.name.clone(),
                kind,
                weight,
                cells: cells_k,
                villages,
            });
        }
        // Re-label the grid from the final cell lists (a seed given back above wins its cell).
        for (k, t) in townships.iter().enumerate() {
            for &cell in &t.cells {
                grid.labels[cell as usize] = k as u32;
            }
        }

        let (unknown_codes, stale_codes) = fake_codes(code, &townships, registry);
        let mut cumulative = Vec::with_capacity(n);
        let mut acc = 0.0;
        for t in &townships {
            acc += t.weight;
            cumulative.push(acc);
        }
        Ok(County {
            code: code.to_owned(),
            name: county_name,
            province,
            prefecture,
            townships,
            grid,
            unknown_codes,
            stale_codes,
            cumulative,
        })
    }

    /// A township drawn in proportion to its share of buildings.
    pub fn sample_township(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.townships.len() - 1)
    }

    /// A point strictly inside a township (at least 5% of a cell away from every cell edge), with
    /// coordinates rounded to 6 decimals as an office would write them.
    pub fn point_in(&self, township: usize, rng: &mut impl Rng) -> (f64, f64) {
        let t = &self.townships[township];
        let cell = t.cells[rng.random_range(0..t.cells.len())] as usize;
        self.point_in_cell(cell, rng)
    }

    pub fn point_in_cell(&self, cell: usize, rng: &mut impl Rng) -> (f64, f64) {
        let g = &self.grid;
        let (i, j) = ((cell % g.cols) as f64, (cell / g.cols) as f64);
        let u = 0.08 + 0.84 * rng.random::<f64>();
        let v = 0.08 + 0.84 * rng.random::<f64>();
        let lon = g.x0 + (i + u) * g.cell;
        let lat = g.y0 + (j + v) * g.cell;
        (round6(lon), round6(lat))
    }

    /// The township containing a point, if any.
    pub fn township_at(&self, lon: f64, lat: f64) -> Option<usize> {
        match self.grid.label_at(lon, lat) {
            OUTSIDE => None,
            l => Some(l as usize),
        }
    }

    /// The village of a township nearest to a point.
    pub fn village_at(&self, township: usize, lon: f64, lat: f64) -> &Village {
        let g = &self.grid;
        let (x, y) = ((lon - g.x0) / g.cell, (lat - g.y0) / g.cell);
        let vs = &self.townships[township].villages;
        let mut best = (f64::INFINITY, 0);
        for (k, v) in vs.iter().enumerate() {
            let d = (v.centre.0 - x).powi(2) + (v.centre.1 - y).powi(2);
            if d < best.0 {
                best = (d, k);
            }
        }
        &vs[best.1]
    }

    /// Short name of a township, without its 镇/乡/街道 ending.
    pub fn short_name(&self, township: usize) -> &str {
        names::short(&self.townships[township].name)
    }

    pub fn inside_cells(&self) -> usize {
        self.townships.iter().map(|t| t.cells.len()).sum()
    }
}

/// Makes each label one simple polygon: no fragments, no pinch points. Bounded: each pass only moves
/// cells to a neighbour's label, and the loop stops when a pass changes nothing.
fn settle(grid: &mut Grid) {
    for _ in 0..100 {
        let a = grid.keep_largest_components();
        let b = grid.remove_pinches();
        if a == 0 && b == 0 {
            break;
        }
    }
}

pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Outside cells that do not reach the grid's edge are holes in the county: give them to a neighbour.
fn fill_holes(grid: &mut Grid) {
    loop {
        let (comp, infos) = {
            // Components of the outside: label outside cells 0 and the rest OUTSIDE, then reuse the
            // component finder.
            let mut inv = grid.clone();
            for l in inv.labels.iter_mut() {
                *l = if *l == OUTSIDE { 0 } else { OUTSIDE };
            }
            inv.components()
        };
        let (cols, rows) = (grid.cols, grid.rows);
        let touches_edge = |k: usize| {
            let (i, j) = (k % cols, k / cols);
            i == 0 || j == 0 || i + 1 == cols || j + 1 == rows
        };
        let mut edge = vec![false; infos.len()];
        for (k, &c) in comp.iter().enumerate() {
            if c != OUTSIDE && touches_edge(k) {
                edge[c as usize] = true;
            }
        }
        let mut changed = false;
        for (k, &c) in comp.iter().enumerate() {
            if c == OUTSIDE || edge[c as usize] {
                continue;
            }
            let (i, j) = ((k % cols) as i64, (k / cols) as i64);
            for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                let n = grid.get_or_outside(i + di, j + dj);
                if n != OUTSIDE {
                    grid.labels[k] = n;
                    changed = true;
                    break;
                }
            }
        }
        if !changed {
            break;
        }
        grid.remove_pinches();
        grid.keep_largest_components();
    }
}

fn make_villages(
    township_code: &str,
    kind: TownshipKind,
    cells: &[u32],
    cols: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Village> {
    let count = match kind {
        TownshipKind::Subdistrict => rng.random_range(4..10),
        TownshipKind::Town => rng.random_range(8..20),
        TownshipKind::Township => rng.random_range(6..14),
        TownshipKind::Other => rng.random_range(2..6),
    }
    .min(cells.len().max(1));
    let communities = match kind {
        TownshipKind::Subdistrict => count,
        TownshipKind::Town => (count / 4).max(1),
        _ => count / 6,
    };
    let mut used = std::collections::BTreeSet::new();
    (0..count)
        .map(|k| {
            let cell = cells[rng.random_range(0..cells.len())] as usize;
            let centre = ((cell % cols) as f64 + 0.5, (cell / cols) as f64 + 0.5);
            // 001–199 are residents' committees (社区), 200–399 villagers' committees (村).
            let (seg, name) = if k < communities {
                (k + 1, names::community(rng, &mut used))
            } else {
                (200 + k - communities + 1, names::village(rng, &mut used))
            };
            Village {
                code: format!("{township_code}{seg:03}"),
                name,
                centre,
            }
        })
        .collect()
}

/// Codes for the "unknown" and "stale" defects: well-formed, the county's own prefix, not in the
/// registry. A stale code stands for a township code retired by a merger in an earlier edition; the
/// generator writes the mapping beside the data (`division_changes.csv`), as a county office keeps one.
fn fake_codes(
    county: &str,
    townships: &[Township],
    registry: &Registry,
) -> (Vec<String>, Vec<StaleCode>) {
    let free: Vec<String> = (100..300)
        .map(|seg| format!("{county}{seg:03}"))
        .filter(|c| !registry.contains(c))
        .collect();
    let stale: Vec<StaleCode> = free
        .iter()
        .rev()
        .take(3.min(townships.len()))
        .enumerate()
        .map(|(k, old)| StaleCode {
            old: old.clone(),
            new: townships[k * townships.len() / 3.min(townships.len()).max(1)]
                .code
                .clone(),
        })
        .collect();
    let unknown = free
        .iter()
        .filter(|c| !stale.iter().any(|s| &s.old == *c))
        .take(5)
        .cloned()
        .collect();
    (unknown, stale)
}
