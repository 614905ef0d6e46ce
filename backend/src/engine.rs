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
//! - **Poison.** An event that does not decode is logged with its topic and offset, counted and
//!   skipped. A broker that goes away stops nothing but the writer's progress: librdkafka
//!   reconnects by itself and reads go on from the last published model.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::kafka::{self, ShopConsumer};
use crate::shutdown::Shutdown;

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

    /// Called once after the start-up replay, before the first publish.
    fn finalize(_model: &mut Self::Model) {}
}

/// Called on the writer thread with every event after it was applied, in offset order (the
/// bridge uses it); `None` for an event that did not decode.
pub type Tap<F> = Box<dyn FnMut(i64, Option<&<F as Fold>::Event>) + Send>;

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
    pub publishes: AtomicU64,
    /// The high watermark read at start-up: the offset the replay must reach.
    pub replay_target: AtomicI64,
    pub replay_millis: AtomicU64,
}

struct Inner<F: Fold> {
    model: ArcSwap<F::Model>,
    applied: watch::Sender<i64>,
    ready: AtomicBool,
    stats: EngineStats,
    topic: String,
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
    /// A context with an empty, unready model; [`spawn`] starts filling it.
    pub fn new(topic: &str) -> Self {
        let (applied, _) = watch::channel(0);
        Context {
            inner: Arc::new(Inner {
                model: ArcSwap::from_pointee(F::Model::default()),
                applied,
                ready: AtomicBool::new(false),
                stats: EngineStats::default(),
                topic: topic.to_owned(),
            }),
        }
    }
}

/// Starts a context's writer on its own thread (applying events is CPU work that must not hold
/// up the async runtime). The context becomes ready after the replay.
pub fn spawn<F: Fold>(
    context: &Context<F>,
    consumer: ShopConsumer,
    tap: Option<Tap<F>>,
    shutdown: Shutdown,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let writer = Writer {
        inner: context.inner.clone(),
        consumer,
        tap,
        shutdown,
    };
    std::thread::Builder::new()
        .name(format!("{}-writer", F::NAME))
        .spawn(move || writer.run())
}

struct Writer<F: Fold> {
    inner: Arc<Inner<F>>,
    consumer: ShopConsumer,
    tap: Option<Tap<F>>,
    shutdown: Shutdown,
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
        let mut model = F::Model::default();
        let mut next = 0i64;
        let mut tpl = TopicPartitionList::new();
        if let Err(e) = tpl
            .add_partition_offset(&self.inner.topic, 0, Offset::Beginning)
            .and_then(|_| self.consumer.assign(&tpl))
        {
            tracing::error!(context = F::NAME, %e, "cannot assign the topic partition; the context stays unready");
            return;
        }
        tracing::info!(context = F::NAME, topic = %self.inner.topic, events = target, "replaying");
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
        self.publish(&model, next);
        self.inner.ready.store(true, Ordering::Release);
        self.inner.applied.send_modify(|_| {}); // wake readiness waiters even for an empty log
        let rate = if elapsed.as_secs_f64() > 0.0 {
            next as f64 / elapsed.as_secs_f64()
        } else {
            0.0
        };
        tracing::info!(
            context = F::NAME,
            events = next,
            seconds = elapsed.as_secs_f64(),
            events_per_second = rate as u64,
            "replay done, serving"
        );

        while !self.stopping() {
            let Some(offset) = self.poll_one(&mut model, POLL) else {
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
            self.publish(&model, next);
        }
        tracing::info!(context = F::NAME, "writer stopped");
    }

    /// The high watermark at start-up; retried until the broker answers or shutdown.
    fn replay_target(&self) -> Option<i64> {
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
        let stats = &self.inner.stats;
        match <F::Event as prost::Message>::decode(msg.payload().unwrap_or_default()) {
            Ok(event) => {
                match F::apply(model, &event, offset) {
                    Applied::Changed => stats.applied.fetch_add(1, Ordering::Relaxed),
                    Applied::Ignored(why) => {
                        tracing::debug!(context = F::NAME, offset, why, "event ignored");
                        stats.ignored.fetch_add(1, Ordering::Relaxed)
                    }
                };
                if let Some(tap) = self.tap.as_mut() {
                    tap(offset, Some(&event));
                }
            }
            Err(e) => {
                stats.poison.fetch_add(1, Ordering::Relaxed);
                tracing::error!(context = F::NAME, topic = %self.inner.topic, offset, %e, "undecodable event skipped");
                if let Some(tap) = self.tap.as_mut() {
                    tap(offset, None);
                }
            }
        }
        Some(offset)
    }

    fn publish(&self, model: &F::Model, next: i64) {
        self.inner.model.store(Arc::new(model.clone()));
        self.inner.stats.publishes.fetch_add(1, Ordering::Relaxed);
        self.inner.applied.send_replace(next);
    }
}
