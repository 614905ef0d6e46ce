//! Where a context's snapshots live and how they are used: the settings, the choice of the
//! newest usable file at start-up, and the low-priority thread that writes them.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::file::*;
use crate::engine::fold::Fold;
use crate::engine::metrics::SnapshotRecorder;

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
    metrics: &dyn SnapshotRecorder,
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
        metrics: Arc<dyn SnapshotRecorder>,
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
pub(super) fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's id only changes this thread's nice value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}
