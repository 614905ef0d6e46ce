//! What a scenario proves once its fault is healed, from three independent places: the
//! client's own record of what was acknowledged, the checkout topic read from offset 0, and a
//! freshly started backend's answers (its model rebuilt from the log). Every acknowledged
//! command must be in the log and in the new model (replaying it with its key must give the
//! same answer and write nothing), no product may be sold beyond its deliveries, and no order
//! may exist twice. The log is decided by the audit's own ledger (`tools::audit::ledger`), a
//! second set of rules that shares no code with checkout's fold, so a fold bug that every
//! backend shares still shows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use prost::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use shared::proto::{CartView, CheckoutEvent, OrderList, ProductView, checkout_event::Event};

use backend::checkout::cart_name;
use backend::tools::audit::LogEntry;
use backend::tools::audit::ledger::{Ledger, Verdict};

use crate::load::{Answer, Kind, Record, Sent, attempt, settled};
use crate::support::Shopper;

pub const CHECKOUT: &str = "shop.checkout.v1";

/// Every message of a topic partition from offset 0, as (offset, payload). It blocks, so it
/// runs on a blocking thread: the proxy's tasks must keep running on the runtime meanwhile.
pub async fn read_topic(bootstrap: &str, topic: &str) -> Vec<(i64, Vec<u8>)> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || read_topic_now(&bootstrap, &topic))
        .await
        .expect("the topic read")
}

fn read_topic_now(bootstrap: &str, topic: &str) -> Vec<(i64, Vec<u8>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "chaos-verify")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("a consumer");
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(30))
        .expect("the topic's watermarks");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::with_capacity(high as usize);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while out.last().map_or(0, |(o, _)| o + 1) < high {
        assert!(
            std::time::Instant::now() < deadline,
            "read only {} of {high} events of {topic}",
            out.len()
        );
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            use rdkafka::Message as _;
            let m = m.expect("a message");
            out.push((m.offset(), m.payload().unwrap_or_default().to_vec()));
        }
    }
    out
}

/// The scope a command's idempotency key lives in, as the fold scopes it: a cart's name.
fn scope(cart: Option<&str>) -> String {
    cart.map_or_else(|| "admin".to_owned(), |c| format!("cart/{c}"))
}

/// The name the log knows a shopper's cart by, from the cookie it holds.
pub fn name_of(cookie: &str) -> String {
    backend::http::cookie::CartKeys::development()
        .open(cookie.as_bytes())
        .expect("an issued cookie")
        .to_string()
}

/// The checkout log as the checks need it.
#[derive(Default)]
pub struct Log {
    pub events: usize,
    pub undecodable: usize,
    /// (scope, key) -> events written with that key (more than one: retries the fold absorbed).
    pub commands: HashMap<(String, String), usize>,
    /// Units delivered per product (the first event of each key counts, as in the fold).
    pub delivered: BTreeMap<u64, u64>,
    /// Distinct order keys per cart.
    pub order_keys: HashMap<String, BTreeSet<String>>,
    /// The whole log decided by the audit's independent ledger.
    pub ledger: Ledger,
}

impl Log {
    pub async fn read(bootstrap: &str) -> Log {
        let mut log = Log::default();
        let mut delivery_keys = BTreeSet::new();
        let mut entries = Vec::new();
        for (offset, payload) in read_topic(bootstrap, CHECKOUT).await {
            log.events += 1;
            let Ok(event) = CheckoutEvent::decode(payload.as_slice()) else {
                log.undecodable += 1;
                continue;
            };
            entries.push(LogEntry {
                offset,
                event: Some(event.clone()),
            });
            let key = event.meta.as_ref().map(|m| m.idempotency_key.clone());
            let cart = cart_name::of_event(&event).map(|c| c.to_string());
            let (scope, key) = match (&event.event, key) {
                (Some(Event::CartLineSetV1(_)), Some(k)) => (scope(cart.as_deref()), k),
                (Some(Event::OrderRequestedV1(_) | Event::OrderRequestedV2(_)), Some(k)) => {
                    let cart = cart.expect("an order names its cart");
                    log.order_keys
                        .entry(cart.clone())
                        .or_default()
                        .insert(k.clone());
                    (scope(Some(&cart)), k)
                }
                (Some(Event::StockDeliveredV1(e)), Some(k)) => {
                    if delivery_keys.insert(k.clone()) {
                        *log.delivered.entry(e.product_id).or_default() += u64::from(e.quantity);
                    }
                    (scope(None), k)
                }
                _ => continue,
            };
            *log.commands.entry((scope, key)).or_default() += 1;
        }
        log.ledger = Ledger::replay(&entries);
        log
    }

    pub fn contains(&self, record: &Record) -> bool {
        let cart = record.cart.as_deref().map(name_of);
        self.commands
            .contains_key(&(scope(cart.as_deref()), record.key.clone()))
    }

    /// Events the fold absorbed as repeats of a key already applied.
    pub fn repeats(&self) -> usize {
        self.commands.values().map(|n| n - 1).sum()
    }
}

async fn read_proto(client: &mut Shopper, path: &str) -> Bytes {
    let r = client
        .send(
            Method::GET,
            path,
            &[("accept", "application/x-protobuf")],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "GET {path}");
    r.body
}

/// What a shopper and the catalog show: every cart with its orders, every product.
#[derive(Debug, PartialEq)]
pub struct Views {
    pub carts: BTreeMap<String, (CartView, OrderList)>,
    pub products: BTreeMap<u64, ProductView>,
}

pub async fn views(client: &Shopper, carts: &[String], products: u64) -> Views {
    let mut out = Views {
        carts: BTreeMap::new(),
        products: BTreeMap::new(),
    };
    for cart in carts {
        let mut c = client.clone();
        c.cookie = Some(format!("cart={cart}"));
        let view = CartView::decode(read_proto(&mut c, "/api/cart").await).unwrap();
        let orders = OrderList::decode(read_proto(&mut c, "/api/orders").await).unwrap();
        out.carts.insert(cart.clone(), (view, orders));
    }
    let mut c = client.clone();
    for p in 1..=products {
        let view =
            ProductView::decode(read_proto(&mut c, &format!("/api/products/{p}")).await).unwrap();
        out.products.insert(p, view);
    }
    out
}

/// The figures of one scenario, and what went wrong.
#[derive(Default, Debug)]
pub struct Figures {
    pub sent: usize,
    pub acked: usize,
    pub rejected: usize,
    pub unresolved: usize,
    pub found: usize,
    pub lost: usize,
    pub oversold: u64,
    pub duplicates: usize,
    pub retries: u64,
    pub timeouts: u64,
    pub unavailable: u64,
    /// Events in the log whose key the fold had already applied (retries it absorbed).
    pub repeats: usize,
    pub problems: Vec<String>,
    /// Acknowledged line commands that changed nothing and so wrote no event.
    pub no_ops: usize,
}

/// The checks against the log and the model of a backend started after the load (`after`);
/// `before` are the views of the backend that served the load, just before it was replaced;
/// `poisoned` is how many undecodable events the scenario wrote into the checkout topic.
pub async fn check(
    sent: &Sent,
    log: &Log,
    before: &Views,
    after: &Views,
    restarted: &Shopper,
    bootstrap: &str,
    poisoned: usize,
) -> Figures {
    let mut f = Figures::default();
    let records: Vec<&Record> = sent.records().collect();
    f.sent = records.len();
    for r in &records {
        f.retries += u64::from(r.attempts.saturating_sub(1));
        f.timeouts += u64::from(r.timeouts);
        f.unavailable += u64::from(r.unavailable);
        match &r.answer {
            Answer::Acked { .. } => f.acked += 1,
            Answer::Rejected => f.rejected += 1,
            Answer::Unresolved(why) => {
                f.unresolved += 1;
                f.problems.push(format!(
                    "{} {:?} never settled after the fault was healed: {why}",
                    r.key, r.kind
                ));
            }
            Answer::Failed { status, body } => f
                .problems
                .push(format!("{} {:?} answered {status}: {body}", r.key, r.kind)),
        }
    }
    f.repeats = log.repeats();
    if log.undecodable != poisoned {
        f.problems.push(format!(
            "{} undecodable events in the checkout log, {poisoned} written there",
            log.undecodable
        ));
    }
    if before != after {
        f.problems
            .push("the restarted backend shows other carts, orders or stock".into());
    }

    // Oversell: units in the orders the new model shows against units delivered in the log.
    let mut sold: BTreeMap<u64, u64> = BTreeMap::new();
    for (_, orders) in after.carts.values() {
        for o in &orders.orders {
            for l in &o.lines {
                *sold.entry(l.product_id).or_default() += u64::from(l.quantity);
            }
        }
    }
    for (&p, view) in &after.products {
        let delivered = log.delivered.get(&p).copied().unwrap_or(0);
        let units = sold.get(&p).copied().unwrap_or(0);
        f.oversold += units.saturating_sub(delivered);
        let shown = view.availability.as_ref().map_or(0, |a| a.available);
        let folded = log.ledger.stock.get(&p).copied().unwrap_or(0);
        if units <= delivered && (shown != delivered - units || folded != shown) {
            f.problems.push(format!(
                "product {p}: delivered {delivered}, sold {units}, shown {shown}, folded {folded}"
            ));
        }
    }

    // Duplicates: each order the model shows must be the answer of exactly one order key.
    let folded_orders = log
        .ledger
        .verdicts
        .values()
        .filter(|v| matches!(v, Verdict::Accepted(_)))
        .count();
    let shown_orders: usize = after.carts.values().map(|(_, o)| o.orders.len()).sum();
    if folded_orders != shown_orders {
        f.problems.push(format!(
            "the independent ledger accepts {folded_orders} orders of the log, the restarted backend shows {shown_orders}"
        ));
    }
    for (cart, records) in &sent.carts {
        let shown: BTreeSet<u64> = after.carts[cart].1.orders.iter().map(|o| o.id).collect();
        let acked: BTreeSet<u64> = records.iter().filter_map(|r| r.order_id()).collect();
        let unsettled_orders = records
            .iter()
            .filter(|r| {
                matches!(r.kind, Kind::Order { .. }) && matches!(r.answer, Answer::Unresolved(_))
            })
            .count();
        let unexplained = shown.difference(&acked).count();
        f.duplicates += unexplained.saturating_sub(unsettled_orders);
        let keys = log.order_keys.get(&name_of(cart)).map_or(0, |k| k.len());
        f.duplicates += shown.len().saturating_sub(keys);
        let acked_orders = records.iter().filter(|r| r.order_id().is_some()).count();
        // Two keys answered with one order id would hide a lost order.
        f.duplicates += acked_orders - acked.len();
    }

    // Found: in the log, and known to the new model under its key (the same answer, nothing
    // written). An acknowledged order must also be in the new model's order list.
    let mut replay = restarted.clone();
    let before_replay = read_topic(bootstrap, CHECKOUT).await.len();
    for r in &records {
        if !r.acked() && r.answer != Answer::Rejected {
            continue;
        }
        if r.no_op {
            // Answered without an event, and so not replayed (the cart has moved on since: the
            // same request now would change it).
            if log.contains(r) {
                f.problems
                    .push(format!("{} changed nothing but wrote an event", r.key));
            } else {
                f.found += 1;
                f.no_ops += 1;
            }
            continue;
        }
        replay.cookie = r.cart.as_ref().map(|c| format!("cart={c}"));
        let again = match attempt(&mut replay, r, Duration::from_secs(30)).await {
            Ok(Ok((status, body))) => settled(r, status, &body),
            other => {
                f.problems
                    .push(format!("{} replayed after the restart: {other:?}", r.key));
                None
            }
        };
        if !r.acked() {
            if again != Some(Answer::Rejected) {
                f.problems.push(format!(
                    "{} was rejected, replayed after the restart: {again:?}",
                    r.key
                ));
            }
            continue;
        }
        let in_model = again.as_ref() == Some(&r.answer)
            && r.order_id().is_none_or(|id| {
                after.carts[r.cart.as_ref().unwrap()]
                    .1
                    .orders
                    .iter()
                    .any(|o| o.id == id)
            });
        if log.contains(r) && in_model {
            f.found += 1;
        } else {
            f.problems.push(format!(
                "acknowledged {} {:?} ({:?}): in the log {}, replayed after the restart {:?}",
                r.key,
                r.kind,
                r.answer,
                log.contains(r),
                again
            ));
        }
    }
    let written = read_topic(bootstrap, CHECKOUT).await.len() - before_replay;
    if written > 0 {
        f.problems.push(format!(
            "replaying acknowledged commands wrote {written} new events: the restarted model did not know them"
        ));
        // Those keys were not in the model: not found.
        f.found = f.found.saturating_sub(written);
    }
    f.lost = f.acked - f.found;
    f
}
