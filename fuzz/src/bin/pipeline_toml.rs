//! AFL target: pipeline files, loaded with Run::load. A panic or an abort is a finding.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = riskcensus_fuzzing::pipeline_toml(data);
    });
}
