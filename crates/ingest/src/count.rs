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

fn be_i32(src: &mut impl Source, at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(src.get(at, 4)?.try_into().ok()?))
}

/// Bytes the walkers below read, forward: a file's, through a window, or a slice's.
pub trait Source {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `n` bytes from `at`; `None` past the end.
    fn get(&mut self, at: usize, n: usize) -> Option<&[u8]>;
}

impl Source for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn get(&mut self, at: usize, n: usize) -> Option<&[u8]> {
        <[u8]>::get(self, at..at.checked_add(n)?)
    }
}

/// A file read through a 1 MB window that moves forward as the walk does, so that a part is
/// counted without being held: the `.dbf` of a million buildings is over 600 MB.
pub struct FileWindow {
    file: std::fs::File,
    len: usize,
    start: usize,
    buf: Vec<u8>,
    /// The first read that failed: the walk then sees the file end there, and the count is refused.
    pub(crate) error: Option<std::io::Error>,
}

const WINDOW: usize = 1 << 20;

impl FileWindow {
    pub fn open(path: &Path) -> std::io::Result<FileWindow> {
        let file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
        Ok(FileWindow {
            file,
            len,
            start: 0,
            buf: Vec::new(),
            error: None,
        })
    }
}

impl Source for FileWindow {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&mut self, at: usize, n: usize) -> Option<&[u8]> {
        let end = at.checked_add(n).filter(|&e| e <= self.len)?;
        if at < self.start || end > self.start + self.buf.len() {
            use std::os::unix::fs::FileExt;
            let want = n.max(WINDOW).min(self.len - at);
            self.buf.resize(want, 0);
            if let Err(e) = self.file.read_exact_at(&mut self.buf, at as u64) {
                self.buf.clear();
                self.error.get_or_insert(e);
                return None;
            }
            self.start = at;
        }
        self.buf.get(at - self.start..end - self.start)
    }
}

/// Whole records of a `.shp`: walks the 8-byte record headers (number, content length in 16-bit
/// words) until the bytes end; a record cut short is not counted. `Err` names what is wrong.
pub fn shp_records(mut bytes: &[u8]) -> Result<u64, String> {
    shp_walk(&mut bytes)
}

fn shp_walk(src: &mut impl Source) -> Result<u64, String> {
    if src.len() < SHP_HEADER || be_i32(src, 0) != Some(SHP_FILE_CODE) {
        return Err("the .shp header is missing or is not a shapefile header".into());
    }
    let mut pos = SHP_HEADER;
    let mut n = 0u64;
    while pos + 8 <= src.len() {
        let Some(words) = be_i32(src, pos + 4) else {
            break;
        };
        if words < 0 {
            return Err(format!(
                "the .shp record at byte {pos} has a negative length"
            ));
        }
        let end = pos + 8 + words as usize * 2;
        if end > src.len() {
            break;
        }
        n += 1;
        pos = end;
    }
    Ok(n)
}

/// Index entries of a `.shx` (8 bytes each after the 100-byte header).
pub fn shx_records(mut bytes: &[u8]) -> Result<u64, String> {
    shx_walk(&mut bytes)
}

fn shx_walk(src: &mut impl Source) -> Result<u64, String> {
    if src.len() < SHP_HEADER || be_i32(src, 0) != Some(SHP_FILE_CODE) {
        return Err("the .shx header is missing or is not a shapefile index header".into());
    }
    // The header's file length (in 16-bit words) against the bytes there: a cut-short index.
    let declared = be_i32(src, 24).unwrap_or(0) as i64 * 2;
    let len = src.len();
    if declared > len as i64 {
        return Err(format!(
            "the .shx header declares {declared} bytes ({} index records) but the file has {} bytes ({} records): the index is cut short",
            (declared - SHP_HEADER as i64).max(0) / 8,
            len,
            (len - SHP_HEADER) / 8
        ));
    }
    Ok(((len - SHP_HEADER) / 8) as u64)
}

/// What a `.dbf` declares and holds: (declared, present, deleted record numbers).
pub fn dbf_records(mut bytes: &[u8]) -> Result<(u64, u64, Vec<u32>), String> {
    dbf_walk(&mut bytes)
}

fn dbf_walk(src: &mut impl Source) -> Result<(u64, u64, Vec<u32>), String> {
    let Some(head) = src.get(0, 32) else {
        return Err("the .dbf header is shorter than 32 bytes".into());
    };
    let declared = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as u64;
    let header_len = u16::from_le_bytes([head[8], head[9]]) as usize;
    let record_len = u16::from_le_bytes([head[10], head[11]]) as usize;
    if header_len < 32 || record_len == 0 {
        return Err(format!(
            "the .dbf header is corrupt (header length {header_len}, record length {record_len})"
        ));
    }
    let len = src.len();
    if header_len > len {
        return Err(format!(
            "the .dbf header says its records start at byte {header_len}, beyond the end of the file ({len} bytes)"
        ));
    }
    // The optional end-of-file marker (0x1A) after the last record is not a record.
    let present = ((len - header_len) / record_len) as u64;
    let mut deleted = Vec::new();
    for k in 0..present.min(declared.max(present)) {
        let at = header_len + k as usize * record_len;
        if src.get(at, 1) == Some(b"*") {
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
    fn walk<T>(
        p: &Path,
        f: impl FnOnce(&mut FileWindow) -> Result<T, String>,
    ) -> Result<T, (String, String)> {
        let at = || p.display().to_string();
        let mut w = FileWindow::open(p).map_err(|e| (at(), e.to_string()))?;
        let got = f(&mut w);
        match w.error {
            Some(e) => Err((at(), e.to_string())),
            None => named(p, got),
        }
    }
    let shp_n = walk(shp, shp_walk)?;
    let shx_n = walk(shx, shx_walk)?;
    let (dbf_declared, dbf_present, deleted) = walk(dbf, dbf_walk)?;
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

    /// Parts larger than the window, walked from the file, count as from their bytes: records
    /// straddling the window's edges, a deleted record past the first window, a cut last record.
    #[test]
    fn parts_counted_through_the_window_count_as_from_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut shp = shp_header(0);
        for n in 1..=100_000 {
            shp.extend(point_record(n));
        }
        shp.truncate(shp.len() - 3);
        let mut flags = vec![b' '; 500_000];
        flags[300_000] = b'*';
        flags[499_999] = b'*';
        let mut d = dbf(500_000, &flags);
        d.truncate(d.len() - 2);
        for (name, bytes) in [("a.shp", &shp), ("a.dbf", &d)] {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let mut w = FileWindow::open(&dir.path().join("a.shp")).unwrap();
        assert_eq!(shp_walk(&mut w), shp_records(&shp));
        assert_eq!(shp_records(&shp), Ok(99_999));
        let mut w = FileWindow::open(&dir.path().join("a.dbf")).unwrap();
        assert_eq!(dbf_walk(&mut w), dbf_records(&d));
        assert_eq!(dbf_records(&d), Ok((500_000, 499_999, vec![300_001])));
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
