//! What one event did, in an operator's words: the facts it concerns (products, cart, order),
//! a one-line summary and each change before and after, read from the model just before the
//! event and just after it. Pure functions of events and models; carts never leave as the
//! events name them (a short hash of the cart's name stands for them, the same the admin's
//! order list shows), least of all an old event's clear cart id.

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::money;
use shared::proto::{
    CatalogEvent, CheckoutEvent, EventChange, catalog_event, checkout_event::Event,
};

use crate::catalog::{Catalog, CatalogFold, Product};
use crate::checkout::cart_name::{self, legacy_name};
use crate::checkout::fold::{ProductInfo, cart_command_key};
use crate::checkout::query::rejection_message;
use crate::checkout::{Checkout, CheckoutFold, Outcome};
use crate::engine::{Applied, Fold};

/// The short hash the operator sees for a cart: the first 10 hex digits of SHA-256 of its name
/// (as the model keeps it). Enough to tell carts apart and to filter by; useless to act as one.
pub fn cart_hash(cart_id: &str) -> String {
    let digest = Sha256::digest(cart_id.as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// An event as recorded, kept to be shown as JSON on demand.
#[derive(Debug, Clone)]
pub enum AnyEvent {
    Catalog(CatalogEvent),
    Checkout(CheckoutEvent),
}

impl AnyEvent {
    /// The event's proto3 JSON, cart ids replaced by their short hash, indented.
    pub fn json(&self) -> String {
        let value = match self {
            AnyEvent::Catalog(e) => serde_json::to_value(e),
            AnyEvent::Checkout(e) => serde_json::to_value(e),
        };
        match value {
            Ok(mut v) => {
                redact(&mut v);
                serde_json::to_string_pretty(&v).unwrap_or_default()
            }
            Err(e) => format!("(cannot show as JSON: {e})"),
        }
    }
}

/// Replaces every cart an event names with the short hash of its name, at any depth: an old
/// event's clear `cartId` (a shopper's credential) by its legacy name's, names by their own.
fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(id) if k == "cartId" => {
                        *id = match id.parse() {
                            Ok(old) => cart_hash(&legacy_name(old).to_string()),
                            Err(_) => cart_hash(id),
                        }
                    }
                    Value::String(name) if k == "cartName" || k == "fromCartName" => {
                        *name = cart_hash(name)
                    }
                    _ => redact(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// What an entry says besides its position in the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub product_ids: Vec<u64>,
    pub cart: String,
    pub order_id: u64,
    pub summary: String,
    pub changes: Vec<EventChange>,
}

fn change(
    field: impl Into<String>,
    before: impl Into<String>,
    after: impl Into<String>,
) -> EventChange {
    EventChange {
        field: field.into(),
        before: before.into(),
        after: after.into(),
    }
}

/// A context whose events the event log describes.
pub trait Describe: Fold {
    /// What the description needs of the model before the event.
    type Before: Send + 'static;

    fn before(model: &Self::Model, event: &Self::Event) -> Self::Before;

    fn describe(
        before: Self::Before,
        event: &Self::Event,
        applied: Applied,
        model: &Self::Model,
    ) -> Facts;

    fn keep(event: &Self::Event) -> AnyEvent;

    fn idempotency_key(event: &Self::Event) -> String;

    /// The event's command time (Unix ms), for an event whose record has no timestamp.
    fn requested_at_ms(event: &Self::Event) -> i64;
}

fn catalog_product_id(e: &CatalogEvent) -> Option<u64> {
    match e.event.as_ref()? {
        catalog_event::Event::ProductUpsertedV1(e) => Some(e.product_id),
        catalog_event::Event::PriceChangedV1(e) => Some(e.product_id),
        catalog_event::Event::ProductDisabledV1(e) => Some(e.product_id),
    }
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// A catalog product's fields an operator edits, each as shown, by field name.
fn product_fields(p: &Product) -> [(&'static str, String); 7] {
    [
        ("title", p.title().to_owned()),
        ("price", money::format(p.price_minor, p.currency())),
        ("category", p.category().to_owned()),
        ("description", shorten(p.description())),
        (
            "long text",
            format!("{} characters", p.long_text().chars().count()),
        ),
        ("images", p.image_urls().count().to_string()),
        (
            "state",
            if p.disabled { "disabled" } else { "for sale" }.to_owned(),
        ),
    ]
}

impl Describe for CatalogFold {
    type Before = Option<Arc<Product>>;

    fn before(model: &Catalog, event: &CatalogEvent) -> Self::Before {
        catalog_product_id(event).and_then(|id| model.product(id).cloned())
    }

    fn describe(
        before: Self::Before,
        event: &CatalogEvent,
        applied: Applied,
        model: &Catalog,
    ) -> Facts {
        let Some(id) = catalog_product_id(event) else {
            return Facts {
                summary: "an event of a kind this version does not know".into(),
                ..Facts::default()
            };
        };
        let mut facts = Facts {
            product_ids: vec![id],
            ..Facts::default()
        };
        if let Applied::Ignored(why) = applied {
            facts.summary = format!("product {id}: nothing changed ({why})");
            return facts;
        }
        let after = model.product(id);
        if let (Some(old), Some(new)) = (&before, after) {
            for ((field, a), (_, b)) in product_fields(old).into_iter().zip(product_fields(new)) {
                if a != b {
                    facts.changes.push(change(field, a, b));
                }
            }
        } else if let Some(new) = after {
            for (field, value) in product_fields(new) {
                facts.changes.push(change(field, "", value));
            }
        }
        let title = after.map(|p| p.title()).unwrap_or_default();
        facts.summary = match event.event.as_ref() {
            Some(catalog_event::Event::ProductUpsertedV1(_)) if before.is_none() => format!(
                "product {id} “{title}” created at {}",
                after.map_or_else(String::new, |p| money::format(p.price_minor, p.currency()))
            ),
            Some(catalog_event::Event::ProductUpsertedV1(_))
                if before.as_ref().is_some_and(|b| b.disabled) =>
            {
                format!("product {id} “{title}” enabled again")
            }
            Some(catalog_event::Event::ProductUpsertedV1(_)) if facts.changes.is_empty() => {
                format!("product {id} “{title}” saved unchanged")
            }
            Some(catalog_event::Event::ProductUpsertedV1(_)) => format!(
                "product {id} “{title}” edited: {}",
                facts
                    .changes
                    .iter()
                    .map(|c| c.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(catalog_event::Event::PriceChangedV1(_)) => {
                let price = facts.changes.first().cloned().unwrap_or_default();
                format!(
                    "price of product {id} “{title}”: {} → {}",
                    price.before, price.after
                )
            }
            Some(catalog_event::Event::ProductDisabledV1(_)) => {
                format!("product {id} “{title}” disabled")
            }
            None => String::new(),
        };
        facts
    }

    fn keep(event: &CatalogEvent) -> AnyEvent {
        AnyEvent::Catalog(event.clone())
    }

    fn idempotency_key(event: &CatalogEvent) -> String {
        event
            .meta
            .as_ref()
            .map(|m| m.idempotency_key.clone())
            .unwrap_or_default()
    }

    fn requested_at_ms(event: &CatalogEvent) -> i64 {
        event.meta.as_ref().map_or(0, |m| m.requested_at_ms)
    }
}

/// What checkout's events change, read before them.
pub enum CheckoutBefore {
    Nothing,
    /// A bridged catalog fact: checkout's copy of the product.
    Product(u64, Option<ProductInfo>),
    Stock(u64),
    /// A cart line: its quantity and the cart's version.
    Line(u32, u64),
    /// An order: the cart's lines with their stock, and the cart's version.
    Order(Vec<(u64, u32, u64)>, u64),
}

fn info_fields(p: &ProductInfo) -> [(&'static str, String); 3] {
    [
        ("title", p.title.to_string()),
        ("price", money::format(p.price_minor, &p.currency)),
        (
            "state",
            if p.enabled { "for sale" } else { "disabled" }.to_owned(),
        ),
    ]
}

impl Describe for CheckoutFold {
    type Before = CheckoutBefore;

    fn before(model: &Checkout, event: &CheckoutEvent) -> CheckoutBefore {
        match event.event.as_ref() {
            Some(Event::CatalogFactV1(f)) => match f.event.as_ref().and_then(catalog_product_id) {
                Some(id) => CheckoutBefore::Product(id, model.product(id).cloned()),
                None => CheckoutBefore::Nothing,
            },
            Some(Event::StockDeliveredV1(e)) => CheckoutBefore::Stock(model.stock(e.product_id)),
            Some(Event::CartLineSetV1(e)) => {
                let cart = cart_name::of_event(event).and_then(|c| model.cart(c));
                let quantity = cart
                    .and_then(|c| c.lines.iter().find(|(p, _)| *p == e.product_id))
                    .map_or(0, |(_, q)| *q);
                CheckoutBefore::Line(quantity, cart.map_or(0, |c| c.version))
            }
            Some(Event::OrderRequestedV1(_) | Event::OrderRequestedV2(_)) => {
                let cart = cart_name::of_event(event).and_then(|c| model.cart(c));
                let lines = cart
                    .map(|c| {
                        c.lines
                            .iter()
                            .map(|&(p, q)| (p, q, model.stock(p)))
                            .collect()
                    })
                    .unwrap_or_default();
                CheckoutBefore::Order(lines, cart.map_or(0, |c| c.version))
            }
            Some(Event::CartRekeyedV1(_)) | None => CheckoutBefore::Nothing,
        }
    }

    fn describe(
        before: CheckoutBefore,
        event: &CheckoutEvent,
        applied: Applied,
        model: &Checkout,
    ) -> Facts {
        let mut facts = Facts::default();
        let cart = cart_name::of_event(event);
        if let Some(name) = cart {
            facts.cart = cart_hash(&name.to_string());
        }
        let ignored = |facts: &mut Facts, what: String| {
            if let Applied::Ignored(why) = applied {
                facts.summary = format!("{what}: nothing changed ({why})");
                true
            } else {
                false
            }
        };
        let key = event
            .meta
            .as_ref()
            .map(|m| m.idempotency_key.as_str())
            .unwrap_or_default();
        match (event.event.as_ref(), before) {
            (Some(Event::CatalogFactV1(f)), before) => {
                let kind = f.event.as_ref().map_or("empty", CatalogFold::kind);
                let what = format!("copy of catalog event {} ({kind})", f.source_offset);
                if let CheckoutBefore::Product(id, old) = before {
                    facts.product_ids.push(id);
                    if !ignored(&mut facts, what.clone()) {
                        facts.summary = format!("{what}, product {id}");
                        let fields = |p: Option<&ProductInfo>| p.map(info_fields);
                        match (fields(old.as_ref()), fields(model.product(id))) {
                            (Some(a), Some(b)) => {
                                for ((field, x), (_, y)) in a.into_iter().zip(b) {
                                    if x != y {
                                        facts.changes.push(change(field, x, y));
                                    }
                                }
                            }
                            (None, Some(b)) => {
                                for (field, y) in b {
                                    facts.changes.push(change(field, "", y));
                                }
                            }
                            _ => {}
                        }
                    }
                } else if !ignored(&mut facts, what.clone()) {
                    facts.summary = what;
                }
            }
            (Some(Event::StockDeliveredV1(e)), CheckoutBefore::Stock(was)) => {
                facts.product_ids.push(e.product_id);
                let what = format!(
                    "delivery of {} units of product {}",
                    e.quantity, e.product_id
                );
                if !ignored(&mut facts, what.clone()) {
                    facts.summary = what;
                    facts.changes.push(change(
                        format!("stock of product {}", e.product_id),
                        was.to_string(),
                        model.stock(e.product_id).to_string(),
                    ));
                }
            }
            (Some(Event::CartLineSetV1(e)), CheckoutBefore::Line(was, version)) => {
                facts.product_ids.push(e.product_id);
                let what = format!(
                    "cart {}: product {} × {}",
                    facts.cart, e.product_id, e.quantity
                );
                if !ignored(&mut facts, what.clone()) {
                    let c = cart.and_then(|c| model.cart(c));
                    let outcome = cart
                        .and_then(|c| model.command(&cart_command_key(c, key)))
                        .map(|r| &r.outcome);
                    facts.summary = match outcome {
                        Some(Outcome::CartLineRefused) => {
                            format!("{what} refused: the product is not for sale")
                        }
                        Some(Outcome::CartFull(max)) => {
                            format!("{what} refused: the cart holds {max} products already")
                        }
                        _ => what,
                    };
                    let now = c
                        .and_then(|c| c.lines.iter().find(|(p, _)| *p == e.product_id))
                        .map_or(0, |(_, q)| *q);
                    if now != was {
                        facts.changes.push(change(
                            format!("quantity of product {}", e.product_id),
                            was.to_string(),
                            now.to_string(),
                        ));
                    }
                    let v = c.map_or(0, |c| c.version);
                    if v != version {
                        facts.changes.push(change(
                            "cart version",
                            version.to_string(),
                            v.to_string(),
                        ));
                    }
                }
            }
            (
                Some(Event::OrderRequestedV1(_) | Event::OrderRequestedV2(_)),
                CheckoutBefore::Order(lines, version),
            ) => {
                facts.product_ids = lines.iter().map(|&(p, _, _)| p).collect();
                let what = format!("order of cart {}", facts.cart);
                if !ignored(&mut facts, what.clone()) {
                    let outcome = cart
                        .and_then(|c| model.command(&cart_command_key(c, key)))
                        .map(|r| &r.outcome);
                    match outcome {
                        Some(Outcome::OrderPlaced(id)) => {
                            facts.order_id = *id;
                            let order = model.order(*id);
                            let units: u32 = lines.iter().map(|&(_, q, _)| q).sum();
                            let total = order
                                .and_then(|o| {
                                    money::totals(o.lines.iter().map(|l| {
                                        (
                                            l.unit_price_minor * i64::from(l.quantity),
                                            l.currency.as_ref(),
                                        )
                                    }))
                                    .ok()
                                })
                                .unwrap_or_default()
                                .iter()
                                .map(|m| money::format(m.minor, &m.currency))
                                .collect::<Vec<_>>()
                                .join(" + ");
                            facts.summary = format!(
                                "order {id} placed by cart {}: {units} units, {total}",
                                facts.cart
                            );
                            for (p, _, was) in &lines {
                                facts.changes.push(change(
                                    format!("stock of product {p}"),
                                    was.to_string(),
                                    model.stock(*p).to_string(),
                                ));
                            }
                        }
                        Some(Outcome::OrderRejected(r)) => {
                            let (code, message) = rejection_message(model, r);
                            facts.summary = format!("{what} rejected ({code}): {message}");
                            facts
                                .changes
                                .push(change("decision", "", format!("rejected: {code}")));
                        }
                        _ => facts.summary = what,
                    }
                    let v = cart.and_then(|c| model.cart(c)).map_or(0, |c| c.version);
                    if v != version {
                        facts.changes.push(change(
                            "cart version",
                            version.to_string(),
                            v.to_string(),
                        ));
                    }
                }
            }
            (Some(Event::CartRekeyedV1(_)), _) => {
                let what = format!(
                    "cart {}: a cart of an old cookie moved here, with its orders (the old cookie opens nothing now)",
                    facts.cart
                );
                if !ignored(&mut facts, what.clone()) {
                    facts.summary = what;
                }
            }
            (None, _) => {
                facts.summary = "an event of a kind this version does not know".into();
            }
            // `before` was read from the same event: the kinds always match.
            _ => {}
        }
        facts
    }

    fn keep(event: &CheckoutEvent) -> AnyEvent {
        AnyEvent::Checkout(event.clone())
    }

    fn idempotency_key(event: &CheckoutEvent) -> String {
        event
            .meta
            .as_ref()
            .map(|m| m.idempotency_key.clone())
            .unwrap_or_default()
    }

    fn requested_at_ms(event: &CheckoutEvent) -> i64 {
        event.meta.as_ref().map_or(0, |m| m.requested_at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::fold::tests::{disable, price, upsert};
    use crate::checkout::fold::tests::{A, fact, legacy, line, order_shown, rekey, shown, stock};
    use shared::ids::CartId;

    fn through<F: Describe>(model: &mut F::Model, event: &F::Event, offset: i64) -> Facts {
        let before = F::before(model, event);
        let applied = F::apply(model, event, offset);
        F::describe(before, event, applied, model)
    }

    #[test]
    fn catalog_events_say_what_changed() {
        let mut m = Catalog::default();
        CatalogFold::finalize(&mut m);
        let f = through::<CatalogFold>(&mut m, &upsert(7, "Lamp", "Home", 4900), 0);
        assert_eq!(f.product_ids, [7]);
        assert!(f.summary.contains("created"), "{}", f.summary);
        let f = through::<CatalogFold>(&mut m, &price(7, 3900), 1);
        assert_eq!(f.summary, "price of product 7 “Lamp”: €49.00 → €39.00");
        assert_eq!(f.changes, [change("price", "€49.00", "€39.00")]);
        let f = through::<CatalogFold>(&mut m, &price(7, 3900), 2);
        assert!(
            f.summary.contains("nothing changed (same price)"),
            "{}",
            f.summary
        );
        let f = through::<CatalogFold>(&mut m, &disable(7), 3);
        assert_eq!(f.changes, [change("state", "for sale", "disabled")]);
        let f = through::<CatalogFold>(&mut m, &upsert(7, "Big lamp", "Home", 3900), 4);
        assert!(f.summary.contains("enabled again"), "{}", f.summary);
        assert_eq!(
            f.changes,
            [
                change("title", "Lamp", "Big lamp"),
                change("description", "About Lamp", "About Big lamp"),
                change("state", "disabled", "for sale"),
            ]
        );
    }

    #[test]
    fn a_delivery_and_an_order_show_the_stock_before_and_after() {
        let mut m = Checkout::default();
        through::<CheckoutFold>(&mut m, &fact(0, upsert(1, "Lamp", "Home", 2500)), 0);
        let f = through::<CheckoutFold>(&mut m, &stock("s1", 1, 3), 1);
        assert_eq!(f.summary, "delivery of 3 units of product 1");
        assert_eq!(f.changes, [change("stock of product 1", "0", "3")]);
        let f = through::<CheckoutFold>(&mut m, &line("l1", A, 1, 2), 2);
        let hash = cart_hash(&A.to_string());
        assert_eq!(f.cart, hash);
        assert_eq!(
            f.changes,
            [
                change("quantity of product 1", "0", "2"),
                change("cart version", "0", "1")
            ]
        );
        let f = through::<CheckoutFold>(
            &mut m,
            &order_shown("o1", A, 1, vec![shown(1, "Lamp", 2500, 2)]),
            3,
        );
        assert_eq!(f.order_id, 1);
        assert_eq!(
            f.summary,
            format!("order 1 placed by cart {hash}: 2 units, €50.00")
        );
        assert_eq!(f.changes[0], change("stock of product 1", "3", "1"));
        // Rejected: why, in the API's words.
        through::<CheckoutFold>(&mut m, &line("l2", A, 1, 5), 4);
        let f = through::<CheckoutFold>(
            &mut m,
            &order_shown("o2", A, 3, vec![shown(1, "Lamp", 2500, 5)]),
            5,
        );
        assert_eq!(f.order_id, 0);
        assert!(
            f.summary
                .contains("rejected (out_of_stock): only 1 of “Lamp” left, your cart has 5"),
            "{}",
            f.summary
        );
        assert_eq!(m.stock(1), 1);
    }

    #[test]
    fn cart_ids_never_show_in_the_json() {
        let e = line("k", A, 1, 2);
        let json = AnyEvent::Checkout(e).json();
        assert!(!json.contains(&A.to_string()), "{json}");
        assert!(json.contains(&cart_hash(&A.to_string())), "{json}");
        assert_eq!(cart_hash(&A.to_string()).len(), 10);
    }

    /// An old event's clear cart id is a shopper's credential: neither its JSON nor its facts
    /// show it, and both name the cart as the admin's order list does (by its legacy name), so
    /// the operator sees one cart before and after it moves to an issued cookie.
    #[test]
    fn an_old_events_cart_id_never_shows() {
        let old = CartId(0x1234_5678_9abc_def0);
        let name = legacy_name(old).to_string();
        let mut m = Checkout::default();
        through::<CheckoutFold>(&mut m, &fact(0, upsert(1, "Lamp", "Home", 2500)), 0);
        let e = legacy(line("k", old, 1, 2), old);
        let json = AnyEvent::Checkout(e.clone()).json();
        assert!(!json.contains(&old.to_string()), "{json}");
        assert!(json.contains(&cart_hash(&name)), "{json}");
        let f = through::<CheckoutFold>(&mut m, &e, 1);
        assert_eq!(f.cart, cart_hash(&name));
        assert!(!format!("{f:?}").contains(&old.to_string()));
        let moved = rekey(old, A);
        let json = AnyEvent::Checkout(moved.clone()).json();
        assert!(json.contains(&cart_hash(&name)) && json.contains(&cart_hash(&A.to_string())));
        let f = through::<CheckoutFold>(&mut m, &moved, 2);
        assert_eq!(f.cart, cart_hash(&A.to_string()));
        assert!(f.summary.contains("moved here"), "{}", f.summary);
    }
}
