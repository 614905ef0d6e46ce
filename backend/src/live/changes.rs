//! What each published batch of checkout events changed, and the hub that announces it to
//! the open sockets.

use std::sync::Arc;
use std::time::Duration;

use shared::ids::CartId;
use shared::proto::{CheckoutEvent, catalog_event, checkout_event::Event};
use tokio::sync::{broadcast, watch};

use crate::checkout::cart_name;
use crate::checkout::fold::cart_command_key;
use crate::checkout::{Checkout, CheckoutFold, Outcome};
use crate::engine::{Applied, Observer};

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
        // A moved cart is new to the sockets of its new name; one still open with the old cookie
        // keeps showing the cart as it was until the app reads it again (with the new cookie).
        Some(Event::CartLineSetV1(_)) | Some(Event::CartRekeyedV1(_)) => {
            if let Some(cart) = cart_name::of_event(event) {
                into.push(Touched::Cart(cart));
            }
        }
        Some(Event::OrderRequestedV1(_)) | Some(Event::OrderRequestedV2(_)) => {
            let cart_version = match &event.event {
                Some(Event::OrderRequestedV1(e)) => e.cart_version,
                Some(Event::OrderRequestedV2(e)) => e.cart_version,
                _ => unreachable!("matched above"),
            };
            let Some(cart) = cart_name::of_event(event) else {
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
                cart_version,
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
    pub(super) live: bool,
    pub(super) touched: Vec<Touched>,
    pub(super) catalog_offset: Option<i64>,
    pub(super) batches: broadcast::Sender<Arc<Batch>>,
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

/// The live-update hub of a running shop: the announcements and the open sockets.
pub struct Live {
    pub(super) hub: Arc<Hub>,
}

pub(super) struct Hub {
    pub(super) batches: broadcast::Sender<Arc<Batch>>,
    /// Becomes true at shutdown: every socket closes.
    pub(super) closing: watch::Sender<bool>,
    /// Sockets being upgraded or open.
    pub(super) open: watch::Sender<usize>,
    /// Open sockets per client address, for `LIVE_MAX_SOCKETS_PER_CLIENT` (touched only when a
    /// socket opens or closes, never by a read).
    pub(super) per_client: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, u32>>,
}

impl Live {
    /// A hub that keeps the last `announced` batches for the sockets: one that falls further
    /// behind is told to resync.
    pub fn new(announced: usize) -> Live {
        Live {
            hub: Arc::new(Hub {
                batches: broadcast::channel(announced.max(1)).0,
                closing: watch::channel(false).0,
                open: watch::channel(0).0,
                per_client: Default::default(),
            }),
        }
    }

    /// The observer for the checkout writer.
    pub fn collector(&self) -> Box<dyn Observer<CheckoutFold>> {
        Box::new(Collector {
            live: false,
            touched: Vec::new(),
            catalog_offset: None,
            batches: self.hub.batches.clone(),
        })
    }

    /// Becomes true at shutdown (other sockets close on it too).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.hub.closing.subscribe()
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
