//! Benchmark of publishing and the provincial merge: whole county runs (ingest, QC, join, score,
//! GeoParquet, GIS layer, maps, package), the rendering of one A4 300 dpi map, and `merge` of the
//! county packages into a provincial package (verify, stack, re-grade, maps, package). Each step runs
//! in a child process (this binary, re-executed) so each peak RSS is its own.
//! Sizes: `RISKCENSUS_BENCH_SIZES` buildings per county (default 100000); counties:
//! `RISKCENSUS_BENCH_COUNTIES` (default four Yunnan counties).
//! Run: `cargo bench -p riskcensus-benches --bench publish`

use std::path::{Path, PathBuf};
use std::time::Instant;

use riskcensus_synth::Options;

const RUN: &str = "RISKCENSUS_BENCH_PUBLISH_RUN";
const MERGE: &str = "RISKCENSUS_BENCH_PUBLISH_MERGE";

fn main() -> anyhow::Result<()> {
    if let Ok(dir) = std::env::var(RUN) {
        return run_child(Path::new(&dir));
    }
    if let Ok(dir) = std::env::var(MERGE) {
        return merge_child(Path::new(&dir));
    }
    if !riskcensus_benches::is_bench_run() {
        return Ok(());
    }
    let sizes: Vec<u64> = match std::env::var("RISKCENSUS_BENCH_SIZES") {
        Ok(_) => riskcensus_benches::sizes()?,
        Err(_) => vec![100_000],
    };
    let counties: Vec<String> = std::env::var("RISKCENSUS_BENCH_COUNTIES")
        .unwrap_or_else(|_| "530102,530381,530402,530111".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    println!(
        "publish and merge, {} counties, seed 7, defect rate 0.05",
        counties.len()
    );
    for n in sizes {
        let root = std::env::temp_dir().join(format!(
            "riskcensus-bench-publish-{}-{n}",
            std::process::id()
        ));
        println!("{n} buildings per county");
        println!(
            "{:>8} {:>8} {:>10} {:>12} {:>12}",
            "county", "run s", "one map s", "package MB", "peak RSS MB"
        );
        for (k, county) in counties.iter().enumerate() {
            let dir = root.join(county);
            let mut o = Options::new(county.as_str(), &dir);
            o.buildings = n;
            o.seed = 7 + k as u64;
            riskcensus_synth::generate(&o, &mut |_| {})?;
            let v = riskcensus_benches::in_child(RUN, &dir.to_string_lossy())?;
            println!(
                "{county:>8} {:>8.2} {:>10.2} {:>12.1} {:>12.1}",
                v["run_secs"].as_f64().unwrap_or(f64::NAN),
                v["map_secs"].as_f64().unwrap_or(f64::NAN),
                v["package_bytes"].as_f64().unwrap_or(f64::NAN) / 1e6,
                v["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0
            );
        }
        let v = riskcensus_benches::in_child(MERGE, &root.to_string_lossy());
        std::fs::remove_dir_all(&root)?;
        let v = v?;
        println!(
            "merge: {:.2} s for {} units, provincial package {:.1} MB, peak RSS {:.1} MB",
            v["merge_secs"].as_f64().unwrap_or(f64::NAN),
            v["units"],
            v["package_bytes"].as_f64().unwrap_or(f64::NAN) / 1e6,
            v["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0
        );
    }
    Ok(())
}

fn run_child(dir: &Path) -> anyhow::Result<()> {
    let run = riskcensus_pipeline::Run::load(&dir.join("pipeline.toml"), Some(&dir.join("out")))?;
    let t0 = Instant::now();
    let report = riskcensus_pipeline::run(&run, &mut |_, _, _| {})?;
    let run_secs = t0.elapsed().as_secs_f64();
    let package = report
        .package
        .ok_or_else(|| anyhow::anyhow!("no package"))?;
    let svg = std::fs::read_to_string(run.out_dir.join("maps/composite.svg"))?;
    let t1 = Instant::now();
    riskcensus_pipeline::maps::render_png(&svg)?;
    let map_secs = t1.elapsed().as_secs_f64();
    let peak = riskcensus_benches::peak_rss_kb()?;
    println!(
        "{}",
        serde_json::json!({"run_secs": run_secs, "map_secs": map_secs,
            "package_bytes": std::fs::metadata(&package)?.len(), "peak_rss_kb": peak})
    );
    Ok(())
}

fn merge_child(root: &Path) -> anyhow::Result<()> {
    let mut packages: Vec<PathBuf> = Vec::new();
    for county in std::fs::read_dir(root)? {
        let out = county?.path().join("out");
        for run in std::fs::read_dir(&out)? {
            for f in std::fs::read_dir(run?.path())? {
                let p = f?.path();
                if p.extension().is_some_and(|e| e == "zip") {
                    packages.push(p);
                }
            }
        }
    }
    packages.sort();
    let t0 = Instant::now();
    let r = riskcensus_pipeline::merge::merge(&packages, &root.join("province"), None)?;
    let merge_secs = t0.elapsed().as_secs_f64();
    let peak = riskcensus_benches::peak_rss_kb()?;
    println!(
        "{}",
        serde_json::json!({"merge_secs": merge_secs, "units": r.units,
            "package_bytes": std::fs::metadata(&r.package)?.len(), "peak_rss_kb": peak})
    );
    Ok(())
}
