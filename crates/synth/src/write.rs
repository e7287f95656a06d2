//! Writing a whole synthetic county to a directory.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use gdal::vector::Geometry;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::county::{County, TownshipKind};
use crate::defects::{self, Defect, Expect};
use crate::grid::splitmix;
use crate::hazards::{self, LAYERS};
use crate::table::{Cell, Column, Kind, Roles, Row, TableSpec};
use crate::tables;
use crate::truth::TruthWriter;
use crate::vector::{GeomKind, ShapeWriter, wkb_point, wkb_polygon};
use crate::xlsx::{Layout, PartedWriter};
use crate::{BuildingGeometry, Error, Options, Progress, Result, Summary};

/// Average residents per building record, to size the population table to the buildings.
const RESIDENTS_PER_BUILDING: f64 = 2.4;

struct Ctx<'a> {
    opts: &'a Options,
    county: &'a County,
    truth: TruthWriter,
    summary: Summary,
}

/// Generates the county described by `opts` into `opts.out`. Same options, same bytes.
pub fn generate(opts: &Options, progress: &mut dyn FnMut(Progress<'_>)) -> Result<Summary> {
    opts.validate()?;
    let county = County::build(&opts.county, opts.seed)?;
    fs::create_dir_all(&opts.out).map_err(|source| Error::Io {
        path: opts.out.clone(),
        source,
    })?;
    tracing::info!(county = %county.code, name = %county.name, townships = county.townships.len(), "county laid out");
    let truth = TruthWriter::create(&opts.out.join("ground_truth.csv"))?;
    let mut ctx = Ctx {
        opts,
        county: &county,
        truth,
        summary: Summary {
            county_code: county.code.clone(),
            county_name: county.name.clone(),
            townships: county.townships.len(),
            ..Summary::default()
        },
    };

    write_townships(&mut ctx)?;
    for k in 0..LAYERS.len() {
        write_hazard_layer(&mut ctx, k)?;
    }
    let expected: Vec<f64> = {
        let total: f64 = county.townships.iter().map(|t| t.weight).sum();
        county
            .townships
            .iter()
            .map(|t| t.weight / total * opts.buildings as f64 * RESIDENTS_PER_BUILDING)
            .collect()
    };
    write_small_tables(&mut ctx, &expected)?;
    write_buildings(&mut ctx, progress)?;
    if opts.all_tables {
        write_census_forms(&mut ctx)?;
    }
    write_division_changes(&ctx)?;
    let Ctx {
        truth, mut summary, ..
    } = ctx;
    summary.defects = truth.finish()?;
    write_pipeline(opts, &county, &summary)?;
    write_readme(opts, &county, &summary)?;
    Ok(summary)
}

fn rng_for(opts: &Options, stream: &str) -> ChaCha8Rng {
    let mut h = opts.seed;
    for b in stream.bytes() {
        h = splitmix(h ^ b as u64);
    }
    ChaCha8Rng::seed_from_u64(h)
}

fn layout(opts: &Options, county: &County, spec: &TableSpec) -> Layout {
    if opts.defect_rate > 0.0 {
        Layout::Messy {
            title: format!(
                "{}{}（{}年）",
                county.name, spec.name_zh, opts.reference_year
            ),
            note: format!(
                "填报单位：{}自然灾害综合风险普查办公室    标准时点：{}年12月31日",
                county.name, opts.reference_year
            ),
        }
    } else {
        Layout::Plain
    }
}

/// Recent clean records kept for the duplicate-record defect.
const RECENT: usize = 8;

/// Vector copy of a table, if any.
#[derive(Clone, Copy)]
enum VectorCopy {
    None,
    Point,
    Footprint,
}

/// Writes one table: xlsx parts, an optional shapefile, and the ground truth of its defects.
fn write_table(
    ctx: &mut Ctx<'_>,
    spec: &TableSpec,
    rows: &mut dyn Iterator<Item = Row>,
    id_of: &dyn Fn(usize) -> String,
    vector: VectorCopy,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let opts = ctx.opts;
    let mut defect_rng = rng_for(opts, &format!("defects/{}", spec.code));
    let mut xlsx = PartedWriter::new(&opts.out, spec, layout(opts, ctx.county, spec));
    let vector_name = format!("{}.shp", spec.file_stem);
    let mut shp = match vector {
        VectorCopy::None => None,
        VectorCopy::Point => Some(ShapeWriter::create(
            &opts.out.join(&vector_name),
            spec,
            GeomKind::Point,
        )?),
        VectorCopy::Footprint => Some(ShapeWriter::create(
            &opts.out.join(&vector_name),
            spec,
            GeomKind::Polygon,
        )?),
    };
    let mut files_seen = 0usize;
    let mut replaced_ids: Vec<usize> = Vec::new();
    // A small ring of recent defect-free records, for the "entered twice" defect.
    let mut recent: Vec<Row> = Vec::with_capacity(RECENT);
    let mut n = 0u64;
    for (k, mut row) in rows.enumerate() {
        let mut applied = None;
        let mut clean = None;
        if opts.defect_rate > 0.0 && defect_rng.random_bool(opts.defect_rate) {
            if shp.is_some() {
                clean = Some(row.cells.clone());
            }
            let dctx = defects::Context {
                county: ctx.county,
                reference_year: opts.reference_year,
                index: k,
                id_of,
                has_own_id: &|j| replaced_ids.binary_search(&j).is_err(),
                recent: &recent,
            };
            applied = defects::inject(&mut defect_rng, &mut row, spec, &dctx);
            if applied
                .as_ref()
                .is_some_and(|a| a.defect == Defect::DuplicateId)
            {
                // Rows come in order, so the list stays sorted; it holds only the few duplicates.
                replaced_ids.push(k);
            }
        }
        if applied.is_none() && k % 7 == 0 && row.point.is_some() {
            if recent.len() == RECENT {
                recent.remove(0);
            }
            recent.push(row.clone());
        }
        let (file, excel_row) = xlsx.write(&row.cells)?;
        let file = file.to_owned();
        if xlsx.files.len() > files_seen {
            files_seen = xlsx.files.len();
            if opts.defect_rate > 0.0 {
                ctx.truth
                    .record(&spec.code, None, "", Defect::TitleRows, &file)?;
            }
        }
        if let Some(a) = &applied {
            ctx.truth.record(
                &spec.code,
                Some(excel_row as u64),
                &a.field,
                a.defect,
                &file,
            )?;
        }
        if let Some(w) = shp.as_mut() {
            let cells = match (&applied, clean) {
                (Some(a), Some(clean)) if a.defect.expect() == Expect::Repaired => clean,
                _ => row.cells.clone(),
            };
            let Some(p) = row.point else { continue };
            let mut invalid = false;
            let wkb = match vector {
                VectorCopy::Footprint => {
                    invalid = applied.is_none()
                        && opts.defect_rate > 0.0
                        && defect_rng.random_bool((opts.defect_rate * 0.2).min(1.0));
                    wkb_polygon(&[footprint(p, &mut defect_rng, invalid)])
                }
                _ => wkb_point(p),
            };
            let index = w.write(&wkb, &cells)?;
            if let Some(a) = &applied
                && a.defect.in_vector()
            {
                let field = if Some(a.field.as_str())
                    == spec.roles.lon.map(|k| spec.columns[k].code.as_str())
                {
                    "geometry"
                } else {
                    a.field.as_str()
                };
                ctx.truth
                    .record(&spec.code, Some(index), field, a.defect, &vector_name)?;
            }
            if invalid {
                ctx.truth.record(
                    &spec.code,
                    Some(index),
                    "geometry",
                    Defect::InvalidPolygon,
                    &vector_name,
                )?;
            }
        }
        n += 1;
        if n.is_multiple_of(20_000) {
            progress(n);
        }
    }
    progress(n);
    let mut files = xlsx.finish()?;
    if let Some(w) = shp {
        w.finish()?;
        files.push(vector_name);
    }
    ctx.summary.tables.push((spec.code.clone(), files, n));
    Ok(())
}

/// A building footprint around its point: a rotated rectangle of 8–30 m sides; `invalid` gives a
/// bow-tie (two corners swapped), which no validator accepts.
fn footprint(p: (f64, f64), rng: &mut ChaCha8Rng, invalid: bool) -> Vec<(f64, f64)> {
    let w = rng.random_range(8.0..30.0);
    let h = rng.random_range(8.0..20.0);
    let a: f64 = rng.random_range(0.0..std::f64::consts::PI);
    let m_lat = 1.0 / 110_574.0;
    let m_lon = 1.0 / (111_320.0 * p.1.to_radians().cos().abs().max(0.01));
    let corner = |dx: f64, dy: f64| {
        let (x, y) = (dx * a.cos() - dy * a.sin(), dx * a.sin() + dy * a.cos());
        (
            crate::county::round6(p.0 + x * m_lon),
            crate::county::round6(p.1 + y * m_lat),
        )
    };
    let mut ring = vec![
        corner(-w / 2.0, -h / 2.0),
        corner(w / 2.0, -h / 2.0),
        corner(w / 2.0, h / 2.0),
        corner(-w / 2.0, h / 2.0),
    ];
    if invalid {
        ring.swap(1, 2);
    }
    ring.push(ring[0]);
    ring
}

fn polygon_spec(code: &str, name_zh: &str, columns: Vec<Column>) -> TableSpec {
    TableSpec {
        code: code.into(),
        name_zh: name_zh.into(),
        file_stem: code.into(),
        sheet: code.into(),
        columns,
        roles: Roles::default(),
    }
}

fn write_townships(ctx: &mut Ctx<'_>) -> Result<()> {
    let c = |code: &str, label: &str, kind| Column {
        code: code.into(),
        label: label.into(),
        group: "行政区划".into(),
        kind,
    };
    let spec = polygon_spec(
        tables::TOWNSHIPS,
        "乡镇（街道）行政区划",
        vec![
            c("xzqdm", "乡镇（街道）代码", Kind::Text),
            c("xzqmc", "乡镇（街道）名称", Kind::Text),
            c("xzqlx", "类型", Kind::Text),
            c("mj", "面积（平方千米）", Kind::Float),
        ],
    );
    let county = ctx.county;
    let grid = &county.grid;
    let rings = grid.trace(&grid.labels);
    let name = format!("{}.shp", tables::TOWNSHIPS);
    let mut w = ShapeWriter::create(&ctx.opts.out.join(&name), &spec, GeomKind::Polygon)?;
    for (t, town) in county.townships.iter().enumerate() {
        let Some(r) = rings.get(&(t as u32)) else {
            continue;
        };
        let kind = match town.kind {
            TownshipKind::Subdistrict => "街道",
            TownshipKind::Town => "镇",
            TownshipKind::Township => "乡",
            TownshipKind::Other => "其他",
        };
        let cells = vec![
            Cell::Text(town.code.clone()),
            Cell::Text(town.name.clone()),
            Cell::text(kind),
            Cell::Num((tables::township_area_km2(county, t) * 100.0).round() / 100.0),
        ];
        w.write(&wkb_polygon(&to_lonlat(grid, r)), &cells)?;
    }
    let n = w.finish()?;
    ctx.summary.tables.push((spec.code, vec![name], n));
    Ok(())
}

fn to_lonlat(grid: &crate::grid::Grid, rings: &[Vec<(i64, i64)>]) -> Vec<Vec<(f64, f64)>> {
    rings
        .iter()
        .map(|r| r.iter().map(|&(i, j)| grid.corner(i, j)).collect())
        .collect()
}

fn write_hazard_layer(ctx: &mut Ctx<'_>, k: usize) -> Result<()> {
    let layer = &LAYERS[k];
    let spec = hazards::spec(layer);
    let classes = hazards::class_grid(ctx.county, k, ctx.opts.seed);
    let (comp, infos) = classes.components();
    let rings = classes.trace(&comp);
    let name = format!("{}.shp", layer.code);
    let path = ctx.opts.out.join(&name);
    let mut w = ShapeWriter::create(&path, &spec, GeomKind::Polygon)?;
    let mut rng = rng_for(ctx.opts, &format!("defects/{}", layer.code));
    let g = &ctx.county.grid;
    let lat = g.y0 + g.rows as f64 * g.cell / 2.0;
    let cell_km2 = (g.cell * 111.32 * lat.to_radians().cos()) * (g.cell * 110.57);
    for (id, info) in infos.iter().enumerate() {
        let Some(r) = rings.get(&(id as u32)) else {
            continue;
        };
        let (class, class_name) = layer.classes[info.label as usize];
        let mut poly = to_lonlat(g, r);
        let invalid = ctx.opts.defect_rate > 0.0
            && rng.random_bool(ctx.opts.defect_rate)
            && make_invalid(&mut poly[0]);
        let cells = vec![
            Cell::Text(format!(
                "{}{:05}",
                layer
                    .hazard_en
                    .to_uppercase()
                    .chars()
                    .take(2)
                    .collect::<String>(),
                id + 1
            )),
            Cell::text(layer.hazard_zh),
            Cell::Int(class),
            Cell::text(class_name),
            Cell::Num((info.size as f64 * cell_km2 * 1000.0).round() / 1000.0),
        ];
        let index = w.write(&wkb_polygon(&poly), &cells)?;
        if invalid {
            ctx.truth.record(
                &spec.code,
                Some(index),
                "geometry",
                Defect::InvalidPolygon,
                &name,
            )?;
        }
    }
    let n = w.finish()?;
    ctx.summary.tables.push((spec.code, vec![name], n));
    Ok(())
}

/// Swaps two neighbouring vertices of a ring so that its edges cross, checked with GEOS through GDAL.
/// Returns false (ring unchanged) if no swap makes it invalid.
fn make_invalid(ring: &mut [(f64, f64)]) -> bool {
    crate::vector::route_gdal_messages();
    let n = ring.len();
    if n < 5 {
        return false;
    }
    for k in 1..n - 2 {
        let mut candidate = ring.to_vec();
        candidate.swap(k, k + 1);
        let valid = Geometry::from_wkb(&wkb_polygon(&[candidate.clone()]))
            .map(|g| g.is_valid())
            .unwrap_or(true);
        if !valid {
            ring.copy_from_slice(&candidate);
            return true;
        }
    }
    false
}

fn write_small_tables(ctx: &mut Ctx<'_>, expected: &[f64]) -> Result<()> {
    let opts = ctx.opts;
    let county = ctx.county;
    let year = opts.reference_year;
    let n_towns = county.townships.len();

    let spec = tables::population_spec();
    let mut rng = rng_for(opts, "population");
    let mut rows = (0..n_towns).map(|t| Row {
        cells: tables::population(county, t, expected[t], year, &mut rng, &spec),
        township: t,
        point: None,
    });
    write_table(
        ctx,
        &spec,
        &mut rows,
        &|_| String::new(),
        VectorCopy::None,
        &mut |_| {},
    )?;

    let spec = tables::resources_spec();
    let mut rng = rng_for(opts, "resources");
    let mut rows = (0..n_towns).map(|t| Row {
        cells: tables::resources(county, t, expected[t], year, &mut rng, &spec),
        township: t,
        point: None,
    });
    write_table(
        ctx,
        &spec,
        &mut rows,
        &|_| String::new(),
        VectorCopy::None,
        &mut |_| {},
    )?;

    // Schools: a few per township, more where people are.
    let spec = tables::schools_spec();
    let mut rng = rng_for(opts, "schools");
    let mut plan = Vec::new();
    for (t, town) in county.townships.iter().enumerate() {
        let base = match town.kind {
            TownshipKind::Subdistrict => 4,
            TownshipKind::Town => 3,
            TownshipKind::Township => 2,
            TownshipKind::Other => 1,
        };
        let extra = (expected[t] / 6_000.0).round() as usize;
        plan.extend(std::iter::repeat_n(t, base + extra));
    }
    write_facilities(ctx, &spec, &plan, &mut rng, tables::school, "12")?;

    // Medical institutions: the county hospitals in the seat, a health centre per township, clinics.
    let spec = tables::medical_spec();
    let mut rng = rng_for(opts, "medical");
    let seat = county
        .townships
        .iter()
        .position(|t| t.kind.is_urban())
        .unwrap_or(0);
    let mut plan = vec![seat, seat];
    for (t, _) in county.townships.iter().enumerate() {
        let extra = (expected[t] / 8_000.0).round() as usize;
        plan.extend(std::iter::repeat_n(t, 2 + extra));
    }
    write_facilities(ctx, &spec, &plan, &mut rng, tables::medical, "52")?;

    let code = county.code.clone();
    // Geological hazard points, where landslide susceptibility is high.
    let spec = tables::hazard_points_spec();
    let mut rng = rng_for(opts, "dzzhyhd");
    let landslide = hazards::class_grid(county, 2, opts.seed);
    let count = (n_towns * 3)
        .max((opts.buildings / 2_500) as usize)
        .min(3_000);
    let inside: Vec<usize> = (0..county.grid.labels.len())
        .filter(|&c| county.grid.labels[c] != crate::grid::OUTSIDE)
        .collect();
    let mut rows = (0..count).map(|k| {
        let cell = loop {
            let c = inside[rng.random_range(0..inside.len())];
            let class = landslide.labels[c];
            if class != crate::grid::OUTSIDE && rng.random_range(0..4) <= class {
                break c;
            }
        };
        let p = county.point_in_cell(cell, &mut rng);
        let t = county.grid.labels[cell] as usize;
        Row {
            cells: tables::hazard_point(county, t, p, k, year, &mut rng, &spec),
            township: t,
            point: Some(p),
        }
    });
    write_table(
        ctx,
        &spec,
        &mut rows,
        &|k| format!("{code}{:06}", k + 1),
        VectorCopy::None,
        &mut |_| {},
    )?;
    Ok(())
}

/// Makes one facility record: county, township, running number, reference year.
type MakeFacility =
    fn(&County, usize, usize, i32, &mut ChaCha8Rng, &TableSpec) -> (Vec<Cell>, (f64, f64));

/// Writes a point-facility table (schools, medical institutions) from a plan of one township per
/// record; ids are credit-code shaped with the given prefix.
fn write_facilities(
    ctx: &mut Ctx<'_>,
    spec: &TableSpec,
    plan: &[usize],
    rng: &mut ChaCha8Rng,
    make: MakeFacility,
    credit_prefix: &str,
) -> Result<()> {
    let county = ctx.county;
    let year = ctx.opts.reference_year;
    let mut rows = plan.iter().enumerate().map(|(k, &t)| {
        let (cells, p) = make(county, t, k, year, rng, spec);
        Row {
            cells,
            township: t,
            point: Some(p),
        }
    });
    let code = county.code.clone();
    write_table(
        ctx,
        spec,
        &mut rows,
        &|k| tables::credit_code(&code, credit_prefix, k),
        VectorCopy::None,
        &mut |_| {},
    )
}

fn write_buildings(ctx: &mut Ctx<'_>, progress: &mut dyn FnMut(Progress<'_>)) -> Result<()> {
    let opts = ctx.opts;
    let county = ctx.county;
    let spec = tables::buildings_spec();
    let mut rng = rng_for(opts, "buildings");
    let total = opts.buildings;
    let mut rows = (0..total as usize).map(|k| {
        let (cells, t, p) = tables::building(county, k, opts.reference_year, &mut rng, &spec);
        Row {
            cells,
            township: t,
            point: Some(p),
        }
    });
    let vector = match opts.building_geometry {
        BuildingGeometry::None => VectorCopy::None,
        BuildingGeometry::Point => VectorCopy::Point,
        BuildingGeometry::Footprint => VectorCopy::Footprint,
    };
    let code = county.code.clone();
    write_table(
        ctx,
        &spec,
        &mut rows,
        &|k| tables::building_id(&code, k),
        vector,
        &mut |done| {
            progress(Progress {
                step: "buildings",
                done,
                total,
            })
        },
    )
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Tables the generator writes by hand (with their own defects), so not from the schema.
pub const HAND_WRITTEN: &[&str] = &[
    "fwjz",
    "czt_xx",
    "czt_ylwsjg",
    "xzjd_rkjj",
    "zhjzzy_jc_xzzy",
    "dzzhyhd",
];

/// Every other table a form exists for: its form filled with one clean record per township, then
/// one record per defect its rules can be given, each with its ground truth.
fn write_census_forms(ctx: &mut Ctx<'_>) -> Result<()> {
    let set = riskcensus_schema::SchemaSet::builtin().map_err(|e| Error::BadOption {
        message: e.to_string(),
        hint: "the shipped schemas must load".into(),
    })?;
    let year = ctx.opts.reference_year;
    let county = ctx.county;
    let opts = crate::template::TemplateOptions {
        reference_year: year,
        township: None,
    };
    for schema in set.tables.values() {
        if HAND_WRITTEN.contains(&schema.code.as_str()) || !crate::template::has_form(schema) {
            continue;
        }
        let clean = county.townships.len();
        let mut rows: Vec<Vec<Option<crate::forms::Typed>>> = (0..clean)
            .map(|t| crate::forms::record(schema, &set, county, t, t, year))
            .collect();
        let file = format!("{}.xlsx", schema.code);
        let mut truth = Vec::new();
        for (i, defect) in crate::forms::defects(schema).iter().enumerate() {
            let (t, row) = (i % clean, clean + i);
            let mut rec = crate::forms::record(schema, &set, county, t, row, year);
            for found in defect.apply(schema, &set, county, t, &mut rec, &rows[0], year) {
                // Rows of the form an office sees: after the title and the two-row header.
                let source_row = (crate::template::HEADER_ROWS as usize + 1 + rows.len()) as u64;
                truth.push((source_row, found));
            }
            rows.push(rec);
        }
        let path = ctx.opts.out.join(&file);
        crate::template::write_filled(&set, schema, &path, &opts, &rows)?;
        for (source_row, found) in truth {
            ctx.truth
                .record_issue(&schema.code, source_row, &found.field, found.rule, &file)?;
        }
        ctx.summary
            .tables
            .push((schema.code.clone(), vec![file], rows.len() as u64));
    }
    Ok(())
}

fn write_division_changes(ctx: &Ctx<'_>) -> Result<()> {
    let mut s = String::from("old_code,new_code,new_name,change\n");
    for c in &ctx.county.stale_codes {
        let name = ctx
            .county
            .townships
            .iter()
            .find(|t| t.code == c.new)
            .map(|t| t.name.as_str())
            .unwrap_or("");
        let _ = writeln!(s, "{},{},{},merged", c.old, c.new, name);
    }
    write_text(&ctx.opts.out.join("division_changes.csv"), &s)
}

fn write_pipeline(opts: &Options, county: &County, summary: &Summary) -> Result<()> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Runs the whole pipeline on this synthetic county: riskcensus run pipeline.toml"
    );
    let _ = writeln!(s, "# Written by: {}", command_line(opts));
    let _ = writeln!(s, "# Paths are relative to this file.\n");
    let _ = writeln!(s, "[run]");
    let _ = writeln!(s, "name = \"{}_synthetic\"", county.code);
    let _ = writeln!(s, "region_code = \"{}\"", county.code);
    let _ = writeln!(s, "region_name = \"{}\"", county.name);
    let _ = writeln!(s, "reference_year = {}\n", opts.reference_year);
    let _ = writeln!(s, "[qc]");
    let _ = writeln!(
        s,
        "# 差错率 (wrong indicators ÷ checked indicators) above this fails a table."
    );
    let _ = writeln!(s, "pass_threshold = 0.05\n");
    let _ = writeln!(s, "[codes]");
    let _ = writeln!(
        s,
        "# Township codes retired by mergers, old → new, as the county office keeps them."
    );
    let _ = writeln!(s, "division_changes = \"division_changes.csv\"\n");
    let _ = writeln!(s, "[units]");
    let _ = writeln!(s, "table = \"{}\"", tables::TOWNSHIPS);
    let _ = writeln!(s, "path = \"{}.shp\"", tables::TOWNSHIPS);
    let _ = writeln!(s, "code_field = \"xzqdm\"");
    let _ = writeln!(s, "name_field = \"xzqmc\"\n");
    for (table, files, _) in &summary.tables {
        if table == tables::TOWNSHIPS {
            continue;
        }
        for f in files {
            if table == tables::BUILDINGS && f.ends_with(".shp") {
                let _ = writeln!(
                    s,
                    "# The same buildings as a vector file (use instead of the xlsx, not beside it):"
                );
                let _ = writeln!(s, "# [[inputs]]\n# table = \"{table}\"\n# path = \"{f}\"\n");
                continue;
            }
            let _ = writeln!(s, "[[inputs]]");
            let _ = writeln!(s, "table = \"{table}\"");
            let _ = writeln!(s, "path = \"{f}\"\n");
        }
    }
    let _ = writeln!(s, "[model]");
    let _ = writeln!(
        s,
        "# The default census model (a copy of pipelines/models/census.toml)."
    );
    let _ = writeln!(s, "file = \"model.toml\"\n");
    let _ = writeln!(s, "[output]");
    let _ = writeln!(s, "dir = \"out\"");
    write_text(&opts.out.join("pipeline.toml"), &s)?;
    write_text(&opts.out.join("model.toml"), CENSUS_MODEL)
}

/// The project's default census risk model, written beside every generated county.
const CENSUS_MODEL: &str = include_str!("../../../pipelines/models/census.toml");

fn command_line(opts: &Options) -> String {
    let geometry = match opts.building_geometry {
        BuildingGeometry::None => String::new(),
        BuildingGeometry::Point => " --building-geometry point".into(),
        BuildingGeometry::Footprint => " --building-geometry footprint".into(),
    };
    let all = if opts.all_tables { " --all-tables" } else { "" };
    format!(
        "riskcensus gen-fixtures --county {} --buildings {} --seed {} --defect-rate {}{geometry}{all} --out <DIR>",
        opts.county, opts.buildings, opts.seed, opts.defect_rate
    )
}

fn write_readme(opts: &Options, county: &County, summary: &Summary) -> Result<()> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Synthetic census county: {} {}{}{}\n",
        county.code, county.province, county.prefecture, county.name
    );
    let _ = writeln!(
        s,
        "Generated, not surveyed: real township codes and names (NBS 2023), everything else synthetic."
    );
    let _ = writeln!(s, "Regenerate with:\n\n    {}\n", command_line(opts));
    let _ = writeln!(s, "| table | files | records |\n|---|---|---|");
    for (table, files, n) in &summary.tables {
        let _ = writeln!(s, "| {table} | {} | {n} |", files.join(", "));
    }
    let _ = writeln!(
        s,
        "\n`ground_truth.csv` lists the {} injected defects (`expect` = issue: QC must report it; repaired: the readers must fix it silently).",
        summary.defects
    );
    write_text(&opts.out.join("README.md"), &s)
}
