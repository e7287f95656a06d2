//! Assessment units, hazard layers, and the assignment of records to them.

use std::collections::BTreeMap;

use geo::{
    Area, BooleanOps, BoundingRect, Centroid, InteriorPoint, Intersects, MultiPolygon, Rect,
};
use rayon::prelude::*;
use riskcensus_qc::{CleanTable, ValueRef};
use riskcensus_schema::{Registry, Rule, TableSchema};
use riskcensus_spatial::{EdgeIndex, Geom, UnitIndex, parse_wkb};

/// km² per square degree at a latitude (a local equirectangular approximation: good to well under
/// 1% across a county).
pub fn km2_per_deg2(lat: f64) -> f64 {
    111.32 * lat.to_radians().cos() * 110.57
}

pub fn area_km2(mp: &MultiPolygon) -> f64 {
    let lat = mp.centroid().map(|c| c.y()).unwrap_or(30.0);
    mp.unsigned_area() * km2_per_deg2(lat)
}

#[derive(Debug, Clone)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub shape: MultiPolygon,
    pub area_km2: f64,
    /// The shape's bounding box, computed once (a footprint is tested against it per record).
    pub bbox: Option<Rect>,
    /// The shape's boundary, indexed: whether a footprint's box is crossed by it.
    pub edges: EdgeIndex,
}

/// The units of a run, sorted by code, with a point index.
pub struct UnitSet {
    pub units: Vec<Unit>,
    pub index: UnitIndex,
}

fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(s) => Some(s.to_string()),
        ValueRef::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

impl UnitSet {
    /// Units from the clean rows of the units layer, each under the code QC placed it in (`unit`:
    /// the successor of a code the change list retired, else its own code). Rows the change list
    /// merges into one code become one unit of all their polygons, named by the row that already
    /// carries the code, else by the division list.
    pub fn from_table(table: &CleanTable, code_field: &str, name_field: &str) -> UnitSet {
        let kc = table.fields.iter().position(|f| f == code_field);
        let kn = table.fields.iter().position(|f| f == name_field);
        let mut by_code: BTreeMap<String, (Option<String>, Vec<MultiPolygon>)> = BTreeMap::new();
        for r in &table.rows {
            let Some(own) = kc.and_then(|k| text(r.values.at(k))) else {
                continue;
            };
            let Some(Ok(Geom::Polygon(shape))) = r.geometry.as_deref().map(parse_wkb) else {
                continue;
            };
            let code = r.unit.clone().unwrap_or_else(|| own.clone());
            let entry = by_code.entry(code.clone()).or_default();
            if own == code || entry.0.is_none() {
                let name = kn.and_then(|k| text(r.values.at(k)));
                if own == code {
                    entry.0 = name;
                } else {
                    entry.0 = Registry::nbs2023()
                        .get(&code)
                        .map(|d| d.name.clone())
                        .or(name);
                }
            }
            entry.1.push(shape);
        }
        let units: Vec<Unit> = by_code
            .into_iter()
            .map(|(code, (name, shapes))| {
                let shape = MultiPolygon(shapes.into_iter().flat_map(|m| m.0).collect());
                let area_km2 = area_km2(&shape);
                let bbox = shape.bounding_rect();
                let edges = EdgeIndex::new(&shape);
                Unit {
                    code,
                    name: name.unwrap_or_default(),
                    shape,
                    area_km2,
                    bbox,
                    edges,
                }
            })
            .collect();
        let index = UnitIndex::new(units.iter().map(|u| (u.code.clone(), u.shape.clone())));
        UnitSet { units, index }
    }

    /// The unit a footprint overlaps most (ties: the lowest code).
    ///
    /// Most footprints lie inside one unit: when the unit containing the footprint's interior
    /// point is the only one the footprint touches at all, it has all the overlap and no area is
    /// computed. Otherwise (a footprint on a boundary) the overlap with each unit is computed.
    pub fn largest_overlap(&self, footprint: &MultiPolygon) -> Option<&str> {
        let bb = footprint.bounding_rect()?;
        let near: Vec<&Unit> = self
            .units
            .iter()
            .filter(|u| u.bbox.is_some_and(|ub| boxes_meet(&ub, &bb)))
            .collect();
        if let Some(ip) = footprint.interior_point() {
            // The units containing it, as the index (and its grid) finds them.
            let inside: Vec<&str> = self
                .index
                .containing(ip.x(), ip.y())
                .map(|k| self.index.code(k))
                .collect();
            let mut home = near.iter().filter(|u| inside.contains(&u.code.as_str()));
            // Another unit touches the footprint only if its boundary crosses the footprint's box:
            // a box no boundary crosses is all on the side of its interior point, which is outside
            // every unit but home (checked exactly, with the polygons, only when a boundary is near).
            let (lo, hi) = (bb.min(), bb.max());
            let apart = |u: &Unit| {
                !u.edges.meets_box((lo.x, lo.y), (hi.x, hi.y)) || !u.shape.intersects(footprint)
            };
            if let (Some(home), None) = (home.next(), home.next())
                && near.iter().all(|u| std::ptr::eq(*u, *home) || apart(u))
            {
                return Some(home.code.as_str());
            }
        }
        largest_overlap_by_area(&near, footprint)
    }
}

fn boxes_meet(a: &Rect, b: &Rect) -> bool {
    !(a.max().x < b.min().x
        || b.max().x < a.min().x
        || a.max().y < b.min().y
        || b.max().y < a.min().y)
}

/// The unit of `near` a footprint overlaps most by area (ties: the first, i.e. the lowest code).
fn largest_overlap_by_area<'a>(near: &[&'a Unit], footprint: &MultiPolygon) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for u in near {
        let a = u.shape.intersection(footprint).unsigned_area();
        if a > 0.0 && best.is_none_or(|b| a > b.0) {
            best = Some((a, u.code.as_str()));
        }
    }
    best.map(|b| b.1)
}

/// A hazard layer: zones with a class.
pub struct HazardLayer {
    pub name: String,
    pub zones: Vec<(i64, MultiPolygon)>,
    /// Every class the layer's schema allows, lowest first: the unit table has a column per class
    /// whether or not the data has zones of it, so a model's columns do not depend on the data.
    pub classes: Vec<i64>,
    index: UnitIndex,
}

impl HazardLayer {
    pub fn from_table(
        name: &str,
        table: &CleanTable,
        schema: &TableSchema,
        class_field: &str,
    ) -> HazardLayer {
        let k = table.fields.iter().position(|f| f == class_field);
        let zones: Vec<(i64, MultiPolygon)> = table
            .rows
            .iter()
            .filter_map(|r| {
                let class = match r.values.at(k?) {
                    ValueRef::Int(i) => i,
                    ValueRef::Float(f) => f as i64,
                    _ => return None,
                };
                let Ok(Geom::Polygon(shape)) = parse_wkb(r.geometry.as_deref()?) else {
                    return None;
                };
                Some((class, shape))
            })
            .collect();
        // A fixed order (class, then position): sums over zones must not depend on row order.
        let mut zones = zones;
        zones.sort_by(|a, b| {
            let key = |z: &(i64, MultiPolygon)| {
                let r = z.1.bounding_rect();
                (
                    z.0,
                    r.map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
                        .unwrap_or([0.0; 4]),
                )
            };
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then_with(|| {
                ka.1.iter()
                    .zip(kb.1.iter())
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        });
        let index = UnitIndex::new(
            zones
                .iter()
                .enumerate()
                .map(|(k, z)| (k.to_string(), z.1.clone())),
        );
        let classes = class_range(schema, class_field).unwrap_or_else(|| {
            let mut c: Vec<i64> = zones.iter().map(|z| z.0).collect();
            c.sort();
            c.dedup();
            c
        });
        HazardLayer {
            name: name.to_owned(),
            zones,
            classes,
            index,
        }
    }

    /// The class at a point: the highest class of the zones containing it, 0 outside every zone.
    pub fn class_at(&self, lon: f64, lat: f64) -> i64 {
        self.index
            .containing(lon, lat)
            .map(|k| self.zones[k].0)
            .max()
            .unwrap_or(0)
    }

    /// Area-weighted mean class over a unit (uncovered area counts as class 0).
    pub fn area_weighted(&self, unit: &Unit) -> f64 {
        let total = unit.shape.unsigned_area();
        if total <= 0.0 {
            return 0.0;
        }
        let Some(ub) = unit.shape.bounding_rect() else {
            return 0.0;
        };
        let mut sum = 0.0;
        for (class, z) in &self.zones {
            let Some(zb) = z.bounding_rect() else {
                continue;
            };
            if zb.max().x < ub.min().x
                || ub.max().x < zb.min().x
                || zb.max().y < ub.min().y
                || ub.max().y < zb.min().y
            {
                continue;
            }
            sum += *class as f64 * unit.shape.intersection(z).unsigned_area();
        }
        sum / total
    }
}

/// The classes a hazard schema allows (its class field's integer range).
pub fn class_range(schema: &TableSchema, class_field: &str) -> Option<Vec<i64>> {
    let f = schema.field(class_field)?;
    let (Some(riskcensus_schema::Bound::Value(lo)), Some(riskcensus_schema::Bound::Value(hi))) =
        (f.min, f.max)
    else {
        return None;
    };
    Some((lo as i64..=hi as i64).collect())
}

/// Hazard layers among a run's tables: `hz_<name>` polygon tables with a class field `dj`.
pub fn is_hazard_table(schema: &TableSchema) -> Option<String> {
    let name = schema.code.strip_prefix("hz_")?;
    (schema.geometry == riskcensus_schema::GeometryKind::Polygon && schema.field("dj").is_some())
        .then(|| name.to_owned())
}

/// Where a record is: its point, or a point inside its footprint. The footprint itself is not
/// kept: parsed, a million footprints take about 200 MB, so [`assign`] parses each again from its
/// WKB when it needs it.
pub struct Located {
    pub point: Option<(f64, f64)>,
}

/// The lon/lat fields a schema's point rule names.
pub fn point_fields(schema: &TableSchema) -> Option<(usize, usize)> {
    schema.rules.iter().find_map(|r| match r {
        Rule::PointInUnit { lon, lat, .. } => {
            Some((schema.field_index(lon)?, schema.field_index(lat)?))
        }
        _ => None,
    })
}

/// Locates every clean record of a table (in parallel, in row order).
pub fn locate(table: &CleanTable, schema: &TableSchema) -> Vec<Located> {
    let pf = point_fields(schema);
    table
        .rows
        .par_iter()
        .map(|r| {
            // The geometry parsed once: a footprint, or a point.
            let (footprint, from_geometry) = match r.geometry.as_deref().map(parse_wkb) {
                Some(Ok(Geom::Polygon(mp))) => (Some(mp), None),
                Some(Ok(Geom::Point(p))) => (None, Some((p.x(), p.y()))),
                _ => (None, None),
            };
            let from_fields =
                pf.and_then(|(a, b)| Some((r.values.at(a).as_f64()?, r.values.at(b).as_f64()?)));
            // Inside the footprint, as QC checked it (a centroid can fall outside).
            let point = from_fields.or(from_geometry).or_else(|| {
                footprint
                    .as_ref()
                    .and_then(|f| f.interior_point())
                    .map(|c| (c.x(), c.y()))
            });
            Located { point }
        })
        .collect()
}

/// How records were assigned to units.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    /// Assigned by their declared code (checked by point-in-polygon in QC).
    pub by_code: u64,
    /// Without a usable code: by the unit their point falls in.
    pub by_point: u64,
    /// Footprints: by the unit of largest overlap.
    pub by_overlap: u64,
    /// Declared code and point disagree (QC rejects these; nonzero means a rule is missing).
    pub disagreements: u64,
    /// Neither code nor location gives a unit.
    pub unassigned: u64,
}

/// How one record found its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignedBy {
    /// Its declared township (or village) code.
    Code,
    /// The unit its point falls in.
    Point,
    /// The unit its footprint overlaps most.
    Overlap,
    /// Neither.
    None,
}

impl AssignedBy {
    /// The published value of `assigned_by` (`None`: null).
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            AssignedBy::Code => Some("code"),
            AssignedBy::Point => Some("point"),
            AssignedBy::Overlap => Some("overlap"),
            AssignedBy::None => None,
        }
    }
}

/// Where each clean record of a table went, in row order: what analysts see as `unit_code` and
/// `assigned_by`.
#[derive(Debug, Clone, Default)]
pub struct RecordUnits {
    pub unit: Vec<Option<String>>,
    pub how: Vec<AssignedBy>,
}

/// The unit of every clean record, in row order, and how each was found.
pub fn assign(
    table: &CleanTable,
    located: &[Located],
    units: &UnitSet,
) -> (RecordUnits, Assignment) {
    // Unit codes by value, and the lengths they come in: a declared code is looked up whole, then by
    // each shorter unit-code length (a township code in a county run), not compared with every unit.
    let by_code: std::collections::HashMap<&str, &str> = units
        .units
        .iter()
        .map(|u| (u.code.as_str(), u.code.as_str()))
        .collect();
    let mut lengths: Vec<usize> = units.units.iter().map(|u| u.code.len()).collect();
    lengths.sort_unstable_by(|a, b| b.cmp(a));
    lengths.dedup();
    let unit_of = |c: &str| -> Option<&str> {
        by_code.get(c).copied().or_else(|| {
            lengths
                .iter()
                .filter(|&&n| n < c.len())
                .find_map(|&n| by_code.get(c.get(..n)?).copied())
        })
    };
    let results: Vec<(Option<String>, u8)> = table
        .rows
        .par_iter()
        .zip(located.par_iter())
        .map(|(r, l)| {
            // A declared code that is a unit, or whose prefix is one (a township code in a county run).
            let declared = r
                .unit
                .as_deref()
                .filter(|_| !r.unit_from_point)
                .and_then(unit_of);
            if let Some(Ok(Geom::Polygon(fp))) = r.geometry.as_deref().map(parse_wkb)
                && let Some(u) = units.largest_overlap(&fp)
            {
                return (Some(u.to_owned()), 2);
            }
            let located = l.point.and_then(|(x, y)| units.index.locate(x, y));
            match (declared, located) {
                (Some(d), Some(p)) if d != p => (Some(d.to_owned()), 3),
                (Some(d), _) => (Some(d.to_owned()), 0),
                (None, Some(p)) => (Some(p.to_owned()), 1),
                (None, None) => (None, 4),
            }
        })
        .collect();
    let mut a = Assignment::default();
    let mut out = RecordUnits {
        unit: Vec::with_capacity(results.len()),
        how: Vec::with_capacity(results.len()),
    };
    for (u, how) in results {
        let by = match how {
            0 => {
                a.by_code += 1;
                AssignedBy::Code
            }
            1 => {
                a.by_point += 1;
                AssignedBy::Point
            }
            2 => {
                a.by_overlap += 1;
                AssignedBy::Overlap
            }
            3 => {
                a.by_code += 1;
                a.disagreements += 1;
                AssignedBy::Code
            }
            _ => {
                a.unassigned += 1;
                AssignedBy::None
            }
        };
        out.unit.push(u);
        out.how.push(by);
    }
    (out, a)
}

#[cfg(test)]
mod tests {
    use geo::{Polygon, polygon};
    use riskcensus_qc::{CleanRow, Value};
    use riskcensus_spatial::multipolygon_wkb;

    use super::*;

    fn square(x: f64, y: f64, s: f64) -> MultiPolygon {
        let p: Polygon = polygon![(x: x, y: y), (x: x + s, y: y), (x: x + s, y: y + s), (x: x, y: y + s), (x: x, y: y)];
        MultiPolygon(vec![p])
    }

    fn row(values: Vec<Value>, shape: &MultiPolygon, unit: Option<&str>) -> CleanRow {
        CleanRow {
            file: 0,
            row: 1,
            values: values.into(),
            geometry: Some(multipolygon_wkb(shape).into_boxed_slice()),
            unit: unit.map(str::to_owned),
            unit_from_point: false,
        }
    }

    /// Zones of a hazard layer may overlap (a high-class zone drawn inside a wider low one): a point
    /// in both takes the higher class, whatever order the zones come in.
    #[test]
    fn overlapping_zones_give_the_highest_class() {
        let schemas = riskcensus_schema::SchemaSet::builtin().unwrap();
        let schema = schemas.table("hz_flood").unwrap();
        for classes in [[1, 3], [3, 1]] {
            let table = CleanTable {
                table: "hz_flood".into(),
                fields: vec!["dj".into()],
                rows: vec![
                    row(
                        vec![Value::Int(classes[0])],
                        &square(100.0, 25.0, 1.0),
                        None,
                    ),
                    row(
                        vec![Value::Int(classes[1])],
                        &square(100.2, 25.2, 0.5),
                        None,
                    ),
                ],
            };
            let h = HazardLayer::from_table("flood", &table, schema, "dj");
            assert_eq!(h.class_at(100.3, 25.3), 3, "in both");
            assert_eq!(h.class_at(100.9, 25.1), classes[0], "in the wide zone only");
            assert_eq!(h.class_at(99.0, 25.0), 0, "in none");
        }
    }

    /// The shortcut for footprints inside one unit gives the unit the areas give, for footprints
    /// inside, across, on and outside the boundary of two units.
    #[test]
    fn the_inside_shortcut_agrees_with_the_areas() {
        let table = CleanTable {
            table: "xzqh_xz".into(),
            fields: vec!["xzqdm".into(), "xzqmc".into()],
            rows: vec![
                row(
                    vec![Value::Text("530402001".into()), Value::Text("甲".into())],
                    &square(102.0, 24.0, 0.1),
                    None,
                ),
                row(
                    vec![Value::Text("530402002".into()), Value::Text("乙".into())],
                    &square(102.1, 24.0, 0.1),
                    None,
                ),
            ],
        };
        let set = UnitSet::from_table(&table, "xzqdm", "xzqmc");
        let all: Vec<&Unit> = set.units.iter().collect();
        let mut checked = 0;
        for i in 0..40 {
            for j in 0..8 {
                let x = 101.99 + f64::from(i) * 0.0035;
                let y = 23.99 + f64::from(j) * 0.016;
                let fp = square(x, y, 0.002);
                assert_eq!(
                    set.largest_overlap(&fp),
                    largest_overlap_by_area(&all, &fp),
                    "footprint at {x}, {y}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 320);
        // Astride the shared edge, mostly in the second unit; exactly on it (a tie: the lower code).
        assert_eq!(
            set.largest_overlap(&square(102.099, 24.05, 0.003)),
            Some("530402002")
        );
        assert_eq!(
            set.largest_overlap(&square(102.099, 24.05, 0.002)),
            Some("530402001")
        );
        assert_eq!(set.largest_overlap(&square(103.0, 24.05, 0.002)), None);
    }

    /// Two boundary rows the change list merged into one code are one unit of both polygons, named
    /// by the division list when no row carries the code itself.
    #[test]
    fn rows_merged_into_one_code_are_one_unit() {
        let table = CleanTable {
            table: "xzqh_xz".into(),
            fields: vec!["xzqdm".into(), "xzqmc".into()],
            rows: vec![
                row(
                    vec![Value::Text("530402990".into()), Value::Text("甲镇".into())],
                    &square(102.0, 24.0, 0.1),
                    Some("530402001"),
                ),
                row(
                    vec![Value::Text("530402991".into()), Value::Text("乙镇".into())],
                    &square(102.1, 24.0, 0.1),
                    Some("530402001"),
                ),
                row(
                    vec![Value::Text("530402002".into()), Value::Text("丙镇".into())],
                    &square(102.2, 24.0, 0.1),
                    None,
                ),
            ],
        };
        let set = UnitSet::from_table(&table, "xzqdm", "xzqmc");
        let codes: Vec<&str> = set.units.iter().map(|u| u.code.as_str()).collect();
        assert_eq!(codes, ["530402001", "530402002"]);
        assert_eq!(set.units[0].shape.0.len(), 2);
        let registry_name = Registry::nbs2023().get("530402001").unwrap().name.clone();
        assert_eq!(set.units[0].name, registry_name);
        assert_eq!(set.units[1].name, "丙镇");
        assert_eq!(set.index.locate(102.15, 24.05), Some("530402001"));
        assert_eq!(set.index.locate(102.05, 24.05), Some("530402001"));
        assert!(set.units[0].area_km2 > set.units[1].area_km2 * 1.9);
    }
}
