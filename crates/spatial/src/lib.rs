#![doc = include_str!("../README.md")]

pub mod gcj02;

use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("malformed WKB at byte {offset}: {message}")]
    Wkb { offset: usize, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    little: bool,
}

impl Cursor<'_> {
    fn err(&self, message: &str) -> Error {
        Error::Wkb {
            offset: self.pos,
            message: message.to_owned(),
        }
    }
    fn u8(&mut self) -> Result<u8> {
        let v = *self.b.get(self.pos).ok_or_else(|| self.err("truncated"))?;
        self.pos += 1;
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32> {
        let s = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos += 4;
        let a = [s[0], s[1], s[2], s[3]];
        Ok(if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
    fn f64(&mut self) -> Result<f64> {
        let s = self
            .b
            .get(self.pos..self.pos + 8)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(if self.little {
            f64::from_le_bytes(a)
        } else {
            f64::from_be_bytes(a)
        })
    }
    /// Reads a geometry header; returns (base type 1..7, has_z, has_m).
    fn header(&mut self) -> Result<(u32, bool, bool)> {
        self.little = self.u8()? == 1;
        let t = self.u32()?;
        // ISO (1000/2000/3000 offsets) and EWKB (high bits) dimension flags.
        let (base, z, m) = if t & 0xE000_0000 != 0 {
            (t & 0xFFFF, t & 0x8000_0000 != 0, t & 0x4000_0000 != 0)
        } else {
            (
                t % 1000,
                (t / 1000) % 2 == 1 || t / 1000 == 3,
                t / 1000 >= 2,
            )
        };
        if t & 0x2000_0000 != 0 {
            self.u32()?; // SRID
        }
        Ok((base, z, m))
    }
    fn coord(&mut self, z: bool, m: bool) -> Result<Coord> {
        let x = self.f64()?;
        let y = self.f64()?;
        if z {
            self.f64()?;
        }
        if m {
            self.f64()?;
        }
        Ok(Coord { x, y })
    }
    fn ring(&mut self, z: bool, m: bool) -> Result<LineString> {
        let n = self.u32()? as usize;
        if n > (self.b.len() - self.pos) / 16 {
            return Err(self.err("ring longer than the data"));
        }
        (0..n)
            .map(|_| self.coord(z, m))
            .collect::<Result<Vec<_>>>()
            .map(LineString::new)
    }
    fn polygon(&mut self, z: bool, m: bool) -> Result<Polygon> {
        let n = self.u32()? as usize;
        let mut rings = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            rings.push(self.ring(z, m)?);
        }
        let mut it = rings.into_iter();
        let shell = it.next().unwrap_or_else(|| LineString::new(vec![]));
        Ok(Polygon::new(shell, it.collect()))
    }
}

/// A geometry the census uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Geom {
    Point(Point),
    Polygon(MultiPolygon),
    /// Anything else (lines, collections): kept as WKB, not analysed.
    Other,
}

/// Parses WKB (little or big endian, ISO or EWKB dimension flags; Z and M dropped).
pub fn parse_wkb(wkb: &[u8]) -> Result<Geom> {
    let mut c = Cursor {
        b: wkb,
        pos: 0,
        little: true,
    };
    let (t, z, m) = c.header()?;
    match t {
        1 => Ok(Geom::Point(Point(c.coord(z, m)?))),
        3 => Ok(Geom::Polygon(MultiPolygon::new(vec![c.polygon(z, m)?]))),
        6 => {
            let n = c.u32()? as usize;
            let mut polys = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let (t2, z2, m2) = c.header()?;
                if t2 != 3 {
                    return Err(c.err("a multipolygon member is not a polygon"));
                }
                polys.push(c.polygon(z2, m2)?);
            }
            Ok(Geom::Polygon(MultiPolygon::new(polys)))
        }
        2..=7 => Ok(Geom::Other),
        _ => Err(c.err("unknown geometry type")),
    }
}

/// The point a record is located by: a point itself, or for a polygon (a building footprint) a
/// point guaranteed inside its area. Not the centroid: the centroid of an L- or U-shaped footprint
/// can fall outside it, even in the next township. `None` for an empty or other geometry.
pub fn representative_point(g: &Geom) -> Option<(f64, f64)> {
    use geo::InteriorPoint;
    match g {
        Geom::Point(p) if !is_empty(g) => Some((p.x(), p.y())),
        Geom::Polygon(mp) => mp.interior_point().map(|p| (p.x(), p.y())),
        _ => None,
    }
}

/// Whether a geometry is empty (no coordinates).
pub fn is_empty(g: &Geom) -> bool {
    match g {
        Geom::Point(p) => p.x().is_nan() || p.y().is_nan(),
        Geom::Polygon(mp) => mp.0.iter().all(|p| p.exterior().0.is_empty()),
        Geom::Other => false,
    }
}

/// OGC validity through GEOS (GDAL); `None` if GDAL cannot parse the WKB.
pub fn is_valid_wkb(wkb: &[u8]) -> Option<bool> {
    quiet_gdal();
    gdal::vector::Geometry::from_wkb(wkb)
        .ok()
        .map(|g| g.is_valid())
}

/// Sends GDAL's own messages (e.g. GEOS validity notes) to the log instead of raw stderr.
pub fn quiet_gdal() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gdal::config::set_error_handler(|class, number, message| {
            tracing::debug!(target: "gdal", ?class, number, "{message}");
        });
    });
}

/// A multipolygon as little-endian WKB: the shape of a unit the change list merged from several
/// boundary rows, for the GIS layer and maps that take WKB.
pub fn multipolygon_wkb(mp: &MultiPolygon) -> Vec<u8> {
    fn u32le(out: &mut Vec<u8>, v: usize) {
        out.extend_from_slice(&u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes());
    }
    let mut out = vec![1u8];
    u32le(&mut out, 6);
    u32le(&mut out, mp.0.len());
    for p in &mp.0 {
        out.push(1);
        u32le(&mut out, 3);
        u32le(&mut out, 1 + p.interiors().len());
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            u32le(&mut out, ring.0.len());
            for c in &ring.0 {
                out.extend_from_slice(&c.x.to_le_bytes());
                out.extend_from_slice(&c.y.to_le_bytes());
            }
        }
    }
    out
}

/// The boundary segments of a (multi)polygon, indexed: whether any boundary passes through a box, in
/// logarithmic time. If none does, the whole box lies on one side of the boundary, so one point of
/// the box tells inside from outside for all of it.
#[derive(Debug, Clone)]
pub struct EdgeIndex {
    tree: RTree<rstar::primitives::Line<[f64; 2]>>,
}

impl EdgeIndex {
    pub fn new(mp: &MultiPolygon) -> EdgeIndex {
        let mut lines = Vec::new();
        for p in &mp.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for l in ring.lines() {
                    lines.push(rstar::primitives::Line::new(
                        [l.start.x, l.start.y],
                        [l.end.x, l.end.y],
                    ));
                }
            }
        }
        EdgeIndex {
            tree: RTree::bulk_load(lines),
        }
    }

    /// Whether a boundary segment's bounding box meets the box (min x, min y, max x, max y): `false`
    /// means no boundary passes through the box.
    pub fn meets_box(&self, min: (f64, f64), max: (f64, f64)) -> bool {
        let env = AABB::from_corners([min.0, min.1], [max.0, max.1]);
        self.tree
            .locate_in_envelope_intersecting(&env)
            .next()
            .is_some()
    }
}

/// Assessment units (townships by default) indexed for point lookups.
pub struct UnitIndex {
    codes: Vec<String>,
    shapes: Vec<MultiPolygon>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    grid: Option<Grid>,
}

/// Cells per side of a [`Grid`].
const GRID: usize = 128;

/// A grid over the shapes' extent. A cell that no boundary segment's box comes near lies wholly on
/// one side of every ring, so every point in it is in the shapes its centre is in: those cells keep
/// that answer, and a point in one is answered without walking a ring (most points of a county,
/// against townships or hazard zones). Points in the cells a segment's box meets, and points off the
/// grid, get the exact test.
struct Grid {
    min: [f64; 2],
    step: [f64; 2],
    /// Per cell, `(start, end)` in `inside` of the shapes containing it; `MIXED` for the exact test.
    cells: Vec<(u32, u32)>,
    inside: Vec<u32>,
}

const MIXED: (u32, u32) = (u32::MAX, u32::MAX);

impl Grid {
    fn new(index: &UnitIndex) -> Option<Grid> {
        let mut extent = index.shapes.iter().filter_map(|s| s.bounding_rect());
        let first = extent.next()?;
        let (lo, hi) = extent.fold((first.min(), first.max()), |(lo, hi), r| {
            (
                Coord {
                    x: lo.x.min(r.min().x),
                    y: lo.y.min(r.min().y),
                },
                Coord {
                    x: hi.x.max(r.max().x),
                    y: hi.y.max(r.max().y),
                },
            )
        });
        let step = [(hi.x - lo.x) / GRID as f64, (hi.y - lo.y) / GRID as f64];
        if !(step[0] > 0.0 && step[1] > 0.0 && step[0].is_finite() && step[1].is_finite()) {
            return None;
        }
        let mut grid = Grid {
            min: [lo.x, lo.y],
            step,
            cells: vec![(0, 0); GRID * GRID],
            inside: Vec::new(),
        };
        // A segment marks the cells its box meets, widened by a millionth of a cell: far more than
        // the rounding of a point's cell (about 1e-12 of a cell at county coordinates).
        let span = |v: f64, w: f64, axis: usize| {
            let a = ((v - grid.min[axis]) / grid.step[axis] - 1e-6).floor();
            let b = ((w - grid.min[axis]) / grid.step[axis] + 1e-6).floor();
            let clamp = |f: f64| f.clamp(0.0, (GRID - 1) as f64) as usize;
            clamp(a)..=clamp(b)
        };
        let mut mixed = vec![false; GRID * GRID];
        for shape in &index.shapes {
            for p in &shape.0 {
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    for l in ring.lines() {
                        let xs = span(l.start.x.min(l.end.x), l.start.x.max(l.end.x), 0);
                        let ys = span(l.start.y.min(l.end.y), l.start.y.max(l.end.y), 1);
                        for iy in ys {
                            for ix in xs.clone() {
                                mixed[iy * GRID + ix] = true;
                            }
                        }
                    }
                }
            }
        }
        // Along a row, neighbouring cells that no segment comes near are in the same shapes (the
        // line between their centres crosses no boundary), so each run of them is tested once.
        for (c, &m) in mixed.iter().enumerate() {
            let (ix, iy) = (c % GRID, c / GRID);
            grid.cells[c] = if m {
                MIXED
            } else if ix > 0 && !mixed[c - 1] {
                grid.cells[c - 1]
            } else {
                let x = grid.min[0] + (ix as f64 + 0.5) * grid.step[0];
                let y = grid.min[1] + (iy as f64 + 0.5) * grid.step[1];
                let start = grid.inside.len() as u32;
                let mut found: Vec<usize> = index.containing_exact(x, y).collect();
                found.sort_unstable();
                grid.inside.extend(found.into_iter().map(|k| k as u32));
                (start, grid.inside.len() as u32)
            };
        }
        Some(grid)
    }

    /// The shapes containing a point, when its cell knows them.
    fn lookup(&self, x: f64, y: f64) -> Option<&[u32]> {
        let fx = (x - self.min[0]) / self.step[0];
        let fy = (y - self.min[1]) / self.step[1];
        if !(fx >= 0.0 && fy >= 0.0 && fx < GRID as f64 && fy < GRID as f64) {
            return None;
        }
        let (start, end) = self.cells[fy as usize * GRID + fx as usize];
        if (start, end) == MIXED {
            return None;
        }
        self.inside.get(start as usize..end as usize)
    }
}

impl UnitIndex {
    /// Builds the index from (code, polygon WKB); units whose geometry is not a polygon are skipped.
    pub fn new(units: impl IntoIterator<Item = (String, MultiPolygon)>) -> UnitIndex {
        let mut codes = Vec::new();
        let mut shapes = Vec::new();
        let mut boxes = Vec::new();
        for (code, mp) in units {
            if let Some(r) = mp.bounding_rect() {
                boxes.push(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    codes.len(),
                ));
                codes.push(code);
                shapes.push(mp);
            }
        }
        let mut index = UnitIndex {
            codes,
            shapes,
            tree: RTree::bulk_load(boxes),
            grid: None,
        };
        index.grid = Grid::new(&index);
        index
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The code of the unit containing the point (the lowest index if units overlap).
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&str> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        let k = match self.grid.as_ref().and_then(|g| g.lookup(lon, lat)) {
            Some(inside) => inside.first().map(|&k| k as usize),
            None => self.containing_exact(lon, lat).min(),
        };
        k.map(|k| self.codes[k].as_str())
    }

    /// The positions (in the order the units were given) of every unit containing the point, in
    /// no particular order: for layers whose polygons may overlap (hazard zones).
    pub fn containing(&self, lon: f64, lat: f64) -> impl Iterator<Item = usize> + '_ {
        let known = (lon.is_finite() && lat.is_finite())
            .then(|| self.grid.as_ref()?.lookup(lon, lat))
            .flatten();
        let exact = known.is_none();
        known
            .into_iter()
            .flatten()
            .map(|&k| k as usize)
            .chain(self.containing_exact(lon, lat).take_while(move |_| exact))
    }

    /// [`UnitIndex::containing`] by testing the point against every unit whose box holds it.
    fn containing_exact(&self, lon: f64, lat: f64) -> impl Iterator<Item = usize> + '_ {
        let p = Point::new(lon, lat);
        let finite = lon.is_finite() && lat.is_finite();
        self.tree
            .locate_all_at_point(&[lon, lat])
            .filter(move |_| finite)
            .map(|g| g.data)
            .filter(move |&k| self.shapes[k].contains(&p))
    }

    /// The unit nearest to a point outside every unit, and the distance to its boundary in metres
    /// (on the sphere): what a reviewer needs to tell a typo from a point just over the border.
    pub fn nearest(&self, lon: f64, lat: f64) -> Option<(&str, f64)> {
        use geo::{ClosestPoint, Distance, Haversine};
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        let p = Point::new(lon, lat);
        let mut best: Option<(usize, f64, f64)> = None; // unit, degrees², metres
        // Boxes come nearest first; a box farther than the best exact distance ends the search.
        for (g, box_d2) in self.tree.nearest_neighbor_iter_with_distance_2(&[lon, lat]) {
            if best.is_some_and(|(_, d2, _)| box_d2 > d2) {
                break;
            }
            let k = g.data;
            let q = match self.shapes[k].closest_point(&p) {
                geo::Closest::Intersection(q) | geo::Closest::SinglePoint(q) => q,
                geo::Closest::Indeterminate => continue,
            };
            let d2 = (q.x() - lon).powi(2) + (q.y() - lat).powi(2);
            if best.is_none_or(|(_, b, _)| d2 < b) {
                best = Some((k, d2, Haversine.distance(p, q)));
            }
        }
        best.map(|(k, _, m)| (self.codes[k].as_str(), m))
    }

    /// The code of the unit at a position [`UnitIndex::containing`] gives.
    pub fn code(&self, k: usize) -> &str {
        &self.codes[k]
    }

    pub fn contains_code(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c == code)
    }

    /// Whether a unit is this code or contains it by prefix (a county unit covers its townships'
    /// codes).
    pub fn covers_code(&self, code: &str) -> bool {
        self.codes.iter().any(|c| code.starts_with(c.as_str()))
    }

    /// The bounding box of all units: (min lon, min lat, max lon, max lat).
    pub fn extent(&self) -> Option<(f64, f64, f64, f64)> {
        let e: AABB<[f64; 2]> = self.tree.root().envelope();
        if self.is_empty() {
            None
        } else {
            Some((e.lower()[0], e.lower()[1], e.upper()[0], e.upper()[1]))
        }
    }

    pub fn shapes(&self) -> impl Iterator<Item = (&str, &MultiPolygon)> {
        self.codes
            .iter()
            .map(String::as_str)
            .zip(self.shapes.iter())
    }
}

/// A problem of a boundary layer as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum BoundaryProblem {
    /// Two units overlap by this area (square degrees).
    Overlap { a: String, b: String, area: f64 },
    /// A hole inside the layer's outline that no unit covers, with a point inside it.
    Gap { at: (f64, f64), area: f64 },
}

/// Overlaps between units and gaps inside the layer's outline, computed with GEOS through GDAL.
/// Slivers below `tolerance` square degrees are ignored.
pub fn boundary_problems(units: &[(String, Vec<u8>)], tolerance: f64) -> Vec<BoundaryProblem> {
    quiet_gdal();
    let geoms: Vec<(String, gdal::vector::Geometry)> = units
        .iter()
        .filter_map(|(c, w)| {
            gdal::vector::Geometry::from_wkb(w)
                .ok()
                .filter(|g| g.is_valid())
                .map(|g| (c.clone(), g))
        })
        .collect();
    let mut out = Vec::new();
    for (i, (ca, ga)) in geoms.iter().enumerate() {
        let ea = ga.envelope();
        for (cb, gb) in geoms.iter().skip(i + 1) {
            let eb = gb.envelope();
            if ea.MaxX < eb.MinX || eb.MaxX < ea.MinX || ea.MaxY < eb.MinY || eb.MaxY < ea.MinY {
                continue;
            }
            if let Some(x) = ga.intersection(gb) {
                let area = x.area();
                if area > tolerance {
                    out.push(BoundaryProblem::Overlap {
                        a: ca.clone(),
                        b: cb.clone(),
                        area,
                    });
                }
            }
        }
    }
    let mut union: Option<gdal::vector::Geometry> = None;
    for (_, g) in &geoms {
        union = match union {
            None => Some(g.clone()),
            Some(u) => u.union(g).or(Some(u)),
        };
    }
    if let Some(u) = union
        && let Ok(wkb) = u.wkb()
        && let Ok(Geom::Polygon(mp)) = parse_wkb(&wkb)
    {
        for poly in &mp.0 {
            for hole in poly.interiors() {
                let hp = Polygon::new(hole.clone(), vec![]);
                let area = geo::Area::unsigned_area(&hp);
                if area > tolerance {
                    let at = geo::InteriorPoint::interior_point(&hp)
                        .map(|p| (p.x(), p.y()))
                        .unwrap_or((f64::NAN, f64::NAN));
                    out.push(BoundaryProblem::Gap { at, area });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grid answers as the exact test does, everywhere: on a grid of points finer than its
    /// cells, on every vertex and edge midpoint (boundary points are in no unit), and at random
    /// points; for units sharing a jagged boundary, a concave unit with a hole, and zones that
    /// overlap.
    #[test]
    fn the_grid_answers_as_the_exact_test() {
        use geo::{MultiPolygon, polygon};
        let jag = |x: f64| 24.0 + 0.05 * ((x * 37.0).sin() + (x * 91.0).cos());
        let xs: Vec<f64> = (0..=60).map(|i| 102.0 + i as f64 * 0.005).collect();
        let mut south: Vec<(f64, f64)> = xs.iter().map(|&x| (x, jag(x))).collect();
        south.extend([(102.3, 23.8), (102.0, 23.8)]);
        let mut north: Vec<(f64, f64)> = xs.iter().rev().map(|&x| (x, jag(x))).collect();
        north.extend([(102.0, 24.3), (102.3, 24.3)]);
        let ring = |pts: &[(f64, f64)]| {
            let mut v: Vec<Coord> = pts.iter().map(|&(x, y)| Coord { x, y }).collect();
            v.push(v[0]);
            LineString(v)
        };
        let concave = Polygon::new(
            ring(&[
                (102.31, 23.8),
                (102.6, 23.8),
                (102.6, 24.3),
                (102.45, 24.0),
                (102.31, 24.3),
            ]),
            vec![ring(&[
                (102.5, 23.85),
                (102.55, 23.85),
                (102.55, 23.9),
                (102.5, 23.9),
            ])],
        );
        let overlapping: Polygon = polygon![(x: 102.1, y: 23.9), (x: 102.5, y: 23.9), (x: 102.5, y: 24.1), (x: 102.1, y: 24.1)];
        let shapes = vec![
            MultiPolygon(vec![Polygon::new(ring(&south), vec![])]),
            MultiPolygon(vec![Polygon::new(ring(&north), vec![])]),
            MultiPolygon(vec![concave]),
            MultiPolygon(vec![overlapping]),
        ];
        let index = UnitIndex::new(
            shapes
                .iter()
                .enumerate()
                .map(|(k, s)| (k.to_string(), s.clone())),
        );
        assert!(index.grid.is_some());
        let mut points: Vec<(f64, f64)> = Vec::new();
        for i in 0..=500 {
            for j in 0..=500 {
                points.push((101.99 + i as f64 * 0.00124, 23.79 + j as f64 * 0.00104));
            }
        }
        for s in &shapes {
            for p in &s.0 {
                for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                    for l in r.lines() {
                        points.push((l.start.x, l.start.y));
                        points.push(((l.start.x + l.end.x) / 2.0, (l.start.y + l.end.y) / 2.0));
                    }
                }
            }
        }
        let mut seed = 7u64;
        for _ in 0..50_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (a, b) = (
                (seed >> 11) as f64 / (1u64 << 53) as f64,
                (seed >> 3 & 0xffff) as f64 / 65536.0,
            );
            points.push((101.99 + a * 0.63, 23.79 + b * 0.53));
        }
        let mut by_grid = 0;
        for &(x, y) in &points {
            let mut exact: Vec<usize> = index.containing_exact(x, y).collect();
            exact.sort_unstable();
            let mut got: Vec<usize> = index.containing(x, y).collect();
            got.sort_unstable();
            assert_eq!(got, exact, "containing at {x}, {y}");
            let want = exact.iter().min().map(|k| k.to_string());
            assert_eq!(
                index.locate(x, y).map(str::to_owned),
                want,
                "locate at {x}, {y}"
            );
            by_grid += usize::from(index.grid.as_ref().unwrap().lookup(x, y).is_some());
        }
        // Most points are answered by their cell, even around this jagged boundary.
        assert!(by_grid * 2 > points.len(), "{by_grid} of {}", points.len());
    }

    fn square_wkb(x0: f64, y0: f64, s: f64) -> Vec<u8> {
        let ring = [
            (x0, y0),
            (x0 + s, y0),
            (x0 + s, y0 + s),
            (x0, y0 + s),
            (x0, y0),
        ];
        let mut w = vec![1];
        w.extend_from_slice(&3u32.to_le_bytes());
        w.extend_from_slice(&1u32.to_le_bytes());
        w.extend_from_slice(&(ring.len() as u32).to_le_bytes());
        for (x, y) in ring {
            w.extend_from_slice(&f64::to_le_bytes(x));
            w.extend_from_slice(&f64::to_le_bytes(y));
        }
        w
    }

    #[test]
    fn nearest_unit_and_distance_in_metres() {
        let squares = [("A", 100.0), ("B", 100.02), ("C", 101.0)].map(|(code, x0)| {
            let Ok(Geom::Polygon(mp)) = parse_wkb(&square_wkb(x0, 25.0, 0.01)) else {
                panic!("a square")
            };
            (code.to_owned(), mp)
        });
        let idx = UnitIndex::new(squares);
        // 0.001° east of B's east edge at 25°N: about 101 m.
        let (code, m) = idx.nearest(100.031, 25.005).unwrap();
        assert_eq!(code, "B");
        assert!((m - 100.9).abs() < 1.0, "{m}");
        // Between A and B, nearer A. Inside a unit: distance zero.
        assert_eq!(idx.nearest(100.0125, 25.005).unwrap().0, "A");
        assert_eq!(idx.nearest(101.005, 25.005), Some(("C", 0.0)));
        assert_eq!(idx.nearest(f64::NAN, 25.0), None);
    }

    #[test]
    fn parses_and_locates() {
        let a = parse_wkb(&square_wkb(0.0, 0.0, 1.0)).unwrap();
        let b = parse_wkb(&square_wkb(1.0, 0.0, 1.0)).unwrap();
        let (Geom::Polygon(a), Geom::Polygon(b)) = (a, b) else {
            panic!()
        };
        let idx = UnitIndex::new([("A".to_owned(), a), ("B".to_owned(), b)]);
        assert_eq!(idx.locate(0.5, 0.5), Some("A"));
        assert_eq!(idx.locate(1.5, 0.5), Some("B"));
        assert_eq!(idx.locate(2.5, 0.5), None);
        assert!(parse_wkb(&[1, 3, 0]).is_err());
    }

    #[test]
    fn finds_gaps_and_overlaps() {
        let units = vec![
            ("A".to_owned(), square_wkb(0.0, 0.0, 1.0)),
            ("B".to_owned(), square_wkb(0.9, 0.0, 1.0)),
        ];
        let p = boundary_problems(&units, 1e-9);
        assert!(
            matches!(&p[0], BoundaryProblem::Overlap { a, b, .. } if a == "A" && b == "B"),
            "{p:?}"
        );
        // A ring of four squares around an empty middle.
        let ring = vec![
            ("N".to_owned(), square_wkb(0.0, 2.0, 3.0)),
            ("S".to_owned(), square_wkb(0.0, -1.0, 1.0)),
        ];
        let _ = ring;
        let units = vec![
            ("a".to_owned(), square_wkb(0.0, 0.0, 1.0)),
            ("b".to_owned(), square_wkb(1.0, 0.0, 1.0)),
            ("c".to_owned(), square_wkb(2.0, 0.0, 1.0)),
            ("d".to_owned(), square_wkb(0.0, 1.0, 1.0)),
            ("e".to_owned(), square_wkb(2.0, 1.0, 1.0)),
            ("f".to_owned(), square_wkb(0.0, 2.0, 1.0)),
            ("g".to_owned(), square_wkb(1.0, 2.0, 1.0)),
            ("h".to_owned(), square_wkb(2.0, 2.0, 1.0)),
        ];
        let p = boundary_problems(&units, 1e-9);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(matches!(p[0], BoundaryProblem::Gap { area, .. } if (area - 1.0).abs() < 1e-9));
    }
}
