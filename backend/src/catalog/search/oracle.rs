//! The reference answer to a search, by the documented rules applied to each product's text one
//! by one: what the tests and the fuzz targets hold the index's answer against. Slow on
//! purpose (it reads every product) and never used to serve.

use super::index::{CATEGORY, FIELDS};
use super::query::{Filters, Found, Order, Plan, WordPlan};
use super::text::{stem, words};
use crate::catalog::model::compare;
use crate::catalog::product::Product;

/// Each field's terms in order.
fn terms(p: &Product) -> [Vec<String>; FIELDS] {
    [p.title(), p.category(), p.description(), p.long_text()].map(|text| {
        let mut out = Vec::new();
        words(text, |_, _, folded| out.push(stem(folded).into_owned()));
        out
    })
}

/// The rank key of `p` for these words (lower is better), or `None` when a word is missing.
fn rank(p: &Product, words: &[WordPlan]) -> Option<u32> {
    let fields = terms(p);
    let (mut typos, mut attribute, mut exact) = (0u32, 0u32, 0u32);
    let mut in_field = [true; FIELDS];
    for w in words {
        let matched: Vec<(usize, u8, bool)> = w
            .variants
            .iter()
            .flat_map(|v| {
                let fields = &fields;
                (0..v.fields)
                    .filter(move |&f| fields[f].iter().any(|t| *t == *v.term))
                    .map(move |f| (f, v.typos, v.prefix))
            })
            .collect();
        if matched.is_empty() {
            return None;
        }
        typos += matched
            .iter()
            .map(|m| u32::from(m.1.min(2)))
            .min()
            .unwrap_or(0);
        attribute = attribute.max(matched.iter().map(|m| m.0 as u32).min().unwrap_or(0));
        if matched.iter().all(|m| m.2) {
            exact = 1;
        }
        for (f, flag) in in_field.iter_mut().enumerate() {
            *flag &= matched.iter().any(|m| m.0 == f);
        }
    }
    let adjacent = |a: &WordPlan, b: &WordPlan| {
        let first = |w: &WordPlan, t: &str| w.variants.iter().take(8).any(|v| *v.term == *t);
        fields[..=CATEGORY]
            .iter()
            .any(|f| f.windows(2).any(|p| first(a, &p[0]) && first(b, &p[1])))
    };
    let proximity = if words.len() < 2 || words.windows(2).all(|p| adjacent(&p[0], &p[1])) {
        0
    } else if in_field.iter().any(|&f| f) {
        1
    } else {
        2
    };
    Some((typos << 8) | (proximity << 6) | (attribute << 2) | exact)
}

/// The reference [`Found`] (without `work`) over `products` (the enabled ones are searched);
/// `in_stock` says whether a product passes the stock filter.
pub fn search(
    products: &[&Product],
    plan: &Plan,
    filters: &Filters,
    in_stock: impl Fn(u64) -> bool,
    order: Order,
    limit: usize,
) -> Found {
    let mut words = plan.words.len();
    loop {
        let found = run(
            products,
            &plan.words[..words],
            filters,
            &in_stock,
            order,
            limit,
        );
        if found.total > 0 || words <= 1 {
            return found;
        }
        words -= 1;
    }
}

fn run(
    products: &[&Product],
    words: &[WordPlan],
    filters: &Filters,
    in_stock: &impl Fn(u64) -> bool,
    order: Order,
    limit: usize,
) -> Found {
    let mut candidates: Vec<(&Product, u32)> = products
        .iter()
        .filter(|p| !p.disabled && (filters.only.is_none() || in_stock(p.id)))
        .filter_map(|p| rank(p, words).map(|r| (*p, r)))
        .collect();
    let in_price = |p: &Product| {
        filters.min_price.is_none_or(|lo| p.price_minor >= lo)
            && filters.max_price.is_none_or(|hi| p.price_minor <= hi)
    };
    let in_category = |p: &Product| filters.category.is_none_or(|c| p.category_slug() == c);
    let mut categories: std::collections::BTreeMap<String, u64> = Default::default();
    let mut range: Option<(i64, i64)> = None;
    for (p, _) in &candidates {
        if in_price(p) {
            *categories.entry(p.category_slug().to_owned()).or_default() += 1;
        }
        if in_category(p) {
            let x = p.price_minor;
            range = Some(range.map_or((x, x), |(a, z)| (a.min(x), z.max(x))));
        }
    }
    candidates.retain(|(p, _)| in_price(p) && in_category(p));
    match order {
        Order::Relevance => candidates.sort_by_key(|(p, r)| (*r, p.id)),
        Order::By(key, descending) => {
            candidates.sort_by(|a, b| compare(key, a.0, b.0));
            if descending {
                candidates.reverse();
            }
        }
    }
    Found {
        ids: candidates.iter().take(limit).map(|(p, _)| p.id).collect(),
        total: candidates.len() as u64,
        words_matched: words.len(),
        categories: categories.into_iter().collect(),
        price_range: range,
        work: 0,
    }
}
