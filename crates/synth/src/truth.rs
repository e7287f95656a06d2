//! `ground_truth.csv`: one row per injected defect.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::defects::Defect;
use crate::{Error, Result};

/// Columns of `ground_truth.csv`. The first four are the contract with the quality checks; `source_file`
/// says which file the row is in (a table can span files), `expect` whether QC should report it
/// (`issue`) or the readers should repair it silently (`repaired`).
pub const HEADER: [&str; 6] = [
    "table",
    "source_row",
    "field",
    "defect",
    "source_file",
    "expect",
];

pub struct TruthWriter {
    writer: csv::Writer<BufWriter<File>>,
    path: PathBuf,
    pub count: u64,
}

impl TruthWriter {
    pub fn create(path: &Path) -> Result<TruthWriter> {
        let file = File::create(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        writer.write_record(HEADER).map_err(|source| Error::Csv {
            path: path.to_owned(),
            source,
        })?;
        Ok(TruthWriter {
            writer,
            path: path.to_owned(),
            count: 0,
        })
    }

    /// Records a defect; `source_row` is `None` for a file-level defect.
    pub fn record(
        &mut self,
        table: &str,
        source_row: Option<u64>,
        field: &str,
        defect: Defect,
        file: &str,
    ) -> Result<()> {
        let row = source_row.map(|r| r.to_string()).unwrap_or_default();
        self.writer
            .write_record([
                table,
                &row,
                field,
                defect.name(),
                file,
                defect.expect().as_str(),
            ])
            .map_err(|source| Error::Csv {
                path: self.path.clone(),
                source,
            })?;
        self.count += 1;
        Ok(())
    }

    /// Records an issue QC must report under `rule` (for defects of the schema-driven tables).
    pub fn record_issue(
        &mut self,
        table: &str,
        source_row: u64,
        field: &str,
        rule: &str,
        file: &str,
    ) -> Result<()> {
        self.writer
            .write_record([table, &source_row.to_string(), field, rule, file, "issue"])
            .map_err(|source| Error::Csv {
                path: self.path.clone(),
                source,
            })?;
        self.count += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64> {
        self.writer.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.count)
    }
}
