//! One websocket: the upgrade, its watched products and cart, the bounded queue to the client,
//! keepalive and the close handshake.
//!
//! The queue holds two kinds of frames, bounded apart. Frames the server pushes (changes, the
//! cart's greeting, resyncs, pings) may wait up to `LIVE_SOCKET_BUFFER`; a client that lets
//! more pile up is too slow and is closed with 1013. The snapshots that answer the client's own
//! `LiveRequest` are not pushed: they are built as the client takes them, at most
//! [`ANSWERS_QUEUED`] in the queue at once, the rest waiting as ids (at most [`MAX_WATCHED`]),
//! so a client that reads at any normal pace is never closed for what it asked. A client that
//! does not read at all is still closed: its pushed frames pile up, and so do its pings, which
//! must reach the socket within the idle limit.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_tungstenite::HyperWebsocketStream;
use hyper_tungstenite::tungstenite::protocol::WebSocketConfig;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::{self, Message};
use prost::Message as _;
use shared::ids::CartId;
use shared::proto::{LiveFrame, LiveRequest, Resync, live_frame::Frame};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::Api;
use super::session::{self, End, Out, write};
use crate::catalog::CatalogFold;
use crate::checkout::CheckoutFold;
use crate::engine::Context;
use crate::http::request::PeerAddr;
use crate::http::wire::{ApiError, Format, Resp};
use crate::ops::metrics::live::LiveMetrics;

use super::changes::*;
use super::frames::frame;
use super::frames::*;

pub const MAX_WATCHED: usize = 500;
/// Largest `LiveRequest` read (500 ids take at most about 5.5 KB).
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// How long product frames wait for the catalog to publish what checkout's copies announce.
const CATALOG_WAIT: Duration = Duration::from_secs(2);
/// How many snapshots answering the client's requests wait in its queue at most, beside the
/// pushed frames; the rest of an answer is built as these are written.
pub const ANSWERS_QUEUED: usize = 32;

/// What a socket's task reads: the contexts, its settings and the hub.
#[derive(Clone)]
struct Sources {
    catalog: Context<CatalogFold>,
    checkout: Context<CheckoutFold>,
    low_threshold: u64,
    buffer: usize,
    /// A ping after this long without sending one; the socket ends after `idle_limit` without
    /// hearing from the client (a pong counts).
    ping_every: Duration,
    idle_limit: Duration,
    metrics: LiveMetrics,
    hub: Arc<Hub>,
}

/// Counts a socket as open from its upgrade until its task ends, globally and for its client.
struct OpenSocket(Sources, Option<IpAddr>);

/// How many sockets may be open: in all, and per client address (0: no per-client cap).
struct Caps {
    total: u32,
    per_client: u32,
}

impl OpenSocket {
    /// Opens a socket's place, or says which cap is full.
    fn new(sources: Sources, client: Option<IpAddr>, caps: Caps) -> Result<OpenSocket, ApiError> {
        let counted = sources.hub.open.send_if_modified(|n| {
            let room = *n < caps.total as usize;
            *n += usize::from(room);
            room
        });
        if !counted {
            return Err(ApiError::unavailable(
                format!(
                    "{} live sockets are open, the most this server takes; try again shortly",
                    caps.total
                ),
                5,
            ));
        }
        let client = client.filter(|_| caps.per_client > 0);
        if let Some(ip) = client {
            let mut open = sources
                .hub
                .per_client
                .lock()
                .expect("the count never panics");
            let n = open.entry(ip).or_default();
            if *n >= caps.per_client {
                drop(open);
                sources.hub.open.send_modify(|n| *n -= 1);
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_sockets",
                    format!(
                        "{} live sockets are open from {ip}, the most one client may open",
                        caps.per_client
                    ),
                ));
            }
            *n += 1;
        }
        sources.metrics.sockets.inc();
        Ok(OpenSocket(sources, client))
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        if let Some(ip) = self.1 {
            let mut open = self
                .0
                .hub
                .per_client
                .lock()
                .expect("the count never panics");
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
        self.0.hub.open.send_modify(|n| *n -= 1);
        self.0.metrics.sockets.dec();
    }
}

/// `GET /api/ws`: answers the upgrade and starts the socket's task.
pub fn upgrade(cx: &Api<'_>, req: Request<Incoming>) -> Result<Resp, ApiError> {
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
    if *cx.live.hub.closing.borrow() {
        return Err(ApiError::unavailable("the server is shutting down", 1));
    }
    let limits = cx.sockets;
    crate::http::origin::check_socket(req.headers(), &limits.allowed_origins)?;
    let client = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let caps = Caps {
        total: limits.max_sockets,
        per_client: limits.max_sockets_per_client,
    };
    let cart = crate::checkout::http::cart_to_watch(cx.cart_keys, cx.checkout, req.headers());
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_REQUEST_BYTES))
        .max_frame_size(Some(MAX_REQUEST_BYTES));
    let sources = Sources {
        catalog: cx.catalog.clone(),
        checkout: cx.checkout.clone(),
        low_threshold: cx.shop.low_stock_threshold,
        buffer: cx.sockets.buffer as usize,
        ping_every: cx.sockets.ping_every,
        idle_limit: cx.sockets.idle_limit,
        metrics: cx.metrics.clone(),
        hub: cx.live.hub.clone(),
    };
    let open = OpenSocket::new(sources, client, caps)?;
    let (resp, socket) = hyper_tungstenite::upgrade(req, Some(config))
        .map_err(|e| ApiError::bad_request(format!("not a websocket upgrade: {e}")))?;
    tokio::spawn(async move {
        match socket.await {
            Ok(socket) => run(open.0.clone(), cart, socket).await,
            Err(e) => tracing::debug!(%e, "websocket upgrade failed"),
        }
        drop(open);
    });
    Ok(resp)
}

/// One socket's cx on the server.
struct Session {
    sources: Sources,
    cart: Option<CartId>,
    watched: HashSet<u64>,
    /// Watched ids whose snapshot the client asked for and has not been queued yet, in the order
    /// asked (each id once, all of them watched: at most `MAX_WATCHED`).
    owed: VecDeque<u64>,
    /// Frames waiting for the socket: `LIVE_SOCKET_BUFFER` pushed ones, plus the answers that
    /// `answers` lets in.
    queue: mpsc::Sender<Out>,
    /// Places for answer snapshots in the queue.
    answers: Arc<Semaphore>,
    /// Places for pings not yet written: none left means the client has taken nothing for the
    /// idle limit.
    pings: Arc<Semaphore>,
}

/// Serves one socket until it ends, then closes it.
async fn run(sources: Sources, cart: Option<CartId>, socket: HyperWebsocketStream) {
    let (sink, mut stream) = socket.split();
    let (queue, queued) = mpsc::channel(sources.buffer + ANSWERS_QUEUED);
    // As many pings as are sent in the idle limit: one more unwritten means nothing moved.
    let pings = sources
        .idle_limit
        .as_millis()
        .div_ceil(sources.ping_every.as_millis().max(1))
        .clamp(1, 1_000) as usize;
    let (close, close_rx) = oneshot::channel();
    let writer = tokio::spawn(write(sink, queued, close_rx, sources.metrics.clone()));
    // Subscribed before the first frame is built: nothing published after it is missed.
    let mut batches = sources.hub.batches.subscribe();
    let mut closing = sources.hub.closing.subscribe();
    let mut session = Session {
        sources,
        cart,
        watched: HashSet::new(),
        owed: VecDeque::new(),
        queue,
        answers: Arc::new(Semaphore::new(ANSWERS_QUEUED)),
        pings: Arc::new(Semaphore::new(pings)),
    };
    let end = match session.greet() {
        Ok(()) => session.serve(&mut stream, &mut batches, &mut closing).await,
        Err(end) => end,
    };
    let metrics = session.sources.metrics.clone();
    // Dropping the queue's sender lets the writer see its end.
    drop(session);
    session::end(end, &metrics, close, &mut stream, writer).await;
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
        let every = self.sources.ping_every;
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
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
                place = self.answers.clone().acquire_owned(), if !self.owed.is_empty() => {
                    self.answer(place.expect("the semaphore is never closed"))
                }
                _ = ping.tick() => {
                    let limit = self.sources.idle_limit;
                    if heard.elapsed() >= limit {
                        Err(End::Close(CloseCode::Away, format!("no message for {} s", limit.as_secs_f64())))
                    } else {
                        self.ping()
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
        // A product pushed now is shown as it is: its snapshot is owed no more.
        if !self.owed.is_empty() {
            self.owed
                .retain(|id| batch.products.binary_search(id).is_err());
        }
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

    /// Replaces the watched products; the newly watched ones are owed a snapshot (sent by
    /// [`Session::answer`] as the client takes them), and those no longer watched are not.
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
        self.owed.retain(|id| watched.contains(id));
        self.owed.extend(added);
        self.watched = watched;
        Ok(())
    }

    /// Queues the next owed snapshot in the place given, as the product is now (an id the
    /// catalog does not have is skipped: it has nothing to show).
    fn answer(&mut self, place: OwnedSemaphorePermit) -> Result<(), End> {
        let s = &self.sources;
        let (catalog, checkout) = (s.catalog.model(), s.checkout.model());
        while let Some(id) = self.owed.pop_front() {
            if let Some(p) = product_live(&catalog, &checkout, id, s.low_threshold) {
                let f = frame(Frame::Product(p));
                return self.enqueue(Out::Answer(kind(&f), f.encode_to_vec().into(), place));
            }
        }
        Ok(())
    }

    /// Queues a ping, unless the pings of a whole idle limit are still unwritten: then the client
    /// has taken nothing for that long (whatever it sends) and is too slow.
    fn ping(&self) -> Result<(), End> {
        match self.pings.clone().try_acquire_owned() {
            Ok(place) => self.enqueue(Out::Ping(Some(place))),
            Err(_) => Err(End::Slow),
        }
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
