//! The admin pages' live connection: the event-log websocket (`/api/admin/events/ws`, frames
//! of `shop.EventLogFrame`). The token goes in a subprotocol (`bearer.<base64url>` beside
//! `shop-admin`), since a browser cannot set headers on a websocket and the token must never
//! be in a URL. Every admin page subscribes to the [`AdminHub`]: the event log shows the
//! entries, the other pages read again what an entry touched. Reconnects with backoff (the
//! generic connection of `hub`); a reconnect starts with a fresh snapshot, so nothing missed
//! meanwhile stays unseen.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_net::websocket::{State, futures::WebSocket};
use gloo_timers::future::TimeoutFuture;
use prost::Message as _;
use shared::proto::event_log_frame::Frame;
use shared::proto::{EventLog, EventLogFrame, LogEntry};
use wasm_bindgen::JsValue;
use yew::Callback;

use crate::hub::{Hub, Link, LiveStatus, Subscription};

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
struct Shared {
    hub: Rc<Hub<AdminEvent>>,
    running: Cell<bool>,
    status: Cell<Option<LiveStatus>>,
    /// The last snapshot and everything since, for a page that subscribes later.
    last: RefCell<Option<EventLog>>,
}

/// The admin pages' meeting point with the connection.
#[derive(Clone, Default)]
pub struct AdminHub(Rc<Shared>);

impl PartialEq for AdminHub {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Entries a late subscriber is handed at most (the newest).
const KEPT: usize = 1000;

impl AdminHub {
    /// Subscribes; a page that comes after the snapshot gets the status and what is kept first.
    pub fn subscribe(&self, callback: Callback<AdminEvent>) -> Subscription<AdminEvent> {
        if let Some(status) = self.0.status.get() {
            callback.emit(AdminEvent::Status(status));
        }
        if let Some(last) = self.0.last.borrow().clone() {
            callback.emit(AdminEvent::Snapshot(last));
        }
        self.0.hub.subscribe(callback)
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
        self.0.hub.publish(event);
    }

    /// Starts the connection unless it runs (the admin area calls it once signed in).
    pub fn start(&self) {
        if self.0.running.replace(true) {
            return;
        }
        let hub = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let shared = hub.0.hub.clone();
            shared.run(&AdminLink { hub: hub.clone() }).await;
            hub.0.running.set(false);
        });
    }

    /// Closes the connection (signing out).
    pub fn stop(&self) {
        self.0.hub.close("signed out");
        *self.0.last.borrow_mut() = None;
        self.0.status.set(None);
    }
}

/// The event log's connection: nothing to send, every frame to the admin pages.
struct AdminLink {
    hub: AdminHub,
}

impl Link for AdminLink {
    /// Signed out: no token, no connection.
    fn may_connect(&self) -> bool {
        crate::admin_api::token().is_some()
    }

    /// Opens the socket with the token's subprotocols.
    async fn open(&self) -> Option<WebSocket> {
        let token = crate::admin_api::token()?;
        let location = web_sys::window()?.location();
        let url = url(&location.protocol().ok()?, &location.host().ok()?);
        let offered = js_sys::Array::new();
        for p in protocols(&token) {
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

    fn status(&self, status: LiveStatus) {
        self.hub.publish(AdminEvent::Status(status));
    }

    fn frame(&self, bytes: &[u8]) {
        if let Some(event) = route_frame(bytes) {
            self.hub.publish(event);
        }
    }
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
