//! `riskcensus review …`: the county, city and province tiers of the census review.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use crate::app::EXIT_OK;

#[derive(Debug, Subcommand)]
pub enum ReviewCmd {
    /// Read the 处理结果 (确认/误报/例外), 处理说明 and 批准人 a reviewer chose in a run's
    /// qc/report.xlsx into the dispositions file the pipeline names ([review] dispositions).
    ///
    /// Example: riskcensus review import out/demo/qc/report.xlsx --into pipelines/dispositions.csv
    Import {
        /// The report workbook (qc/report.xlsx), with the reviewer's choices.
        workbook: PathBuf,
        /// The dispositions file to create or update (csv, one line per issue).
        #[arg(long)]
        into: PathBuf,
        /// Who reviewed (kept with every decision imported).
        #[arg(long, default_value = "")]
        reviewer: String,
    },
}

pub fn dispatch(cmd: ReviewCmd) -> Result<i32> {
    match cmd {
        ReviewCmd::Import {
            workbook,
            into,
            reviewer,
        } => {
            let done = riskcensus_pipeline::review::import(&workbook, &into, &reviewer)?;
            println!(
                "imported {} decisions from {}; {} now holds {} (rerun the pipeline to apply them)",
                done.decided,
                workbook.display(),
                into.display(),
                done.total
            );
            Ok(EXIT_OK)
        }
    }
}
