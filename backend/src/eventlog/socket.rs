//! `GET /api/admin/events/ws`: the event log, live. On connect a snapshot of both rings and the
//! figures; then every applied event as its batch is published, and the figures every second.
//! Admin only (the token is checked before the upgrade), bounded like the shopper's socket: a
//! queue of `LIVE_SOCKET_BUFFER` frames (a client that lets it fill is closed with 1013), a
//! snapshot again for one that fell behind the announcements, pings, and at most
//! [`MAX_SOCKETS`] open at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_tungstenite::tungstenite::Message;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use prometheus::Registry;
use prost::Message as _;
use shared::proto::{
    EventLog as EventLogView, EventLogBatch, EventLogFrame, event_log_frame::Frame,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::Api;
use super::figures::figures;
use super::ring::EventLog;
use crate::http::request::same_token;
use crate::http::wire::{ApiError, Format, Resp};
use crate::live::session::{self, End, Out, write};
use crate::ops::metrics::live::LiveMetrics;

/// Event-log sockets open at once, in all (503 beyond): each one gets every event.
pub const MAX_SOCKETS: usize = 16;
/// Entries of each context in a snapshot.
pub const SNAPSHOT_PER_CONTEXT: usize = 200;
/// The subprotocol a browser offers beside its token, and the one the server answers with.
pub const PROTOCOL: &str = "shop-admin";
const FIGURES_EVERY: Duration = Duration::from_secs(1);

/// Whether the upgrade carries the admin token: `Authorization: Bearer`, or (a browser cannot
/// set headers on a websocket) the subprotocol `bearer.<base64url of the token>` offered beside
/// [`PROTOCOL`]. Returns whether to answer with [`PROTOCOL`].
pub fn authorize(admin_token: Option<&str>, headers: &http::HeaderMap) -> Result<bool, ApiError> {
    let Some(token) = admin_token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is switched off: start the server with ADMIN_TOKEN set",
        ));
    };
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let answer = offered.contains(&PROTOCOL);
    if !offered.is_empty() && !answer {
        return Err(ApiError::bad_request(format!(
            "offer the subprotocol {PROTOCOL:?} (beside bearer.<token>) or none"
        )));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = match bearer {
        Some(given) => same_token(given, token),
        None => {
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token);
            offered
                .iter()
                .filter_map(|p| p.strip_prefix("bearer."))
                .any(|given| same_token(given, &encoded))
        }
    };
    if ok {
        Ok(answer)
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the event log needs the admin token: Authorization: Bearer <ADMIN_TOKEN>, or the subprotocols shop-admin and bearer.<base64url of the token>",
        ))
    }
}

/// Counts a socket as open until dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a socket's task reads.
struct Sources {
    log: Arc<EventLog>,
    registry: Registry,
    contexts: [(&'static str, String); 2],
    buffer: usize,
    ping_every: Duration,
    idle_limit: Duration,
    metrics: LiveMetrics,
    closing: watch::Receiver<bool>,
}

pub fn upgrade(cx: &Api<'_>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    // The token first: without it, nothing about the socket is said.
    let answer_protocol = authorize(cx.admin_token, req.headers())?;
    if !hyper_tungstenite::is_upgrade_request(&req) {
        let mut resp = ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "/api/admin/events/ws is a websocket: connect with Connection: Upgrade and Upgrade: websocket",
        )
        .into_response(Format::accepted(req.headers()));
        resp.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return Ok(resp);
    }
    crate::http::origin::check_socket(req.headers(), &cx.sockets.allowed_origins)?;
    let open = &cx.events.sockets;
    if open.fetch_add(1, Ordering::AcqRel) >= MAX_SOCKETS {
        open.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::unavailable(
            format!("{MAX_SOCKETS} event-log sockets are open, the most this server takes"),
            5,
        ));
    }
    let slot = Slot(open.clone());
    let config = WebSocketConfig::default()
        .max_message_size(Some(4096))
        .max_frame_size(Some(4096));
    let (mut resp, socket) = hyper_tungstenite::upgrade(req, Some(config))
        .map_err(|e| ApiError::bad_request(format!("not a websocket upgrade: {e}")))?;
    if answer_protocol {
        resp.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(PROTOCOL),
        );
    }
    let sources = Sources {
        log: cx.events.clone(),
        registry: cx.metrics.registry().clone(),
        contexts: [
            (cx.topics[0].0, cx.topics[0].1.to_owned()),
            (cx.topics[1].0, cx.topics[1].1.to_owned()),
        ],
        buffer: cx.sockets.buffer as usize,
        ping_every: cx.sockets.ping_every,
        idle_limit: cx.sockets.idle_limit,
        metrics: cx.metrics.live.clone(),
        closing: cx.live.closing(),
    };
    tokio::spawn(async move {
        match socket.await {
            Ok(socket) => run(sources, socket).await,
            Err(e) => tracing::debug!(%e, "event-log websocket upgrade failed"),
        }
        drop(slot);
    });
    Ok(resp)
}

impl Sources {
    fn figures(&self) -> EventLogView {
        let contexts: Vec<(&str, &str)> = self
            .contexts
            .iter()
            .map(|(c, t)| (*c, t.as_str()))
            .collect();
        EventLogView {
            entries: vec![],
            contexts: figures(&self.registry, &contexts),
            at_ms: now_ms(),
            ring_size: self.log.size as u32,
        }
    }

    fn snapshot(&self) -> EventLogView {
        let per_context = SNAPSHOT_PER_CONTEXT.min(self.log.size);
        EventLogView {
            entries: self
                .log
                .newest(|_| true, 2 * per_context, per_context)
                .iter()
                .map(|r| r.entry())
                .collect(),
            ..self.figures()
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn frame(f: Frame) -> (&'static str, bytes::Bytes) {
    (
        "event_log",
        EventLogFrame { frame: Some(f) }.encode_to_vec().into(),
    )
}

async fn run(sources: Sources, socket: hyper_tungstenite::HyperWebsocketStream) {
    let mut closing = sources.closing.clone();
    let (sink, mut stream) = socket.split();
    let (queue, queued) = mpsc::channel(sources.buffer.max(2));
    let (close, close_rx) = oneshot::channel::<Option<CloseFrame>>();
    let writer = tokio::spawn(write(sink, queued, close_rx, sources.metrics.clone()));
    // Subscribed before the snapshot is read: nothing published after it is missed.
    let mut announced = sources.log.subscribe();
    let push = |(kind, bytes): (&'static str, bytes::Bytes)| {
        queue
            .try_send(Out::Frame(kind, bytes))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => End::Slow,
                mpsc::error::TrySendError::Closed(_) => End::Gone,
            })
    };
    let end = async {
        push(frame(Frame::Snapshot(sources.snapshot())))?;
        let mut figures_tick = tokio::time::interval(FIGURES_EVERY);
        figures_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let every = sources.ping_every;
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        loop {
            tokio::select! {
                _ = closing.wait_for(|&c| c) => {
                    return Err(End::Close(CloseCode::Away, "the server is shutting down".into()));
                }
                batch = announced.recv() => match batch {
                    Ok(batch) => push(frame(Frame::Entries(EventLogBatch {
                        entries: batch.iter().map(|r| r.entry()).collect(),
                    })))?,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        push(frame(Frame::Snapshot(sources.snapshot())))?
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(End::Gone),
                },
                _ = figures_tick.tick() => push(frame(Frame::Figures(sources.figures())))?,
                message = stream.next() => {
                    heard = Instant::now();
                    match message {
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Err(End::Gone),
                        // Nothing is asked of this socket; pongs only show life.
                        Some(Ok(_)) => {}
                    }
                }
                _ = ping.tick() => {
                    let limit = sources.idle_limit;
                    if heard.elapsed() >= limit {
                        return Err(End::Close(CloseCode::Away, format!("no message for {} s", limit.as_secs_f64())));
                    }
                    queue.try_send(Out::Ping(None)).map_err(|_| End::Slow)?;
                }
            }
        }
    }
    .await;
    let end: End = match end {
        Ok(()) => End::Gone,
        Err(e) => e,
    };
    drop(queue);
    session::end(end, &sources.metrics, close, &mut stream, writer).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_token_comes_in_a_header_or_a_subprotocol() {
        let token = Some("s3cret token/+");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("s3cret token/+");
        let ok = headers(&[("authorization", "Bearer s3cret token/+")]);
        assert_eq!(authorize(token, &ok), Ok(false));
        let sub = format!("shop-admin, bearer.{b64}");
        assert_eq!(
            authorize(token, &headers(&[("sec-websocket-protocol", &sub)])),
            Ok(true)
        );
        let wrong = headers(&[("sec-websocket-protocol", "shop-admin, bearer.bm9wZQ")]);
        assert_eq!(
            authorize(token, &wrong).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            authorize(token, &headers(&[])).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        let only_token = format!("bearer.{b64}");
        assert_eq!(
            authorize(token, &headers(&[("sec-websocket-protocol", &only_token)]))
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            authorize(None, &ok).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }
}
