//! Fuzz targets for riskcensus: one function per kind of file an office or a province sends us.
//!
//! The product promises that bad input gives one clear error naming the file, never a panic or an
//! abort. Each target therefore feeds its bytes to the real reader (through a file, since the
//! readers take paths) and returns the reader's verdict; it panics itself only when an error fails
//! to name the file. A panic, an abort or a crash of the process is the finding.
//!
//! The coverage-guided campaigns (cargo-afl) are in `fuzz/` at the root of the repository; the test
//! of this crate replays the seed corpus (`fuzz/seeds/<target>/`) and every crash found so far
//! (`fuzz/regressions/<target>/`).

mod framing;
mod readers;
mod scratch;

#[cfg(feature = "pipeline")]
mod pipeline;
#[cfg(feature = "seeds")]
pub mod seeds;

pub use framing::{frame_parts, split_parts};
#[cfg(feature = "pipeline")]
pub use pipeline::{model_toml, package, pipeline_toml};
pub use readers::{csv, schema_toml, shapefile, spreadsheet};

/// What a target made of its input: `Ok` when the reader accepted it, else the error as a user
/// would read it (a package's problems, joined).
pub type Outcome = Result<(), String>;

/// Every target, in the order campaigns and the replay test run them.
pub const TARGETS: &[&str] = &[
    "spreadsheet",
    "csv",
    "shapefile",
    "schema_toml",
    "pipeline_toml",
    "model_toml",
    "package",
];

/// The targets that need the `pipeline` feature (and so polars).
const NEED_PIPELINE: &[&str] = &["pipeline_toml", "model_toml", "package"];

/// Targets built in this configuration (the polars-heavy ones only with the `pipeline` feature).
pub fn available() -> Vec<&'static str> {
    TARGETS
        .iter()
        .copied()
        .filter(|t| cfg!(feature = "pipeline") || !NEED_PIPELINE.contains(t))
        .collect()
}

/// Runs a target by name; `None` for an unknown name or one not built in this configuration.
pub fn run(target: &str, data: &[u8]) -> Option<Outcome> {
    Some(match target {
        "spreadsheet" => spreadsheet(data),
        "csv" => csv(data),
        "shapefile" => shapefile(data),
        "schema_toml" => schema_toml(data),
        #[cfg(feature = "pipeline")]
        "pipeline_toml" => pipeline_toml(data),
        #[cfg(feature = "pipeline")]
        "model_toml" => model_toml(data),
        #[cfg(feature = "pipeline")]
        "package" => package(data),
        _ => return None,
    })
}

/// The product's promise, checked on every error: the message names the file it is about (or
/// another file under the target's own directory, e.g. a model file the pipeline points to). An
/// error that names no file leaves an office guessing, so it counts as a finding like a panic.
pub(crate) fn must_name(outcome: Outcome, names: &[&str]) -> Outcome {
    if let Err(message) = &outcome {
        assert!(
            names.iter().any(|n| message.contains(n)),
            "error names none of {names:?}: {message}"
        );
    }
    outcome
}
