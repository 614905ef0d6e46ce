//! A running context as readers and commands see it: the published model (one wait-free load),
//! the applied offset commands wait for, readiness, and the writer's counters and health.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::sync::OnceLock;

use arc_swap::ArcSwap;
use rdkafka::message::BorrowedMessage;
use tokio::sync::watch;
use tracing::span::EnteredSpan;

use super::fold::Fold;
use super::metrics::{SnapshotRecorder, Unrecorded, WriterRecorder};
use super::snapshot::SnapshotSettings;

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("the event was not applied in time")]
    Timeout,
    #[error("the context has stopped")]
    Stopped,
}

/// Counters of what a writer did; read by health, readiness and metrics.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub applied: AtomicU64,
    pub ignored: AtomicU64,
    pub poison: AtomicU64,
    /// Holes found in the log (an offset beyond the next expected one).
    pub gaps: AtomicU64,
    /// Times the log went back below what was applied (a topic deleted and recreated, a
    /// truncated partition).
    pub rewinds: AtomicU64,
    pub publishes: AtomicU64,
    /// The high watermark read at start-up: the offset the replay must reach.
    pub replay_target: AtomicI64,
    pub replay_millis: AtomicU64,
    /// Events applied by the start-up replay (after the snapshot, if one was loaded).
    pub replayed: AtomicU64,
    /// The offset the start-up snapshot covered (0: none was loaded).
    pub snapshot_offset: AtomicI64,
    /// The highest offset (exclusive) the writer knows to exist in its partition: the start-up
    /// watermark, the consumer's latest fetch statistics, and every event it has received.
    pub high_watermark: AtomicI64,
    /// When the writer last made progress (received an event or published), in milliseconds
    /// since the context was created.
    pub last_progress_ms: AtomicU64,
    /// The writer thread's state: one of the `WRITER_*` constants.
    pub writer: AtomicU8,
}

/// [`EngineStats::writer`]: no writer was started yet.
pub const WRITER_NOT_STARTED: u8 = 0;
/// [`EngineStats::writer`]: the writer thread runs.
pub const WRITER_RUNNING: u8 = 1;
/// [`EngineStats::writer`]: the writer stopped because the server is shutting down.
pub const WRITER_STOPPED: u8 = 2;
/// [`EngineStats::writer`]: the writer returned while the server was not shutting down.
pub const WRITER_EXITED: u8 = 3;
/// [`EngineStats::writer`]: the writer thread panicked.
pub const WRITER_PANICKED: u8 = 4;

/// What liveness makes of a context's writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriterHealth {
    /// Making progress, idle with nothing to apply, or not started yet.
    Healthy,
    /// There are events to apply but the writer has made no progress for `idle_for`.
    Stuck { offset: i64, idle_for: Duration },
    /// The writer thread is gone although the server is not shutting down.
    Dead { offset: i64, panicked: bool },
}

/// The liveness rule on plain numbers: `applied` is the next offset to apply, `high` the
/// highest known offset (exclusive); `idle_for` is the time since the last progress.
pub fn writer_health(
    state: u8,
    applied: i64,
    high: i64,
    idle_for: Duration,
    stuck_after: Duration,
) -> WriterHealth {
    match state {
        WRITER_EXITED => WriterHealth::Dead {
            offset: applied,
            panicked: false,
        },
        WRITER_PANICKED => WriterHealth::Dead {
            offset: applied,
            panicked: true,
        },
        WRITER_RUNNING if high > applied && idle_for > stuck_after => WriterHealth::Stuck {
            offset: applied,
            idle_for,
        },
        _ => WriterHealth::Healthy,
    }
}

/// A span (or anything else entered while held) around applying one event: the context's name,
/// the event's kind (computed only if needed), the Kafka message, and whether the start-up replay
/// is over. Tracing wraps the engine from outside through it; the engine knows no tracing backend.
pub type ApplySpan =
    fn(&'static str, &dyn Fn() -> &'static str, &BorrowedMessage<'_>, bool) -> Option<EnteredSpan>;

pub(super) struct Inner<F: Fold> {
    pub(super) model: ArcSwap<F::Model>,
    pub(super) applied: watch::Sender<i64>,
    pub(super) ready: AtomicBool,
    pub(super) stats: EngineStats,
    pub(super) metrics: Box<dyn WriterRecorder>,
    /// The writer's [`WriterRecorder::snapshots`], resolved once.
    pub(super) snapshot_metrics: Arc<dyn SnapshotRecorder>,
    pub(super) topic: String,
    pub(super) snapshots: Option<SnapshotSettings>,
    /// The origin of [`EngineStats::last_progress_ms`].
    pub(super) epoch: Instant,
    /// Wraps the apply of a live event (see [`Context::trace_applies`]).
    pub(super) apply_span: OnceLock<ApplySpan>,
    /// Why the log can no longer be trusted (events missing, or gone back); once set, the
    /// writer applies nothing more and the context is not ready until a restart replays.
    pub(super) fault: OnceLock<String>,
}

impl<F: Fold> Inner<F> {
    /// Marks the log as faulty (the first fault is kept, and logged once).
    pub(super) fn fault(&self, why: String) {
        if self.fault.set(why).is_ok() {
            let why = self.fault.get().map(String::as_str).unwrap_or_default();
            tracing::error!(context = F::NAME, topic = %self.topic, why, "the log cannot be trusted: the context stops serving");
        }
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Records progress, and that events up to `high` (exclusive) exist.
    pub(super) fn progress(&self, high: i64) {
        self.stats.high_watermark.fetch_max(high, Ordering::Relaxed);
        self.stats
            .last_progress_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }
}

/// A running context: its published model and its progress. Cheap to clone.
pub struct Context<F: Fold> {
    pub(super) inner: Arc<Inner<F>>,
}

impl<F: Fold> Clone for Context<F> {
    fn clone(&self) -> Self {
        Context {
            inner: self.inner.clone(),
        }
    }
}

impl<F: Fold> Context<F> {
    /// The current model: one wait-free load.
    pub fn model(&self) -> arc_swap::Guard<Arc<F::Model>> {
        self.inner.model.load()
    }

    /// Why the context's log can no longer be trusted, if it cannot: events missing from it,
    /// or offsets gone back below what was applied. Until a restart, the context is not ready.
    pub fn fault(&self) -> Option<&str> {
        self.inner.fault.get().map(String::as_str)
    }

    /// True once the start-up replay is done.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Number of events the published model includes: offsets below it are applied.
    pub fn applied_until(&self) -> i64 {
        *self.inner.applied.borrow()
    }

    pub fn stats(&self) -> &EngineStats {
        &self.inner.stats
    }

    pub fn topic(&self) -> &str {
        &self.inner.topic
    }

    /// Applies every later live event inside `hook`'s span (set once; later calls change nothing).
    pub fn trace_applies(&self, hook: ApplySpan) {
        let _ = self.inner.apply_span.set(hook);
    }

    /// Whether the writer is alive and either making progress or idle with nothing to apply.
    pub fn health(&self, stuck_after: Duration) -> WriterHealth {
        let stats = &self.inner.stats;
        let idle_ms = self
            .inner
            .now_ms()
            .saturating_sub(stats.last_progress_ms.load(Ordering::Relaxed));
        writer_health(
            stats.writer.load(Ordering::Acquire),
            self.applied_until(),
            stats.high_watermark.load(Ordering::Relaxed),
            Duration::from_millis(idle_ms),
            stuck_after,
        )
    }

    /// Waits until the published model includes the event at `offset`.
    pub async fn wait_for(&self, offset: i64, timeout: Duration) -> Result<(), WaitError> {
        let mut rx = self.inner.applied.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|&until| until > offset)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(WaitError::Stopped),
            Err(_) => Err(WaitError::Timeout),
        }
    }

    /// Waits until the published model satisfies `done` (checked after every publish).
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&F::Model) -> bool,
    ) -> Result<(), WaitError> {
        let mut rx = self.inner.applied.subscribe();
        let inner = &self.inner;
        let wait =
            rx.wait_for(|_| inner.ready.load(Ordering::Acquire) && done(&inner.model.load()));
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(WaitError::Stopped),
            Err(_) => Err(WaitError::Timeout),
        }
    }

    /// Publishes `model` as if a writer had replayed it and marks the context ready: for
    /// benchmarks that serve a large generated model without replaying it through a broker. A
    /// context whose writer runs must never be preloaded (its next publish would replace it).
    #[doc(hidden)]
    pub fn preload(&self, model: F::Model) {
        self.inner.model.store(Arc::new(model));
        self.inner.ready.store(true, Ordering::Release);
    }

    /// Waits until the start-up replay is done.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), WaitError> {
        self.wait_until(timeout, |_| true).await
    }
}

impl<F: Fold> Context<F> {
    /// A context with an empty, unready model; [`spawn`](super::spawn) starts filling it. Its writer
    /// records no metrics; see [`Context::with_metrics`].
    pub fn new(topic: &str) -> Self {
        Self::with_metrics(topic, Unrecorded)
    }

    /// A context whose writer records its metrics into `metrics`.
    pub fn with_metrics(topic: &str, metrics: impl WriterRecorder) -> Self {
        Self::with_snapshots(topic, metrics, None)
    }

    /// A context that starts from and writes snapshots as `snapshots` says (None: never).
    pub fn with_snapshots(
        topic: &str,
        metrics: impl WriterRecorder,
        snapshots: Option<SnapshotSettings>,
    ) -> Self {
        let (applied, _) = watch::channel(0);
        let snapshot_metrics = metrics.snapshots();
        Context {
            inner: Arc::new(Inner {
                model: ArcSwap::from_pointee(F::Model::default()),
                applied,
                ready: AtomicBool::new(false),
                stats: EngineStats::default(),
                metrics: Box::new(metrics),
                snapshot_metrics,
                topic: topic.to_owned(),
                snapshots: snapshots.filter(|_| F::MODEL_VERSION != 0),
                epoch: Instant::now(),
                apply_span: OnceLock::new(),
                fault: OnceLock::new(),
            }),
        }
    }
}
