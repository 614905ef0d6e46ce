//! The catalog's model: products by id and the indexes kept beside them.
//!
//! Products live in a persistent hash map; enabled products are also kept in three sorted
//! persistent vectors (by name, price and id), globally and per category, so a page of any sort
//! order is an index range. During the start-up replay only the map is maintained and the
//! vectors are sorted once in `finalize`; afterwards each event updates them in place
//! (binary search + insert/remove, O(log n) with structural sharing).
//!
//! The fields are the context's own: [`super::fold`] changes them and [`super::codec`] stores
//! them; the rest of the crate reads through the methods here.

use std::cmp::Ordering;
use std::sync::Arc;

use imbl::OrdMap;

use super::product::Product;
use super::search::SearchIndex;
use crate::engine::idmap::IdMap;
use crate::engine::ranked::Ranked;
use crate::engine::retention::{LogClock, Record, Records};

pub use shared::sort::SortKey;

/// How `key` orders two products: ties broken by id, so every listing has one order.
pub fn compare(key: SortKey, a: &Product, b: &Product) -> Ordering {
    match key {
        SortKey::Name => a.name_key().cmp(b.name_key()).then(a.id.cmp(&b.id)),
        SortKey::Price => a.price_minor.cmp(&b.price_minor).then(a.id.cmp(&b.id)),
        SortKey::Id => a.id.cmp(&b.id),
    }
}

/// Enabled products sorted three ways.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    sorted: [Ranked<Arc<Product>>; 3],
}

impl Listing {
    pub fn by(&self, key: SortKey) -> &Ranked<Arc<Product>> {
        &self.sorted[key as usize]
    }

    pub fn len(&self) -> usize {
        self.sorted[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The listing of these products (sorted here: for the few a start-up does not list
    /// from its global orders, the disabled ones).
    pub(super) fn build(mut products: Vec<Arc<Product>>) -> Listing {
        let mut sorted: [Ranked<Arc<Product>>; 3] = Default::default();
        for key in SortKey::ALL {
            products.sort_unstable_by(|a, b| compare(key, a, b));
            sorted[key as usize] = Ranked::from_sorted(products.clone());
        }
        Listing { sorted }
    }

    pub(super) fn insert(&mut self, p: &Arc<Product>) {
        for key in SortKey::ALL {
            self.sorted[key as usize].insert_by(p.clone(), |x, p| compare(key, x, p));
        }
    }

    pub(super) fn remove(&mut self, p: &Arc<Product>) {
        for key in SortKey::ALL {
            self.sorted[key as usize].remove_by(p, |x, p| compare(key, x, p));
        }
    }
}

/// A category and its own listing.
#[derive(Debug, Clone, Default)]
pub struct Category {
    /// The category name of its enabled product with the lowest id: names that differ only in
    /// what the slug drops ("Home & Garden", "Home Garden") share a category, and this rule
    /// makes its name a function of the model, whatever order the products came in.
    pub name: String,
    pub listing: Listing,
}

impl Category {
    pub(super) fn name_after_first_product(&mut self) {
        if let Some(first) = self.listing.by(SortKey::Id).first()
            && first.category() != self.name
        {
            self.name = first.category().to_owned();
        }
    }
}

/// Disabled products, sorted like the listings, globally and per category (maintained in
/// `catalog/disabled.rs`, so the operator's list pages over the whole catalog).
#[derive(Debug, Clone, Default)]
pub struct Disabled {
    pub(super) all: Listing,
    pub(super) categories: OrdMap<String, Listing>,
}

/// An admin command already applied, kept so the same idempotency key has one effect (until
/// the log's time passes its retention).
pub type CommandRecord = Record<()>;

/// The catalog model.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub(super) products: IdMap<Arc<Product>>,
    pub(super) all: Listing,
    pub(super) categories: OrdMap<String, Category>,
    pub(super) commands: Records<()>,
    /// The log's time: the newest command time applied (what records expire against).
    pub(super) clock: LogClock,
    /// False during the start-up replay: the listings are built by `finalize`.
    pub(super) indexed: bool,
    /// Enabled products by the words of their texts; maintained with the listings.
    pub(super) search: SearchIndex,
    /// Disabled products, sorted like the listings (for the operator's list).
    pub(super) disabled: Disabled,
}

impl Catalog {
    /// A product by id, disabled ones included.
    pub fn product(&self, id: u64) -> Option<&Arc<Product>> {
        self.products.get(id)
    }

    /// A product a shopper may see.
    pub fn enabled_product(&self, id: u64) -> Option<&Arc<Product>> {
        self.products.get(id).filter(|p| !p.disabled)
    }

    pub fn search_index(&self) -> &SearchIndex {
        &self.search
    }

    /// Takes the search index out of the model, leaving an empty one (for measuring the model
    /// and its index apart).
    pub fn take_search_index(&mut self) -> SearchIndex {
        std::mem::take(&mut self.search)
    }

    /// Disabled products, sorted like the listings.
    pub fn disabled(&self) -> &Disabled {
        &self.disabled
    }

    pub fn listing(&self) -> &Listing {
        &self.all
    }

    pub fn category(&self, slug: &str) -> Option<&Category> {
        self.categories.get(slug)
    }

    /// Categories with at least one enabled product, ordered by slug.
    pub fn categories(&self) -> impl Iterator<Item = (&String, &Category)> {
        self.categories.iter()
    }

    pub fn command(&self, key: &str) -> Option<&CommandRecord> {
        self.commands.get(key)
    }

    /// Every product, disabled ones included, in id order (a full scan: for tools and tests).
    pub fn products_by_id(&self) -> impl Iterator<Item = &Product> {
        self.products.iter().map(|(_, p)| &**p)
    }

    /// Number of products known, disabled ones included.
    pub fn product_count(&self) -> usize {
        self.products.len()
    }
}

/// The global listings and each category's, from the sort orders (positions in `list`, in
/// [`SortKey::ALL`] order): a category's listing is the global one filtered, so nothing is
/// sorted twice.
pub(super) fn listings(
    list: &[Arc<Product>],
    orders: [Vec<u32>; 3],
) -> (Listing, OrdMap<String, Category>) {
    // Each listed product's category number.
    let mut numbers: std::collections::HashMap<&str, u32> = Default::default();
    let mut slugs: Vec<&str> = vec![];
    let mut category_of = vec![u32::MAX; list.len()];
    for &at in &orders[SortKey::Id as usize] {
        let slug = list[at as usize].category_slug();
        category_of[at as usize] = *numbers.entry(slug).or_insert_with(|| {
            slugs.push(slug);
            slugs.len() as u32 - 1
        });
    }
    let mut per_category: Vec<[Vec<Arc<Product>>; 3]> = vec![Default::default(); slugs.len()];
    let all = orders.each_ref().map(|order| {
        order
            .iter()
            .map(|&at| list[at as usize].clone())
            .collect::<Vec<_>>()
    });
    for (key, order) in orders.iter().enumerate() {
        for &at in order {
            let c = category_of[at as usize];
            per_category[c as usize][key].push(list[at as usize].clone());
        }
    }
    let categories = slugs
        .into_iter()
        .zip(per_category)
        .map(|(slug, sorted)| {
            let mut category = Category {
                name: String::new(),
                listing: Listing {
                    sorted: sorted.map(Ranked::from_sorted),
                },
            };
            category.name_after_first_product();
            (slug.to_owned(), category)
        })
        .collect();
    (
        Listing {
            sorted: all.map(Ranked::from_sorted),
        },
        categories,
    )
}
