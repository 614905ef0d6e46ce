//! The snapshot payload's codec: the fixed-width little-endian values a fold writes its model
//! as, read back bounds-checked. The only part of snapshots a fold imports.

/// A payload that does not decode (a bug, or a file that passed its checksum by chance).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// Appends the fixed-width little-endian values a payload is made of.
#[derive(Debug, Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
    /// A flag, then the value if there is one (every `i64` is a value: no sentinel).
    pub fn opt_i64(&mut self, v: Option<i64>) {
        self.bool(v.is_some());
        if let Some(v) = v {
            self.i64(v);
        }
    }
    /// A collection's length (u64, so no size is ever truncated).
    pub fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    /// What `f` writes, as one length-prefixed blob (read back with [`Decoder::bytes`]), written
    /// in place: no copy of a large part.
    pub fn blob(&mut self, f: impl FnOnce(&mut Encoder)) {
        let at = self.buf.len();
        self.u64(0);
        f(self);
        let n = (self.buf.len() - at - 8) as u64;
        self.buf[at..at + 8].copy_from_slice(&n.to_le_bytes());
    }
}

/// Reads what an [`Encoder`] wrote; every read is bounds-checked.
pub struct Decoder<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { rest: bytes }
    }

    /// The next `n` bytes as they are.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError(format!(
                "{n} bytes wanted, {} left",
                self.rest.len()
            )));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_le_bytes)
    }
    pub fn u128(&mut self) -> Result<u128, DecodeError> {
        self.array().map(u128::from_le_bytes)
    }
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(DecodeError(format!("bool byte {b}"))),
        }
    }
    pub fn opt_i64(&mut self) -> Result<Option<i64>, DecodeError> {
        if self.bool()? {
            self.i64().map(Some)
        } else {
            Ok(None)
        }
    }
    /// A collection's length, checked against the bytes left (each element takes at least
    /// `min_size` bytes), so a bad length cannot make a huge allocation.
    pub fn len(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let n = self.u64()?;
        if n > (self.rest.len() / min_size.max(1)) as u64 {
            return Err(DecodeError(format!(
                "length {n} exceeds the {} bytes left",
                self.rest.len()
            )));
        }
        Ok(n as usize)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len(1)?;
        self.take(n)
    }
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|e| DecodeError(format!("string: {e}")))
    }
    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(DecodeError(format!("{n} bytes after the model"))),
        }
    }
}
