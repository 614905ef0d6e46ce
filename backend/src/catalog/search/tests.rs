//! Properties of search over random catalogs and queries: the index answers what the reference
//! (each product's text read one by one) answers, and the same log answers alike whether it was
//! replayed, applied event by event, or loaded from a snapshot and then its tail applied.

use proptest::prelude::*;
use shared::proto::{
    CatalogEvent, PriceChangedV1, ProductDisabledV1, ProductUpsertedV1, catalog_event::Event,
};

use super::query::{self, Filters, Found, Order, Typos};
use super::{index::SearchIndex, oracle};
use crate::catalog::fold::CatalogFold;
use crate::catalog::model::{Catalog, SortKey};
use crate::engine::Fold;
use crate::engine::idset::IdSet;

const WORDS: &[&str] = &[
    "Desk",
    "Lamp",
    "lamps",
    "Walnut",
    "Café",
    "shelf",
    "Shelves",
    "box",
    "Boxes",
    "Oak",
    "Linen",
    "Cotton",
    "Chair",
    "Wallnut",
    "cable",
    "tray",
    "Steel",
    "stainless",
];
// "Desk Lamp" and "Oak Shelf" as categories share pairs with titles.
const CATEGORIES: &[&str] = &[
    "Home",
    "Office",
    "Garden",
    "home",
    "Bed & Bath",
    "Desk Lamp",
    "Oak Shelf",
];

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..max).prop_map(|w| w.join(" "))
}

/// Product ids: half of them packed in one chunk, half spread over many blocks.
fn id() -> impl Strategy<Value = u64> {
    (1u64..40).prop_map(|i| if i < 20 { i } else { i * 1031 })
}

fn event() -> impl Strategy<Value = CatalogEvent> {
    let upsert = (
        id(),
        text(4),
        prop::sample::select(CATEGORIES),
        text(6),
        text(8),
        0i64..50,
    )
        .prop_map(|(id, title, category, description, long_text, price)| {
            Event::ProductUpsertedV1(ProductUpsertedV1 {
                product_id: id,
                title,
                description,
                long_text,
                category: category.into(),
                price_minor: price * 100,
                currency: "EUR".into(),
                image_urls: vec![],
            })
        });
    prop_oneof![
        6 => upsert,
        2 => (id(), 0i64..50).prop_map(|(id, p)| Event::PriceChangedV1(PriceChangedV1 {
            product_id: id,
            price_minor: p * 100,
        })),
        1 => id().prop_map(|id| Event::ProductDisabledV1(ProductDisabledV1 { product_id: id })),
    ]
    .prop_map(|e| CatalogEvent {
        event: Some(e),
        meta: None,
    })
}

/// A query: words from the vocabulary, sometimes misspelt, cut short or pluralised, and a space
/// at the end or not (the last word is a prefix while typing).
fn query_text() -> impl Strategy<Value = String> {
    let word = (prop::sample::select(WORDS), 0u8..6).prop_map(|(w, change)| {
        let w = w.to_lowercase();
        match change {
            0 if w.len() > 4 => format!("{}{}", &w[..2], &w[3..]),
            1 if w.len() > 3 => w[..w.len() - 2].to_owned(),
            2 => format!("{w}s"),
            3 if w.len() > 5 => format!("{}{}{}", &w[..1], &w[2..3], &w[1..2]) + &w[3..],
            _ => w,
        }
    });
    (prop::collection::vec(word, 0..4), any::<bool>())
        .prop_map(|(w, space)| w.join(" ") + if space { " " } else { "" })
}

#[derive(Debug, Clone)]
struct Ask {
    text: String,
    category: Option<&'static str>,
    min_price: Option<i64>,
    max_price: Option<i64>,
    in_stock: bool,
    order: Order,
    limit: usize,
}

fn ask() -> impl Strategy<Value = Ask> {
    let order = prop_oneof![
        3 => Just(Order::Relevance),
        1 => (prop::sample::select(SortKey::ALL.to_vec()), any::<bool>()).prop_map(|(k, d)| Order::By(k, d)),
    ];
    (
        query_text(),
        prop::option::of(prop::sample::select(vec![
            "home", "office", "bed-bath", "none",
        ])),
        prop::option::of(0i64..3000),
        prop::option::of(2000i64..5000),
        prop::bool::weighted(0.2),
        order,
        1usize..12,
    )
        .prop_map(
            |(text, category, min_price, max_price, in_stock, order, limit)| Ask {
                text,
                category,
                min_price,
                max_price,
                in_stock,
                order,
                limit,
            },
        )
}

/// Products "in stock" for the filter: every third id.
fn stock() -> IdSet {
    let mut s = IdSet::default();
    (0..40).step_by(3).for_each(|i| {
        s.insert(if i < 20 { i } else { i * 1031 });
    });
    s
}

fn answer(c: &Catalog, ask: &Ask, stock: &IdSet) -> (query::Plan, Found) {
    let plan = query::plan(c.search_index(), &ask.text, Typos::default());
    let filters = Filters {
        category: ask.category,
        min_price: ask.min_price,
        max_price: ask.max_price,
        only: ask.in_stock.then_some(stock),
    };
    let order = if plan.words.is_empty() && ask.order == Order::Relevance {
        Order::By(SortKey::Id, false)
    } else {
        ask.order
    };
    let mut found = query::search(c, &plan, &filters, order, ask.limit);
    found.work = 0;
    (plan, found)
}

fn replay(events: &[CatalogEvent]) -> Catalog {
    let mut c = Catalog::default();
    for (i, e) in events.iter().enumerate() {
        CatalogFold::apply(&mut c, e, i as i64);
    }
    CatalogFold::finalize(&mut c);
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_index_answers_what_reading_every_product_answers(
        events in prop::collection::vec(event(), 0..60),
        asks in prop::collection::vec(ask(), 1..8),
    ) {
        let c = replay(&events);
        let stock = stock();
        let products: Vec<_> = c.products_by_id().collect();
        for ask in &asks {
            let (plan, found) = answer(&c, ask, &stock);
            let filters = Filters {
                category: ask.category,
                min_price: ask.min_price,
                max_price: ask.max_price,
                only: ask.in_stock.then_some(&stock),
            };
            let order = if plan.words.is_empty() && ask.order == Order::Relevance {
                Order::By(SortKey::Id, false)
            } else {
                ask.order
            };
            let want = oracle::search(&products, &plan, &filters, |id| stock.contains(id), order, ask.limit);
            prop_assert_eq!(&found, &want, "{:?} {:?}", ask, plan);
        }
    }

    #[test]
    fn replay_incremental_and_snapshot_plus_tail_answer_alike(
        events in prop::collection::vec(event(), 0..60),
        cut in 0usize..60,
        asks in prop::collection::vec(ask(), 1..8),
    ) {
        let cut = cut.min(events.len());
        let replayed = replay(&events);
        let mut incremental = Catalog::default();
        CatalogFold::finalize(&mut incremental);
        for (i, e) in events.iter().enumerate() {
            CatalogFold::apply(&mut incremental, e, i as i64);
        }
        let head = replay(&events[..cut]);
        let bytes = crate::engine::snapshot::encode::<CatalogFold>(&head);
        let mut loaded = crate::engine::snapshot::decode::<CatalogFold>(&bytes).unwrap();
        for (i, e) in events[cut..].iter().enumerate() {
            CatalogFold::apply(&mut loaded, e, (cut + i) as i64);
        }
        CatalogFold::finalize(&mut loaded);
        let stock = stock();
        for ask in &asks {
            let want = answer(&replayed, ask, &stock);
            prop_assert_eq!(&answer(&incremental, ask, &stock), &want);
            prop_assert_eq!(&answer(&loaded, ask, &stock), &want);
        }
        let built = SearchIndex::build(
            replayed.products_by_id().filter(|p| !p.disabled),
        );
        prop_assert_eq!(built.contents(), incremental.search_index().contents());
        // The start-up's build on several threads (runs of whole blocks) is the same index.
        prop_assert_eq!(replayed.search_index().contents(), built.contents());
        let threaded = SearchIndex::build_parallel(
            replayed.products_by_id().filter(|p| !p.disabled),
            3,
        );
        prop_assert_eq!(threaded.contents(), built.contents());
    }

    #[test]
    fn expansion_finds_every_term_within_the_typo_budget(word in "[a-z]{1,11}", events in prop::collection::vec(event(), 0..30)) {
        let c = replay(&events);
        let index = c.search_index();
        let plan = query::plan(index, &format!("{word} "), Typos::default());
        let Some(w) = plan.words.first() else { return Ok(()); };
        let allowed = super::text::typos_allowed(word.chars().count(), 5, 9);
        let stem: Vec<char> = super::text::stem(&word).chars().collect();
        let raw: Vec<char> = word.chars().collect();
        for (term, _) in index.terms() {
            let t: Vec<char> = term.chars().collect();
            let d = [&stem, &raw]
                .iter()
                .filter_map(|target| super::text::distance(&t, target, allowed))
                .min();
            let got = w.variants.iter().find(|v| *v.term == **term).map(|v| v.typos);
            prop_assert_eq!(got, d, "{} vs {}", word, term);
        }
    }
}

#[test]
fn a_pair_shared_by_title_and_category_outlives_a_category_change() {
    let upsert = |category: &str| CatalogEvent {
        event: Some(Event::ProductUpsertedV1(ProductUpsertedV1 {
            product_id: 7,
            title: "Desk Lamp".into(),
            category: category.into(),
            price_minor: 100,
            currency: "EUR".into(),
            ..Default::default()
        })),
        meta: None,
    };
    let mut c = Catalog::default();
    CatalogFold::finalize(&mut c);
    CatalogFold::apply(&mut c, &upsert("Desk Lamp"), 0);
    CatalogFold::apply(&mut c, &upsert("Office"), 1);
    let pair = c
        .search_index()
        .pair("desk", "lamp")
        .map(|s| s.iter().collect::<Vec<_>>());
    assert_eq!(pair, Some(vec![7]));
    let built = SearchIndex::build(c.products_by_id());
    assert_eq!(built.contents(), c.search_index().contents());
}

#[test]
fn a_later_whole_word_beats_earlier_prefixes_in_a_full_page() {
    let upsert = |id: u64, title: &str| CatalogEvent {
        event: Some(Event::ProductUpsertedV1(ProductUpsertedV1 {
            product_id: id,
            title: title.into(),
            category: "Home".into(),
            price_minor: 100,
            currency: "EUR".into(),
            ..Default::default()
        })),
        meta: None,
    };
    // A page of prefix matches in the first id block, the one whole-word match in a later one.
    let mut events: Vec<_> = (1..=3).map(|id| upsert(id, "Lampshade")).collect();
    events.push(upsert(9000, "Lamp"));
    let c = replay(&events);
    let plan = query::plan(c.search_index(), "lamp", Typos::default());
    let filters = Filters {
        category: None,
        min_price: None,
        max_price: None,
        only: None,
    };
    let found = query::search(&c, &plan, &filters, Order::Relevance, 3);
    assert_eq!(found.ids, [9000, 1, 2]);
}
