//! The state every page shares: the shopper's cart (header badge, cart page, "add to cart"), the
//! live connection's status, whether the backend answers, and a counter that asks pages to
//! re-read what they show. One reducer, fed by API answers and the live connection.

use std::rc::Rc;

use shared::proto::CartView;
use yew::Reducible;

use crate::live::{ConnectionEvent, LiveEvent, LiveStatus};
use crate::live_apply;

#[derive(Debug, Clone, PartialEq)]
pub struct Shop {
    /// `None` until the first read answers.
    pub cart: Option<Rc<CartView>>,
    pub live: LiveStatus,
    /// False while calls find no backend (the offline banner).
    pub reachable: bool,
    /// Grows whenever what is shown may be stale; pages re-read when it changes.
    pub resyncs: u64,
}

impl Default for Shop {
    fn default() -> Self {
        Shop {
            cart: None,
            live: LiveStatus::Connecting,
            reachable: true,
            resyncs: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ShopAction {
    /// A cart from a read, a command's answer or a frame.
    Cart(CartView),
    /// A product snapshot that may touch a cart line.
    Live(LiveEvent),
    Connection(ConnectionEvent),
    Reachable(bool),
}

impl Shop {
    /// Items in the cart, for the badge.
    pub fn item_count(&self) -> u32 {
        self.cart.as_ref().map_or(0, |c| c.item_count)
    }

    /// How many of a product the cart holds.
    pub fn quantity_in_cart(&self, product_id: u64) -> u32 {
        self.cart.as_ref().map_or(0, |c| {
            c.lines
                .iter()
                .find(|l| l.product_id == product_id)
                .map_or(0, |l| l.quantity)
        })
    }

    /// Applies an action; returns `None` when nothing changed, so nothing re-renders.
    pub fn apply(&self, action: ShopAction) -> Option<Shop> {
        let mut next = self.clone();
        match action {
            ShopAction::Cart(cart) | ShopAction::Connection(ConnectionEvent::Cart(cart)) => {
                if !live_apply::accept_cart(self.cart.as_deref(), &cart)
                    || self.cart.as_deref() == Some(&cart)
                {
                    return None;
                }
                next.cart = Some(Rc::new(cart));
            }
            ShopAction::Live(LiveEvent::Product(p)) => {
                let mut cart = (**self.cart.as_ref()?).clone();
                if !live_apply::apply_to_cart(&mut cart, &p) || self.cart.as_deref() == Some(&cart)
                {
                    return None;
                }
                next.cart = Some(Rc::new(cart));
            }
            ShopAction::Live(_) => return None,
            ShopAction::Connection(ConnectionEvent::Status(s)) => {
                if s == LiveStatus::Connected {
                    // An open socket proves the backend is there.
                    next.reachable = true;
                }
                next.live = s;
            }
            ShopAction::Connection(ConnectionEvent::Resync) => next.resyncs += 1,
            ShopAction::Reachable(r) => next.reachable = r,
        }
        (next != *self).then_some(next)
    }
}

impl Reducible for Shop {
    type Action = ShopAction;

    fn reduce(self: Rc<Self>, action: ShopAction) -> Rc<Self> {
        match self.apply(action) {
            Some(next) => Rc::new(next),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::CartLineView;

    fn cart(version: u64, quantity: u32) -> CartView {
        CartView {
            lines: vec![CartLineView {
                product_id: 5,
                quantity,
                orderable: true,
                ..Default::default()
            }],
            totals: vec![],
            version,
            item_count: quantity,
        }
    }

    #[test]
    fn badge_and_quantities_follow_the_newest_cart() {
        let s = Shop::default();
        assert_eq!(s.item_count(), 0);
        let s = s.apply(ShopAction::Cart(cart(2, 3))).unwrap();
        assert_eq!((s.item_count(), s.quantity_in_cart(5)), (3, 3));
        assert_eq!(s.quantity_in_cart(6), 0);
        // A frame from before the command's answer arrives late: ignored.
        assert!(
            s.apply(ShopAction::Connection(ConnectionEvent::Cart(cart(1, 1))))
                .is_none()
        );
        let s = s
            .apply(ShopAction::Connection(ConnectionEvent::Cart(cart(3, 4))))
            .unwrap();
        assert_eq!(s.item_count(), 4);
        assert!(s.apply(ShopAction::Cart(cart(3, 4))).is_none());
    }

    #[test]
    fn connection_events() {
        let s = Shop::default().apply(ShopAction::Reachable(false)).unwrap();
        assert!(!s.reachable);
        let s = s
            .apply(ShopAction::Connection(ConnectionEvent::Status(
                LiveStatus::Connected,
            )))
            .unwrap();
        assert!(s.reachable);
        assert_eq!(s.live, LiveStatus::Connected);
        let s = s
            .apply(ShopAction::Connection(ConnectionEvent::Resync))
            .unwrap();
        assert_eq!(s.resyncs, 1);
        assert!(s.apply(ShopAction::Reachable(true)).is_none());
    }
}
