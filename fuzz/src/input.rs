//! Small readers over [`Unstructured`] that prefer the values where bugs live (0, 1, type
//! edges, the board's limits) while still reaching any value.

use arbitrary::{Result, Unstructured};

/// An `i32` dimension or count: mostly small, often an edge value, sometimes anything.
pub fn dimension(u: &mut Unstructured<'_>) -> Result<i32> {
    const EDGES: [i32; 16] = [
        0,
        -1,
        1,
        2,
        3,
        4095,
        4096,
        8191,
        8192,
        8193,
        65535,
        65536,
        i32::MAX,
        i32::MIN,
        1 << 20,
        0x10001,
    ];
    Ok(match u.int_in_range(0u8..=9)? {
        0..=5 => i32::from(u.int_in_range(1u16..=512)?),
        6..=7 => *u.choose(&EDGES)?,
        _ => u.arbitrary()?,
    })
}

/// A `u64` made of bits from `known` (each kept or not), or anything.
pub fn bit_set(u: &mut Unstructured<'_>, known: &[u64]) -> Result<u64> {
    if u.ratio(1u8, 8u8)? {
        return u.arbitrary();
    }
    let mut word = 0u64;
    for &bit in known {
        if u.ratio(1u8, 6u8)? {
            word |= bit;
        }
    }
    Ok(word)
}

/// A byte string of at most `max` bytes.
pub fn bytes(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=max)?;
    Ok(u.bytes(len)?.to_vec())
}

/// A fixed-layout reader for targets whose seeds are written by hand: reads past the end
/// give zeros, so every byte string is an input.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// The next `N` bytes, zero-padded at the end of the input.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.bytes.len());
        let (head, tail) = self.bytes.split_at(n);
        out[..n].copy_from_slice(head);
        self.bytes = tail;
        out
    }

    /// The next byte.
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// The next little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// The next little-endian `i32`.
    pub fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.array())
    }

    /// Whether input is left.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }
}

/// `bytes` as little-endian `i32`s (a last partial word is dropped).
pub fn ints_of(bytes: &[u8]) -> Vec<i32> {
    bytes.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}
