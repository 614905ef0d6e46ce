//! The bodies of the fuzz targets in `fuzz/`: each takes arbitrary bytes, feeds them to one
//! decoder of outside input the way the server or a tool does (request bodies, the product
//! list's query string, paths, the cart cookie, CSV import files, Kafka events applied by the
//! folds), and panics only when an invariant of that decoder breaks. They live in the library so
//! `cargo test` (this module's tests) replays every committed seed and regression file on stable
//! Rust, without libFuzzer.
//!
//! One file past 600 lines because the targets share the fixture catalog, the checkers and the
//! seed list (a quarter of the file), and `fuzz/` reaches every target through one [`TARGETS`]
//! table.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Debug;
use std::sync::OnceLock;

use http::header::{COOKIE, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use prost::Message;
use shared::ids::{CartId, OrderId, ProductId};
use shared::paging::{MAX_PAGE_SIZE, PageRequest};
use shared::proto::{
    CatalogEvent, CatalogFactV1, CheckoutEvent, LiveRequest, Money, PlaceOrder, ProductUpsertedV1,
    SetCartLine, SetPrice, StockDeliveredV1, StockDelivery, UpsertProduct, catalog_event,
    checkout_event,
};

use crate::admin::import::{self, IMAGE_URL_SEPARATOR, PRODUCT_COLUMNS, Row, STOCK_COLUMNS};
use crate::catalog::fold::{SortKey, compare};
use crate::catalog::http::parse_list_query;
use crate::catalog::query::{self, ListQuery};
use crate::catalog::search;
use crate::catalog::validate::validate_product;
use crate::catalog::{Catalog, CatalogFold};
use crate::checkout::cart_name;
use crate::checkout::query::{cart_view, order_view};
use crate::checkout::{Checkout, CheckoutFold};
use crate::engine::{Applied, Fold};
use crate::http::cookie;
use crate::http::wire::{self, ApiError, Format};
use crate::server::route;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name: `fuzz/fuzz_targets/<name>.rs` runs it, `fuzz/corpus/<name>/` feeds it.
pub const TARGETS: &[(&str, Target)] = &[
    ("request_body", request_body),
    ("list_query", list_query),
    ("route", route),
    ("cart_cookie", cart_cookie),
    ("import_products", import_products),
    ("import_stock", import_stock),
    ("catalog_events", catalog_events),
    ("checkout_events", checkout_events),
];

/// Low-stock threshold of the views built here (the server's default).
const LOW: u64 = 5;

// --- request bodies --------------------------------------------------------------------------

/// A command body: the first byte picks the message and the format (protobuf or proto3 JSON),
/// the rest is the body. A body decodes to a typed 400 or to a message that survives both
/// encodings unchanged; a decoded product passes validation or gets a 400.
pub fn request_body(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = if selector & 1 == 0 {
        Format::Json
    } else {
        Format::Protobuf
    };
    match (selector >> 1) % 6 {
        0 => drop(body_round_trip::<SetCartLine>(format, body)),
        1 => drop(body_round_trip::<PlaceOrder>(format, body)),
        2 => {
            if let Some(u) = body_round_trip::<UpsertProduct>(format, body) {
                check_product(1, &u);
            }
        }
        3 => drop(body_round_trip::<SetPrice>(format, body)),
        4 => drop(body_round_trip::<StockDelivery>(format, body)),
        // The live socket's request: protobuf only.
        _ => {
            if let Ok(r) = LiveRequest::decode(body) {
                assert_eq!(LiveRequest::decode(&*r.encode_to_vec()).as_ref(), Ok(&r));
            }
        }
    }
}

fn body_round_trip<M>(format: Format, body: &[u8]) -> Option<M>
where
    M: Message + Default + serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    match wire::decode::<M>(format, body) {
        Err(e) => {
            assert_bad_request(&e);
            None
        }
        Ok(m) => {
            let pb = m.encode_to_vec();
            assert_eq!(wire::decode::<M>(Format::Protobuf, &pb).as_ref(), Ok(&m));
            let json = serde_json::to_vec(&m).expect("a decoded message encodes as JSON");
            assert_eq!(
                wire::decode::<M>(Format::Json, &json).as_ref(),
                Ok(&m),
                "JSON {}",
                String::from_utf8_lossy(&json)
            );
            Some(m)
        }
    }
}

#[track_caller]
fn assert_bad_request(e: &ApiError) {
    assert_eq!(e.status, StatusCode::BAD_REQUEST, "{e:?}");
    assert!(!e.message.trim().is_empty(), "an error without a message");
}

/// A valid product is trimmed and valid again as it stands.
fn check_product(id: u64, u: &UpsertProduct) {
    match validate_product(id, u) {
        Err(e) => assert_bad_request(&e.into()),
        Ok(e) => {
            assert_eq!(e.title, e.title.trim());
            assert_eq!(e.category, e.category.trim());
            assert_eq!(validate_product(id, &upsert_of(&e)).as_ref(), Ok(&e));
        }
    }
}

fn upsert_of(e: &ProductUpsertedV1) -> UpsertProduct {
    UpsertProduct {
        title: e.title.clone(),
        description: e.description.clone(),
        long_text: e.long_text.clone(),
        category: e.category.clone(),
        price: Some(Money {
            minor: e.price_minor,
            currency: e.currency.clone(),
        }),
        image_urls: e.image_urls.clone(),
    }
}

// --- the product list's query string ---------------------------------------------------------

/// `GET /api/products?...`: a typed 400, or a query whose page over a fixed catalog is exactly
/// what filtering, sorting and paging the fixture's own records one by one gives.
pub fn list_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_list_query(&text) {
        Err(e) => assert_bad_request(&e),
        Ok(q) => {
            assert_eq!(PageRequest::new(q.page.page, q.page.page_size), Ok(q.page));
            let fixture = fixture_catalog();
            check_list(&fixture.catalog, &fixture.source, &q);
        }
    }
}

fn check_list(catalog: &Catalog, source: &[SourceProduct], q: &ListQuery) {
    if q.is_search() {
        return check_search(catalog, source, q);
    }
    let plan = search::Plan::default();
    let got = query::list(catalog, &Checkout::default(), q, &plan);
    let (want, total) = list_one_by_one(source, q);
    assert_eq!(
        got.items.iter().map(|p| p.id).collect::<Vec<_>>(),
        want,
        "{q:?}"
    );
    assert_eq!(got.total, total, "{q:?}");
}

/// A search: the page, the total and the facets are the reference's (the same rules applied to
/// each product's text one by one). Nothing is in stock in the fixture.
fn check_search(catalog: &Catalog, source: &[SourceProduct], q: &ListQuery) {
    let plan = query::plan(catalog, q, search::Typos::default());
    assert!(plan.words.len() <= search::query::MAX_WORDS);
    let checkout = Checkout::default();
    let got = query::list(catalog, &checkout, q, &plan);
    let all: Vec<&crate::catalog::Product> = source
        .iter()
        .filter_map(|s| catalog.product(s.id))
        .map(|p| &**p)
        .collect();
    let wanted = q.page.range(usize::MAX);
    let want = search::oracle::search(
        &all,
        &plan,
        &q.filters(&checkout),
        |_| false,
        q.order(&plan),
        wanted.end,
    );
    let page: Vec<u64> = want.ids.iter().skip(wanted.start).copied().collect();
    assert_eq!(
        got.items.iter().map(|p| p.id).collect::<Vec<_>>(),
        page,
        "{q:?}"
    );
    assert_eq!(got.total as u64, want.total, "{q:?}");
    let (_, found) = got.search.expect("a search answers with its facts");
    assert_eq!(
        (found.categories, found.price_range, found.words_matched),
        (want.categories, want.price_range, want.words_matched),
        "{q:?}"
    );
}

/// The catalog's products among `ids` (the model has no list of all, and needs none).
fn products<'a>(
    c: &'a Catalog,
    ids: &'a BTreeSet<u64>,
) -> impl Iterator<Item = &'a std::sync::Arc<crate::catalog::Product>> + 'a {
    ids.iter().filter_map(|id| c.product(*id))
}

/// A product as the fixture wrote it, with the category's slug written out by hand: what the
/// reference answer is computed from, so the model's precomputed keys and its comparison are
/// not what they are checked against.
#[derive(Debug, Clone)]
struct SourceProduct {
    id: u64,
    title: String,
    slug: String,
    price_minor: i64,
    enabled: bool,
}

/// The reference answer to a listing (not a search), by the documented rules: enabled products;
/// the category by slug; the prefix on the lower-cased title; sorted by lower-cased title, price or id, ties by id, descending reversed; then paged.
fn list_one_by_one(source: &[SourceProduct], q: &ListQuery) -> (Vec<u64>, usize) {
    let mut found: Vec<&SourceProduct> = source
        .iter()
        .filter(|p| p.enabled)
        .filter(|p| q.category.as_deref().is_none_or(|c| p.slug == c))
        .filter(|p| {
            q.prefix
                .as_deref()
                .is_none_or(|prefix| p.title.to_lowercase().starts_with(prefix))
        })
        .collect();
    match q.sort {
        SortKey::Name => found.sort_by_key(|p| (p.title.to_lowercase(), p.id)),
        SortKey::Price => found.sort_by_key(|p| (p.price_minor, p.id)),
        SortKey::Id => found.sort_by_key(|p| p.id),
    }
    if q.descending {
        found.reverse();
    }
    let size = q.page.page_size as usize;
    let page: Vec<u64> = found
        .iter()
        .skip((q.page.page as usize - 1).saturating_mul(size))
        .take(size)
        .map(|p| p.id)
        .collect();
    (page, found.len())
}

struct Fixture {
    catalog: Catalog,
    source: Vec<SourceProduct>,
}

/// A catalog with the awkward cases: titles that change length when lower-cased, equal names
/// and prices, categories that share a slug, disabled products, and changes after the replay.
fn fixture_catalog() -> &'static Fixture {
    static CATALOG: OnceLock<Fixture> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let titles = [
            "Desk lamp",
            "desk LAMP",
            "Deckchair",
            "İstanbul rug",
            "Straße sign",
            "ÉCLAIR tin",
            "Floor lamp",
            "lamp",
            "Zebra mug",
            "A",
            "Ω watch",
            "Desk",
        ];
        // (name, slug): "Home" and "home" share one.
        let categories = [
            ("Home", "home"),
            ("Home & Garden", "home-garden"),
            ("home", "home"),
            ("Office", "office"),
            ("Küche", "küche"),
        ];
        let mut c = Catalog::default();
        let mut source = Vec::new();
        let mut offset = 0;
        let mut apply = |c: &mut Catalog, event: catalog_event::Event| {
            let event = CatalogEvent {
                event: Some(event),
                meta: None,
            };
            CatalogFold::apply(c, &event, offset);
            offset += 1;
        };
        for (i, title) in titles.iter().enumerate() {
            let id = i as u64 + 1;
            let (category, slug) = categories[i % categories.len()];
            let description = format!("Number {id}: a fine {title}, about desk work");
            let price_minor = 100 * (i as i64 % 4);
            apply(
                &mut c,
                catalog_event::Event::ProductUpsertedV1(ProductUpsertedV1 {
                    product_id: id,
                    title: (*title).to_owned(),
                    description,
                    category: category.to_owned(),
                    price_minor,
                    currency: "EUR".to_owned(),
                    ..Default::default()
                }),
            );
            source.push(SourceProduct {
                id,
                title: (*title).to_owned(),
                slug: slug.to_owned(),
                price_minor,
                enabled: true,
            });
        }
        apply(
            &mut c,
            catalog_event::Event::ProductDisabledV1(shared::proto::ProductDisabledV1 {
                product_id: 3,
            }),
        );
        source[2].enabled = false;
        CatalogFold::finalize(&mut c);
        apply(
            &mut c,
            catalog_event::Event::PriceChangedV1(shared::proto::PriceChangedV1 {
                product_id: 1,
                price_minor: 250,
            }),
        );
        source[0].price_minor = 250;
        apply(
            &mut c,
            catalog_event::Event::ProductDisabledV1(shared::proto::ProductDisabledV1 {
                product_id: 8,
            }),
        );
        source[7].enabled = false;
        Fixture { catalog: c, source }
    })
}

// --- paths -----------------------------------------------------------------------------------

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE",
];

/// A path below `/api/` and a method (the first byte): a route with a well-formed template and
/// an id segment that parses or gets a typed 400, or a 404 / 405 naming what is allowed.
pub fn route(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = Method::from_bytes(METHODS[usize::from(m) % METHODS.len()].as_bytes())
        .expect("a valid method");
    let path = String::from_utf8_lossy(rest);
    match route::route(&method, &path) {
        Ok(r) => {
            assert!(r.name().starts_with("/api/"));
            assert_eq!(r.params.len(), r.path.params.len());
            for (param, &value) in r.path.params.iter().zip(&r.params) {
                assert!(!value.contains('/'));
                if r.name() == "/api/orders/{id}" {
                    if let Ok(o) = value.parse::<OrderId>() {
                        assert!(o.0 > 0);
                    }
                } else if matches!(param.name, "id" | "product_id")
                    && r.name().contains("products/")
                    || param.name == "product_id"
                {
                    match crate::http::request::product_id(value) {
                        Ok(n) => assert_eq!(value.parse::<ProductId>(), Ok(ProductId(n))),
                        Err(e) => assert_bad_request(&e),
                    }
                }
            }
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => assert!(e.message.contains("no such")),
        Err(e) => {
            assert_eq!(e.status, StatusCode::METHOD_NOT_ALLOWED, "{e:?}");
            let allow = e.allow.expect("a 405 names the allowed methods");
            assert!(!allow.split(", ").any(|a| a == method.as_str()));
        }
    }
}

// --- the cart cookie -------------------------------------------------------------------------

/// `Cookie` headers (one per line of the input): the cart is the first `cart` pair the server
/// issued (under the development key), else the first of the old form (32 hex digits), whatever
/// else the headers hold; nothing else names a cart, and a cookie the server sets reads back as
/// its cart's name.
pub fn cart_cookie(data: &[u8]) {
    let keys = cookie::CartKeys::development();
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, v);
        }
    }
    let values: Vec<&[u8]> = headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| pair.trim_ascii().strip_prefix(b"cart="))
        .collect();
    let issued = values.iter().find_map(|v| keys.open(v));
    let old = values
        .iter()
        .find_map(|v| std::str::from_utf8(v).ok()?.parse::<CartId>().ok());
    let expected = match (issued, old) {
        (Some(name), _) => Some(cookie::CartCookie::Issued(name)),
        (None, Some(id)) => Some(cookie::CartCookie::Legacy(id)),
        (None, None) => None,
    };
    let got = cookie::read(&headers, &keys);
    assert_eq!(got, expected, "headers {headers:?}");
    if let Some(cookie::CartCookie::Issued(name)) = got {
        assert!(
            values.iter().any(|v| v.len() == 64),
            "an issued cookie is 64 hex digits"
        );
        assert_ne!(name, CartId(0));
    }
    let new = keys.issue();
    let set = cookie::set_cookie(&new, false);
    let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
    let mut back = headers.clone();
    back.insert(COOKIE, HeaderValue::from_str(&pair).unwrap());
    assert_eq!(
        cookie::read(&back, &keys),
        Some(cookie::CartCookie::Issued(new.name))
    );
}

// --- CSV import ------------------------------------------------------------------------------

/// A products file: every bad row reported with a real line number, or rows that are valid as
/// they stand, have unique ids, and read back unchanged once written as CSV again.
pub fn import_products(data: &[u8]) {
    match import::parse_products(data) {
        Err(errors) => check_row_errors(&errors),
        Ok(rows) => {
            check_rows(&rows, |e| e.product_id);
            for r in &rows {
                assert_eq!(
                    validate_product(r.event.product_id, &upsert_of(&r.event)).as_ref(),
                    Ok(&r.event)
                );
            }
            let mut out = csv::Writer::from_writer(Vec::new());
            out.write_record(PRODUCT_COLUMNS).unwrap();
            for r in &rows {
                let e = &r.event;
                let urls = e.image_urls.join(&IMAGE_URL_SEPARATOR.to_string());
                out.write_record([
                    e.product_id.to_string().as_str(),
                    &e.title,
                    &e.description,
                    &e.long_text,
                    &e.category,
                    &e.price_minor.to_string(),
                    &e.currency,
                    &urls,
                ])
                .unwrap();
            }
            let again = import::parse_products(&*out.into_inner().unwrap())
                .expect("rows written again read again");
            assert_eq!(events(&again), events(&rows));
        }
    }
}

/// A stock file: every bad row reported, or deliveries of 1 to the limit with unique ids that
/// read back unchanged once written as CSV again.
pub fn import_stock(data: &[u8]) {
    match import::parse_stock(data) {
        Err(errors) => check_row_errors(&errors),
        Ok(rows) => {
            check_rows(&rows, |e| e.product_id);
            for r in &rows {
                assert!((1..=import::MAX_STOCK_QUANTITY).contains(&r.event.quantity));
            }
            let mut out = csv::Writer::from_writer(Vec::new());
            out.write_record(STOCK_COLUMNS).unwrap();
            for r in &rows {
                let StockDeliveredV1 {
                    product_id,
                    quantity,
                } = r.event;
                out.write_record([product_id.to_string(), quantity.to_string()])
                    .unwrap();
            }
            let again = import::parse_stock(&*out.into_inner().unwrap())
                .expect("rows written again read again");
            assert_eq!(events(&again), events(&rows));
        }
    }
}

fn events<T: Clone>(rows: &[Row<T>]) -> Vec<T> {
    rows.iter().map(|r| r.event.clone()).collect()
}

fn check_rows<T>(rows: &[Row<T>], id: impl Fn(&T) -> u64) {
    let mut ids = HashSet::new();
    let mut last_line = 1;
    for r in rows {
        assert!(r.line > last_line, "rows out of line order");
        last_line = r.line;
        let id = id(&r.event);
        assert!(id > 0);
        assert!(ids.insert(id), "duplicate id {id} accepted");
    }
}

fn check_row_errors(errors: &[import::RowError]) {
    assert!(!errors.is_empty());
    for e in errors {
        assert!(e.line >= 1, "an error without its line: {e}");
        assert!(!e.message.trim().is_empty());
    }
    assert!(errors.windows(2).all(|w| w[0].line <= w[1].line));
}

// --- Kafka events ----------------------------------------------------------------------------

/// Splits the input into events: each is a 2-byte little-endian length and that many bytes.
fn frames(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (len, rest) = data.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
        let (frame, rest) = rest.split_at(len);
        data = rest;
        Some(frame)
    })
}

/// Frames events for [`catalog_events`] and [`checkout_events`] (seed corpus, tests).
pub fn frame_events(events: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        let len = u16::try_from(e.len()).expect("an event under 64 KiB");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(e);
    }
    out
}

#[track_caller]
fn assert_round_trip<M: Message + Default + PartialEq + Debug>(m: &M) {
    let bytes = m.encode_to_vec();
    assert_eq!(bytes.len(), m.encoded_len());
    assert_eq!(M::decode(&*bytes).as_ref(), Ok(m));
}

fn fact(copy: CatalogFactV1) -> CheckoutEvent {
    CheckoutEvent {
        event: Some(checkout_event::Event::CatalogFactV1(copy)),
        meta: None,
    }
}

/// Catalog events as the engine decodes them (an undecodable one is skipped), applied in live
/// mode and in replay mode: neither panics, both give the same model, the listings stay sorted
/// and complete, the bridge's copies give checkout exactly the catalog's products, and every
/// read works.
pub fn catalog_events(data: &[u8]) {
    let mut live = Catalog::default();
    CatalogFold::finalize(&mut live);
    let mut replay = Catalog::default();
    let mut checkout = Checkout::default();
    let mut previous = -1;
    let mut ids = BTreeSet::new();
    // The products as the applied events describe them, for the list oracle.
    let mut source: BTreeMap<u64, SourceProduct> = BTreeMap::new();
    for (offset, frame) in frames(data).enumerate() {
        let offset = offset as i64;
        let Ok(event) = CatalogEvent::decode(frame) else {
            // Poison: skipped by the catalog, an empty copy for checkout.
            let copy = crate::bridge::copy(offset, previous, None);
            CheckoutFold::apply(&mut checkout, &fact(copy), offset);
            previous = offset;
            continue;
        };
        assert_round_trip(&event);
        ids.insert(match &event.event {
            Some(catalog_event::Event::ProductUpsertedV1(e)) => e.product_id,
            Some(catalog_event::Event::PriceChangedV1(e)) => e.product_id,
            Some(catalog_event::Event::ProductDisabledV1(e)) => e.product_id,
            None => 0,
        });
        let applied = CatalogFold::apply(&mut live, &event, offset);
        assert_eq!(CatalogFold::apply(&mut replay, &event, offset), applied);
        if applied == Applied::Changed {
            match &event.event {
                Some(catalog_event::Event::ProductUpsertedV1(e)) => {
                    source.insert(
                        e.product_id,
                        SourceProduct {
                            id: e.product_id,
                            title: e.title.clone(),
                            slug: shared::ids::category_slug(&e.category),
                            price_minor: e.price_minor,
                            enabled: true,
                        },
                    );
                }
                Some(catalog_event::Event::PriceChangedV1(e)) => {
                    if let Some(p) = source.get_mut(&e.product_id) {
                        p.price_minor = e.price_minor;
                    }
                }
                Some(catalog_event::Event::ProductDisabledV1(e)) => {
                    if let Some(p) = source.get_mut(&e.product_id) {
                        p.enabled = false;
                    }
                }
                None => {}
            }
        }
        check_listings(&live, &ids);
        let copy = crate::bridge::copy(offset, previous, Some((&event, applied)));
        CheckoutFold::apply(&mut checkout, &fact(copy), offset);
        previous = offset;
    }
    CatalogFold::finalize(&mut replay);
    check_listings(&replay, &ids);
    assert_eq!(catalog_state(&live, &ids), catalog_state(&replay, &ids));
    for id in &ids {
        // Checkout sells what the catalog shows, at the catalog's price.
        match (live.product(*id), checkout.product(*id)) {
            (Some(p), Some(info)) => {
                assert_eq!(
                    (
                        &*info.title,
                        info.price_minor,
                        &*info.currency,
                        info.enabled
                    ),
                    (p.title(), p.price_minor, p.currency(), !p.disabled),
                    "checkout's product {id} differs from the catalog's"
                );
                assert_eq!(query::product_view(p, &checkout, LOW).id, p.id);
            }
            (None, None) => {}
            (p, info) => panic!("product {id}: catalog {p:?}, checkout {info:?}"),
        }
    }
    for sort in SortKey::ALL {
        for descending in [false, true] {
            let q = ListQuery {
                page: PageRequest::new(1, MAX_PAGE_SIZE).unwrap(),
                sort,
                descending,
                ..Default::default()
            };
            let source: Vec<SourceProduct> = source.values().cloned().collect();
            check_list(&live, &source, &q);
        }
    }
}

/// Each listing strictly sorted by its key and holding exactly the enabled products; each
/// category's listing non-empty and holding exactly its products.
fn check_listings(c: &Catalog, ids: &BTreeSet<u64>) {
    let enabled: BTreeSet<u64> = products(c, ids)
        .filter(|p| !p.disabled)
        .map(|p| p.id)
        .collect();
    for key in SortKey::ALL {
        let v = c.listing().by(key);
        assert!(
            v.iter()
                .zip(v.iter().skip(1))
                .all(|(a, b)| compare(key, a, b).is_lt()),
            "listing by {key:?} not sorted"
        );
        assert_eq!(v.iter().map(|p| p.id).collect::<BTreeSet<_>>(), enabled);
    }
    let mut in_categories = 0;
    for (slug, cat) in c.categories() {
        assert!(!cat.listing.is_empty(), "empty category {slug:?} listed");
        for key in SortKey::ALL {
            for p in cat.listing.by(key).iter() {
                assert_eq!(p.category_slug(), slug);
                assert!(!p.disabled);
            }
        }
        in_categories += cat.listing.len();
    }
    assert_eq!(in_categories, enabled.len());
}

type CatalogState = (
    Vec<Vec<u64>>,
    Vec<(String, String, Vec<u64>)>,
    BTreeMap<u64, crate::catalog::Product>,
);

fn catalog_state(c: &Catalog, ids: &BTreeSet<u64>) -> CatalogState {
    let listings = SortKey::ALL
        .iter()
        .map(|k| c.listing().by(*k).iter().map(|p| p.id).collect())
        .collect();
    let categories = c
        .categories()
        .map(|(slug, cat)| {
            (
                slug.clone(),
                cat.name.clone(),
                cat.listing.by(SortKey::Id).iter().map(|p| p.id).collect(),
            )
        })
        .collect();
    let products = products(c, ids).map(|p| (p.id, (**p).clone())).collect();
    (listings, categories, products)
}

/// Checkout events as the engine decodes them, applied by the fold: nothing panics, every cart
/// and order the events name can be shown, and stock is conserved: for every product, what is
/// left plus what orders took is exactly what was delivered (so nothing is ever oversold).
pub fn checkout_events(data: &[u8]) {
    let mut m = Checkout::default();
    let mut delivered: BTreeMap<u64, u64> = BTreeMap::new();
    let mut sold: BTreeMap<u64, u64> = BTreeMap::new();
    let mut next_order = 1;
    for (offset, frame) in frames(data).enumerate() {
        let Ok(event) = CheckoutEvent::decode(frame) else {
            continue;
        };
        assert_round_trip(&event);
        let applied = CheckoutFold::apply(&mut m, &event, offset as i64);
        let cart = match &event.event {
            Some(checkout_event::Event::StockDeliveredV1(e)) => {
                if applied == Applied::Changed {
                    let d = delivered.entry(e.product_id).or_default();
                    *d = d.saturating_add(u64::from(e.quantity));
                }
                None
            }
            Some(_) => cart_name::of_event(&event),
            None => None,
        };
        while let Some(order) = m.order(next_order) {
            for line in &order.lines {
                *sold.entry(line.product_id).or_default() += u64::from(line.quantity);
            }
            // An order for the cart as shown charges exactly the prices its request named.
            if let Some(checkout_event::Event::OrderRequestedV2(e)) = &event.event {
                for line in &order.lines {
                    let named = e.lines.iter().find(|n| n.product_id == line.product_id);
                    let price = named.and_then(|n| n.unit_price.as_ref());
                    assert_eq!(
                        price.map(|p| (p.minor, p.currency.as_str())),
                        Some((line.unit_price_minor, &*line.currency)),
                        "order {} charged a price its request did not name",
                        order.id
                    );
                }
            }
            let view = order_view(order);
            assert_eq!(view.lines.len(), order.lines.len());
            next_order += 1;
        }
        if let Some(cart) = cart {
            if let Ok(view) = cart_view(&m, cart, LOW) {
                assert_eq!(view.version, m.cart(cart).map_or(0, |c| c.version));
            }
            assert!(m.orders_of(cart).all(|o| o.cart == cart));
        }
    }
    for p in delivered.keys().chain(sold.keys()) {
        let (d, s) = (delivered.get(p).copied(), sold.get(p).copied());
        assert!(
            d.is_some() || s.is_none(),
            "product {p} sold without a delivery"
        );
        assert_eq!(
            m.stock(*p).checked_add(s.unwrap_or(0)),
            d,
            "stock of product {p} is not delivered minus sold"
        );
    }
}

fn seed_meta(key: &str, fingerprint: u64) -> shared::proto::CommandMeta {
    shared::proto::CommandMeta {
        idempotency_key: key.to_owned(),
        fingerprint,
        requested_at_ms: 1_700_000_000_000,
        record_retention_ms: 86_400_000,
    }
}

/// A few valid inputs per target, the start of each corpus (`fuzz/corpus/<target>/seed-*`).
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, bytes: Vec<u8>| seeds.push((target, bytes));
    let product = UpsertProduct {
        title: "Walnut desk lamp".into(),
        description: "Warm light, solid walnut.".into(),
        long_text: String::new(),
        category: "Home & Garden".into(),
        price: Some(Money {
            minor: 4900,
            currency: "EUR".into(),
        }),
        image_urls: vec![
            "https://shop.test/lamp.jpg".into(),
            "https://shop.test/lamp-2.jpg".into(),
        ],
    };
    let bodies: [(u8, Vec<u8>); 6] = [
        (0, serde_json::to_vec(&SetCartLine { quantity: 2 }).unwrap()),
        (1, SetCartLine { quantity: 2 }.encode_to_vec()),
        (2, br#"{"cartVersion": "3", "lines": [{"productId": "1", "title": "Lamp", "unitPrice": {"minor": "2500", "currency": "EUR"}, "quantity": 2}]}"#.to_vec()),
        (4, serde_json::to_vec(&product).unwrap()),
        (5, product.encode_to_vec()),
        (8, br#"{"productId": "42", "quantity": 10}"#.to_vec()),
    ];
    for (selector, body) in bodies {
        add("request_body", [vec![selector], body].concat());
    }
    add(
        "request_body",
        [vec![6], br#"{"priceMinor": 1999}"#.to_vec()].concat(),
    );
    add(
        "request_body",
        [
            vec![11],
            LiveRequest {
                watch_products: vec![1, 2, 42],
            }
            .encode_to_vec(),
        ]
        .concat(),
    );
    for q in [
        "",
        "q=lamp&sort=price&order=desc&page_size=5",
        "category=home-garden&prefix=de&page=2",
        "prefix=%C4%B0st&sort=id",
        "q=desk+work&page_size=100&page=1",
    ] {
        add("list_query", q.as_bytes().to_vec());
    }
    for (m, path) in [
        (0u8, "products"),
        (0, "products/42"),
        (0, "categories"),
        (0, "cart"),
        (3, "cart/lines/42"),
        (0, "orders"),
        (2, "orders"),
        (0, "orders/7"),
        (3, "admin/products/9001"),
        (4, "admin/products/9001"),
        (3, "admin/products/9001/price"),
        (2, "admin/stock"),
        (0, "ws"),
    ] {
        add("route", [vec![m], path.as_bytes().to_vec()].concat());
    }
    add(
        "cart_cookie",
        b"theme=dark; cart=0123456789abcdef0123456789abcdef; x=1".to_vec(),
    );
    add(
        "cart_cookie",
        b"cart=0123456789abcdef0123456789abcdef\nlang=de".to_vec(),
    );
    add(
        "cart_cookie",
        format!(
            "theme=dark; cart=x; cart={}; x=1",
            cookie::CartKeys::development().reissue(CartId(0xa)).value
        )
        .into_bytes(),
    );
    add(
        "import_products",
        format!(
            "{}\n1,Walnut Desk Lamp,A lamp.,Long text.,Office,4999,EUR,\n\
             2,\"Lamp, large\",\"Bright, \"\"warm\"\"\",\"Two\nlines\",Home & Garden,1250,EUR,https://x.test/a.jpg|https://x.test/b.jpg\n",
            PRODUCT_COLUMNS.join(",")
        )
        .into_bytes(),
    );
    add(
        "import_stock",
        b"product_id,quantity\n1,5\n2,1000000\n".to_vec(),
    );
    add(
        "import_stock",
        "\u{feff}quantity,product_id\n5,9\n".as_bytes().to_vec(),
    );
    let catalog = |event: catalog_event::Event, key: &str| CatalogEvent {
        event: Some(event),
        meta: (!key.is_empty()).then(|| seed_meta(key, 7)),
    };
    let upsert = |id: u64, title: &str, category: &str, price: i64| {
        catalog_event::Event::ProductUpsertedV1(ProductUpsertedV1 {
            product_id: id,
            title: title.into(),
            description: format!("A fine {title}"),
            category: category.into(),
            price_minor: price,
            currency: "EUR".into(),
            ..Default::default()
        })
    };
    let catalog_log = [
        catalog(upsert(1, "Desk lamp", "Home", 2500), "p1"),
        catalog(upsert(2, "Chair", "Office", 9900), ""),
        catalog(upsert(3, "Floor lamp", "Home", 4500), "p3"),
        catalog(
            catalog_event::Event::PriceChangedV1(shared::proto::PriceChangedV1 {
                product_id: 1,
                price_minor: 1999,
            }),
            "price-1",
        ),
        catalog(
            catalog_event::Event::ProductDisabledV1(shared::proto::ProductDisabledV1 {
                product_id: 3,
            }),
            "off-3",
        ),
        catalog(upsert(3, "Floor lamp", "Home", 4500), "p3-again"),
        // The same key with other content (two replicas racing): only the first counts.
        catalog(upsert(3, "Floor lamp", "Home", 9999), "p3-again"),
        catalog(upsert(0, "Nothing", "Home", 1), ""),
    ];
    add(
        "catalog_events",
        frame_events(
            &catalog_log
                .iter()
                .map(Message::encode_to_vec)
                .collect::<Vec<_>>(),
        ),
    );
    let cart = "0000000000000000000000000000000a".to_owned();
    let named = "0000000000000000000000000000000b".to_owned();
    let checkout = |event: checkout_event::Event, key: &str| CheckoutEvent {
        event: Some(event),
        meta: Some(seed_meta(key, 9)),
    };
    let mut checkout_log: Vec<CheckoutEvent> = catalog_log[..3]
        .iter()
        .enumerate()
        .map(|(i, e)| CheckoutEvent {
            event: Some(checkout_event::Event::CatalogFactV1(CatalogFactV1 {
                source_offset: i as i64,
                event: Some(e.clone()),
                previous_source_offset: i as i64 - 1,
            })),
            meta: None,
        })
        .collect();
    checkout_log.extend([
        checkout(
            checkout_event::Event::StockDeliveredV1(StockDeliveredV1 {
                product_id: 1,
                quantity: 3,
            }),
            "s1",
        ),
        checkout(
            checkout_event::Event::CartLineSetV1(shared::proto::CartLineSetV1 {
                cart_id: cart.clone(),
                product_id: 1,
                quantity: 2,
                cart_retention_ms: 2_592_000_000,
                max_lines: 100,
                ..Default::default()
            }),
            "l1",
        ),
        checkout(
            checkout_event::Event::OrderRequestedV1(shared::proto::OrderRequestedV1 {
                cart_id: cart.clone(),
                cart_version: 1,
                ..Default::default()
            }),
            "o1",
        ),
        checkout(
            checkout_event::Event::CartLineSetV1(shared::proto::CartLineSetV1 {
                cart_id: cart.clone(),
                product_id: 1,
                quantity: 2,
                cart_retention_ms: 2_592_000_000,
                max_lines: 100,
                ..Default::default()
            }),
            "l2",
        ),
        checkout(
            checkout_event::Event::OrderRequestedV2(shared::proto::OrderRequestedV2 {
                cart_id: cart.clone(),
                cart_version: 3,
                lines: vec![shared::proto::ShownLine {
                    product_id: 1,
                    title: "Lamp".into(),
                    unit_price: Some(shared::money::money(2500, "EUR")),
                    quantity: 2,
                }],
                cart_retention_ms: 2_592_000_000,
                ..Default::default()
            }),
            "o2",
        ),
        // The old cart moves to a name, and is written by its name from then on.
        checkout(
            checkout_event::Event::CartRekeyedV1(shared::proto::CartRekeyedV1 {
                from_cart_name: cart_name::legacy_name(cart.parse().expect("hex")).to_string(),
                cart_name: named.clone(),
            }),
            "rekey",
        ),
        checkout(
            checkout_event::Event::CartLineSetV1(shared::proto::CartLineSetV1 {
                cart_name: named,
                product_id: 1,
                quantity: 1,
                cart_retention_ms: 2_592_000_000,
                max_lines: 100,
                ..Default::default()
            }),
            "l3",
        ),
    ]);
    add(
        "checkout_events",
        frame_events(
            &checkout_log
                .iter()
                .map(Message::encode_to_vec)
                .collect::<Vec<_>>(),
        ),
    );
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn fuzz_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
    }

    /// The committed inputs of a target: its seeds and the regressions the fuzzer found.
    fn committed(target: &str) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let seeds = fuzz_dir().join("corpus").join(target);
        for entry in std::fs::read_dir(&seeds).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("seed-") {
                files.push(entry.path());
            }
        }
        let regressions = fuzz_dir().join("regressions").join(target);
        for entry in std::fs::read_dir(&regressions)
            .into_iter()
            .flatten()
            .flatten()
        {
            files.push(entry.path());
        }
        files.sort();
        files
    }

    /// Every committed corpus and regression file through its target, as `make fuzz` runs it.
    #[test]
    fn replays_the_committed_corpus() {
        for (target, run) in TARGETS {
            let files = committed(target);
            assert!(!files.is_empty(), "no committed inputs for {target}");
            for file in files {
                let data = std::fs::read(&file).unwrap();
                let outcome = std::panic::catch_unwind(|| run(&data));
                assert!(outcome.is_ok(), "{target} fails on {}", file.display());
            }
        }
    }

    /// The seed corpus is what `seeds()` makes; `WRITE_FUZZ_SEEDS=1` writes it.
    #[test]
    fn seed_corpus_is_committed() {
        let write = std::env::var_os("WRITE_FUZZ_SEEDS").is_some();
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for (target, bytes) in seeds() {
            let i = n.entry(target).or_default();
            *i += 1;
            let path = fuzz_dir()
                .join("corpus")
                .join(target)
                .join(format!("seed-{i}"));
            if write {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &bytes).unwrap();
            }
            let committed = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (WRITE_FUZZ_SEEDS=1 writes it)", path.display())
            });
            assert_eq!(committed, bytes, "{} differs from seeds()", path.display());
        }
        for (target, _) in TARGETS {
            assert!(n.contains_key(target), "no seeds for {target}");
        }
    }
}
