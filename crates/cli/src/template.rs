//! `riskcensus template`: blank survey forms from the schemas.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use riskcensus_schema::{DivisionLevel, Registry, SchemaSet};
use riskcensus_synth::template::{self, TemplateOptions, Township};

#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    /// Table codes (e.g. fwjz czt_xx), or `all` for every table a form can carry.
    #[arg(required = true)]
    tables: Vec<String>,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// A 9-digit township code (NBS 2023): the forms are made for that township.
    #[arg(long)]
    township: Option<String>,
    /// Census reference year.
    #[arg(long, default_value_t = 2020)]
    reference_year: i32,
    /// Also load schemas from this directory (with tables/ and codes/).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The township `--township` names, or an error saying what a township code is.
fn township(code: &str) -> Result<Township> {
    match Registry::nbs2023().get(code) {
        Some(d) if d.level == DivisionLevel::Township => Ok(Township {
            code: d.code.clone(),
            name: d.name.clone(),
        }),
        Some(d) => bail!(
            "--township {code} is {} ({:?}), not a township (hint: give a 9-digit township code, e.g. {}001)",
            d.name,
            d.level,
            &d.code
        ),
        None => bail!(
            "--township {code} is not in the NBS 2023 division list (hint: a township code has 9 digits, e.g. 530402001; `riskcensus inspect` on the county's township layer lists them)"
        ),
    }
}

pub fn template(args: TemplateArgs) -> Result<i32> {
    let mut set = SchemaSet::builtin()?;
    if let Some(d) = &args.dir {
        set.load_dir(d)?;
    }
    let tables: Vec<String> = if args.tables.iter().any(|t| t == "all") {
        set.tables
            .values()
            .filter(|t| template::has_form(t))
            .map(|t| t.code.clone())
            .collect()
    } else {
        args.tables.clone()
    };
    let opts = TemplateOptions {
        reference_year: args.reference_year,
        township: args.township.as_deref().map(township).transpose()?,
    };
    let files = template::write_templates(&set, &tables, &args.out, &opts)
        .with_context(|| format!("could not write the forms into {}", args.out.display()))?;
    println!("{} form(s) written to {}", files.len(), args.out.display());
    for f in &files {
        println!("  {}", f.display());
    }
    Ok(crate::app::EXIT_OK)
}
