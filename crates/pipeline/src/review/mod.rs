//! The census review loop: reviewers' dispositions read back from the report workbook, the city
//! tier's sampled check, the return list for townships, and the tiers a package has passed.

pub mod import;
pub mod sample;
pub mod score;

pub use import::import;
pub use sample::sample;
pub use score::score;

use std::path::{Path, PathBuf};

/// Errors of the review commands: each names the file and, where there is one, the sheet and row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {message} (hint: {hint})")]
    Invalid {
        path: PathBuf,
        message: String,
        hint: String,
    },
    #[error(transparent)]
    Dispositions(#[from] riskcensus_qc::review::Error),
    #[error(transparent)]
    Pipeline(#[from] crate::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid(path: &Path, message: impl Into<String>, hint: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.to_owned(),
        message: message.into(),
        hint: hint.into(),
    }
}
