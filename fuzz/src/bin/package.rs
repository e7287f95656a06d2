//! AFL target: upload packages, checked with package::verify. A panic or an abort is a finding.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = riskcensus_fuzzing::package(data);
    });
}
