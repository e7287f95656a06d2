#![doc = include_str!("../README.md")]

pub mod geoparquet;
pub mod gis;
pub mod maps;
pub mod package;
pub mod scores;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use geoparquet::{RunTables, column_names};
pub use gis::short_names;
pub use scores::{ScoreOutputs, write_scores};

/// Errors of publishing. The messages are those the pipeline crate gave before publishing had a
/// crate of its own, word for word: users and tests match them, and the pipeline passes them on
/// unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot write the QC report: {0}")]
    Report(String),
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A text column as strings (null as empty), e.g. the unit codes of a graded table.
pub fn text_column(df: &polars::prelude::DataFrame, name: &str) -> Result<Vec<String>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|c| c.unwrap_or("").to_owned())
        .collect())
}

/// Writes a file under a temporary name and renames it when whole, so a killed run never leaves half
/// a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] of what `write` writes (buffered), without first holding it all in memory.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp-{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    let mut w = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(&tmp).map_err(err)?);
    write(&mut w)
        .and_then(|()| w.into_inner().map_err(|e| e.into_error()))
        .map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}
