//! The engine every context runs on: it folds one Kafka topic partition into an in-memory model
//! and publishes that model for wait-free reads.
//!
//! - **Start-up replay.** The writer reads the partition's high watermark, then applies every
//!   event from offset 0 up to it in batch mode and calls [`Fold::finalize`] once (sorting indexes
//!   once instead of per event). Until then the context is not ready.
//! - **Live mode.** Afterwards it applies events as they arrive, in batches of whatever the
//!   consumer has already fetched, and publishes once per batch.
//! - **Publishing.** The model lives in an [`ArcSwap`](arc_swap::ArcSwap): a read is one `load()` and never waits for
//!   the writer. Models are built from persistent collections (`imbl`), so the writer's
//!   `clone()` before publishing copies a few root pointers, and each later change copies only
//!   the path it touches (structural sharing). We chose this over a left-right double buffer
//!   because it needs one copy of the model instead of two, and a reader may hold an old model
//!   for as long as it likes without ever blocking the writer.
//! - **Read-your-writes.** The applied offset is a `watch` channel; [`Context::wait_for`] wakes
//!   when the writer publishes a model that includes the given offset.
//! - **Observers.** An [`Observer`] sees every applied event and every publish on the writer
//!   thread (the bridge copies catalog events; live updates announce what a batch touched).
//! - **From outside.** The engine imports nothing but itself and the stop signal: what it counts
//!   goes to the recorder traits of [`metrics`] (the shop's metrics implement them; tools and
//!   tests record nothing), its apply span is a hook ([`Context::trace_applies`]), and its
//!   clients are made from its own [`KafkaSettings`](kafka::KafkaSettings), which the
//!   configuration converts into.
//! - **Poison.** An event that does not decode is logged with its topic and offset, counted and
//!   skipped. A broker that goes away stops nothing but the writer's progress: librdkafka
//!   reconnects by itself and reads go on from the last published model.
//! - **Snapshots.** With [`SnapshotSettings`](snapshot::SnapshotSettings), the writer starts from the newest usable
//!   snapshot (see [`crate::engine::snapshot`]) and replays only the tail after it; it hands a clone of
//!   the model to a snapshot thread every so many events or seconds, and once more at shutdown.
//! - **Health.** The writer records when it last made progress, the highest offset it knows to
//!   exist, and whether its thread still runs (a drop guard notices a panic), so liveness can
//!   tell a stuck or dead writer from an idle one ([`Context::health`]).

pub mod context;
pub mod fold;
pub mod idmap;
pub mod idset;
pub mod kafka;
pub mod metrics;
pub mod ranked;
pub mod retention;
pub mod snapshot;
pub mod writer;

pub use context::{Context, EngineStats, WaitError, WriterHealth};
pub use fold::{Applied, Fold, Observer};
pub use writer::{Preload, preload, spawn, spawn_from, spawn_preloaded};
