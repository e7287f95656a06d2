//! Benchmark of join + score: records to townships, hazard overlay, the polars unit table, the
//! census model and grading, after ingest + QC (timed separately). Each size runs in a child process
//! (this binary, re-executed). Sizes: `RISKCENSUS_BENCH_SIZES` (default `100000,1000000`).
//! Run: `cargo bench -p riskcensus-benches --bench score`

use std::path::Path;
use std::time::Instant;

use riskcensus_synth::Options;

const CHILD: &str = "RISKCENSUS_BENCH_SCORE_DIR";

fn main() -> anyhow::Result<()> {
    if let Ok(dir) = std::env::var(CHILD) {
        return child(Path::new(&dir));
    }
    if !riskcensus_benches::is_bench_run() {
        return Ok(());
    }
    let sizes = riskcensus_benches::sizes()?;
    println!("join + score (census model), county 530402, seed 7, defect rate 0.05");
    println!(
        "{:>10} {:>11} {:>10} {:>14} {:>12}",
        "buildings", "validate s", "score s", "score rows/s", "peak RSS MB"
    );
    for n in sizes {
        let dir =
            std::env::temp_dir().join(format!("riskcensus-bench-score-{}-{n}", std::process::id()));
        let mut o = Options::new("530402", &dir);
        o.buildings = n;
        riskcensus_synth::generate(&o, &mut |_| {})?;
        let v = riskcensus_benches::in_child(CHILD, &dir.to_string_lossy());
        std::fs::remove_dir_all(&dir)?;
        let v = v?;
        let score = v["score_secs"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{n:>10} {:>11.2} {score:>10.2} {:>14.0} {:>12.1}",
            v["validate_secs"].as_f64().unwrap_or(f64::NAN),
            v["records"].as_f64().unwrap_or(f64::NAN) / score,
            v["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0
        );
    }
    Ok(())
}

fn child(dir: &Path) -> anyhow::Result<()> {
    let run = riskcensus_pipeline::Run::load(&dir.join("pipeline.toml"), Some(&dir.join("out")))?;
    let t0 = Instant::now();
    let v = riskcensus_pipeline::validate(&run, &mut |_, _, _| {})?;
    let validate_secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let scored = riskcensus_pipeline::join_and_score(&run, &v)?;
    riskcensus_pipeline::publish_scores(&run, &scored)?;
    let score_secs = t1.elapsed().as_secs_f64();
    let peak = riskcensus_benches::peak_rss_kb()?;
    let records: u64 = v.results.iter().map(|r| r.rows_clean).sum();
    println!(
        "{}",
        serde_json::json!({"validate_secs": validate_secs, "score_secs": score_secs, "records": records, "peak_rss_kb": peak})
    );
    Ok(())
}
