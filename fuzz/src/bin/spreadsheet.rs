//! AFL target: xlsx/xls/ods workbooks, read as the schools table, then QC. A panic or an abort is a finding.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = riskcensus_fuzzing::spreadsheet(data);
    });
}
