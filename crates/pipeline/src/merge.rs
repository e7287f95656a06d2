//! `riskcensus merge`: county upload packages into one provincial dataset. Every package is verified
//! first; the clean tables and issues keep their county partitions; the unit tables are stacked and
//! re-graded province-wide with the model the packages carry (one model, byte for byte); the
//! provincial maps, GIS layer and package are written as for a county.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::package::{Identity, InputHash, Manifest, QcTable, sanitize, unpack};
use crate::{Error, Result, write_atomic};

/// What a merge did.
#[derive(Debug, Clone, Serialize)]
pub struct MergeReport {
    pub region_code: String,
    pub region_name: String,
    pub reference_year: i32,
    /// The counties merged: code, name and whether it passed QC, in code order.
    pub counties: Vec<(String, String, bool)>,
    pub units: usize,
    /// Units per composite grade (label, count), highest risk first.
    pub composite_grades: Vec<(String, u64)>,
    pub qc_passed: bool,
    pub package: PathBuf,
    #[serde(skip)]
    pub out_dir: PathBuf,
}

/// One county package, read: its manifest and what the merge computes with. Its verified entries
/// wait in a temporary folder until its partitions and QC files are copied to the output, so only
/// one county's unit table is held in memory at a time.
struct County {
    path: PathBuf,
    manifest: Manifest,
    model: Option<Vec<u8>>,
    unit_table: Option<DataFrame>,
    /// Unit polygons (WKB) by unit code, from the county's graded units.
    shapes: Vec<(String, Vec<u8>)>,
    dictionary: Vec<u8>,
    /// The package's entries as verified (hashed while extracted); dropped once copied.
    unpacked: Option<tempfile::TempDir>,
}

fn invalid(path: &Path, message: String, hint: &str) -> Error {
    Error::Merge {
        path: path.to_owned(),
        message,
        hint: hint.into(),
    }
}

/// Verifies a county package and reads what the merge computes with from its verified entries:
/// nothing is looked up again in the zip, where a second entry of a name could answer instead.
fn read_package(path: &Path) -> Result<County> {
    let unpacked = tempfile::tempdir().map_err(|source| Error::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    // Everything but the county's maps and GIS layer, which the merge redraws.
    let needed = |name: &str| !name.starts_with("maps/") && !name.starts_with("gis/");
    let manifest = unpack(path, unpacked.path(), &needed).map_err(|problems| {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        invalid(
            path,
            format!(
                "the package does not verify ({} problem(s)): {}",
                problems.len(),
                shown.join("; ")
            ),
            "ask the county office to send it again; `riskcensus verify` lists every problem",
        )
    })?;
    let root = unpacked.path();
    let rerr = |name: &str, e: &dyn std::fmt::Display| {
        invalid(path, format!("{name}: {e}"), "re-run verify")
    };
    let read = |name: &str| std::fs::read(root.join(name)).map_err(|e| rerr(name, &e));
    let listed = |name: &str| manifest.files.iter().any(|e| e.path == name);
    let model = listed("risk/model.toml")
        .then(|| read("risk/model.toml"))
        .transpose()?;
    let dictionary = listed("parquet/data_dictionary.csv")
        .then(|| read("parquet/data_dictionary.csv"))
        .transpose()?
        .unwrap_or_default();
    let unit_table = listed("parquet/unit_table.parquet")
        .then(|| parquet_frame(path, root, "parquet/unit_table.parquet"))
        .transpose()?;
    // Unit polygons, for the provincial layer and maps; the grades are redone.
    let mut shapes = Vec::new();
    for e in &manifest.files {
        if !e.path.starts_with("parquet/unit_risk/") {
            continue;
        }
        let df = parquet_frame(path, root, &e.path)?;
        if let (Ok(codes), Ok(geoms)) = (df.column("unit_code"), df.column("geometry")) {
            for (k, g) in codes.str()?.iter().zip(geoms.binary()?.iter()) {
                if let (Some(k), Some(g)) = (k, g) {
                    shapes.push((k.to_owned(), g.to_vec()));
                }
            }
        }
    }
    Ok(County {
        path: path.to_owned(),
        manifest,
        model,
        unit_table,
        shapes,
        dictionary,
        unpacked: Some(unpacked),
    })
}

/// Copies a county's partitions (`parquet/<table>/county=…`) and QC folder (to `qc/<code>/`) from
/// its verified entries into `out`, refusing a partition another package already wrote; then drops
/// the county's extracted entries.
fn copy_entries(c: &mut County, out: &Path) -> Result<()> {
    let Some(unpacked) = c.unpacked.take() else {
        return Ok(());
    };
    let code = sanitize(&c.manifest.region_code);
    for e in &c.manifest.files {
        let name = e.path.as_str();
        let dest = if name.starts_with("parquet/")
            && name.contains("/county=")
            && !name.starts_with("parquet/unit_risk/")
        {
            let dest = out.join(unassigned_part(name, &code));
            if dest.exists() {
                return Err(invalid(
                    &c.path,
                    format!("{name} is also in another package"),
                    "give each county's package once",
                ));
            }
            dest
        } else if let Some(rest) = name.strip_prefix("qc/") {
            out.join("qc").join(&code).join(rest)
        } else {
            continue;
        };
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                path: dir.to_owned(),
                source,
            })?;
        }
        let tmp = dest.with_extension(format!("tmp-{}", std::process::id()));
        let werr = |source| Error::Write {
            path: dest.clone(),
            source,
        };
        // A move when the temporary folder is on the same disk, else a copy.
        let src = unpacked.path().join(name);
        if std::fs::rename(&src, &tmp).is_err() {
            std::fs::copy(&src, &tmp).map_err(werr)?;
        }
        std::fs::rename(&tmp, &dest).map_err(werr)?;
    }
    Ok(())
}

/// Where a partition entry goes in the merge: as sent, except that the `county=unassigned` part of
/// a city or provincial package is named for its region (`part-530300.parquet`), as several such
/// packages each have one.
fn unassigned_part(name: &str, region: &str) -> String {
    let marker = format!("/county={}/", crate::geoparquet::UNASSIGNED);
    match name.rsplit_once('/') {
        Some((dir, "part-0.parquet")) if name.contains(&marker) => {
            format!("{dir}/part-{region}.parquet")
        }
        _ => name.to_owned(),
    }
}

/// A verified Parquet entry of a county, read from its extracted file.
fn parquet_frame(path: &Path, root: &Path, name: &str) -> Result<DataFrame> {
    let rerr = |e: &dyn std::fmt::Display| invalid(path, format!("{name}: {e}"), "re-run verify");
    let f = std::fs::File::open(root.join(name)).map_err(|e| rerr(&e))?;
    ParquetReader::new(f).finish().map_err(|e| rerr(&e))
}

/// The region the counties make up: the given code, or the province they share.
fn region_of(counties: &[County], region: Option<&str>) -> Result<(String, String)> {
    let registry = riskcensus_schema::divisions::Registry::nbs2023();
    let code = match region {
        Some(c) => c.to_owned(),
        None => {
            let provinces: BTreeSet<&str> = counties
                .iter()
                .map(|c| c.manifest.region_code.get(..2).unwrap_or(""))
                .collect();
            if provinces.len() != 1 {
                return Err(invalid(
                    &counties[0].path,
                    format!(
                        "the packages are from more than one province ({})",
                        provinces.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                    "merge one province at a time, or name the region with --region",
                ));
            }
            format!("{}0000", provinces.into_iter().next().unwrap_or("00"))
        }
    };
    // 530000 is a province, 530300 a city: trailing zero pairs name the level.
    let mut short = code.as_str();
    while short.len() > 2 && short.ends_with("00") {
        short = &short[..short.len() - 2];
    }
    let Some(division) = registry.get(short) else {
        return Err(invalid(
            Path::new(&code),
            format!("region {code} is not in the NBS 2023 division list"),
            "give a 6-digit province, city or county code",
        ));
    };
    let prefix = &code[..division.level.digits()];
    for c in counties {
        if !c.manifest.region_code.starts_with(prefix) {
            return Err(invalid(
                &c.path,
                format!(
                    "county {} {} is not in region {code} {}",
                    c.manifest.region_code, c.manifest.region_name, division.name
                ),
                "leave it out, or name a region that holds every county with --region",
            ));
        }
    }
    Ok((format!("{prefix:0<6}"), division.name.clone()))
}

/// Refuses packages whose units overlap: the same unit code in two packages, or a unit of one that
/// holds a unit of the other (a county unit 530381 and its township 530381101). Stacked, such
/// units were graded twice and every one appeared twice in the provincial tables, silently; a
/// city package and one of its counties' packages are the usual cause.
fn refuse_overlapping_units(counties: &[County]) -> Result<()> {
    let mut codes: Vec<BTreeSet<String>> = Vec::with_capacity(counties.len());
    for c in counties {
        let set = match &c.unit_table {
            Some(df) => crate::text_column(df, "unit_code")
                .map_err(|e| {
                    invalid(
                        &c.path,
                        format!("parquet/unit_table.parquet: {e}"),
                        "re-run verify",
                    )
                })?
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect(),
            None => BTreeSet::new(),
        };
        codes.push(set);
    }
    for j in 1..counties.len() {
        for i in 0..j {
            let shared: Vec<String> = codes[j]
                .iter()
                .filter_map(|u| {
                    overlap(&codes[i], u).map(|o| if o == *u { o } else { format!("{u} / {o}") })
                })
                .collect();
            if let Some(first) = shared.first() {
                let more = if shared.len() > 1 {
                    format!(" and {} more", shared.len() - 1)
                } else {
                    String::new()
                };
                return Err(invalid(
                    &counties[j].path,
                    format!(
                        "its units overlap those of {} ({} {}): unit {first}{more}",
                        counties[i].path.display(),
                        counties[i].manifest.region_code,
                        counties[i].manifest.region_name
                    ),
                    "merge packages of separate areas: a city's package already holds its counties",
                ));
            }
        }
    }
    Ok(())
}

/// The unit of `units` that `code` overlaps: the same code, a unit holding it (its county), or a
/// unit it holds (a township of it).
fn overlap(units: &BTreeSet<String>, code: &str) -> Option<String> {
    if units.contains(code) {
        return Some(code.to_owned());
    }
    if let Some(county) = riskcensus_schema::divisions::county_of(code)
        && county != code
        && units.contains(county)
    {
        return Some(county.to_owned());
    }
    // Only a county code holds other codes: non-division unit codes (01001) are compared whole.
    if riskcensus_schema::divisions::county_of(code) != Some(code) {
        return None;
    }
    units
        .range::<str, _>((std::ops::Bound::Excluded(code), std::ops::Bound::Unbounded))
        .next()
        .filter(|u| u.starts_with(code))
        .cloned()
}

/// Merges verified county packages into `out`: `parquet/` (county partitions as sent, the unit
/// table stacked, the units re-graded province-wide), `qc/` (each county's report under its code
/// and a provincial summary), `risk/`, `gis/`, `maps/`, and the provincial package.
pub fn merge(packages: &[PathBuf], out: &Path, region: Option<&str>) -> Result<MergeReport> {
    if packages.is_empty() {
        return Err(invalid(
            out,
            "no packages to merge".into(),
            "give one or more county packages (.zip)",
        ));
    }
    let mut counties = packages
        .iter()
        .map(|p| read_package(p))
        .collect::<Result<Vec<_>>>()?;
    counties.sort_by(|a, b| a.manifest.region_code.cmp(&b.manifest.region_code));
    for w in counties.windows(2) {
        if w[0].manifest.region_code == w[1].manifest.region_code {
            return Err(invalid(
                &w[1].path,
                format!(
                    "county {} is also in {}",
                    w[1].manifest.region_code,
                    w[0].path.display()
                ),
                "give each county's package once",
            ));
        }
    }
    let years: BTreeSet<i32> = counties.iter().map(|c| c.manifest.reference_year).collect();
    if years.len() != 1 {
        return Err(invalid(
            &counties[0].path,
            format!("the packages are of different census years ({years:?})"),
            "merge packages of one reference year",
        ));
    }
    let year = counties[0].manifest.reference_year;
    let (region_code, region_name) = region_of(&counties, region)?;

    // One model, as every county graded with it.
    let Some(doc) = counties[0].model.clone() else {
        return Err(invalid(
            &counties[0].path,
            "the package holds no risk/model.toml (its run had no [model])".into(),
            "re-run the county with a model",
        ));
    };
    for c in &counties[1..] {
        if c.model.as_deref() != Some(doc.as_slice()) {
            return Err(invalid(
                &c.path,
                format!(
                    "its risk/model.toml differs from that of {}",
                    counties[0].path.display()
                ),
                "every county must be graded with the same model; re-run them with one model file",
            ));
        }
    }

    refuse_overlapping_units(&counties)?;

    // Nothing of an earlier merge may go into this package.
    std::fs::create_dir_all(out).map_err(|source| Error::Write {
        path: out.to_owned(),
        source,
    })?;
    crate::package::clear_outputs(out)?;

    // County partitions as sent; each county's QC folder under its code.
    let mut dictionary: Vec<String> = Vec::new();
    let mut seen_lines = BTreeSet::new();
    let mut shapes: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for c in &mut counties {
        copy_entries(c, out)?;
        for line in String::from_utf8_lossy(&c.dictionary).lines() {
            if seen_lines.insert(line.to_owned()) {
                dictionary.push(line.to_owned());
            }
        }
        shapes.extend(std::mem::take(&mut c.shapes));
    }
    let dictionary = dictionary.join("\n") + "\n";
    write_atomic(
        &out.join("parquet").join("data_dictionary.csv"),
        dictionary.as_bytes(),
    )?;
    write_atomic(
        &out.join("parquet").join("data_dictionary.md"),
        dictionary_markdown(&dictionary).as_bytes(),
    )?;

    // The unit tables stacked (same columns in every county), in unit code order.
    let columns: Vec<String> = counties
        .iter()
        .find_map(|c| c.unit_table.as_ref())
        .map(|df| {
            df.get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut table: Option<DataFrame> = None;
    for c in &mut counties {
        let Some(df) = c.unit_table.take() else {
            return Err(invalid(
                &c.path,
                "the package holds no parquet/unit_table.parquet".into(),
                "re-run the county with this version of riskcensus",
            ));
        };
        let cols: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        if cols != columns {
            let missing: Vec<&String> = columns.iter().filter(|x| !cols.contains(x)).collect();
            let extra: Vec<&String> = cols.iter().filter(|x| !columns.contains(x)).collect();
            return Err(invalid(
                &c.path,
                format!(
                    "its unit table has other columns than the first county's (missing {missing:?}, extra {extra:?})"
                ),
                "counties must be run with the same tables and hazard layers",
            ));
        }
        table = Some(match table {
            None => df,
            Some(mut t) => {
                t.vstack_mut(&df)?;
                t
            }
        });
    }
    let Some(table) = table else {
        return Err(invalid(
            &counties[0].path,
            "the package holds no parquet/unit_table.parquet".into(),
            "re-run the county with this version of riskcensus",
        ));
    };
    let mut table = table.sort(["unit_code"], SortMultipleOptions::default())?;
    let model_path = counties[0].path.join("risk/model.toml");
    let text = String::from_utf8_lossy(&doc).into_owned();
    let model = riskcensus_risk::Model::from_pipeline(&model_path, &text, &columns)
        .map_err(|e| invalid(&counties[0].path, e.to_string(), "fix the model and re-run"))?
        .ok_or_else(|| {
            invalid(
                &counties[0].path,
                "risk/model.toml holds no [model]".into(),
                "re-run the county with a model",
            )
        })?;
    let parquet = out.join("parquet");
    riskcensus_risk::score::write_parquet(&mut table, &parquet.join("unit_table.parquet"))
        .map_err(|e| Error::Report(e.to_string()))?;
    let scored =
        riskcensus_risk::score(&model, &table).map_err(|e| Error::Report(e.to_string()))?;
    crate::geoparquet::write_unit_risk(&parquet, &scored.df, &shapes, &region_code)?;
    write_atomic(&out.join("risk").join("model.toml"), &doc)?;
    if !shapes.is_empty() {
        riskcensus_publish::gis::write_units(&out.join("gis"), &scored.df, &shapes)?;
        let r = crate::maps::Region {
            code: &region_code,
            name: &region_name,
            year,
        };
        crate::maps::draw_all(&r, out, &model, &scored, &shapes)?;
    }

    // QC: every county's figures, summed per table.
    let mut per_table: BTreeMap<String, QcTable> = BTreeMap::new();
    for c in &counties {
        for t in &c.manifest.qc {
            let e = per_table.entry(t.table.clone()).or_insert(QcTable {
                table: t.table.clone(),
                rows_read: 0,
                rows_clean: 0,
                rows_rejected: 0,
                indicators_checked: 0,
                errors: 0,
                error_rate: 0.0,
                passed: true,
            });
            e.rows_read += t.rows_read;
            e.rows_clean += t.rows_clean;
            e.rows_rejected += t.rows_rejected;
            e.indicators_checked += t.indicators_checked;
            e.errors += t.errors;
            e.passed &= t.passed;
        }
    }
    let qc: Vec<QcTable> = per_table
        .into_values()
        .map(|mut t| {
            // The census 差错率: wrong indicators ÷ checked indicators, over the province.
            t.error_rate = if t.indicators_checked == 0 {
                0.0
            } else {
                t.errors as f64 / t.indicators_checked as f64
            };
            t
        })
        .collect();
    let qc_passed = counties.iter().all(|c| c.manifest.qc_passed);
    #[derive(Serialize)]
    struct CountyQc<'a> {
        code: &'a str,
        name: &'a str,
        package: String,
        package_sha256: &'a str,
        qc_passed: bool,
        tables: &'a [QcTable],
    }
    let hashes: Vec<(u64, String)> = counties
        .iter()
        .map(|c| {
            crate::sha256_file(&c.path).map_err(|source| Error::Input {
                path: c.path.clone(),
                source,
            })
        })
        .collect::<Result<_>>()?;
    let county_qc: Vec<CountyQc> = counties
        .iter()
        .zip(&hashes)
        .map(|(c, (_, h))| CountyQc {
            code: &c.manifest.region_code,
            name: &c.manifest.region_name,
            package: file_name(&c.path),
            package_sha256: h,
            qc_passed: c.manifest.qc_passed,
            tables: &c.manifest.qc,
        })
        .collect();
    let json = serde_json::json!({
        "region_code": region_code,
        "region_name": region_name,
        "reference_year": year,
        "qc_passed": qc_passed,
        "tables": qc,
        "counties": county_qc,
    });
    write_atomic(
        &out.join("qc").join("summary.json"),
        &serde_json::to_vec_pretty(&json).map_err(|e| Error::Report(e.to_string()))?,
    )?;
    let summary = serde_json::json!({
        "model": model.name,
        "units": scored.df.height(),
        "grades": scored.grade_counts,
        "breaks": scored.breaks,
    });
    write_atomic(
        &out.join("risk").join("summary.json"),
        &serde_json::to_vec_pretty(&summary).map_err(|e| Error::Report(e.to_string()))?,
    )?;

    let id = Identity {
        previous_package_sha256: None,
        run: format!("merge of {} counties", counties.len()),
        region_code: region_code.clone(),
        region_name: region_name.clone(),
        reference_year: year,
        pipeline_sha256: crate::package::sha256(&doc),
        schema_files: counties
            .iter()
            .flat_map(|c| c.manifest.schema_files.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let inputs = counties
        .iter()
        .zip(&hashes)
        .map(|(c, (bytes, sha256))| InputHash {
            table: "package".into(),
            path: file_name(&c.path),
            bytes: *bytes,
            sha256: sha256.clone(),
        })
        .collect();
    let package = crate::package::build_from(out, &id, inputs, qc_passed, qc)?;
    Ok(MergeReport {
        region_code,
        region_name,
        reference_year: year,
        counties: counties
            .iter()
            .map(|c| {
                (
                    c.manifest.region_code.clone(),
                    c.manifest.region_name.clone(),
                    c.manifest.qc_passed,
                )
            })
            .collect(),
        units: scored.df.height(),
        composite_grades: scored
            .grade_counts
            .get("composite")
            .map(|g| g.iter().map(|(l, _, n)| (l.clone(), *n)).collect())
            .unwrap_or_default(),
        qc_passed,
        package,
        out_dir: out.to_owned(),
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The data dictionary (csv: table, column, name_zh, type, unit, meaning) as Markdown.
fn dictionary_markdown(csv_text: &str) -> String {
    let mut md = String::from(
        "# Data dictionary\n\nEvery Parquet table of this merge, its columns, their Chinese names, types and units.\n",
    );
    let mut table = String::new();
    for r in csv::Reader::from_reader(csv_text.as_bytes())
        .records()
        .flatten()
    {
        let f = |k: usize| r.get(k).unwrap_or("");
        if f(0) != table {
            table = f(0).to_owned();
            md.push_str(&format!(
                "\n## {table}\n\n| column | 中文名 | type | unit | meaning |\n|---|---|---|---|---|\n"
            ));
        }
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            f(1),
            f(2),
            f(3),
            f(4),
            f(5)
        ));
    }
    md
}
