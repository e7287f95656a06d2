//! AFL target: shapefiles (framed .shp/.shx/.prj/.cpg/.dbf), read through GDAL, then QC. A panic or an abort is a finding.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = riskcensus_fuzzing::shapefile(data);
    });
}
