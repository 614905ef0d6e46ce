//! The catalog page's state in one place: the current results (kept on screen while the next
//! page loads), the category facets, and live updates applied to the cards shown.

use std::collections::BTreeSet;
use std::rc::Rc;

use shared::proto::{CategoryList, ProductPage, ProductView};
use yew::Reducible;

use super::apply_to_copy;
use super::load::LoadState;
use crate::api::ApiError;
use crate::live::LiveEvent;
use crate::live_apply;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogState {
    pub results: LoadState<ProductPage>,
    pub categories: Option<CategoryList>,
    /// Products shown that were disabled since they were read.
    pub not_for_sale: BTreeSet<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CatalogAction {
    Load(u64),
    Loaded(u64, Result<ProductPage, ApiError>),
    SpinnerDue(u64),
    Categories(CategoryList),
    Live(LiveEvent),
}

impl CatalogState {
    pub fn items(&self) -> &[ProductView] {
        self.results.value.as_ref().map_or(&[], |p| &p.items)
    }

    /// The ids on screen, for the live connection's watch list.
    pub fn shown_ids(&self) -> Vec<u64> {
        self.items().iter().map(|p| p.id).collect()
    }

    pub fn for_sale(&self, id: u64) -> bool {
        !self.not_for_sale.contains(&id)
    }

    /// "Page 2 of 10": never "of 0", an empty result is still one (empty) page.
    pub fn page_info(&self) -> (u32, u32) {
        match &self.results.value {
            Some(p) => (p.page.max(1), p.total_pages.max(1)),
            None => (1, 1),
        }
    }

    pub fn apply(&mut self, action: CatalogAction) -> bool {
        match action {
            CatalogAction::Load(g) => {
                self.results.start(g);
                true
            }
            CatalogAction::Loaded(g, result) => {
                let fresh = result.is_ok();
                let applied = self.results.finish(g, result);
                if applied && fresh {
                    self.not_for_sale.clear();
                }
                applied
            }
            CatalogAction::SpinnerDue(g) => self.results.spinner_due(g),
            CatalogAction::Categories(c) => {
                self.categories = Some(c);
                true
            }
            CatalogAction::Live(LiveEvent::Product(live)) => {
                let Some(page) = self.results.value.as_mut() else {
                    return false;
                };
                let mut changed = false;
                for item in &mut page.items {
                    changed |= live_apply::apply_to_product(item, &live);
                }
                if changed && !live.for_sale {
                    self.not_for_sale.insert(live.product_id);
                } else if changed {
                    self.not_for_sale.remove(&live.product_id);
                }
                changed
            }
            CatalogAction::Live(_) => false,
        }
    }
}

impl Reducible for CatalogState {
    type Action = CatalogAction;

    fn reduce(self: Rc<Self>, action: CatalogAction) -> Rc<Self> {
        apply_to_copy(self, |next| next.apply(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::money::money;
    use shared::proto::{Availability, ProductLive};

    fn page(ids: &[u64]) -> ProductPage {
        ProductPage {
            items: ids
                .iter()
                .map(|&id| ProductView {
                    id,
                    price: Some(money(100, "EUR")),
                    ..Default::default()
                })
                .collect(),
            page: 2,
            page_size: 24,
            total_items: 100,
            total_pages: 5,
            search: None,
        }
    }

    #[test]
    fn live_frames_update_the_cards_shown() {
        let mut s = CatalogState::default();
        s.apply(CatalogAction::Load(1));
        s.apply(CatalogAction::Loaded(1, Ok(page(&[1, 2, 3]))));
        assert_eq!(s.shown_ids(), [1, 2, 3]);
        assert_eq!(s.page_info(), (2, 5));
        let frame = ProductLive {
            product_id: 2,
            price: Some(money(90, "EUR")),
            availability: Some(Availability {
                status: 2,
                available: 1,
            }),
            for_sale: false,
            ..Default::default()
        };
        assert!(s.apply(CatalogAction::Live(LiveEvent::Product(frame.clone()))));
        assert_eq!(s.items()[1].price, Some(money(90, "EUR")));
        assert!(!s.for_sale(2));
        assert!(
            !s.apply(CatalogAction::Live(LiveEvent::Product(ProductLive {
                product_id: 99,
                ..frame
            })))
        );
    }

    #[test]
    fn results_stay_while_the_next_page_loads() {
        let mut s = CatalogState::default();
        assert_eq!(s.page_info(), (1, 1));
        s.apply(CatalogAction::Load(1));
        s.apply(CatalogAction::Loaded(1, Ok(page(&[1]))));
        s.apply(CatalogAction::Load(2));
        assert_eq!(s.shown_ids(), [1]);
        assert!(s.apply(CatalogAction::SpinnerDue(2)));
        s.apply(CatalogAction::Loaded(2, Err(ApiError::Network)));
        assert_eq!(s.shown_ids(), [1]);
        assert!(s.results.error.is_some());
    }

    #[test]
    fn empty_results_are_page_one_of_one() {
        let mut s = CatalogState::default();
        s.apply(CatalogAction::Load(1));
        let empty = ProductPage {
            page: 1,
            page_size: 24,
            ..Default::default()
        };
        s.apply(CatalogAction::Loaded(1, Ok(empty)));
        assert_eq!(s.page_info(), (1, 1));
    }
}
