//! What the engine counts, as hooks it calls and the shop's metrics implement from outside (the
//! engine knows no metrics backend, as it knows no tracing backend): a writer's published
//! batches ([`WriterRecorder`]), its snapshots ([`SnapshotRecorder`]) and librdkafka's statistics
//! of each client ([`StatsRecorder`]). [`Unrecorded`] records nothing, for tools, benchmarks and
//! tests that run an engine alone.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::statistics::Statistics;

/// What a context's writer records, once per published batch (never per event).
pub trait WriterRecorder: Send + Sync + 'static {
    /// One published batch of `events` that took `took` to apply and publish.
    fn observe_batch(&self, events: u64, took: Duration);

    /// `n` events of kind `kind` changed the model.
    fn applied(&self, kind: &'static str, n: u64);

    /// `n` valid events changed nothing, for `reason`.
    fn ignored(&self, reason: &'static str, n: u64);

    /// Where this context's snapshot loads, writes and checks are recorded.
    fn snapshots(&self) -> Arc<dyn SnapshotRecorder>;
}

/// What a context records about its snapshots, from the writer, the snapshot thread and the
/// background check.
pub trait SnapshotRecorder: Send + Sync + 'static {
    /// One snapshot file considered at start-up, by result (`loaded`, `corrupt`, ...), or
    /// `absent` when there was none.
    fn load_result(&self, result: &'static str);

    /// The snapshot loaded at start-up covers offsets below `offset`; finding, checking and
    /// decoding it took `took`.
    fn loaded(&self, offset: i64, took: Duration);

    /// The start-up replay applied `events` after the loaded snapshot (all of them, without one).
    fn tail(&self, events: u64);

    /// A snapshot of offsets below `offset` was written: `bytes` of payload in `took`.
    fn written(&self, offset: i64, bytes: u64, took: Duration);

    fn write_failed(&self);

    /// The background check compared the snapshot at `offset` with a replay from offset 0.
    fn verified(&self, equal: bool, offset: i64);
}

/// librdkafka's statistics of one client (`client`: its name), handed over by the client context
/// once per `statistics.interval.ms`.
pub trait StatsRecorder: Send + Sync + 'static {
    fn record(&self, client: &str, stats: &Statistics);
}

/// Records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unrecorded;

impl WriterRecorder for Unrecorded {
    fn observe_batch(&self, _events: u64, _took: Duration) {}
    fn applied(&self, _kind: &'static str, _n: u64) {}
    fn ignored(&self, _reason: &'static str, _n: u64) {}
    fn snapshots(&self) -> Arc<dyn SnapshotRecorder> {
        Arc::new(Unrecorded)
    }
}

impl SnapshotRecorder for Unrecorded {
    fn load_result(&self, _result: &'static str) {}
    fn loaded(&self, _offset: i64, _took: Duration) {}
    fn tail(&self, _events: u64) {}
    fn written(&self, _offset: i64, _bytes: u64, _took: Duration) {}
    fn write_failed(&self) {}
    fn verified(&self, _equal: bool, _offset: i64) {}
}

impl StatsRecorder for Unrecorded {
    fn record(&self, _client: &str, _stats: &Statistics) {}
}
