//! The contract between the engine and a context: the pure [`Fold`] of events into a model, what
//! one event did ([`Applied`]), and the [`Observer`] that watches a writer at work.

use super::snapshot::codec::{DecodeError, Decoder, Encoder};

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
    fn encode(_model: &Self::Model, _out: &mut Encoder) {}

    /// The model [`Fold::encode`] wrote, finalized: applying later events to it must give the
    /// same model as a replay from offset 0.
    fn decode(_input: &mut Decoder<'_>) -> Result<Self::Model, DecodeError> {
        Err(DecodeError(format!(
            "the {} context has no snapshots",
            Self::NAME
        )))
    }
}

/// Watches a writer at work, on the writer thread and in offset order: the bridge copies every
/// catalog event, live updates collect what each batch touched and announce it once published.
/// The writer waits for it, so it must never block for long.
pub trait Observer<F: Fold>: Send + 'static {
    /// The event at `offset` is about to be applied to `model`; `None` for an event that did not
    /// decode. `timestamp_ms` is its Kafka record's timestamp. Called right before
    /// [`Observer::event`], for what an event changes: the model before it.
    fn before(
        &mut self,
        _offset: i64,
        _timestamp_ms: Option<i64>,
        _event: Option<&F::Event>,
        _model: &F::Model,
    ) {
    }

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

/// Several observers of one writer, each told everything in turn.
impl<F: Fold> Observer<F> for Vec<Box<dyn Observer<F>>> {
    fn before(
        &mut self,
        offset: i64,
        timestamp_ms: Option<i64>,
        event: Option<&F::Event>,
        model: &F::Model,
    ) {
        for o in self.iter_mut() {
            o.before(offset, timestamp_ms, event, model);
        }
    }

    fn event(&mut self, offset: i64, event: Option<(&F::Event, Applied)>, model: &F::Model) {
        for o in self.iter_mut() {
            o.event(offset, event, model);
        }
    }

    fn resumed(&mut self, from: i64) {
        for o in self.iter_mut() {
            o.resumed(from);
        }
    }

    fn published(&mut self, next: i64, replay: bool) {
        for o in self.iter_mut() {
            o.published(next, replay);
        }
    }
}
