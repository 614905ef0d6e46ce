//! The catalog's model and its pure fold over the catalog topic.
//!
//! Products live in a persistent hash map; enabled products are also kept in three sorted
//! persistent vectors (by name, price and id), globally and per category, so a page of any sort
//! order is an index range. During the start-up replay only the map is maintained and the
//! vectors are sorted once in `finalize`; afterwards each event updates them in place
//! (binary search + insert/remove, O(log n) with structural sharing).

use std::cmp::Ordering;
use std::sync::Arc;

use imbl::OrdMap;
use shared::proto::{CatalogEvent, CommandMeta, ProductUpsertedV1, catalog_event::Event};

use super::search::SearchIndex;
use crate::engine::idmap::IdMap;
use crate::engine::ranked::Ranked;
use crate::engine::retention::{LogClock, Record, Records};
use crate::engine::snapshot::{DecodeError, Decoder, Encoder};
use crate::engine::{Applied, Fold};

pub use super::product::Product;
use super::product::Texts;

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
    fn name_after_first_product(&mut self) {
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
    products: IdMap<Arc<Product>>,
    all: Listing,
    categories: OrdMap<String, Category>,
    commands: Records<()>,
    /// The log's time: the newest command time applied (what records expire against).
    clock: LogClock,
    /// False during the start-up replay: the listings are built by `finalize`.
    indexed: bool,
    /// Enabled products by the words of their texts; maintained with the listings.
    search: SearchIndex,
    /// Disabled products, sorted like the listings (for the operator's list).
    disabled: Disabled,
}

impl Catalog {
    /// A product by id, disabled ones included.
    pub fn product(&self, id: u64) -> Option<&Arc<Product>> {
        self.products.get(id)
    }

    /// Whether applying this upsert would change anything: a new product, other fields, or a
    /// disabled product it would enable again (an import leaves out the rows that would not).
    pub fn upsert_changes(&self, e: &ProductUpsertedV1) -> bool {
        self.products
            .get(e.product_id)
            .is_none_or(|p| **p != from_event(e))
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

    /// Products in id order (each its stored buffer as it is: a load copies it back), the command records
    /// in key order, the search index's text parts (so a load does not re-read every product's
    /// words: at a million products that took 3.6–4 s, decoding them well under one), and the
    /// three global sort orders as positions in that product list (so a load sorts nothing;
    /// category listings are the global ones filtered by category).
    fn encode(model: &Catalog, out: &mut Encoder) {
        let products: Vec<&Arc<Product>> = model.products.iter().map(|(_, p)| p).collect();
        let ids: Vec<u64> = products.iter().map(|p| p.id).collect();
        // In as many length-prefixed chunks as a load decodes in parallel.
        let per_chunk = products.len().div_ceil(DECODE_THREADS).max(1);
        out.len(products.chunks(per_chunk).len());
        for chunk in products.chunks(per_chunk) {
            let mut e = Encoder::default();
            e.len(chunk.len());
            for p in chunk {
                let (buf, wire_end) = p.parts();
                e.u64(p.id);
                e.i64(p.price_minor);
                e.bool(p.disabled);
                e.u32(wire_end);
                e.bytes(buf);
            }
            out.bytes(&e.buf);
        }
        out.i64(model.clock.0);
        out.len(model.commands.len());
        for (key, c) in model.commands.sorted() {
            out.str(key);
            out.u64(c.fingerprint);
            out.i64(c.offset);
            out.opt_i64(c.expires_at_ms);
        }
        out.bool(model.indexed);
        if model.indexed {
            out.blob(|out| model.search.encode(out));
            for key in SortKey::ALL {
                let order = model.all.by(key);
                out.len(order.len());
                for p in order.iter() {
                    let at = ids.binary_search(&p.id).expect("a listed product is known");
                    out.u32(at as u32);
                }
            }
        }
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Catalog, DecodeError> {
        let chunks = (0..d.len(8)?)
            .map(|_| d.bytes())
            .collect::<Result<Vec<_>, _>>()?;
        let decoded: Vec<Result<Vec<Arc<Product>>, DecodeError>> = std::thread::scope(|s| {
            let rest: Vec<_> = chunks
                .iter()
                .skip(1)
                .map(|c| s.spawn(move || decode_products(c)))
                .collect();
            let first = chunks.first().map(|c| decode_products(c));
            first
                .into_iter()
                .chain(
                    rest.into_iter()
                        .map(|h| h.join().expect("decoding does not panic")),
                )
                .collect()
        });
        let mut list: Vec<Arc<Product>> = Vec::new();
        for chunk in decoded {
            let chunk = chunk?;
            if let (Some(last), Some(next)) = (list.last(), chunk.first())
                && last.id >= next.id
            {
                return Err(DecodeError(format!("product id {} out of order", next.id)));
            }
            list.extend(chunk);
        }
        let clock = LogClock(d.i64()?);
        let count = d.len(8 + 8 + 8 + 1)?;
        let mut commands = Records::default();
        for _ in 0..count {
            let key = d.str()?;
            let record = CommandRecord {
                fingerprint: d.u64()?,
                offset: d.i64()?,
                outcome: (),
                expires_at_ms: d.opt_i64()?,
            };
            commands.insert(key, record);
        }
        let indexed = d.bool()?;
        let search = if indexed { Some(d.bytes()?) } else { None };
        // The product map and the search index are built on threads of their own while this one
        // builds the listings: at a million products each takes a good part of a start-up.
        let (products, listings, search) = std::thread::scope(|s| {
            let map = s.spawn(|| IdMap::from_sorted(list.iter().map(|p| (p.id, p.clone()))));
            let search = s.spawn(|| {
                search
                    .map(|bytes| {
                        let mut d = Decoder::new(bytes);
                        let enabled = list.iter().filter(|p| !p.disabled).map(|p| &**p);
                        let index = SearchIndex::decode(&mut d, enabled)?;
                        d.finish().map(|()| index)
                    })
                    .transpose()
            });
            let listings = if indexed {
                orders(d, list.len()).map(|o| Some(listings(&list, o)))
            } else {
                Ok(None)
            };
            (
                map.join().expect("building a map does not panic"),
                listings,
                search
                    .join()
                    .expect("building the search index does not panic"),
            )
        });
        let mut model = Catalog {
            products,
            commands,
            clock,
            indexed,
            ..Catalog::default()
        };
        if let Some((all, categories)) = listings? {
            model.all = all;
            model.categories = categories;
        }
        model.search = search?.unwrap_or_default();
        if indexed {
            model.disabled = Disabled::build(list.iter().filter(|p| p.disabled));
        }
        Ok(model)
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

/// Threads a snapshot load decodes products on (the encoding writes this many chunks).
const DECODE_THREADS: usize = 2;

/// One chunk of products, in id order.
fn decode_products(bytes: &[u8]) -> Result<Vec<Arc<Product>>, DecodeError> {
    let mut d = Decoder::new(bytes);
    // id, price, disabled, view end, buffer length.
    let n = d.len(8 + 8 + 1 + 4 + 8)?;
    let mut list: Vec<Arc<Product>> = Vec::with_capacity(n);
    for _ in 0..n {
        let id = d.u64()?;
        if list.last().is_some_and(|p| p.id >= id) || id == 0 {
            return Err(DecodeError(format!("product id {id} out of order")));
        }
        let (price_minor, disabled, wire_end) = (d.i64()?, d.bool()?, d.u32()?);
        let product = Product::from_parts(id, price_minor, disabled, d.bytes()?, wire_end)
            .map_err(|e| DecodeError(e.to_string()))?;
        list.push(Arc::new(product));
    }
    d.finish()?;
    Ok(list)
}

/// The three sort orders of a snapshot: positions in its product list, in [`SortKey::ALL`]
/// order, each a permutation of the same positions.
fn orders(d: &mut Decoder<'_>, n: usize) -> Result<[Vec<u32>; 3], DecodeError> {
    let mut orders: [Vec<u32>; 3] = Default::default();
    for order in &mut orders {
        let len = d.len(4)?;
        *order = (0..len).map(|_| d.u32()).collect::<Result<_, _>>()?;
        if let Some(&at) = order.iter().find(|&&at| at as usize >= n) {
            return Err(DecodeError(format!(
                "listing position {at} of {n} products"
            )));
        }
    }
    // Each order lists the same products, each once (what `listings` relies on).
    let mut seen = vec![0u8; n];
    for (k, order) in orders.iter().enumerate() {
        for &at in order {
            if seen[at as usize] & (1 << k) != 0 {
                return Err(DecodeError(format!("position {at} listed twice")));
            }
            seen[at as usize] |= 1 << k;
        }
    }
    if seen.iter().any(|&s| s != 0 && s != 0b111) {
        return Err(DecodeError("listings of different products".into()));
    }
    Ok(orders)
}

/// The global listings and each category's, from the sort orders (positions in `list`, in
/// [`SortKey::ALL`] order): a category's listing is the global one filtered, so nothing is
/// sorted twice.
fn listings(list: &[Arc<Product>], orders: [Vec<u32>; 3]) -> (Listing, OrdMap<String, Category>) {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use shared::proto::{PriceChangedV1, ProductDisabledV1};

    pub fn upsert(id: u64, title: &str, category: &str, price: i64) -> CatalogEvent {
        CatalogEvent {
            event: Some(Event::ProductUpsertedV1(ProductUpsertedV1 {
                product_id: id,
                title: title.into(),
                description: format!("About {title}"),
                long_text: String::new(),
                category: category.into(),
                price_minor: price,
                currency: "EUR".into(),
                image_urls: vec![],
            })),
            meta: None,
        }
    }

    pub fn price(id: u64, price: i64) -> CatalogEvent {
        CatalogEvent {
            event: Some(Event::PriceChangedV1(PriceChangedV1 {
                product_id: id,
                price_minor: price,
            })),
            meta: None,
        }
    }

    pub fn disable(id: u64) -> CatalogEvent {
        CatalogEvent {
            event: Some(Event::ProductDisabledV1(ProductDisabledV1 {
                product_id: id,
            })),
            meta: None,
        }
    }

    /// Sorted ids of each listing.
    type Orders = Vec<Vec<u64>>;

    /// Everything observable about a model, in a comparable form.
    fn observable(c: &Catalog) -> (Vec<Product>, Orders, Vec<(String, String, Orders)>) {
        let products: Vec<Product> = c.products.iter().map(|(_, p)| Product::clone(p)).collect();
        let ids = |l: &Listing| {
            SortKey::ALL
                .iter()
                .map(|&k| l.by(k).iter().map(|p| p.id).collect())
                .collect::<Vec<Vec<u64>>>()
        };
        let cats = c
            .categories
            .iter()
            .map(|(s, cat)| (s.clone(), cat.name.clone(), ids(&cat.listing)))
            .collect();
        (products, ids(&c.all), cats)
    }

    fn replay(events: &[CatalogEvent]) -> Catalog {
        let mut c = Catalog::default();
        for (i, e) in events.iter().enumerate() {
            CatalogFold::apply(&mut c, e, i as i64);
        }
        CatalogFold::finalize(&mut c);
        c
    }

    fn incremental(events: &[CatalogEvent]) -> Catalog {
        let mut c = Catalog::default();
        CatalogFold::finalize(&mut c);
        for (i, e) in events.iter().enumerate() {
            CatalogFold::apply(&mut c, e, i as i64);
        }
        c
    }

    #[test]
    fn upsert_then_price_change_reorders_the_price_listing() {
        let c = incremental(&[
            upsert(1, "Lamp", "Home", 500),
            upsert(2, "Chair", "Home", 300),
            price(1, 100),
        ]);
        let by_price: Vec<u64> = c
            .listing()
            .by(SortKey::Price)
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(by_price, vec![1, 2]);
        assert_eq!(c.enabled_product(1).unwrap().price_minor, 100);
    }

    #[test]
    fn an_upsert_of_the_same_fields_changes_nothing_unless_it_enables() {
        let fields = |e: CatalogEvent| match e.event {
            Some(Event::ProductUpsertedV1(u)) => u,
            _ => unreachable!(),
        };
        let c = incremental(&[upsert(1, "Lamp", "Home", 500)]);
        assert!(!c.upsert_changes(&fields(upsert(1, "Lamp", "Home", 500))));
        assert!(c.upsert_changes(&fields(upsert(1, "Lamp", "Home", 501))));
        assert!(c.upsert_changes(&fields(upsert(1, "Lamp!", "Home", 500))));
        assert!(c.upsert_changes(&fields(upsert(2, "Lamp", "Home", 500))));
        let c = incremental(&[upsert(1, "Lamp", "Home", 500), disable(1)]);
        assert!(c.upsert_changes(&fields(upsert(1, "Lamp", "Home", 500))));
        // A price change since, then the old row again: it changes the price back.
        let c = incremental(&[upsert(1, "Lamp", "Home", 500), price(1, 400)]);
        assert!(c.upsert_changes(&fields(upsert(1, "Lamp", "Home", 500))));
        assert!(!c.upsert_changes(&fields(upsert(1, "Lamp", "Home", 400))));
    }

    #[test]
    fn disabled_products_leave_listings_and_empty_categories_vanish() {
        let c = incremental(&[upsert(1, "Lamp", "Home & Garden", 500), disable(1)]);
        assert!(c.enabled_product(1).is_none());
        assert!(c.product(1).unwrap().disabled);
        assert!(c.listing().is_empty());
        assert!(c.category("home-garden").is_none());
    }

    /// Found by the `catalog_events` fuzz target: the shown name of a category whose products
    /// spell it differently was the first indexed product's when live, and a random one's after
    /// a replay (hash map order), so replicas and restarts disagreed.
    #[test]
    fn a_category_is_named_after_its_lowest_id_product_in_every_mode() {
        let events = [
            upsert(2, "Chair", "HOME", 500),
            upsert(1, "Lamp", "Home", 500),
            upsert(3, "Rug", "home ", 500),
        ];
        let name = |c: &Catalog| c.category("home").unwrap().name.clone();
        assert_eq!(name(&incremental(&events)), "Home");
        assert_eq!(name(&replay(&events)), "Home");
        let c = incremental(&[events[0].clone(), events[1].clone(), disable(1)]);
        assert_eq!(name(&c), "HOME");
    }

    #[test]
    fn upsert_re_enables_and_moves_category() {
        let c = incremental(&[
            upsert(1, "Lamp", "Home", 500),
            disable(1),
            upsert(1, "Lamp", "Lighting", 500),
        ]);
        assert!(c.enabled_product(1).is_some());
        assert!(c.category("home").is_none());
        assert_eq!(c.category("lighting").unwrap().listing.len(), 1);
    }

    #[test]
    fn a_repeated_idempotency_key_has_one_effect() {
        let mut first = price(1, 100);
        first.meta = Some(CommandMeta {
            idempotency_key: "k".into(),
            fingerprint: 7,
            requested_at_ms: 0,
            record_retention_ms: 0,
        });
        let mut again = price(1, 900);
        again.meta = first.meta.clone();
        let c = incremental(&[upsert(1, "Lamp", "Home", 500), first, again]);
        assert_eq!(c.product(1).unwrap().price_minor, 100);
        assert_eq!(
            c.command(&admin_command_key("k")),
            Some(&CommandRecord {
                fingerprint: 7,
                offset: 1,
                outcome: (),
                expires_at_ms: None,
            })
        );
    }

    #[test]
    fn unknown_event_kinds_are_ignored() {
        let mut c = Catalog::default();
        assert_eq!(
            CatalogFold::apply(&mut c, &CatalogEvent::default(), 0),
            Applied::Ignored("unknown event kind")
        );
    }

    pub fn arb_event() -> impl Strategy<Value = CatalogEvent> {
        let title = prop::sample::select(vec!["Lamp", "lamp", "Chair", "Desk", "Ärmel", "Zebra"]);
        // "home" shares the slug of "Home": the category's name must not depend on event order.
        let cat = prop::sample::select(vec!["Home", "Office", "Garden", "home"]);
        prop_oneof![
            4 => (1u64..12, title, cat, 0i64..1000).prop_map(|(id, t, c, p)| upsert(id, t, c, p)),
            2 => (1u64..12, 0i64..1000).prop_map(|(id, p)| price(id, p)),
            1 => (1u64..12).prop_map(disable),
        ]
    }

    /// [`arb_event`], some with an idempotency key from a small set (so keys repeat), at times
    /// that mostly move forward by up to 3 hours with records kept 4 hours (so records expire
    /// and keys come back as new commands).
    pub fn arb_keyed_event() -> impl Strategy<Value = CatalogEvent> {
        const HOUR: i64 = 3_600_000;
        (arb_event(), prop::option::of(0u32..8), 0u64..3, 0i64..40).prop_map(
            |(mut e, key, fingerprint, at)| {
                e.meta = key.map(|k| CommandMeta {
                    idempotency_key: format!("k{k}"),
                    fingerprint,
                    requested_at_ms: at * HOUR,
                    record_retention_ms: 4 * HOUR,
                });
                e
            },
        )
    }

    #[test]
    fn an_admin_record_expires_by_log_time_and_its_key_is_then_new() {
        let at = |mut e: CatalogEvent, key: &str, ms: i64| {
            e.meta = Some(CommandMeta {
                idempotency_key: key.into(),
                fingerprint: 1,
                requested_at_ms: ms,
                record_retention_ms: 1_000,
            });
            e
        };
        let c = incremental(&[
            upsert(1, "Lamp", "Home", 500),
            at(price(1, 100), "k", 10),
            at(price(1, 200), "k", 1_009),
        ]);
        assert_eq!(c.product(1).unwrap().price_minor, 100, "within retention");
        let c = incremental(&[
            upsert(1, "Lamp", "Home", 500),
            at(price(1, 100), "k", 10),
            at(price(1, 200), "k", 1_010),
        ]);
        assert_eq!(
            c.product(1).unwrap().price_minor,
            200,
            "after it, a new command"
        );
        assert_eq!(c.command(&admin_command_key("k")).unwrap().offset, 2);
        assert_eq!(CatalogFold::entries(&c).last(), Some(&("commands", 1)));
    }

    fn encoded(c: &Catalog) -> Vec<u8> {
        crate::engine::snapshot::encode::<CatalogFold>(c)
    }

    proptest! {
        #[test]
        fn snapshot_and_tail_equal_a_replay_from_zero(events in prop::collection::vec(arb_keyed_event(), 0..80), cut in 0usize..80) {
            let cut = cut.min(events.len());
            let full = replay(&events);

            let mut at_cut = Catalog::default();
            for (i, e) in events[..cut].iter().enumerate() { CatalogFold::apply(&mut at_cut, e, i as i64); }
            CatalogFold::finalize(&mut at_cut);
            let bytes = encoded(&at_cut);
            let mut loaded = crate::engine::snapshot::decode::<CatalogFold>(&bytes).unwrap();
            prop_assert_eq!(encoded(&loaded), bytes.clone(), "decode then encode is the identity");
            prop_assert_eq!(observable(&loaded), observable(&at_cut));
            for (i, e) in events[cut..].iter().enumerate() {
                CatalogFold::apply(&mut loaded, e, (cut + i) as i64);
            }
            CatalogFold::finalize(&mut loaded);
            prop_assert_eq!(encoded(&loaded), encoded(&full));
            prop_assert_eq!(observable(&loaded), observable(&full));
            prop_assert_eq!(loaded.search.contents(), full.search.contents());
            prop_assert_eq!(loaded.commands.sorted(), full.commands.sorted());
        }

        #[test]
        fn batch_replay_equals_incremental_apply(events in prop::collection::vec(arb_event(), 0..80)) {
            let (replayed, incremental) = (replay(&events), incremental(&events));
            prop_assert_eq!(observable(&replayed), observable(&incremental));
            prop_assert_eq!(replayed.search.contents(), incremental.search.contents());
        }

        #[test]
        fn published_snapshots_never_change(events in prop::collection::vec(arb_event(), 1..40), cut in 0usize..40) {
            let cut = cut.min(events.len());
            let mut c = Catalog::default();
            CatalogFold::finalize(&mut c);
            for (i, e) in events[..cut].iter().enumerate() { CatalogFold::apply(&mut c, e, i as i64); }
            let snapshot = c.clone();
            let before = (observable(&snapshot), snapshot.search.contents());
            for (i, e) in events[cut..].iter().enumerate() { CatalogFold::apply(&mut c, e, (cut + i) as i64); }
            prop_assert_eq!((observable(&snapshot), snapshot.search.contents()), before);
        }
    }
}
