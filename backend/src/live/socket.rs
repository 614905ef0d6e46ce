//! One websocket: the upgrade, its watched products and cart, the bounded queue to the client,
//! keepalive and the close handshake.

use std::collections::HashSet;
use std::net::IpAddr;
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
use shared::proto::{LiveFrame, LiveRequest, Resync, live_frame::Frame};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::catalog::CatalogFold;
use crate::checkout::CheckoutFold;
use crate::engine::Context;
use crate::http::PeerAddr;
use crate::http::wire::{ApiError, Format, Resp};
use crate::ops::metrics::live::LiveMetrics;
use crate::state::State;

use super::changes::*;
use super::frames::frame;
use super::frames::*;

pub const MAX_WATCHED: usize = 500;
/// Largest `LiveRequest` read (500 ids take at most about 5.5 KB).
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// How long a closing handshake may take before the connection is dropped.
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// How long product frames wait for the catalog to publish what checkout's copies announce.
const CATALOG_WAIT: Duration = Duration::from_secs(2);

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
pub fn upgrade(state: &State, req: Request<Incoming>) -> Result<Resp, ApiError> {
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
    if *state.live.hub.closing.borrow() {
        return Err(ApiError::unavailable("the server is shutting down", 1));
    }
    let limits = &state.config.limits;
    crate::http::origin::check_socket(req.headers(), &limits.allowed_origins)?;
    let client = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let caps = Caps {
        total: limits.live_max_sockets,
        per_client: limits.live_max_sockets_per_client,
    };
    let cart = crate::checkout::http::cart_to_watch(state, req.headers());
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_REQUEST_BYTES))
        .max_frame_size(Some(MAX_REQUEST_BYTES));
    let sources = Sources {
        catalog: state.catalog.clone(),
        checkout: state.checkout.clone(),
        low_threshold: state.config.low_stock_threshold,
        buffer: state.config.live_socket_buffer as usize,
        ping_every: state.config.live_ping_every,
        idle_limit: state.config.live_idle_limit,
        metrics: state.metrics.live.clone(),
        hub: state.live.hub.clone(),
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

/// What waits in a socket's queue.
pub(crate) enum Out {
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
                _ = ping.tick() => {
                    let limit = self.sources.idle_limit;
                    if heard.elapsed() >= limit {
                        Err(End::Close(CloseCode::Away, format!("no message for {} s", limit.as_secs_f64())))
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

pub(crate) fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }
}

/// Writes the queue to the socket until the session ends it: with a close frame (pending frames
/// are dropped), or with None once the client closed (the handshake is completed).
pub(crate) async fn write(
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
