//! The admin pages' live connection: the event-log websocket (`/api/admin/events/ws`, frames
//! of `shop.EventLogFrame`). The token goes in a subprotocol (`bearer.<base64url>` beside
//! `shop-admin`), since a browser cannot set headers on a websocket and the token must never
//! be in a URL. Every admin page subscribes to the [`AdminHub`]: the event log shows the
//! entries, the other pages read again what an entry touched. Reconnects with backoff; a
//! reconnect starts with a fresh snapshot, so nothing missed meanwhile stays unseen.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{Either, select};
use gloo_net::websocket::{Message, State, futures::WebSocket};
use gloo_timers::future::TimeoutFuture;
use prost::Message as _;
use shared::proto::event_log_frame::Frame;
use shared::proto::{EventLog, EventLogFrame, LogEntry};
use wasm_bindgen::JsValue;
use yew::Callback;

use crate::backoff;
use crate::live::LiveStatus;

/// The subprotocol answered by the server; the token travels in a second one.
pub const PROTOCOL: &str = "shop-admin";

/// What an admin page hears.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminEvent {
    Status(LiveStatus),
    /// The newest entries of both contexts and the figures: replaces what is shown.
    Snapshot(EventLog),
    /// Entries applied since, in log order per context.
    Entries(Vec<LogEntry>),
    /// The contexts' figures, every second.
    Figures(EventLog),
}

/// RFC 4648 base64url without padding (what the server decodes the subprotocol's token with).
pub fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The subprotocols that carry `token`.
pub fn protocols(token: &str) -> [String; 2] {
    [
        PROTOCOL.to_owned(),
        format!("bearer.{}", base64url(token.as_bytes())),
    ]
}

/// Decodes a frame; frames of a newer server this app does not know are dropped.
pub fn route_frame(bytes: &[u8]) -> Option<AdminEvent> {
    match EventLogFrame::decode(bytes).ok()?.frame? {
        Frame::Snapshot(s) => Some(AdminEvent::Snapshot(s)),
        Frame::Entries(b) => Some(AdminEvent::Entries(b.entries)),
        Frame::Figures(f) => Some(AdminEvent::Figures(f)),
    }
}

/// `ws:` or `wss:` URL of the event-log socket on the page's own origin (or the API's).
pub fn url(page_protocol: &str, host: &str) -> String {
    crate::live::ws_url(crate::api::API_BASE, page_protocol, host)
        .replace("/api/ws", "/api/admin/events/ws")
}

#[derive(Default)]
struct Hub {
    subscribers: RefCell<Vec<(u64, Callback<AdminEvent>)>>,
    next_id: Cell<u64>,
    running: Cell<bool>,
    stop: RefCell<Option<mpsc::UnboundedSender<()>>>,
    status: Cell<Option<LiveStatus>>,
    /// The last snapshot and everything since, for a page that subscribes later.
    last: RefCell<Option<EventLog>>,
}

/// The admin pages' meeting point with the connection.
#[derive(Clone, Default)]
pub struct AdminHub(Rc<Hub>);

impl PartialEq for AdminHub {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Keeps a page subscribed until dropped.
pub struct AdminSubscription {
    hub: AdminHub,
    id: u64,
}

impl Drop for AdminSubscription {
    fn drop(&mut self) {
        self.hub
            .0
            .subscribers
            .borrow_mut()
            .retain(|(id, _)| *id != self.id);
    }
}

/// Entries a late subscriber is handed at most (the newest).
const KEPT: usize = 1000;

impl AdminHub {
    /// Subscribes; a page that comes after the snapshot gets the status and what is kept first.
    pub fn subscribe(&self, callback: Callback<AdminEvent>) -> AdminSubscription {
        let id = self.0.next_id.get() + 1;
        self.0.next_id.set(id);
        if let Some(status) = self.0.status.get() {
            callback.emit(AdminEvent::Status(status));
        }
        if let Some(last) = self.0.last.borrow().clone() {
            callback.emit(AdminEvent::Snapshot(last));
        }
        self.0.subscribers.borrow_mut().push((id, callback));
        AdminSubscription {
            hub: self.clone(),
            id,
        }
    }

    fn publish(&self, event: AdminEvent) {
        match &event {
            AdminEvent::Status(s) => self.0.status.set(Some(*s)),
            AdminEvent::Snapshot(s) => *self.0.last.borrow_mut() = Some(s.clone()),
            AdminEvent::Entries(entries) => {
                if let Some(last) = self.0.last.borrow_mut().as_mut() {
                    // Newest first, as a snapshot holds them.
                    for e in entries {
                        last.entries.insert(0, e.clone());
                    }
                    last.entries.truncate(KEPT);
                }
            }
            AdminEvent::Figures(f) => {
                if let Some(last) = self.0.last.borrow_mut().as_mut() {
                    last.contexts = f.contexts.clone();
                    last.at_ms = f.at_ms;
                }
            }
        }
        let subscribers: Vec<Callback<AdminEvent>> = self
            .0
            .subscribers
            .borrow()
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        for cb in subscribers {
            cb.emit(event.clone());
        }
    }

    /// Starts the connection unless it runs (the admin area calls it once signed in).
    pub fn start(&self) {
        if self.0.running.replace(true) {
            return;
        }
        let hub = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            run(&hub).await;
            hub.0.running.set(false);
        });
    }

    /// Closes the connection (signing out).
    pub fn stop(&self) {
        if let Some(stop) = self.0.stop.borrow_mut().take() {
            let _ = stop.unbounded_send(());
        }
        *self.0.last.borrow_mut() = None;
        self.0.status.set(None);
    }
}

async fn run(hub: &AdminHub) {
    let (stop_tx, mut stop_rx) = mpsc::unbounded::<()>();
    *hub.0.stop.borrow_mut() = Some(stop_tx);
    let mut failures: u32 = 0;
    loop {
        let Some(token) = crate::admin_api::token() else {
            return;
        };
        hub.publish(AdminEvent::Status(LiveStatus::Connecting));
        if let Some(mut ws) = open(&token).await {
            hub.publish(AdminEvent::Status(LiveStatus::Connected));
            failures = 0;
            loop {
                let next = match select(ws.next(), stop_rx.next()).await {
                    Either::Left((message, _)) => Either::Left(message),
                    Either::Right((stop, _)) => Either::Right(stop),
                };
                match next {
                    Either::Left(Some(Ok(Message::Bytes(bytes)))) => {
                        if let Some(event) = route_frame(&bytes) {
                            hub.publish(event);
                        }
                    }
                    Either::Left(Some(Ok(Message::Text(_)))) => {}
                    Either::Left(Some(Err(_)) | None) => break,
                    Either::Right(_) => {
                        let _ = ws.close(Some(1000), Some("signed out"));
                        return;
                    }
                }
            }
        }
        hub.publish(AdminEvent::Status(LiveStatus::Offline));
        let wait = backoff::delay(failures, js_sys::Math::random());
        failures = failures.saturating_add(1);
        match select(TimeoutFuture::new(wait.as_millis() as u32), stop_rx.next()).await {
            Either::Left(_) => {}
            Either::Right(_) => return,
        }
    }
}

/// Opens the socket with the token's subprotocols; `None` when it did not open.
async fn open(token: &str) -> Option<WebSocket> {
    let location = web_sys::window()?.location();
    let url = url(&location.protocol().ok()?, &location.host().ok()?);
    let offered = js_sys::Array::new();
    for p in protocols(token) {
        offered.push(&JsValue::from_str(&p));
    }
    let raw = web_sys::WebSocket::new_with_str_sequence(&url, &offered).ok()?;
    let ws = WebSocket::try_from(raw).ok()?;
    // Nothing to send: wait until the socket is open (or gives up), then read.
    let mut waited = 0;
    while matches!(ws.state(), State::Connecting) && waited < 10_000 {
        TimeoutFuture::new(20).await;
        waited += 20;
    }
    if !matches!(ws.state(), State::Open) {
        let _ = ws.close(None, None);
        return None;
    }
    Some(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_as_rfc_4648_without_padding() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(
            protocols("dev-admin-token")[1],
            "bearer.ZGV2LWFkbWluLXRva2Vu"
        );
    }

    #[test]
    fn frames_and_urls() {
        let frame = EventLogFrame {
            frame: Some(Frame::Entries(shared::proto::EventLogBatch {
                entries: vec![LogEntry {
                    offset: 7,
                    ..Default::default()
                }],
            })),
        };
        match route_frame(&frame.encode_to_vec()) {
            Some(AdminEvent::Entries(e)) => assert_eq!(e[0].offset, 7),
            other => panic!("{other:?}"),
        }
        assert_eq!(route_frame(&[0xff]), None);
        assert_eq!(
            url("https:", "shop.example"),
            "wss://shop.example/api/admin/events/ws"
        );
    }
}
