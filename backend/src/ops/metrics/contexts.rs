//! Read at scrape time: the engine's own atomic counters, offsets, lag and model sizes, so
//! nothing is counted twice and the read path pays nothing for them.

use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGaugeVec};

use super::family::*;
use crate::engine::context::WRITER_RUNNING;
use crate::engine::{Context, EngineStats, Fold};

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
    pub rewinds: u64,
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
            rewinds: s.rewinds.load(Relaxed),
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
    rewinds: IntCounterVec,
    publishes: IntCounterVec,
    replay_seconds: GaugeVec,
    replayed: IntGaugeVec,
    entries: IntGaugeVec,
}

impl ContextFamilies {
    pub(super) fn new() -> Self {
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
                "Holes found in a context's log: events the broker no longer has (the context stops serving).",
                c,
            ),
            rewinds: counter_vec(
                "shop_log_rewinds_total",
                "Times a context's log went back below what it applied: a topic deleted and recreated, or truncated (the context stops serving).",
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

    pub(super) fn collectors(&self) -> [&dyn Collector; 13] {
        [
            &self.ready,
            &self.writer,
            &self.applied,
            &self.replay_target,
            &self.high,
            &self.lag,
            &self.poison,
            &self.gaps,
            &self.rewinds,
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
        set_counter(&self.rewinds.with_label_values(c), s.rewinds);
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
