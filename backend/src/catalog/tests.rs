//! The catalog context's tests, each written given / when / then: the events already in the log,
//! the command's event applied (incrementally, or as a start-up replay and `finalize`), then the
//! model's state. The event builders (`upsert`, `price`, `disable`, `arb_event`) are the
//! fixtures other modules' tests use too; the property tests check the fold's contract: a
//! snapshot plus the tail equals a replay from zero, a batch replay equals applying one by one,
//! and a published model never changes.

use proptest::prelude::*;
use shared::proto::{
    CatalogEvent, CommandMeta, PriceChangedV1, ProductDisabledV1, ProductUpsertedV1,
    catalog_event::Event,
};

use crate::catalog::fold::{CatalogFold, admin_command_key};
use crate::catalog::model::{Catalog, CommandRecord, Listing, SortKey};
use crate::catalog::product::Product;
use crate::engine::{Applied, Fold};

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
