//! Snapshots of a context's model on local disk, so a restart replays only the log's tail.
//!
//! A snapshot is a cache of the log, never a source of truth: it holds the model after applying
//! every event below `offset`, and a start-up that cannot use it replays from offset 0 as
//! before. One file per snapshot, `<context>-<topic>-<offset>.snap`, little-endian:
//!
//! | field | bytes |
//! | --- | --- |
//! | magic `SHOPSNAP` | 8 |
//! | format version ([`FORMAT_VERSION`]: this header) | 4 |
//! | model version ([`Fold::MODEL_VERSION`]: the payload and the fold's meaning) | 4 |
//! | context name, topic name (u16 length + UTF-8 each) | 2 + n, 2 + n |
//! | offset: the next offset to apply | 8 |
//! | CRC-32 of the payload of the event at `offset - 1` (0 when `offset` is 0) | 4 |
//! | payload length | 8 |
//! | CRC-32 of every byte above and of the payload | 4 |
//! | payload ([`Fold::encode`]) | length |
//!
//! The last event's CRC ties a snapshot to its log: a start-up reads that one event again, and
//! a topic that was deleted and filled anew (whose offsets mean other events) is noticed.
//!
//! Files are written to a temporary name, fsynced, renamed and the directory fsynced, so a
//! crash leaves either the old set or the new file, never half a file under a snapshot's name.
//! The payload is deterministic (maps in key order), so two models are equal exactly when their
//! encodings are: the tests and the background [`verify_once`] compare encodings.

use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::engine::Fold;
use crate::kafka::ShopConsumer;
use crate::metrics::SnapshotMetrics;
use crate::shutdown::Shutdown;

pub const MAGIC: [u8; 8] = *b"SHOPSNAP";
/// Version of the file layout above; the payload has its own ([`Fold::MODEL_VERSION`]).
pub const FORMAT_VERSION: u32 = 1;

/// Where and how often a context writes snapshots, and whether they are checked.
#[derive(Debug, Clone)]
pub struct SnapshotSettings {
    pub dir: PathBuf,
    /// Write one once this many events were applied since the last (0: never by count).
    pub every_events: u64,
    /// Write one when this much time has passed and events were applied (zero: never by time).
    pub every: Duration,
    /// Snapshots kept per context (the newest), at least 1.
    pub keep: usize,
    /// Replay the log up to the newest snapshot and compare, this often (None: never).
    pub verify_every: Option<Duration>,
}

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
}

/// Reads what an [`Encoder`] wrote; every read is bounds-checked.
pub struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { rest: bytes }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
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

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
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

fn head_and_crc<F: Fold>(
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
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&head)?;
        f.write_all(&crc.to_le_bytes())?;
        f.write_all(payload)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    File::open(dir)?.sync_all()?;
    Ok(path)
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

/// A snapshot chosen at start-up.
pub struct Loaded<M> {
    pub model: M,
    pub offset: i64,
    pub last_event_crc: u32,
    pub path: PathBuf,
}

/// The newest usable snapshot of this context, for a log whose high watermark is `high`. Every
/// file passed over is logged and counted with its reason; `absent` is counted when there was
/// no file at all.
pub fn load_newest<F: Fold>(
    dir: &Path,
    topic: &str,
    high: i64,
    metrics: &SnapshotMetrics,
) -> Option<Loaded<F::Model>> {
    let t0 = Instant::now();
    let files = match list::<F>(dir, topic) {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!(context = F::NAME, dir = %dir.display(), %e, "cannot list snapshots; replaying from offset 0");
            metrics.load_result("unreadable");
            return None;
        }
    };
    if files.is_empty() {
        metrics.load_result("absent");
        tracing::info!(context = F::NAME, dir = %dir.display(), "no snapshot; replaying from offset 0");
        return None;
    }
    for (_, path) in files {
        let loaded = read::<F>(&path, topic).and_then(|file| {
            let offset = file.header.offset;
            if offset > high {
                return Err(Rejected::AheadOfLog { offset, high });
            }
            let model = decode::<F>(file.payload()).map_err(|e| Rejected::Corrupt(e.0))?;
            Ok((offset, file.header.last_event_crc, model))
        });
        match loaded {
            Ok((offset, last_event_crc, model)) => {
                let took = t0.elapsed();
                metrics.load_result("loaded");
                metrics.loaded(offset, took);
                tracing::info!(context = F::NAME, file = %path.display(), offset, seconds = took.as_secs_f64(), "snapshot loaded; replaying the tail");
                return Some(Loaded {
                    model,
                    offset,
                    last_event_crc,
                    path,
                });
            }
            Err(why) => {
                metrics.load_result(why.label());
                tracing::warn!(context = F::NAME, file = %path.display(), reason = %why, "snapshot skipped");
            }
        }
    }
    tracing::warn!(
        context = F::NAME,
        "no usable snapshot; replaying from offset 0"
    );
    None
}

/// Writes snapshots on a thread of its own so that the writer only pays for a model clone
/// (persistent collections: a few pointers).
pub struct SnapshotWriter<F: Fold> {
    tx: Option<std::sync::mpsc::SyncSender<(i64, u32, F::Model)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<F: Fold> SnapshotWriter<F> {
    pub fn start(
        settings: SnapshotSettings,
        topic: String,
        metrics: SnapshotMetrics,
    ) -> io::Result<Self> {
        // One waiting at most: a writer faster than the disk skips snapshots instead of queueing
        // models.
        let (tx, rx) = std::sync::mpsc::sync_channel::<(i64, u32, F::Model)>(1);
        let thread = std::thread::Builder::new()
            .name(format!("{}-snapshot", F::NAME))
            .spawn(move || {
                lower_priority();
                for (offset, last, model) in rx {
                    match write::<F>(&settings.dir, &topic, offset, last, &model, settings.keep) {
                        Ok(w) => {
                            metrics.written(offset, w.bytes, w.encode + w.write);
                            tracing::info!(context = F::NAME, file = %w.path.display(), offset, bytes = w.bytes,
                                encode_seconds = w.encode.as_secs_f64(), write_seconds = w.write.as_secs_f64(), "snapshot written");
                        }
                        Err(e) => {
                            metrics.write_failed();
                            tracing::error!(context = F::NAME, dir = %settings.dir.display(), offset, %e, "cannot write a snapshot");
                        }
                    }
                }
            })?;
        Ok(SnapshotWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a model over for writing; false if the previous one is still being written.
    pub fn offer(&self, offset: i64, last_event_crc: u32, model: F::Model) -> bool {
        self.tx
            .as_ref()
            .is_some_and(|tx| tx.try_send((offset, last_event_crc, model)).is_ok())
    }

    /// Writes `model` after whatever is being written, and waits for both.
    pub fn finish(mut self, offset: i64, last_event_crc: u32, model: F::Model) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((offset, last_event_crc, model));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<F: Fold> Drop for SnapshotWriter<F> {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Background work must not take CPU from the writers and requests: on Linux, each thread has
/// its own nice value.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's id only changes this thread's nice value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// The result of one background check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A replay from 0 to the snapshot's offset gives the same encoding.
    Equal {
        offset: i64,
    },
    Different {
        offset: i64,
        path: PathBuf,
    },
    /// Nothing to check yet (no snapshot), or the check could not finish (shutdown, an
    /// unreadable file, a broker that does not deliver).
    Skipped(String),
}

/// Replays `topic` from offset 0 up to the newest snapshot's offset with `consumer` (a consumer
/// of its own) and compares the encodings. Poison events are skipped as the writer skips them.
pub fn verify_once<F: Fold>(
    consumer: &ShopConsumer,
    dir: &Path,
    topic: &str,
    shutdown: &Shutdown,
    metrics: &SnapshotMetrics,
) -> Verdict {
    let verdict = check::<F>(consumer, dir, topic, shutdown);
    match &verdict {
        Verdict::Equal { offset } => {
            metrics.verified(true, *offset);
            tracing::info!(
                context = F::NAME,
                offset,
                "snapshot verified: equal to a replay from offset 0"
            );
        }
        Verdict::Different { offset, path } => {
            metrics.verified(false, *offset);
            tracing::error!(context = F::NAME, offset, file = %path.display(),
                "snapshot DIFFERS from a replay from offset 0: the fold is not deterministic or its model version was not bumped");
        }
        Verdict::Skipped(why) => {
            tracing::info!(context = F::NAME, why, "snapshot check skipped")
        }
    }
    verdict
}

fn check<F: Fold>(
    consumer: &ShopConsumer,
    dir: &Path,
    topic: &str,
    shutdown: &Shutdown,
) -> Verdict {
    let skipped = |why: String| Verdict::Skipped(why);
    let newest = match list::<F>(dir, topic) {
        Ok(files) => files.into_iter().next(),
        Err(e) => return skipped(format!("cannot list snapshots: {e}")),
    };
    let Some((_, path)) = newest else {
        return skipped("no snapshot yet".into());
    };
    let file = match read::<F>(&path, topic) {
        Ok(read) => read,
        Err(e) => return skipped(format!("{}: {e}", path.display())),
    };
    let until = file.header.offset;
    let mut tpl = TopicPartitionList::new();
    if let Err(e) = tpl
        .add_partition_offset(topic, 0, Offset::Beginning)
        .and_then(|_| consumer.assign(&tpl))
    {
        return skipped(format!("cannot assign the partition: {e}"));
    }
    let mut model = F::Model::default();
    let mut expected = 0i64;
    let mut idle_since = Instant::now();
    while expected < until {
        if *shutdown.borrow() {
            return skipped("shutdown".into());
        }
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            if idle_since.elapsed() > Duration::from_secs(120) {
                return skipped(format!("no event for 2 min at offset {expected}"));
            }
            continue;
        };
        let Ok(msg) = msg else { continue };
        idle_since = Instant::now();
        let offset = msg.offset();
        if offset < expected || offset >= until {
            continue;
        }
        expected = offset + 1;
        if let Ok(event) = <F::Event as prost::Message>::decode(msg.payload().unwrap_or_default()) {
            F::apply(&mut model, &event, offset);
        }
    }
    let _ = consumer.unassign();
    F::finalize(&mut model);
    if encode::<F>(&model) == file.payload() {
        Verdict::Equal { offset: until }
    } else {
        Verdict::Different {
            offset: until,
            path,
        }
    }
}

/// Runs [`verify_once`] on a low-priority thread of its own: first once the context is ready
/// (and a snapshot exists), then every `every`.
pub fn spawn_verifier<F: Fold>(
    context: crate::engine::Context<F>,
    consumer: ShopConsumer,
    dir: PathBuf,
    every: Duration,
    metrics: SnapshotMetrics,
    shutdown: Shutdown,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("{}-verify", F::NAME))
        .spawn(move || {
            lower_priority();
            let topic = context.topic().to_owned();
            let sleep = |d: Duration| {
                let until = Instant::now() + d;
                while Instant::now() < until {
                    if *shutdown.borrow() {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(100).min(d));
                }
                !*shutdown.borrow()
            };
            while !context.is_ready() {
                if !sleep(Duration::from_millis(100)) {
                    return;
                }
            }
            loop {
                let verdict = verify_once::<F>(&consumer, &dir, &topic, &shutdown, &metrics);
                // Without a snapshot yet, look again soon rather than after a whole period.
                let wait = match verdict {
                    Verdict::Skipped(_) => every.min(Duration::from_secs(1)),
                    _ => every,
                };
                if !sleep(wait) {
                    return;
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogFold;
    use crate::catalog::fold::tests::upsert;
    use crate::checkout::CheckoutFold;

    fn catalog_payload() -> Vec<u8> {
        let mut m = crate::catalog::Catalog::default();
        CatalogFold::apply(&mut m, &upsert(1, "Lamp", "Home", 500), 0);
        CatalogFold::apply(&mut m, &upsert(2, "Chair", "Home", 300), 1);
        CatalogFold::finalize(&mut m);
        encode::<CatalogFold>(&m)
    }

    fn reject(bytes: &[u8], topic: &str) -> Rejected {
        match parse(bytes).and_then(|(h, p)| {
            check_compatible::<CatalogFold>(&h, topic)?;
            decode::<CatalogFold>(p).map_err(|e| Rejected::Corrupt(e.0))
        }) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_good_file_round_trips() {
        let payload = catalog_payload();
        let file = file_bytes::<CatalogFold>("t", 2, 9, &payload);
        let (h, p) = parse(&file).unwrap();
        check_compatible::<CatalogFold>(&h, "t").unwrap();
        assert_eq!((h.offset, p), (2, &payload[..]));
        let model = decode::<CatalogFold>(p).unwrap();
        assert_eq!(encode::<CatalogFold>(&model), payload);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let file = file_bytes::<CatalogFold>("t", 2, 9, &catalog_payload());
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x10;
            let why = reject(&bad, "t");
            // A flip in the format version is read as another version; anywhere else the
            // checksum (or the magic) catches it.
            assert!(
                matches!(why, Rejected::Corrupt(_) | Rejected::Incompatible(_)),
                "byte {i}: {why}"
            );
            if !(8..12).contains(&i) {
                assert_eq!(why.label(), "corrupt", "byte {i}: {why}");
            }
        }
    }

    #[test]
    fn truncated_files_are_corrupt() {
        let file = file_bytes::<CatalogFold>("t", 2, 9, &catalog_payload());
        for len in [0, 7, 20, file.len() / 2, file.len() - 1] {
            let why = reject(&file[..len], "t");
            assert_eq!(why.label(), "corrupt", "{len} bytes: {why}");
        }
        let why = reject(&file[..file.len() - 1], "t").to_string();
        assert!(why.contains("truncated"), "{why}");
    }

    #[test]
    fn other_versions_topics_and_contexts_are_incompatible() {
        let payload = catalog_payload();
        let mut file = file_bytes::<CatalogFold>("t", 2, 9, &payload);
        file[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert!(reject(&file, "t").to_string().contains("format version"));

        // A model version this build does not know, with a valid checksum.
        let (mut head, _) = head_and_crc::<CatalogFold>("t", 2, 9, &payload);
        head[12..16].copy_from_slice(&(CatalogFold::MODEL_VERSION + 1).to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(&payload);
        let mut file = head;
        file.extend_from_slice(&crc.finalize().to_le_bytes());
        file.extend_from_slice(&payload);
        let why = reject(&file, "t");
        assert_eq!(why.label(), "incompatible");
        assert!(why.to_string().contains("model version"), "{why}");

        let file = file_bytes::<CatalogFold>("t", 2, 9, &payload);
        assert!(reject(&file, "other").to_string().contains("topic"));
        let file = file_bytes::<CheckoutFold>("t", 2, 9, &payload);
        assert!(reject(&file, "t").to_string().contains("context"));
    }

    #[test]
    fn lengths_beyond_the_payload_are_refused_without_allocating() {
        let mut e = Encoder::default();
        e.u64(u64::MAX);
        let mut d = Decoder::new(&e.buf);
        assert!(d.len(1).is_err());
    }

    #[test]
    fn start_up_picks_the_newest_usable_snapshot_and_counts_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = crate::catalog::Catalog::default();
        CatalogFold::finalize(&mut m);
        let stale = dir.path().join("catalog-t-00000000000000000009.snap.tmp");
        std::fs::write(&stale, b"half a file").unwrap();
        for offset in 1..=4 {
            CatalogFold::apply(
                &mut m,
                &upsert(offset as u64, "Lamp", "Home", 5),
                offset - 1,
            );
            write::<CatalogFold>(dir.path(), "t", offset, 9, &m, 3).unwrap();
        }
        let files = list::<CatalogFold>(dir.path(), "t").unwrap();
        assert_eq!(
            files.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![4, 3, 2],
            "the newest 3 are kept"
        );
        assert!(!stale.exists(), "a crash's temporary file is removed");
        // 4 is beyond the log, 3 is corrupt: 2 is used.
        let mut bytes = std::fs::read(&files[1].1).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&files[1].1, bytes).unwrap();
        let metrics = SnapshotMetrics::unregistered("catalog");
        let loaded = load_newest::<CatalogFold>(dir.path(), "t", 3, &metrics).unwrap();
        assert_eq!(loaded.offset, 2);
        assert_eq!(loaded.model.product_count(), 2);
        assert_eq!(
            metrics.load_counts(),
            vec![("ahead_of_log", 1), ("corrupt", 1), ("loaded", 1)]
        );

        let empty = tempfile::tempdir().unwrap();
        assert!(load_newest::<CatalogFold>(empty.path(), "t", 3, &metrics).is_none());
        assert_eq!(metrics.load_counts()[0], ("absent", 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_background_check_tells_an_equal_snapshot_from_a_different_one() {
        use crate::kafka::{self, BrokerStatus};
        use prost::Message as _;

        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        let cfg = crate::engine::tests::kafka_config(cluster.bootstrap_servers());
        let producer = kafka::producer(&cfg, BrokerStatus::new()).unwrap();
        let events = [
            upsert(1, "Lamp", "Home", 500),
            upsert(2, "Chair", "Office", 300),
            upsert(1, "Lamp", "Home", 700),
        ];
        let status = BrokerStatus::new();
        for e in &events {
            kafka::produce(&producer, &status, "t", b"k", &e.encode_to_vec())
                .await
                .unwrap();
        }
        let mut right = crate::catalog::Catalog::default();
        let mut wrong = crate::catalog::Catalog::default();
        for (i, e) in events.iter().enumerate() {
            CatalogFold::apply(&mut right, e, i as i64);
            // A fold that missed the last event.
            if i < 2 {
                CatalogFold::apply(&mut wrong, e, i as i64);
            }
        }
        CatalogFold::finalize(&mut right);
        CatalogFold::finalize(&mut wrong);

        let dir = tempfile::tempdir().unwrap();
        let metrics = SnapshotMetrics::unregistered("catalog");
        let consumer = kafka::consumer(&cfg, "verify", BrokerStatus::new()).unwrap();
        let (_stop, shutdown) = crate::shutdown::channel();
        let (path, shutdown2) = (dir.path().to_owned(), shutdown.clone());
        let check = move |model: crate::catalog::Catalog| {
            write::<CatalogFold>(&path, "t", 3, 9, &model, 1).unwrap();
            verify_once::<CatalogFold>(&consumer, &path, "t", &shutdown2, &metrics)
        };
        let verdicts = tokio::task::spawn_blocking(move || (check(wrong), check(right)))
            .await
            .unwrap();
        assert!(
            matches!(verdicts.0, Verdict::Different { offset: 3, .. }),
            "{verdicts:?}"
        );
        assert_eq!(verdicts.1, Verdict::Equal { offset: 3 });
    }
}
