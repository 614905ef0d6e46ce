//! The sales audit: what the checkout log itself says was sold, and whether the replicas serve
//! exactly that. It reads the checkout topic from offset 0 to its high watermark and replays it
//! twice: through checkout's fold, to learn the decision every replica took on each order, and
//! through its own [`ledger`], which decides by a second, plain set of rules that shares no code
//! with the fold. Beside the fold's decisions it counts stock delivered and sold per product as
//! the log runs (never below zero), orders accepted and rejected (by reason) per product, and
//! idempotency keys that got more than one accepted order. [`check`] then holds the fold's
//! decisions against the ledger's, and both against what each replica serves over HTTP and what
//! the shoppers were answered. `shop-audit` and the flash-sale test both use it.
//!
//! The log names carts by values that open nothing, so the replicas' orders are read as the
//! operator reads them (`GET /api/admin/orders`, each order with its cart's short hash) and
//! held against the log's orders per cart by the same hash.
//!
//! One file past 600 lines because the summary and the checks are one argument read top to
//! bottom (what the log says, what each replica serves, how the two are held against each other);
//! the second set of rules is apart on purpose, in [`ledger`].

pub mod ledger;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message as _;
use rdkafka::consumer::Consumer as _;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use shared::ids::CartId;
use shared::proto::{CheckoutEvent, RejectionReason, checkout_event::Event};

use crate::checkout::cart_name;
use crate::checkout::fold::{admin_command_key, cart_command_key};
use crate::checkout::{Checkout, CheckoutFold, Outcome};
use crate::config::KafkaConfig;
use crate::engine::Fold;
use crate::engine::kafka::{self, BrokerStatus};
use crate::eventlog::cart_hash;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("reading {topic} stalled at offset {next} of {high}: no message for {stall:?}")]
    Stalled {
        topic: String,
        next: i64,
        high: i64,
        stall: Duration,
    },
    #[error("replica {base}: {detail}")]
    Replica { base: String, detail: String },
}

/// One record of the checkout topic: its event, or `None` if it did not decode.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub offset: i64,
    pub event: Option<CheckoutEvent>,
}

/// Reads a topic's partition 0 from offset 0 up to the high watermark seen at the start.
/// Blocking: call it from a blocking thread. Fails if no message comes for `stall`.
pub fn read_topic(
    cfg: &KafkaConfig,
    topic: &str,
    stall: Duration,
) -> Result<Vec<LogEntry>, AuditError> {
    let consumer = kafka::consumer(&cfg.settings(), "audit", BrokerStatus::new())?;
    let high = kafka::high_watermark(&consumer, topic, Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let mut log = Vec::with_capacity(usize::try_from(high).unwrap_or(0));
    let mut next = 0;
    let mut progress = Instant::now();
    while next < high {
        if progress.elapsed() > stall {
            return Err(AuditError::Stalled {
                topic: topic.to_owned(),
                next,
                high,
                stall,
            });
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(msg)) => {
                progress = Instant::now();
                next = msg.offset() + 1;
                let event = msg
                    .payload()
                    .and_then(|p| CheckoutEvent::decode(p).ok())
                    .filter(|e| e.event.is_some());
                log.push(LogEntry {
                    offset: msg.offset(),
                    event,
                });
            }
            // Transient errors (a reconnect) are retried by librdkafka; a stall ends the read.
            Some(Err(e)) => tracing::warn!(%e, "audit consumer error"),
            None => {}
        }
    }
    Ok(log)
}

/// The API's code for a rejection reason (the `code` of the 409 body).
pub fn reason_code(reason: RejectionReason) -> &'static str {
    match reason {
        RejectionReason::OutOfStockLine => "out_of_stock",
        RejectionReason::CartChanged => "cart_changed",
        RejectionReason::CartEmpty => "cart_empty",
        RejectionReason::PriceChanged => "price_changed",
        RejectionReason::TitleChanged => "title_changed",
        RejectionReason::ProductUnavailable | RejectionReason::Unspecified => "product_unavailable",
    }
}

/// One product's account per the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProductLedger {
    pub delivered: u64,
    pub sold: u64,
    pub orders_accepted: u64,
    /// Rejected orders that name this product, by API code.
    pub orders_rejected: BTreeMap<String, u64>,
    /// Delivered minus sold, after each event in log order.
    pub stock: i64,
    pub lowest_stock: i64,
    /// The offset at which the running stock first went below zero (an oversell).
    pub oversold_at: Option<i64>,
    /// The stock the fold ends with, to hold against the running stock.
    pub fold_stock: u64,
}

impl ProductLedger {
    fn deliver(&mut self, quantity: u32) {
        self.delivered += u64::from(quantity);
        self.stock += i64::from(quantity);
    }

    /// One accepted order's line, taken from the running stock whether or not it covers it.
    fn sell(&mut self, quantity: u32, offset: i64) {
        self.sold += u64::from(quantity);
        self.orders_accepted += 1;
        self.stock -= i64::from(quantity);
        self.lowest_stock = self.lowest_stock.min(self.stock);
        if self.stock < 0 && self.oversold_at.is_none() {
            self.oversold_at = Some(offset);
        }
    }
}

/// An order request in the log and the decision the fold took on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedOrder {
    pub offset: i64,
    pub cart: String,
    pub key: String,
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Accepted {
        order_id: u64,
        lines: Vec<(u64, u32)>,
    },
    Rejected {
        reason: String,
        product_id: u64,
    },
    /// A repeat of a request already decided (a retry that reached the log): no effect.
    Repeat,
}

/// What the checkout log says, summarised.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub events: u64,
    pub undecodable: u64,
    pub products: BTreeMap<u64, ProductLedger>,
    pub orders: Vec<LoggedOrder>,
    /// Raw idempotency keys that got more than one accepted order, with how many.
    pub duplicate_keys: BTreeMap<String, u64>,
    /// Accepted order ids by cart (its name, as the model keeps it).
    pub accepted_by_cart: BTreeMap<String, Vec<u64>>,
    /// Accepted orders that charged a line at a price (or title) their request did not name,
    /// as "offset N: ...".
    pub charged_unnamed: Vec<String>,
    /// Accepted orders of requests written before orders named their lines (V1): counted, not
    /// checkable.
    pub accepted_unnamed_v1: u64,
    /// The same log decided by the audit's own rules.
    #[serde(skip)]
    pub ledger: ledger::Ledger,
}

impl Summary {
    pub fn orders_accepted(&self) -> u64 {
        self.orders
            .iter()
            .filter(|o| matches!(o.decision, Decision::Accepted { .. }))
            .count() as u64
    }

    pub fn orders_rejected(&self) -> BTreeMap<String, u64> {
        let mut by = BTreeMap::new();
        for o in &self.orders {
            if let Decision::Rejected { reason, .. } = &o.decision {
                *by.entry(reason.clone()).or_default() += 1;
            }
        }
        by
    }

    /// Every cart that asked for an order, whatever the answer.
    pub fn ordering_carts(&self) -> Vec<CartId> {
        let mut carts: Vec<CartId> = self
            .orders
            .iter()
            .filter_map(|o| o.cart.parse().ok())
            .collect();
        carts.sort();
        carts.dedup();
        carts
    }
}

/// Replays `log` through checkout's fold and keeps the audit's own ledger beside it. The fold
/// decides (that is the shop's rule); the ledger counts what the decisions did to stock, so an
/// accepted order that the stock could not cover shows as a negative running stock.
pub fn summarise(log: &[LogEntry]) -> Summary {
    let mut model = Checkout::default();
    let mut s = Summary::default();
    let mut accepted_keys: BTreeMap<String, u64> = BTreeMap::new();
    for entry in log {
        s.events += 1;
        let Some(event) = &entry.event else {
            s.undecodable += 1;
            continue;
        };
        CheckoutFold::apply(&mut model, event, entry.offset);
        let key = event
            .meta
            .as_ref()
            .map(|m| m.idempotency_key.clone())
            .unwrap_or_default();
        // A command took effect at this offset only if its record was written here; a repeat
        // finds the first record.
        let recorded_here = |scoped: &str| {
            model
                .command(scoped)
                .filter(|r| r.offset == entry.offset)
                .map(|r| r.outcome.clone())
        };
        match &event.event {
            Some(Event::StockDeliveredV1(d))
                if recorded_here(&admin_command_key(&key)).is_some() =>
            {
                s.products
                    .entry(d.product_id)
                    .or_default()
                    .deliver(d.quantity);
            }
            Some(Event::OrderRequestedV1(_)) | Some(Event::OrderRequestedV2(_)) => {
                let named = match &event.event {
                    Some(Event::OrderRequestedV2(o)) => Some(&o.lines),
                    _ => None,
                };
                let Some(cart) = cart_name::of_event(event) else {
                    continue;
                };
                let decision = match recorded_here(&cart_command_key(cart, &key)) {
                    Some(Outcome::OrderPlaced(id)) => {
                        match (model.order(id), named) {
                            (Some(order), Some(named)) => s.charged_unnamed.extend(
                                unnamed_charges(&order.lines, named)
                                    .map(|why| format!("offset {}: {why}", entry.offset)),
                            ),
                            // Written before orders named their lines: nothing to hold it to.
                            _ => s.accepted_unnamed_v1 += 1,
                        }
                        let lines: Vec<(u64, u32)> = model
                            .order(id)
                            .map(|o| o.lines.iter().map(|l| (l.product_id, l.quantity)).collect())
                            .unwrap_or_default();
                        for &(product, quantity) in &lines {
                            s.products
                                .entry(product)
                                .or_default()
                                .sell(quantity, entry.offset);
                        }
                        *accepted_keys.entry(key.clone()).or_default() += 1;
                        s.accepted_by_cart
                            .entry(cart.to_string())
                            .or_default()
                            .push(id);
                        Decision::Accepted {
                            order_id: id,
                            lines,
                        }
                    }
                    Some(Outcome::OrderRejected(r)) => {
                        let reason = reason_code(r.reason()).to_owned();
                        if r.product_id != 0 {
                            *s.products
                                .entry(r.product_id)
                                .or_default()
                                .orders_rejected
                                .entry(reason.clone())
                                .or_default() += 1;
                        }
                        Decision::Rejected {
                            reason,
                            product_id: r.product_id,
                        }
                    }
                    _ => Decision::Repeat,
                };
                s.orders.push(LoggedOrder {
                    offset: entry.offset,
                    cart: cart.to_string(),
                    key,
                    decision,
                });
            }
            _ => {}
        }
    }
    CheckoutFold::finalize(&mut model);
    for (id, p) in s.products.iter_mut() {
        p.fold_stock = model.stock(*id);
    }
    s.duplicate_keys = accepted_keys.into_iter().filter(|(_, n)| *n > 1).collect();
    s.ledger = ledger::Ledger::replay(log);
    s
}

/// What an accepted order charged that its request did not name: a line absent from the
/// request, or at another title, unit price or currency.
fn unnamed_charges<'a>(
    charged: &'a [crate::checkout::fold::OrderLine],
    named: &'a [shared::proto::ShownLine],
) -> impl Iterator<Item = String> + 'a {
    charged.iter().filter_map(move |l| {
        let shown = named.iter().find(|n| n.product_id == l.product_id);
        let price = shown.and_then(|n| n.unit_price.as_ref());
        let same = shown.is_some_and(|n| n.title == *l.title && n.quantity == l.quantity)
            && price.is_some_and(|p| p.minor == l.unit_price_minor && p.currency == *l.currency);
        (!same).then(|| {
            format!(
                "product {} charged {} {} ({} units), the request named {:?}",
                l.product_id, l.unit_price_minor, l.currency, l.quantity, shown
            )
        })
    })
}

/// Order requests the fold decided otherwise than the ledger, as "offset: fold vs ledger".
fn decided_otherwise(summary: &Summary) -> Vec<String> {
    let mut differ: Vec<String> = summary
        .orders
        .iter()
        .filter_map(|o| {
            let verdict = summary.ledger.verdicts.get(&o.offset);
            let alike = match (&o.decision, verdict) {
                (Decision::Accepted { lines, .. }, Some(ledger::Verdict::Accepted(l))) => {
                    lines == l
                }
                (
                    Decision::Rejected { reason, product_id },
                    Some(ledger::Verdict::Rejected(r, p)),
                ) => reason == r && product_id == p,
                (Decision::Repeat, Some(ledger::Verdict::Repeat)) => true,
                _ => false,
            };
            (!alike).then(|| format!("offset {}: {:?} vs {verdict:?}", o.offset, o.decision))
        })
        .collect();
    let logged: std::collections::BTreeSet<i64> = summary.orders.iter().map(|o| o.offset).collect();
    differ.extend(
        summary
            .ledger
            .verdicts
            .keys()
            .filter(|o| !logged.contains(o))
            .map(|o| format!("offset {o}: no decision of the fold")),
    );
    differ
}

/// What one replica serves about the audited product and the orders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaView {
    pub base: String,
    /// `GET /api/products/{id}` as JSON (`null` if not 200).
    pub product: serde_json::Value,
    /// Units available per the product view.
    pub available: Option<u64>,
    /// Every order of `GET /api/admin/orders` as JSON, by its cart's short hash, oldest first.
    pub orders: BTreeMap<String, Vec<serde_json::Value>>,
}

impl ReplicaView {
    /// The order ids this replica lists for a cart (by its short hash).
    pub fn order_ids(&self, cart: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .orders
            .get(cart)
            .into_iter()
            .flatten()
            .filter_map(|o| json_u64(&o["id"]))
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// A proto3 JSON 64-bit integer (a string), or absent for 0.
fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Null => Some(0),
        serde_json::Value::String(s) => s.parse().ok(),
        other => other.as_u64(),
    }
}

/// Reads the product (as a shopper) and every order (as the operator, with `admin_token`) from
/// one replica (`http://host:port`).
pub async fn fetch_replica(
    base: &str,
    product: u64,
    admin_token: &str,
) -> Result<ReplicaView, AuditError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let get = |path: String, admin: bool| {
        let client = client.clone();
        let uri = format!("{base}{path}");
        async move {
            let mut req = Request::get(&uri).header(header::ACCEPT, "application/json");
            if admin {
                req = req.header(header::AUTHORIZATION, format!("Bearer {admin_token}"));
            }
            let fail = |detail: String| AuditError::Replica {
                base: base.to_owned(),
                detail,
            };
            let req = req
                .body(Empty::new())
                .map_err(|e| fail(format!("GET {uri}: {e}")))?;
            let resp = client
                .request(req)
                .await
                .map_err(|e| fail(format!("GET {uri}: {e}")))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| fail(format!("GET {uri}: {e}")))?
                .to_bytes();
            let json: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| fail(format!("GET {uri}: not JSON ({e})")))?;
            Ok::<_, AuditError>((status, json))
        }
    };
    let (status, product_json) = get(format!("/api/products/{product}"), false).await?;
    let (product_json, available) = if status == StatusCode::OK {
        let available = json_u64(&product_json["availability"]["available"]);
        (product_json, available)
    } else {
        (serde_json::Value::Null, None)
    };
    let mut orders: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let mut page = 1u64;
    loop {
        let path = format!("/api/admin/orders?page={page}&page_size=100");
        let (status, list) = get(path, true).await?;
        if status != StatusCode::OK {
            return Err(AuditError::Replica {
                base: base.to_owned(),
                detail: format!("GET /api/admin/orders page {page}: {status} {list}"),
            });
        }
        for item in list["items"].as_array().into_iter().flatten() {
            let cart = item["cart"].as_str().unwrap_or_default().to_owned();
            orders.entry(cart).or_default().push(item["order"].clone());
        }
        if page >= list["totalPages"].as_u64().unwrap_or(0) {
            break;
        }
        page += 1;
    }
    for list in orders.values_mut() {
        list.sort_by_key(|o| json_u64(&o["id"]));
    }
    Ok(ReplicaView {
        base: base.to_owned(),
        product: product_json,
        available,
        orders,
    })
}

/// What the sale was meant to be, and what the shoppers' side counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Expectation {
    pub product: u64,
    /// Units put on sale (and so to be sold).
    pub units: u64,
    /// Shoppers who raced, and how many of them got an answer (accepted or rejected).
    pub shoppers: Option<u64>,
    pub answered: Option<u64>,
    /// Orders the shoppers were told were accepted.
    pub accepted_answers: Option<u64>,
}

/// One line of the audit's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub expected: String,
    pub observed: String,
    pub ok: bool,
}

fn verdict(name: impl Into<String>, expected: impl ToString, observed: impl ToString) -> Check {
    let (expected, observed) = (expected.to_string(), observed.to_string());
    Check {
        name: name.into(),
        ok: expected == observed,
        expected,
        observed,
    }
}

/// "none", or what `describe` says of what was found.
fn none_or(found: &[String], describe: impl FnOnce(&[String]) -> String) -> String {
    if found.is_empty() {
        "none".to_owned()
    } else {
        describe(found)
    }
}

/// Holds the log's summary against the sale's expectation and the replicas' answers.
pub fn check(summary: &Summary, replicas: &[ReplicaView], want: &Expectation) -> Vec<Check> {
    let product = summary
        .products
        .get(&want.product)
        .cloned()
        .unwrap_or_default();
    let mut checks = vec![
        verdict("every event in the log decodes", 0, summary.undecodable),
        verdict("units delivered per the log", want.units, product.delivered),
        verdict("units sold per the log", want.units, product.sold),
        verdict(
            "lowest running stock per the log (never negative)",
            "0 or more",
            if product.lowest_stock >= 0 {
                "0 or more".to_owned()
            } else {
                format!(
                    "{} at offset {:?}",
                    product.lowest_stock, product.oversold_at
                )
            },
        ),
    ];
    let oversold: Vec<String> = summary
        .products
        .iter()
        .filter(|(_, p)| p.lowest_stock < 0)
        .map(|(id, p)| format!("product {id} at offset {:?}", p.oversold_at))
        .collect();
    checks.push(verdict(
        "orders accepted beyond stock (any product)",
        "none",
        none_or(&oversold, |found| found.join(", ")),
    ));
    checks.push(verdict(
        "running stock agrees with the fold's stock",
        product.stock.max(0),
        product.fold_stock,
    ));
    let otherwise = decided_otherwise(summary);
    checks.push(verdict(
        "orders the independent ledger decided otherwise",
        "none",
        none_or(&otherwise, |found| format!("{}: {}", found.len(), found[0])),
    ));
    let of = |m: &BTreeMap<u64, u64>| m.get(&want.product).copied().unwrap_or(0);
    checks.push(verdict(
        "units delivered per the independent ledger",
        want.units,
        of(&summary.ledger.delivered),
    ));
    checks.push(verdict(
        "units sold per the independent ledger",
        want.units,
        of(&summary.ledger.sold),
    ));
    let stock_differs = summary
        .products
        .iter()
        .filter(|(id, p)| summary.ledger.stock.get(id).copied().unwrap_or(0) != p.fold_stock)
        .count();
    checks.push(verdict(
        "products whose fold stock differs from the independent ledger's",
        0,
        stock_differs,
    ));
    checks.push(verdict(
        "accepted orders that charged a price their request did not name",
        "none",
        none_or(&summary.charged_unnamed, |found| found.join("; ")),
    ));
    checks.push(verdict(
        "accepted orders of requests that named no lines (written before orders did; not checked)",
        summary.accepted_unnamed_v1,
        summary.accepted_unnamed_v1,
    ));
    checks.push(verdict(
        "idempotency keys with two accepted orders",
        0,
        summary.duplicate_keys.len(),
    ));
    if let Some(accepted) = want.accepted_answers {
        checks.push(verdict(
            "orders accepted: shoppers' answers = log",
            accepted,
            summary.orders_accepted(),
        ));
    }
    if let Some(shoppers) = want.shoppers {
        checks.push(verdict(
            "shoppers who got an answer",
            shoppers,
            want.answered.unwrap_or(0),
        ));
    }
    for r in replicas {
        checks.push(verdict(
            format!("stock served by {}", r.base),
            0,
            r.available
                .map_or_else(|| "no product".to_owned(), |a| a.to_string()),
        ));
        let logged: BTreeMap<String, Vec<u64>> = summary
            .accepted_by_cart
            .iter()
            .map(|(cart, ids)| {
                let mut ids = ids.clone();
                ids.sort_unstable();
                (cart_hash(cart), ids)
            })
            .collect();
        let mismatched = logged
            .keys()
            .chain(r.orders.keys().filter(|c| !logged.contains_key(*c)))
            .filter(|c| r.order_ids(c) != logged.get(*c).cloned().unwrap_or_default())
            .count();
        checks.push(verdict(
            format!("carts whose orders on {} differ from the log", r.base),
            0,
            mismatched,
        ));
    }
    if let [first, rest @ ..] = replicas {
        for other in rest {
            checks.push(verdict(
                format!("product view {} = {}", first.base, other.base),
                "identical",
                if first.product == other.product {
                    "identical"
                } else {
                    "different"
                },
            ));
            let differing = first
                .orders
                .iter()
                .filter(|(cart, list)| other.orders.get(*cart) != Some(*list))
                .count()
                + other
                    .orders
                    .keys()
                    .filter(|c| !first.orders.contains_key(*c))
                    .count();
            checks.push(verdict(
                format!(
                    "carts whose orders differ, {} vs {}",
                    first.base, other.base
                ),
                0,
                differing,
            ));
        }
    }
    checks
}

/// The checks as an aligned text table with a verdict column.
pub fn table(checks: &[Check]) -> String {
    let w = |f: fn(&Check) -> usize, title: &str| {
        checks.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let (wn, we, wo) = (
        w(|c| c.name.chars().count(), "check"),
        w(|c| c.expected.chars().count(), "expected"),
        w(|c| c.observed.chars().count(), "observed"),
    );
    let mut out = format!(
        "{:<wn$}  {:<we$}  {:<wo$}  result\n",
        "check", "expected", "observed"
    );
    out.push_str(&format!("{}\n", "-".repeat(wn + we + wo + 12)));
    for c in checks {
        out.push_str(&format!(
            "{:<wn$}  {:<we$}  {:<wo$}  {}\n",
            c.name,
            c.expected,
            c.observed,
            if c.ok { "ok" } else { "VIOLATED" }
        ));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::fold::tests::price;
    use crate::catalog::fold::tests::upsert;
    use crate::checkout::fold::tests::{fact, line, order as order_v1, order_shown, shown, stock};

    /// An order for one lamp at €25.00, as the shopper was shown it.
    fn order(key: &str, cart: CartId, version: u64) -> CheckoutEvent {
        order_shown(key, cart, version, vec![shown(7, "Lamp", 2500, 1)])
    }

    const A: CartId = CartId(0xa);
    const B: CartId = CartId(0xb);
    const C: CartId = CartId(0xc);

    pub fn log(events: Vec<CheckoutEvent>) -> Vec<LogEntry> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, e)| LogEntry {
                offset: i as i64,
                event: Some(e),
            })
            .collect()
    }

    /// One product with two units, three carts each holding one.
    fn sale() -> Vec<CheckoutEvent> {
        vec![
            fact(0, upsert(7, "Lamp", "Home", 2500)),
            stock("s1", 7, 2),
            line("la", A, 7, 1),
            line("lb", B, 7, 1),
            line("lc", C, 7, 1),
        ]
    }

    #[test]
    fn a_price_changed_after_it_was_shown_is_rejected_by_fold_and_ledger_alike() {
        let mut events = sale();
        events.extend([fact(1, price(7, 9_999_900)), order("oa", A, 1)]);
        let s = summarise(&log(events.clone()));
        assert_eq!(
            s.orders[0].decision,
            Decision::Rejected {
                reason: "price_changed".into(),
                product_id: 0
            }
        );
        assert!(
            decided_otherwise(&s).is_empty(),
            "{:?}",
            decided_otherwise(&s)
        );
        // Ordered again at the price now shown: accepted and charged that price.
        events.push(order_shown(
            "oa2",
            A,
            1,
            vec![shown(7, "Lamp", 9_999_900, 1)],
        ));
        let s = summarise(&log(events));
        assert_eq!(s.orders_accepted(), 1);
        assert!(decided_otherwise(&s).is_empty() && s.charged_unnamed.is_empty());
    }

    #[test]
    fn a_charge_the_request_did_not_name_fails_the_audit_and_old_orders_are_counted_apart() {
        let mut events = sale();
        events.extend([order("oa", A, 1), order_v1("ob", B, 1)]);
        let mut s = summarise(&log(events));
        assert_eq!(s.orders_accepted(), 2);
        assert!(s.charged_unnamed.is_empty());
        assert_eq!(
            s.accepted_unnamed_v1, 1,
            "the V1 order is counted, not held to a price"
        );
        let lamp = |minor| crate::checkout::fold::OrderLine {
            product_id: 7,
            title: "Lamp".into(),
            unit_price_minor: minor,
            currency: "EUR".into(),
            quantity: 1,
        };
        let named = [shown(7, "Lamp", 2500, 1)];
        assert_eq!(unnamed_charges(&[lamp(2500)], &named).count(), 0);
        s.charged_unnamed = unnamed_charges(&[lamp(9900)], &named).collect();
        assert_eq!(s.charged_unnamed.len(), 1);
        let checks = check(&s, &[], &Expectation::default());
        let named = checks
            .iter()
            .find(|c| c.name.starts_with("accepted orders that charged"))
            .unwrap();
        assert!(!named.ok);
    }

    #[test]
    fn counts_what_was_sold_and_why_the_rest_was_rejected() {
        let mut events = sale();
        events.extend([order("oa", A, 1), order("ob", B, 1), order("oc", C, 1)]);
        let s = summarise(&log(events));
        let p = &s.products[&7];
        assert_eq!((p.delivered, p.sold, p.orders_accepted), (2, 2, 2));
        assert_eq!((p.stock, p.lowest_stock, p.fold_stock), (0, 0, 0));
        assert_eq!(p.orders_rejected.get("out_of_stock"), Some(&1));
        assert_eq!(s.orders_accepted(), 2);
        assert_eq!(s.orders[2].cart, C.to_string());
        assert_eq!(
            s.orders[2].decision,
            Decision::Rejected {
                reason: "out_of_stock".into(),
                product_id: 7
            }
        );
        assert!(s.duplicate_keys.is_empty());
        assert_eq!(s.accepted_by_cart[&A.to_string()], vec![1]);
        assert_eq!(s.ordering_carts(), vec![A, B, C]);
    }

    #[test]
    fn a_retried_request_in_the_log_is_a_repeat_not_a_second_order() {
        let mut events = sale();
        events.extend([order("oa", A, 1), order("oa", A, 1), stock("s1", 7, 2)]);
        let s = summarise(&log(events));
        assert_eq!(s.orders[1].decision, Decision::Repeat);
        assert_eq!(s.products[&7].sold, 1);
        // The repeated delivery counts once too.
        assert_eq!(s.products[&7].delivered, 2);
        assert!(s.duplicate_keys.is_empty());
    }

    #[test]
    fn the_same_key_accepted_for_two_carts_is_reported() {
        let mut events = sale();
        events.extend([order("same", A, 1), order("same", B, 1)]);
        let s = summarise(&log(events));
        assert_eq!(s.duplicate_keys.get("same"), Some(&2));
        let checks = check(
            &s,
            &[],
            &Expectation {
                product: 7,
                units: 2,
                ..Default::default()
            },
        );
        let dup = checks
            .iter()
            .find(|c| c.name.starts_with("idempotency"))
            .unwrap();
        assert!(!dup.ok, "{dup:?}");
    }

    #[test]
    fn a_cart_changed_rejection_names_no_product_and_undecodable_records_are_counted() {
        let mut events = log(sale());
        events.push(LogEntry {
            offset: 5,
            event: Some(order("old", A, 0)),
        });
        events.push(LogEntry {
            offset: 6,
            event: None,
        });
        let s = summarise(&events);
        assert_eq!(s.orders_rejected().get("cart_changed"), Some(&1));
        assert!(s.products[&7].orders_rejected.is_empty());
        assert_eq!((s.events, s.undecodable), (7, 1));
    }

    fn replica(base: &str, available: u64, orders: &[(CartId, &[u64])]) -> ReplicaView {
        ReplicaView {
            base: base.into(),
            product: serde_json::json!({"id": "7", "availability": {"available": available.to_string()}}),
            available: Some(available),
            orders: orders
                .iter()
                .map(|(c, ids)| {
                    let list: Vec<_> = ids
                        .iter()
                        .map(|i| serde_json::json!({"id": i.to_string()}))
                        .collect();
                    (cart_hash(&c.to_string()), list)
                })
                .collect(),
        }
    }

    fn sold_out() -> Summary {
        let mut events = sale();
        events.extend([order("oa", A, 1), order("ob", B, 1), order("oc", C, 1)]);
        summarise(&log(events))
    }

    fn want() -> Expectation {
        Expectation {
            product: 7,
            units: 2,
            shoppers: Some(3),
            answered: Some(3),
            accepted_answers: Some(2),
        }
    }

    fn failed(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn a_clean_sale_passes_every_check() {
        let served: &[(CartId, &[u64])] = &[(A, &[1]), (B, &[2]), (C, &[])];
        let checks = check(
            &sold_out(),
            &[replica("r1", 0, served), replica("r2", 0, served)],
            &want(),
        );
        assert!(checks.iter().all(|c| c.ok), "{}", table(&checks));
        assert!(table(&checks).contains("units sold per the log"));
    }

    #[test]
    fn a_replica_that_disagrees_or_a_shopper_without_answer_fails() {
        let served: &[(CartId, &[u64])] = &[(A, &[1]), (B, &[2]), (C, &[])];
        let lagging: &[(CartId, &[u64])] = &[(A, &[1]), (B, &[]), (C, &[])];
        let mut w = want();
        w.answered = Some(2);
        let checks = check(
            &sold_out(),
            &[replica("r1", 0, served), replica("r2", 1, lagging)],
            &w,
        );
        let failed = failed(&checks);
        assert_eq!(
            failed,
            vec![
                "shoppers who got an answer",
                "stock served by r2",
                "carts whose orders on r2 differ from the log",
                "product view r1 = r2",
                "carts whose orders differ, r1 vs r2",
            ]
        );
    }

    /// What a fold that oversells would report: the last shopper's out-of-stock order accepted.
    /// The independent ledger does not share the bug, so the audit fails.
    #[test]
    fn an_oversold_sale_fails_the_audit_by_the_independent_ledger() {
        let mut summary = sold_out();
        let last = summary.orders.last_mut().unwrap();
        assert!(matches!(last.decision, Decision::Rejected { .. }));
        last.decision = Decision::Accepted {
            order_id: 3,
            lines: vec![(7, 1)],
        };
        let offset = last.offset;
        summary.products.get_mut(&7).unwrap().sell(1, offset);
        summary.accepted_by_cart.insert(C.to_string(), vec![3]);
        let served: &[(CartId, &[u64])] = &[(A, &[1]), (B, &[2]), (C, &[3])];
        let mut w = want();
        w.accepted_answers = Some(3);
        let checks = check(&summary, &[replica("r1", 0, served)], &w);
        let failed = failed(&checks);
        assert_eq!(
            failed,
            vec![
                "units sold per the log",
                "lowest running stock per the log (never negative)",
                "orders accepted beyond stock (any product)",
                "orders the independent ledger decided otherwise",
            ],
            "{}",
            table(&checks)
        );
        // And the ledger alone, whatever the fold says, sold what was delivered.
        assert_eq!(
            (summary.ledger.delivered[&7], summary.ledger.sold[&7]),
            (2, 2)
        );
    }

    #[test]
    fn a_sale_beyond_stock_shows_as_negative_stock_at_its_offset() {
        let mut p = ProductLedger::default();
        p.deliver(1);
        p.sell(1, 10);
        assert_eq!((p.stock, p.lowest_stock, p.oversold_at), (0, 0, None));
        p.sell(2, 11);
        p.deliver(5);
        p.sell(1, 13);
        assert_eq!((p.stock, p.lowest_stock, p.oversold_at), (2, -2, Some(11)));
        assert_eq!((p.delivered, p.sold, p.orders_accepted), (6, 4, 3));
    }
}
