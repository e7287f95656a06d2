//! What the benchmarks share: sizes from the environment, peak memory, and running one size in a
//! child process (the bench binary re-executed) so each peak RSS is that run's own.

use std::process::Command;

/// Sizes from `RISKCENSUS_BENCH_SIZES` (comma-separated), default 100,000 and 1,000,000.
pub fn sizes() -> anyhow::Result<Vec<u64>> {
    Ok(std::env::var("RISKCENSUS_BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?)
}

/// This process's peak resident set size (`VmHWM`), in kB.
pub fn peak_rss_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0))
}

/// Whether this is a real benchmark run: `cargo test --all-targets` and nextest run bench binaries
/// without `--bench`, and then they do nothing.
pub fn is_bench_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Re-runs this binary with `var=value` and parses the JSON line it prints.
pub fn in_child(var: &str, value: &str) -> anyhow::Result<serde_json::Value> {
    let out = Command::new(std::env::current_exe()?)
        .env(var, value)
        .output()?;
    if !out.status.success() {
        anyhow::bail!(
            "child {var}={value} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}
