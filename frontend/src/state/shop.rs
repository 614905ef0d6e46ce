//! The state every page shares: the shopper's cart (header badge, cart page, "add to cart"), the
//! live connection's status, whether the backend answers, and a counter that asks pages to
//! re-read what they show. One reducer, fed by API answers and the live connection.

use std::rc::Rc;

use shared::proto::CartView;
use yew::Reducible;

use super::apply_to_copy;
use crate::hub::LiveStatus;
use crate::live::{ConnectionEvent, LiveEvent};
use crate::live_apply;

#[derive(Debug, Clone, PartialEq)]
pub struct ShopState {
    /// `None` until the first read answers.
    pub cart: Option<Rc<CartView>>,
    pub live: LiveStatus,
    /// False while calls find no backend (the offline banner).
    pub reachable: bool,
    /// Grows whenever what is shown may be stale; pages re-read when it changes.
    pub resyncs: u64,
}

impl Default for ShopState {
    fn default() -> Self {
        ShopState {
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

impl ShopState {
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

    pub fn apply(&mut self, action: ShopAction) -> bool {
        match action {
            ShopAction::Cart(cart) | ShopAction::Connection(ConnectionEvent::Cart(cart)) => {
                if !live_apply::accept_cart(self.cart.as_deref(), &cart)
                    || self.cart.as_deref() == Some(&cart)
                {
                    return false;
                }
                self.cart = Some(Rc::new(cart));
            }
            ShopAction::Live(LiveEvent::Product(p)) => {
                let Some(shown) = self.cart.as_deref() else {
                    return false;
                };
                let mut cart = shown.clone();
                if !live_apply::apply_to_cart(&mut cart, &p) || *shown == cart {
                    return false;
                }
                self.cart = Some(Rc::new(cart));
            }
            ShopAction::Live(_) => return false,
            ShopAction::Connection(ConnectionEvent::Status(s)) => {
                let before = (self.live, self.reachable);
                if s == LiveStatus::Connected {
                    // An open socket proves the backend is there.
                    self.reachable = true;
                }
                self.live = s;
                return (self.live, self.reachable) != before;
            }
            ShopAction::Connection(ConnectionEvent::Resync) => self.resyncs += 1,
            ShopAction::Reachable(r) => {
                if self.reachable == r {
                    return false;
                }
                self.reachable = r;
            }
        }
        true
    }
}

impl Reducible for ShopState {
    type Action = ShopAction;

    fn reduce(self: Rc<Self>, action: ShopAction) -> Rc<Self> {
        apply_to_copy(self, |next| next.apply(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::CartLineView;

    /// The state the reducer hands back, or `None` when it keeps the old one (no re-render).
    fn after(s: &ShopState, action: ShopAction) -> Option<ShopState> {
        let old = Rc::new(s.clone());
        let next = old.clone().reduce(action);
        (!Rc::ptr_eq(&old, &next)).then(|| (*next).clone())
    }

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
        let s = ShopState::default();
        assert_eq!(s.item_count(), 0);
        let s = after(&s, ShopAction::Cart(cart(2, 3))).unwrap();
        assert_eq!((s.item_count(), s.quantity_in_cart(5)), (3, 3));
        assert_eq!(s.quantity_in_cart(6), 0);
        // A frame from before the command's answer arrives late: ignored.
        assert!(
            after(
                &s,
                ShopAction::Connection(ConnectionEvent::Cart(cart(1, 1)))
            )
            .is_none()
        );
        let s = after(
            &s,
            ShopAction::Connection(ConnectionEvent::Cart(cart(3, 4))),
        )
        .unwrap();
        assert_eq!(s.item_count(), 4);
        assert!(after(&s, ShopAction::Cart(cart(3, 4))).is_none());
    }

    #[test]
    fn connection_events() {
        let s = after(&ShopState::default(), ShopAction::Reachable(false)).unwrap();
        assert!(!s.reachable);
        let s = after(
            &s,
            ShopAction::Connection(ConnectionEvent::Status(LiveStatus::Connected)),
        )
        .unwrap();
        assert!(s.reachable);
        assert_eq!(s.live, LiveStatus::Connected);
        let s = after(&s, ShopAction::Connection(ConnectionEvent::Resync)).unwrap();
        assert_eq!(s.resyncs, 1);
        assert!(after(&s, ShopAction::Reachable(true)).is_none());
    }
}
