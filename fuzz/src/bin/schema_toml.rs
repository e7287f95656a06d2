//! AFL target: schema and code-list TOML files an office adds. A panic or an abort is a finding.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = riskcensus_fuzzing::schema_toml(data);
    });
}
