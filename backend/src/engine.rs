//! The engine every context runs on: it folds one Kafka topic partition into an in-memory model
//! and publishes that model for wait-free reads.
//!
//! - **Start-up replay.** The writer reads the partition's high watermark, then applies every
//!   event from offset 0 up to it in batch mode and calls [`Fold::finalize`] once (sorting indexes
//!   once instead of per event). Until then the context is not ready.
//! - **Live mode.** Afterwards it applies events as they arrive, in batches of whatever the
//!   consumer has already fetched, and publishes once per batch.
//! - **Publishing.** The model lives in an [`ArcSwap`]: a read is one `load()` and never waits for
//!   the writer. Models are built from persistent collections (`imbl`), so the writer's
//!   `clone()` before publishing copies a few root pointers, and each later change copies only
//!   the path it touches (structural sharing). We chose this over a left-right double buffer
//!   because it needs one copy of the model instead of two, and a reader may hold an old model
//!   for as long as it likes without ever blocking the writer.
//! - **Read-your-writes.** The applied offset is a `watch` channel; [`Context::wait_for`] wakes
//!   when the writer publishes a model that includes the given offset.
//! - **Observers.** An [`Observer`] sees every applied event and every publish on the writer
//!   thread (the bridge copies catalog events; live updates announce what a batch touched).
//! - **Poison.** An event that does not decode is logged with its topic and offset, counted and
//!   skipped. A broker that goes away stops nothing but the writer's progress: librdkafka
//!   reconnects by itself and reads go on from the last published model.
//! - **Snapshots.** With [`SnapshotSettings`], the writer starts from the newest usable
//!   snapshot (see [`crate::snapshot`]) and replays only the tail after it; it hands a clone of
//!   the model to a snapshot thread every so many events or seconds, and once more at shutdown.
//! - **Health.** The writer records when it last made progress, the highest offset it knows to
//!   exist, and whether its thread still runs (a drop guard notices a panic), so liveness can
//!   tell a stuck or dead writer from an idle one ([`Context::health`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::kafka::{self, ShopConsumer};
use crate::metrics::EngineMetrics;
use crate::shutdown::Shutdown;
use crate::snapshot::{self, SnapshotSettings, SnapshotWriter};

/// What one event did to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// The event was valid but changed nothing (a duplicate, an unknown future kind, ...).
    Ignored(&'static str),
}

/// A context's pure fold: the same log gives the same model on every replica and every restart.
pub trait Fold: Send + Sync + 'static {
    type Model: Clone + Default + Send + Sync + 'static;
    type Event: prost::Message + Default + Send + 'static;
    /// The context's name in logs and metrics.
    const NAME: &'static str;

    fn apply(model: &mut Self::Model, event: &Self::Event, offset: i64) -> Applied;

    /// The event's kind, a short snake_case name for metrics (`product_upserted`, ...).
    fn kind(event: &Self::Event) -> &'static str;

    /// Called once after the start-up replay, before the first publish.
    fn finalize(_model: &mut Self::Model) {}

    /// The model's sizes by kind of entry (`products`, `carts`, ...), read at metrics scrape time.
    fn entries(_model: &Self::Model) -> Vec<(&'static str, usize)> {
        Vec::new()
    }

    /// Version of the snapshot payload ([`Fold::encode`]) and of the fold's meaning; 0: this
    /// context cannot be snapshotted. Bump it whenever the encoding changes or the same log would
    /// fold into a different model (a snapshot of the old meaning is then ignored, and the next
    /// start-up replays from offset 0).
    const MODEL_VERSION: u32 = 0;

    /// Writes everything the model holds (indexes may be left out and rebuilt), deterministically:
    /// equal models give equal bytes. Called with a finalized model.
    fn encode(_model: &Self::Model, _out: &mut crate::snapshot::Encoder) {}

    /// The model [`Fold::encode`] wrote, finalized: applying later events to it must give the
    /// same model as a replay from offset 0.
    fn decode(
        _input: &mut crate::snapshot::Decoder<'_>,
    ) -> Result<Self::Model, crate::snapshot::DecodeError> {
        Err(crate::snapshot::DecodeError(format!(
            "the {} context has no snapshots",
            Self::NAME
        )))
    }
}

/// Watches a writer at work, on the writer thread and in offset order: the bridge copies every
/// catalog event, live updates collect what each batch touched and announce it once published.
/// The writer waits for it, so it must never block for long.
pub trait Observer<F: Fold>: Send + 'static {
    /// The event at `offset` was applied to `model` (not published yet) with the given result;
    /// `None` for an event that did not decode.
    fn event(&mut self, offset: i64, event: Option<(&F::Event, Applied)>, model: &F::Model);

    /// The writer starts reading at offset `from`: a snapshot covers every offset before it (0:
    /// a replay from the start). Called once, before any event.
    fn resumed(&mut self, _from: i64) {}

    /// The model including every offset below `next` was published (reads see it; commands
    /// waiting for it are woken right after); `replay` is true for the publish that ends the
    /// start-up replay.
    fn published(&mut self, _next: i64, _replay: bool) {}
}

/// Why a wait for an offset ended without it being applied.
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

struct Inner<F: Fold> {
    model: ArcSwap<F::Model>,
    applied: watch::Sender<i64>,
    ready: AtomicBool,
    stats: EngineStats,
    metrics: EngineMetrics,
    topic: String,
    snapshots: Option<SnapshotSettings>,
    /// The origin of [`EngineStats::last_progress_ms`].
    epoch: Instant,
}

impl<F: Fold> Inner<F> {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Records progress, and that events up to `high` (exclusive) exist.
    fn progress(&self, high: i64) {
        self.stats.high_watermark.fetch_max(high, Ordering::Relaxed);
        self.stats
            .last_progress_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }
}

/// A running context: its published model and its progress. Cheap to clone.
pub struct Context<F: Fold> {
    inner: Arc<Inner<F>>,
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

    /// Where this context's snapshots go, if it writes any.
    pub fn snapshots(&self) -> Option<&SnapshotSettings> {
        self.inner.snapshots.as_ref()
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

    /// Waits until the start-up replay is done.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), WaitError> {
        self.wait_until(timeout, |_| true).await
    }
}

impl<F: Fold> Context<F> {
    /// A context with an empty, unready model; [`spawn`] starts filling it. Its writer's
    /// metrics are recorded in a registry nobody scrapes; see [`Context::with_metrics`].
    pub fn new(topic: &str) -> Self {
        Self::with_metrics(topic, EngineMetrics::unregistered(F::NAME))
    }

    /// A context whose writer records its metrics into `metrics`.
    pub fn with_metrics(topic: &str, metrics: EngineMetrics) -> Self {
        Self::with_snapshots(topic, metrics, None)
    }

    /// A context that starts from and writes snapshots as `snapshots` says (None: never).
    pub fn with_snapshots(
        topic: &str,
        metrics: EngineMetrics,
        snapshots: Option<SnapshotSettings>,
    ) -> Self {
        let (applied, _) = watch::channel(0);
        Context {
            inner: Arc::new(Inner {
                model: ArcSwap::from_pointee(F::Model::default()),
                applied,
                ready: AtomicBool::new(false),
                stats: EngineStats::default(),
                metrics,
                topic: topic.to_owned(),
                snapshots: snapshots.filter(|_| F::MODEL_VERSION != 0),
                epoch: Instant::now(),
            }),
        }
    }
}

/// Starts a context's writer on its own thread (applying events is CPU work that must not hold
/// up the async runtime). The context becomes ready after the replay.
pub fn spawn<F: Fold>(
    context: &Context<F>,
    consumer: ShopConsumer,
    observer: Option<Box<dyn Observer<F>>>,
    shutdown: Shutdown,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    spawn_from(context, consumer, observer, shutdown, i64::MAX)
}

/// [`spawn`], using no snapshot beyond offset `latest_start`: the observer must see every
/// event from there on (the bridge must copy what checkout has not applied yet).
pub fn spawn_from<F: Fold>(
    context: &Context<F>,
    consumer: ShopConsumer,
    observer: Option<Box<dyn Observer<F>>>,
    shutdown: Shutdown,
    latest_start: i64,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let snapshots = match &context.inner.snapshots {
        Some(settings) => Some(Snapshots {
            writer: SnapshotWriter::start(
                settings.clone(),
                context.inner.topic.clone(),
                context.inner.metrics.snapshot.clone(),
            )?,
            settings: settings.clone(),
            last_offset: 0,
            last_at: Instant::now(),
        }),
        None => None,
    };
    let inner = context.inner.clone();
    inner.progress(0);
    inner.stats.writer.store(WRITER_RUNNING, Ordering::Release);
    let alive = AliveGuard {
        inner: inner.clone(),
        shutdown: shutdown.clone(),
    };
    let writer = Writer {
        inner,
        consumer,
        observer,
        shutdown,
        tally: Tally::default(),
        known_high: 0,
        unnoted: 0,
        expected: 0,
        snapshots,
        latest_start,
        last_crc: 0,
    };
    let spawned = std::thread::Builder::new()
        .name(format!("{}-writer", F::NAME))
        .spawn(move || {
            let _alive = alive;
            writer.run()
        });
    if spawned.is_err() {
        context
            .inner
            .stats
            .writer
            .store(WRITER_NOT_STARTED, Ordering::Release);
    }
    spawned
}

/// Marks the writer as gone when its thread ends, by return or by panic.
struct AliveGuard<F: Fold> {
    inner: Arc<Inner<F>>,
    shutdown: Shutdown,
}

impl<F: Fold> Drop for AliveGuard<F> {
    fn drop(&mut self) {
        let state = if std::thread::panicking() {
            WRITER_PANICKED
        } else if *self.shutdown.borrow() {
            WRITER_STOPPED
        } else {
            WRITER_EXITED
        };
        if state != WRITER_STOPPED {
            tracing::error!(
                context = F::NAME,
                offset = *self.inner.applied.borrow(),
                panicked = state == WRITER_PANICKED,
                "the context's writer has stopped; liveness fails"
            );
        }
        self.inner.stats.writer.store(state, Ordering::Release);
    }
}

/// What a batch did, by event kind and by reason for ignoring; added to the metrics at publish
/// so that applying an event costs no metric lookup.
#[derive(Default)]
struct Tally {
    applied: Vec<(&'static str, u64)>,
    ignored: Vec<(&'static str, u64)>,
    events: u64,
}

impl Tally {
    fn add(counts: &mut Vec<(&'static str, u64)>, name: &'static str) {
        match counts
            .iter_mut()
            .find(|(n, _)| std::ptr::eq(*n, name) || *n == name)
        {
            Some((_, c)) => *c += 1,
            None => counts.push((name, 1)),
        }
    }
}

struct Writer<F: Fold> {
    inner: Arc<Inner<F>>,
    consumer: ShopConsumer,
    observer: Option<Box<dyn Observer<F>>>,
    shutdown: Shutdown,
    tally: Tally,
    /// The highest offset (exclusive) this writer has recorded in the stats.
    known_high: i64,
    /// Events received since progress was last recorded.
    unnoted: u32,
    /// The offset the next event must have: the log is applied exactly once, in order.
    expected: i64,
    snapshots: Option<Snapshots<F>>,
    /// No snapshot beyond this offset may be loaded.
    latest_start: i64,
    /// CRC-32 of the payload of the last event received (kept only with snapshots).
    last_crc: u32,
}

/// The writer's snapshot schedule.
struct Snapshots<F: Fold> {
    settings: SnapshotSettings,
    writer: SnapshotWriter<F>,
    /// The offset the last snapshot handed over (or loaded) covers.
    last_offset: i64,
    last_at: Instant,
}

impl<F: Fold> Snapshots<F> {
    /// Hands the model over if it is due (or `now`), unless the previous write is still busy;
    /// `last_crc` is the CRC of the payload at `next - 1`.
    fn maybe(&mut self, model: &F::Model, next: i64, last_crc: u32, now: bool) {
        let s = &self.settings;
        let due = now
            || (s.every_events > 0 && next - self.last_offset >= s.every_events as i64)
            || (!s.every.is_zero() && self.last_at.elapsed() >= s.every);
        if next > self.last_offset && due && self.writer.offer(next, last_crc, model.clone()) {
            self.last_offset = next;
            self.last_at = Instant::now();
        }
    }
}

/// Most events applied between two publishes in live mode: bounds how stale a read can be while
/// a burst is applied.
const MAX_LIVE_BATCH: usize = 10_000;
const POLL: Duration = Duration::from_millis(100);

impl<F: Fold> Writer<F> {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn run(mut self) {
        let Some(target) = self.replay_target() else {
            return;
        };
        let started = Instant::now();
        let mut loaded = self.snapshots.as_ref().and_then(|s| {
            snapshot::load_newest::<F>(
                &s.settings.dir,
                &self.inner.topic,
                target.min(self.latest_start),
                &self.inner.metrics.snapshot,
            )
        });
        if let Some(l) = loaded.as_ref().filter(|l| l.offset > 0) {
            match self.same_event(l.offset - 1, l.last_event_crc) {
                None => return,
                Some(true) => self.last_crc = l.last_event_crc,
                Some(false) => {
                    tracing::warn!(context = F::NAME, file = %l.path.display(), offset = l.offset - 1,
                        "snapshot skipped: the log holds another event where it ends (was the topic deleted and filled anew?); replaying from offset 0");
                    self.inner.metrics.snapshot.load_result("log_mismatch");
                    loaded = None;
                }
            }
        }
        let from = loaded.as_ref().map_or(0, |l| l.offset);
        let mut model = loaded.map(|l| l.model).unwrap_or_default();
        let mut next = from;
        self.expected = from;
        self.inner
            .stats
            .snapshot_offset
            .store(from, Ordering::Relaxed);
        if let Some(s) = self.snapshots.as_mut() {
            s.last_offset = from;
        }
        if let Some(observer) = self.observer.as_mut() {
            observer.resumed(from);
        }
        let start = if from == 0 {
            Offset::Beginning
        } else {
            Offset::Offset(from)
        };
        let mut tpl = TopicPartitionList::new();
        if let Err(e) = tpl
            .add_partition_offset(&self.inner.topic, 0, start)
            .and_then(|_| self.consumer.assign(&tpl))
        {
            tracing::error!(context = F::NAME, %e, "cannot assign the topic partition; the context stays unready");
            return;
        }
        tracing::info!(context = F::NAME, topic = %self.inner.topic, from, events = target - from, "replaying");
        while next < target {
            if self.stopping() {
                return;
            }
            if let Some(offset) = self.poll_one(&mut model, POLL) {
                next = offset + 1;
            }
        }
        F::finalize(&mut model);
        let elapsed = started.elapsed();
        self.inner
            .stats
            .replay_millis
            .store(elapsed.as_millis() as u64, Ordering::Relaxed);
        let tail = (next - from) as u64;
        self.inner.stats.replayed.store(tail, Ordering::Relaxed);
        self.inner.metrics.snapshot.tail(tail);
        self.publish(&model, next, started, true);
        self.inner.ready.store(true, Ordering::Release);
        self.inner.applied.send_modify(|_| {}); // wake readiness waiters even for an empty log
        if let Some(s) = self.snapshots.as_mut() {
            // After a replay from 0, at once: the next start-up should not pay for it again.
            s.maybe(&model, next, self.last_crc, from == 0);
        }
        let rate = if elapsed.as_secs_f64() > 0.0 {
            tail as f64 / elapsed.as_secs_f64()
        } else {
            0.0
        };
        tracing::info!(
            context = F::NAME,
            snapshot_offset = from,
            events = tail,
            seconds = elapsed.as_secs_f64(),
            events_per_second = rate as u64,
            "replay done, serving"
        );

        while !self.stopping() {
            let Some(offset) = self.poll_one(&mut model, POLL) else {
                // Idle: learn from the consumer's statistics whether events are waiting.
                let high = self.consumer.context().high_watermark();
                self.inner
                    .stats
                    .high_watermark
                    .fetch_max(high, Ordering::Relaxed);
                if let Some(s) = self.snapshots.as_mut() {
                    s.maybe(&model, next, self.last_crc, false);
                }
                continue;
            };
            next = offset + 1;
            let batch_started = Instant::now();
            for _ in 1..MAX_LIVE_BATCH {
                match self.poll_one(&mut model, Duration::ZERO) {
                    Some(offset) => next = offset + 1,
                    None => break,
                }
                if batch_started.elapsed() > Duration::from_millis(20) {
                    break;
                }
            }
            self.publish(&model, next, batch_started, false);
            if let Some(s) = self.snapshots.as_mut() {
                s.maybe(&model, next, self.last_crc, false);
            }
        }
        if let Some(s) = self.snapshots.take() {
            // A graceful stop leaves a snapshot of everything applied.
            if next > s.last_offset {
                s.writer.finish(next, self.last_crc, model.clone());
            }
        }
        tracing::info!(context = F::NAME, "writer stopped");
    }

    /// Whether the event at `offset` has a payload of CRC `crc`, as when the snapshot that ends
    /// there was written; None when stopping first.
    fn same_event(&mut self, offset: i64, crc: u32) -> Option<bool> {
        let mut tpl = TopicPartitionList::new();
        if let Err(e) = tpl
            .add_partition_offset(&self.inner.topic, 0, Offset::Offset(offset))
            .and_then(|_| self.consumer.assign(&tpl))
        {
            tracing::warn!(context = F::NAME, %e, "cannot read the event a snapshot ends with");
            return Some(false);
        }
        loop {
            if self.stopping() {
                return None;
            }
            match self.consumer.poll(POLL) {
                Some(Ok(msg)) => {
                    let payload = msg.payload().unwrap_or_default();
                    return Some(msg.offset() == offset && crc32fast::hash(payload) == crc);
                }
                Some(Err(e)) => {
                    tracing::warn!(context = F::NAME, %e, "consumer error; librdkafka retries")
                }
                None => {}
            }
        }
    }

    /// The high watermark at start-up; retried until the broker answers or shutdown.
    fn replay_target(&mut self) -> Option<i64> {
        let mut delay = Duration::from_millis(100);
        loop {
            if self.stopping() {
                return None;
            }
            match kafka::high_watermark(&self.consumer, &self.inner.topic, Duration::from_secs(5)) {
                Ok(high) => {
                    self.inner
                        .stats
                        .replay_target
                        .store(high, Ordering::Relaxed);
                    self.known_high = high;
                    self.inner.progress(high);
                    return Some(high);
                }
                Err(e) => {
                    tracing::warn!(context = F::NAME, topic = %self.inner.topic, %e, "cannot read the high watermark yet; retrying");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Polls one message and applies it; returns its offset, or None if nothing arrived.
    fn poll_one(&mut self, model: &mut F::Model, timeout: Duration) -> Option<i64> {
        let msg = match self.consumer.poll(timeout)? {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!(context = F::NAME, %e, "consumer error; librdkafka retries");
                return None;
            }
        };
        let offset = msg.offset();
        if offset < self.expected {
            // Delivered again after the consumer re-positioned itself (e.g. an offset reset to
            // the beginning): already applied, so skipped.
            tracing::debug!(
                context = F::NAME,
                offset,
                expected = self.expected,
                "event seen again; skipped"
            );
            return None;
        }
        if offset > self.expected {
            // Only a log that lost events (deleted by retention, or a broker that lost data) has
            // a hole; the model goes on, but an operator must know.
            self.inner.stats.gaps.fetch_add(1, Ordering::Relaxed);
            tracing::error!(context = F::NAME, topic = %self.inner.topic, expected = self.expected, offset, "events missing from the log");
        }
        self.expected = offset + 1;
        if self.snapshots.is_some() {
            self.last_crc = crc32fast::hash(msg.payload().unwrap_or_default());
        }
        // Before applying: a fold that never returns must show as events waiting, and a long
        // idle spell must not count against the event that ends it. During the replay (offsets
        // below the known watermark) this costs a clock read per 1024 events.
        self.unnoted += 1;
        if offset >= self.known_high || self.unnoted >= 1024 {
            self.known_high = self.known_high.max(offset + 1);
            self.unnoted = 0;
            self.inner.progress(self.known_high);
        }
        let stats = &self.inner.stats;
        self.tally.events += 1;
        match <F::Event as prost::Message>::decode(msg.payload().unwrap_or_default()) {
            Ok(event) => {
                // A live event that carries a command's trace is applied inside a span of that
                // trace; for any other event this is a flag test.
                let live = self.inner.ready.load(Ordering::Relaxed);
                let _span = crate::traces::apply_span(F::NAME, || F::kind(&event), &msg, live);
                let applied = F::apply(model, &event, offset);
                match applied {
                    Applied::Changed => {
                        Tally::add(&mut self.tally.applied, F::kind(&event));
                        stats.applied.fetch_add(1, Ordering::Relaxed)
                    }
                    Applied::Ignored(why) => {
                        tracing::debug!(context = F::NAME, offset, why, "event ignored");
                        Tally::add(&mut self.tally.ignored, why);
                        stats.ignored.fetch_add(1, Ordering::Relaxed)
                    }
                };
                if let Some(observer) = self.observer.as_mut() {
                    observer.event(offset, Some((&event, applied)), model);
                }
            }
            Err(e) => {
                stats.poison.fetch_add(1, Ordering::Relaxed);
                tracing::error!(context = F::NAME, topic = %self.inner.topic, offset, %e, "undecodable event skipped");
                if let Some(observer) = self.observer.as_mut() {
                    observer.event(offset, None, model);
                }
            }
        }
        Some(offset)
    }

    /// Publishes the model that includes every offset below `next`; `since` is when the batch
    /// started (for the apply-time histogram), `replay` whether it ends the start-up replay.
    fn publish(&mut self, model: &F::Model, next: i64, since: Instant, replay: bool) {
        self.inner.model.store(Arc::new(model.clone()));
        self.inner.stats.publishes.fetch_add(1, Ordering::Relaxed);
        // Before waking commands: whoever reads a command's answer and then subscribes to live
        // updates does not get the same change announced again.
        if let Some(observer) = self.observer.as_mut() {
            observer.published(next, replay);
        }
        self.inner.applied.send_replace(next);
        let high = self.consumer.context().high_watermark().max(next);
        self.inner.progress(high);
        let metrics = &self.inner.metrics;
        metrics.observe_batch(self.tally.events, since.elapsed());
        for (kind, n) in self.tally.applied.drain(..) {
            metrics.applied(kind, n);
        }
        for (reason, n) in self.tally.ignored.drain(..) {
            metrics.ignored(reason, n);
        }
        self.tally.events = 0;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::KafkaConfig;
    use crate::kafka::BrokerStatus;
    use prost::Message as _;
    use rdkafka::mocking::MockCluster;
    use shared::proto::{CatalogEvent, CommandMeta};

    /// Released by the stuck-writer test: until then an event named "hang" blocks the fold.
    static HANG: AtomicBool = AtomicBool::new(true);

    /// A fold that counts events, panics on "boom" and blocks on "hang" (named by the key).
    struct Troubled;

    impl Fold for Troubled {
        type Model = u64;
        type Event = CatalogEvent;
        const NAME: &'static str = "troubled";

        fn apply(model: &mut u64, event: &CatalogEvent, _offset: i64) -> Applied {
            match event.meta.as_ref().map(|m| m.idempotency_key.as_str()) {
                Some("boom") => panic!("the fold cannot take this event"),
                Some("hang") => {
                    while HANG.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                _ => {}
            }
            *model += 1;
            Applied::Changed
        }

        fn kind(_: &CatalogEvent) -> &'static str {
            "test"
        }
    }

    /// Client settings for a test on librdkafka's mock cluster, topic `t`.
    pub(crate) fn kafka_config(brokers: String) -> KafkaConfig {
        KafkaConfig {
            brokers,
            fetch_wait_max_ms: 10,
            linger_ms: 0,
            produce_timeout: Duration::from_secs(5),
            replication_factor: 1,
            catalog_topic: "t".into(),
            checkout_topic: "unused".into(),
            extra: vec![],
        }
    }

    async fn produce(cfg: &KafkaConfig, key: &str) {
        let status = BrokerStatus::new();
        let producer = kafka::producer(cfg, status.clone()).unwrap();
        let event = CatalogEvent {
            meta: Some(CommandMeta {
                idempotency_key: key.into(),
                ..Default::default()
            }),
            event: None,
        };
        kafka::produce(&producer, &status, "t", b"k", &event.encode_to_vec())
            .await
            .unwrap();
    }

    /// Polls `health` until it is `want`, for at most a minute (no timing is asserted).
    async fn until_health(context: &Context<Troubled>, stuck_after: Duration, want: WriterHealth) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = context.health(stuck_after);
            let same = match (&now, &want) {
                (WriterHealth::Stuck { offset: a, .. }, WriterHealth::Stuck { offset: b, .. }) => {
                    a == b
                }
                _ => now == want,
            };
            if same {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "health is {now:?}, want {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn the_liveness_rule() {
        let (s, after) = (Duration::from_secs(40), Duration::from_secs(30));
        let h = |state, applied, high, idle| writer_health(state, applied, high, idle, after);
        assert_eq!(h(WRITER_NOT_STARTED, 0, 10, s), WriterHealth::Healthy);
        assert_eq!(h(WRITER_RUNNING, 10, 10, s), WriterHealth::Healthy, "idle");
        assert_eq!(
            h(WRITER_RUNNING, 7, 10, Duration::from_secs(1)),
            WriterHealth::Healthy,
            "behind but moving"
        );
        assert_eq!(
            h(WRITER_RUNNING, 7, 10, s),
            WriterHealth::Stuck {
                offset: 7,
                idle_for: s
            }
        );
        assert_eq!(h(WRITER_STOPPED, 7, 10, s), WriterHealth::Healthy);
        assert_eq!(
            h(WRITER_EXITED, 7, 10, s),
            WriterHealth::Dead {
                offset: 7,
                panicked: false
            }
        );
        assert_eq!(
            h(WRITER_PANICKED, 3, 3, Duration::ZERO),
            WriterHealth::Dead {
                offset: 3,
                panicked: true
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_writer_is_dead() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        let cfg = kafka_config(cluster.bootstrap_servers());
        produce(&cfg, "boom").await;
        let context = Context::<Troubled>::new("t");
        assert_eq!(context.health(Duration::ZERO), WriterHealth::Healthy);
        let (_stop, shutdown) = crate::shutdown::channel();
        let consumer = kafka::consumer(&cfg, "test", BrokerStatus::new()).unwrap();
        let writer = spawn(&context, consumer, None, shutdown).unwrap();
        assert!(writer.join().is_err(), "the writer panicked");
        assert_eq!(
            context.health(Duration::from_secs(30)),
            WriterHealth::Dead {
                offset: 0,
                panicked: true
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_cannot_get_past_an_event_is_stuck_and_an_idle_one_is_not() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        let cfg = kafka_config(cluster.bootstrap_servers());
        produce(&cfg, "fine").await;
        let context = Context::<Troubled>::new("t");
        let (stop, shutdown) = crate::shutdown::channel();
        let consumer = kafka::consumer(&cfg, "test", BrokerStatus::new()).unwrap();
        let writer = spawn(&context, consumer, None, shutdown).unwrap();
        context.wait_ready(Duration::from_secs(60)).await.unwrap();
        // Idle with nothing to apply: healthy however long ago the last progress was.
        assert_eq!(context.health(Duration::ZERO), WriterHealth::Healthy);

        produce(&cfg, "hang").await;
        until_health(
            &context,
            Duration::ZERO,
            WriterHealth::Stuck {
                offset: 1,
                idle_for: Duration::ZERO,
            },
        )
        .await;
        HANG.store(false, Ordering::Relaxed);
        context.wait_for(1, Duration::from_secs(60)).await.unwrap();
        until_health(&context, Duration::ZERO, WriterHealth::Healthy).await;

        stop.send(true).unwrap();
        tokio::task::spawn_blocking(move || writer.join().unwrap())
            .await
            .unwrap();
        assert_eq!(
            context.stats().writer.load(Ordering::Relaxed),
            WRITER_STOPPED
        );
        assert_eq!(context.health(Duration::ZERO), WriterHealth::Healthy);
    }
}
