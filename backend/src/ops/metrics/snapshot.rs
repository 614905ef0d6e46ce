//! Snapshots: loads at start-up by result, the loaded offset and its load time, the tail
//! replayed after it, writes, and the background equivalence check (the engine's
//! [`SnapshotRecorder`], implemented here).

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec};

use super::family::*;
use crate::engine::metrics::SnapshotRecorder;

/// The snapshot families, shared by both contexts.
#[derive(Clone)]
pub struct SnapshotVecs {
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
    pub(super) fn new() -> Self {
        let c = &["context"];
        SnapshotVecs {
            loads: counter_vec(
                "shop_snapshot_loads_total",
                "Snapshot files considered at start-up, by result: loaded, corrupt, incompatible, \
                 ahead_of_log, unreadable; absent when there was none; log_mismatch when the \
                 loaded one ends at an event the log no longer holds (then replayed from 0); \
                 ahead_of_start when one loaded ahead of its writer lies beyond where the \
                 writer may start (then an older one is loaded).",
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

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
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
    pub(super) context: &'static str,
    pub(super) vecs: SnapshotVecs,
}

impl SnapshotMetrics {
    /// Handles on a registry nobody scrapes.
    pub fn unregistered(context: &'static str) -> Self {
        SnapshotMetrics {
            context,
            vecs: SnapshotVecs::new(),
        }
    }
}

impl SnapshotRecorder for SnapshotMetrics {
    fn load_result(&self, result: &'static str) {
        self.vecs
            .loads
            .with_label_values(&[self.context, result])
            .inc();
    }

    fn loaded(&self, offset: i64, took: Duration) {
        let c = &[self.context];
        self.vecs.loaded_offset.with_label_values(c).set(offset);
        self.vecs
            .load_seconds
            .with_label_values(c)
            .set(took.as_secs_f64());
    }

    fn tail(&self, events: u64) {
        self.vecs
            .tail_events
            .with_label_values(&[self.context])
            .set(events as i64);
    }

    fn written(&self, offset: i64, bytes: u64, took: Duration) {
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

    fn write_failed(&self) {
        self.vecs
            .writes
            .with_label_values(&[self.context, "error"])
            .inc();
    }

    fn verified(&self, equal: bool, offset: i64) {
        let c = &[self.context];
        self.vecs.verified.with_label_values(c).set(equal as i64);
        self.vecs.verified_offset.with_label_values(c).set(offset);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.vecs.verified_at.with_label_values(c).set(now);
    }
}
