//! The county as a raster of small square cells, each labelled with its township.
//!
//! Building the county on a grid makes the boundaries exact: two neighbouring townships share the very
//! same vertices (both computed from the same integer grid corner), so the tessellation has no gaps and
//! no overlaps by construction, and point-in-township is one array lookup.

use std::collections::{BTreeMap, HashMap};

/// Label of a cell outside the county.
pub const OUTSIDE: u32 = u32::MAX;

/// A rectangular grid of labelled cells; row 0 is the southern edge.
#[derive(Debug, Clone)]
pub struct Grid {
    pub cols: usize,
    pub rows: usize,
    /// Longitude of the western edge.
    pub x0: f64,
    /// Latitude of the southern edge.
    pub y0: f64,
    /// Cell size in degrees.
    pub cell: f64,
    pub labels: Vec<u32>,
}

impl Grid {
    pub fn new(cols: usize, rows: usize, x0: f64, y0: f64, cell: f64) -> Grid {
        Grid {
            cols,
            rows,
            x0,
            y0,
            cell,
            labels: vec![OUTSIDE; cols * rows],
        }
    }

    pub fn get(&self, i: usize, j: usize) -> u32 {
        self.labels[j * self.cols + i]
    }

    /// Label at signed coordinates, `OUTSIDE` beyond the grid.
    pub fn get_or_outside(&self, i: i64, j: i64) -> u32 {
        if i < 0 || j < 0 || i >= self.cols as i64 || j >= self.rows as i64 {
            OUTSIDE
        } else {
            self.get(i as usize, j as usize)
        }
    }

    pub fn set(&mut self, i: usize, j: usize, v: u32) {
        self.labels[j * self.cols + i] = v;
    }

    /// Longitude and latitude of grid corner (i, j). Every polygon vertex comes from here, so shared
    /// vertices are bit-identical.
    pub fn corner(&self, i: i64, j: i64) -> (f64, f64) {
        (
            self.x0 + i as f64 * self.cell,
            self.y0 + j as f64 * self.cell,
        )
    }

    /// The cell containing a point, if the point is on the grid.
    pub fn cell_of(&self, lon: f64, lat: f64) -> Option<(usize, usize)> {
        let fi = ((lon - self.x0) / self.cell).floor();
        let fj = ((lat - self.y0) / self.cell).floor();
        if !(fi >= 0.0 && fj >= 0.0 && fi < self.cols as f64 && fj < self.rows as f64) {
            return None;
        }
        Some((fi as usize, fj as usize))
    }

    /// The label at a point (`OUTSIDE` off the grid).
    pub fn label_at(&self, lon: f64, lat: f64) -> u32 {
        match self.cell_of(lon, lat) {
            Some((i, j)) => self.get(i, j),
            None => OUTSIDE,
        }
    }

    /// Removes diagonal "pinches": a 2×2 block `[a b; b a]` with `a ≠ b` makes a ring touch itself at a
    /// point, which is not a valid simple polygon. One of the four cells takes its neighbour's label,
    /// never `OUTSIDE`, so the county can only grow. Returns how many cells changed.
    pub fn remove_pinches(&mut self) -> usize {
        let mut changed = 0;
        for j in -1..self.rows as i64 {
            for i in -1..self.cols as i64 {
                let sw = self.get_or_outside(i, j);
                let se = self.get_or_outside(i + 1, j);
                let nw = self.get_or_outside(i, j + 1);
                let ne = self.get_or_outside(i + 1, j + 1);
                if sw == ne && se == nw && sw != se {
                    // Give the cell at (i+1, j) (label `se`) the label `sw`, or the cell at (i, j)
                    // (label `sw`) the label `se`, whichever keeps the new label inside the county
                    // and the changed cell on the grid.
                    if sw != OUTSIDE && i + 1 < self.cols as i64 && j >= 0 {
                        self.set((i + 1) as usize, j as usize, sw);
                    } else if se != OUTSIDE && i >= 0 && j >= 0 {
                        self.set(i as usize, j as usize, se);
                    } else if sw != OUTSIDE && i >= 0 && j + 1 < self.rows as i64 {
                        self.set(i as usize, (j + 1) as usize, sw);
                    } else if se != OUTSIDE && i + 1 < self.cols as i64 && j + 1 < self.rows as i64
                    {
                        self.set((i + 1) as usize, (j + 1) as usize, se);
                    } else {
                        continue;
                    }
                    changed += 1;
                }
            }
        }
        changed
    }

    /// 4-connected components of equal labels (cells outside the county get `OUTSIDE`).
    /// Components are numbered in scan order, so the numbering is deterministic.
    pub fn components(&self) -> (Vec<u32>, Vec<ComponentInfo>) {
        let mut comp = vec![OUTSIDE; self.labels.len()];
        let mut infos = Vec::new();
        let mut stack = Vec::new();
        for start in 0..self.labels.len() {
            if comp[start] != OUTSIDE || self.labels[start] == OUTSIDE {
                continue;
            }
            let id = infos.len() as u32;
            let label = self.labels[start];
            let mut size = 0usize;
            comp[start] = id;
            stack.push(start);
            while let Some(k) = stack.pop() {
                size += 1;
                let (i, j) = (k % self.cols, k / self.cols);
                let mut visit = |n: usize| {
                    if comp[n] == OUTSIDE && self.labels[n] == label {
                        comp[n] = id;
                        stack.push(n);
                    }
                };
                if i > 0 {
                    visit(k - 1);
                }
                if i + 1 < self.cols {
                    visit(k + 1);
                }
                if j > 0 {
                    visit(k - self.cols);
                }
                if j + 1 < self.rows {
                    visit(k + self.cols);
                }
            }
            infos.push(ComponentInfo {
                label,
                size,
                first_cell: start,
            });
        }
        (comp, infos)
    }

    /// Keeps only the largest component of each label; cells of smaller components take the most
    /// common label among their neighbours. Returns how many cells changed.
    // Cells change while their neighbours are read, so this walks indices, not an iterator.
    #[allow(clippy::needless_range_loop)]
    pub fn keep_largest_components(&mut self) -> usize {
        let (comp, infos) = self.components();
        let mut largest: BTreeMap<u32, (usize, u32)> = BTreeMap::new();
        for (id, info) in infos.iter().enumerate() {
            let e = largest.entry(info.label).or_insert((0, id as u32));
            if info.size > e.0 {
                *e = (info.size, id as u32);
            }
        }
        let mut changed = 0;
        for k in 0..self.labels.len() {
            let label = self.labels[k];
            if label == OUTSIDE || largest.get(&label).map(|e| e.1) == Some(comp[k]) {
                continue;
            }
            let (i, j) = ((k % self.cols) as i64, (k / self.cols) as i64);
            let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
            for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                let n = self.get_or_outside(i + di, j + dj);
                if n != OUTSIDE && n != label {
                    *counts.entry(n).or_default() += 1;
                }
            }
            if let Some((&best, _)) = counts
                .iter()
                .max_by_key(|(l, c)| (**c, std::cmp::Reverse(**l)))
            {
                self.labels[k] = best;
                changed += 1;
            }
        }
        changed
    }

    /// Traces the boundary of every component as polygons in grid-corner coordinates. The result maps
    /// component id to rings: the first ring is the shell (counter-clockwise), the rest are holes
    /// (clockwise). Collinear vertices are dropped; rings are closed (first vertex repeated).
    pub fn trace(&self, comp: &[u32]) -> BTreeMap<u32, Vec<Vec<(i64, i64)>>> {
        // Directed boundary edges with the component on the left; without pinches every vertex has at
        // most one outgoing edge per component.
        let mut next: HashMap<(u32, i64, i64), (i64, i64)> = HashMap::new();
        let comp_at = |i: i64, j: i64| -> u32 {
            if i < 0 || j < 0 || i >= self.cols as i64 || j >= self.rows as i64 {
                OUTSIDE
            } else {
                comp[j as usize * self.cols + i as usize]
            }
        };
        let mut starts: Vec<(u32, i64, i64)> = Vec::new();
        for j in 0..self.rows as i64 {
            for i in 0..self.cols as i64 {
                let c = comp_at(i, j);
                if c == OUTSIDE {
                    continue;
                }
                let sides = [
                    ((0, -1), (i, j), (i + 1, j)),
                    ((1, 0), (i + 1, j), (i + 1, j + 1)),
                    ((0, 1), (i + 1, j + 1), (i, j + 1)),
                    ((-1, 0), (i, j + 1), (i, j)),
                ];
                for ((di, dj), from, to) in sides {
                    if comp_at(i + di, j + dj) != c {
                        next.insert((c, from.0, from.1), to);
                        starts.push((c, from.0, from.1));
                    }
                }
            }
        }
        let mut out: BTreeMap<u32, Vec<Vec<(i64, i64)>>> = BTreeMap::new();
        for start in starts {
            let Some(mut to) = next.remove(&start) else {
                continue;
            };
            let (c, sx, sy) = start;
            let mut ring = vec![(sx, sy)];
            while to != (sx, sy) {
                ring.push(to);
                match next.remove(&(c, to.0, to.1)) {
                    Some(n) => to = n,
                    None => break,
                }
            }
            let ring = simplify_collinear(ring);
            out.entry(c).or_default().push(ring);
        }
        for rings in out.values_mut() {
            // Shell first: the one ring with positive area.
            rings.sort_by_key(|r| std::cmp::Reverse(signed_area2(r)));
        }
        out
    }
}

/// Facts about one connected component.
#[derive(Debug, Clone, Copy)]
pub struct ComponentInfo {
    pub label: u32,
    pub size: usize,
    pub first_cell: usize,
}

/// Twice the signed area of a closed ring (positive when counter-clockwise).
pub fn signed_area2(ring: &[(i64, i64)]) -> i64 {
    ring.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum()
}

/// Drops vertices in the middle of straight runs and closes the ring.
fn simplify_collinear(ring: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let n = ring.len();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(n + 1);
    for k in 0..n {
        let prev = ring[(k + n - 1) % n];
        let cur = ring[k];
        let nxt = ring[(k + 1) % n];
        let cross = (cur.0 - prev.0) * (nxt.1 - cur.1) - (cur.1 - prev.1) * (nxt.0 - cur.0);
        if cross != 0 {
            out.push(cur);
        }
    }
    if let Some(&first) = out.first() {
        out.push(first);
    }
    out
}

/// Smooth deterministic value noise in [-1, 1]: bilinear interpolation (with a smoothstep) of random
/// values on a lattice of the given period, in cell units.
pub struct Noise {
    seed: u64,
    period: f64,
}

impl Noise {
    pub fn new(seed: u64, period: f64) -> Noise {
        Noise { seed, period }
    }

    fn lattice(&self, x: i64, y: i64) -> f64 {
        let mut h = self.seed ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        h = splitmix(h);
        (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    pub fn at(&self, x: f64, y: f64) -> f64 {
        let (gx, gy) = (x / self.period, y / self.period);
        let (x0, y0) = (gx.floor(), gy.floor());
        let (tx, ty) = (smooth(gx - x0), smooth(gy - y0));
        let (xi, yi) = (x0 as i64, y0 as i64);
        let a = self.lattice(xi, yi);
        let b = self.lattice(xi + 1, yi);
        let c = self.lattice(xi, yi + 1);
        let d = self.lattice(xi + 1, yi + 1);
        let top = a + (b - a) * tx;
        let bottom = c + (d - c) * tx;
        top + (bottom - top) * ty
    }

    /// Two octaves, still in [-1, 1].
    pub fn fractal(&self, x: f64, y: f64) -> f64 {
        let fine = Noise::new(splitmix(self.seed), self.period / 2.7);
        (self.at(x, y) * 2.0 + fine.at(x, y)) / 3.0
    }
}

fn smooth(t: f64) -> f64 {
    t * t * (3.0 - 2.0 * t)
}

pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid_from(rows: &[&str]) -> Grid {
        // rows given north to south; '.' is outside
        let mut g = Grid::new(rows[0].len(), rows.len(), 0.0, 0.0, 1.0);
        for (r, line) in rows.iter().enumerate() {
            let j = rows.len() - 1 - r;
            for (i, ch) in line.chars().enumerate() {
                if ch != '.' {
                    g.set(i, j, ch as u32 - 'a' as u32);
                }
            }
        }
        g
    }

    #[test]
    fn traces_shell_and_hole() {
        let g = grid_from(&["aaa", "aba", "aaa"]);
        let (comp, infos) = g.components();
        assert_eq!(infos.len(), 2);
        let rings = g.trace(&comp);
        let a = &rings[&comp[0]];
        assert_eq!(a.len(), 2, "a has a shell and a hole");
        assert_eq!(signed_area2(&a[0]), 18);
        assert_eq!(signed_area2(&a[1]), -2);
        assert_eq!(a[0].len(), 5, "a square after dropping collinear vertices");
    }

    #[test]
    fn pinches_are_removed() {
        let mut g = grid_from(&["ab", "ba"]);
        assert!(g.remove_pinches() > 0);
        assert_eq!(g.remove_pinches(), 0);
        let mut g = grid_from(&["a.", ".a"]);
        g.remove_pinches();
        assert_eq!(g.remove_pinches(), 0);
        assert!(g.labels.iter().filter(|&&l| l == 0).count() >= 3);
    }

    #[test]
    fn fragments_join_a_neighbour() {
        let mut g = grid_from(&["aab", "bbb", "bab"]);
        assert_eq!(g.keep_largest_components(), 1);
        assert_eq!(g.get(1, 0), 1);
    }
}
