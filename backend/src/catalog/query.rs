//! Reads of the catalog model: a page of products for any sort order and filter, categories with
//! counts, and a product as the API shows it. Pure functions of loaded models.

use std::sync::Arc;

use shared::money;
use shared::paging::PageRequest;
use shared::proto::{Money, ProductView};

use super::model::{Catalog, Listing, SortKey, compare};
use super::product::Product;
use super::search::{self, Filters, Found, Order, Plan, Typos};
use crate::checkout::Checkout;
use crate::checkout::query::product_availability;
use crate::engine::ranked::Ranked;

/// A product's price as the API shows it.
pub fn price(p: &Product) -> Money {
    money::money(p.price_minor, p.currency())
}

/// A product as the API shows it, built field by field: the reference the written views of
/// [`super::view`] are proven byte-equal to, and what in-process readers use.
pub fn product_view(p: &Product, checkout: &Checkout, low_threshold: u64) -> ProductView {
    ProductView {
        id: p.id,
        title: p.title().to_owned(),
        description: p.description().to_owned(),
        long_text: p.long_text().to_owned(),
        category: p.category().to_owned(),
        category_slug: p.category_slug().to_owned(),
        price: Some(price(p)),
        image_urls: p.image_urls().map(str::to_owned).collect(),
        availability: Some(product_availability(checkout, p.id, low_threshold)),
    }
}

/// A product's version: a fingerprint of every field an operator edits, so an edit made from
/// an older read can be refused (`If-Match`). Hex, 16 digits.
pub fn version(p: &Product) -> String {
    let urls: Vec<&str> = p.image_urls().collect();
    let joined = urls.join("\n");
    let fields: [&[u8]; 9] = [
        p.title().as_bytes(),
        p.description().as_bytes(),
        p.long_text().as_bytes(),
        p.category().as_bytes(),
        &p.price_minor.to_le_bytes(),
        p.currency().as_bytes(),
        joined.as_bytes(),
        &[u8::from(p.disabled)],
        &urls.len().to_le_bytes(),
    ];
    format!("{:016x}", crate::commands::meta::fingerprint(&fields))
}

/// What a shopper asks of the catalog list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: PageRequest,
    pub sort: SortKey,
    pub descending: bool,
    /// Order by relevance (the default when there are search words) instead of `sort`.
    pub relevance: bool,
    /// Lower-case title prefix.
    pub prefix: Option<String>,
    /// The search box's text, as typed.
    pub text: String,
    /// Category slug.
    pub category: Option<String>,
    /// Price range in minor units, both ends included.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Only products with stock.
    pub in_stock: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            page: PageRequest::default(),
            sort: SortKey::Name,
            descending: false,
            relevance: false,
            prefix: None,
            text: String::new(),
            category: None,
            min_price: None,
            max_price: None,
            in_stock: false,
        }
    }
}

impl ListQuery {
    /// A search (answered from the search index, with facets) rather than a listing range.
    pub fn is_search(&self) -> bool {
        self.text.chars().any(char::is_alphanumeric)
            || self.min_price.is_some()
            || self.max_price.is_some()
            || self.in_stock
    }

    /// The order of a search: relevance when asked for and there are words to rank by.
    pub fn order(&self, plan: &Plan) -> Order {
        if self.relevance && !plan.words.is_empty() {
            Order::Relevance
        } else {
            Order::By(self.sort, self.descending)
        }
    }

    pub fn filters<'a>(&'a self, checkout: &'a Checkout) -> Filters<'a> {
        Filters {
            category: self.category.as_deref(),
            min_price: self.min_price,
            max_price: self.max_price,
            only: self.in_stock.then(|| checkout.in_stock()),
        }
    }
}

/// One page of results and the number of all matching products; for a search, also what the
/// query matched and the facets.
pub struct ListResult {
    pub items: Vec<Arc<Product>>,
    pub total: usize,
    pub search: Option<(Plan, Found)>,
}

/// Plans a search (cheap: a dictionary walk bounded by [`search::query::MAX_VISITS`]).
pub fn plan(catalog: &Catalog, q: &ListQuery, typos: Typos) -> Plan {
    search::query::plan(catalog.search_index(), &q.text, typos)
}

/// Lists products. A search goes through the search index; otherwise a page is an index range of
/// a sorted listing, and a prefix a range of the name listing. Nothing scans the catalog.
pub fn list(catalog: &Catalog, checkout: &Checkout, q: &ListQuery, plan: &Plan) -> ListResult {
    if q.is_search() {
        let (order, filters) = (q.order(plan), q.filters(checkout));
        let wanted = q.page.range(usize::MAX);
        let found = search::query::search(catalog, plan, &filters, order, wanted.end);
        let items = found
            .ids
            .iter()
            .skip(wanted.start)
            .filter_map(|id| catalog.product(*id).cloned())
            .collect();
        return ListResult {
            items,
            total: found.total as usize,
            search: Some((plan.clone(), found)),
        };
    }
    let listing = match &q.category {
        Some(slug) => match catalog.category(slug) {
            Some(c) => &c.listing,
            None => {
                return ListResult {
                    items: vec![],
                    total: 0,
                    search: None,
                };
            }
        },
        None => catalog.listing(),
    };

    if let Some(prefix) = q.prefix.as_deref().filter(|p| !p.is_empty()) {
        return prefix_page(named(listing, prefix).cloned().collect(), q);
    }

    let sorted: &Ranked<Arc<Product>> = listing.by(q.sort);
    let total = sorted.len();
    let wanted = q.page.range(total);
    let items = if q.descending {
        let mut page: Vec<Arc<Product>> = sorted
            .range(total - wanted.end..total - wanted.start)
            .cloned()
            .collect();
        page.reverse();
        page
    } else {
        sorted.range(wanted).cloned().collect()
    };
    ListResult {
        items,
        total,
        search: None,
    }
}

/// The products of `listing` whose name starts with `prefix` (lower case), by name.
fn named<'a>(listing: &'a Listing, prefix: &str) -> impl Iterator<Item = &'a Arc<Product>> {
    let by_name = listing.by(SortKey::Name);
    let start = by_name.partition_point(|p| p.name_key() < prefix);
    let end =
        by_name.partition_point(|p| p.name_key() < prefix || p.name_key().starts_with(prefix));
    by_name.range(start..end)
}

/// The asked page of the products a title prefix found (given by name).
fn prefix_page(mut found: Vec<Arc<Product>>, q: &ListQuery) -> ListResult {
    if q.sort != SortKey::Name {
        found.sort_unstable_by(|a, b| compare(q.sort, a, b));
    }
    if q.descending {
        found.reverse();
    }
    let total = found.len();
    let items = found.drain(q.page.range(total)).collect();
    ListResult {
        items,
        total,
        search: None,
    }
}

/// Lists products disabled ones included (the operator's list; no search): the enabled
/// listing and the disabled one merged in the asked order, a page found by binary search, so
/// nothing scans the catalog.
pub fn list_all(catalog: &Catalog, q: &ListQuery) -> ListResult {
    let empty = Listing::default();
    let (enabled, disabled) = match &q.category {
        Some(slug) => (
            catalog.category(slug).map(|c| &c.listing),
            catalog.disabled().category(slug),
        ),
        None => (Some(catalog.listing()), Some(catalog.disabled().all())),
    };
    let (enabled, disabled) = (enabled.unwrap_or(&empty), disabled.unwrap_or(&empty));
    if let Some(prefix) = q.prefix.as_deref().filter(|p| !p.is_empty()) {
        let mut found: Vec<Arc<Product>> = named(enabled, prefix).cloned().collect();
        found.extend(named(disabled, prefix).cloned());
        found.sort_unstable_by(|a, b| compare(SortKey::Name, a, b));
        return prefix_page(found, q);
    }
    let (a, b) = (enabled.by(q.sort), disabled.by(q.sort));
    let total = a.len() + b.len();
    let wanted = q.page.range(total);
    // A descending page is an ascending range read backwards.
    let ascending = if q.descending {
        total - wanted.end..total - wanted.start
    } else {
        wanted
    };
    let mut items = merged_range(a, b, |x, y| compare(q.sort, x, y), ascending);
    if q.descending {
        items.reverse();
    }
    ListResult {
        items,
        total,
        search: None,
    }
}

/// Items `range` of the merge of two sorted vectors (no item in both): the split of the first
/// `range.start` items is found by binary search, then `range.len()` items are merged.
fn merged_range(
    a: &Ranked<Arc<Product>>,
    b: &Ranked<Arc<Product>>,
    cmp: impl Fn(&Product, &Product) -> std::cmp::Ordering,
    range: std::ops::Range<usize>,
) -> Vec<Arc<Product>> {
    let (n, m, s) = (a.len(), b.len(), range.start);
    // The smallest i (items taken from `a`) for which no item of `a` from i on belongs before
    // the (s - i)-th item of `b`.
    let (mut lo, mut hi) = (s.saturating_sub(m), s.min(n));
    while lo < hi {
        let i = (lo + hi) / 2;
        let j = s - i;
        let before = |x: &Arc<Product>, y: &Arc<Product>| cmp(x, y) == std::cmp::Ordering::Less;
        if j > 0 && i < n && before(a.get(i).expect("i < n"), b.get(j - 1).expect("j <= m")) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    // From the split on, both lists are read in order (each item a step, not a lookup).
    let (mut xs, mut ys) = (a.range(lo..n).peekable(), b.range(s - lo..m).peekable());
    let mut out = Vec::with_capacity(range.len());
    while out.len() < range.len() {
        let take_a = match (xs.peek(), ys.peek()) {
            (Some(x), Some(y)) => cmp(x, y) == std::cmp::Ordering::Less,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_a { xs.next() } else { ys.next() };
        out.extend(next.cloned());
    }
    out
}

/// The `n` categories whose names come closest to the query's words, for a search that found
/// nothing: a name word the query word starts scores 0, else the smallest edit distance (up to
/// 3); then the larger category, then the slug.
pub fn closest_categories(catalog: &Catalog, plan: &Plan, n: usize) -> Vec<(String, u64)> {
    let words: Vec<Vec<char>> = plan
        .words
        .iter()
        .map(|w| w.folded.chars().collect())
        .collect();
    let mut scored: Vec<(u8, std::cmp::Reverse<u64>, &String)> = catalog
        .categories()
        .map(|(slug, c)| {
            let mut best = u8::MAX;
            search::text::words(&c.name, |_, _, folded| {
                let name_word: Vec<char> = folded.chars().collect();
                for w in &words {
                    let d = if name_word.starts_with(w) {
                        Some(0)
                    } else {
                        search::text::distance(w, &name_word, 3)
                    };
                    best = best.min(d.unwrap_or(u8::MAX));
                }
            });
            (best, std::cmp::Reverse(c.listing.len() as u64), slug)
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(n)
        .map(|(_, count, slug)| (slug.clone(), count.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::fold::CatalogFold;
    use crate::catalog::fold::tests::{disable, upsert};
    use crate::engine::Fold;

    fn shop() -> Catalog {
        let mut c = Catalog::default();
        let events = [
            upsert(1, "Desk lamp", "Home", 2500),
            upsert(2, "Desk chair", "Office", 9900),
            upsert(3, "Floor lamp", "Home", 4500),
            upsert(4, "Deckchair", "Garden", 3000),
            upsert(5, "Notebook", "Office", 300),
            disable(5),
        ];
        for (i, e) in events.iter().enumerate() {
            CatalogFold::apply(&mut c, e, i as i64);
        }
        CatalogFold::finalize(&mut c);
        c
    }

    fn list(c: &Catalog, q: &ListQuery) -> ListResult {
        let plan = plan(c, q, Typos::default());
        super::list(c, &Checkout::default(), q, &plan)
    }

    fn search(text: &str) -> ListQuery {
        ListQuery {
            text: text.into(),
            relevance: true,
            ..Default::default()
        }
    }

    fn ids(r: &ListResult) -> Vec<u64> {
        r.items.iter().map(|p| p.id).collect()
    }

    #[test]
    fn pages_in_every_order() {
        let c = shop();
        let mut q = ListQuery {
            page: PageRequest::new(1, 2).unwrap(),
            ..Default::default()
        };
        let r = list(&c, &q);
        assert_eq!((ids(&r), r.total), (vec![4, 2], 4));
        q.page = PageRequest::new(2, 2).unwrap();
        assert_eq!(ids(&list(&c, &q)), vec![1, 3]);
        q.page = PageRequest::new(3, 2).unwrap();
        assert!(list(&c, &q).items.is_empty());
        q = ListQuery {
            sort: SortKey::Price,
            descending: true,
            ..Default::default()
        };
        assert_eq!(ids(&list(&c, &q)), vec![2, 3, 4, 1]);
        q = ListQuery {
            sort: SortKey::Id,
            ..Default::default()
        };
        assert_eq!(ids(&list(&c, &q)), vec![1, 2, 3, 4]);
    }

    #[test]
    fn prefix_is_case_insensitive_and_sorts_by_any_key() {
        let c = shop();
        let q = ListQuery {
            prefix: Some("desk".into()),
            ..Default::default()
        };
        assert_eq!(ids(&list(&c, &q)), vec![2, 1]);
        let q = ListQuery {
            prefix: Some("de".into()),
            sort: SortKey::Price,
            ..Default::default()
        };
        assert_eq!(ids(&list(&c, &q)), vec![1, 4, 2]);
        let q = ListQuery {
            prefix: Some("zz".into()),
            ..Default::default()
        };
        assert_eq!(list(&c, &q).total, 0);
    }

    #[test]
    fn search_matches_words_plurals_and_prefixes_never_disabled_products() {
        let c = shop();
        let q = ListQuery {
            text: "LAMPS ".into(),
            sort: SortKey::Id,
            ..Default::default()
        };
        assert_eq!(ids(&list(&c, &q)), vec![1, 3]);
        // "desk" in the title of 1 and 2; "la" still being typed matches "lamp".
        assert_eq!(ids(&list(&c, &search("desk la"))), vec![1]);
        assert_eq!(
            list(&c, &search("notebook")).total,
            0,
            "disabled products are never found"
        );
    }

    #[test]
    fn relevance_puts_adjacent_title_words_first() {
        let mut c = Catalog::default();
        let events = [
            upsert(1, "Lamp for a desk", "Home", 100),
            upsert(2, "Desk lamp", "Home", 100),
            upsert(3, "Desk", "Office", 100),
        ];
        for (i, e) in events.iter().enumerate() {
            CatalogFold::apply(&mut c, e, i as i64);
        }
        CatalogFold::finalize(&mut c);
        // 2 has the words adjacent in its title, 1 has both in one field; 3 has no lamp.
        assert_eq!(ids(&list(&c, &search("desk lamp "))), vec![2, 1]);
    }

    #[test]
    fn typos_are_tolerated_from_five_characters() {
        let c = shop();
        // Four characters allow no typo, and a fallback keeps the first word.
        assert_eq!(list(&c, &search("flor lamp ")).total, 0);
        let r = list(&c, &search("florr lamp "));
        assert_eq!(ids(&r), vec![3]);
        let (plan, found) = r.search.unwrap();
        assert_eq!(found.words_matched, 2);
        assert_eq!(plan.words[0].correction().map(|v| &*v.term), Some("floor"));
    }

    #[test]
    fn nothing_matching_all_words_falls_back_to_fewer() {
        let c = shop();
        let r = list(&c, &search("desk unicorn "));
        assert_eq!(ids(&r), vec![1, 2]);
        assert_eq!(r.search.unwrap().1.words_matched, 1);
    }

    fn all(c: &Catalog, q: &ListQuery) -> (Vec<u64>, usize) {
        let r = list_all(c, q);
        (ids(&r), r.total)
    }

    #[test]
    fn the_operators_list_merges_disabled_products_in_every_order() {
        let mut c = shop();
        CatalogFold::apply(&mut c, &disable(2), 10);
        let mut q = ListQuery::default();
        // By name: Deckchair 4, Desk chair 2 (disabled), Desk lamp 1, Floor lamp 3, Notebook 5 (disabled).
        assert_eq!(all(&c, &q), (vec![4, 2, 1, 3, 5], 5));
        q.page = PageRequest::new(2, 2).unwrap();
        assert_eq!(all(&c, &q), (vec![1, 3], 5));
        q.descending = true;
        assert_eq!(all(&c, &q), (vec![1, 2], 5));
        q = ListQuery {
            sort: SortKey::Price,
            ..Default::default()
        };
        assert_eq!(all(&c, &q).0, vec![5, 1, 4, 3, 2]);
        q.category = Some("office".into());
        assert_eq!(all(&c, &q), (vec![5, 2], 2));
        q = ListQuery {
            prefix: Some("desk".into()),
            ..Default::default()
        };
        assert_eq!(all(&c, &q).0, vec![2, 1]);
        // Enabled again: in the enabled listing, not twice.
        CatalogFold::apply(&mut c, &upsert(2, "Desk chair", "Office", 9900), 11);
        assert_eq!(all(&c, &ListQuery::default()).0, vec![4, 2, 1, 3, 5]);
        assert_eq!(c.disabled().len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn a_merged_page_is_the_page_of_the_merge(
            flags in proptest::collection::vec(proptest::bool::ANY, 0..40),
            start in 0usize..45,
            len in 0usize..12,
        ) {
            let product = |id: u64| Arc::new(Product::new(id, 0, crate::catalog::product::Texts {
                title: "", description: "", long_text: "", category: "", currency: "",
                image_urls: &[],
            }));
            let (mut a, mut b) = (vec![], vec![]);
            for (i, in_a) in flags.iter().enumerate() {
                if *in_a { a.push(product(i as u64)) } else { b.push(product(i as u64)) }
            }
            let (a, b) = (Ranked::from_sorted(a), Ranked::from_sorted(b));
            let got: Vec<u64> = merged_range(&a, &b, |x, y| x.id.cmp(&y.id), start..start + len)
                .iter().map(|p| p.id).collect();
            let want: Vec<u64> = (0..flags.len() as u64).skip(start).take(len).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn category_and_price_filters_combine_with_search_and_facets() {
        let c = shop();
        let q = ListQuery {
            category: Some("home".into()),
            text: "floor".into(),
            ..Default::default()
        };
        assert_eq!(ids(&list(&c, &q)), vec![3]);
        let q = ListQuery {
            category: Some("home".into()),
            page: PageRequest::new(2, 1).unwrap(),
            ..Default::default()
        };
        let r = list(&c, &q);
        assert_eq!((ids(&r), r.total), (vec![3], 2));
        let q = ListQuery {
            category: Some("nope".into()),
            ..Default::default()
        };
        assert_eq!(list(&c, &q).total, 0);
        let q = ListQuery {
            text: "desk ".into(),
            category: Some("office".into()),
            min_price: Some(1000),
            ..Default::default()
        };
        let r = list(&c, &q);
        assert_eq!(ids(&r), vec![2]);
        let found = r.search.unwrap().1;
        // Counts ignore the category filter, the range ignores the price filter.
        assert_eq!(
            found.categories,
            vec![("home".into(), 1), ("office".into(), 1)]
        );
        assert_eq!(found.price_range, Some((9900, 9900)));
    }
}
