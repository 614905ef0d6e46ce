//! The product page's state in one place: the product (with live price and stock applied), the
//! picked quantity, an "add to cart" under way, and the notice shown after it.

use std::rc::Rc;

use shared::proto::ProductView;
use yew::Reducible;

use super::apply_to_copy;
use super::load::LoadState;
use crate::api::ApiError;
use crate::live::LiveEvent;
use crate::live_apply;
use crate::notice::Notice;
use crate::stock::StockLevel;

/// An "add to cart" command as sent: retried exactly as it was (same quantity, same key), so a
/// retry after a lost answer never adds twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCommand {
    pub product_id: u64,
    pub set_to: u32,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProductState {
    pub product: LoadState<ProductView>,
    pub for_sale: bool,
    pub quantity: u32,
    pub adding: bool,
    pub notice: Option<Notice>,
    /// The last command, kept while retrying it can help.
    pub retry: Option<AddCommand>,
}

impl Default for ProductState {
    fn default() -> Self {
        ProductState {
            product: LoadState::default(),
            for_sale: true,
            quantity: 1,
            adding: false,
            notice: None,
            retry: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProductAction {
    Load(u64),
    Loaded(u64, Result<ProductView, ApiError>),
    SpinnerDue(u64),
    Quantity(u32),
    Adding(AddCommand),
    Added,
    AddFailed(AddCommand, ApiError),
    Notice(Option<Notice>),
    Live(LiveEvent),
}

impl ProductState {
    pub fn stock(&self) -> StockLevel {
        StockLevel::of(
            self.product
                .value
                .as_ref()
                .and_then(|p| p.availability.as_ref()),
            self.for_sale,
        )
    }

    /// Most that can be picked: the stock, when it is known.
    pub fn max_quantity(&self) -> Option<u64> {
        self.product
            .value
            .as_ref()
            .and_then(|p| StockLevel::max_quantity(p.availability.as_ref()))
    }

    pub fn apply(&mut self, action: ProductAction) -> bool {
        match action {
            ProductAction::Load(g) => self.product.start(g),
            ProductAction::Loaded(g, result) => {
                let ok = result.is_ok();
                if !self.product.finish(g, result) {
                    return false;
                }
                if ok {
                    self.for_sale = true;
                }
            }
            ProductAction::SpinnerDue(g) => return self.product.spinner_due(g),
            ProductAction::Quantity(q) => self.quantity = q.max(1),
            ProductAction::Adding(cmd) => {
                self.adding = true;
                self.notice = None;
                self.retry = Some(cmd);
            }
            ProductAction::Added => {
                self.adding = false;
                self.retry = None;
                self.quantity = 1;
                // The line's quantity is shown live beside this ("You have N in your cart"), so
                // the notice does not repeat a number that another window may change.
                self.notice = Some(Notice::success("Added to your cart."));
            }
            ProductAction::AddFailed(cmd, e) => {
                self.adding = false;
                self.retry = e.is_retryable().then_some(cmd);
                self.notice = Some(Notice::problem(e.message()));
            }
            ProductAction::Notice(n) => self.notice = n,
            ProductAction::Live(LiveEvent::Product(live)) => {
                let Some(p) = self.product.value.as_mut() else {
                    return false;
                };
                if !live_apply::apply_to_product(p, &live) {
                    return false;
                }
                self.for_sale = live.for_sale;
            }
            ProductAction::Live(_) => return false,
        }
        true
    }
}

impl Reducible for ProductState {
    type Action = ProductAction;

    fn reduce(self: Rc<Self>, action: ProductAction) -> Rc<Self> {
        apply_to_copy(self, |next| next.apply(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::{Availability, ProductLive};

    fn loaded(available: u64) -> ProductState {
        let mut s = ProductState::default();
        s.apply(ProductAction::Load(1));
        s.apply(ProductAction::Loaded(
            1,
            Ok(ProductView {
                id: 3,
                availability: Some(Availability {
                    status: 1,
                    available,
                }),
                ..Default::default()
            }),
        ));
        s
    }

    #[test]
    fn stock_follows_live_frames() {
        let mut s = loaded(20);
        assert_eq!(s.stock().text(), "In stock");
        s.apply(ProductAction::Live(LiveEvent::Product(ProductLive {
            product_id: 3,
            price: None,
            availability: Some(Availability {
                status: 2,
                available: 3,
            }),
            for_sale: true,
            ..Default::default()
        })));
        assert_eq!(s.stock().text(), "Only 3 left");
        assert_eq!(s.max_quantity(), Some(3));
        s.apply(ProductAction::Live(LiveEvent::Product(ProductLive {
            product_id: 3,
            price: None,
            availability: Some(Availability {
                status: 3,
                available: 0,
            }),
            for_sale: true,
            ..Default::default()
        })));
        assert_eq!(s.stock().text(), "Sold out");
        assert!(!s.stock().can_buy());
    }

    #[test]
    fn a_failed_add_keeps_its_key_for_a_retry_only_when_retrying_can_help() {
        let mut s = loaded(20);
        let cmd = AddCommand {
            product_id: 3,
            set_to: 2,
            key: "k1".into(),
        };
        s.apply(ProductAction::Adding(cmd.clone()));
        assert!(s.adding);
        s.apply(ProductAction::AddFailed(cmd.clone(), ApiError::Network));
        assert_eq!(s.retry, Some(cmd.clone()));
        s.apply(ProductAction::AddFailed(
            cmd,
            ApiError::Status {
                status: 400,
                body: Default::default(),
            },
        ));
        assert_eq!(s.retry, None);
        s.apply(ProductAction::Added);
        assert_eq!(s.quantity, 1);
        assert!(s.notice.is_some());
    }
}
