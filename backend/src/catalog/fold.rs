//! The catalog's rules: its pure fold over the catalog topic. During the start-up replay only
//! the product map is maintained and `finalize` builds the listings and the search index once;
//! afterwards each event updates them in place.

use std::sync::Arc;

use shared::proto::{CatalogEvent, CommandMeta, ProductUpsertedV1, catalog_event::Event};

use super::codec;
use super::product::Texts;
use super::search::SearchIndex;
use crate::engine::snapshot::{DecodeError, Decoder, Encoder};
use crate::engine::{Applied, Fold};

use super::model::{Category, CommandRecord, Disabled, Listing, listings};
// The model's names where the rest of the crate has named them (`catalog::fold::Catalog`).
pub use super::model::{Catalog, compare};
pub use super::product::Product;
pub use shared::sort::SortKey;

/// A product as an upsert event describes it.
fn from_event(e: &ProductUpsertedV1) -> Product {
    Product::new(
        e.product_id,
        e.price_minor,
        Texts {
            title: &e.title,
            description: &e.description,
            long_text: &e.long_text,
            category: &e.category,
            currency: &e.currency,
            image_urls: &e.image_urls,
        },
    )
}

impl Catalog {
    /// Whether applying this upsert would change anything: a new product, other fields, or a
    /// disabled product it would enable again (an import leaves out the rows that would not).
    pub fn upsert_changes(&self, e: &ProductUpsertedV1) -> bool {
        self.products
            .get(e.product_id)
            .is_none_or(|p| **p != from_event(e))
    }

    fn index(&mut self, p: &Arc<Product>) {
        self.all.insert(p);
        let cat = self
            .categories
            .entry(p.category_slug().to_owned())
            .or_insert_with(|| Category {
                name: p.category().to_owned(),
                listing: Listing::default(),
            });
        cat.listing.insert(p);
        cat.name_after_first_product();
    }

    fn unindex(&mut self, p: &Arc<Product>) {
        self.all.remove(p);
        if let Some(cat) = self.categories.get_mut(p.category_slug()) {
            cat.listing.remove(p);
            if cat.listing.is_empty() {
                self.categories.remove(p.category_slug());
            } else {
                cat.name_after_first_product();
            }
        }
    }

    /// Replaces a product, keeping the listings in step when they are maintained.
    fn put(&mut self, new: Product) {
        let new = Arc::new(new);
        let old = self.products.insert(new.id, new.clone());
        if self.indexed {
            self.disabled.update(old.as_ref(), &new);
        }
        if self.indexed {
            let old = old.filter(|o| !o.disabled);
            if let Some(old) = &old {
                self.unindex(old);
            }
            if !new.disabled {
                self.index(&new);
            }
            let new = Some(&*new).filter(|n| !n.disabled);
            self.search.update(old.as_deref(), new);
        }
    }
}

/// Scope of admin idempotency keys in the catalog.
pub fn admin_command_key(key: &str) -> String {
    format!("admin/{key}")
}

/// The catalog's fold.
pub struct CatalogFold;

impl Fold for CatalogFold {
    type Model = Catalog;
    type Event = CatalogEvent;
    const NAME: &'static str = "catalog";

    fn apply(model: &mut Catalog, event: &CatalogEvent, offset: i64) -> Applied {
        if let Some(CommandMeta {
            idempotency_key,
            fingerprint,
            requested_at_ms,
            record_retention_ms,
        }) = &event.meta
            && !idempotency_key.is_empty()
        {
            if model.clock.advance(*requested_at_ms) {
                model.commands.expire(model.clock.0);
            }
            let key = admin_command_key(idempotency_key);
            if model.commands.contains(&key) {
                return Applied::Ignored("duplicate command");
            }
            model.commands.insert(
                &key,
                CommandRecord {
                    fingerprint: *fingerprint,
                    offset,
                    outcome: (),
                    expires_at_ms: model.clock.deadline(*requested_at_ms, *record_retention_ms),
                },
            );
        }
        match &event.event {
            Some(Event::ProductUpsertedV1(e)) => {
                if e.product_id == 0 {
                    return Applied::Ignored("product id 0");
                }
                model.put(from_event(e));
                Applied::Changed
            }
            Some(Event::PriceChangedV1(e)) => match model.products.get(e.product_id) {
                Some(p) if p.price_minor != e.price_minor => {
                    let p = p.with_price(e.price_minor);
                    model.put(p);
                    Applied::Changed
                }
                Some(_) => Applied::Ignored("same price"),
                None => Applied::Ignored("price of unknown product"),
            },
            Some(Event::ProductDisabledV1(e)) => match model.products.get(e.product_id) {
                Some(p) if !p.disabled => {
                    let mut p = Product::clone(p);
                    p.disabled = true;
                    model.put(p);
                    Applied::Changed
                }
                Some(_) => Applied::Ignored("already disabled"),
                None => Applied::Ignored("disable of unknown product"),
            },
            None => Applied::Ignored("unknown event kind"),
        }
    }

    fn kind(event: &CatalogEvent) -> &'static str {
        match &event.event {
            Some(Event::ProductUpsertedV1(_)) => "product_upserted",
            Some(Event::PriceChangedV1(_)) => "price_changed",
            Some(Event::ProductDisabledV1(_)) => "product_disabled",
            None => "unknown",
        }
    }

    fn entries(model: &Catalog) -> Vec<(&'static str, usize)> {
        vec![
            ("products", model.products.len()),
            ("categories", model.categories.len()),
            ("disabled", model.disabled.len()),
            ("commands", model.commands.len()),
        ]
    }

    const MODEL_VERSION: u32 = 4;

    fn encode(model: &Catalog, out: &mut Encoder) {
        codec::encode(model, out)
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Catalog, DecodeError> {
        codec::decode(d)
    }

    fn finalize(model: &mut Catalog) {
        if model.indexed {
            // Loaded from a snapshot, or finalized before: the listings are maintained.
            return;
        }
        let list: Vec<Arc<Product>> = model.products.iter().map(|(_, p)| p.clone()).collect();
        // The search index (most of the work) on its own threads while this one sorts.
        let (search, listed) = std::thread::scope(|s| {
            let search = s.spawn(|| {
                SearchIndex::build_parallel(
                    list.iter().filter(|p| !p.disabled).map(|p| &**p),
                    FINALIZE_THREADS,
                )
            });
            let enabled: Vec<u32> = (0..list.len() as u32)
                .filter(|&i| !list[i as usize].disabled)
                .collect();
            let orders = SortKey::ALL.map(|key| {
                let mut order = enabled.clone();
                if key != SortKey::Id {
                    order.sort_unstable_by(|&a, &b| {
                        compare(key, &list[a as usize], &list[b as usize])
                    });
                }
                order
            });
            let listed = listings(&list, orders);
            (
                search.join().expect("building the index does not panic"),
                listed,
            )
        });
        (model.all, model.categories) = listed;
        model.search = search;
        model.disabled = Disabled::build(list.iter().filter(|p| p.disabled));
        model.indexed = true;
    }
}

/// Threads the start-up's `finalize` builds the search index on.
const FINALIZE_THREADS: usize = 2;

// The context's tests, in a file of their own; declared here so that their event builders keep
// the path other modules' tests import them by (`catalog::fold::tests::upsert`).
#[cfg(test)]
#[path = "tests.rs"]
pub(crate) mod tests;
