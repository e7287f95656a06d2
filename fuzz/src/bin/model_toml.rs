//! AFL target: risk model TOML, checked with Model::from_pipeline. A panic or an abort is a finding.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = riskcensus_fuzzing::model_toml(data);
    });
}
