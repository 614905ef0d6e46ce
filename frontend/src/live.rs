//! Live updates over the `/api/ws` websocket (proto/live.proto). The app tells the server which
//! products are on screen (`LiveRequest`) and receives `LiveFrame`s: product snapshots go to the
//! page that shows them through the [`LiveHub`], the cart goes to the app's shared state. The
//! connection (the generic one of `hub`) reconnects with backoff and, after a reconnect or a
//! `resync`, asks every page to re-read what it shows, because frames may have been missed in
//! between.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use futures::SinkExt;
use futures::future::{Either, select};
use gloo_net::websocket::{Message, State, futures::WebSocket};
use gloo_timers::future::TimeoutFuture;
use prost::Message as _;
use shared::proto::live_frame::Frame;
use shared::proto::{CartView, LiveFrame, LiveRequest, OrderRejectedLive, OrderView, ProductLive};
use yew::Callback;

use crate::hub::{Hub, Link, LiveStatus, Subscription};

/// The server closes the socket when a request lists more.
pub const MAX_WATCHED: usize = 500;
/// A socket that has not opened by then is given up and tried again.
const OPEN_TIMEOUT_MS: u32 = 10_000;

/// What a page hears from the live connection.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    Product(ProductLive),
    OrderPlaced(OrderView),
    OrderRejected(OrderRejectedLive),
    /// Frames were missed: re-read everything shown.
    Resync,
}

/// Where a decoded frame goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// To the app's shared cart (badge and cart page).
    Cart(CartView),
    /// To the pages.
    Pages(LiveEvent),
    Nothing,
}

/// Decodes a binary frame and says where it goes. Frames that do not decode are dropped: a
/// newer server may send kinds this app does not know yet.
pub fn route_frame(bytes: &[u8]) -> Routed {
    match LiveFrame::decode(bytes).ok().and_then(|f| f.frame) {
        Some(Frame::Product(p)) => Routed::Pages(LiveEvent::Product(p)),
        Some(Frame::Cart(c)) => Routed::Cart(c),
        Some(Frame::OrderPlaced(o)) => Routed::Pages(LiveEvent::OrderPlaced(o)),
        Some(Frame::OrderRejected(r)) => Routed::Pages(LiveEvent::OrderRejected(r)),
        Some(Frame::Resync(_)) => Routed::Pages(LiveEvent::Resync),
        None => Routed::Nothing,
    }
}

/// The `LiveRequest` for the products on screen: each id once, at most [`MAX_WATCHED`].
pub fn watch_request(ids: &[u64]) -> Vec<u8> {
    let mut seen = BTreeSet::new();
    let watch_products: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| *id > 0 && seen.insert(*id))
        .take(MAX_WATCHED)
        .collect();
    LiveRequest { watch_products }.encode_to_vec()
}

/// The websocket URL on the page's own origin (`wss:` under `https:`, `ws:` otherwise), or on
/// the API's origin when the app was built with one (`SHOP_API_BASE`).
pub fn ws_url(api_base: Option<&str>, page_protocol: &str, host: &str) -> String {
    if let Some(base) = api_base
        .map(|b| b.trim_end_matches('/'))
        .filter(|b| !b.is_empty())
    {
        let ws = base
            .strip_prefix("https://")
            .map(|rest| format!("wss://{rest}"))
            .or_else(|| {
                base.strip_prefix("http://")
                    .map(|rest| format!("ws://{rest}"))
            })
            .unwrap_or_else(|| base.to_owned());
        return format!("{ws}/api/ws");
    }
    let scheme = if page_protocol == "https:" {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{host}/api/ws")
}

#[derive(Default)]
struct Shared {
    hub: Rc<Hub<LiveEvent>>,
    watched: RefCell<Vec<u64>>,
}

/// The meeting point of the connection and the pages: pages subscribe to events and say which
/// products they show; the connection publishes frames and sends the watch list.
#[derive(Clone, Default)]
pub struct LiveHub(Rc<Shared>);

impl PartialEq for LiveHub {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl LiveHub {
    /// Keeps `callback` subscribed until the subscription is dropped.
    pub fn subscribe(&self, callback: Callback<LiveEvent>) -> Subscription<LiveEvent> {
        self.0.hub.subscribe(callback)
    }

    pub fn publish(&self, event: LiveEvent) {
        self.0.hub.publish(event);
    }

    /// The products the current page shows; sent to the server when it changes.
    pub fn watch(&self, ids: Vec<u64>) {
        if *self.0.watched.borrow() == ids {
            return;
        }
        *self.0.watched.borrow_mut() = ids;
        self.0.hub.update();
    }

    pub fn watched(&self) -> Vec<u64> {
        self.0.watched.borrow().clone()
    }
}

/// What the connection tells the app's shared state.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionEvent {
    Status(LiveStatus),
    Cart(CartView),
    /// Re-read what is shown (after a reconnect or a `resync` frame).
    Resync,
}

/// The shop's connection: the watch list out, frames to the cart or the pages.
struct ShopLink {
    hub: LiveHub,
    app: Callback<ConnectionEvent>,
}

impl ShopLink {
    fn resync(&self) {
        self.app.emit(ConnectionEvent::Resync);
        self.hub.publish(LiveEvent::Resync);
    }
}

impl Link for ShopLink {
    /// Opens the socket and sends the first watch list.
    async fn open(&self) -> Option<WebSocket> {
        let location = web_sys::window()?.location();
        let url = ws_url(
            crate::api::API_BASE,
            &location.protocol().ok()?,
            &location.host().ok()?,
        );
        let mut ws = WebSocket::open(&url).ok()?;
        // Sending waits until the socket is open (or failed).
        let first = Message::Bytes(watch_request(&self.hub.watched()));
        let sent = match select(ws.send(first), TimeoutFuture::new(OPEN_TIMEOUT_MS)).await {
            Either::Left((r, _)) => r.is_ok(),
            Either::Right(_) => false,
        };
        (sent && matches!(ws.state(), State::Open)).then_some(ws)
    }

    fn status(&self, status: LiveStatus) {
        self.app.emit(ConnectionEvent::Status(status));
    }

    fn opened(&self, resumed: bool) {
        if resumed {
            // Anything may have changed while we were away (or since the page first read what
            // it shows, when the first attempts failed).
            self.resync();
        }
    }

    fn frame(&self, bytes: &[u8]) {
        match route_frame(bytes) {
            Routed::Cart(cart) => self.app.emit(ConnectionEvent::Cart(cart)),
            Routed::Pages(LiveEvent::Resync) => self.resync(),
            Routed::Pages(event) => self.hub.publish(event),
            Routed::Nothing => {}
        }
    }

    fn update(&self) -> Vec<u8> {
        watch_request(&self.hub.watched())
    }
}

/// Runs the live connection for the app's lifetime.
pub async fn run(hub: LiveHub, app: Callback<ConnectionEvent>) {
    let shared = hub.0.hub.clone();
    shared.run(&ShopLink { hub, app }).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::{Availability, Resync};

    fn frame(f: Frame) -> Vec<u8> {
        LiveFrame { frame: Some(f) }.encode_to_vec()
    }

    #[test]
    fn frames_go_where_they_belong() {
        let p = ProductLive {
            product_id: 7,
            price: None,
            availability: Some(Availability {
                status: 2,
                available: 3,
            }),
            for_sale: true,
            ..Default::default()
        };
        assert_eq!(
            route_frame(&frame(Frame::Product(p.clone()))),
            Routed::Pages(LiveEvent::Product(p))
        );
        let c = CartView {
            version: 4,
            item_count: 2,
            ..Default::default()
        };
        assert_eq!(route_frame(&frame(Frame::Cart(c.clone()))), Routed::Cart(c));
        assert_eq!(
            route_frame(&frame(Frame::Resync(Resync {}))),
            Routed::Pages(LiveEvent::Resync)
        );
        assert_eq!(route_frame(&[]), Routed::Nothing);
        assert_eq!(route_frame(&[0xff, 0xff, 0xff]), Routed::Nothing);
    }

    #[test]
    fn watch_requests_are_deduplicated_and_bounded() {
        let req = LiveRequest::decode(watch_request(&[3, 1, 3, 0, 2]).as_slice()).unwrap();
        assert_eq!(req.watch_products, [3, 1, 2]);
        let many: Vec<u64> = (1..=800).collect();
        let req = LiveRequest::decode(watch_request(&many).as_slice()).unwrap();
        assert_eq!(req.watch_products.len(), MAX_WATCHED);
    }

    #[test]
    fn websocket_url_follows_the_page() {
        assert_eq!(
            ws_url(None, "http:", "localhost:8080"),
            "ws://localhost:8080/api/ws"
        );
        assert_eq!(
            ws_url(None, "https:", "shop.example"),
            "wss://shop.example/api/ws"
        );
        assert_eq!(
            ws_url(Some("https://api.shop.example/"), "https:", "shop.example"),
            "wss://api.shop.example/api/ws"
        );
        assert_eq!(
            ws_url(Some("http://127.0.0.1:8080"), "http:", "127.0.0.1:8081"),
            "ws://127.0.0.1:8080/api/ws"
        );
        assert_eq!(
            crate::api::api_url(Some("https://api.shop.example/"), "/api/cart"),
            "https://api.shop.example/api/cart"
        );
        assert_eq!(crate::api::api_url(None, "/api/cart"), "/api/cart");
        assert_eq!(crate::api::api_url(Some(""), "/api/cart"), "/api/cart");
    }

    #[test]
    fn hub_delivers_until_unsubscribed() {
        let hub = LiveHub::default();
        let got = Rc::new(RefCell::new(Vec::new()));
        let sink = got.clone();
        let sub = hub.subscribe(Callback::from(move |e| sink.borrow_mut().push(e)));
        hub.publish(LiveEvent::Resync);
        drop(sub);
        hub.publish(LiveEvent::Resync);
        assert_eq!(got.borrow().len(), 1);
        hub.watch(vec![1, 2]);
        assert_eq!(hub.watched(), [1, 2]);
    }
}
