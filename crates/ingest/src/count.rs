//! Counting the records a vector file holds from its own bytes, without GDAL, so that a reader can
//! tell rows the library dropped from rows the file never had.
//!
//! A shapefile is three files that must agree: the `.shp` (geometries, one record each), the `.shx`
//! (an 8-byte index entry per record) and the `.dbf` (attributes, a fixed-length record each, the
//! first byte a deletion flag). Damaged or hand-edited copies disagree, and GDAL then reads the
//! smaller part, or skips what it cannot read, without saying so.

use std::path::Path;

/// What the three parts of a shapefile say about its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapefileCounts {
    /// Whole records found by walking the `.shp` record headers.
    pub shp: u64,
    /// Index entries in the `.shx`.
    pub shx: u64,
    /// Records the `.dbf` header declares.
    pub dbf_declared: u64,
    /// Whole records the `.dbf` actually holds after its header.
    pub dbf_present: u64,
    /// 1-based numbers of the `.dbf` records flagged deleted (`*`).
    pub deleted: Vec<u32>,
}

impl ShapefileCounts {
    /// The most records any part claims: what the file holds, as far as anyone can tell.
    pub fn held(&self) -> u64 {
        self.shp
            .max(self.shx)
            .max(self.dbf_declared)
            .max(self.dbf_present)
    }

    /// Whether every part tells the same number.
    pub fn agree(&self) -> bool {
        self.shp == self.shx
            && self.shx == self.dbf_declared
            && self.dbf_declared == self.dbf_present
    }
}

/// Header size of `.shp` and `.shx`.
const SHP_HEADER: usize = 100;
/// `.shp`/`.shx` file code, big-endian at byte 0.
const SHP_FILE_CODE: i32 = 9994;

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Whole records of a `.shp`: walks the 8-byte record headers (number, content length in 16-bit
/// words) until the bytes end; a record cut short is not counted. `Err` names what is wrong.
pub fn shp_records(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() < SHP_HEADER || be_i32(bytes, 0) != Some(SHP_FILE_CODE) {
        return Err("the .shp header is missing or is not a shapefile header".into());
    }
    let mut pos = SHP_HEADER;
    let mut n = 0u64;
    while pos + 8 <= bytes.len() {
        let Some(words) = be_i32(bytes, pos + 4) else {
            break;
        };
        if words < 0 {
            return Err(format!(
                "the .shp record at byte {pos} has a negative length"
            ));
        }
        let end = pos + 8 + words as usize * 2;
        if end > bytes.len() {
            break;
        }
        n += 1;
        pos = end;
    }
    Ok(n)
}

/// Index entries of a `.shx` (8 bytes each after the 100-byte header).
pub fn shx_records(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() < SHP_HEADER || be_i32(bytes, 0) != Some(SHP_FILE_CODE) {
        return Err("the .shx header is missing or is not a shapefile index header".into());
    }
    // The header's file length (in 16-bit words) against the bytes there: a cut-short index.
    let declared = be_i32(bytes, 24).unwrap_or(0) as i64 * 2;
    if declared > bytes.len() as i64 {
        return Err(format!(
            "the .shx header declares {declared} bytes ({} index records) but the file has {} bytes ({} records): the index is cut short",
            (declared - SHP_HEADER as i64).max(0) / 8,
            bytes.len(),
            (bytes.len() - SHP_HEADER) / 8
        ));
    }
    Ok(((bytes.len() - SHP_HEADER) / 8) as u64)
}

/// What a `.dbf` declares and holds: (declared, present, deleted record numbers).
pub fn dbf_records(bytes: &[u8]) -> Result<(u64, u64, Vec<u32>), String> {
    if bytes.len() < 32 {
        return Err("the .dbf header is shorter than 32 bytes".into());
    }
    let declared = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as u64;
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let record_len = u16::from_le_bytes([bytes[10], bytes[11]]) as usize;
    if header_len < 32 || record_len == 0 {
        return Err(format!(
            "the .dbf header is corrupt (header length {header_len}, record length {record_len})"
        ));
    }
    if header_len > bytes.len() {
        return Err(format!(
            "the .dbf header says its records start at byte {header_len}, beyond the end of the file ({} bytes)",
            bytes.len()
        ));
    }
    let body = bytes.get(header_len..).unwrap_or(&[]);
    // The optional end-of-file marker (0x1A) after the last record is not a record.
    let present = (body.len() / record_len) as u64;
    let mut deleted = Vec::new();
    for (k, record) in body.chunks_exact(record_len).enumerate() {
        if record[0] == b'*' && (k as u64) < declared.max(present) {
            deleted.push(k as u32 + 1);
        }
    }
    Ok((declared, present, deleted))
}

/// Counts the records of a shapefile from its three parts.
pub fn shapefile(shp: &Path, shx: &Path, dbf: &Path) -> Result<ShapefileCounts, (String, String)> {
    fn named<T>(p: &Path, r: Result<T, String>) -> Result<T, (String, String)> {
        r.map_err(|m| (p.display().to_string(), m))
    }
    let read = |p: &Path| std::fs::read(p).map_err(|e| (p.display().to_string(), e.to_string()));
    let shp_n = named(shp, shp_records(&read(shp)?))?;
    let shx_n = named(shx, shx_records(&read(shx)?))?;
    let (dbf_declared, dbf_present, deleted) = named(dbf, dbf_records(&read(dbf)?))?;
    Ok(ShapefileCounts {
        shp: shp_n,
        shx: shx_n,
        dbf_declared,
        dbf_present,
        deleted,
    })
}

/// Features of a GeoJSON FeatureCollection, counted by scanning the text: the elements of the
/// top-level `"features"` array. `None` when the text is not a FeatureCollection this scanner can
/// follow (then no independent count is claimed).
pub fn geojson_features(text: &[u8]) -> Option<u64> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut key_start = None;
    let mut last_key: Option<(usize, usize)> = None;
    // Depth of the features array once entered, and the count of its elements.
    let mut features_depth = None;
    let mut count = 0u64;
    let mut element_open = false;
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if depth == 1 {
                    last_key = key_start.map(|s| (s, i));
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                key_start = Some(i + 1);
                if features_depth == Some(depth) && !element_open {
                    element_open = true;
                    count += 1;
                }
            }
            b'{' | b'[' => {
                if features_depth == Some(depth) && !element_open {
                    element_open = true;
                    count += 1;
                }
                depth += 1;
                if b == b'['
                    && depth == 2
                    && features_depth.is_none()
                    && last_key.is_some_and(|(s, e)| &text[s..e] == b"features")
                {
                    features_depth = Some(depth);
                }
            }
            b'}' | b']' => {
                if features_depth == Some(depth) && b == b']' {
                    return Some(count);
                }
                depth = depth.checked_sub(1)?;
            }
            b',' if features_depth == Some(depth) => element_open = false,
            b' ' | b'\t' | b'\r' | b'\n' | b',' | b':' => {}
            _ => {
                if features_depth == Some(depth) && !element_open {
                    element_open = true;
                    count += 1;
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shp_header(len_words: i32) -> Vec<u8> {
        let mut h = vec![0u8; 100];
        h[..4].copy_from_slice(&SHP_FILE_CODE.to_be_bytes());
        h[24..28].copy_from_slice(&len_words.to_be_bytes());
        h
    }

    fn point_record(n: i32) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend(n.to_be_bytes());
        r.extend(10i32.to_be_bytes()); // 20 bytes: type + x + y
        r.extend(1i32.to_le_bytes());
        r.extend(101.5f64.to_le_bytes());
        r.extend(25.1f64.to_le_bytes());
        r
    }

    #[test]
    fn shp_records_are_walked_and_a_cut_record_is_not_counted() {
        let mut shp = shp_header(0);
        for n in 1..=3 {
            shp.extend(point_record(n));
        }
        assert_eq!(shp_records(&shp), Ok(3));
        shp.truncate(shp.len() - 5);
        assert_eq!(shp_records(&shp), Ok(2));
        assert!(shp_records(b"not a shapefile").is_err());
    }

    #[test]
    fn shx_entries_are_counted_from_its_length() {
        let mut shx = shp_header((100 + 8 * 29) / 2);
        shx.extend([0u8; 8 * 29]);
        assert_eq!(shx_records(&shx), Ok(29));
        // Cut short of what its header declares.
        let e = shx_records(&shx[..100 + 8 * 10]).unwrap_err();
        assert!(
            e.contains("29 index records") && e.contains("(10 records)"),
            "{e}"
        );
    }

    fn dbf(declared: u32, flags: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 32];
        b[0] = 3;
        b[4..8].copy_from_slice(&declared.to_le_bytes());
        b[8..10].copy_from_slice(&65u16.to_le_bytes()); // 32 + one 32-byte field + terminator
        b[10..12].copy_from_slice(&5u16.to_le_bytes());
        let mut field = [0u8; 32];
        field[..4].copy_from_slice(b"NAME");
        field[11] = b'C';
        field[16] = 4;
        b.extend(field);
        b.push(0x0D);
        for &f in flags {
            b.push(f);
            b.extend(b"abcd");
        }
        b.push(0x1A);
        b
    }

    #[test]
    fn dbf_counts_declared_present_and_deleted() {
        let d = dbf(4, b"  * ");
        assert_eq!(dbf_records(&d), Ok((4, 4, vec![3])));
        // Truncated mid-way: the header still says 4.
        let cut = &d[..65 + 5 * 2 + 2];
        assert_eq!(dbf_records(cut), Ok((4, 2, vec![])));
        assert!(dbf_records(&d[..20]).is_err());
        assert!(
            dbf_records(&d[..40])
                .unwrap_err()
                .contains("beyond the end")
        );
    }

    #[test]
    fn geojson_features_are_counted_at_the_top_level_only() {
        let t = br#"{"type":"FeatureCollection","name":"x",
            "features":[{"type":"Feature","properties":{"features":[1,2,3],"s":"a]b\"}"},"geometry":null},
            {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#;
        assert_eq!(geojson_features(t), Some(2));
        assert_eq!(
            geojson_features(br#"{"type":"FeatureCollection","features":[]}"#),
            Some(0)
        );
        assert_eq!(
            geojson_features(br#"{"type":"Feature","geometry":null}"#),
            None
        );
        assert_eq!(geojson_features(br#"{"features":[{"a":1},"#), None);
    }
}
