//! `riskcensus diff`: what changed between two versions of a county.

use std::path::PathBuf;

use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier version: an upload package (.zip) or a run's output directory.
    old: PathBuf,
    /// The later version, likewise.
    new: PathBuf,
    /// Where to write diff.xlsx and diff.json.
    #[arg(long, default_value = "diff")]
    out: PathBuf,
}

pub fn diff(args: DiffArgs) -> Result<i32> {
    let d = riskcensus_pipeline::diff::diff(&args.old, &args.new).with_context(|| {
        format!(
            "could not compare {} with {}",
            args.old.display(),
            args.new.display()
        )
    })?;
    println!("{} → {}", args.old.display(), args.new.display());
    for line in d.summary_lines() {
        println!("  {line}");
    }
    let files = riskcensus_pipeline::diff::write(&d, &args.out)?;
    for f in files {
        println!("written: {}", f.display());
    }
    Ok(crate::app::EXIT_OK)
}
