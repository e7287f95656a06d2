//! The mess real offices send, injected at a controlled rate, each injection recorded as ground truth.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::county::{County, round6};
use crate::gcj02::{gcj02_to_wgs84, wgs84_to_gcj02};
use crate::table::{BadValue, Cell, Row, TableSpec, fullwidth};

/// What the quality checks are expected to do with a defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The readers repair it silently (title rows, full-width digits, numbers stored as text…).
    Repaired,
    /// QC reports it as an issue.
    Issue,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Repaired => "repaired",
            Self::Issue => "issue",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    TitleRows,
    FullwidthDigits,
    NumberAsText,
    TrailingSpace,
    ExcelDateSerial,
    MissingRequired,
    UnknownTownshipCode,
    StaleTownshipCode,
    VillagePrefixMismatch,
    SwappedLonLat,
    PointOutsideTownship,
    Gcj02Offset,
    DuplicateId,
    OutOfRange,
    InvalidPolygon,
    DuplicateRecord,
}

/// Defects that can be drawn for a row, in a fixed order (the draw order is part of determinism).
pub const ROW_DEFECTS: &[Defect] = &[
    Defect::FullwidthDigits,
    Defect::NumberAsText,
    Defect::TrailingSpace,
    Defect::ExcelDateSerial,
    Defect::MissingRequired,
    Defect::UnknownTownshipCode,
    Defect::StaleTownshipCode,
    Defect::VillagePrefixMismatch,
    Defect::SwappedLonLat,
    Defect::PointOutsideTownship,
    Defect::Gcj02Offset,
    Defect::DuplicateId,
    Defect::OutOfRange,
    Defect::DuplicateRecord,
];

impl Defect {
    pub fn name(self) -> &'static str {
        match self {
            Self::TitleRows => "title_rows",
            Self::FullwidthDigits => "fullwidth_digits",
            Self::NumberAsText => "number_as_text",
            Self::TrailingSpace => "trailing_space",
            Self::ExcelDateSerial => "excel_date_serial",
            Self::MissingRequired => "missing_required",
            Self::UnknownTownshipCode => "unknown_township_code",
            // A warning: the record is counted in the successor township.
            Self::StaleTownshipCode => "township_code_retired",
            Self::VillagePrefixMismatch => "village_prefix_mismatch",
            Self::SwappedLonLat => "swapped_lon_lat",
            Self::PointOutsideTownship => "point_outside_township",
            Self::Gcj02Offset => "gcj02_offset",
            Self::DuplicateId => "duplicate_id",
            Self::OutOfRange => "out_of_range",
            Self::InvalidPolygon => "invalid_polygon",
            Self::DuplicateRecord => "duplicate_record",
        }
    }

    pub fn expect(self) -> Expect {
        match self {
            Self::TitleRows
            | Self::FullwidthDigits
            | Self::NumberAsText
            | Self::TrailingSpace
            | Self::ExcelDateSerial => Expect::Repaired,
            _ => Expect::Issue,
        }
    }

    /// Whether the defect survives into a typed vector file (a DBF cannot hold full-width digits in
    /// a numeric field; there the record is written clean).
    pub fn in_vector(self) -> bool {
        self.expect() == Expect::Issue
    }
}

/// A defect applied to a row, with the field it touched.
#[derive(Debug, Clone)]
pub struct Applied {
    pub defect: Defect,
    pub field: String,
}

/// What a defect needs beyond the row.
pub struct Context<'a> {
    pub county: &'a County,
    pub reference_year: i32,
    /// Row index in the table, 0-based.
    pub index: usize,
    /// The id the row `k` of this table was given.
    pub id_of: &'a dyn Fn(usize) -> String,
    /// Whether row `k` still carries its own id (a row whose id was replaced by a duplicate does not,
    /// so its id appears nowhere earlier and cannot be duplicated).
    pub has_own_id: &'a dyn Fn(usize) -> bool,
    /// A few recent records that carry no defect, to copy for `DuplicateRecord`.
    pub recent: &'a [Row],
}

/// Draws one applicable defect and applies it. Returns `None` when no defect fits this row.
pub fn inject(
    rng: &mut ChaCha8Rng,
    row: &mut Row,
    spec: &TableSpec,
    ctx: &Context<'_>,
) -> Option<Applied> {
    let candidates: Vec<Defect> = ROW_DEFECTS
        .iter()
        .copied()
        .filter(|&d| applicable(d, row, spec, ctx))
        .collect();
    // A defect that cannot be placed (e.g. no point whose GCJ-02 offset crosses a boundary) is
    // dropped from the draw and another is tried, so the rate holds.
    let mut remaining = candidates;
    while !remaining.is_empty() {
        let d = remaining.remove(rng.random_range(0..remaining.len()));
        if let Some(field) = apply(d, rng, row, spec, ctx) {
            return Some(Applied { defect: d, field });
        }
    }
    None
}

/// The retired codes the change list maps to the row's township.
fn predecessors(county: &crate::county::County, township: usize) -> impl Iterator<Item = &str> {
    let code = county.townships.get(township).map(|t| t.code.as_str());
    county
        .stale_codes
        .iter()
        .filter(move |s| Some(s.new.as_str()) == code)
        .map(|s| s.old.as_str())
}

fn applicable(d: Defect, row: &Row, spec: &TableSpec, ctx: &Context<'_>) -> bool {
    let r = &spec.roles;
    let n_towns = ctx.county.townships.len();
    match d {
        Defect::FullwidthDigits => spec
            .of_kind(crate::table::Kind::Int)
            .iter()
            .any(|&k| matches!(row.cells[k], Cell::Int(v) if v >= 0)),
        Defect::NumberAsText => spec
            .of_kind(crate::table::Kind::Float)
            .iter()
            .any(|&k| matches!(row.cells[k], Cell::Num(_))),
        Defect::TrailingSpace => r.free_text.iter().any(|&k| !row.cells[k].is_empty()),
        Defect::ExcelDateSerial => r
            .date
            .is_some_and(|k| matches!(row.cells[k], Cell::Date(_))),
        Defect::MissingRequired => r.required.iter().any(|&k| !row.cells[k].is_empty()),
        Defect::UnknownTownshipCode => {
            (r.township.is_some() || r.village.is_some()) && !ctx.county.unknown_codes.is_empty()
        }
        // A retired code stands in for the code of the township it was merged into, so QC can
        // count the record there: only records of a successor township get one.
        Defect::StaleTownshipCode => {
            (r.township.is_some() || r.village.is_some())
                && predecessors(ctx.county, row.township).next().is_some()
        }
        Defect::VillagePrefixMismatch => r.township.is_some() && r.village.is_some() && n_towns > 1,
        Defect::SwappedLonLat | Defect::Gcj02Offset => row.point.is_some(),
        Defect::PointOutsideTownship => {
            row.point.is_some() && n_towns > 1 && r.township.or(r.village).is_some()
        }
        Defect::DuplicateId => r.id.is_some() && ctx.index > 0,
        Defect::OutOfRange => !r.ranges.is_empty(),
        Defect::DuplicateRecord => r.id.is_some() && row.point.is_some() && !ctx.recent.is_empty(),
        Defect::TitleRows | Defect::InvalidPolygon => false,
    }
}

fn code_of(spec: &TableSpec, k: usize) -> String {
    spec.columns[k].code.clone()
}

/// Applies a defect; returns the field code it touched, or `None` if it could not be placed.
fn apply(
    d: Defect,
    rng: &mut ChaCha8Rng,
    row: &mut Row,
    spec: &TableSpec,
    ctx: &Context<'_>,
) -> Option<String> {
    let r = &spec.roles;
    let county = ctx.county;
    match d {
        Defect::FullwidthDigits => {
            let ks: Vec<usize> = spec
                .of_kind(crate::table::Kind::Int)
                .into_iter()
                .filter(|&k| matches!(row.cells[k], Cell::Int(v) if v >= 0))
                .collect();
            let k = ks[rng.random_range(0..ks.len())];
            if let Cell::Int(v) = row.cells[k] {
                row.cells[k] = Cell::NumText(fullwidth(&v.to_string()));
            }
            Some(code_of(spec, k))
        }
        Defect::NumberAsText => {
            let ks: Vec<usize> = spec
                .of_kind(crate::table::Kind::Float)
                .into_iter()
                .filter(|&k| matches!(row.cells[k], Cell::Num(_)))
                .collect();
            let k = ks[rng.random_range(0..ks.len())];
            if let Cell::Num(v) = row.cells[k] {
                row.cells[k] = Cell::NumText(format!("{v}"));
            }
            Some(code_of(spec, k))
        }
        Defect::TrailingSpace => {
            let ks: Vec<usize> = r
                .free_text
                .iter()
                .copied()
                .filter(|&k| !row.cells[k].is_empty())
                .collect();
            let k = ks[rng.random_range(0..ks.len())];
            if let Cell::Text(s) = &mut row.cells[k] {
                s.push_str(if rng.random_bool(0.5) {
                    "  "
                } else {
                    " \u{3000}"
                });
            }
            Some(code_of(spec, k))
        }
        Defect::ExcelDateSerial => {
            let k = r.date?;
            if let Cell::Date(v) = row.cells[k] {
                row.cells[k] = Cell::Serial(v);
            }
            Some(code_of(spec, k))
        }
        Defect::MissingRequired => {
            let ks: Vec<usize> = r
                .required
                .iter()
                .copied()
                .filter(|&k| !row.cells[k].is_empty())
                .collect();
            let k = ks[rng.random_range(0..ks.len())];
            row.cells[k] = Cell::Empty;
            Some(code_of(spec, k))
        }
        Defect::UnknownTownshipCode | Defect::StaleTownshipCode => {
            let code = if d == Defect::UnknownTownshipCode {
                county.unknown_codes[rng.random_range(0..county.unknown_codes.len())].clone()
            } else {
                let olds: Vec<&str> = predecessors(county, row.township).collect();
                olds[rng.random_range(0..olds.len())].to_owned()
            };
            // Keep the village code consistent with the (bad) township code, so that the row has
            // exactly one defect.
            if let Some(kv) = r.village
                && let Some(v) = row.cells[kv].as_text()
            {
                let seg = v.get(9..12).unwrap_or("001").to_owned();
                row.cells[kv] = Cell::Text(format!("{code}{seg}"));
            }
            match r.township {
                Some(kt) => {
                    row.cells[kt] = Cell::Text(code);
                    Some(code_of(spec, kt))
                }
                None => r.village.map(|kv| code_of(spec, kv)),
            }
        }
        Defect::VillagePrefixMismatch => {
            let (kt, kv) = (r.township?, r.village?);
            let other = pick_other_township(rng, county, row.township);
            let v = &county.townships[other].villages;
            let village = &v[rng.random_range(0..v.len())];
            row.cells[kv] = Cell::Text(village.code.clone());
            let _ = kt;
            Some(code_of(spec, kv))
        }
        Defect::SwappedLonLat => {
            let (lon, lat) = row.point?;
            set_point(row, spec, (lat, lon));
            r.lon.map(|k| code_of(spec, k))
        }
        Defect::PointOutsideTownship => {
            // A point in another township that no GCJ-02 correction would bring back home, so the
            // defect is unambiguous.
            for _ in 0..64 {
                let other = pick_other_township(rng, county, row.township);
                let p = county.point_in(other, rng);
                let back = gcj02_to_wgs84(p.0, p.1);
                if county.township_at(back.0, back.1) != Some(row.township) {
                    set_point(row, spec, p);
                    return r.lon.map(|k| code_of(spec, k));
                }
            }
            None
        }
        Defect::Gcj02Offset => {
            // Only a shift that carries the point out of its township (and stays in the county) can
            // be found by a check; look for a true position near a boundary.
            for _ in 0..400 {
                let p = county.point_in(row.township, rng);
                let g = wgs84_to_gcj02(p.0, p.1);
                let g = (round6(g.0), round6(g.1));
                let lands = county.township_at(g.0, g.1);
                let back = gcj02_to_wgs84(g.0, g.1);
                if lands.is_some()
                    && lands != Some(row.township)
                    && county.township_at(back.0, back.1) == Some(row.township)
                {
                    set_point(row, spec, g);
                    return r.lon.map(|k| code_of(spec, k));
                }
            }
            None
        }
        Defect::DuplicateId => {
            let k = r.id?;
            for _ in 0..64 {
                let earlier = rng.random_range(0..ctx.index);
                if (ctx.has_own_id)(earlier) {
                    row.cells[k] = Cell::Text((ctx.id_of)(earlier));
                    return Some(code_of(spec, k));
                }
            }
            None
        }
        Defect::OutOfRange => {
            let (k, bad) = r.ranges[rng.random_range(0..r.ranges.len())];
            row.cells[k] = match bad {
                BadValue::Zero => Cell::Int(0),
                BadValue::Negative => Cell::Int(-rng.random_range(1..50)),
                BadValue::FutureYear => {
                    Cell::Int((ctx.reference_year + rng.random_range(1..4)) as i64)
                }
            };
            Some(code_of(spec, k))
        }
        Defect::DuplicateRecord => {
            // The same building entered twice: every field of a recent record but its own id.
            let k = r.id?;
            let original = &ctx.recent[rng.random_range(0..ctx.recent.len())];
            let id = std::mem::replace(&mut row.cells[k], Cell::Empty);
            row.cells.clone_from(&original.cells);
            row.cells[k] = id;
            row.township = original.township;
            row.point = original.point;
            Some(code_of(spec, k))
        }
        Defect::TitleRows | Defect::InvalidPolygon => None,
    }
}

fn pick_other_township(rng: &mut ChaCha8Rng, county: &County, not: usize) -> usize {
    let n = county.townships.len();
    let k = rng.random_range(0..n - 1);
    if k >= not { k + 1 } else { k }
}

fn set_point(row: &mut Row, spec: &TableSpec, p: (f64, f64)) {
    row.point = Some(p);
    if let Some(k) = spec.roles.lon {
        row.cells[k] = Cell::Num(p.0);
    }
    if let Some(k) = spec.roles.lat {
        row.cells[k] = Cell::Num(p.1);
    }
}
