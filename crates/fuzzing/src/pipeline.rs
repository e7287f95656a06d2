//! Targets for the files that configure and carry a run: the pipeline TOML, the risk model TOML and
//! the upload package a province receives. These need polars (models run SQL on a unit table; the
//! package reader reads Parquet footers), so they build only with the `pipeline` feature.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use riskcensus_pipeline::{Run, package::verify};
use riskcensus_risk::Model;

use crate::{Outcome, must_name, scratch};

/// Files a fuzzed pipeline finds beside it, by the names the fixture county's pipeline uses: the
/// model files and indicator tables are real (they are read at load); the inputs only have to exist,
/// since loading a pipeline checks that they do and reads none of them.
const ENV_FILES: &[(&str, &[u8])] = &[
    (
        "model.toml",
        include_bytes!("../../../fixtures/county_530381/model.toml"),
    ),
    (
        "models/census.toml",
        include_bytes!("../../../pipelines/models/census.toml"),
    ),
    (
        "models/fema_nri.toml",
        include_bytes!("../../../pipelines/models/fema_nri.toml"),
    ),
    (
        "models/inform.toml",
        include_bytes!("../../../pipelines/models/inform.toml"),
    ),
    (
        "nri_example.csv",
        include_bytes!("../../../fixtures/indicators/nri_example.csv"),
    ),
    (
        "inform_example.csv",
        include_bytes!("../../../fixtures/indicators/inform_example.csv"),
    ),
    (
        "division_changes.csv",
        include_bytes!("../../../fixtures/county_530381/division_changes.csv"),
    ),
    (
        "my_schemas/tables/czt_xx.toml",
        include_bytes!("../../../schemas/tables/czt_xx.toml"),
    ),
    (
        "my_schemas/codes/yes_no.toml",
        include_bytes!("../../../schemas/codes/yes_no.toml"),
    ),
    ("xzqh_xz.shp", b""),
    ("hz_earthquake.shp", b""),
    ("hz_flood.shp", b""),
    ("hz_landslide.shp", b""),
    ("hz_forest_fire.shp", b""),
    ("xzjd_rkjj.xlsx", b""),
    ("zhjzzy_jc_xzzy.xlsx", b""),
    ("czt_xx.xlsx", b""),
    ("czt_ylwsjg.xlsx", b""),
    ("dzzhyhd.xlsx", b""),
    ("fwjz.xlsx", b""),
];

/// The fixture county's own pipeline file, from which the model target takes its unit columns.
pub(crate) const FIXTURE_PIPELINE: &[u8] =
    include_bytes!("../../../fixtures/county_530381/pipeline.toml");

thread_local! {
    static ENV_READY: Cell<bool> = const { Cell::new(false) };
}

/// This thread's pipeline directory, with `ENV_FILES` written the first time.
fn env_dir() -> PathBuf {
    if !ENV_READY.get() {
        for (name, bytes) in ENV_FILES {
            scratch::file(&format!("pipeline/{name}"), bytes);
        }
        ENV_READY.set(true);
    }
    scratch::dir().join("pipeline")
}

/// A pipeline file, loaded (parsed, resolved against the files beside it, its model checked) with
/// `Run::load`, as `riskcensus run` and `validate` start.
pub fn pipeline_toml(data: &[u8]) -> Outcome {
    let dir = env_dir();
    let path = scratch::file("pipeline/pipeline.toml", data);
    let result = Run::load(&path, Some(&dir.join("out"))).map(|_| ());
    must_name(
        result.map_err(|e| e.to_string()),
        &[&dir.display().to_string()],
    )
}

/// The unit table's columns a model is checked against: those of the fixture county's inputs, plus
/// the indicator tables' columns (so the shipped NRI and INFORM models resolve too).
fn unit_columns() -> &'static [String] {
    static COLUMNS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let dir = env_dir();
        let path = dir.join("fixture_pipeline.toml");
        std::fs::write(&path, FIXTURE_PIPELINE).expect("fuzz harness: write the fixture pipeline");
        let run = Run::load(&path, Some(&dir.join("out"))).expect("the fixture pipeline loads");
        let mut columns = run.unit_columns;
        for (_, csv) in ENV_FILES
            .iter()
            .filter(|(n, _)| n.ends_with("_example.csv"))
        {
            let header = csv.split(|&b| b == b'\n').next().unwrap_or_default();
            for c in String::from_utf8_lossy(header).trim().split(',') {
                if !columns.iter().any(|k| k == c) {
                    columns.push(c.to_owned());
                }
            }
        }
        columns
    })
}

/// A risk model, as `[model]` of a pipeline file (inline, or `file = …` pointing to one of the
/// model files beside it), checked against the unit table's columns with `Model::from_pipeline`.
pub fn model_toml(data: &[u8]) -> Outcome {
    let columns = unit_columns();
    let dir = env_dir();
    let path = scratch::file("pipeline/model_pipeline.toml", data);
    // The loader reads the pipeline as UTF-8 text and fails on anything else, naming the file.
    let Ok(text) = std::str::from_utf8(data) else {
        return Err("not UTF-8".into());
    };
    let result = Model::from_pipeline(&path, text, columns).map(|_| ());
    must_name(
        result.map_err(|e| e.to_string()),
        &[&dir.display().to_string()],
    )
}

/// An upload package, checked with `riskcensus verify`'s `package::verify`: a list of problems,
/// never a panic.
pub fn package(data: &[u8]) -> Outcome {
    let path = scratch::file("package.zip", data);
    problems(&path)
}

fn problems(path: &Path) -> Outcome {
    let found = verify(path);
    if found.is_empty() {
        Ok(())
    } else {
        Err(found.join("; "))
    }
}
