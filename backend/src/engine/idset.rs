//! A persistent set of product ids built for set algebra: the search index's posting lists and
//! checkout's in-stock set.
//!
//! Ids live in blocks of [`BLOCK`] consecutive ids (`id >> 12`); a block is a sorted list of
//! 16-bit offsets while sparse and a 4096-bit bitmap once dense. A query works one block at a
//! time on [`Mask`]s (word-wise AND/OR, then the set bits in id order). Blocks sit behind `Arc`
//! in an `imbl::OrdMap`, so the writer's clone per publish shares them all and a later change
//! copies only the one block it touches (at most 512 bytes), whatever the size of the set.

use std::sync::Arc;

use imbl::OrdMap;

use crate::engine::snapshot::{DecodeError, Decoder, Encoder};

/// Ids per block.
pub const BLOCK: usize = 4096;
const SHIFT: u32 = 12;
/// 64-bit words of a block's bitmap.
pub const WORDS: usize = BLOCK / 64;
/// A sparse block turns into a bitmap above this many ids, and back below half of it, so a set
/// hovering at the limit does not flip on every change. A bitmap costs 512 bytes; a sparse
/// block two per id, but combining it costs an OR per id against 64 for a bitmap: from 128 ids
/// on, a query pays more for a sparse block than the bitmap's extra bytes cost.
const DENSE_ABOVE: usize = WORDS * 2;
const SPARSE_BELOW: usize = DENSE_ABOVE / 2;

/// One block as a bitmap: bit `i` is id `block * 4096 + i`.
pub type Mask = [u64; WORDS];

/// The block number and offset of an id.
pub fn split(id: u64) -> (u64, usize) {
    (id >> SHIFT, (id as usize) & (BLOCK - 1))
}

/// The id at `offset` of `block`.
pub fn join(block: u64, offset: usize) -> u64 {
    (block << SHIFT) | offset as u64
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    Sparse(Vec<u16>),
    Dense(Box<Mask>, u16),
}

impl Block {
    fn len(&self) -> usize {
        match self {
            Block::Sparse(v) => v.len(),
            Block::Dense(_, n) => usize::from(*n),
        }
    }

    fn contains(&self, at: usize) -> bool {
        match self {
            Block::Sparse(v) => v.binary_search(&(at as u16)).is_ok(),
            Block::Dense(bits, _) => bits[at / 64] & (1 << (at % 64)) != 0,
        }
    }

    fn insert(&mut self, at: usize) -> bool {
        match self {
            Block::Sparse(v) => match v.binary_search(&(at as u16)) {
                Ok(_) => return false,
                Err(i) => v.insert(i, at as u16),
            },
            Block::Dense(bits, n) => {
                let (w, b) = (at / 64, 1u64 << (at % 64));
                if bits[w] & b != 0 {
                    return false;
                }
                bits[w] |= b;
                *n += 1;
            }
        }
        if let Block::Sparse(v) = self
            && v.len() > DENSE_ABOVE
        {
            *self = Block::dense(v);
        }
        true
    }

    fn remove(&mut self, at: usize) -> bool {
        match self {
            Block::Sparse(v) => match v.binary_search(&(at as u16)) {
                Ok(i) => {
                    v.remove(i);
                }
                Err(_) => return false,
            },
            Block::Dense(bits, n) => {
                let (w, b) = (at / 64, 1u64 << (at % 64));
                if bits[w] & b == 0 {
                    return false;
                }
                bits[w] &= !b;
                *n -= 1;
                if usize::from(*n) < SPARSE_BELOW {
                    let mut v = Vec::with_capacity(usize::from(*n));
                    for_each_bit(bits, |i| v.push(i as u16));
                    *self = Block::Sparse(v);
                }
            }
        }
        true
    }

    fn dense(offsets: &[u16]) -> Block {
        let mut bits: Box<Mask> = Box::new([0; WORDS]);
        for &o in offsets {
            bits[usize::from(o) / 64] |= 1 << (o % 64);
        }
        Block::Dense(bits, offsets.len() as u16)
    }

    fn from_offsets(offsets: Vec<u16>) -> Block {
        if offsets.len() > DENSE_ABOVE {
            Block::dense(&offsets)
        } else {
            Block::Sparse(offsets)
        }
    }

    fn or_into(&self, out: &mut Mask) {
        match self {
            Block::Sparse(v) => {
                for &o in v {
                    out[usize::from(o) / 64] |= 1 << (o % 64);
                }
            }
            Block::Dense(bits, _) => {
                for (o, b) in out.iter_mut().zip(bits.iter()) {
                    *o |= b;
                }
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Block::Sparse(v) => v.capacity() * 2,
            Block::Dense(..) => std::mem::size_of::<Mask>(),
        }
    }
}

/// Calls `f` with each set bit's position, in ascending order.
#[inline]
pub fn for_each_bit(mask: &Mask, mut f: impl FnMut(usize)) {
    for (w, &word) in mask.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            f(w * 64 + word.trailing_zeros() as usize);
            word &= word - 1;
        }
    }
}

/// Number of set bits.
pub fn count(mask: &Mask) -> u32 {
    mask.iter().map(|w| w.count_ones()).sum()
}

/// A persistent set of ids; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdSet {
    blocks: OrdMap<u64, Arc<Block>>,
    len: u64,
}

impl IdSet {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of blocks holding at least one id.
    pub fn block_count(&self) -> u64 {
        self.blocks.len() as u64
    }

    pub fn contains(&self, id: u64) -> bool {
        let (b, at) = split(id);
        self.blocks.get(&b).is_some_and(|blk| blk.contains(at))
    }

    /// Adds `id`; false when it was there already. A set that already holds it is not touched:
    /// after a publish, `get_mut` would copy the map's path and the block for nothing.
    pub fn insert(&mut self, id: u64) -> bool {
        if self.contains(id) {
            return false;
        }
        let (b, at) = split(id);
        let added = match self.blocks.get_mut(&b) {
            Some(blk) => Arc::make_mut(blk).insert(at),
            None => {
                self.blocks
                    .insert(b, Arc::new(Block::Sparse(vec![at as u16])));
                true
            }
        };
        self.len += u64::from(added);
        added
    }

    /// Removes `id`; false when it was not there (and then nothing is copied, as for `insert`).
    pub fn remove(&mut self, id: u64) -> bool {
        if !self.contains(id) {
            return false;
        }
        let (b, at) = split(id);
        let Some(blk) = self.blocks.get_mut(&b) else {
            return false;
        };
        let removed = Arc::make_mut(blk).remove(at);
        if removed {
            self.len -= 1;
            if blk.len() == 0 {
                self.blocks.remove(&b);
            }
        }
        removed
    }

    /// The numbers of the blocks holding at least one id, ascending.
    pub fn block_numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks.keys().copied()
    }

    /// ORs block `b` into `out`; false when the set has no id there.
    pub fn or_block(&self, b: u64, out: &mut Mask) -> bool {
        match self.blocks.get(&b) {
            Some(blk) => {
                blk.or_into(out);
                true
            }
            None => false,
        }
    }

    /// A cursor that visits blocks in ascending order (cheaper than one lookup per block).
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            iter: self.blocks.iter().peekable(),
        }
    }

    /// Ids in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks.iter().flat_map(|(&b, blk)| {
            let mut ids = Vec::with_capacity(blk.len());
            match &**blk {
                Block::Sparse(v) => ids.extend(v.iter().map(|&o| join(b, usize::from(o)))),
                Block::Dense(bits, _) => for_each_bit(bits, |o| ids.push(join(b, o))),
            }
            ids
        })
    }

    /// Bytes this set allocates on its own: blocks, their `Arc`s and an estimate of the map's
    /// nodes (a key, a pointer and the node's spare room per block).
    pub fn heap_bytes(&self) -> usize {
        self.blocks
            .values()
            .map(|blk| blk.heap_bytes() + std::mem::size_of::<Block>() + 16 + 32)
            .sum()
    }
}

impl IdSet {
    /// Writes the set for a snapshot: its blocks as they are (sparse offsets or bitmap words),
    /// so a load copies them back instead of inserting id by id.
    pub fn encode(&self, out: &mut Encoder) {
        out.len(self.blocks.len());
        for (&b, blk) in &self.blocks {
            out.u64(b);
            match &**blk {
                Block::Sparse(v) => {
                    out.u8(0);
                    out.len(v.len());
                    v.iter()
                        .for_each(|&o| out.buf.extend_from_slice(&o.to_le_bytes()));
                }
                Block::Dense(bits, _) => {
                    out.u8(1);
                    bits.iter().for_each(|&w| out.u64(w));
                }
            }
        }
    }

    /// Reads what [`IdSet::encode`] wrote, checking every block: ascending block numbers,
    /// ascending offsets, and each block's form within the limits a live set keeps.
    pub fn decode(d: &mut Decoder<'_>) -> Result<IdSet, DecodeError> {
        let bad = |why: String| Err(DecodeError(format!("id set: {why}")));
        let n = d.len(8 + 1)?;
        let mut blocks = Vec::with_capacity(n);
        let mut len = 0u64;
        for _ in 0..n {
            let b = d.u64()?;
            if blocks.last().is_some_and(|&(last, _)| last >= b) || b > u64::MAX >> SHIFT {
                return bad(format!("block {b} out of order"));
            }
            let block = match d.u8()? {
                0 => {
                    let count = d.len(2)?;
                    let raw = d.take(count * 2)?;
                    let v: Vec<u16> = raw
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    if v.is_empty() || v.len() > DENSE_ABOVE {
                        return bad(format!("a sparse block of {} ids", v.len()));
                    }
                    if v.windows(2).any(|w| w[0] >= w[1]) || usize::from(v[v.len() - 1]) >= BLOCK {
                        return bad(format!("offsets of block {b} out of order"));
                    }
                    Block::Sparse(v)
                }
                1 => {
                    let mut bits: Box<Mask> = Box::new([0; WORDS]);
                    for w in bits.iter_mut() {
                        *w = d.u64()?;
                    }
                    let count = count(&bits) as usize;
                    if count < SPARSE_BELOW {
                        return bad(format!("a dense block of {count} ids"));
                    }
                    Block::Dense(bits, count as u16)
                }
                k => return bad(format!("block kind {k}")),
            };
            len += block.len() as u64;
            blocks.push((b, Arc::new(block)));
        }
        Ok(IdSet {
            blocks: blocks.into_iter().collect(),
            len,
        })
    }
}

/// Visits a set's blocks in ascending order; see [`IdSet::cursor`].
pub struct Cursor<'a> {
    iter: std::iter::Peekable<
        imbl::ordmap::Iter<'a, u64, Arc<Block>, imbl::shared_ptr::DefaultSharedPtr>,
    >,
}

impl Cursor<'_> {
    /// ORs block `b` into `out` if the set has it; `b` must not decrease between calls.
    pub fn or_block(&mut self, b: u64, out: &mut Mask) -> bool {
        while let Some(&(&k, _)) = self.iter.peek() {
            if k >= b {
                break;
            }
            self.iter.next();
        }
        match self.iter.peek() {
            Some(&(&k, blk)) if k == b => {
                blk.or_into(out);
                true
            }
            _ => false,
        }
    }

    /// The next block number at or after `b`.
    pub fn next_block(&mut self, b: u64) -> Option<u64> {
        while let Some(&(&k, _)) = self.iter.peek() {
            if k >= b {
                return Some(k);
            }
            self.iter.next();
        }
        None
    }
}

/// Builds an [`IdSet`] from ids given in ascending order (a bulk build without copy-on-write).
#[derive(Debug, Default)]
pub struct Builder {
    blocks: Vec<(u64, Arc<Block>)>,
    current: Option<u64>,
    offsets: Vec<u16>,
    len: u64,
}

impl Builder {
    /// Adds `id`, which must be above every id pushed before (a repeat is ignored).
    pub fn push(&mut self, id: u64) {
        let (b, at) = split(id);
        if self.current != Some(b) {
            self.flush();
            self.current = Some(b);
        } else if self.offsets.last() == Some(&(at as u16)) {
            return;
        }
        debug_assert!(self.offsets.last().is_none_or(|&o| usize::from(o) < at));
        self.offsets.push(at as u16);
        self.len += 1;
    }

    fn flush(&mut self) {
        if let Some(b) = self.current.take()
            && !self.offsets.is_empty()
        {
            let offsets = std::mem::take(&mut self.offsets);
            self.blocks
                .push((b, Arc::new(Block::from_offsets(offsets))));
        }
    }

    /// Adds every id of `other`, all of which must lie in blocks after this builder's.
    pub fn append(&mut self, mut other: Builder) {
        self.flush();
        other.flush();
        debug_assert!(match (self.blocks.last(), other.blocks.first()) {
            (Some((a, _)), Some((b, _))) => a < b,
            _ => true,
        });
        self.blocks.append(&mut other.blocks);
        self.len += other.len;
    }

    pub fn build(mut self) -> IdSet {
        self.flush();
        IdSet {
            blocks: self.blocks.into_iter().collect(),
            len: self.len,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn ids() -> impl Strategy<Value = Vec<(bool, u64)>> {
        // Ids crowded into a few blocks, so blocks go dense and back.
        prop::collection::vec(
            (
                any::<bool>(),
                prop_oneof![0u64..9000, (0u64..4).prop_map(|b| b << 40)],
            ),
            0..3000,
        )
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_set(ops in ids()) {
            let mut set = IdSet::default();
            let mut model = BTreeSet::new();
            for (add, id) in ops {
                if add {
                    prop_assert_eq!(set.insert(id), model.insert(id));
                } else {
                    prop_assert_eq!(set.remove(id), model.remove(&id));
                }
            }
            prop_assert_eq!(set.len(), model.len() as u64);
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            let mut built = Builder::default();
            model.iter().for_each(|&id| built.push(id));
            let built = built.build();
            prop_assert_eq!(built.iter().collect::<Vec<_>>(), set.iter().collect::<Vec<_>>());
            for id in model.iter().take(50) {
                prop_assert!(set.contains(*id) && built.contains(*id));
            }
            let mut out = Encoder::default();
            set.encode(&mut out);
            let mut d = Decoder::new(&out.buf);
            prop_assert_eq!(&IdSet::decode(&mut d).unwrap(), &set);
            prop_assert!(d.finish().is_ok());
        }

        #[test]
        fn a_damaged_encoding_is_refused_or_still_a_set(ops in ids(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut set = IdSet::default();
            for (add, id) in ops {
                if add { set.insert(id); }
            }
            let mut out = Encoder::default();
            set.encode(&mut out);
            let i = at.index(out.buf.len());
            out.buf[i] = byte;
            if let Ok(decoded) = IdSet::decode(&mut Decoder::new(&out.buf)) {
                // Whatever got through keeps the invariants: length and order as the ids say.
                let ids: Vec<u64> = decoded.iter().collect();
                prop_assert_eq!(ids.len() as u64, decoded.len());
                prop_assert!(ids.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }

    #[test]
    fn masks_and_cursors_see_the_same_blocks() {
        let mut set = IdSet::default();
        for id in (0..10_000).step_by(3).chain([1 << 40]) {
            set.insert(id);
        }
        let mut cursor = set.cursor();
        let mut total = 0;
        for b in set.block_numbers().collect::<Vec<_>>() {
            let (mut a, mut c) = ([0; WORDS], [0; WORDS]);
            assert!(set.or_block(b, &mut a) && cursor.or_block(b, &mut c));
            assert_eq!(a, c);
            for_each_bit(&a, |o| assert!(set.contains(join(b, o))));
            total += count(&a);
        }
        assert_eq!(u64::from(total), set.len());
        assert!(!set.cursor().or_block(5, &mut [0; WORDS]));
    }

    #[test]
    fn a_clone_shares_until_a_change() {
        let mut a = IdSet::default();
        (0..4096).for_each(|id| {
            a.insert(id);
        });
        let b = a.clone();
        let shared = |a: &IdSet, b: &IdSet| Arc::ptr_eq(&a.blocks[&0], &b.blocks[&0]);
        assert!(!a.insert(5) && !a.remove(1 << 20));
        assert!(
            shared(&a, &b),
            "a change that changes nothing copies nothing"
        );
        a.remove(7);
        assert!(!shared(&a, &b));
        assert!(b.contains(7) && !a.contains(7));
        assert_eq!((a.len(), b.len()), (4095, 4096));
    }
}
