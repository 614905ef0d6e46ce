//! The steady load of a chaos scenario, as browsers and an operator would send it: shoppers
//! that set cart lines and place orders of products with little stock, an operator who
//! delivers a few units now and then, and a reader who keeps reading a product and a cart.
//! Every command has its own Idempotency-Key and is recorded with its answer; a command that
//! fails for a reason that may be passing (no connection, 503, no answer in time) is sent again
//! with the same key, as the app does, until it gets an answer that settles it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use tokio::task::JoinHandle;

use crate::support::{ADMIN_TOKEN, Shopper};

/// How big the load is.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Length of each phase of a scenario (before, during and after a fault).
    pub phase: Duration,
    pub shoppers: usize,
    /// Products 1..=products, each with `stock` units to begin with.
    pub products: u64,
    pub stock: u32,
}

/// How a client waits and retries.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// How long the first attempt may take before the client gives up on it and sends the same
    /// command again; every further attempt may take twice as long, up to 8 s.
    pub first_timeout: Duration,
    /// Give up on a command that has no settling answer this long after it was first sent.
    pub deadline: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Line {
        product: u64,
        quantity: u32,
    },
    /// The cart as the shopper saw it: its version and lines.
    Order {
        cart_version: u64,
        lines: Vec<shared::proto::CartLineView>,
    },
    Delivery {
        product: u64,
        quantity: u32,
    },
}

/// The answer that settled a command, if any.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// 2xx. For an order, its id.
    Acked { status: u16, order_id: Option<u64> },
    /// 409: an order the shop refused (out of stock, cart changed).
    Rejected,
    /// Another status that no retry changes (a 4xx the load should never cause).
    Failed { status: u16, body: String },
    /// Still unsettled at the deadline: the last failure.
    Unresolved(String),
}

#[derive(Clone, Debug)]
pub struct Record {
    /// The cart cookie the command was sent with; None for the operator's.
    pub cart: Option<String>,
    pub key: String,
    pub kind: Kind,
    pub attempts: u32,
    pub timeouts: u32,
    pub unavailable: u32,
    pub connection_errors: u32,
    pub answer: Answer,
    /// A line command that, by the shopper's own account of its cart (it is the cart's only
    /// writer), changes nothing: the shop answers it without writing an event.
    pub no_op: bool,
}

impl Record {
    pub fn acked(&self) -> bool {
        matches!(self.answer, Answer::Acked { .. })
    }

    pub fn order_id(&self) -> Option<u64> {
        match self.answer {
            Answer::Acked { order_id, .. } => order_id,
            _ => None,
        }
    }

    /// The request: method, path, JSON body.
    pub fn request(&self) -> (Method, String, Vec<u8>) {
        match &self.kind {
            Kind::Line { product, quantity } => (
                Method::PUT,
                format!("/api/cart/lines/{product}"),
                serde_json::to_vec(&serde_json::json!({ "quantity": quantity })).unwrap(),
            ),
            Kind::Order {
                cart_version,
                lines,
            } => (
                Method::POST,
                "/api/orders".into(),
                crate::support::order_body(*cart_version, lines),
            ),
            Kind::Delivery { product, quantity } => (
                Method::POST,
                "/api/admin/stock".into(),
                serde_json::to_vec(
                    &serde_json::json!({ "productId": product.to_string(), "quantity": quantity }),
                )
                .unwrap(),
            ),
        }
    }
}

/// One attempt of a recorded command, within `timeout`.
pub async fn attempt(
    client: &mut Shopper,
    record: &Record,
    timeout: Duration,
) -> Result<Result<(StatusCode, Bytes), String>, tokio::time::error::Elapsed> {
    let (method, path, body) = record.request();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let mut headers = vec![
        ("content-type", "application/json"),
        ("accept", "application/x-protobuf"),
        ("idempotency-key", record.key.as_str()),
    ];
    if record.cart.is_none() {
        headers.push(("authorization", auth.as_str()));
    }
    tokio::time::timeout(timeout, client.try_send(method, &path, &headers, body))
        .await
        .map(|r| r.map(|reply| (reply.status, reply.body)))
}

/// The answer a status settles, if it settles one.
pub fn settled(record: &Record, status: StatusCode, body: &Bytes) -> Option<Answer> {
    if status.is_success() {
        let order_id = match record.kind {
            Kind::Order { .. } => Some(
                <shared::proto::OrderView as prost::Message>::decode(body.clone())
                    .expect("an OrderView")
                    .id,
            ),
            _ => None,
        };
        return Some(Answer::Acked {
            status: status.as_u16(),
            order_id,
        });
    }
    match status {
        StatusCode::CONFLICT => Some(Answer::Rejected),
        StatusCode::SERVICE_UNAVAILABLE => None,
        other => Some(Answer::Failed {
            status: other.as_u16(),
            body: String::from_utf8_lossy(body).into_owned(),
        }),
    }
}

/// Sends a command until an answer settles it (or the deadline passes), with the same key.
pub async fn run(client: &mut Shopper, record: &mut Record, policy: Policy) {
    let started = Instant::now();
    let mut timeout = policy.first_timeout;
    loop {
        record.attempts += 1;
        let failure = match attempt(client, record, timeout).await {
            Err(_) => {
                record.timeouts += 1;
                timeout = (timeout * 2).min(Duration::from_secs(8));
                "no answer in time".to_owned()
            }
            Ok(Err(e)) => {
                record.connection_errors += 1;
                e
            }
            Ok(Ok((status, body))) => match settled(record, status, &body) {
                Some(answer) => {
                    record.answer = answer;
                    return;
                }
                None => {
                    record.unavailable += 1;
                    format!("{status}: {}", String::from_utf8_lossy(&body))
                }
            },
        };
        if started.elapsed() > policy.deadline {
            record.answer = Answer::Unresolved(failure);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// xorshift64*: enough randomness for a load, reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A client with a cart of its own: a cookie as the server issues it (the shop runs on loopback
/// with the development key), minted here so every attempt of the first command names one cart.
pub fn cart_client(addr: SocketAddr) -> (String, Shopper) {
    let cart = backend::http::cookie::CartKeys::development().issue().value;
    let mut client = Shopper::new(addr);
    client.cookie = Some(format!("cart={cart}"));
    (cart, client)
}

/// The cart as the shopper sees it, read again until the shop answers.
async fn cart_view(client: &mut Shopper, policy: Policy) -> Option<shared::proto::CartView> {
    let started = Instant::now();
    while started.elapsed() < policy.deadline {
        let read = tokio::time::timeout(
            Duration::from_secs(5),
            client.try_send(
                Method::GET,
                "/api/cart",
                &[("accept", "application/x-protobuf")],
                Bytes::new(),
            ),
        )
        .await;
        if let Ok(Ok(r)) = read
            && r.status == StatusCode::OK
        {
            return Some(r.decode::<shared::proto::CartView>());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// One shopper: two line changes, then an order of what the cart holds, again and again.
async fn shopper(
    addr: SocketAddr,
    n: usize,
    settings: Settings,
    policy: Policy,
    stop: Arc<AtomicBool>,
) -> (String, Vec<Record>) {
    let (cart, mut client) = cart_client(addr);
    let mut rng = Rng::new(n as u64 + 1);
    let mut records = vec![];
    let mut changes = 0;
    // The cart as this shopper's acknowledged commands left it; None once a command went
    // unanswered (its effect is then unknown).
    let mut known: Option<std::collections::BTreeMap<u64, u32>> = Some(Default::default());
    while !stop.load(Ordering::Relaxed) {
        let kind = if changes >= 2 {
            match cart_view(&mut client, policy).await {
                Some(view) => Kind::Order {
                    cart_version: view.version,
                    lines: view.lines,
                },
                None => continue,
            }
        } else {
            Kind::Line {
                product: rng.below(settings.products) + 1,
                // 0 removes the line.
                quantity: rng.below(3) as u32,
            }
        };
        if known.is_none() && matches!(kind, Kind::Line { .. }) {
            // After a command without an answer its effect is unknown: read the cart again
            // (this shopper is its only writer, so what it shows is exact).
            known = cart_view(&mut client, policy)
                .await
                .map(|v| v.lines.iter().map(|l| (l.product_id, l.quantity)).collect());
        }
        let no_op = match (&kind, &known) {
            (Kind::Line { product, quantity }, Some(cart)) => {
                cart.get(product).copied().unwrap_or(0) == *quantity
            }
            _ => false,
        };
        let mut record = Record {
            cart: Some(cart.clone()),
            key: format!("shopper{n}-{}", records.len() + 1),
            kind,
            attempts: 0,
            timeouts: 0,
            unavailable: 0,
            connection_errors: 0,
            answer: Answer::Unresolved("not sent".into()),
            no_op,
        };
        run(&mut client, &mut record, policy).await;
        match (&record.kind, &record.answer, &mut known) {
            (_, Answer::Unresolved(_) | Answer::Failed { .. }, known) => *known = None,
            (Kind::Line { product, quantity }, Answer::Acked { .. }, Some(cart)) => {
                match quantity {
                    0 => cart.remove(product),
                    q => cart.insert(*product, *q),
                };
            }
            (Kind::Order { .. }, Answer::Acked { .. }, Some(cart)) => cart.clear(),
            _ => {}
        }
        changes = match record.kind {
            Kind::Order { .. } => 0,
            _ => changes + 1,
        };
        records.push(record);
        tokio::time::sleep(Duration::from_millis(5 + rng.below(20))).await;
    }
    (cart, records)
}

/// The operator: a small stock delivery every few hundred milliseconds.
async fn operator(
    addr: SocketAddr,
    settings: Settings,
    policy: Policy,
    stop: Arc<AtomicBool>,
) -> Vec<Record> {
    let mut client = Shopper::new(addr);
    let mut rng = Rng::new(0xd311_4e77);
    let mut records = vec![];
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(150 + rng.below(200))).await;
        let mut record = Record {
            cart: None,
            key: format!("delivery-{}", records.len() + 1),
            kind: Kind::Delivery {
                product: rng.below(settings.products) + 1,
                quantity: rng.below(3) as u32 + 1,
            },
            attempts: 0,
            timeouts: 0,
            unavailable: 0,
            connection_errors: 0,
            answer: Answer::Unresolved("not sent".into()),
            no_op: false,
        };
        run(&mut client, &mut record, policy).await;
        records.push(record);
    }
    records
}

/// Reads attempted and answered 200 while the load ran.
#[derive(Clone, Debug, Default)]
pub struct Reads {
    pub ok: u64,
    pub total: u64,
    pub first_failure: Option<String>,
}

/// The reader: a product page and a cart, over and over, each read given 5 s.
async fn reader(addr: SocketAddr, settings: Settings, stop: Arc<AtomicBool>) -> Reads {
    let (_, mut client) = cart_client(addr);
    let mut rng = Rng::new(0x4ead);
    let mut reads = Reads::default();
    while !stop.load(Ordering::Relaxed) {
        let path = if reads.total % 2 == 0 {
            format!("/api/products/{}", rng.below(settings.products) + 1)
        } else {
            "/api/cart".to_owned()
        };
        reads.total += 1;
        let read = tokio::time::timeout(
            Duration::from_secs(5),
            client.try_send(Method::GET, &path, &[], Bytes::new()),
        )
        .await;
        match read {
            Ok(Ok(r)) if r.status == StatusCode::OK => reads.ok += 1,
            other => {
                let what = match other {
                    Ok(Ok(r)) => format!("{path}: {}", r.status),
                    Ok(Err(e)) => format!("{path}: {e}"),
                    Err(_) => format!("{path}: no answer within 5 s"),
                };
                reads.first_failure.get_or_insert(what);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reads
}

/// The running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    shoppers: Vec<JoinHandle<(String, Vec<Record>)>>,
    operator: JoinHandle<Vec<Record>>,
    reader: JoinHandle<Reads>,
}

/// What the load sent and saw.
pub struct Sent {
    /// Each shopper's cart and commands.
    pub carts: Vec<(String, Vec<Record>)>,
    pub deliveries: Vec<Record>,
    pub reads: Reads,
}

impl Sent {
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.carts
            .iter()
            .flat_map(|(_, r)| r.iter())
            .chain(self.deliveries.iter())
    }
}

impl Load {
    pub fn start(addr: SocketAddr, settings: &Settings, policy: Policy) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let shoppers = (0..settings.shoppers)
            .map(|n| tokio::spawn(shopper(addr, n, settings.clone(), policy, stop.clone())))
            .collect();
        Load {
            operator: tokio::spawn(operator(addr, settings.clone(), policy, stop.clone())),
            reader: tokio::spawn(reader(addr, settings.clone(), stop.clone())),
            shoppers,
            stop,
        }
    }

    /// Stops sending new commands and waits for the ones in flight to settle.
    pub async fn finish(self) -> Sent {
        self.stop.store(true, Ordering::Relaxed);
        let mut carts = vec![];
        for s in self.shoppers {
            carts.push(s.await.expect("a shopper"));
        }
        Sent {
            carts,
            deliveries: self.operator.await.expect("the operator"),
            reads: self.reader.await.expect("the reader"),
        }
    }
}
