//! The event-log page's state: the newest entries of both contexts as the socket delivers them
//! (newest first, at most [`PER_CONTEXT`] each), the contexts' figures with events per second
//! worked out from successive readings of the applied counter (as Grafana's `rate()` does), the
//! filters, and the entry opened to see what it changed.

use std::collections::VecDeque;
use std::rc::Rc;

use shared::proto::{ContextFigures, LogEntry};
use yew::Reducible;

use super::apply_to_copy;
use crate::admin_live::AdminEvent;
use crate::hub::LiveStatus;

/// Entries kept per context (the server's snapshot sends as many).
pub const PER_CONTEXT: usize = 200;
/// Readings the rate spans: about five seconds at one a second.
const RATE_WINDOW: usize = 6;

/// What the list shows: every field empty means everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub context: String,
    pub kind: String,
    pub product: String,
    pub cart: String,
}

impl LogFilter {
    pub fn matches(&self, e: &LogEntry) -> bool {
        let product = self.product.trim();
        let cart = self.cart.trim().to_ascii_lowercase();
        (self.context.is_empty() || self.context == e.context)
            && (self.kind.is_empty() || self.kind == e.kind)
            && (product.is_empty()
                || product
                    .parse::<u64>()
                    .is_ok_and(|p| e.product_ids.contains(&p)))
            && (cart.is_empty() || (!e.cart.is_empty() && e.cart.starts_with(&cart)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventLogState {
    /// Newest first.
    pub entries: Vec<LogEntry>,
    pub figures: Vec<ContextFigures>,
    /// Events applied per second, by context, over the last readings.
    pub rates: Vec<(String, f64)>,
    readings: VecDeque<(i64, Vec<(String, u64)>)>,
    pub filter: LogFilter,
    /// The entry opened: its context and offset.
    pub selected: Option<(String, i64)>,
    pub status: LiveStatus,
    pub ring_size: u32,
}

impl Default for EventLogState {
    fn default() -> Self {
        EventLogState {
            entries: vec![],
            figures: vec![],
            rates: vec![],
            readings: VecDeque::new(),
            filter: LogFilter::default(),
            selected: None,
            status: LiveStatus::Connecting,
            ring_size: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventLogAction {
    Live(AdminEvent),
    Filter(LogFilter),
    Select(Option<(String, i64)>),
}

impl EventLogState {
    /// The entries the filters let through, newest first.
    pub fn visible(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter().filter(|e| self.filter.matches(e))
    }

    pub fn selected_entry(&self) -> Option<&LogEntry> {
        let (context, offset) = self.selected.as_ref()?;
        self.entries
            .iter()
            .find(|e| e.context == *context && e.offset == *offset)
    }

    /// Kinds seen, for the kind filter.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.entries.iter().map(|e| e.kind.clone()).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    pub fn rate(&self, context: &str) -> Option<f64> {
        self.rates
            .iter()
            .find(|(c, _)| c == context)
            .map(|(_, r)| *r)
    }

    fn figures(&mut self, figures: &[ContextFigures], at_ms: i64) {
        self.figures = figures.to_vec();
        let counts = figures
            .iter()
            .map(|f| (f.context.clone(), f.applied_events))
            .collect();
        self.readings.push_back((at_ms, counts));
        while self.readings.len() > RATE_WINDOW {
            self.readings.pop_front();
        }
        self.rates = match (self.readings.front(), self.readings.back()) {
            (Some((t0, first)), Some((t1, last))) if t1 > t0 => last
                .iter()
                .map(|(c, n)| {
                    let before = first.iter().find(|(d, _)| d == c).map_or(*n, |(_, m)| *m);
                    // A restarted server counts from zero again: no negative rate.
                    let delta = n.saturating_sub(before) as f64;
                    (c.clone(), delta * 1000.0 / (t1 - t0) as f64)
                })
                .collect(),
            _ => vec![],
        };
    }

    /// Keeps the newest [`PER_CONTEXT`] of each context.
    fn trim(&mut self) {
        let mut seen: Vec<(String, usize)> = vec![];
        self.entries.retain(|e| {
            let n = match seen.iter_mut().find(|(c, _)| *c == e.context) {
                Some((_, n)) => n,
                None => {
                    seen.push((e.context.clone(), 0));
                    &mut seen.last_mut().expect("just pushed").1
                }
            };
            *n += 1;
            *n <= PER_CONTEXT
        });
    }

    pub fn apply(&mut self, action: EventLogAction) -> bool {
        match action {
            EventLogAction::Live(AdminEvent::Status(s)) => {
                let changed = self.status != s;
                self.status = s;
                changed
            }
            EventLogAction::Live(AdminEvent::Snapshot(log)) => {
                self.entries = log.entries;
                self.ring_size = log.ring_size;
                self.trim();
                self.figures(&log.contexts, log.at_ms);
                true
            }
            EventLogAction::Live(AdminEvent::Entries(new)) => {
                if new.is_empty() {
                    return false;
                }
                // Each batch is in log order: the last is the newest.
                let mut fresh: Vec<LogEntry> = new.into_iter().rev().collect();
                fresh.append(&mut self.entries);
                self.entries = fresh;
                self.trim();
                true
            }
            EventLogAction::Live(AdminEvent::Figures(log)) => {
                self.figures(&log.contexts, log.at_ms);
                true
            }
            EventLogAction::Filter(f) => {
                let changed = self.filter != f;
                self.filter = f;
                changed
            }
            EventLogAction::Select(s) => {
                let changed = self.selected != s;
                self.selected = s;
                changed
            }
        }
    }
}

impl Reducible for EventLogState {
    type Action = EventLogAction;

    fn reduce(self: Rc<Self>, action: EventLogAction) -> Rc<Self> {
        apply_to_copy(self, |next| next.apply(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::EventLog;

    fn entry(context: &str, offset: i64, kind: &str) -> LogEntry {
        LogEntry {
            context: context.into(),
            offset,
            kind: kind.into(),
            product_ids: vec![offset as u64 % 3],
            cart: if kind == "cart_line_set" {
                format!("ab{offset:08x}")
            } else {
                String::new()
            },
            ..Default::default()
        }
    }

    fn figures(at_ms: i64, applied: u64) -> EventLog {
        EventLog {
            contexts: vec![ContextFigures {
                context: "checkout".into(),
                applied_events: applied,
                ..Default::default()
            }],
            at_ms,
            ..Default::default()
        }
    }

    #[test]
    fn live_entries_go_on_top_and_each_context_keeps_its_newest() {
        let mut s = EventLogState::default();
        s.apply(EventLogAction::Live(AdminEvent::Snapshot(EventLog {
            entries: vec![
                entry("checkout", 1, "stock_delivered"),
                entry("catalog", 4, "product_upserted"),
            ],
            ..Default::default()
        })));
        s.apply(EventLogAction::Live(AdminEvent::Entries(vec![
            entry("checkout", 2, "cart_line_set"),
            entry("checkout", 3, "order_requested_v2"),
        ])));
        let order: Vec<i64> = s.entries.iter().map(|e| e.offset).collect();
        assert_eq!(order, [3, 2, 1, 4]);
        let many: Vec<LogEntry> = (10..10 + PER_CONTEXT as i64 + 5)
            .map(|o| entry("checkout", o, "cart_line_set"))
            .collect();
        s.apply(EventLogAction::Live(AdminEvent::Entries(many)));
        let checkout = s.entries.iter().filter(|e| e.context == "checkout").count();
        assert_eq!(checkout, PER_CONTEXT);
        assert!(
            s.entries.iter().any(|e| e.context == "catalog"),
            "the other context keeps its own"
        );
        assert_eq!(s.entries[0].offset, 10 + PER_CONTEXT as i64 + 4);
    }

    #[test]
    fn filters_by_context_kind_product_and_cart_start() {
        let mut s = EventLogState::default();
        s.apply(EventLogAction::Live(AdminEvent::Snapshot(EventLog {
            entries: (1..=6)
                .map(|o| {
                    entry(
                        if o % 2 == 0 { "catalog" } else { "checkout" },
                        o,
                        if o == 3 { "cart_line_set" } else { "x" },
                    )
                })
                .collect(),
            ..Default::default()
        })));
        let shown = |s: &EventLogState| s.visible().map(|e| e.offset).collect::<Vec<_>>();
        s.apply(EventLogAction::Filter(LogFilter {
            context: "catalog".into(),
            ..Default::default()
        }));
        assert_eq!(shown(&s), [2, 4, 6]);
        s.apply(EventLogAction::Filter(LogFilter {
            product: "1".into(),
            ..Default::default()
        }));
        assert_eq!(shown(&s), [1, 4]);
        s.apply(EventLogAction::Filter(LogFilter {
            cart: "AB0000".into(),
            ..Default::default()
        }));
        assert_eq!(shown(&s), [3]);
        s.apply(EventLogAction::Filter(LogFilter {
            kind: "cart_line_set".into(),
            context: "catalog".into(),
            ..Default::default()
        }));
        assert!(shown(&s).is_empty());
        s.apply(EventLogAction::Select(Some(("checkout".into(), 3))));
        assert_eq!(s.selected_entry().map(|e| e.offset), Some(3));
    }

    #[test]
    fn events_per_second_from_the_applied_counter() {
        let mut s = EventLogState::default();
        s.apply(EventLogAction::Live(AdminEvent::Figures(figures(
            1_000, 100,
        ))));
        assert_eq!(s.rate("checkout"), None, "one reading is no rate");
        s.apply(EventLogAction::Live(AdminEvent::Figures(figures(
            2_000, 130,
        ))));
        assert_eq!(s.rate("checkout"), Some(30.0));
        for (t, n) in [
            (3_000, 150),
            (4_000, 160),
            (5_000, 170),
            (6_000, 180),
            (7_000, 190),
        ] {
            s.apply(EventLogAction::Live(AdminEvent::Figures(figures(t, n))));
        }
        // The window holds the last six readings: 190 - 130 over 5 s.
        assert_eq!(s.rate("checkout"), Some(12.0));
        s.apply(EventLogAction::Live(AdminEvent::Figures(figures(8_000, 3))));
        assert_eq!(s.rate("checkout"), Some(0.0), "a restarted server");
    }
}
