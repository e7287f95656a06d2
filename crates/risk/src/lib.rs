#![doc = include_str!("../README.md")]

pub mod aggregate;
pub mod figures;
pub mod grade;
pub mod model;
pub mod score;
pub mod units;

pub use model::Model;
pub use score::{ScoredUnits, score};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("risk model in {file} line {line}: {message}")]
    Model {
        file: String,
        line: usize,
        message: String,
    },
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    #[error("cannot write {path}: {message}")]
    Write {
        path: std::path::PathBuf,
        message: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
