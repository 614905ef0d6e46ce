//! The rings: each context's newest events, recorded by an observer on its writer (the model
//! before and after each event is at hand there, in log order), published with the model's
//! batches for wait-free reads, and announced to the event-log sockets.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use imbl::Vector;
use shared::proto::LogEntry;
use tokio::sync::broadcast;

use super::describe::{AnyEvent, Describe};
use crate::engine::{Applied, Context, Observer};

/// One recorded event. Its JSON is rendered when first shown, not on the writer thread.
#[derive(Debug)]
pub struct Recorded {
    /// Everything but `json`.
    entry: LogEntry,
    event: Option<AnyEvent>,
    json: OnceLock<String>,
}

impl Recorded {
    pub fn new(entry: LogEntry, event: Option<AnyEvent>) -> Recorded {
        Recorded {
            entry,
            event,
            json: OnceLock::new(),
        }
    }

    /// The entry without its JSON: what filters look at.
    pub fn head(&self) -> &LogEntry {
        &self.entry
    }

    /// The entry as shown, JSON included.
    pub fn entry(&self) -> LogEntry {
        let json = self
            .json
            .get_or_init(|| self.event.as_ref().map(AnyEvent::json).unwrap_or_default());
        LogEntry {
            json: json.clone(),
            ..self.entry.clone()
        }
    }
}

pub type Ring = Vector<Arc<Recorded>>;

/// Entries applied in one published batch of one context.
pub type Announced = Arc<Vec<Arc<Recorded>>>;

/// Both contexts' rings and the announcements of new entries.
pub struct EventLog {
    pub catalog: Arc<ArcSwap<Ring>>,
    pub checkout: Arc<ArcSwap<Ring>>,
    pub size: usize,
    pub(super) announce: broadcast::Sender<Announced>,
    /// Event-log sockets open now.
    pub(super) sockets: Arc<AtomicUsize>,
}

/// Batches a socket may fall behind before it is sent a fresh snapshot.
const ANNOUNCED: usize = 256;

impl EventLog {
    pub fn new(size: usize) -> EventLog {
        EventLog {
            catalog: Default::default(),
            checkout: Default::default(),
            size: size.max(1),
            announce: broadcast::channel(ANNOUNCED).0,
            sockets: Default::default(),
        }
    }

    /// The observer that fills `ring` from a context's writer.
    pub fn recorder<F: Describe>(
        &self,
        context: &Context<F>,
        ring: &Arc<ArcSwap<Ring>>,
    ) -> Box<dyn Observer<F>> {
        Box::new(Recorder::<F> {
            context: context.clone(),
            ring: ring.clone(),
            local: Vector::new(),
            fresh: Vec::new(),
            pending: None,
            live: false,
            size: self.size,
            announce: self.announce.clone(),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Announced> {
        self.announce.subscribe()
    }

    /// Both rings' entries, newest first (by record time, then context and offset), that
    /// `keep` accepts, at most `limit` of them; at most `per_context` are looked at in each ring.
    pub fn newest(
        &self,
        keep: impl Fn(&LogEntry) -> bool,
        limit: usize,
        per_context: usize,
    ) -> Vec<Arc<Recorded>> {
        let (catalog, checkout) = (self.catalog.load(), self.checkout.load());
        let mut a = catalog
            .iter()
            .rev()
            .take(per_context)
            .filter(|r| keep(&r.entry))
            .peekable();
        let mut b = checkout
            .iter()
            .rev()
            .take(per_context)
            .filter(|r| keep(&r.entry))
            .peekable();
        let mut out = Vec::new();
        while out.len() < limit {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => {
                    if x.entry.timestamp_ms >= y.entry.timestamp_ms {
                        a.next()
                    } else {
                        b.next()
                    }
                }
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            out.extend(next.cloned());
        }
        out
    }
}

/// A context writer's observer that records its newest events.
struct Recorder<F: Describe> {
    context: Context<F>,
    ring: Arc<ArcSwap<Ring>>,
    /// The writer's own copy, published with each batch.
    local: Ring,
    /// Recorded since the last publish.
    fresh: Vec<Arc<Recorded>>,
    /// The event about to be applied: its offset, record time and what it changes.
    pending: Option<(i64, Option<i64>, Option<F::Before>)>,
    /// False during the start-up replay, which only fills the ring with the log's last events.
    live: bool,
    size: usize,
    announce: broadcast::Sender<Announced>,
}

impl<F: Describe> Recorder<F> {
    /// Whether the event at `offset` may end up in the ring: every live one, and the replay's
    /// last `size` (the replay target is known before the first event).
    fn wanted(&self, offset: i64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.live
            || offset.saturating_add(self.size as i64)
                >= self.context.stats().replay_target.load(Relaxed)
    }

    fn push(&mut self, r: Recorded) {
        let r = Arc::new(r);
        self.local.push_back(r.clone());
        while self.local.len() > self.size {
            self.local.pop_front();
        }
        if self.live {
            self.fresh.push(r);
        }
    }
}

impl<F: Describe> Observer<F> for Recorder<F> {
    fn before(
        &mut self,
        offset: i64,
        timestamp_ms: Option<i64>,
        event: Option<&F::Event>,
        model: &F::Model,
    ) {
        self.pending = self
            .wanted(offset)
            .then(|| (offset, timestamp_ms, event.map(|e| F::before(model, e))));
    }

    fn event(&mut self, offset: i64, event: Option<(&F::Event, Applied)>, model: &F::Model) {
        let Some((at, timestamp, before)) = self.pending.take() else {
            return;
        };
        if at != offset {
            return;
        }
        let mut entry = LogEntry {
            context: F::NAME.to_owned(),
            offset,
            timestamp_ms: timestamp.unwrap_or_default(),
            ..LogEntry::default()
        };
        let recorded = match (event, before) {
            (Some((event, applied)), Some(before)) => {
                let facts = F::describe(before, event, applied, model);
                entry.kind = F::kind(event).to_owned();
                (entry.result, entry.reason) = match applied {
                    Applied::Changed => ("applied".to_owned(), String::new()),
                    Applied::Ignored(why) => ("ignored".to_owned(), why.to_owned()),
                };
                if timestamp.is_none() {
                    entry.timestamp_ms = F::requested_at_ms(event);
                }
                entry.idempotency_key = F::idempotency_key(event);
                entry.product_ids = facts.product_ids;
                entry.cart = facts.cart;
                entry.order_id = facts.order_id;
                entry.summary = facts.summary;
                entry.changes = facts.changes;
                Recorded::new(entry, Some(F::keep(event)))
            }
            _ => {
                entry.kind = "poison".to_owned();
                entry.result = "poison".to_owned();
                entry.summary = "an event that does not decode, skipped".to_owned();
                Recorded::new(entry, None)
            }
        };
        self.push(recorded);
    }

    fn published(&mut self, _next: i64, replay: bool) {
        if replay {
            self.live = true;
        } else if self.fresh.is_empty() {
            return;
        }
        self.ring.store(Arc::new(self.local.clone()));
        if !self.fresh.is_empty() {
            // A send fails only when no socket listens.
            let _ = self
                .announce
                .send(Arc::new(std::mem::take(&mut self.fresh)));
        }
    }
}
