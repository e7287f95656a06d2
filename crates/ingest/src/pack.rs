//! A row of tagged items in one allocation.
//!
//! A census record is a few dozen short values: codes, names, categories and numbers. Held as a
//! `Vec` of 24-byte enums, a million buildings take about 0.9 GB before anything is computed; packed
//! as bytes (a tag, then the number or the UTF-8 text) they take a third of that. Both the records
//! as read ([`crate::RawCells`]) and the records as checked (`riskcensus_qc::Values`) are packed
//! rows; each gives its own meaning to the tags.
//!
//! Layout: one byte for the width of the offsets (2 or 4), the item count as a `u32`, the end offset
//! of every item, then the items, each a tag byte followed by its bytes. Any item is found in
//! constant time.

/// Items of one row, packed.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Packed(Box<[u8]>);

const HEAD: usize = 5;

impl Packed {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self.0.get(1..HEAD) {
            Some(n) => u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize,
            None => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn end(&self, k: usize) -> usize {
        let w = usize::from(self.0[0]);
        let at = HEAD + k * w;
        let b = &self.0[at..at + w];
        if w == 2 {
            usize::from(u16::from_le_bytes([b[0], b[1]]))
        } else {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        }
    }

    /// The tag and bytes of item `k`.
    pub fn item(&self, k: usize) -> Option<(u8, &[u8])> {
        let n = self.len();
        if k >= n {
            return None;
        }
        let base = HEAD + n * usize::from(self.0[0]);
        let start = if k == 0 { 0 } else { self.end(k - 1) };
        let item = self.0.get(base + start..base + self.end(k))?;
        let (&tag, bytes) = item.split_first()?;
        Some((tag, bytes))
    }

    /// Every item in order.
    pub fn items(&self) -> impl Iterator<Item = (u8, &[u8])> + '_ {
        (0..self.len()).filter_map(|k| self.item(k))
    }

    /// Bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

/// Builds packed rows; reused from row to row so that packing allocates only the row itself.
#[derive(Default)]
pub struct Packer {
    ends: Vec<u32>,
    items: Vec<u8>,
}

impl Packer {
    /// Appends an item.
    pub fn push(&mut self, tag: u8, bytes: &[u8]) {
        self.items.push(tag);
        self.items.extend_from_slice(bytes);
        self.ends.push(self.items.len() as u32);
    }

    /// The row of the items pushed since the last `finish`.
    pub fn finish(&mut self) -> Packed {
        let wide = self.items.len() > usize::from(u16::MAX);
        let w: u8 = if wide { 4 } else { 2 };
        let mut out =
            Vec::with_capacity(HEAD + self.ends.len() * usize::from(w) + self.items.len());
        out.push(w);
        out.extend_from_slice(&(self.ends.len() as u32).to_le_bytes());
        for &e in &self.ends {
            if wide {
                out.extend_from_slice(&e.to_le_bytes());
            } else {
                out.extend_from_slice(&(e as u16).to_le_bytes());
            }
        }
        out.extend_from_slice(&self.items);
        self.ends.clear();
        self.items.clear();
        Packed(out.into_boxed_slice())
    }
}

/// Packs one row with this thread's packer, whose buffers are kept from row to row.
pub fn with_packer<T>(f: impl FnOnce(&mut Packer) -> T) -> T {
    thread_local! {
        static PACKER: std::cell::RefCell<Packer> = std::cell::RefCell::new(Packer::default());
    }
    PACKER.with(|p| match p.try_borrow_mut() {
        Ok(mut p) => f(&mut p),
        // Only a packer used inside `f` itself would be borrowed: give that one its own.
        Err(_) => f(&mut Packer::default()),
    })
}

/// An `f64` or `i64` item's bytes.
pub fn eight(b: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    if let Some(src) = b.get(..8) {
        out.copy_from_slice(src);
    }
    out
}

/// An `i32` item's bytes.
pub fn four(b: &[u8]) -> [u8; 4] {
    let mut out = [0u8; 4];
    if let Some(src) = b.get(..4) {
        out.copy_from_slice(src);
    }
    out
}

/// A text item's bytes as the `&str` they were packed from.
pub fn text(b: &[u8]) -> &str {
    // Text items are only ever packed from a `&str`, and the bytes are never changed.
    std::str::from_utf8(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_order_with_narrow_and_wide_offsets() {
        let mut p = Packer::default();
        for long in [10usize, 70_000] {
            let text = "砖".repeat(long);
            p.push(1, text.as_bytes());
            p.push(0, &[]);
            p.push(2, &7.5f64.to_le_bytes());
            let row = p.finish();
            assert_eq!(row.len(), 3);
            assert_eq!(row.item(0), Some((1, text.as_bytes())));
            assert_eq!(row.item(1), Some((0, &[][..])));
            assert_eq!(f64::from_le_bytes(eight(row.item(2).unwrap().1)), 7.5);
            assert_eq!(row.item(3), None);
            assert_eq!(row.items().count(), 3);
        }
        let empty = Packed::default();
        assert_eq!((empty.len(), empty.item(0)), (0, None));
        assert_eq!(p.finish().len(), 0);
    }
}
