//! The snapshot file format (header, checksums, names) and the crash-safe write of one file.

use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::codec::{DecodeError, Decoder, Encoder};
use crate::engine::fold::Fold;

pub const MAGIC: [u8; 8] = *b"SHOPSNAP";
/// Version of the file layout above; the payload has its own ([`Fold::MODEL_VERSION`]).
pub const FORMAT_VERSION: u32 = 1;

/// Why a snapshot file was not used; `label` is the metric's `result`.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("cannot read: {0}")]
    Unreadable(#[from] io::Error),
    #[error("corrupt: {0}")]
    Corrupt(String),
    #[error("incompatible: {0}")]
    Incompatible(String),
    #[error("covers offset {offset} but the log ends at {high}")]
    AheadOfLog { offset: i64, high: i64 },
}

impl Rejected {
    pub fn label(&self) -> &'static str {
        match self {
            Rejected::Unreadable(_) => "unreadable",
            Rejected::Corrupt(_) => "corrupt",
            Rejected::Incompatible(_) => "incompatible",
            Rejected::AheadOfLog { .. } => "ahead_of_log",
        }
    }
}

/// The model's payload: deterministic, so equal models give equal bytes.
pub fn encode<F: Fold>(model: &F::Model) -> Vec<u8> {
    let mut e = Encoder::default();
    F::encode(model, &mut e);
    e.buf
}

/// A model from its payload; the whole payload must be used.
pub fn decode<F: Fold>(payload: &[u8]) -> Result<F::Model, DecodeError> {
    let mut d = Decoder::new(payload);
    let model = F::decode(&mut d)?;
    d.finish()?;
    Ok(model)
}

/// A snapshot file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub format_version: u32,
    pub model_version: u32,
    pub context: String,
    pub topic: String,
    pub offset: i64,
    pub last_event_crc: u32,
    pub payload_len: u64,
}

impl Header {
    /// The header's bytes up to (without) the CRC.
    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&self.format_version.to_le_bytes());
        b.extend_from_slice(&self.model_version.to_le_bytes());
        for s in [&self.context, &self.topic] {
            b.extend_from_slice(&(s.len() as u16).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        b.extend_from_slice(&self.offset.to_le_bytes());
        b.extend_from_slice(&self.last_event_crc.to_le_bytes());
        b.extend_from_slice(&self.payload_len.to_le_bytes());
        b
    }
}

/// A whole snapshot file's bytes.
pub fn file_bytes<F: Fold>(
    topic: &str,
    offset: i64,
    last_event_crc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let (head, crc) = head_and_crc::<F>(topic, offset, last_event_crc, payload);
    let mut out = Vec::with_capacity(head.len() + 4 + payload.len());
    out.extend_from_slice(&head);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

pub(super) fn head_and_crc<F: Fold>(
    topic: &str,
    offset: i64,
    last_event_crc: u32,
    payload: &[u8],
) -> (Vec<u8>, u32) {
    let head = Header {
        format_version: FORMAT_VERSION,
        model_version: F::MODEL_VERSION,
        context: F::NAME.to_owned(),
        topic: topic.to_owned(),
        offset,
        last_event_crc,
        payload_len: payload.len() as u64,
    }
    .bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(payload);
    (head, crc.finalize())
}

/// Splits a snapshot file into its header and payload, checking magic, lengths and CRC.
pub fn parse(bytes: &[u8]) -> Result<(Header, &[u8]), Rejected> {
    let corrupt = |why: &str| Rejected::Corrupt(why.to_owned());
    let truncated = |_| corrupt("truncated header");
    let mut d = Decoder::new(bytes);
    if d.take(8).map_err(truncated)? != MAGIC {
        return Err(corrupt("not a snapshot (bad magic)"));
    }
    let format_version = d.u32().map_err(truncated)?;
    if format_version != FORMAT_VERSION {
        return Err(Rejected::Incompatible(format!(
            "file format version {format_version}, this build reads {FORMAT_VERSION}"
        )));
    }
    let model_version = d.u32().map_err(truncated)?;
    let mut name = || -> Result<String, Rejected> {
        let n = u16::from_le_bytes(d.array().map_err(truncated)?) as usize;
        let s = d.take(n).map_err(truncated)?;
        String::from_utf8(s.to_vec()).map_err(|_| corrupt("a name is not UTF-8"))
    };
    let context = name()?;
    let topic = name()?;
    let offset = d.i64().map_err(truncated)?;
    let last_event_crc = d.u32().map_err(truncated)?;
    let payload_len = d.u64().map_err(truncated)?;
    let head_len = bytes.len() - d.rest.len();
    let crc = d.u32().map_err(truncated)?;
    let payload = d.rest;
    if payload.len() as u64 != payload_len {
        return Err(Rejected::Corrupt(format!(
            "payload is {} bytes, the header says {payload_len} (truncated?)",
            payload.len()
        )));
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[..head_len]);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let header = Header {
        format_version,
        model_version,
        context,
        topic,
        offset,
        last_event_crc,
        payload_len,
    };
    Ok((header, payload))
}

/// Whether this build's fold can use a snapshot with `header` for `topic`.
pub fn check_compatible<F: Fold>(header: &Header, topic: &str) -> Result<(), Rejected> {
    let incompatible = |why: String| Err(Rejected::Incompatible(why));
    if header.context != F::NAME {
        return incompatible(format!("context {:?}, not {:?}", header.context, F::NAME));
    }
    if header.topic != topic {
        return incompatible(format!("topic {:?}, not {topic:?}", header.topic));
    }
    if F::MODEL_VERSION == 0 || header.model_version != F::MODEL_VERSION {
        return incompatible(format!(
            "model version {}, this build's {} is {}",
            header.model_version,
            F::NAME,
            F::MODEL_VERSION
        ));
    }
    if header.offset < 0 {
        return Err(Rejected::Corrupt(format!("offset {}", header.offset)));
    }
    Ok(())
}

fn file_prefix<F: Fold>(topic: &str) -> String {
    format!("{}-{topic}-", F::NAME)
}

/// This context's snapshot files in `dir`, newest (highest offset) first.
pub fn list<F: Fold>(dir: &Path, topic: &str) -> io::Result<Vec<(i64, PathBuf)>> {
    let prefix = file_prefix::<F>(topic);
    let mut found = vec![];
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(offset) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".snap"))
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        found.push((offset, entry.path()));
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found)
}

/// The path of the snapshot of `topic` at `offset`.
pub fn path_of<F: Fold>(dir: &Path, topic: &str, offset: i64) -> PathBuf {
    dir.join(format!("{}{offset:020}.snap", file_prefix::<F>(topic)))
}

/// A snapshot file read whole; [`SnapshotFile::payload`] is the model's part.
pub struct SnapshotFile {
    pub header: Header,
    bytes: Vec<u8>,
}

impl SnapshotFile {
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.bytes.len() - self.header.payload_len as usize..]
    }
}

/// Reads and checks one snapshot file of this context.
pub fn read<F: Fold>(path: &Path, topic: &str) -> Result<SnapshotFile, Rejected> {
    let mut file = File::open(path)?;
    // One allocation of the right size: a large model's file is hundreds of MB.
    let size = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut bytes = Vec::with_capacity(size);
    file.read_to_end(&mut bytes)?;
    let (header, _) = parse(&bytes)?;
    check_compatible::<F>(&header, topic)?;
    Ok(SnapshotFile { header, bytes })
}

/// What a write did.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub encode: Duration,
    pub write: Duration,
}

/// Encodes `model` and writes it as the snapshot at `offset` (whose event before has a payload
/// of CRC `last_event_crc`), then removes all but the newest `keep` of this context's snapshots.
pub fn write<F: Fold>(
    dir: &Path,
    topic: &str,
    offset: i64,
    last_event_crc: u32,
    model: &F::Model,
    keep: usize,
) -> io::Result<Written> {
    let t0 = Instant::now();
    let payload = encode::<F>(model);
    let encode = t0.elapsed();
    let path = write_payload::<F>(dir, topic, offset, last_event_crc, &payload)?;
    prune::<F>(dir, topic, keep)?;
    Ok(Written {
        path,
        bytes: payload.len() as u64,
        encode,
        write: t0.elapsed() - encode,
    })
}

/// Writes an already encoded payload as the snapshot at `offset` (temp file, fsync, rename).
pub fn write_payload<F: Fold>(
    dir: &Path,
    topic: &str,
    offset: i64,
    last_event_crc: u32,
    payload: &[u8],
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = path_of::<F>(dir, topic, offset);
    let tmp = path.with_extension("snap.tmp");
    let (head, crc) = head_and_crc::<F>(topic, offset, last_event_crc, payload);
    write_atomically(&tmp, &path, |f| {
        f.write_all(&head)?;
        f.write_all(&crc.to_le_bytes())?;
        f.write_all(payload)
    })?;
    File::open(dir)?.sync_all()?;
    Ok(path)
}

/// Writes `tmp` with `write`, fsyncs it and renames it to `path`; on any error (a full disk)
/// the temporary file is removed, so a failing write never leaves its bytes behind.
fn write_atomically(
    tmp: &Path,
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let written = File::create(tmp).and_then(|mut f| {
        write(&mut f)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(tmp, path)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}

/// Removes all but the newest `keep` snapshots of this context, and its temporary files left by
/// a crash (only this context's snapshot thread writes them, and it is here).
fn prune<F: Fold>(dir: &Path, topic: &str, keep: usize) -> io::Result<()> {
    for (_, old) in list::<F>(dir, topic)?.into_iter().skip(keep.max(1)) {
        std::fs::remove_file(&old)?;
    }
    let prefix = file_prefix::<F>(topic);
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if name
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".snap.tmp"))
        {
            std::fs::remove_file(dir.join(name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn a_write_that_fails_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, path) = (dir.path().join("x.snap.tmp"), dir.path().join("x.snap"));
        let e = write_atomically(&tmp, &path, |f| {
            f.write_all(&[7; 4096])?;
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        })
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(!tmp.exists() && !path.exists());
        write_atomically(&tmp, &path, |f| f.write_all(b"ok")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"ok");
        assert!(!tmp.exists());
    }
}
