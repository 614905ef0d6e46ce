//! What both live connections share (the shop's updates in `live`, the operator's event log in
//! `admin_live`): a [`Hub`] that pages subscribe to for as long as they are shown, and the
//! socket loop behind it, which opens, reads frames, reconnects with backoff and closes on
//! request. What a connection opens, sends and hears is its [`Link`]; the hub knows none of it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use futures::channel::mpsc;
use futures::future::{Either, select};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{Message, futures::WebSocket};
use gloo_timers::future::TimeoutFuture;
use yew::Callback;

use crate::backoff;

/// A connection's state as the app shows it (`data-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveStatus {
    Connecting,
    Connected,
    /// Waiting before the next attempt.
    Offline,
}

impl LiveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveStatus::Connecting => "connecting",
            LiveStatus::Connected => "connected",
            LiveStatus::Offline => "offline",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LiveStatus::Connecting => "Connecting…",
            LiveStatus::Connected => "Live",
            LiveStatus::Offline => "Offline",
        }
    }
}

/// One kind of connection: how its socket opens and what its frames mean.
pub trait Link {
    /// Whether to (re)connect at all; `false` ends the connection (nothing to connect with).
    fn may_connect(&self) -> bool {
        true
    }
    /// Opens the socket, with whatever must be sent first; `None` when it did not open.
    fn open(&self) -> impl Future<Output = Option<WebSocket>>;
    fn status(&self, status: LiveStatus);
    /// The socket is open; `resumed` when frames may have been missed since the page read what
    /// it shows (an earlier socket closed, or earlier attempts failed).
    fn opened(&self, resumed: bool) {
        let _ = resumed;
    }
    /// A binary frame from the server.
    fn frame(&self, bytes: &[u8]);
    /// What to send when the hub is told that something changed ([`Hub::update`]).
    fn update(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// What the hub tells its running socket.
enum Control {
    /// Send [`Link::update`].
    Update,
    /// Close the socket with this reason and end the connection.
    Close(&'static str),
}

/// The meeting point of one connection and the pages: subscribers hear its events in the order
/// published, and the running socket hears the hub's [`Hub::update`] and [`Hub::close`].
pub struct Hub<E> {
    subscribers: RefCell<Vec<(u64, Callback<E>)>>,
    next_id: Cell<u64>,
    control: RefCell<Option<mpsc::UnboundedSender<Control>>>,
}

impl<E> Default for Hub<E> {
    fn default() -> Self {
        Hub {
            subscribers: RefCell::default(),
            next_id: Cell::default(),
            control: RefCell::default(),
        }
    }
}

/// Keeps a subscriber subscribed until dropped.
pub struct Subscription<E> {
    hub: Rc<Hub<E>>,
    id: u64,
}

impl<E> Drop for Subscription<E> {
    fn drop(&mut self) {
        self.hub
            .subscribers
            .borrow_mut()
            .retain(|(id, _)| *id != self.id);
    }
}

impl<E: Clone + 'static> Hub<E> {
    pub fn subscribe(self: &Rc<Self>, callback: Callback<E>) -> Subscription<E> {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        self.subscribers.borrow_mut().push((id, callback));
        Subscription {
            hub: self.clone(),
            id,
        }
    }

    pub fn publish(&self, event: E) {
        // Clone first: a callback may (un)subscribe while we iterate.
        let subscribers: Vec<Callback<E>> = self
            .subscribers
            .borrow()
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        for cb in subscribers {
            cb.emit(event.clone());
        }
    }
}

impl<E> Hub<E> {
    /// Something [`Link::update`] reports changed: the open socket sends it; a socket opened
    /// later starts from the current state anyway.
    pub fn update(&self) {
        if let Some(control) = self.control.borrow().as_ref() {
            let _ = control.unbounded_send(Control::Update);
        }
    }

    /// Closes the socket (code 1000, `reason`) and ends [`Hub::run`].
    pub fn close(&self, reason: &'static str) {
        if let Some(control) = self.control.borrow_mut().take() {
            let _ = control.unbounded_send(Control::Close(reason));
        }
    }

    /// Runs `link`'s connection until [`Hub::close`] or until `link` may not connect: opens the
    /// socket, hands it every frame, and after a failure waits [`backoff::delay`] (0.5 s
    /// doubling up to 10 s) before the next attempt.
    pub async fn run<L: Link>(&self, link: &L) {
        let (control_tx, mut control) = mpsc::unbounded::<Control>();
        *self.control.borrow_mut() = Some(control_tx);
        let mut failures: u32 = 0;
        let mut opened_before = false;
        loop {
            if !link.may_connect() {
                return;
            }
            link.status(LiveStatus::Connecting);
            if let Some(mut ws) = link.open().await {
                link.status(LiveStatus::Connected);
                link.opened(opened_before || failures > 0);
                opened_before = true;
                failures = 0;
                // The socket opened with the current state: updates asked for before are stale.
                while let Ok(c) = control.try_recv() {
                    if let Control::Close(reason) = c {
                        let _ = ws.close(Some(1000), Some(reason));
                        return;
                    }
                }
                loop {
                    // Settle the race first, so neither borrow of the socket outlives it.
                    let next = match select(ws.next(), control.next()).await {
                        Either::Left((message, _)) => Either::Left(message),
                        Either::Right((control, _)) => Either::Right(control),
                    };
                    match next {
                        Either::Left(Some(Ok(Message::Bytes(bytes)))) => link.frame(&bytes),
                        Either::Left(Some(Ok(Message::Text(_)))) => {}
                        Either::Left(Some(Err(_)) | None) => break,
                        Either::Right(Some(Control::Update)) => {
                            if ws.send(Message::Bytes(link.update())).await.is_err() {
                                break;
                            }
                        }
                        Either::Right(Some(Control::Close(reason))) => {
                            let _ = ws.close(Some(1000), Some(reason));
                            return;
                        }
                        Either::Right(None) => return,
                    }
                }
            }
            link.status(LiveStatus::Offline);
            let wait = backoff::delay(failures, js_sys::Math::random());
            failures = failures.saturating_add(1);
            // An update waits for the next socket, which opens with the current state.
            let mut timer = TimeoutFuture::new(wait.as_millis() as u32);
            loop {
                match select(timer, control.next()).await {
                    Either::Left(_) => break,
                    Either::Right((Some(Control::Update), rest)) => timer = rest,
                    Either::Right((Some(Control::Close(_)) | None, _)) => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_in_order_until_unsubscribed() {
        let hub = Rc::new(Hub::<u32>::default());
        let got = Rc::new(RefCell::new(Vec::new()));
        let (a, b) = (got.clone(), got.clone());
        let first = hub.subscribe(Callback::from(move |e| a.borrow_mut().push(("a", e))));
        let second = hub.subscribe(Callback::from(move |e| b.borrow_mut().push(("b", e))));
        hub.publish(1);
        drop(first);
        hub.publish(2);
        drop(second);
        hub.publish(3);
        assert_eq!(*got.borrow(), [("a", 1), ("b", 1), ("b", 2)]);
    }

    #[test]
    fn a_subscriber_may_unsubscribe_while_it_hears() {
        let hub = Rc::new(Hub::<u32>::default());
        let kept = Rc::new(RefCell::new(None::<Subscription<u32>>));
        let heard = Rc::new(Cell::new(0));
        let (k, h) = (kept.clone(), heard.clone());
        let sub = hub.subscribe(Callback::from(move |_| {
            h.set(h.get() + 1);
            k.borrow_mut().take();
        }));
        *kept.borrow_mut() = Some(sub);
        hub.publish(1);
        hub.publish(2);
        assert_eq!(heard.get(), 1);
    }
}
