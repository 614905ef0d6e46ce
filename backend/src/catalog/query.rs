//! Reads of the catalog model: a page of products for any sort order and filter, categories with
//! counts, and a product as the API shows it. Pure functions of loaded models.

use std::cmp::Ordering;
use std::sync::Arc;

use imbl::Vector;
use memchr::memmem;
use shared::money;
use shared::paging::PageRequest;
use shared::proto::{Money, ProductView};

use super::fold::{Catalog, Product, SortKey, compare};
use crate::checkout::Checkout;
use crate::checkout::query::product_availability;

/// A product's price as the API shows it.
pub fn price(p: &Product) -> Money {
    money::money(p.price_minor, &p.currency)
}

/// A product as the API shows it: the catalog's facts and checkout's stock.
pub fn product_view(p: &Product, checkout: &Checkout, low_threshold: u64) -> ProductView {
    ProductView {
        id: p.id,
        title: p.title.clone(),
        description: p.description.clone(),
        long_text: p.long_text.clone(),
        category: p.category.clone(),
        category_slug: p.category_slug.clone(),
        price: Some(price(p)),
        image_urls: p.image_urls.clone(),
        availability: Some(product_availability(checkout, p.id, low_threshold)),
    }
}

/// What a shopper asks of the catalog list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: PageRequest,
    pub sort: SortKey,
    pub descending: bool,
    /// Lower-case title prefix.
    pub prefix: Option<String>,
    /// Lower-case search terms; a product matches when every term occurs in its title or
    /// description.
    pub terms: Vec<String>,
    /// Category slug.
    pub category: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            page: PageRequest::default(),
            sort: SortKey::Name,
            descending: false,
            prefix: None,
            terms: vec![],
            category: None,
        }
    }
}

/// One page of results and the number of all matching products.
pub struct ListResult {
    pub items: Vec<Arc<Product>>,
    pub total: usize,
}

/// Lists products. Without filters a page is an index range of a sorted listing; a prefix is a
/// range of the name listing; search terms scan the candidates in the requested order.
pub fn list(catalog: &Catalog, q: &ListQuery) -> ListResult {
    let listing = match &q.category {
        Some(slug) => match catalog.category(slug) {
            Some(c) => &c.listing,
            None => {
                return ListResult {
                    items: vec![],
                    total: 0,
                };
            }
        },
        None => catalog.listing(),
    };
    let finders: Vec<memmem::Finder> = q.terms.iter().map(memmem::Finder::new).collect();
    let matches = |p: &Product| {
        finders
            .iter()
            .all(|f| f.find(p.search_text.as_bytes()).is_some())
    };

    if let Some(prefix) = q.prefix.as_deref().filter(|p| !p.is_empty()) {
        let by_name = listing.by(SortKey::Name);
        let start = partition_point(by_name, |p| p.name_key.as_str() < prefix);
        let end = partition_point(by_name, |p| {
            p.name_key.as_str() < prefix || p.name_key.starts_with(prefix)
        });
        let mut found: Vec<Arc<Product>> = by_name
            .clone()
            .slice(start..end)
            .into_iter()
            .filter(|p| matches(p))
            .collect();
        if q.sort != SortKey::Name {
            found.sort_unstable_by(|a, b| compare(q.sort, a, b));
        }
        if q.descending {
            found.reverse();
        }
        let total = found.len();
        let items = found.drain(q.page.range(total)).collect();
        return ListResult { items, total };
    }

    let sorted = listing.by(q.sort);
    if finders.is_empty() {
        let total = sorted.len();
        let items = q
            .page
            .range(total)
            .map(|i| sorted[if q.descending { total - 1 - i } else { i }].clone())
            .collect();
        return ListResult { items, total };
    }

    let wanted = q.page.range(usize::MAX);
    let mut total = 0usize;
    let mut items = Vec::with_capacity(q.page.page_size as usize);
    let mut take = |p: &Arc<Product>| {
        if matches(p) {
            if wanted.contains(&total) {
                items.push(p.clone());
            }
            total += 1;
        }
    };
    if q.descending {
        sorted.iter().rev().for_each(&mut take);
    } else {
        sorted.iter().for_each(&mut take);
    }
    ListResult { items, total }
}

/// Index of the first element for which `before` is false (`before` must be true for a prefix).
fn partition_point(v: &Vector<Arc<Product>>, before: impl Fn(&Product) -> bool) -> usize {
    v.binary_search_by(|p| {
        if before(p) {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    })
    .unwrap_or_else(|i| i)
}

/// Splits a search box's text into lower-case terms.
pub fn search_terms(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(str::to_lowercase)
        .take(8)
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
    fn search_matches_every_term_in_title_or_description() {
        let c = shop();
        let q = ListQuery {
            terms: search_terms("LAMP"),
            sort: SortKey::Id,
            ..Default::default()
        };
        assert_eq!(ids(&list(&c, &q)), vec![1, 3]);
        let q = ListQuery {
            terms: search_terms("about desk"),
            ..Default::default()
        };
        assert_eq!(ids(&list(&c, &q)), vec![2, 1]);
        let q = ListQuery {
            terms: search_terms("notebook"),
            ..Default::default()
        };
        assert_eq!(list(&c, &q).total, 0, "disabled products are never found");
    }

    #[test]
    fn category_filter_combines_with_search_and_paging() {
        let c = shop();
        let q = ListQuery {
            category: Some("home".into()),
            terms: search_terms("floor"),
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
    }
}
