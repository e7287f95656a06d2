//! The pipeline file as written (`PipelineFile`) and as resolved (`Run`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use riskcensus_schema::{DivisionLevel, Registry, SchemaSet, divisions};
use serde::Deserialize;

use crate::columns::{self, ColumnMap};
use crate::{Error, Result, sha256_file};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub run: RunSection,
    #[serde(default)]
    pub qc: QcSection,
    #[serde(default)]
    pub codes: CodesSection,
    #[serde(default)]
    pub units: Option<UnitsSection>,
    /// A plain per-unit indicator table to score instead of records to aggregate.
    #[serde(default)]
    pub indicators: Option<IndicatorsSection>,
    #[serde(default)]
    pub inputs: Vec<InputSpec>,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default)]
    pub schemas: SchemasSection,
    #[serde(default)]
    pub spatial: SpatialSection,
    /// The risk model; parsed (with its line numbers) by `riskcensus_risk::Model`.
    #[serde(default)]
    pub model: Option<toml::Value>,
    /// The reviewers' dispositions file.
    #[serde(default)]
    pub review: ReviewSection,
}

/// `[review] dispositions = "dispositions.csv"`: the reviewers' decisions a run applies, relative to
/// the pipeline file. Absent until the first `riskcensus review import` writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSection {
    #[serde(default)]
    pub dispositions: Option<String>,
    /// Who signs the county's self-check; with `date`, the run records the county tier in its
    /// package's manifest.
    #[serde(default)]
    pub reviewer: Option<String>,
    /// When the self-check was done, `YYYY-MM-DD` (written, not taken from the clock, so the same
    /// inputs still give the same package).
    #[serde(default)]
    pub date: Option<String>,
}

/// Extra schema directories (each with `tables/` and `codes/`), relative to the pipeline file; they
/// add tables or replace shipped ones by code, with no rebuild.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemasSection {
    #[serde(default)]
    pub dirs: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpatialSection {
    /// Transform vector inputs in other coordinate systems to CGCS2000 instead of failing.
    #[serde(default)]
    pub reproject: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub name: String,
    pub region_code: String,
    #[serde(default)]
    pub region_name: Option<String>,
    pub reference_year: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QcSection {
    /// Highest 差错率 a table may have and pass (default 0.05); a `[qc]` that sets only the
    /// rejected share keeps it.
    #[serde(default = "default_pass_threshold")]
    pub pass_threshold: f64,
    /// Highest share of a table's records that may be rejected and the table still pass: a 差错率
    /// under the threshold says little when most records never reach the output.
    #[serde(
        default = "default_max_rejected_share",
        deserialize_with = "share_0_to_1"
    )]
    pub max_rejected_share: f64,
}

fn default_pass_threshold() -> f64 {
    0.05
}

impl Default for QcSection {
    fn default() -> Self {
        QcSection {
            pass_threshold: default_pass_threshold(),
            max_rejected_share: default_max_rejected_share(),
        }
    }
}

fn default_max_rejected_share() -> f64 {
    0.2
}

/// A share from 0 to 1; refused while parsing, so that the error names the line of the value.
fn share_0_to_1<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "{v} is not a share: give one from 0 to 1, e.g. 0.2 (20% of the records)"
        )))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesSection {
    pub division_changes: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitsSection {
    pub table: String,
    pub path: String,
    pub code_field: String,
    pub name_field: String,
    /// The layer's own field names mapped to field codes of `table` (`[units.columns]`).
    #[serde(default)]
    pub columns: ColumnMap,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorsSection {
    /// A csv (UTF-8 or GBK), xlsx, xls or ods with one row per unit.
    pub path: String,
    /// Sheet of a workbook (default: the first).
    #[serde(default)]
    pub sheet: Option<String>,
    #[serde(default = "unit_code")]
    pub code_field: String,
    #[serde(default = "unit_name")]
    pub name_field: String,
}

fn unit_code() -> String {
    "unit_code".into()
}

fn unit_name() -> String {
    "unit_name".into()
}

/// A resolved indicator table.
#[derive(Debug, Clone)]
pub struct IndicatorTable {
    pub path: String,
    pub resolved: PathBuf,
    pub sheet: Option<String>,
    pub code_field: String,
    pub name_field: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub table: String,
    pub path: String,
    /// Sheet of a workbook (default: the first).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Layer of a GeoPackage (default: the first).
    #[serde(default)]
    pub layer: Option<String>,
    /// Text encoding of a csv or DBF (`GBK` or `UTF-8`; default: `.cpg`, else detected).
    #[serde(default)]
    pub encoding: Option<String>,
    /// The file's own headers (or DBF field names) mapped to field codes (`[inputs.columns]`).
    #[serde(default)]
    pub columns: ColumnMap,
    /// `columns` as checked at load: (header, field code), for the readers.
    #[serde(skip)]
    pub column_map: Vec<(String, String)>,
    #[serde(skip)]
    pub resolved: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    pub dir: String,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection { dir: "out".into() }
    }
}

/// A resolved, validated run.
#[derive(Debug, Clone)]
pub struct Run {
    pub pipeline_path: PathBuf,
    pub pipeline_sha256: String,
    pub name: String,
    pub region_code: String,
    pub region_name: String,
    pub reference_year: i32,
    pub pass_threshold: f64,
    /// `[qc] max_rejected_share`: above it a table fails QC.
    pub max_rejected_share: f64,
    pub division_changes: Option<PathBuf>,
    /// The units layer; `None` when the run scores a plain indicator table.
    pub units: Option<InputSpec>,
    pub units_code_field: String,
    pub units_name_field: String,
    pub indicator_table: Option<IndicatorTable>,
    pub inputs: Vec<InputSpec>,
    /// `<output dir>/<run name>/`.
    pub out_dir: PathBuf,
    /// The schemas of this run: shipped, plus the pipeline's own directories.
    pub schemas: SchemaSet,
    pub reproject: bool,
    /// The risk model, checked against the unit table this run's inputs will make.
    pub model: Option<riskcensus_risk::Model>,
    /// The columns of that unit table, known before any data is read.
    pub unit_columns: Vec<String>,
    /// Things the pipeline file says that the run does not take as written (a region name that is
    /// not the registry's); printed and kept in the QC summary.
    pub warnings: Vec<String>,
    /// `[review] dispositions`, resolved; the file may not exist yet (nothing reviewed).
    pub dispositions: Option<PathBuf>,
    /// `[review] reviewer` and `date`: the county tier the run signs into its package.
    pub county_signoff: Option<(String, String)>,
}

/// The region of a run as resolved: its 6-digit code, the registry's name, and any warning.
struct Region {
    code: String,
    name: String,
    warnings: Vec<String>,
}

/// Checks `[run] region_code` (a county, a city or a province) against the registry, and
/// `region_name` against the registry's name. The package and maps are named by the registry, so
/// a name that disagrees is a warning, not a silent relabelling. Errors are (message, hint).
fn resolve_region(
    run: &RunSection,
    registry: &Registry,
) -> std::result::Result<Region, (String, &'static str)> {
    const HINT: &str =
        "give a 6-digit code: a county (530302), a city (530300) or a province (530000)";
    let code = run.region_code.trim();
    let level =
        divisions::parse_region(code).map_err(|e| (format!("[run] region_code: {e}"), HINT))?;
    if level > DivisionLevel::County {
        return Err((
            format!("[run] region_code {code} is a township; a run covers a county or more"),
            HINT,
        ));
    }
    let Some(official) = registry.region_name(code) else {
        return Err((
            format!("[run] region_code {code} is not in the NBS 2023 division list"),
            "check the code against schemas/codes/divisions_nbs2023/",
        ));
    };
    let canonical = format!("{:0<6}", divisions::region_prefix(code));
    let mut warnings = Vec::new();
    if let Some(given) = run.region_name.as_deref().map(str::trim)
        && given != official
        && registry.region(code).is_none_or(|d| d.name != given)
    {
        warnings.push(format!(
            "[run] region_name {given:?} is not the name of {canonical} in the NBS 2023 division list ({official}); the outputs are named {official}"
        ));
    }
    Ok(Region {
        code: canonical,
        name: official,
        warnings,
    })
}

impl Run {
    /// Reads and resolves a pipeline file. `out` overrides the file's output directory.
    pub fn load(path: &Path, out: Option<&Path>) -> Result<Run> {
        let text = riskcensus_schema::read_utf8(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let file: PipelineFile = toml::from_str(&text).map_err(|e| Error::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let (_, pipeline_sha256) = sha256_file(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let invalid = |message: String, hint: &str| Error::Invalid {
            path: path.to_owned(),
            message,
            hint: hint.to_owned(),
        };

        let name = file.run.name.trim().to_owned();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(
                format!("[run] name {:?} cannot name a directory", file.run.name),
                "use letters, digits, '_' and '-' only",
            ));
        }
        let registry = Registry::nbs2023();
        let region = resolve_region(&file.run, registry).map_err(|(m, h)| invalid(m, h))?;
        if !(1990..=2100).contains(&file.run.reference_year) {
            return Err(invalid(
                format!(
                    "[run] reference_year {} is implausible",
                    file.run.reference_year
                ),
                "the census reference year is 2020",
            ));
        }
        if !(0.0..=1.0).contains(&file.qc.pass_threshold) {
            return Err(invalid(
                format!(
                    "[qc] pass_threshold {} is not a share",
                    file.qc.pass_threshold
                ),
                "give the highest passing error rate from 0 to 1, e.g. 0.05",
            ));
        }

        let mut schemas = SchemaSet::builtin().map_err(|e| {
            invalid(
                format!("shipped schemas: {e}"),
                "report this: the shipped schemas must load",
            )
        })?;
        for d in &file.schemas.dirs {
            schemas.load_dir(&base.join(d)).map_err(|e| {
                invalid(
                    format!("[schemas] dirs: {e}"),
                    "fix the schema file at the line named",
                )
            })?;
        }
        let known_table = |code: &str| schemas.table(code).is_some();
        let mut missing = Vec::new();
        let mut unknown = BTreeSet::new();
        let mut resolve = |table: &str, p: &str| -> PathBuf {
            let resolved = base.join(p);
            if !resolved.is_file() {
                missing.push(format!("{p} ({table})"));
            }
            if !known_table(table) {
                unknown.insert(table.to_owned());
            }
            resolved
        };
        let units = match &file.units {
            Some(u) => {
                let mut units = InputSpec {
                    table: u.table.clone(),
                    path: u.path.clone(),
                    sheet: None,
                    layer: None,
                    encoding: None,
                    columns: u.columns.clone(),
                    column_map: Vec::new(),
                    resolved: PathBuf::new(),
                };
                units.resolved = resolve(&units.table, &units.path);
                Some(units)
            }
            None => None,
        };
        let indicator_table = file.indicators.as_ref().map(|i| IndicatorTable {
            path: i.path.clone(),
            resolved: resolve("indicators", &i.path),
            sheet: i.sheet.clone(),
            code_field: i.code_field.clone(),
            name_field: i.name_field.clone(),
        });
        let mut inputs = file.inputs.clone();
        for input in &mut inputs {
            input.resolved = resolve(&input.table, &input.path);
        }
        let division_changes = file
            .codes
            .division_changes
            .as_ref()
            .map(|p| resolve("division_changes", p));
        unknown.remove("division_changes");
        unknown.remove("indicators");
        if !unknown.is_empty() {
            return Err(invalid(
                format!(
                    "unknown table(s): {}",
                    unknown.into_iter().collect::<Vec<_>>().join(", ")
                ),
                "run `riskcensus schema` for the census table codes",
            ));
        }
        if !missing.is_empty() {
            return Err(invalid(
                format!("input file(s) not found: {}", missing.join(", ")),
                &format!("paths are relative to {}", base.display()),
            ));
        }
        // After the files are found: a missing file is the first thing to put right.
        let mut units = units;
        check_column_maps(&text, &schemas, units.as_mut(), &mut inputs)
            .map_err(|e| invalid(format!("line {}: {}", e.line, e.message), &e.hint))?;
        if let (Some(u), Some(section)) = (&units, &file.units) {
            check_unit_fields(&schemas, u, section).map_err(|(m, h)| invalid(m, &h))?;
        }
        let out_root = match out {
            Some(o) => o.to_owned(),
            None => lexical_clean(&base.join(&file.output.dir)),
        };
        // The model is checked now, against the columns the inputs will give the unit table, so a
        // bad model fails in a second, not after the data is read.
        let mut tables: Vec<&str> = Vec::new();
        let mut hazards: Vec<(String, Vec<i64>)> = Vec::new();
        for i in &inputs {
            if tables.contains(&i.table.as_str()) {
                continue;
            }
            tables.push(&i.table);
            if let Some(schema) = schemas.table(&i.table)
                && let Some(name) = riskcensus_risk::units::is_hazard_table(schema)
            {
                hazards.push((
                    name,
                    riskcensus_risk::units::class_range(schema, "dj").unwrap_or_default(),
                ));
            }
        }
        let mut warnings = region.warnings;
        let columns = match &indicator_table {
            Some(t) if t.resolved.is_file() => {
                // The table's schema comes from its own header; QC checks it like any table.
                let derived = crate::indicators::derive(t)?;
                warnings.extend(derived.warning);
                let columns = derived
                    .schema
                    .fields
                    .iter()
                    .map(|f| f.code.clone())
                    .collect();
                schemas
                    .tables
                    .insert(crate::indicators::TABLE.into(), derived.schema);
                columns
            }
            _ => riskcensus_risk::aggregate::expected_columns(&tables, &hazards),
        };
        match (&units, &indicator_table, inputs.is_empty()) {
            (None, None, _) => {
                return Err(invalid(
                    "no [units] and no [indicators]".into(),
                    "name the unit boundaries ([units]) or a per-unit indicator table ([indicators])",
                ));
            }
            (None, Some(_), false) => {
                return Err(invalid(
                    "[[inputs]] need a [units] layer to be joined to".into(),
                    "add [units], or drop the inputs when scoring a plain indicator table",
                ));
            }
            _ => {}
        }
        let model = riskcensus_risk::Model::from_pipeline(path, &text, &columns)
            .map_err(|e| invalid(e.to_string(), "fix the model at the line named"))?;
        if let Some(m) = model.as_ref().filter(|m| !m.left_out.is_empty()) {
            warnings.push(format!(
                "model {}: {} optional indicator(s) left out, the run having none of their tables; the other inputs of their dimensions share their weight: {}",
                m.name,
                m.left_out.len(),
                m.left_out.join("; ")
            ));
        }
        let county_signoff = match (&file.review.reviewer, &file.review.date) {
            (Some(r), Some(d)) => {
                crate::review::tier::check_date(d).map_err(|m| {
                    invalid(format!("[review] {m}"), "write the date as 2021-06-30")
                })?;
                Some((r.clone(), d.clone()))
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "[review] names a reviewer or a date, not both".into(),
                    "give both reviewer and date to sign the county tier, or neither",
                ));
            }
        };
        Ok(Run {
            county_signoff,
            dispositions: file.review.dispositions.as_ref().map(|d| base.join(d)),
            model,
            unit_columns: columns,
            pipeline_path: path.to_owned(),
            pipeline_sha256,
            out_dir: out_root.join(&name),
            name,
            region_code: region.code,
            region_name: region.name,
            warnings,
            reference_year: file.run.reference_year,
            pass_threshold: file.qc.pass_threshold,
            max_rejected_share: file.qc.max_rejected_share,
            division_changes,
            units,
            units_code_field: file
                .units
                .as_ref()
                .map(|u| u.code_field.clone())
                .unwrap_or_else(unit_code),
            units_name_field: file
                .units
                .as_ref()
                .map(|u| u.name_field.clone())
                .unwrap_or_else(unit_name),
            indicator_table,
            inputs,
            schemas,
            reproject: file.spatial.reproject,
        })
    }
}

/// Checks the column map of the units layer and of every input against its table, keeping each as
/// the pairs the readers take. Tables are known to exist by now.
fn check_column_maps(
    text: &str,
    schemas: &SchemaSet,
    units: Option<&mut InputSpec>,
    inputs: &mut [InputSpec],
) -> std::result::Result<(), columns::MapError> {
    let sections = units
        .into_iter()
        .map(|u| ("[units]", u))
        .chain(inputs.iter_mut().map(|i| ("[[inputs]]", i)));
    for (section, spec) in sections {
        if let Some(schema) = schemas.table(&spec.table) {
            spec.column_map = columns::check(text, section, schema, &spec.columns)?;
        }
    }
    Ok(())
}

/// `[units] code_field`/`name_field` name fields of the units table, whose columns the layer (or
/// its column map) provides; a column name there is the mistake the column map exists to prevent,
/// so it is refused with the map line that reads it.
fn check_unit_fields(
    schemas: &SchemaSet,
    units: &InputSpec,
    section: &UnitsSection,
) -> std::result::Result<(), (String, String)> {
    let Some(schema) = schemas.table(&units.table) else {
        return Ok(());
    };
    for (key, value, usual) in [
        ("code_field", &section.code_field, "xzqdm"),
        ("name_field", &section.name_field, "xzqmc"),
    ] {
        if schema.field_index(value).is_none() {
            let target = schema
                .field_index(usual)
                .map_or(usual, |k| schema.fields[k].code.as_str());
            return Err((
                format!("[units] {key} {value:?} is not a field of {}", schema.code),
                format!(
                    "{key} names a field of the table (e.g. {target:?}); to read the layer's column {value:?} as that field, add under [units]: columns = {{ {value:?} = {target:?} }}"
                ),
            ));
        }
    }
    Ok(())
}

/// `a/b/../c` → `a/c`, without touching the file system (the directory may not exist yet).
fn lexical_clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("p.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::write(dir.join("t.shp"), b"x").unwrap();
        p
    }

    const GOOD: &str = "[run]\nname = \"demo\"\nregion_code = \"530402\"\nreference_year = 2020\n\n[units]\ntable = \"xzqh_xz\"\npath = \"t.shp\"\ncode_field = \"xzqdm\"\nname_field = \"xzqmc\"\n";

    #[test]
    fn resolves_a_good_file() {
        let d = tempfile::tempdir().unwrap();
        let run = Run::load(&write(d.path(), GOOD), None).unwrap();
        assert_eq!(run.region_name, "红塔区");
        assert_eq!(run.out_dir, d.path().join("out").join("demo"));
    }

    #[test]
    fn a_typo_names_the_line() {
        let d = tempfile::tempdir().unwrap();
        let text = GOOD.replace("reference_year", "referance_year");
        let err = Run::load(&write(d.path(), &text), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("referance_year"), "{err}");
    }

    #[test]
    fn max_rejected_share_defaults_to_a_fifth_and_must_be_a_share() {
        let d = tempfile::tempdir().unwrap();
        let run = Run::load(&write(d.path(), GOOD), None).unwrap();
        assert_eq!(run.max_rejected_share, 0.2);
        let qc = "\n[qc]\npass_threshold = 0.05\nmax_rejected_share = 0.5\n";
        let run = Run::load(&write(d.path(), &format!("{GOOD}{qc}")), None).unwrap();
        assert_eq!(run.max_rejected_share, 0.5);
        // GOOD has 10 lines; the share is on line 14.
        for bad in ["1.5", "-0.1", "nan"] {
            let text = format!("{GOOD}{}", qc.replace("0.5", bad));
            let err = Run::load(&write(d.path(), &text), None)
                .unwrap_err()
                .to_string();
            assert!(err.contains("line 14"), "{bad}: {err}");
            assert!(err.contains("max_rejected_share"), "{bad}: {err}");
            assert!(err.contains("from 0 to 1"), "{bad}: {err}");
        }
    }

    #[test]
    fn missing_inputs_are_listed_together() {
        let d = tempfile::tempdir().unwrap();
        let text = format!(
            "{GOOD}\n[[inputs]]\ntable = \"fwjz\"\npath = \"a.xlsx\"\n\n[[inputs]]\ntable = \"czt_xx\"\npath = \"b.xlsx\"\n"
        );
        let err = Run::load(&write(d.path(), &text), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.xlsx (fwjz)") && err.contains("b.xlsx (czt_xx)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_tables_and_regions_fail() {
        let d = tempfile::tempdir().unwrap();
        let text = format!("{GOOD}\n[[inputs]]\ntable = \"nonsense\"\npath = \"t.shp\"\n");
        assert!(
            Run::load(&write(d.path(), &text), None)
                .unwrap_err()
                .to_string()
                .contains("nonsense")
        );
        let text = GOOD.replace("530402", "999999");
        assert!(Run::load(&write(d.path(), &text), None).is_err());
    }

    #[test]
    fn a_region_is_a_county_a_city_or_a_province_and_its_name_is_checked() {
        let d = tempfile::tempdir().unwrap();
        let load = |code: &str, name: Option<&str>| {
            let mut text = GOOD.replace("530402", code);
            if let Some(n) = name {
                text = text.replace(
                    "reference_year",
                    &format!("region_name = \"{n}\"\nreference_year"),
                );
            }
            Run::load(&write(d.path(), &text), None)
        };
        for (code, name) in [
            ("530402", "红塔区"),
            ("530300", "曲靖市"),
            ("530000", "云南省"),
            ("310100", "上海市"),
        ] {
            let run = load(code, None).unwrap();
            assert_eq!(
                (run.region_code.as_str(), run.region_name.as_str()),
                (code, name)
            );
            assert!(run.warnings.is_empty(), "{:?}", run.warnings);
            assert!(load(code, Some(name)).unwrap().warnings.is_empty());
        }
        // A city run labelled with one of its districts' names: the registry's name, and a warning.
        let run = load("530300", Some("麒麟区")).unwrap();
        assert_eq!(run.region_name, "曲靖市");
        assert_eq!(run.warnings.len(), 1);
        assert!(
            run.warnings[0].contains("麒麟区") && run.warnings[0].contains("曲靖市"),
            "{:?}",
            run.warnings
        );
        // A township is not a region; a city that does not exist is named.
        let e = load("530302001", None).unwrap_err().to_string();
        assert!(e.contains("township") && e.contains("530300"), "{e}");
        let e = load("539900", None).unwrap_err().to_string();
        assert!(
            e.contains("539900") && e.contains("not in the NBS 2023"),
            "{e}"
        );
    }
}
