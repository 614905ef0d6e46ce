//! Disabled products, sorted the way the listings sort enabled ones (by name, price and id,
//! globally and per category), so the operator's list pages over the whole catalog by merging
//! two sorted listings instead of scanning. Kept by the catalog fold; rebuilt, not stored, by a
//! snapshot load.

use std::sync::Arc;

pub use super::model::Disabled;
use super::model::Listing;
use super::product::Product;

// The type is declared beside the model that holds it, so the model needs nothing from here.
impl Disabled {
    pub fn all(&self) -> &Listing {
        &self.all
    }

    /// A category's disabled products (None: it has none).
    pub fn category(&self, slug: &str) -> Option<&Listing> {
        self.categories.get(slug)
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// `new` replaced `old` (None: a new product).
    pub(super) fn update(&mut self, old: Option<&Arc<Product>>, new: &Arc<Product>) {
        if let Some(old) = old.filter(|o| o.disabled) {
            self.all.remove(old);
            if let Some(listing) = self.categories.get_mut(old.category_slug()) {
                listing.remove(old);
                if listing.is_empty() {
                    self.categories.remove(old.category_slug());
                }
            }
        }
        if new.disabled {
            self.all.insert(new);
            self.categories
                .entry(new.category_slug().to_owned())
                .or_default()
                .insert(new);
        }
    }

    pub(super) fn build<'a>(products: impl Iterator<Item = &'a Arc<Product>>) -> Disabled {
        let all: Vec<Arc<Product>> = products.cloned().collect();
        let mut by_category: std::collections::BTreeMap<&str, Vec<Arc<Product>>> =
            Default::default();
        for p in &all {
            by_category
                .entry(p.category_slug())
                .or_default()
                .push(p.clone());
        }
        Disabled {
            categories: by_category
                .into_iter()
                .map(|(slug, products)| (slug.to_owned(), Listing::build(products)))
                .collect(),
            all: Listing::build(all),
        }
    }
}
