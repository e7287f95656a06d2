//! Benchmark of `gen-fixtures`: wall time, rows/s and peak RSS at several sizes.
//!
//! Each size runs in a child process (this binary, re-executed), so each peak RSS is that run's own.
//! Sizes: `RISKCENSUS_BENCH_SIZES` (comma-separated, default `100000,1000000`); building geometry:
//! `RISKCENSUS_BENCH_GEOMETRY` (`none`, `point` or `footprint`; default `none`).
//!
//! Run: `cargo bench -p riskcensus-benches --bench gen_fixtures`

use std::time::Instant;

use riskcensus_synth::{BuildingGeometry, Options};

const CHILD: &str = "RISKCENSUS_BENCH_CHILD";

fn geometry() -> BuildingGeometry {
    match std::env::var("RISKCENSUS_BENCH_GEOMETRY").as_deref() {
        Ok("point") => BuildingGeometry::Point,
        Ok("footprint") => BuildingGeometry::Footprint,
        _ => BuildingGeometry::None,
    }
}

fn main() -> anyhow::Result<()> {
    if let Ok(n) = std::env::var(CHILD) {
        return child(n.parse()?);
    }
    // `cargo test --all-targets` and nextest run bench binaries without `--bench`: do nothing then.
    if !riskcensus_benches::is_bench_run() {
        return Ok(());
    }
    let sizes = riskcensus_benches::sizes()?;
    println!(
        "gen-fixtures, county 530402, seed 7, defect rate 0.05, geometry {:?}",
        geometry()
    );
    println!(
        "{:>10} {:>9} {:>12} {:>12}",
        "buildings", "wall s", "rows/s", "peak RSS MB"
    );
    for n in sizes {
        let v = riskcensus_benches::in_child(CHILD, &n.to_string())?;
        let secs = v["secs"].as_f64().unwrap_or(f64::NAN);
        let rss = v["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0;
        println!("{n:>10} {secs:>9.2} {:>12.0} {rss:>12.1}", n as f64 / secs);
    }
    Ok(())
}

fn child(n: u64) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let mut opts = Options::new("530402", &dir);
    opts.buildings = n;
    opts.building_geometry = geometry();
    let started = Instant::now();
    riskcensus_synth::generate(&opts, &mut |_| {})?;
    let secs = started.elapsed().as_secs_f64();
    let peak = riskcensus_benches::peak_rss_kb()?;
    std::fs::remove_dir_all(&dir)?;
    println!(
        "{}",
        serde_json::json!({"rows": n, "secs": secs, "peak_rss_kb": peak})
    );
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("riskcensus-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
