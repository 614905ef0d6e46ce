//! What a context's writer records per published batch: events applied and ignored by kind,
//! batch sizes and apply times (the engine's [`WriterRecorder`], implemented here).

use std::sync::Arc;
use std::time::Duration;

use prometheus::{Histogram, HistogramVec, IntCounterVec, Registry};

use super::family::*;
use super::snapshot::*;
use crate::engine::metrics::{SnapshotRecorder, WriterRecorder};

/// The families a context's writer records into, shared by both contexts.
#[derive(Clone)]
pub struct EngineVecs {
    applied: IntCounterVec,
    ignored: IntCounterVec,
    batch: HistogramVec,
    apply: HistogramVec,
    snapshot: SnapshotVecs,
}

impl EngineVecs {
    pub(super) fn new() -> Self {
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

    pub(super) fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
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
    pub(super) fn from_vecs(vecs: &EngineVecs, context: &'static str) -> Self {
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
}

impl WriterRecorder for EngineMetrics {
    fn observe_batch(&self, events: u64, took: Duration) {
        if events > 0 {
            self.batch.observe(events as f64);
            self.apply.observe(took.as_secs_f64());
        }
    }

    fn applied(&self, kind: &'static str, n: u64) {
        self.vecs
            .applied
            .with_label_values(&[self.context, kind])
            .inc_by(n);
    }

    fn ignored(&self, reason: &'static str, n: u64) {
        self.vecs
            .ignored
            .with_label_values(&[self.context, reason])
            .inc_by(n);
    }

    fn snapshots(&self) -> Arc<dyn SnapshotRecorder> {
        Arc::new(self.snapshot.clone())
    }
}
