//! Benchmark of ingest + QC (`riskcensus validate`): rows/s and peak RSS at several sizes.
//!
//! The county is generated first (not timed); the validate run happens in a child process (this
//! binary, re-executed) so each peak RSS is that run's own. Sizes: `RISKCENSUS_BENCH_SIZES`
//! (default `100000,1000000`). Run: `cargo bench -p riskcensus-benches --bench qc`

use std::path::Path;
use std::time::Instant;

use riskcensus_synth::Options;

const CHILD: &str = "RISKCENSUS_BENCH_QC_DIR";

fn main() -> anyhow::Result<()> {
    if let Ok(dir) = std::env::var(CHILD) {
        return child(Path::new(&dir));
    }
    if !riskcensus_benches::is_bench_run() {
        return Ok(());
    }
    let sizes = riskcensus_benches::sizes()?;
    println!(
        "ingest + QC (validate), county 530402, seed 7, defect rate 0.05, {} threads",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:>10} {:>9} {:>12} {:>12} {:>9}",
        "buildings", "wall s", "rows/s", "peak RSS MB", "issues"
    );
    for n in sizes {
        let dir =
            std::env::temp_dir().join(format!("riskcensus-bench-qc-{}-{n}", std::process::id()));
        let mut o = Options::new("530402", &dir);
        o.buildings = n;
        riskcensus_synth::generate(&o, &mut |_| {})?;
        let v = riskcensus_benches::in_child(CHILD, &dir.to_string_lossy());
        std::fs::remove_dir_all(&dir)?;
        let v = v?;
        let secs = v["secs"].as_f64().unwrap_or(f64::NAN);
        let rows = v["rows"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{n:>10} {secs:>9.2} {:>12.0} {:>12.1} {:>9}",
            rows / secs,
            v["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            v["issues"]
        );
    }
    Ok(())
}

fn child(dir: &Path) -> anyhow::Result<()> {
    let run = riskcensus_pipeline::Run::load(&dir.join("pipeline.toml"), Some(&dir.join("out")))?;
    let started = Instant::now();
    let v = riskcensus_pipeline::validate(&run, &mut |_, _, _| {})?;
    let secs = started.elapsed().as_secs_f64();
    let peak = riskcensus_benches::peak_rss_kb()?;
    let rows: u64 = v.summary.tables.iter().map(|t| t.rows_read).sum();
    let issues: u64 = v.summary.tables.iter().map(|t| t.issues).sum();
    println!(
        "{}",
        serde_json::json!({"rows": rows, "secs": secs, "peak_rss_kb": peak, "issues": issues})
    );
    Ok(())
}
