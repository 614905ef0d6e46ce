//! A context's writer thread: the start-up replay (from the newest usable snapshot), then live
//! batches, each published once; poison events, gaps, snapshot hand-overs and the alive guard.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::context::*;
use super::fold::*;
use super::kafka::{self, ShopConsumer};
use super::snapshot::{self, SnapshotSettings, SnapshotWriter};
use crate::shutdown::Shutdown;

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

/// A snapshot load started ahead of its writer: the newest file of a context, decoded on a
/// thread of its own while the shop does something else (checkout's start-up, which the
/// catalog's writer must wait for).
pub struct Preload<F: Fold>(std::thread::JoinHandle<Option<snapshot::Loaded<F::Model>>>);

/// Starts loading `context`'s newest snapshot now, if it keeps snapshots.
pub fn preload<F: Fold>(context: &Context<F>) -> std::io::Result<Option<Preload<F>>> {
    let Some(settings) = context.inner.snapshots.clone() else {
        return Ok(None);
    };
    let (topic, metrics) = (
        context.inner.topic.clone(),
        context.inner.snapshot_metrics.clone(),
    );
    let thread = std::thread::Builder::new()
        .name(format!("{}-preload", F::NAME))
        .spawn(move || snapshot::load_newest::<F>(&settings.dir, &topic, i64::MAX, &*metrics))?;
    Ok(Some(Preload(thread)))
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
    spawn_preloaded(context, consumer, observer, shutdown, latest_start, None)
}

/// [`spawn_from`], starting from `preloaded` when it is usable (not beyond the log's end or
/// `latest_start`); otherwise the writer loads a snapshot itself.
pub fn spawn_preloaded<F: Fold>(
    context: &Context<F>,
    consumer: ShopConsumer,
    observer: Option<Box<dyn Observer<F>>>,
    shutdown: Shutdown,
    latest_start: i64,
    preloaded: Option<Preload<F>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let snapshots = match &context.inner.snapshots {
        Some(settings) => Some(Snapshots {
            writer: SnapshotWriter::start(
                settings.clone(),
                context.inner.topic.clone(),
                context.inner.snapshot_metrics.clone(),
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
        preloaded,
        last_crc: 0,
        topic_checked: Instant::now(),
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
    /// A snapshot load started before this writer, if any.
    preloaded: Option<Preload<F>>,
    /// CRC-32 of the payload of the last event received (kept only with snapshots).
    last_crc: u32,
    /// When the broker was last asked whether the topic still exists.
    topic_checked: Instant,
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
/// How often an idle writer asks whether its topic still exists: librdkafka reports a deleted
/// topic of an assigned partition only sometimes, and not always through `poll`.
const TOPIC_CHECK: Duration = Duration::from_secs(3);

impl<F: Fold> Writer<F> {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn run(mut self) {
        let Some(target) = self.replay_target() else {
            return;
        };
        let started = Instant::now();
        let limit = target.min(self.latest_start);
        let load = |this: &Self| {
            this.snapshots.as_ref().and_then(|s| {
                snapshot::load_newest::<F>(
                    &s.settings.dir,
                    &this.inner.topic,
                    limit,
                    &*this.inner.snapshot_metrics,
                )
            })
        };
        // A preload that found nothing usable has tried every file (it had no limit to pass).
        let mut loaded = match self.preloaded.take().map(|p| p.0.join()) {
            None | Some(Err(_)) => load(&self),
            Some(Ok(None)) => None,
            Some(Ok(Some(l))) if l.offset <= limit => Some(l),
            Some(Ok(Some(l))) => {
                tracing::info!(
                    context = F::NAME,
                    offset = l.offset,
                    limit,
                    "the preloaded snapshot is beyond where this writer may start; loading an older one"
                );
                self.inner.snapshot_metrics.load_result("ahead_of_start");
                drop(l);
                load(&self)
            }
        };
        if let Some(l) = loaded.as_ref().filter(|l| l.offset > 0) {
            match self.same_event(l.offset - 1, l.last_event_crc) {
                None => return,
                Some(true) => self.last_crc = l.last_event_crc,
                Some(false) => {
                    tracing::warn!(context = F::NAME, file = %l.path.display(), offset = l.offset - 1,
                        "snapshot skipped: the log holds another event where it ends (was the topic deleted and filled anew?); replaying from offset 0");
                    self.inner.snapshot_metrics.load_result("log_mismatch");
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
        self.inner.snapshot_metrics.tail(tail);
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
                if self.topic_checked.elapsed() >= TOPIC_CHECK {
                    self.check_topic_exists();
                }
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

    /// After an error that may mean the topic was deleted: asks the broker, and if the topic is
    /// gone the model no longer summarises any log (what it holds may be lost, and a topic made
    /// again under the same name starts from offset 0), so the context stops serving.
    fn check_topic_exists(&mut self) {
        self.topic_checked = Instant::now();
        if self.inner.fault.get().is_some() {
            return;
        }
        match kafka::topic_exists(&self.consumer, &self.inner.topic, Duration::from_secs(5)) {
            Ok(false) => self.inner.fault(format!(
                "{} no longer exists on the broker (deleted?) after offsets up to {} were applied: restore it from a backup, then restart to replay it",
                self.inner.topic,
                self.expected - 1
            )),
            Ok(true) => {}
            Err(e) => {
                tracing::warn!(context = F::NAME, topic = %self.inner.topic, %e, "cannot ask the broker whether the topic exists")
            }
        }
    }

    /// Polls one message and applies it; returns its offset, or None if nothing arrived.
    fn poll_one(&mut self, model: &mut F::Model, timeout: Duration) -> Option<i64> {
        let msg = match self.consumer.poll(timeout)? {
            Ok(msg) => msg,
            Err(e) => {
                if kafka::names_a_missing_topic(&e) {
                    self.check_topic_exists();
                }
                tracing::warn!(context = F::NAME, %e, "consumer error; librdkafka retries");
                return None;
            }
        };
        let offset = msg.offset();
        if self.inner.fault.get().is_some() {
            // A log that lost events or went back folds into a model no replica would agree
            // with: nothing more is applied until a restart replays it. The writer is not
            // stuck (readiness reports the fault), so it still counts as making progress.
            self.inner.progress(self.known_high);
            return None;
        }
        match continuity(self.expected, offset) {
            Continuity::Next => {}
            Continuity::Rewound => {
                self.inner.stats.rewinds.fetch_add(1, Ordering::Relaxed);
                self.inner.fault(format!(
                    "{} went back: offset {offset} arrived after offsets up to {} were applied (the topic was deleted and recreated, or truncated); restart to replay it",
                    self.inner.topic,
                    self.expected - 1
                ));
                return None;
            }
            Continuity::Gap => {
                self.inner.stats.gaps.fetch_add(1, Ordering::Relaxed);
                self.inner.fault(format!(
                    "events {}..{} of {} are missing from the log (deleted by retention or compaction, or lost by the broker): the model would lack them",
                    self.expected,
                    offset - 1,
                    self.inner.topic
                ));
                return None;
            }
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
                let _span = self
                    .inner
                    .apply_span
                    .get()
                    .and_then(|span| span(F::NAME, &|| F::kind(&event), &msg, live));
                if let Some(observer) = self.observer.as_mut() {
                    observer.before(offset, msg.timestamp().to_millis(), Some(&event), model);
                }
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
                    observer.before(offset, msg.timestamp().to_millis(), None, model);
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

/// Where an offset stands against the next one expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Continuity {
    /// The expected one.
    Next,
    /// Beyond it: the events in between are gone.
    Gap,
    /// Below it: the log went back (offsets already applied are delivered again).
    Rewound,
}

fn continuity(expected: i64, offset: i64) -> Continuity {
    match offset.cmp(&expected) {
        std::cmp::Ordering::Equal => Continuity::Next,
        std::cmp::Ordering::Greater => Continuity::Gap,
        std::cmp::Ordering::Less => Continuity::Rewound,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #[test]
    fn an_offset_is_the_next_one_a_gap_or_a_rewind() {
        assert_eq!(super::continuity(5, 5), super::Continuity::Next);
        assert_eq!(super::continuity(5, 9), super::Continuity::Gap);
        assert_eq!(super::continuity(5, 0), super::Continuity::Rewound);
        assert_eq!(
            super::continuity(0, 3),
            super::Continuity::Gap,
            "a log that starts late"
        );
    }

    use super::*;
    use crate::engine::kafka::{BrokerStatus, KafkaSettings};
    use prost::Message as _;
    use rdkafka::mocking::MockCluster;
    use shared::proto::{CatalogEvent, CommandMeta};
    use std::sync::atomic::AtomicBool;

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

    /// Client settings for a test on librdkafka's mock cluster.
    pub(crate) fn kafka_config(brokers: String) -> KafkaSettings {
        KafkaSettings {
            brokers,
            fetch_wait_max_ms: 10,
            linger_ms: 0,
            produce_timeout: Duration::from_secs(5),
            replication_factor: 1,
            extra: vec![],
        }
    }

    async fn produce(cfg: &KafkaSettings, key: &str) {
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
