//! One fuzz input holding several files (a shapefile is .shp + .shx + .dbf, with an optional .prj
//! and .cpg): a small length-prefixed framing, so a single byte string can be mutated as a whole and
//! every part can grow, shrink or vanish.
//!
//! Layout: for each part but the last, its length as a little-endian `u32`; then the parts in order;
//! the last part is whatever remains. Lengths larger than what remains are cut to what remains, so
//! every byte string splits into parts: a mutated length moves bytes between parts instead of
//! making the input worthless.

/// Frames `parts` (at least one) into one byte string that `split_parts` takes apart again.
pub fn frame_parts(parts: &[&[u8]]) -> Vec<u8> {
    let (last, rest) = parts
        .split_last()
        .expect("frame_parts needs at least one part");
    let mut out = Vec::new();
    for p in rest {
        let len = u32::try_from(p.len()).expect("a part under 4 GiB");
        out.extend_from_slice(&len.to_le_bytes());
    }
    for p in rest {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(last);
    out
}

/// Splits `data` into `n` parts (see the module's layout); never fails.
pub fn split_parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    assert!(n >= 1, "split_parts needs at least one part");
    let header = 4 * (n - 1);
    let (lengths, mut body) = data.split_at(header.min(data.len()));
    let mut parts = Vec::with_capacity(n);
    for k in 0..n - 1 {
        let len = lengths
            .get(4 * k..4 * k + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .unwrap_or(0);
        let (part, rest) = body.split_at(len.min(body.len()));
        parts.push(part);
        body = rest;
    }
    parts.push(body);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_come_back_as_framed() {
        let parts: [&[u8]; 3] = [b"shp bytes", b"", b"the dbf"];
        assert_eq!(split_parts(&frame_parts(&parts), 3), parts);
    }

    #[test]
    fn any_bytes_split_into_n_parts() {
        // Lengths past the end are cut; a short header gives empty parts.
        let parts = split_parts(&[0xff, 0xff, 0xff, 0xff, b'a', b'b'], 2);
        assert_eq!(parts, [&b"ab"[..], &b""[..]]);
        assert_eq!(split_parts(&[1, 0], 3), [&b""[..], &b""[..], &b""[..]]);
    }
}
