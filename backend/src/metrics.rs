//! The shop's Prometheus metrics: one [`Registry`] owned by [`Metrics`], served as text at
//! `GET /metrics`.
//!
//! - **Recorded as things happen** (atomic increments, histograms): HTTP requests, reads,
//!   commands, what a context's writer applied per batch ([`EngineMetrics`]), and librdkafka's
//!   statistics ([`KafkaMetrics`], fed by the Kafka client context once a second).
//! - **Read at scrape time** ([`ContextCollector`]): the engine's own atomic counters
//!   ([`EngineStats`]), offsets, lag and model sizes, so nothing is counted twice and the read path
//!   pays nothing for them.
//! - **Live updates** ([`LiveMetrics`]): open websockets, frames sent by kind, slow clients
//!   dropped, resyncs.
//! - **Snapshots** ([`SnapshotMetrics`]): loads at start-up by result, the loaded offset and
//!   its load time, the tail replayed after it, writes, and the background equivalence check.
//! - **Process**: CPU, memory and open files from `/proc` (the `process_*` families).
//!
//! Labels have low cardinality by construction: route templates, methods, status codes, context
//! and event kinds, client names. Never a product, cart or order id.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, StatusCode};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use rdkafka::statistics::Statistics;

use crate::engine::{Context, EngineStats, Fold, WRITER_RUNNING};

/// The `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Seconds, from 100 µs to 10 s: HTTP requests and command phases.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Seconds, from 10 µs to 2 min: one batch of events (the start-up replay is one batch).
const APPLY_BUCKETS: &[f64] = &[
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
    120.0,
];
/// Events per published batch.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
    100000.0, 1000000.0,
];

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn float_gauge_vec(name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    GaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn histogram_vec(name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("valid metric")
}

/// A request method as a label: the standard ones by name, anything else as `other`, so a
/// client cannot create series at will.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// How a command ended, as the `result` label of `shop_commands_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandResult {
    /// Produced, applied and answered.
    Applied,
    /// Answered from the first result of the same idempotency key, without producing.
    Replayed,
    /// The idempotency key was already used for another request (422).
    Rejected,
    /// 503: the broker is unreachable, the produce or the apply timed out, or shutdown.
    Unavailable,
    /// Anything else (an internal error).
    Error,
}

impl CommandResult {
    pub fn label(self) -> &'static str {
        match self {
            CommandResult::Applied => "applied",
            CommandResult::Replayed => "replayed",
            CommandResult::Rejected => "rejected",
            CommandResult::Unavailable => "unavailable",
            CommandResult::Error => "error",
        }
    }
}

/// Every metric of the running shop, on one registry.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    /// Reads served by the catalog (product list, product, categories).
    pub reads_catalog: IntCounter,
    /// Reads served by checkout (cart, orders, order).
    pub reads_checkout: IntCounter,
    commands: IntCounterVec,
    produce_duration: HistogramVec,
    apply_wait_duration: HistogramVec,
    engine: EngineVecs,
    /// Handed to every Kafka client's context.
    pub kafka: Arc<KafkaMetrics>,
    pub live: LiveMetrics,
}

impl Metrics {
    /// Creates the registry with every family registered. Contexts are added with
    /// [`Metrics::observe_contexts`] once they exist.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = counter_vec(
            "shop_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            &["route", "method", "status"],
        );
        let http_duration = histogram_vec(
            "shop_http_request_duration_seconds",
            "Time from receiving an HTTP request to its response, by route template.",
            &["route"],
            LATENCY_BUCKETS,
        );
        let reads = counter_vec(
            "shop_reads_total",
            "Queries served from a context's published model.",
            &["context"],
        );
        let commands = counter_vec(
            "shop_commands_total",
            "Commands by kind and result (applied, replayed, rejected, unavailable, error).",
            &["kind", "result"],
        );
        let produce_duration = histogram_vec(
            "shop_command_produce_duration_seconds",
            "Time to produce a command's event to Kafka until acknowledged (acks=all).",
            &["kind"],
            LATENCY_BUCKETS,
        );
        let apply_wait_duration = histogram_vec(
            "shop_command_apply_wait_duration_seconds",
            "Time from a command's acknowledgement until its context has applied it.",
            &["kind"],
            LATENCY_BUCKETS,
        );
        let engine = EngineVecs::new();
        let kafka = Arc::new(KafkaMetrics::new());
        let live = LiveMetrics::new();
        for c in [
            Box::new(http_requests.clone()) as Box<dyn Collector>,
            Box::new(http_duration.clone()),
            Box::new(reads.clone()),
            Box::new(commands.clone()),
            Box::new(produce_duration.clone()),
            Box::new(apply_wait_duration.clone()),
        ] {
            registry.register(c)?;
        }
        engine.register(&registry)?;
        kafka.register(&registry)?;
        live.register(&registry)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics {
            reads_catalog: reads.with_label_values(&["catalog"]),
            reads_checkout: reads.with_label_values(&["checkout"]),
            registry,
            http_requests,
            http_duration,
            commands,
            produce_duration,
            apply_wait_duration,
            engine,
            kafka,
            live,
        })
    }

    /// The handles a context's writer records into.
    pub fn engine(&self, context: &'static str) -> EngineMetrics {
        EngineMetrics::from_vecs(&self.engine, context)
    }

    /// Registers the scrape-time collector over these contexts.
    pub fn observe_contexts(
        &self,
        contexts: Vec<Box<dyn ContextProbe>>,
    ) -> Result<(), prometheus::Error> {
        self.registry
            .register(Box::new(ContextCollector::new(contexts)))
    }

    /// One answered HTTP request. `route` is a template or a fixed name, never a raw path.
    pub fn http_request(
        &self,
        route: &'static str,
        method: &Method,
        status: StatusCode,
        took: Duration,
    ) {
        self.http_requests
            .with_label_values(&[route, method_label(method), status.as_str()])
            .inc();
        self.http_duration
            .with_label_values(&[route])
            .observe(took.as_secs_f64());
    }

    pub fn command(&self, kind: &'static str, result: CommandResult) {
        self.commands
            .with_label_values(&[kind, result.label()])
            .inc();
    }

    pub fn command_produced(&self, kind: &'static str, took: Duration) {
        self.produce_duration
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }

    pub fn command_waited(&self, kind: &'static str, took: Duration) {
        self.apply_wait_duration
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }

    /// Every family in the text exposition format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%e, "cannot encode metrics");
        }
        out
    }
}

/// What the live-update websockets do.
#[derive(Clone)]
pub struct LiveMetrics {
    /// Websockets open now.
    pub sockets: IntGauge,
    frames: IntCounterVec,
    /// Sockets closed because their client did not read fast enough.
    pub slow_clients_dropped: IntCounter,
    /// Resync frames sent because a socket fell behind the announcements.
    pub resyncs: IntCounter,
}

impl LiveMetrics {
    fn new() -> Self {
        let frames = counter_vec(
            "shop_live_frames_sent_total",
            "Live-update frames written to websockets, by kind (product, cart, order_placed, order_rejected, resync).",
            &["kind"],
        );
        // Every kind exists from the start at 0, so rate() has a series before the first frame.
        for kind in [
            "product",
            "cart",
            "order_placed",
            "order_rejected",
            "resync",
        ] {
            frames.with_label_values(&[kind]);
        }
        LiveMetrics {
            sockets: IntGauge::new("shop_live_sockets", "Live-update websockets open now.")
                .expect("valid metric"),
            frames,
            slow_clients_dropped: IntCounter::new(
                "shop_live_slow_clients_dropped_total",
                "Live-update websockets closed because their client fell a whole buffer behind.",
            )
            .expect("valid metric"),
            resyncs: IntCounter::new(
                "shop_live_resyncs_total",
                "Resync frames queued because a websocket missed announcements of changes.",
            )
            .expect("valid metric"),
        }
    }

    fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.sockets.clone()))?;
        registry.register(Box::new(self.frames.clone()))?;
        registry.register(Box::new(self.slow_clients_dropped.clone()))?;
        registry.register(Box::new(self.resyncs.clone()))
    }

    /// One frame of `kind` written to a socket.
    pub fn frame_sent(&self, kind: &'static str) {
        self.frames.with_label_values(&[kind]).inc();
    }
}

/// The families a context's writer records into, shared by both contexts.
#[derive(Clone)]
struct EngineVecs {
    applied: IntCounterVec,
    ignored: IntCounterVec,
    batch: HistogramVec,
    apply: HistogramVec,
    snapshot: SnapshotVecs,
}

/// The snapshot families, shared by both contexts.
#[derive(Clone)]
struct SnapshotVecs {
    loads: IntCounterVec,
    loaded_offset: IntGaugeVec,
    load_seconds: GaugeVec,
    tail_events: IntGaugeVec,
    writes: IntCounterVec,
    written_offset: IntGaugeVec,
    written_bytes: IntGaugeVec,
    write_seconds: GaugeVec,
    verified: IntGaugeVec,
    verified_offset: IntGaugeVec,
    verified_at: GaugeVec,
}

impl SnapshotVecs {
    fn new() -> Self {
        let c = &["context"];
        SnapshotVecs {
            loads: counter_vec(
                "shop_snapshot_loads_total",
                "Snapshot files considered at start-up, by result: loaded, corrupt, incompatible, \
                 ahead_of_log, unreadable; absent when there was none; log_mismatch when the \
                 loaded one ends at an event the log no longer holds (then replayed from 0).",
                &["context", "result"],
            ),
            loaded_offset: gauge_vec(
                "shop_snapshot_loaded_offset",
                "Offset the snapshot loaded at start-up covers (0: replayed from offset 0).",
                c,
            ),
            load_seconds: float_gauge_vec(
                "shop_snapshot_load_seconds",
                "Time to read, check and decode the snapshot loaded at start-up.",
                c,
            ),
            tail_events: gauge_vec(
                "shop_snapshot_tail_events",
                "Events the start-up replay applied after the loaded snapshot (all, without one).",
                c,
            ),
            writes: counter_vec(
                "shop_snapshot_writes_total",
                "Snapshots written, by result (ok, error).",
                &["context", "result"],
            ),
            written_offset: gauge_vec(
                "shop_snapshot_written_offset",
                "Offset the newest written snapshot covers.",
                c,
            ),
            written_bytes: gauge_vec(
                "shop_snapshot_written_bytes",
                "Payload size of the newest written snapshot.",
                c,
            ),
            write_seconds: float_gauge_vec(
                "shop_snapshot_write_seconds",
                "Time to encode and durably write the newest snapshot (off the writer thread).",
                c,
            ),
            verified: gauge_vec(
                "shop_snapshot_verified",
                "Last background check: 1 if a replay from offset 0 equals the newest snapshot, 0 if not.",
                c,
            ),
            verified_offset: gauge_vec(
                "shop_snapshot_verified_offset",
                "Offset of the snapshot the last background check compared.",
                c,
            ),
            verified_at: float_gauge_vec(
                "shop_snapshot_verified_timestamp_seconds",
                "Unix time of the last finished background check.",
                c,
            ),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.loads.clone()),
            Box::new(self.loaded_offset.clone()),
            Box::new(self.load_seconds.clone()),
            Box::new(self.tail_events.clone()),
            Box::new(self.writes.clone()),
            Box::new(self.written_offset.clone()),
            Box::new(self.written_bytes.clone()),
            Box::new(self.write_seconds.clone()),
            Box::new(self.verified.clone()),
            Box::new(self.verified_offset.clone()),
            Box::new(self.verified_at.clone()),
        ]
    }
}

/// What one context records about its snapshots.
#[derive(Clone)]
pub struct SnapshotMetrics {
    context: &'static str,
    vecs: SnapshotVecs,
}

impl SnapshotMetrics {
    /// Handles on a registry nobody scrapes.
    pub fn unregistered(context: &'static str) -> Self {
        SnapshotMetrics {
            context,
            vecs: SnapshotVecs::new(),
        }
    }

    /// One snapshot file considered at start-up (or `absent`).
    pub fn load_result(&self, result: &str) {
        self.vecs
            .loads
            .with_label_values(&[self.context, result])
            .inc();
    }

    pub fn loaded(&self, offset: i64, took: Duration) {
        let c = &[self.context];
        self.vecs.loaded_offset.with_label_values(c).set(offset);
        self.vecs
            .load_seconds
            .with_label_values(c)
            .set(took.as_secs_f64());
    }

    pub fn tail(&self, events: u64) {
        self.vecs
            .tail_events
            .with_label_values(&[self.context])
            .set(events as i64);
    }

    pub fn written(&self, offset: i64, bytes: u64, took: Duration) {
        let c = &[self.context];
        self.vecs
            .writes
            .with_label_values(&[self.context, "ok"])
            .inc();
        self.vecs.written_offset.with_label_values(c).set(offset);
        self.vecs
            .written_bytes
            .with_label_values(c)
            .set(bytes as i64);
        self.vecs
            .write_seconds
            .with_label_values(c)
            .set(took.as_secs_f64());
    }

    pub fn write_failed(&self) {
        self.vecs
            .writes
            .with_label_values(&[self.context, "error"])
            .inc();
    }

    pub fn verified(&self, equal: bool, offset: i64) {
        let c = &[self.context];
        self.vecs.verified.with_label_values(c).set(equal as i64);
        self.vecs.verified_offset.with_label_values(c).set(offset);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.vecs.verified_at.with_label_values(c).set(now);
    }

    /// The start-up load counts of this context by result, sorted (for tests).
    pub fn load_counts(&self) -> Vec<(&'static str, u64)> {
        [
            "absent",
            "ahead_of_log",
            "corrupt",
            "incompatible",
            "loaded",
            "log_mismatch",
            "unreadable",
        ]
        .into_iter()
        .map(|r| {
            let n = self
                .vecs
                .loads
                .get_metric_with_label_values(&[self.context, r])
                .map(|c| c.get())
                .unwrap_or(0);
            (r, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

impl EngineVecs {
    fn new() -> Self {
        EngineVecs {
            applied: counter_vec(
                "shop_events_applied_total",
                "Events that changed a context's model, by event kind.",
                &["context", "kind"],
            ),
            ignored: counter_vec(
                "shop_events_ignored_total",
                "Valid events that changed nothing (duplicates, unknown products, ...), by reason.",
                &["context", "reason"],
            ),
            batch: histogram_vec(
                "shop_context_publish_batch_events",
                "Events applied between two publishes of a context's model.",
                &["context"],
                BATCH_BUCKETS,
            ),
            apply: histogram_vec(
                "shop_context_apply_duration_seconds",
                "Time to apply one batch of events and publish the model.",
                &["context"],
                APPLY_BUCKETS,
            ),
            snapshot: SnapshotVecs::new(),
        }
    }

    fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.applied.clone()))?;
        registry.register(Box::new(self.ignored.clone()))?;
        registry.register(Box::new(self.batch.clone()))?;
        registry.register(Box::new(self.apply.clone()))?;
        for c in self.snapshot.collectors() {
            registry.register(c)?;
        }
        Ok(())
    }
}

/// What one context's writer records: resolved once, used once per published batch.
#[derive(Clone)]
pub struct EngineMetrics {
    context: &'static str,
    vecs: EngineVecs,
    batch: Histogram,
    apply: Histogram,
    pub snapshot: SnapshotMetrics,
}

impl EngineMetrics {
    fn from_vecs(vecs: &EngineVecs, context: &'static str) -> Self {
        EngineMetrics {
            context,
            batch: vecs.batch.with_label_values(&[context]),
            apply: vecs.apply.with_label_values(&[context]),
            snapshot: SnapshotMetrics {
                context,
                vecs: vecs.snapshot.clone(),
            },
            vecs: vecs.clone(),
        }
    }

    /// Handles on a registry nobody scrapes (tools and benchmarks that run an engine alone).
    pub fn unregistered(context: &'static str) -> Self {
        Self::from_vecs(&EngineVecs::new(), context)
    }

    /// One published batch of `events` that took `took` to apply and publish.
    pub fn observe_batch(&self, events: u64, took: Duration) {
        if events > 0 {
            self.batch.observe(events as f64);
            self.apply.observe(took.as_secs_f64());
        }
    }

    pub fn applied(&self, kind: &'static str, n: u64) {
        self.vecs
            .applied
            .with_label_values(&[self.context, kind])
            .inc_by(n);
    }

    pub fn ignored(&self, reason: &'static str, n: u64) {
        self.vecs
            .ignored
            .with_label_values(&[self.context, reason])
            .inc_by(n);
    }
}

/// A context as the scrape-time collector sees it.
pub trait ContextProbe: Send + Sync {
    fn snapshot(&self) -> ContextSnapshot;
}

/// A context's numbers at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextSnapshot {
    pub name: &'static str,
    pub ready: bool,
    pub writer_running: bool,
    /// Offsets below this are in the published model.
    pub applied: i64,
    pub replay_target: i64,
    pub high_watermark: i64,
    pub poison: u64,
    pub gaps: u64,
    pub publishes: u64,
    pub replay_seconds: f64,
    pub replayed: u64,
    pub entries: Vec<(&'static str, usize)>,
}

impl ContextSnapshot {
    /// Events known to exist that the published model does not include yet.
    pub fn lag(&self) -> i64 {
        (self.high_watermark - self.applied).max(0)
    }
}

impl<F: Fold> ContextProbe for Context<F> {
    fn snapshot(&self) -> ContextSnapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let s: &EngineStats = self.stats();
        let applied = self.applied_until();
        ContextSnapshot {
            name: F::NAME,
            ready: self.is_ready(),
            writer_running: s.writer.load(Relaxed) == WRITER_RUNNING,
            applied,
            replay_target: s.replay_target.load(Relaxed),
            high_watermark: s.high_watermark.load(Relaxed).max(applied),
            poison: s.poison.load(Relaxed),
            gaps: s.gaps.load(Relaxed),
            publishes: s.publishes.load(Relaxed),
            replay_seconds: s.replay_millis.load(Relaxed) as f64 / 1000.0,
            replayed: s.replayed.load(Relaxed),
            entries: F::entries(&self.model()),
        }
    }
}

/// Reads the contexts' engine counters, offsets and model sizes at scrape time.
pub struct ContextCollector {
    contexts: Vec<Box<dyn ContextProbe>>,
    /// The families, filled from the snapshots; the lock makes concurrent scrapes take turns.
    families: Mutex<ContextFamilies>,
    descs: Vec<Desc>,
}

struct ContextFamilies {
    ready: IntGaugeVec,
    writer: IntGaugeVec,
    applied: IntGaugeVec,
    replay_target: IntGaugeVec,
    high: IntGaugeVec,
    lag: IntGaugeVec,
    poison: IntCounterVec,
    gaps: IntCounterVec,
    publishes: IntCounterVec,
    replay_seconds: GaugeVec,
    replayed: IntGaugeVec,
    entries: IntGaugeVec,
}

impl ContextFamilies {
    fn new() -> Self {
        let c = &["context"];
        ContextFamilies {
            ready: gauge_vec(
                "shop_context_ready",
                "1 once the context has replayed its log to the start-up watermark.",
                c,
            ),
            writer: gauge_vec(
                "shop_context_writer_running",
                "1 while the context's writer thread runs.",
                c,
            ),
            applied: gauge_vec(
                "shop_context_applied_offset",
                "Offsets below this are applied and published.",
                c,
            ),
            replay_target: gauge_vec(
                "shop_context_replay_target_offset",
                "The high watermark read at start-up: where the replay ends.",
                c,
            ),
            high: gauge_vec(
                "shop_context_high_watermark_offset",
                "The partition's high watermark as last seen by the context's consumer.",
                c,
            ),
            lag: gauge_vec(
                "shop_context_lag_events",
                "Events in the partition not yet applied (high watermark - applied offset).",
                c,
            ),
            poison: counter_vec(
                "shop_events_poison_total",
                "Undecodable events logged and skipped.",
                c,
            ),
            gaps: counter_vec(
                "shop_log_gaps_total",
                "Holes found in a context's log: events the broker no longer has.",
                c,
            ),
            publishes: counter_vec(
                "shop_context_publishes_total",
                "Models published (one per applied batch).",
                c,
            ),
            replay_seconds: float_gauge_vec(
                "shop_context_replay_duration_seconds",
                "How long the start-up replay took.",
                c,
            ),
            replayed: gauge_vec(
                "shop_context_replay_events",
                "Events applied by the start-up replay.",
                c,
            ),
            entries: gauge_vec(
                "shop_model_entries",
                "Entries in a context's model by kind (products, categories, carts, orders, stock).",
                &["context", "kind"],
            ),
        }
    }

    fn collectors(&self) -> [&dyn Collector; 12] {
        [
            &self.ready,
            &self.writer,
            &self.applied,
            &self.replay_target,
            &self.high,
            &self.lag,
            &self.poison,
            &self.gaps,
            &self.publishes,
            &self.replay_seconds,
            &self.replayed,
            &self.entries,
        ]
    }

    fn fill(&self, s: &ContextSnapshot) {
        let c = &[s.name];
        self.ready.with_label_values(c).set(i64::from(s.ready));
        self.writer
            .with_label_values(c)
            .set(i64::from(s.writer_running));
        self.applied.with_label_values(c).set(s.applied);
        self.replay_target.with_label_values(c).set(s.replay_target);
        self.high.with_label_values(c).set(s.high_watermark);
        self.lag.with_label_values(c).set(s.lag());
        set_counter(&self.poison.with_label_values(c), s.poison);
        set_counter(&self.gaps.with_label_values(c), s.gaps);
        set_counter(&self.publishes.with_label_values(c), s.publishes);
        self.replay_seconds
            .with_label_values(c)
            .set(s.replay_seconds);
        self.replayed.with_label_values(c).set(s.replayed as i64);
        for (kind, n) in &s.entries {
            self.entries
                .with_label_values(&[s.name, kind])
                .set(*n as i64);
        }
    }
}

/// Sets a counter to a cumulative value read elsewhere (it never goes down there).
fn set_counter(counter: &IntCounter, value: u64) {
    let now = counter.get();
    if value >= now {
        counter.inc_by(value - now);
    } else {
        counter.reset();
        counter.inc_by(value);
    }
}

impl ContextCollector {
    pub fn new(contexts: Vec<Box<dyn ContextProbe>>) -> Self {
        let families = ContextFamilies::new();
        let descs = families
            .collectors()
            .iter()
            .flat_map(|c| c.desc())
            .cloned()
            .collect();
        ContextCollector {
            contexts,
            families: Mutex::new(families),
            descs,
        }
    }
}

impl Collector for ContextCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for c in &self.contexts {
            families.fill(&c.snapshot());
        }
        families
            .collectors()
            .iter()
            .flat_map(|c| c.collect())
            .collect()
    }
}

/// librdkafka's statistics of each client (`client`: producer, catalog, checkout), updated by
/// the client context once per `statistics.interval.ms`.
pub struct KafkaMetrics {
    rtt_avg: GaugeVec,
    rtt_p99: GaugeVec,
    queued: IntGaugeVec,
    outbuf: IntGaugeVec,
    waitresp: IntGaugeVec,
    tx_errors: IntCounterVec,
    rx_errors: IntCounterVec,
    up: IntGaugeVec,
}

impl KafkaMetrics {
    pub fn new() -> Self {
        let c = &["client"];
        KafkaMetrics {
            rtt_avg: float_gauge_vec(
                "shop_kafka_broker_rtt_avg_seconds",
                "Average broker round-trip time in the last statistics window (slowest broker).",
                c,
            ),
            rtt_p99: float_gauge_vec(
                "shop_kafka_broker_rtt_p99_seconds",
                "99th percentile broker round-trip time in the last statistics window (slowest broker).",
                c,
            ),
            queued: gauge_vec(
                "shop_kafka_client_queued_messages",
                "Messages in the client's queues (librdkafka msg_cnt).",
                c,
            ),
            outbuf: gauge_vec(
                "shop_kafka_broker_outbuf_messages",
                "Messages waiting to be sent to the brokers (sum of outbuf_msg_cnt).",
                c,
            ),
            waitresp: gauge_vec(
                "shop_kafka_broker_waitresp_messages",
                "Messages sent and awaiting the brokers' response (sum of waitresp_msg_cnt).",
                c,
            ),
            tx_errors: counter_vec(
                "shop_kafka_broker_tx_errors_total",
                "Transmission errors towards the brokers.",
                c,
            ),
            rx_errors: counter_vec(
                "shop_kafka_broker_rx_errors_total",
                "Receive errors from the brokers.",
                c,
            ),
            up: gauge_vec(
                "shop_kafka_broker_up",
                "1 if the client has a live connection to a broker.",
                c,
            ),
        }
    }

    fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        for c in [
            Box::new(self.rtt_avg.clone()) as Box<dyn Collector>,
            Box::new(self.rtt_p99.clone()),
            Box::new(self.queued.clone()),
            Box::new(self.outbuf.clone()),
            Box::new(self.waitresp.clone()),
            Box::new(self.tx_errors.clone()),
            Box::new(self.rx_errors.clone()),
            Box::new(self.up.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(())
    }

    /// Takes in one statistics report of `client`.
    pub fn record(&self, client: &str, stats: &Statistics) {
        let c = &[client];
        // Bootstrap entries have nodeid -1; learned brokers carry the connections that matter.
        let learned = || stats.brokers.values().filter(|b| b.nodeid >= 0);
        let up = learned().any(|b| b.state == "UP");
        self.up.with_label_values(c).set(i64::from(up));
        self.queued.with_label_values(c).set(stats.msg_cnt as i64);
        self.outbuf
            .with_label_values(c)
            .set(stats.brokers.values().map(|b| b.outbuf_msg_cnt).sum());
        self.waitresp
            .with_label_values(c)
            .set(stats.brokers.values().map(|b| b.waitresp_msg_cnt).sum());
        let tx: u64 = stats.brokers.values().map(|b| b.txerrs).sum();
        let rx: u64 = stats.brokers.values().map(|b| b.rxerrs).sum();
        // Cumulative in librdkafka; a broker entry that goes away may lower the sum: keep the max.
        let tx_counter = self.tx_errors.with_label_values(c);
        tx_counter.inc_by(tx.saturating_sub(tx_counter.get()));
        let rx_counter = self.rx_errors.with_label_values(c);
        rx_counter.inc_by(rx.saturating_sub(rx_counter.get()));
        let windows = || {
            learned()
                .filter_map(|b| b.rtt.as_ref())
                .filter(|w| w.cnt > 0)
        };
        if let Some(avg) = windows().map(|w| w.avg).max() {
            self.rtt_avg.with_label_values(c).set(avg as f64 / 1e6);
        }
        if let Some(p99) = windows().map(|w| w.p99).max() {
            self.rtt_p99.with_label_values(c).set(p99 as f64 / 1e6);
        }
    }
}

impl Default for KafkaMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogFold;
    use crate::checkout::CheckoutFold;
    use std::sync::atomic::Ordering;

    fn text(m: &Metrics) -> String {
        String::from_utf8(m.encode()).unwrap()
    }

    /// The value of the sample with exactly this name and label set, if present.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(|v| v.parse().unwrap())
    }

    #[test]
    fn methods_and_results_have_fixed_labels() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        let all = [
            CommandResult::Applied,
            CommandResult::Replayed,
            CommandResult::Rejected,
            CommandResult::Unavailable,
            CommandResult::Error,
        ]
        .map(CommandResult::label);
        assert_eq!(
            all,
            ["applied", "replayed", "rejected", "unavailable", "error"]
        );
    }

    #[test]
    fn requests_and_commands_are_exposed_with_sorted_labels() {
        let m = Metrics::new().unwrap();
        m.http_request(
            "/api/products",
            &Method::GET,
            StatusCode::OK,
            Duration::from_millis(3),
        );
        m.http_request(
            "/api/products",
            &Method::GET,
            StatusCode::OK,
            Duration::from_millis(1),
        );
        m.command("cart_line", CommandResult::Applied);
        m.command_produced("cart_line", Duration::from_millis(2));
        m.reads_catalog.inc();
        let t = text(&m);
        assert_eq!(
            sample(
                &t,
                r#"shop_http_requests_total{method="GET",route="/api/products",status="200"}"#
            ),
            Some(2.0),
            "{t}"
        );
        assert_eq!(
            sample(
                &t,
                r#"shop_http_request_duration_seconds_count{route="/api/products"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"shop_commands_total{kind="cart_line",result="applied"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"shop_command_produce_duration_seconds_bucket{kind="cart_line",le="0.0025"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&t, r#"shop_reads_total{context="catalog"}"#),
            Some(1.0)
        );
        assert!(t.contains("# TYPE shop_http_request_duration_seconds histogram"));
        #[cfg(target_os = "linux")]
        assert!(t.contains("process_resident_memory_bytes"), "{t}");
    }

    #[test]
    fn the_collector_reads_engine_counters_and_model_sizes_at_scrape_time() {
        let m = Metrics::new().unwrap();
        let catalog = Context::<CatalogFold>::with_metrics("c", m.engine("catalog"));
        let checkout = Context::<CheckoutFold>::with_metrics("k", m.engine("checkout"));
        m.observe_contexts(vec![Box::new(catalog.clone()), Box::new(checkout.clone())])
            .unwrap();
        let t = text(&m);
        assert_eq!(
            sample(&t, r#"shop_context_ready{context="catalog"}"#),
            Some(0.0)
        );
        assert_eq!(
            sample(&t, r#"shop_model_entries{context="checkout",kind="carts"}"#),
            Some(0.0),
            "{t}"
        );
        assert_eq!(
            sample(
                &t,
                r#"shop_model_entries{context="catalog",kind="products"}"#
            ),
            Some(0.0)
        );

        let s = checkout.stats();
        s.poison.store(2, Ordering::Relaxed);
        s.publishes.store(7, Ordering::Relaxed);
        s.high_watermark.store(12, Ordering::Relaxed);
        s.replay_millis.store(1500, Ordering::Relaxed);
        m.engine("checkout").applied("cart_line_set", 3);
        m.engine("checkout").ignored("duplicate command", 1);
        m.engine("checkout")
            .observe_batch(4, Duration::from_millis(2));
        let t = text(&m);
        for (series, value) in [
            (r#"shop_events_poison_total{context="checkout"}"#, 2.0),
            (r#"shop_context_publishes_total{context="checkout"}"#, 7.0),
            (
                r#"shop_context_high_watermark_offset{context="checkout"}"#,
                12.0,
            ),
            (r#"shop_context_applied_offset{context="checkout"}"#, 0.0),
            (r#"shop_context_lag_events{context="checkout"}"#, 12.0),
            (
                r#"shop_context_replay_duration_seconds{context="checkout"}"#,
                1.5,
            ),
            (
                r#"shop_events_applied_total{context="checkout",kind="cart_line_set"}"#,
                3.0,
            ),
            (
                r#"shop_events_ignored_total{context="checkout",reason="duplicate command"}"#,
                1.0,
            ),
            (
                r#"shop_context_publish_batch_events_sum{context="checkout"}"#,
                4.0,
            ),
        ] {
            assert_eq!(sample(&t, series), Some(value), "{series} in\n{t}");
        }
        // A second scrape sets the same cumulative values, it does not add them again.
        assert_eq!(
            sample(
                &text(&m),
                r#"shop_context_publishes_total{context="checkout"}"#
            ),
            Some(7.0)
        );
    }

    #[test]
    fn lag_is_never_negative() {
        let s = ContextSnapshot {
            applied: 10,
            high_watermark: 4,
            ..Default::default()
        };
        assert_eq!(s.lag(), 0);
        let s = ContextSnapshot {
            applied: 10,
            high_watermark: 15,
            ..Default::default()
        };
        assert_eq!(s.lag(), 5);
    }
}
