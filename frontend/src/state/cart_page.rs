//! The cart page's state in one place (the cart itself is shared, see `shop`): which lines have
//! a change under way, whether an order is being placed, the explanation shown, and the command
//! to retry.

use std::collections::BTreeSet;
use std::rc::Rc;

use shared::proto::{CartLineView, CartView};
use yew::Reducible;

use super::apply_to_copy;
use crate::api::ApiError;
use crate::live::LiveEvent;
use crate::notice::{self, Notice};

/// A cart command as sent, kept so a retry repeats it exactly (same body, same key).
#[derive(Debug, Clone, PartialEq)]
pub enum CartCommand {
    SetLine {
        product_id: u64,
        quantity: u32,
        key: String,
    },
    /// The cart as on screen: its version and lines (titles and prices as shown).
    PlaceOrder {
        cart_version: u64,
        lines: Vec<CartLineView>,
        key: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CartPageState {
    pub busy_lines: BTreeSet<u64>,
    pub placing: bool,
    pub notice: Option<Notice>,
    pub retry: Option<CartCommand>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CartPageAction {
    Sent(CartCommand),
    LineSet(u64),
    /// A command failed; `cart` is the cart on screen, for naming lines.
    Failed {
        command: CartCommand,
        error: ApiError,
        cart: Option<CartView>,
    },
    Placed,
    Live(LiveEvent),
    Dismiss,
}

impl CartPageState {
    pub fn apply(&mut self, action: CartPageAction) -> bool {
        match action {
            CartPageAction::Sent(cmd) => {
                match &cmd {
                    CartCommand::SetLine { product_id, .. } => {
                        self.busy_lines.insert(*product_id);
                    }
                    CartCommand::PlaceOrder { .. } => self.placing = true,
                }
                self.notice = None;
                self.retry = None;
            }
            CartPageAction::LineSet(id) => {
                self.busy_lines.remove(&id);
            }
            CartPageAction::Failed {
                command,
                error,
                cart,
            } => {
                match &command {
                    CartCommand::SetLine { product_id, .. } => {
                        self.busy_lines.remove(product_id);
                    }
                    CartCommand::PlaceOrder { .. } => self.placing = false,
                }
                let text = match error.rejection() {
                    Some(r) => notice::rejection_text(r, cart.as_ref()),
                    None => error.message(),
                };
                self.notice = Some(Notice::problem(text));
                self.retry = error.is_retryable().then_some(command);
            }
            CartPageAction::Placed => {
                self.placing = false;
                self.retry = None;
            }
            CartPageAction::Live(LiveEvent::OrderPlaced(order)) if !self.placing => {
                // Placed from another window: say so, since this cart just emptied.
                self.notice = Some(Notice::info(format!(
                    "Order {} was placed from another window.",
                    order.id
                )));
            }
            CartPageAction::Live(_) => return false,
            CartPageAction::Dismiss => {
                self.notice = None;
                self.retry = None;
            }
        }
        true
    }
}

impl Reducible for CartPageState {
    type Action = CartPageAction;

    fn reduce(self: Rc<Self>, action: CartPageAction) -> Rc<Self> {
        apply_to_copy(self, |next| next.apply(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::{Error as ErrorBody, OrderRejection, OrderView, RejectionReason};

    fn place(key: &str) -> CartCommand {
        CartCommand::PlaceOrder {
            cart_version: 4,
            lines: vec![],
            key: key.into(),
        }
    }

    #[test]
    fn cart_changed_explains_and_is_not_retried() {
        let mut s = CartPageState::default();
        s.apply(CartPageAction::Sent(place("k")));
        assert!(s.placing);
        let error = ApiError::Status {
            status: 409,
            body: ErrorBody {
                code: "cart_changed".into(),
                rejection: Some(OrderRejection {
                    reason: RejectionReason::CartChanged as i32,
                    expected_version: 4,
                    current_version: 5,
                    ..Default::default()
                }),
                ..Default::default()
            },
        };
        s.apply(CartPageAction::Failed {
            command: place("k"),
            error,
            cart: None,
        });
        assert!(!s.placing);
        assert!(s.retry.is_none(), "the shopper must see the new cart first");
        assert!(
            s.notice
                .unwrap()
                .text
                .starts_with("Your cart changed in another window")
        );
    }

    #[test]
    fn a_lost_answer_keeps_the_command_and_its_key() {
        let mut s = CartPageState::default();
        let cmd = CartCommand::SetLine {
            product_id: 2,
            quantity: 3,
            key: "k2".into(),
        };
        s.apply(CartPageAction::Sent(cmd.clone()));
        assert!(s.busy_lines.contains(&2));
        s.apply(CartPageAction::Failed {
            command: cmd.clone(),
            error: ApiError::Network,
            cart: None,
        });
        assert!(s.busy_lines.is_empty());
        assert_eq!(s.retry, Some(cmd));
    }

    #[test]
    fn orders_from_other_windows_are_mentioned() {
        let mut s = CartPageState::default();
        let order = OrderView {
            id: 12,
            ..Default::default()
        };
        assert!(s.apply(CartPageAction::Live(LiveEvent::OrderPlaced(order.clone()))));
        assert!(s.notice.as_ref().unwrap().text.contains("Order 12"));
        s.apply(CartPageAction::Sent(place("k")));
        s.notice = None;
        s.apply(CartPageAction::Live(LiveEvent::OrderPlaced(order)));
        assert!(s.notice.is_none(), "our own order is not news");
    }
}
