//! `riskcensus progress`: survey progress (进度) per township and table, and its map.

use std::path::PathBuf;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct ProgressArgs {
    /// A pipeline file (ingest and QC run now), an upload package, or a run's output directory.
    source: PathBuf,
    /// Records expected per township and table: CSV township_code,table,expected.
    #[arg(long)]
    targets: Option<PathBuf>,
    /// Where to write progress.xlsx, progress.json and the progress map.
    #[arg(long, default_value = "progress")]
    out: PathBuf,
}

pub fn progress(args: ProgressArgs) -> Result<i32> {
    use riskcensus_pipeline::progress;
    let (p, shapes) = progress::progress(&args.source, args.targets.as_deref())?;
    let pct = |s: Option<f64>| s.map_or("-".into(), |s| format!("{:.2}%", s * 100.0));
    println!("{} {} 普查进度", p.region_code, p.region_name);
    println!(
        "  {:<16} {:>9} {:>9} {:>8}",
        "table", "expected", "done", "share"
    );
    for (t, e, d, s) in &p.tables {
        println!("  {t:<16} {e:>9} {d:>9} {:>8}", pct(*s));
    }
    println!(
        "  整体进度 {} ({} of {} expected records done, {} townships)",
        pct(p.share_done),
        p.done,
        p.expected,
        p.townships.len()
    );
    if args.targets.is_none() {
        println!("  no --targets given: records surveyed and passed QC only, no shares");
    }
    for f in progress::write(&p, &shapes, &args.out)? {
        println!("written: {}", f.display());
    }
    Ok(crate::app::EXIT_OK)
}
