//! Live updates: `GET /api/ws` upgrades to a websocket on which the server pushes
//! `shop.LiveFrame`s (binary, one per message) and the app sends `shop.LiveRequest`s naming the
//! products it shows.
//!
//! - **What changed.** A [`Collector`] observes the checkout writer: checkout's log holds every
//!   fact a frame shows (bridged catalog facts, stock, cart lines, orders). It gathers what each
//!   batch touched and, once the batch is published, announces it as one [`Batch`] on a broadcast
//!   channel. The writer never waits for a socket.
//! - **Frames.** Each socket's task picks what concerns it (its watched products, the cart of its
//!   cart cookie and that cart's orders) and builds the frames from the published models with the
//!   views the HTTP reads use, so a frame never shows what a read could not.
//! - **Bounds.** A socket that missed announcements gets a `Resync` frame. Frames wait for the
//!   socket in a bounded queue; a client that lets it fill is disconnected (1013) instead of
//!   slowing anyone else.
//! - **Keepalive and shutdown.** The server pings every 20 s and closes a socket it has heard
//!   nothing from for 60 s; at shutdown every socket is closed with 1001.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_tungstenite::HyperWebsocketStream;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use hyper_tungstenite::tungstenite::{self, Message};
use prost::Message as _;
use shared::ids::CartId;
use shared::proto::{
    CheckoutEvent, LiveFrame, LiveRequest, OrderRejectedLive, ProductLive, Resync, catalog_event,
    checkout_event::Event, live_frame::Frame,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::app::App;
use crate::catalog::query::price;
use crate::catalog::{Catalog, CatalogFold};
use crate::checkout::fold::cart_command_key;
use crate::checkout::query::{cart_view, order_view, product_availability};
use crate::checkout::{Checkout, CheckoutFold, Outcome};
use crate::engine::{Applied, Context, Observer};
use crate::http::cart_cookie;
use crate::http::wire::{ApiError, Format, Resp};
use crate::metrics::LiveMetrics;

/// Most products one socket may watch; a request naming more closes it with 1008.
pub const MAX_WATCHED: usize = 500;
/// Largest `LiveRequest` read (500 ids take at most about 5.5 KB).
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// Published batches a socket may fall behind before it is told to resync.
const ANNOUNCED_BATCHES: usize = 1024;
const PING_EVERY: Duration = Duration::from_secs(20);
const SILENT_LIMIT: Duration = Duration::from_secs(60);
/// How long a closing handshake may take before the connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// How long product frames wait for the catalog to publish what checkout's copies announce.
const CATALOG_WAIT: Duration = Duration::from_secs(2);

/// One thing an applied checkout event changed, as far as frames are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched {
    /// Its price, stock or sale state may have changed.
    Product(u64),
    Cart(CartId),
    Order(OrderDecided),
}

/// An order request that was decided (placed or rejected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDecided {
    pub cart: CartId,
    /// The command's scoped idempotency key: checkout records the outcome under it.
    pub key: String,
    /// The cart version the request named.
    pub cart_version: u64,
}

/// What an applied checkout event touched; `model` is the model right after it (not published
/// yet), for what the event itself does not name: an order's products.
pub fn touched(event: &CheckoutEvent, model: &Checkout, into: &mut Vec<Touched>) {
    match &event.event {
        Some(Event::CatalogFactV1(fact)) => {
            let product = match fact.event.as_ref().and_then(|e| e.event.as_ref()) {
                Some(catalog_event::Event::ProductUpsertedV1(e)) => e.product_id,
                Some(catalog_event::Event::PriceChangedV1(e)) => e.product_id,
                Some(catalog_event::Event::ProductDisabledV1(e)) => e.product_id,
                None => return,
            };
            into.push(Touched::Product(product));
        }
        Some(Event::StockDeliveredV1(e)) => into.push(Touched::Product(e.product_id)),
        Some(Event::CartLineSetV1(e)) => {
            if let Ok(cart) = e.cart_id.parse() {
                into.push(Touched::Cart(cart));
            }
        }
        Some(Event::OrderRequestedV1(e)) => {
            let Ok(cart) = e.cart_id.parse::<CartId>() else {
                return;
            };
            let key = event
                .meta
                .as_ref()
                .map(|m| cart_command_key(cart, &m.idempotency_key))
                .unwrap_or_default();
            if let Some(Outcome::OrderPlaced(id)) = model.command(&key).map(|r| &r.outcome) {
                // Placing empties the cart and takes its lines' stock.
                into.push(Touched::Cart(cart));
                if let Some(order) = model.order(*id) {
                    into.extend(order.lines.iter().map(|l| Touched::Product(l.product_id)));
                }
            }
            into.push(Touched::Order(OrderDecided {
                cart,
                key,
                cart_version: e.cart_version,
            }));
        }
        None => {}
    }
}

/// What one published batch of checkout events touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Sorted, without duplicates.
    pub products: Vec<u64>,
    /// Sorted, without duplicates.
    pub carts: Vec<CartId>,
    /// In log order.
    pub orders: Vec<OrderDecided>,
    /// The newest catalog offset among the batch's bridged copies. The catalog applies an event
    /// before it is copied, but may publish it a moment after checkout applied the copy; product
    /// frames wait until its model includes this offset.
    pub catalog_offset: Option<i64>,
}

impl Batch {
    pub fn new(touched: impl IntoIterator<Item = Touched>, catalog_offset: Option<i64>) -> Batch {
        let mut batch = Batch {
            catalog_offset,
            ..Batch::default()
        };
        for t in touched {
            match t {
                Touched::Product(id) => batch.products.push(id),
                Touched::Cart(cart) => batch.carts.push(cart),
                Touched::Order(order) => batch.orders.push(order),
            }
        }
        batch.products.sort_unstable();
        batch.products.dedup();
        batch.carts.sort_unstable();
        batch.carts.dedup();
        batch
    }

    pub fn touches_product(&self, id: u64) -> bool {
        self.products.binary_search(&id).is_ok()
    }

    pub fn touches_cart(&self, cart: CartId) -> bool {
        self.carts.binary_search(&cart).is_ok()
    }
}

/// The checkout writer's observer: gathers what a batch touched, announces it once published.
pub struct Collector {
    /// False during the start-up replay: nobody can be watching what happened before.
    live: bool,
    touched: Vec<Touched>,
    catalog_offset: Option<i64>,
    batches: broadcast::Sender<Arc<Batch>>,
}

impl Observer<CheckoutFold> for Collector {
    fn event(&mut self, _: i64, event: Option<(&CheckoutEvent, Applied)>, model: &Checkout) {
        // Ignored events (duplicates, copies already applied) change nothing a frame shows.
        let (true, Some((event, Applied::Changed))) = (self.live, event) else {
            return;
        };
        touched(event, model, &mut self.touched);
        if let Some(Event::CatalogFactV1(fact)) = &event.event {
            self.catalog_offset = self.catalog_offset.max(Some(fact.source_offset));
        }
    }

    fn published(&mut self, _: i64, replay: bool) {
        if replay {
            self.live = true;
            return;
        }
        if self.touched.is_empty() {
            return;
        }
        let batch = Batch::new(self.touched.drain(..), self.catalog_offset.take());
        // A send fails only when no socket is open: nothing to tell.
        let _ = self.batches.send(Arc::new(batch));
    }
}

/// A product's live fields from the current models; None for a product the catalog never had.
pub fn product_live(
    catalog: &Catalog,
    checkout: &Checkout,
    id: u64,
    low_threshold: u64,
) -> Option<ProductLive> {
    let p = catalog.product(id)?;
    Some(ProductLive {
        product_id: id,
        price: Some(price(p)),
        availability: Some(product_availability(checkout, id, low_threshold)),
        for_sale: !p.disabled,
    })
}

/// The cart's frame; None (logged) if its totals cannot be computed, as a read would fail.
pub fn cart_frame(checkout: &Checkout, cart: CartId, low_threshold: u64) -> Option<LiveFrame> {
    match cart_view(checkout, cart, low_threshold) {
        Ok(view) => Some(frame(Frame::Cart(view))),
        Err(e) => {
            tracing::warn!(%e, "cannot price a cart for its live frame");
            None
        }
    }
}

/// The frame of a decided order: the order, or why it was rejected.
pub fn order_frame(checkout: &Checkout, order: &OrderDecided) -> Option<LiveFrame> {
    match &checkout.command(&order.key)?.outcome {
        Outcome::OrderPlaced(id) => {
            Some(frame(Frame::OrderPlaced(order_view(checkout.order(*id)?))))
        }
        Outcome::OrderRejected(r) => Some(frame(Frame::OrderRejected(OrderRejectedLive {
            rejection: Some(*r),
            cart_version: order.cart_version,
        }))),
        _ => None,
    }
}

/// The frames a batch means for one socket: its watched products (by id), then its cart's
/// decided orders, then its cart if it changed or a product in it did.
pub fn frames_for(
    batch: &Batch,
    watched: &HashSet<u64>,
    cart: Option<CartId>,
    catalog: &Catalog,
    checkout: &Checkout,
    low_threshold: u64,
) -> Vec<LiveFrame> {
    let mut products: Vec<u64> = if watched.len() < batch.products.len() {
        let mut ids: Vec<u64> = watched
            .iter()
            .copied()
            .filter(|&id| batch.touches_product(id))
            .collect();
        ids.sort_unstable();
        ids
    } else {
        batch.products.clone()
    };
    products.retain(|id| watched.contains(id));
    let mut frames: Vec<LiveFrame> = products
        .into_iter()
        .filter_map(|id| product_live(catalog, checkout, id, low_threshold))
        .map(|p| frame(Frame::Product(p)))
        .collect();
    if let Some(cart) = cart {
        frames.extend(
            batch
                .orders
                .iter()
                .filter(|o| o.cart == cart)
                .filter_map(|o| order_frame(checkout, o)),
        );
        let lines_touched = checkout
            .cart(cart)
            .is_some_and(|c| c.lines.iter().any(|&(p, _)| batch.touches_product(p)));
        if batch.touches_cart(cart) || lines_touched {
            frames.extend(cart_frame(checkout, cart, low_threshold));
        }
    }
    frames
}

fn frame(f: Frame) -> LiveFrame {
    LiveFrame { frame: Some(f) }
}

/// A frame's kind, as the `kind` label of `shop_live_frames_sent_total`.
pub fn kind(f: &LiveFrame) -> &'static str {
    match &f.frame {
        Some(Frame::Product(_)) => "product",
        Some(Frame::Cart(_)) => "cart",
        Some(Frame::OrderPlaced(_)) => "order_placed",
        Some(Frame::OrderRejected(_)) => "order_rejected",
        Some(Frame::Resync(_)) => "resync",
        None => "empty",
    }
}

/// The live-update hub of a running shop: the announcements and the open sockets.
#[derive(Default)]
pub struct Live {
    hub: Arc<Hub>,
}

struct Hub {
    batches: broadcast::Sender<Arc<Batch>>,
    /// Becomes true at shutdown: every socket closes.
    closing: watch::Sender<bool>,
    /// Sockets being upgraded or open.
    open: watch::Sender<usize>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            batches: broadcast::channel(ANNOUNCED_BATCHES).0,
            closing: watch::channel(false).0,
            open: watch::channel(0).0,
        }
    }
}

impl Live {
    /// The observer for the checkout writer.
    pub fn collector(&self) -> Box<dyn Observer<CheckoutFold>> {
        Box::new(Collector {
            live: false,
            touched: Vec::new(),
            catalog_offset: None,
            batches: self.hub.batches.clone(),
        })
    }

    /// Closes every socket with 1001 and waits until they are gone, for at most `limit`.
    pub async fn close_all(&self, limit: Duration) {
        self.hub.closing.send_replace(true);
        let mut open = self.hub.open.subscribe();
        if tokio::time::timeout(limit, open.wait_for(|&n| n == 0))
            .await
            .is_err()
        {
            tracing::warn!(
                open = *open.borrow(),
                "live-update sockets still open at shutdown; dropping them"
            );
        }
    }
}

/// What a socket's task reads: the contexts, its settings and the hub.
#[derive(Clone)]
struct Sources {
    catalog: Context<CatalogFold>,
    checkout: Context<CheckoutFold>,
    low_threshold: u64,
    buffer: usize,
    metrics: LiveMetrics,
    hub: Arc<Hub>,
}

/// Counts a socket as open from its upgrade until its task ends.
struct OpenSocket(Sources);

impl OpenSocket {
    fn new(sources: Sources) -> OpenSocket {
        sources.hub.open.send_modify(|n| *n += 1);
        sources.metrics.sockets.inc();
        OpenSocket(sources)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.hub.open.send_modify(|n| *n -= 1);
        self.0.metrics.sockets.dec();
    }
}

/// `GET /api/ws`: answers the upgrade and starts the socket's task.
pub fn upgrade(app: &App, req: Request<Incoming>) -> Result<Resp, ApiError> {
    if !hyper_tungstenite::is_upgrade_request(&req) {
        let mut resp = ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "/api/ws is a websocket: connect with Connection: Upgrade and Upgrade: websocket",
        )
        .into_response(Format::accepted(req.headers()));
        resp.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return Ok(resp);
    }
    if *app.live.hub.closing.borrow() {
        return Err(ApiError::unavailable("the server is shutting down", 1));
    }
    let cart = cart_cookie::read(req.headers());
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_REQUEST_BYTES))
        .max_frame_size(Some(MAX_REQUEST_BYTES));
    let (resp, socket) = hyper_tungstenite::upgrade(req, Some(config))
        .map_err(|e| ApiError::bad_request(format!("not a websocket upgrade: {e}")))?;
    let open = OpenSocket::new(Sources {
        catalog: app.catalog.clone(),
        checkout: app.checkout.clone(),
        low_threshold: app.config.low_stock_threshold,
        buffer: app.config.live_socket_buffer as usize,
        metrics: app.metrics.live.clone(),
        hub: app.live.hub.clone(),
    });
    tokio::spawn(async move {
        match socket.await {
            Ok(socket) => run(open.0.clone(), cart, socket).await,
            Err(e) => tracing::debug!(%e, "websocket upgrade failed"),
        }
        drop(open);
    });
    Ok(resp)
}

/// What waits in a socket's queue.
enum Out {
    Frame(&'static str, Bytes),
    Ping,
}

/// Why a socket's task ends.
enum End {
    /// The client closed, or the connection broke.
    Gone,
    /// The client fell a whole queue behind.
    Slow,
    /// The server closes with this code and reason.
    Close(CloseCode, String),
}

/// One socket's state on the server.
struct Session {
    sources: Sources,
    cart: Option<CartId>,
    watched: HashSet<u64>,
    /// Frames waiting for the socket; bounded by `LIVE_SOCKET_BUFFER`.
    queue: mpsc::Sender<Out>,
}

/// Serves one socket until it ends, then closes it.
async fn run(sources: Sources, cart: Option<CartId>, socket: HyperWebsocketStream) {
    let (sink, mut stream) = socket.split();
    let (queue, queued) = mpsc::channel(sources.buffer);
    let (close, close_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write(sink, queued, close_rx, sources.metrics.clone()));
    // Subscribed before the first frame is built: nothing published after it is missed.
    let mut batches = sources.hub.batches.subscribe();
    let mut closing = sources.hub.closing.subscribe();
    let mut session = Session {
        sources,
        cart,
        watched: HashSet::new(),
        queue,
    };
    let end = match session.greet() {
        Ok(()) => session.serve(&mut stream, &mut batches, &mut closing).await,
        Err(end) => end,
    };
    if let End::Slow = end {
        session.sources.metrics.slow_clients_dropped.inc();
    }
    // Dropping the queue's sender lets the writer see its end.
    drop(session);
    let (frame, wait_for_client) = match end {
        End::Gone => (None, true),
        End::Slow => (
            Some(close_frame(CloseCode::Again, "too slow: reconnect")),
            false,
        ),
        End::Close(code, reason) => (Some(close_frame(code, &reason)), true),
    };
    let _ = close.send(frame);
    if wait_for_client {
        // Reading on completes the closing handshake (tungstenite answers a close itself).
        let _ = tokio::time::timeout(CLOSE_WAIT, async { while stream.next().await.is_some() {} })
            .await;
    }
    if tokio::time::timeout(CLOSE_WAIT * 2, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

impl Session {
    /// The cart as it is now, so a change between the app's read and this socket is not missed.
    fn greet(&self) -> Result<(), End> {
        if let Some(cart) = self.cart
            && let Some(f) = cart_frame(
                &self.sources.checkout.model(),
                cart,
                self.sources.low_threshold,
            )
        {
            self.push(&f)?;
        }
        Ok(())
    }

    async fn serve(
        &mut self,
        stream: &mut futures_util::stream::SplitStream<HyperWebsocketStream>,
        batches: &mut broadcast::Receiver<Arc<Batch>>,
        closing: &mut watch::Receiver<bool>,
    ) -> End {
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        loop {
            let step = tokio::select! {
                _ = async { let _ = closing.wait_for(|&c| c).await; } => {
                    Err(End::Close(CloseCode::Away, "the server is shutting down".into()))
                }
                batch = batches.recv() => match batch {
                    Ok(batch) => self.on_batch(&batch).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "live socket fell behind; resync");
                        self.sources.metrics.resyncs.inc();
                        self.push(&frame(Frame::Resync(Resync {})))
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        Err(End::Close(CloseCode::Away, "the server is shutting down".into()))
                    }
                },
                message = stream.next() => {
                    heard = Instant::now();
                    self.on_message(message)
                }
                _ = ping.tick() => {
                    if heard.elapsed() >= SILENT_LIMIT {
                        Err(End::Close(CloseCode::Away, "no message for 60 s".into()))
                    } else {
                        self.enqueue(Out::Ping)
                    }
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn on_batch(&mut self, batch: &Batch) -> Result<(), End> {
        let s = &self.sources;
        if let Some(offset) = batch.catalog_offset
            && !self.watched.is_empty()
            && s.catalog.applied_until() <= offset
        {
            let _ = s.catalog.wait_for(offset, CATALOG_WAIT).await;
        }
        let frames = frames_for(
            batch,
            &self.watched,
            self.cart,
            &s.catalog.model(),
            &s.checkout.model(),
            s.low_threshold,
        );
        frames.iter().try_for_each(|f| self.push(f))
    }

    fn on_message(
        &mut self,
        message: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<(), End> {
        match message {
            Some(Ok(Message::Binary(bytes))) => self.on_request(&bytes),
            Some(Ok(Message::Text(_))) => Err(End::Close(
                CloseCode::Unsupported,
                "send binary shop.LiveRequest messages".into(),
            )),
            Some(Ok(Message::Close(_))) | None => Err(End::Gone),
            Some(Ok(_)) => Ok(()), // pings are answered by tungstenite; pongs only show life
            Some(Err(tungstenite::Error::Capacity(_))) => Err(End::Close(
                CloseCode::Size,
                format!("a LiveRequest is at most {MAX_REQUEST_BYTES} bytes"),
            )),
            Some(Err(e)) => {
                tracing::debug!(%e, "live socket broke");
                Err(End::Gone)
            }
        }
    }

    /// Replaces the watched products and sends the newly watched ones as they are now.
    fn on_request(&mut self, bytes: &[u8]) -> Result<(), End> {
        let request = LiveRequest::decode(bytes)
            .map_err(|e| End::Close(CloseCode::Invalid, format!("not a shop.LiveRequest: {e}")))?;
        let ids = request.watch_products;
        if ids.len() > MAX_WATCHED {
            return Err(End::Close(
                CloseCode::Policy,
                format!(
                    "at most {MAX_WATCHED} products may be watched, got {}",
                    ids.len()
                ),
            ));
        }
        let mut added = Vec::new();
        let mut watched = HashSet::with_capacity(ids.len());
        for id in ids {
            if watched.insert(id) && !self.watched.contains(&id) {
                added.push(id);
            }
        }
        self.watched = watched;
        let s = &self.sources;
        let (catalog, checkout) = (s.catalog.model(), s.checkout.model());
        added
            .into_iter()
            .filter_map(|id| product_live(&catalog, &checkout, id, s.low_threshold))
            .try_for_each(|p| self.push(&frame(Frame::Product(p))))
    }

    fn push(&self, f: &LiveFrame) -> Result<(), End> {
        self.enqueue(Out::Frame(kind(f), f.encode_to_vec().into()))
    }

    fn enqueue(&self, out: Out) -> Result<(), End> {
        self.queue.try_send(out).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => End::Slow,
            mpsc::error::TrySendError::Closed(_) => End::Gone,
        })
    }
}

fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }
}

/// Writes the queue to the socket until the session ends it: with a close frame (pending frames
/// are dropped), or with None once the client closed (the handshake is completed).
async fn write(
    mut sink: SplitSink<HyperWebsocketStream, Message>,
    mut queue: mpsc::Receiver<Out>,
    mut close: oneshot::Receiver<Option<CloseFrame>>,
    metrics: LiveMetrics,
) {
    loop {
        let out = tokio::select! {
            biased;
            frame = &mut close => return finish(&mut sink, frame.ok().flatten()).await,
            out = queue.recv() => out,
        };
        let (message, kind) = match out {
            Some(Out::Frame(kind, bytes)) => (Message::Binary(bytes), Some(kind)),
            Some(Out::Ping) => (Message::Ping(Bytes::new()), None),
            None => return finish(&mut sink, None).await,
        };
        // A client that stops reading blocks this send; the session notices the queue filling.
        tokio::select! {
            biased;
            frame = &mut close => return finish(&mut sink, frame.ok().flatten()).await,
            sent = sink.send(message) => match (sent, kind) {
                (Ok(()), Some(kind)) => metrics.frame_sent(kind),
                (Ok(()), None) => {}
                (Err(e), _) => {
                    tracing::debug!(%e, "cannot write to a live socket");
                    return;
                }
            },
        }
    }
}

async fn finish(sink: &mut SplitSink<HyperWebsocketStream, Message>, frame: Option<CloseFrame>) {
    let closing = async {
        match frame {
            Some(frame) => sink.send(Message::Close(Some(frame))).await,
            None => sink.close().await,
        }
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, closing).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::fold::tests::{disable, price as price_event, upsert};
    use crate::checkout::fold::tests::{A, B, fact, line, order, stock};
    use crate::engine::Fold;
    use shared::proto::{RejectionReason, StockStatus};

    /// Applies checkout events in order and returns what each touched.
    fn apply_all(m: &mut Checkout, from: i64, events: &[CheckoutEvent]) -> Vec<Vec<Touched>> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut t = Vec::new();
                if CheckoutFold::apply(m, e, from + i as i64) == Applied::Changed {
                    touched(e, m, &mut t);
                }
                t
            })
            .collect()
    }

    fn shop() -> (Catalog, Checkout) {
        let catalog_events = [
            upsert(1, "Lamp", "Home", 2500),
            upsert(2, "Chair", "Home", 9900),
        ];
        let mut catalog = Catalog::default();
        let mut checkout = Checkout::default();
        for (i, e) in catalog_events.iter().enumerate() {
            CatalogFold::apply(&mut catalog, e, i as i64);
            CheckoutFold::apply(&mut checkout, &fact(i as i64, e.clone()), i as i64);
        }
        CatalogFold::finalize(&mut catalog);
        (catalog, checkout)
    }

    #[test]
    fn each_event_kind_touches_what_it_changes() {
        let (_, mut m) = shop();
        let touched = apply_all(
            &mut m,
            2,
            &[
                fact(2, price_event(1, 2000)),
                fact(3, disable(2)),
                fact(4, upsert(3, "Desk", "Office", 100)),
                stock("s1", 1, 5),
                line("l1", A, 1, 2),
                order("o1", A, 1),
                order("o2", A, 1),
            ],
        );
        let placed = OrderDecided {
            cart: A,
            key: cart_command_key(A, "o1"),
            cart_version: 1,
        };
        let rejected = OrderDecided {
            cart: A,
            key: cart_command_key(A, "o2"),
            cart_version: 1,
        };
        assert_eq!(
            touched,
            vec![
                vec![Touched::Product(1)],
                vec![Touched::Product(2)],
                vec![Touched::Product(3)],
                vec![Touched::Product(1)],
                vec![Touched::Cart(A)],
                vec![
                    Touched::Cart(A),
                    Touched::Product(1),
                    Touched::Order(placed)
                ],
                vec![Touched::Order(rejected)],
            ]
        );
    }

    #[test]
    fn events_that_change_nothing_touch_nothing() {
        let (_, mut m) = shop();
        apply_all(&mut m, 2, &[stock("s1", 1, 5), line("l1", A, 1, 2)]);
        let mut collector = Collector {
            live: false,
            touched: vec![],
            catalog_offset: None,
            batches: broadcast::channel(4).0,
        };
        let mut rx = collector.batches.subscribe();
        let replayed = stock("s0", 2, 1);
        CheckoutFold::apply(&mut m, &replayed, 4);
        collector.event(4, Some((&replayed, Applied::Changed)), &m);
        collector.published(5, true);
        assert!(rx.try_recv().is_err(), "the replay is not announced");

        // A duplicate command and an out-of-chain copy are ignored by the fold.
        for (offset, e) in [(5, stock("s1", 1, 5)), (6, fact(0, disable(1)))] {
            let applied = CheckoutFold::apply(&mut m, &e, offset);
            assert!(matches!(applied, Applied::Ignored(_)));
            collector.event(offset, Some((&e, applied)), &m);
        }
        collector.event(7, None, &m);
        collector.published(8, false);
        assert!(rx.try_recv().is_err(), "nothing touched, nothing announced");

        let e = fact(2, price_event(2, 500));
        let applied = CheckoutFold::apply(&mut m, &e, 8);
        collector.event(8, Some((&e, applied)), &m);
        let e = line("l2", B, 1, 1);
        let applied = CheckoutFold::apply(&mut m, &e, 9);
        collector.event(9, Some((&e, applied)), &m);
        collector.published(10, false);
        let batch = rx.try_recv().expect("announced");
        assert_eq!(
            *batch,
            Batch {
                products: vec![2],
                carts: vec![B],
                orders: vec![],
                catalog_offset: Some(2),
            }
        );
    }

    #[test]
    fn a_batch_is_sorted_and_deduplicated() {
        let b = Batch::new(
            [
                Touched::Product(5),
                Touched::Cart(B),
                Touched::Product(1),
                Touched::Product(5),
                Touched::Cart(A),
                Touched::Cart(B),
            ],
            None,
        );
        assert_eq!((b.products, b.carts), (vec![1, 5], vec![A, B]));
    }

    fn product_frame(f: &LiveFrame) -> &ProductLive {
        match &f.frame {
            Some(Frame::Product(p)) => p,
            other => panic!("not a product frame: {other:?}"),
        }
    }

    #[test]
    fn product_frames_agree_with_the_product_view() {
        let (mut catalog, mut checkout) = shop();
        CheckoutFold::apply(&mut checkout, &stock("s", 1, 3), 2);
        let p = product_live(&catalog, &checkout, 1, 5).unwrap();
        let view = crate::catalog::query::product_view(catalog.product(1).unwrap(), &checkout, 5);
        assert_eq!(
            (&p.price, &p.availability),
            (&view.price, &view.availability)
        );
        assert_eq!(p.availability.unwrap().status(), StockStatus::LowStock);
        assert!(p.for_sale);

        CatalogFold::apply(&mut catalog, &disable(1), 2);
        let p = product_live(&catalog, &checkout, 1, 5).unwrap();
        assert!(!p.for_sale, "a disabled product is shown as not for sale");
        assert_eq!(product_live(&catalog, &checkout, 99, 5), None);
    }

    #[test]
    fn a_socket_gets_frames_for_its_watched_products_and_its_own_cart() {
        let (catalog, mut checkout) = shop();
        let touched = apply_all(
            &mut checkout,
            2,
            &[
                stock("s1", 1, 10),
                stock("s2", 2, 10),
                line("a1", A, 2, 1),
                line("b1", B, 1, 1),
                order("ob", B, 1),
            ],
        );
        let batch = Batch::new(touched.into_iter().flatten(), None);
        let watched: HashSet<u64> = [1, 7].into();
        let frames = frames_for(&batch, &watched, Some(A), &catalog, &checkout, 5);
        // Product 1 (watched), nothing for B's order, A's cart because it holds product 2.
        assert_eq!(frames.len(), 2, "{frames:?}");
        let p = product_frame(&frames[0]);
        assert_eq!(
            (p.product_id, p.availability.as_ref().unwrap().available),
            (1, 9),
            "B's order took one"
        );
        match &frames[1].frame {
            Some(Frame::Cart(c)) => assert_eq!(
                *c,
                cart_view(&checkout, A, 5).unwrap(),
                "the cart read's view"
            ),
            other => panic!("not a cart frame: {other:?}"),
        }

        let frames = frames_for(&batch, &watched, Some(B), &catalog, &checkout, 5);
        let kinds: Vec<_> = frames.iter().map(kind).collect();
        assert_eq!(kinds, vec!["product", "order_placed", "cart"]);
        match &frames[1].frame {
            Some(Frame::OrderPlaced(o)) => {
                assert_eq!(*o, order_view(checkout.order(o.id).unwrap()))
            }
            other => panic!("not an order: {other:?}"),
        }

        let frames = frames_for(&batch, &HashSet::new(), None, &catalog, &checkout, 5);
        assert!(frames.is_empty(), "no cookie, nothing watched: {frames:?}");
    }

    #[test]
    fn a_rejected_order_frame_names_the_reason_and_the_version_seen() {
        let (catalog, mut checkout) = shop();
        let touched = apply_all(&mut checkout, 2, &[line("a1", A, 1, 2), order("o1", A, 1)]);
        let batch = Batch::new(touched.into_iter().flatten(), None);
        let frames = frames_for(&batch, &HashSet::new(), Some(A), &catalog, &checkout, 5);
        assert_eq!(frames.len(), 2, "the cart (its line) and the rejection");
        match &frames[0].frame {
            Some(Frame::OrderRejected(r)) => {
                assert_eq!(r.cart_version, 1);
                let rejection = r.rejection.as_ref().unwrap();
                assert_eq!(rejection.reason(), RejectionReason::OutOfStockLine);
                assert_eq!((rejection.product_id, rejection.available), (1, 0));
            }
            other => panic!("not a rejection: {other:?}"),
        }
    }
}
