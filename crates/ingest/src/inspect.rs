//! What a file holds, before any pipeline names it: its sheets or layers, the header row the readers
//! would find, each column with sample values, and the census table and fields it matches best. The
//! first thing a new user runs on a file they were sent; it reads through the same bounded readers
//! as a run, so what it shows is what a run would see.

use std::path::Path;

use riskcensus_schema::{GeometryKind, TableSchema};

use crate::grid::Rows;
use crate::header::{FieldNames, closest_headers, find_header};
use crate::{CellRef, Error, Input, RawCell, Result, VectorOptions, column_letter, extension};

/// Sample values shown per column.
const SAMPLES: usize = 2;
/// Tables listed as candidates per sheet or layer.
const CANDIDATES: usize = 3;

/// One file, inspected.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub parts: Vec<Part>,
}

/// One sheet, layer or csv.
#[derive(Debug, Clone)]
pub struct Part {
    /// `sheet`, `layer` or `csv`.
    pub kind: &'static str,
    pub name: String,
    /// The Excel row (csv line) of the header the best table finds; `None` for layers, and where no
    /// table's names match two columns.
    pub header_row: Option<u32>,
    pub encoding: Option<String>,
    /// Tables by how many columns they match, best first, with that count.
    pub candidates: Vec<(String, String, usize)>,
    /// Required fields of the best table no column matches, as `名称(code)`.
    pub missing_required: Vec<String>,
    pub columns: Vec<ColumnView>,
}

/// One column of a sheet or layer.
#[derive(Debug, Clone)]
pub struct ColumnView {
    /// Column letter, or the DBF field name.
    pub column: String,
    pub header: String,
    pub samples: Vec<String>,
    /// The best table's field this column matches, as `code 名称`.
    pub field: Option<String>,
    /// For an unmatched column: the field of the best table it is most like, as `code 名称`.
    pub like: Option<String>,
}

/// Inspects a file against `schemas`: every sheet of a workbook (or the one `input.sheet` names),
/// every layer of a vector file (or `input.layer`), or the csv.
pub fn inspect(schemas: &[&TableSchema], input: &Input) -> Result<Inspection> {
    let path = &input.path;
    if !path.is_file() {
        return Err(Error::NotFound { path: path.clone() });
    }
    let parts = match extension(path).as_str() {
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => {
            let names = match &input.sheet {
                Some(s) => vec![s.clone()],
                None => crate::sheet::sheet_names(path)?,
            };
            let mut parts = Vec::with_capacity(names.len());
            for name in names {
                let one = Input {
                    sheet: Some(name),
                    ..input.clone()
                };
                let (sheet, grid) = match crate::sheet::spreadsheet_grid(&one) {
                    Ok(g) => g,
                    // An empty sheet is part of what the file holds, not a failure to inspect it.
                    Err(Error::EmptySheet { sheet, .. }) => {
                        parts.push(empty_part("sheet", sheet));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let (head, numbers) = grid.head(Rows::Numbered);
                parts.push(grid_part(schemas, "sheet", sheet, &head, &numbers, None));
            }
            parts
        }
        "csv" | "txt" => {
            let (grid, encoding) = crate::sheet::csv_grid(input)?;
            let (head, numbers) = grid.head(Rows::Listed);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            vec![grid_part(
                schemas,
                "csv",
                name,
                &head,
                &numbers,
                Some(encoding.to_owned()),
            )]
        }
        "shp" | "gpkg" | "geojson" | "json" => {
            let names = match &input.layer {
                Some(l) => vec![l.clone()],
                None => layer_names(path)?,
            };
            let mut parts = Vec::with_capacity(names.len());
            for name in names {
                parts.push(layer_part(schemas, input, name)?);
            }
            parts
        }
        _ => return Err(Error::UnsupportedType { path: path.clone() }),
    };
    Ok(Inspection { parts })
}

fn empty_part(kind: &'static str, name: String) -> Part {
    Part {
        kind,
        name,
        header_row: None,
        encoding: None,
        candidates: Vec::new(),
        missing_required: Vec::new(),
        columns: Vec::new(),
    }
}

fn field_label(schema: &TableSchema, k: usize) -> String {
    format!("{} {}", schema.fields[k].code, schema.fields[k].name_zh)
}

/// Required fields of `schema` that `matched` lacks, as `名称(code)`.
fn missing(schema: &TableSchema, matched: &[Option<usize>]) -> Vec<String> {
    schema
        .fields
        .iter()
        .enumerate()
        .filter(|(k, f)| f.required && !matched.contains(&Some(*k)))
        .map(|(_, f)| format!("{}({})", f.name_zh, f.code))
        .collect()
}

/// Tables ranked by matched columns, then by fewer required fields missing, then by code.
fn rank(mut scored: Vec<(usize, usize, &TableSchema)>) -> Vec<(usize, usize, &TableSchema)> {
    scored.retain(|s| s.0 > 0);
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.code.cmp(&b.2.code))
    });
    scored
}

/// For the unmatched columns of `headers`, the best table's unmatched field each is most like.
fn likenesses(
    schema: &TableSchema,
    headers: &[String],
    matched: &[Option<usize>],
) -> Vec<Option<String>> {
    let free: Vec<usize> = (0..schema.fields.len())
        .filter(|k| !matched.contains(&Some(*k)))
        .collect();
    let unmatched: Vec<String> = headers
        .iter()
        .zip(matched)
        .filter(|(h, m)| m.is_none() && !h.is_empty())
        .map(|(h, _)| h.clone())
        .collect();
    let close = closest_headers(schema, &free, &unmatched);
    headers
        .iter()
        .zip(matched)
        .map(|(h, m)| {
            m.is_none()
                .then(|| close.iter().find(|(_, c)| *c == h))
                .flatten()
                .map(|(k, _)| field_label(schema, *k))
        })
        .collect()
}

/// A sheet or csv: the header each table would find in the head rows, the best of them, and the
/// columns under it with the first values below the header.
fn grid_part(
    schemas: &[&TableSchema],
    kind: &'static str,
    name: String,
    head: &[Vec<RawCell>],
    numbers: &[u32],
    encoding: Option<String>,
) -> Part {
    let found: Vec<_> = schemas
        .iter()
        .filter_map(|s| find_header(s, &[], head).map(|h| (s, h)))
        .collect();
    let scored = rank(
        found
            .iter()
            .map(|(s, h)| {
                let matched: Vec<Option<usize>> = h.columns.iter().map(|c| c.1).collect();
                let n = matched.iter().flatten().count();
                (n, missing(s, &matched).len(), **s)
            })
            .collect(),
    );
    let mut part = empty_part(kind, name);
    part.encoding = encoding;
    part.candidates = scored
        .iter()
        .take(CANDIDATES)
        .map(|(n, _, s)| (s.code.clone(), s.name_zh.clone(), *n))
        .collect();
    let Some((_, _, best)) = scored.first() else {
        // No table's names: show the first row holding a value as it stands.
        if let Some((k, row)) = head
            .iter()
            .enumerate()
            .find(|(_, r)| r.iter().any(|c| !c.is_empty()))
        {
            part.columns = plain_columns(row, &head[k + 1..]);
        }
        return part;
    };
    let Some((_, header)) = found.iter().find(|(s, _)| s.code == best.code) else {
        return part;
    };
    part.header_row = numbers.get(header.row).copied();
    let headers: Vec<String> = header.columns.iter().map(|c| c.0.clone()).collect();
    let matched: Vec<Option<usize>> = header.columns.iter().map(|c| c.1).collect();
    part.missing_required = missing(best, &matched);
    let like = likenesses(best, &headers, &matched);
    let below = head.get(header.row + 1..).unwrap_or(&[]);
    part.columns = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.is_empty())
        .map(|(c, h)| ColumnView {
            column: column_letter(c),
            header: h.clone(),
            samples: samples(below.iter().filter_map(|r| r.get(c)).map(RawCell::cell_ref)),
            field: matched[c].map(|k| field_label(best, k)),
            like: like[c].clone(),
        })
        .collect();
    part
}

fn plain_columns(row: &[RawCell], below: &[Vec<RawCell>]) -> Vec<ColumnView> {
    row.iter()
        .enumerate()
        .filter(|(_, h)| !h.is_empty())
        .map(|(c, h)| ColumnView {
            column: column_letter(c),
            header: h.display().trim().to_owned(),
            samples: samples(below.iter().filter_map(|r| r.get(c)).map(RawCell::cell_ref)),
            field: None,
            like: None,
        })
        .collect()
}

/// The first non-empty values, as the office would see them.
fn samples<'a>(cells: impl Iterator<Item = CellRef<'a>>) -> Vec<String> {
    cells
        .filter(|c| !c.is_empty())
        .take(SAMPLES)
        .map(|c| c.display().trim().to_owned())
        .collect()
}

fn layer_names(path: &Path) -> Result<Vec<String>> {
    riskcensus_spatial::quiet_gdal();
    use gdal::vector::LayerAccess;
    let ds = gdal::Dataset::open(path).map_err(|e| Error::VectorOpen {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(ds.layers().map(|l| l.name()).collect())
}

/// A layer read as a table of no fields, so that every attribute arrives as an extra column with
/// its values, decoded as a run would decode them; then matched against each table's names.
fn layer_part(schemas: &[&TableSchema], input: &Input, name: String) -> Result<Part> {
    let bare = TableSchema {
        code: String::new(),
        name_zh: String::new(),
        name_en: String::new(),
        category: String::new(),
        geometry: GeometryKind::None,
        primary_key: Vec::new(),
        primary_key_note: None,
        fields: Vec::new(),
        rules: Vec::new(),
        rule_citations: Vec::new(),
        citation: None,
        source: String::new(),
    };
    let one = Input {
        layer: Some(name),
        ..input.clone()
    };
    // Any coordinate system: inspecting is not the place to refuse one.
    let (source, rows) =
        crate::vector::read_vector(&bare, &one, 0, VectorOptions { reproject: true })?;
    let headers: Vec<String> = source.extra_columns.iter().map(|c| c.0.clone()).collect();
    let per_table: Vec<(Vec<Option<usize>>, &TableSchema)> = schemas
        .iter()
        .map(|s| {
            let names = FieldNames::new(s, &[]);
            let mut taken = vec![false; s.fields.len()];
            let matched = headers
                .iter()
                .map(|h| {
                    let k = names.lookup(h).filter(|&k| !taken[k])?;
                    taken[k] = true;
                    Some(k)
                })
                .collect();
            (matched, *s)
        })
        .collect();
    let scored = rank(
        per_table
            .iter()
            .map(|(m, s)| (m.iter().flatten().count(), missing(s, m).len(), *s))
            .collect(),
    );
    let mut part = empty_part("layer", source.sheet.clone());
    part.encoding = source.encoding.clone();
    part.candidates = scored
        .iter()
        .take(CANDIDATES)
        .map(|(n, _, s)| (s.code.clone(), s.name_zh.clone(), *n))
        .collect();
    let best = scored
        .first()
        .and_then(|(_, _, b)| per_table.iter().find(|(_, s)| s.code == b.code));
    let (matched, like) = match best {
        Some((m, s)) => {
            part.missing_required = missing(s, m);
            (
                m.iter().map(|k| k.map(|k| field_label(s, k))).collect(),
                likenesses(s, &headers, m),
            )
        }
        None => (vec![None; headers.len()], vec![None; headers.len()]),
    };
    part.columns = headers
        .iter()
        .enumerate()
        .map(|(c, h)| ColumnView {
            column: h.clone(),
            header: h.clone(),
            samples: samples(rows.iter().filter_map(|r| r.extra.get(c))),
            field: matched[c].clone(),
            like: like[c].clone(),
        })
        .collect();
    Ok(part)
}
