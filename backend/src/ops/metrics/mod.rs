//! The shop's Prometheus metrics: one [`Registry`] owned by [`Metrics`], served as text at
//! `GET /metrics`.
//!
//! - **Recorded as things happen** (atomic increments, histograms): HTTP requests, reads,
//!   commands, what a context's writer applied per batch ([`EngineMetrics`]), and librdkafka's
//!   statistics ([`KafkaMetrics`], fed by the Kafka client context once a second).
//! - **Read at scrape time** ([`ContextCollector`]): the engine's own atomic counters
//!   ([`EngineStats`](crate::engine::EngineStats)), offsets, lag and model sizes, so nothing is counted twice and the read path
//!   pays nothing for them.
//! - **Imports** ([`ImportMetrics`]): an upload in progress, uploads by answer.
//! - **Live updates** ([`LiveMetrics`]): open websockets, frames sent by kind, slow clients
//!   dropped, resyncs.
//! - **Snapshots** ([`SnapshotMetrics`](snapshot::SnapshotMetrics)): loads at start-up by result, the loaded offset and
//!   its load time, the tail replayed after it, writes, and the background equivalence check.
//! - **Process**: CPU, memory and open files from `/proc` (the `process_*` families).
//!
//! Labels have low cardinality by construction: route templates, methods, status codes, context
//! and event kinds, client names. Never a product, cart or order id.

pub mod commands;
pub mod contexts;
pub mod engine;
pub mod family;
pub mod imports;
pub mod kafka;
pub mod live;
pub mod requests;
pub mod snapshot;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use prometheus::{Encoder, Registry, TextEncoder};

use commands::CommandMetrics;
use contexts::{ContextCollector, ContextProbe};
use engine::{EngineMetrics, EngineVecs};
use imports::ImportMetrics;
use kafka::KafkaMetrics;
use live::LiveMetrics;
use requests::HttpMetrics;

/// The `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Every metric of the running shop, on one registry.
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
    pub commands: CommandMetrics,
    engine: EngineVecs,
    /// Handed to every Kafka client's context.
    pub kafka: Arc<KafkaMetrics>,
    pub live: LiveMetrics,
    pub imports: ImportMetrics,
}

impl Metrics {
    /// Creates the registry with every family registered. Contexts are added with
    /// [`Metrics::observe_contexts`] once they exist.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let http = HttpMetrics::new();
        let commands = CommandMetrics::new();
        let engine = EngineVecs::new();
        let kafka = Arc::new(KafkaMetrics::new());
        let live = LiveMetrics::new();
        let imports = ImportMetrics::new();
        http.register(&registry)?;
        commands.register(&registry)?;
        engine.register(&registry)?;
        kafka.register(&registry)?;
        live.register(&registry)?;
        imports.register(&registry)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics {
            registry,
            http,
            commands,
            engine,
            kafka,
            live,
            imports,
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

    /// The registry `/metrics` encodes (the event log's figures read it too).
    pub fn registry(&self) -> &Registry {
        &self.registry
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
