//! Risk grading maps (风险区划图): one per hazard and one composite, as SVG and PNG (A4 landscape,
//! 300 dpi): units filled with their grade colour, Chinese unit names, a title, a legend with each
//! grade's count, a scale bar, a north arrow, the CRS and the data date. The CJK font is loaded
//! explicitly from Debian's fonts-wqy-microhei; without it the run fails (resvg would otherwise
//! drop every character silently).

use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use geo::{Area, BoundingRect, InteriorPoint, MultiPolygon};
use riskcensus_spatial::{Geom, parse_wkb};

use riskcensus_risk::Model;

use crate::{Error, Result};

/// The region a map shows, for its title and footer.
pub struct Region<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub year: i32,
}

/// A4 landscape at 300 dpi.
pub const WIDTH: u32 = 3508;
pub const HEIGHT: u32 = 2480;
/// Size of the unit names, in pixels at 300 dpi (about 8 pt).
const LABEL_SIZE: f64 = 34.0;
/// Size of county names on a map of several counties.
const OUTLINE_LABEL_SIZE: f64 = 52.0;
/// The font the maps name; loaded from these files (first found).
pub const FONT_FAMILY: &str = "WenQuanYi Micro Hei";
pub const FONT_FILES: &[&str] = &["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"];

fn merr(e: impl std::fmt::Display) -> Error {
    Error::Report(format!("cannot draw the maps: {e}"))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One unit on a map.
pub struct MapUnit<'a> {
    pub name: &'a str,
    pub shape: &'a MultiPolygon,
    pub color: &'a str,
}

/// A heavier outline with its name: the counties on a provincial or city map.
pub struct Outline {
    pub name: String,
    pub shape: MultiPolygon,
}

/// The map frame on the page (x, y, width, height in pixels): the units are fitted inside it.
const FRAME: (f64, f64, f64, f64) = (120.0, 260.0, 2500.0, 2050.0);

/// How longitude and latitude become page pixels: an equirectangular projection scaled at the
/// units' middle latitude, fitted and centred in [`FRAME`].
struct Projection {
    /// The units' bounding box (x0, y0, x1, y1), in degrees.
    bb: [f64; 4],
    /// Shrink of a degree of longitude at the middle latitude.
    kx: f64,
    /// Pixels per degree of latitude.
    scale: f64,
    /// Page position of the box's west and north edges.
    ox: f64,
    oy: f64,
}

impl Projection {
    /// The projection that fits every unit into the frame.
    fn fit(units: &[MapUnit]) -> Projection {
        let (fx0, fy0, fw, fh) = FRAME;
        let mut bb = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for u in units {
            if let Some(r) = u.shape.bounding_rect() {
                bb = [
                    bb[0].min(r.min().x),
                    bb[1].min(r.min().y),
                    bb[2].max(r.max().x),
                    bb[3].max(r.max().y),
                ];
            }
        }
        let lat0 = ((bb[1] + bb[3]) / 2.0).to_radians();
        let kx = lat0.cos();
        let (w, h) = (((bb[2] - bb[0]) * kx).max(1e-9), (bb[3] - bb[1]).max(1e-9));
        let scale = (fw / w).min(fh / h);
        let (ox, oy) = (fx0 + (fw - w * scale) / 2.0, fy0 + (fh - h * scale) / 2.0);
        Projection {
            bb,
            kx,
            scale,
            ox,
            oy,
        }
    }

    /// A point's page position.
    fn px(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.ox + (x - self.bb[0]) * self.kx * self.scale,
            self.oy + (self.bb[3] - y) * self.scale,
        )
    }

    /// The SVG path data of a (multi)polygon, every ring closed.
    fn path(&self, shape: &MultiPolygon) -> String {
        let mut d = String::new();
        for poly in &shape.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for (k, c) in ring.0.iter().enumerate() {
                    let (x, y) = self.px(c.x, c.y);
                    let _ = write!(d, "{}{x:.1},{y:.1}", if k == 0 { "M" } else { "L" });
                }
                d.push('Z');
            }
        }
        d
    }
}

/// The boxes of the names placed so far: a name is drawn only where it overlaps none of them.
#[derive(Default)]
struct LabelBoxes(Vec<[f64; 4]>);

impl LabelBoxes {
    /// Whether `name` at `size`, centred at (x, y), is clear of every placed name; if so it is
    /// placed.
    fn fits(&mut self, x: f64, y: f64, name: &str, size: f64) -> bool {
        let half = (name.chars().count() as f64 * size + 12.0) / 2.0;
        let r = [x - half, y - size * 0.6, x + half, y + size * 0.6];
        let free = self
            .0
            .iter()
            .all(|q| r[2] <= q[0] || q[2] <= r[0] || r[3] <= q[1] || q[3] <= r[1]);
        if free {
            self.0.push(r);
        }
        free
    }
}

/// The SVG of one map.
#[allow(clippy::too_many_arguments)]
pub fn svg(
    title: &str,
    subtitle: &str,
    units: &[MapUnit],
    outlines: &[Outline],
    legend: &[(String, String, u64, String)],
    footer: &str,
) -> String {
    let proj = Projection::fit(units);
    let mut s = String::new();
    write_page(&mut s, title, subtitle);
    write_shapes(&mut s, &proj, units, outlines);
    // County names (on a map of several counties) go first, larger, and win any overlap.
    let mut placed = LabelBoxes::default();
    write_outline_names(&mut s, &proj, outlines, &mut placed);
    write_unit_names(&mut s, &proj, units, &mut placed);
    write_legend(&mut s, legend);
    write_scale_bar(&mut s, proj.scale);
    write_north_arrow(&mut s);
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" font-size="40" fill="#333">{}</text>"##,
        FRAME.0,
        HEIGHT - 70,
        esc(footer)
    );
    s.push_str("</svg>\n");
    s
}

/// The SVG element, a white page, the title and the subtitle.
fn write_page(s: &mut String, title: &str, subtitle: &str) {
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="297mm" height="210mm" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT_FAMILY}">"#
    );
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="150" font-size="84" text-anchor="middle" fill="#111">{}</text>"##,
        WIDTH / 2,
        esc(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="225" font-size="44" text-anchor="middle" fill="#444">{}</text>"##,
        WIDTH / 2,
        esc(subtitle)
    );
}

/// The units filled with their grade colours, then the heavier county outlines over them.
fn write_shapes(s: &mut String, proj: &Projection, units: &[MapUnit], outlines: &[Outline]) {
    for u in units {
        let _ = writeln!(
            s,
            r##"<path d="{}" fill="{}" fill-rule="evenodd" stroke="#404040" stroke-width="3"/>"##,
            proj.path(u.shape),
            u.color
        );
    }
    for o in outlines {
        let _ = writeln!(
            s,
            r##"<path d="{}" fill="none" stroke="#111111" stroke-width="9" stroke-linejoin="round"/>"##,
            proj.path(&o.shape)
        );
    }
}

/// The county names of a map of several counties, each at an interior point where it fits.
fn write_outline_names(
    s: &mut String,
    proj: &Projection,
    outlines: &[Outline],
    placed: &mut LabelBoxes,
) {
    for o in outlines {
        if let Some(p) = o.shape.interior_point() {
            let (x, y) = proj.px(p.x(), p.y());
            if placed.fits(x, y, &o.name, OUTLINE_LABEL_SIZE) {
                let _ = writeln!(
                    s,
                    r##"<text x="{x:.1}" y="{:.1}" font-size="{OUTLINE_LABEL_SIZE}" text-anchor="middle" fill="#000" stroke="#ffffff" stroke-width="12" paint-order="stroke">{}</text>"##,
                    y + OUTLINE_LABEL_SIZE * 0.35,
                    esc(&o.name)
                );
            }
        }
    }
}

/// The unit names: larger units first, each at an interior point; a name that would overlap one
/// already placed is left out (and counted in a note), as on any printed map of small units.
fn write_unit_names(s: &mut String, proj: &Projection, units: &[MapUnit], placed: &mut LabelBoxes) {
    let mut order: Vec<usize> = (0..units.len()).collect();
    let area = |i: usize| units[i].shape.unsigned_area();
    order.sort_by(|&a, &b| area(b).total_cmp(&area(a)).then(a.cmp(&b)));
    let mut at: Vec<Option<(f64, f64)>> = vec![None; units.len()];
    for i in order {
        let Some(p) = units[i].shape.interior_point() else {
            continue;
        };
        let (x, y) = proj.px(p.x(), p.y());
        if placed.fits(x, y, units[i].name, LABEL_SIZE) {
            at[i] = Some((x, y));
        }
    }
    for (u, a) in units.iter().zip(&at) {
        if let Some((x, y)) = a {
            let _ = writeln!(
                s,
                r##"<text x="{x:.1}" y="{:.1}" font-size="{LABEL_SIZE}" text-anchor="middle" fill="#111" stroke="#ffffff" stroke-width="8" paint-order="stroke">{}</text>"##,
                y + LABEL_SIZE * 0.35,
                esc(u.name)
            );
        }
    }
    let unlabelled = at.iter().filter(|a| a.is_none()).count();
    if unlabelled > 0 {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" font-size="36" text-anchor="end" fill="#555">{unlabelled} 个单元因空间不足未标注名称</text>"##,
            WIDTH - 120,
            HEIGHT - 70
        );
    }
}

/// The legend: per grade its colour, label, number of units and score range.
fn write_legend(s: &mut String, legend: &[(String, String, u64, String)]) {
    let (lx, mut ly) = (2760.0, 420.0);
    let _ = writeln!(
        s,
        r##"<text x="{lx}" y="{}" font-size="56" fill="#111">图例（风险等级）</text>"##,
        ly - 60.0
    );
    for (label, color, n, range) in legend {
        let _ = writeln!(
            s,
            r##"<rect x="{lx}" y="{ly}" width="110" height="70" fill="{color}" stroke="#404040" stroke-width="3"/>"##
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" font-size="46" fill="#111">{}（{n} 个）</text>"##,
            lx + 140.0,
            ly + if range.is_empty() { 52.0 } else { 40.0 },
            esc(label)
        );
        if !range.is_empty() {
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" font-size="32" fill="#555">{}</text>"##,
                lx + 140.0,
                ly + 82.0,
                esc(range)
            );
        }
        ly += 110.0;
    }
}

/// The scale bar: a round length near 500 px, at `scale` pixels per degree of latitude.
fn write_scale_bar(s: &mut String, scale: f64) {
    let km_per_px = 111.32 / scale;
    let target = km_per_px * 500.0;
    let nice = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        .into_iter()
        .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()))
        .unwrap_or(10.0);
    let bar = nice / km_per_px;
    let (sx, sy) = (2760.0, 1980.0);
    let _ = writeln!(
        s,
        r##"<rect x="{sx}" y="{sy}" width="{:.1}" height="24" fill="#111"/>"##,
        bar / 2.0
    );
    let _ = writeln!(
        s,
        r##"<rect x="{:.1}" y="{sy}" width="{:.1}" height="24" fill="#ffffff" stroke="#111" stroke-width="4"/>"##,
        sx + bar / 2.0,
        bar / 2.0
    );
    let _ = writeln!(
        s,
        r##"<text x="{sx}" y="{}" font-size="40" fill="#111">0</text>"##,
        sy - 16.0
    );
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{}" font-size="40" fill="#111" text-anchor="middle">{} 千米</text>"##,
        sx + bar,
        sy - 16.0,
        nice
    );
}

/// The north arrow and its 北.
fn write_north_arrow(s: &mut String) {
    let (nx, ny) = (3250.0, 1650.0);
    let _ = writeln!(
        s,
        r##"<path d="M{nx},{} L{},{} L{nx},{} L{},{} Z" fill="#111"/>"##,
        ny - 140.0,
        nx + 55.0,
        ny + 60.0,
        ny + 20.0,
        nx - 55.0,
        ny + 60.0
    );
    let _ = writeln!(
        s,
        r##"<text x="{nx}" y="{}" font-size="64" text-anchor="middle" fill="#111">北</text>"##,
        ny - 165.0
    );
}

/// Renders an SVG to PNG with the CJK font loaded explicitly.
pub fn render_png(svg: &str) -> Result<Vec<u8>> {
    let mut opt = resvg::usvg::Options::default();
    for f in FONT_FILES {
        if let Ok(bytes) = std::fs::read(f) {
            opt.fontdb_mut().load_font_data(bytes);
        }
    }
    if opt.fontdb.is_empty() {
        return Err(Error::Report(format!(
            "no CJK font for the maps: {} not found (hint: install Debian's fonts-wqy-microhei; scripts/setup.sh does)",
            FONT_FILES.join(", ")
        )));
    }
    let tree = resvg::usvg::Tree::from_str(svg, &opt).map_err(merr)?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(WIDTH, HEIGHT).ok_or_else(|| merr("pixmap"))?;
    // The SVG is sized in millimetres (A4); scale its user units to 300 dpi pixels.
    let size = tree.size();
    let fit = resvg::tiny_skia::Transform::from_scale(
        WIDTH as f32 / size.width(),
        HEIGHT as f32 / size.height(),
    );
    resvg::render(&tree, fit, &mut pixmap.as_mut());
    pixmap.encode_png().map_err(merr)
}

/// Draws one map per graded score into `maps/`; returns the files written.
pub fn draw_all(
    region: &Region,
    out_dir: &Path,
    model: &Model,
    scored: &riskcensus_risk::ScoredUnits,
    shapes: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<Vec<PathBuf>> {
    let df = &scored.df;
    let dir = out_dir.join("maps");
    std::fs::create_dir_all(&dir).map_err(merr)?;
    let codes: Vec<String> = crate::text_column(df, "unit_code")?;
    let names: Vec<String> = crate::text_column(df, "unit_name")?;
    let polygons = unit_polygons(&codes, shapes);
    let outlines = county_outlines(&codes, &polygons);
    // The maps are drawn side by side (rendering a 300 dpi page is the costly part) and written in
    // the model's order.
    let drawn: Vec<Result<(String, String, Vec<u8>)>> = model
        .scores
        .par_iter()
        .map(|s| {
            let prefix = score_prefix(s);
            let colors = grade_colors(df, &prefix, &model.grading.no_rating_color)?;
            let units: Vec<MapUnit> = polygons
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    Some(MapUnit {
                        name: &names[i],
                        shape: p.as_ref()?,
                        color: &colors[i],
                    })
                })
                .collect();
            let legend = legend(model, scored, &prefix);
            let texts = MapTexts::of(region, model, s, &prefix, units.len());
            let text = svg(
                &texts.title,
                &texts.subtitle,
                &units,
                &outlines,
                &legend,
                &texts.footer,
            );
            let png = render_png(&text)?;
            Ok((prefix, text, png))
        })
        .collect();
    let mut written = Vec::new();
    for map in drawn {
        let (prefix, text, png) = map?;
        for (ext, bytes) in [("svg", text.into_bytes()), ("png", png)] {
            let p = dir.join(format!("{prefix}.{ext}"));
            crate::write_atomic(&p, &bytes)?;
            written.push(p);
        }
    }
    Ok(written)
}

/// The column prefix of a score's outputs: `composite` for the composite score, else its name.
pub fn score_prefix(s: &riskcensus_risk::model::Score) -> String {
    if s.kind == riskcensus_risk::model::ScoreKind::Composite {
        "composite".to_owned()
    } else {
        s.name.clone()
    }
}

/// Each unit's polygon, parsed once for every map (`None` for a unit without one).
fn unit_polygons(
    codes: &[String],
    shapes: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Vec<Option<MultiPolygon>> {
    codes
        .iter()
        .map(|c| match parse_wkb(shapes.get(c)?).ok()? {
            Geom::Polygon(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// Each unit's grade colour for the score `prefix`; the no-rating colour where it has none.
fn grade_colors(df: &polars::prelude::DataFrame, prefix: &str, none: &str) -> Result<Vec<String>> {
    Ok(df
        .column(&format!("{prefix}_color"))?
        .str()?
        .iter()
        .map(|c| c.unwrap_or(none).to_owned())
        .collect())
}

/// The legend of a score: per grade its label, colour, number of units and score range, highest
/// grade first; the no-rating grade only when some unit has it.
fn legend(
    model: &Model,
    scored: &riskcensus_risk::ScoredUnits,
    prefix: &str,
) -> Vec<(String, String, u64, String)> {
    let ranges = grade_ranges(
        &scored.breaks.get(prefix).cloned().unwrap_or_default(),
        model.grading.classes,
    );
    scored
        .grade_counts
        .get(prefix)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter(|(_, g)| g.2 > 0 || g.0 != model.grading.no_rating_label)
        .map(|(k, (label, color, n))| {
            let range = ranges.get(k).cloned().unwrap_or_default();
            (label, color, n, range)
        })
        .collect()
}

/// The words of one map: title, subtitle and footer.
struct MapTexts {
    title: String,
    subtitle: String,
    footer: String,
}

impl MapTexts {
    /// The texts of the map of score `s` (column prefix `prefix`) with `units` units drawn.
    fn of(
        region: &Region,
        model: &Model,
        s: &riskcensus_risk::model::Score,
        prefix: &str,
        units: usize,
    ) -> MapTexts {
        let label = match (s.label_zh.is_empty(), prefix == "composite") {
            (false, _) => s.label_zh.clone(),
            (true, true) => "综合".to_owned(),
            (true, false) => s.name.clone(),
        };
        let title = format!(
            "{}{label}{}等级图",
            region.name,
            if label.ends_with("风险") {
                ""
            } else {
                "风险"
            }
        );
        let subtitle = format!(
            "{}（{}）· 普查标准时点 {} 年 12 月 31 日 · 模型 {}",
            region.name, region.code, region.year, model.name
        );
        let footer = format!(
            "坐标系：CGCS2000（EPSG:4490）  数据时点：{} 年  单元数：{}  制图：riskcensus {}",
            region.year,
            units,
            env!("CARGO_PKG_VERSION")
        );
        MapTexts {
            title,
            subtitle,
            footer,
        }
    }
}

/// Whether a PNG shows a colour (`#rrggbb`) anywhere, for tests and checks.
pub fn png_has_color(png: &[u8], color: &str) -> bool {
    let Ok(p) = resvg::tiny_skia::Pixmap::decode_png(png) else {
        return false;
    };
    let c = u32::from_str_radix(color.trim_start_matches('#'), 16).unwrap_or(0);
    let (r, g, b) = ((c >> 16) as u8, (c >> 8) as u8, c as u8);
    p.pixels()
        .iter()
        .any(|px| px.red() == r && px.green() == g && px.blue() == b && px.alpha() == 255)
}

/// Dimensions of a PNG.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    resvg::tiny_skia::Pixmap::decode_png(png)
        .ok()
        .map(|p| (p.width(), p.height()))
}

/// The box (x0, y0, x1, y1) holding every pixel that is not white, for tests and checks.
pub fn png_ink_extent(png: &[u8]) -> Option<(u32, u32, u32, u32)> {
    let p = resvg::tiny_skia::Pixmap::decode_png(png).ok()?;
    let w = p.width();
    let mut bb: Option<(u32, u32, u32, u32)> = None;
    for (i, px) in p.pixels().iter().enumerate() {
        if px.red() < 250 || px.green() < 250 || px.blue() < 250 {
            let (x, y) = (i as u32 % w, i as u32 / w);
            bb = Some(match bb {
                None => (x, y, x, y),
                Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
            });
        }
    }
    bb
}

/// The counties of a map's units, outlined and named, when the units span more than one county.
fn county_outlines(codes: &[String], polygons: &[Option<MultiPolygon>]) -> Vec<Outline> {
    let mut groups: std::collections::BTreeMap<&str, Vec<geo::Polygon>> = Default::default();
    for (c, p) in codes.iter().zip(polygons) {
        if let (Some(county), Some(mp)) = (c.get(..6), p) {
            groups
                .entry(county)
                .or_default()
                .extend(mp.0.iter().cloned());
        }
    }
    if groups.len() < 2 {
        return Vec::new();
    }
    let registry = riskcensus_schema::divisions::Registry::nbs2023();
    groups
        .into_iter()
        .map(|(county, polys)| Outline {
            name: registry
                .get(county)
                .map_or_else(|| county.to_owned(), |d| d.name.clone()),
            shape: geo::unary_union(&polys),
        })
        .collect()
}

/// A score for the legend: three significant digits, no trailing zeros.
fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// The score range of each grade, highest grade first, as the legend shows it. Breaks run lowest
/// first and a score on a break belongs to the grade below it (as the grading does).
pub fn grade_ranges(breaks: &[f64], classes: usize) -> Vec<String> {
    if classes < 2 || breaks.len() + 1 != classes {
        return Vec::new();
    }
    (0..classes)
        .map(|k| {
            let c = classes - 1 - k;
            match (c.checked_sub(1).map(|i| breaks[i]), breaks.get(c)) {
                (None, Some(hi)) => format!("指数 ≤ {}", num(*hi)),
                (Some(lo), None) => format!("指数 > {}", num(lo)),
                (Some(lo), Some(hi)) => format!("{} < 指数 ≤ {}", num(lo), num(*hi)),
                (None, None) => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn legend_ranges_run_highest_grade_first() {
        assert_eq!(
            super::grade_ranges(&[0.1, 0.25, 1.5, 40.0], 5),
            [
                "指数 > 40",
                "1.5 < 指数 ≤ 40",
                "0.25 < 指数 ≤ 1.5",
                "0.1 < 指数 ≤ 0.25",
                "指数 ≤ 0.1"
            ]
        );
        assert_eq!(super::num(0.176440543), "0.176");
        assert_eq!(super::num(1234.6), "1235");
        assert!(super::grade_ranges(&[1.0], 5).is_empty());
    }
}
