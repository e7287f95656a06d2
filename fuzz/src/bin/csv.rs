//! AFL target: csv files (UTF-8 or GBK), read as the buildings table, then QC. A panic or an abort is a finding.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = riskcensus_fuzzing::csv(data);
    });
}
