//! The checkout context's tests, each written given / when / then: the events already in the
//! log (`given()`, catalog facts and deliveries), the commands' events applied, then their
//! outcomes and the model's state. The event builders (`line`, `order_shown`, `stock`, `fact`,
//! `rekey`, ...) are the fixtures other modules' tests use too; the property tests check the
//! fold's contract (a snapshot plus the tail equals a replay from zero, published models never
//! change) and its invariants (stock never oversold) over generated logs.

use imbl::HashMap;
use proptest::prelude::*;
use shared::ids::CartId;
use shared::money;
use shared::proto::{
    CartLineSetV1, CartRekeyedV1, CatalogEvent, CatalogFactV1, ChangedLine, CheckoutEvent,
    CommandMeta, OrderRequestedV1, OrderRequestedV2, RejectionReason, ShownLine, StockDeliveredV1,
    catalog_event, checkout_event::Event,
};

use crate::catalog::fold::tests::{disable, price, upsert};
use crate::checkout::cart_name;
use crate::checkout::fold::{CheckoutFold, admin_command_key, cart_command_key, rekey_command_key};
use crate::checkout::model::{Checkout, Outcome};
use crate::engine::{Applied, Fold};

pub const A: CartId = CartId(0xa);
pub const B: CartId = CartId(0xb);
const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn meta(key: &str) -> Option<CommandMeta> {
    Some(CommandMeta {
        idempotency_key: key.into(),
        fingerprint: 1,
        requested_at_ms: T0,
        record_retention_ms: 0,
    })
}

/// `event` requested at `ms`, its record kept for `retention` (and its cart, if it names
/// one, for `cart_retention`).
fn at(mut event: CheckoutEvent, ms: i64, retention: i64, cart_retention: i64) -> CheckoutEvent {
    if let Some(m) = &mut event.meta {
        m.requested_at_ms = ms;
        m.record_retention_ms = retention;
    }
    match &mut event.event {
        Some(Event::CartLineSetV1(e)) => e.cart_retention_ms = cart_retention,
        Some(Event::OrderRequestedV2(e)) => e.cart_retention_ms = cart_retention,
        _ => {}
    }
    event
}

pub fn shown(product_id: u64, title: &str, minor: i64, quantity: u32) -> ShownLine {
    ShownLine {
        product_id,
        title: title.into(),
        unit_price: Some(money::money(minor, "EUR")),
        quantity,
    }
}

/// An order for the cart as shown: version and lines.
pub fn order_shown(
    key: &str,
    cart: CartId,
    cart_version: u64,
    lines: Vec<ShownLine>,
) -> CheckoutEvent {
    CheckoutEvent {
        event: Some(Event::OrderRequestedV2(OrderRequestedV2 {
            cart_name: cart.to_string(),
            cart_version,
            lines,
            ..Default::default()
        })),
        meta: meta(key),
    }
}

pub fn fact(source_offset: i64, event: CatalogEvent) -> CheckoutEvent {
    let previous_source_offset = source_offset - 1;
    CheckoutEvent {
        event: Some(Event::CatalogFactV1(CatalogFactV1 {
            source_offset,
            event: Some(event),
            previous_source_offset,
        })),
        meta: None,
    }
}

pub fn stock(key: &str, product_id: u64, quantity: u32) -> CheckoutEvent {
    CheckoutEvent {
        event: Some(Event::StockDeliveredV1(StockDeliveredV1 {
            product_id,
            quantity,
        })),
        meta: meta(key),
    }
}

pub fn line(key: &str, cart: CartId, product_id: u64, quantity: u32) -> CheckoutEvent {
    CheckoutEvent {
        event: Some(Event::CartLineSetV1(CartLineSetV1 {
            cart_name: cart.to_string(),
            product_id,
            quantity,
            ..Default::default()
        })),
        meta: meta(key),
    }
}

pub fn order(key: &str, cart: CartId, cart_version: u64) -> CheckoutEvent {
    CheckoutEvent {
        event: Some(Event::OrderRequestedV1(OrderRequestedV1 {
            cart_name: cart.to_string(),
            cart_version,
            ..Default::default()
        })),
        meta: meta(key),
    }
}

/// `event` as written before carts had names: the cart's old id in clear in `cart_id`.
pub fn legacy(mut event: CheckoutEvent, old_id: CartId) -> CheckoutEvent {
    let old_id = old_id.to_string();
    match &mut event.event {
        Some(Event::CartLineSetV1(e)) => (e.cart_id, e.cart_name) = (old_id, String::new()),
        Some(Event::OrderRequestedV1(e)) => (e.cart_id, e.cart_name) = (old_id, String::new()),
        Some(Event::OrderRequestedV2(e)) => (e.cart_id, e.cart_name) = (old_id, String::new()),
        _ => panic!("not a cart event"),
    }
    event
}

/// The move of the legacy cart of `old_id` to the name `to`.
pub fn rekey(old_id: CartId, to: CartId) -> CheckoutEvent {
    CheckoutEvent {
        event: Some(Event::CartRekeyedV1(CartRekeyedV1 {
            from_cart_name: cart_name::legacy_name(old_id).to_string(),
            cart_name: to.to_string(),
        })),
        meta: meta("rekey"),
    }
}

fn fold(events: &[CheckoutEvent]) -> Checkout {
    let mut m = Checkout::default();
    for (i, e) in events.iter().enumerate() {
        CheckoutFold::apply(&mut m, e, i as i64);
    }
    CheckoutFold::finalize(&mut m);
    m
}

fn outcome(m: &Checkout, cart: CartId, key: &str) -> Outcome {
    m.command(&cart_command_key(cart, key))
        .expect("command recorded")
        .outcome
        .clone()
}

fn given() -> Vec<CheckoutEvent> {
    vec![
        fact(0, upsert(1, "Lamp", "Home", 2500)),
        fact(1, upsert(2, "Chair", "Home", 9900)),
        stock("s1", 1, 3),
    ]
}

#[test]
fn an_order_in_stock_is_accepted_and_decrements_stock() {
    let mut events = given();
    events.extend([line("l1", A, 1, 2), order("o1", A, 1)]);
    let m = fold(&events);
    assert_eq!(outcome(&m, A, "o1"), Outcome::OrderPlaced(1));
    assert_eq!(m.stock(1), 1);
    let cart = m.cart(A).unwrap();
    assert!(cart.lines.is_empty());
    assert_eq!(cart.version, 2);
    let o = m.order(1).unwrap();
    assert_eq!(
        (
            o.lines[0].quantity,
            o.lines[0].unit_price_minor,
            o.placed_at_ms
        ),
        (2, 2500, 1_700_000_000_000)
    );
    assert_eq!(m.orders_of(A).count(), 1);
    assert_eq!(m.orders_of(B).count(), 0);
    assert_eq!(m.units_sold(1), 2);
    assert_eq!(m.units_sold(2), 0);
}

#[test]
fn orders_across_carts_page_newest_first_by_id() {
    let mut events = given();
    events.extend([
        stock("s2", 2, 9),
        line("a1", A, 1, 1),
        order("oa", A, 1),
        line("b1", B, 2, 2),
        order("ob", B, 1),
        line("a2", A, 2, 1),
        order("oa2", A, 3),
    ]);
    let m = fold(&events);
    assert_eq!(m.last_order_id(), 3);
    let ids = |skip| {
        m.orders_newest_first(skip)
            .map(|o| (o.id, o.cart))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(0), [(3, A), (2, B), (1, A)]);
    assert_eq!(ids(2), [(1, A)]);
    assert!(ids(3).is_empty() && ids(99).is_empty());
    assert_eq!((m.units_sold(1), m.units_sold(2)), (1, 3));
}

#[test]
fn an_order_beyond_stock_is_rejected_naming_the_line() {
    let mut events = given();
    events.extend([line("l1", A, 1, 5), order("o1", A, 1)]);
    let m = fold(&events);
    let Outcome::OrderRejected(r) = outcome(&m, A, "o1") else {
        panic!("not rejected")
    };
    assert_eq!(
        (r.reason(), r.product_id, r.requested, r.available),
        (RejectionReason::OutOfStockLine, 1, 5, 3)
    );
    assert_eq!(m.stock(1), 3);
    assert_eq!(m.cart(A).unwrap().lines, vec![(1, 5)]);
}

#[test]
fn an_order_for_a_cart_version_not_current_is_rejected() {
    let mut events = given();
    events.extend([line("l1", A, 1, 1), line("l2", A, 2, 1), order("o1", A, 1)]);
    let m = fold(&events);
    let Outcome::OrderRejected(r) = outcome(&m, A, "o1") else {
        panic!("not rejected")
    };
    assert_eq!(
        (r.reason(), r.expected_version, r.current_version),
        (RejectionReason::CartChanged, 1, 2)
    );
}

#[test]
fn empty_carts_and_disabled_products_are_rejected() {
    let mut events = given();
    events.extend([
        order("o0", A, 0),
        line("l1", A, 1, 1),
        fact(2, disable(1)),
        order("o1", A, 1),
    ]);
    let m = fold(&events);
    let Outcome::OrderRejected(r) = outcome(&m, A, "o0") else {
        panic!()
    };
    assert_eq!(r.reason(), RejectionReason::CartEmpty);
    let Outcome::OrderRejected(r) = outcome(&m, A, "o1") else {
        panic!()
    };
    assert_eq!(
        (r.reason(), r.product_id),
        (RejectionReason::ProductUnavailable, 1)
    );
}

#[test]
fn the_same_key_twice_has_one_effect() {
    let mut events = given();
    events.extend([
        line("l1", A, 1, 1),
        order("o1", A, 1),
        line("l2", A, 1, 1),
        order("o1", A, 3),
        stock("s1", 1, 3),
    ]);
    let m = fold(&events);
    assert_eq!(m.orders_of(A).count(), 1);
    assert_eq!(m.stock(1), 2, "the repeated delivery key added nothing");
}

#[test]
fn keys_are_scoped_per_cart() {
    let mut events = given();
    events.extend([line("k", A, 1, 1), line("k", B, 2, 1)]);
    let m = fold(&events);
    assert_eq!(m.cart(A).unwrap().lines, vec![(1, 1)]);
    assert_eq!(m.cart(B).unwrap().lines, vec![(2, 1)]);
}

#[test]
fn lines_for_unknown_products_are_refused_and_change_nothing() {
    let m = fold(&[line("l", A, 42, 1)]);
    assert_eq!(outcome(&m, A, "l"), Outcome::CartLineRefused);
    assert_eq!(m.cart(A).map(|c| c.version), None);
}

#[test]
fn setting_the_same_quantity_keeps_the_version() {
    let mut events = given();
    events.extend([
        line("l1", A, 1, 2),
        line("l2", A, 1, 2),
        line("l3", A, 1, 0),
        line("l4", A, 1, 0),
    ]);
    let m = fold(&events);
    assert_eq!(m.cart(A).unwrap().version, 2);
}

#[test]
fn bridge_copies_count_once_and_prices_follow() {
    let events = [
        fact(0, upsert(1, "Lamp", "Home", 2500)),
        fact(1, price(1, 100)),
        fact(0, upsert(1, "Lamp", "Home", 2500)),
        fact(1, price(1, 100)),
    ];
    let m = fold(&events);
    assert_eq!(m.product(1).unwrap().price_minor, 100);
    assert_eq!(m.bridged_until(), Some(1));
}

#[test]
fn a_copy_after_a_lost_one_waits_for_the_resend() {
    let lost_then_resent = [
        fact(0, upsert(1, "Lamp", "Home", 2500)),
        fact(2, price(1, 300)),
        fact(1, price(1, 100)),
        fact(2, price(1, 300)),
    ];
    let m = fold(&lost_then_resent[..2]);
    assert_eq!(
        (m.bridged_until(), m.product(1).unwrap().price_minor),
        (Some(0), 2500),
        "offset 2 does not skip 1"
    );
    let m = fold(&lost_then_resent);
    assert_eq!(
        (m.bridged_until(), m.product(1).unwrap().price_minor),
        (Some(2), 300)
    );
}

#[test]
fn an_order_as_shown_is_placed_at_the_prices_shown() {
    let mut events = given();
    events.extend([
        line("l1", A, 1, 2),
        order_shown("o1", A, 1, vec![shown(1, "Lamp", 2500, 2)]),
    ]);
    let m = fold(&events);
    assert_eq!(outcome(&m, A, "o1"), Outcome::OrderPlaced(1));
    assert_eq!(m.order(1).unwrap().lines[0].unit_price_minor, 2500);
}

#[test]
fn a_price_changed_since_shown_is_rejected_naming_old_and_new() {
    let mut events = given();
    events.extend([
        stock("s2", 2, 5),
        line("l1", A, 1, 1),
        line("l2", A, 2, 1),
        // The operator reprices the lamp after the shopper saw the cart.
        fact(2, price(1, 99_999_900)),
        order_shown(
            "o1",
            A,
            2,
            vec![shown(2, "Chair", 9900, 1), shown(1, "Lamp", 2500, 1)],
        ),
    ]);
    let m = fold(&events);
    let Outcome::OrderRejected(r) = outcome(&m, A, "o1") else {
        panic!("not rejected")
    };
    assert_eq!(r.reason(), RejectionReason::PriceChanged);
    assert_eq!(
        r.changed_lines,
        vec![ChangedLine {
            product_id: 1,
            shown_title: "Lamp".into(),
            title: "Lamp".into(),
            shown_price: Some(money::money(2500, "EUR")),
            price: Some(money::money(99_999_900, "EUR")),
        }]
    );
    assert_eq!((m.stock(1), m.stock(2), m.counts().1), (3, 5, 0));
    assert_eq!(
        m.cart(A).unwrap().lines.len(),
        2,
        "the cart stays for a new try"
    );
    // Ordering again at the price now shown is accepted and charges it.
    let mut again = events.clone();
    again.push(order_shown(
        "o2",
        A,
        2,
        vec![shown(1, "Lamp", 99_999_900, 1), shown(2, "Chair", 9900, 1)],
    ));
    let m = fold(&again);
    assert_eq!(outcome(&m, A, "o2"), Outcome::OrderPlaced(1));
    assert_eq!(m.order(1).unwrap().lines[0].unit_price_minor, 99_999_900);
}

#[test]
fn a_renamed_product_or_other_lines_than_the_cart_are_rejected() {
    let mut events = given();
    events.extend([
        line("l1", A, 1, 2),
        fact(2, upsert(1, "Lamp XL", "Home", 2500)),
        order_shown("o1", A, 1, vec![shown(1, "Lamp", 2500, 2)]),
        order_shown("o2", A, 1, vec![shown(1, "Lamp XL", 2500, 1)]),
        order_shown("o3", A, 1, vec![]),
        order_shown(
            "o4",
            A,
            1,
            vec![shown(1, "Lamp XL", 2500, 2), shown(1, "Lamp XL", 2500, 2)],
        ),
    ]);
    let m = fold(&events);
    let reason = |key| match outcome(&m, A, key) {
        Outcome::OrderRejected(r) => r.reason(),
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(reason("o1"), RejectionReason::TitleChanged);
    assert_eq!(
        reason("o2"),
        RejectionReason::CartChanged,
        "another quantity"
    );
    assert_eq!(reason("o3"), RejectionReason::CartChanged, "no lines");
    assert_eq!(reason("o4"), RejectionReason::CartChanged, "a line twice");
    assert_eq!(m.stock(1), 3);
}

#[test]
fn removing_a_line_from_no_cart_creates_no_cart() {
    let mut events = given();
    events.extend((0..300u128).map(|c| line(&format!("z{c}"), CartId(0x100 + c), 1, 0)));
    let m = fold(&events);
    assert_eq!(m.counts().0, 0);
}

#[test]
fn a_cart_holds_at_most_the_lines_its_events_allow() {
    let capped = |key: &str, product, max_lines| {
        let mut e = line(key, A, product, 1);
        if let Some(Event::CartLineSetV1(l)) = &mut e.event {
            l.max_lines = max_lines;
        }
        e
    };
    let mut events = given();
    events.extend([capped("l1", 1, 1), capped("l2", 2, 1), capped("l3", 1, 1)]);
    let m = fold(&events);
    assert_eq!(outcome(&m, A, "l2"), Outcome::CartFull(1));
    assert_eq!(
        m.cart(A).unwrap().lines,
        vec![(1, 1)],
        "changing a line in a full cart is fine"
    );
    assert_eq!(m.cart(A).unwrap().version, 1);
}

#[test]
fn carts_and_records_expire_by_log_time_only() {
    let mut events = given();
    events.extend([
        at(line("l1", A, 1, 1), T0, DAY, 30 * DAY),
        at(line("l1", B, 2, 1), T0, DAY, 30 * DAY),
        // B is touched again on day 20: it stays until day 50.
        at(line("l2", B, 2, 2), T0 + 20 * DAY, DAY, 30 * DAY),
    ]);
    let m = fold(&events[..events.len() - 1]);
    assert!(
        m.command(&cart_command_key(A, "l1")).is_some(),
        "within a day"
    );
    let m = fold(&events);
    assert!(
        m.command(&cart_command_key(A, "l1")).is_none(),
        "after a day"
    );
    assert!(m.cart(A).is_some(), "a cart stays 30 days");
    events.push(at(stock("tick", 1, 1), T0 + 30 * DAY, DAY, 0));
    let m = fold(&events);
    assert!(m.cart(A).is_none(), "untouched for 30 days");
    assert_eq!(m.cart(B).unwrap().lines, vec![(2, 2)]);
    assert!(m.command(&cart_command_key(A, "l1")).is_none());
    assert!(m.command(&cart_command_key(B, "l2")).is_none());
    assert_eq!(m.log_time_ms(), T0 + 30 * DAY);
    // A replica whose clock is behind writes an older time: the log's time does not go back.
    events.push(at(line("l3", A, 1, 1), T0, DAY, 30 * DAY));
    let m = fold(&events);
    assert_eq!(m.log_time_ms(), T0 + 30 * DAY);
    assert_eq!(m.cart(A).unwrap().version, 1, "a new cart");
    // The same key after its record expired is a new command.
    events.push(at(stock("tick", 1, 1), T0 + 32 * DAY, DAY, 0));
    assert_eq!(fold(&events).stock(1), 5);
}

#[test]
fn a_replica_far_behind_the_log_writes_entries_that_last_their_full_retention() {
    let mut events = given();
    events.extend([
        at(stock("now", 1, 1), T0 + 10 * DAY, DAY, 0),
        // Written by a replica whose clock is five days behind the log's.
        at(line("late", A, 1, 1), T0 + 5 * DAY, DAY, 2 * DAY),
        at(stock("next", 1, 1), T0 + 10 * DAY + HOUR, DAY, 0),
    ]);
    let m = fold(&events);
    assert!(
        m.command(&cart_command_key(A, "late")).is_some(),
        "its answer is still there"
    );
    assert!(m.cart(A).is_some());
    assert_eq!(m.cart(A).unwrap().expires_at_ms, Some(T0 + 12 * DAY));
}

/// Events written before cart names keep their meaning: the cart of an old id is kept under
/// that id's legacy name (never the id), and nothing of it is found under the id itself.
#[test]
fn old_events_fold_under_the_legacy_name_of_their_cart_id() {
    let old = CartId(0xd);
    let mut events = given();
    events.extend([
        legacy(line("l1", old, 1, 2), old),
        legacy(order("o1", old, 1), old),
    ]);
    let m = fold(&events);
    let name = cart_name::legacy_name(old);
    assert_eq!(outcome(&m, name, "o1"), Outcome::OrderPlaced(1));
    assert_eq!(m.cart(name).unwrap().version, 2);
    assert_eq!(m.orders_of(name).count(), 1);
    assert!(!m.holds_cart(old), "nothing under the old id itself");
    assert!(m.holds_cart(name));
}

/// Moving a legacy cart: its lines, version, deadline and orders go to the new name, the
/// old name keeps nothing, a repeat changes nothing, and later writes by the new name
/// continue the same cart.
#[test]
fn a_rekeying_moves_the_cart_and_its_orders_to_the_new_name() {
    let old = CartId(0xd);
    let from = cart_name::legacy_name(old);
    let mut events = given();
    events.extend([
        at(legacy(line("l1", old, 1, 1), old), T0, DAY, 2 * DAY),
        legacy(order("o1", old, 1), old),
        at(legacy(line("l2", old, 1, 2), old), T0, DAY, 2 * DAY),
        rekey(old, A),
    ]);
    let m = fold(&events);
    assert!(!m.holds_cart(from));
    let cart = m.cart(A).expect("moved");
    assert_eq!((cart.lines.clone(), cart.version), (vec![(1, 2)], 3));
    assert_eq!(cart.expires_at_ms, Some(T0 + 2 * DAY));
    let orders: Vec<_> = m.orders_of(A).map(|o| (o.id, o.cart)).collect();
    assert_eq!(orders, [(1, A)]);
    assert_eq!(
        m.command(&rekey_command_key(A)).map(|r| &r.outcome),
        Some(&Outcome::CartRekeyed)
    );
    // The same move again is a repeat.
    let mut again = events.clone();
    again.push(rekey(old, A));
    assert_eq!(
        CheckoutFold::apply(&mut m.clone(), &rekey(old, A), 99),
        Applied::Ignored("duplicate command")
    );
    // The moved cart goes on by its name, and expires by its own deadline.
    again.push(at(
        order_shown("o2", A, 3, vec![shown(1, "Lamp", 2500, 2)]),
        T0,
        DAY,
        2 * DAY,
    ));
    let m = fold(&again);
    assert_eq!(outcome(&m, A, "o2"), Outcome::OrderPlaced(2));
    assert_eq!(m.orders_of(A).count(), 2);
    let mut later = again.clone();
    later.push(at(stock("tick", 1, 1), T0 + 40 * DAY, DAY, 0));
    let m = fold(&later);
    assert!(m.cart(A).is_none(), "expired");
    assert_eq!(m.orders_of(A).count(), 2, "orders stay");
    assert_eq!(m.cart_deadlines.len(), 0);
}

/// A cart already under the new name (written after an earlier move by a replica of the old
/// version) stays; the orders of both are kept in id order.
#[test]
fn a_rekeying_onto_a_cart_in_use_keeps_that_cart_and_every_order() {
    let old = CartId(0xe);
    let mut events = given();
    events.extend([
        stock("s2", 2, 9),
        legacy(line("l1", old, 2, 1), old),
        legacy(order("o1", old, 1), old),
        line("a1", A, 2, 1),
        order("oa", A, 1),
        legacy(line("l2", old, 1, 1), old),
        rekey(old, A),
    ]);
    let m = fold(&events);
    assert_eq!(m.cart(A).unwrap().version, 2, "A's own cart");
    assert!(m.cart(A).unwrap().lines.is_empty());
    let ids: Vec<u64> = m.orders_of(A).map(|o| o.id).collect();
    assert_eq!(ids, [1, 2]);
    assert!(m.orders_of(A).all(|o| o.cart == A));
    assert!(!m.holds_cart(cart_name::legacy_name(old)));
    assert_eq!(m.cart_deadlines.len(), 0);
}

/// The bounded-state proof: 100,000 anonymous carts, each with a line (real events, as the
/// API writes them), leave nothing behind once the log's time passes the retention: the
/// model's entries and its snapshot are back at the baseline.
#[test]
fn a_hundred_thousand_abandoned_carts_leave_nothing_once_expired() {
    let mut events = given();
    events.push(at(stock("tick", 2, 1), T0, DAY, 0));
    let baseline = fold(&events);
    let (entries, bytes) = (CheckoutFold::entries(&baseline), encoded(&baseline).len());
    let mut m = baseline.clone();
    let mut offset = events.len() as i64;
    for c in 0..100_000u128 {
        let e = at(
            line("k", CartId(0x1_0000 + c), 1, 1),
            T0 + c as i64,
            DAY,
            30 * DAY,
        );
        CheckoutFold::apply(&mut m, &e, offset);
        offset += 1;
    }
    let grown = CheckoutFold::entries(&m);
    assert_eq!(grown[2], ("carts", 100_000));
    assert_eq!(grown[4], ("commands", 100_002));
    let e = at(stock("tick", 2, 1), T0 + 31 * DAY, DAY, 0);
    CheckoutFold::apply(&mut m, &e, offset);
    assert_eq!(CheckoutFold::entries(&m), entries);
    assert_eq!(encoded(&m).len(), bytes);
    // The delivery of `given` (kept for ever, as events before retention) and the last tick.
    assert_eq!((m.cart_deadlines.len(), m.commands.len()), (0, 2));
}

/// Marks a generated catalog change whose chain offsets [`with_products`] fills in; a
/// marker of 0 re-sends the previous copy (the bridge retrying), which must be ignored.
const CHAIN_PLACEHOLDER: i64 = -1_000;

/// Any interleaving of shopper and admin commands and catalog changes (price changes,
/// disables, re-enables) for a few carts and products, some carts written the old way (by
/// their clear id) and moved to a name now and then, some of them onto a cart in use.
pub fn arb_event() -> impl Strategy<Value = CheckoutEvent> {
    let cart = prop::sample::select(vec![A, B, CartId(0xc)]);
    let old = prop::sample::select(vec![CartId(0xd), CartId(0xe)]);
    let key = (0u32..30).prop_map(|k| format!("k{k}"));
    // 0: a re-sent copy; 1..3: the gap to the previous catalog offset the bridge copied.
    let chain = 0i64..3;
    let catalog = prop_oneof![
        (1u64..4).prop_map(disable),
        (1u64..4, 1i64..500).prop_map(|(p, c)| price(p, c)),
        (1u64..4).prop_map(|p| upsert(p, "P", "C", 100 * p as i64)),
    ];
    let event = prop_oneof![
        2 => (key.clone(), 1u64..4, 0u32..6).prop_map(|(k, p, q)| stock(&k, p, q)),
        4 => (key.clone(), cart.clone(), 1u64..5, 0u32..5, prop::sample::select(vec![0u32, 2])).prop_map(|(k, c, p, q, max)| {
            let mut e = line(&k, c, p, q);
            if let Some(Event::CartLineSetV1(l)) = &mut e.event { l.max_lines = max; }
            e
        }),
        2 => (key.clone(), cart.clone(), 0u64..6).prop_map(|(k, c, v)| order(&k, c, v)),
        // As shown (filled in by `with_products`), shown with a stale price, or random.
        3 => (key.clone(), cart, 0u64..3).prop_map(|(k, c, mode)| order_shown(&k, c, FILL_SHOWN - mode, vec![])),
        2 => (chain, catalog).prop_map(|(gap, e)| fact(CHAIN_PLACEHOLDER + gap, e)),
        2 => (key.clone(), old.clone(), 1u64..5, 0u32..5).prop_map(|(k, o, p, q)| legacy(line(&k, o, p, q), o)),
        1 => (key, old.clone(), 0u64..2).prop_map(|(k, o, mode)| legacy(order_shown(&k, o, FILL_SHOWN - mode, vec![]), o)),
        1 => (old, prop::sample::select(vec![A, CartId(0xf)])).prop_map(|(o, to)| rekey(o, to)),
    ];
    // The hours since the previous command, given its place in time by `with_products`.
    (event, 0i64..20).prop_map(|(mut e, hours)| {
        if let Some(m) = &mut e.meta {
            m.requested_at_ms = hours;
        }
        e
    })
}

/// Marks a generated order whose lines [`with_products`] fills in from the cart as it is
/// then: `FILL_SHOWN` as shown, `FILL_SHOWN - 1` with the first line's price as it was
/// before (a stale view), `FILL_SHOWN - 2` left with no lines at version 1.
const FILL_SHOWN: u64 = u64::MAX;

/// Three products first, then `events` with every generated catalog copy given its place
/// in one valid bridge chain (as the bridge writes it), so each of them is applied.
fn with_products(events: Vec<CheckoutEvent>) -> Vec<CheckoutEvent> {
    let mut all: Vec<CheckoutEvent> = (1..4)
        .map(|p| fact(p as i64 - 1, upsert(p, "P", "C", 100 * p as i64)))
        .collect();
    let mut last = 2;
    let mut hours = 0;
    for mut e in events {
        // Time moves on by the generated hours; every third command comes from a replica
        // whose clock is five hours behind. Records are kept a day, carts two.
        if let Some(m) = &mut e.meta {
            // Hand-written events carry a real time (`meta`): they move nothing on.
            hours += if m.requested_at_ms < 1_000 {
                m.requested_at_ms
            } else {
                0
            };
            let behind = if hours % 3 == 0 { 5 } else { 0 };
            m.requested_at_ms = T0 + (hours - behind) * HOUR;
            m.record_retention_ms = DAY;
        }
        match &mut e.event {
            Some(Event::CartLineSetV1(l)) => l.cart_retention_ms = 2 * DAY,
            Some(Event::OrderRequestedV2(o)) => {
                o.cart_retention_ms = 2 * DAY;
                if o.cart_version >= FILL_SHOWN - 1 {
                    let m = fold(&all);
                    let cart =
                        cart_name::named(&o.cart_name, &o.cart_id).expect("a generated cart");
                    let cart = m.cart(cart).cloned().unwrap_or_default();
                    o.lines = cart
                        .lines
                        .iter()
                        .map(|&(p, q)| match m.product(p) {
                            Some(info) => shown(p, &info.title, info.price_minor, q),
                            None => shown(p, "?", 0, q),
                        })
                        .collect();
                    if o.cart_version == FILL_SHOWN - 1
                        && let Some(first) = o.lines.first_mut()
                    {
                        first.unit_price = Some(money::money(-1, "EUR"));
                    }
                    o.cart_version = cart.version;
                } else {
                    o.cart_version = 1;
                }
            }
            _ => {}
        }
        if let Some(Event::CatalogFactV1(f)) = &mut e.event
            && f.previous_source_offset < 0
        {
            let gap = f.source_offset - CHAIN_PLACEHOLDER;
            match all.iter().rev().find_map(|e| match &e.event {
                Some(Event::CatalogFactV1(f)) => Some(f.clone()),
                _ => None,
            }) {
                Some(previous) if gap == 0 => *f = previous,
                _ => {
                    f.previous_source_offset = last;
                    f.source_offset = last + gap.max(1);
                    last = f.source_offset;
                }
            }
        }
        all.push(e);
    }
    all
}

/// The catalog as checkout should know it after `events`, by the bridge's rules and nothing
/// else: each copy applied once, in chain order. (price, enabled) per product.
fn expected_products(
    events: &[CheckoutEvent],
) -> (std::collections::BTreeMap<u64, (i64, bool)>, Option<i64>) {
    let mut products = std::collections::BTreeMap::new();
    let mut until = None;
    for e in events {
        let Some(Event::CatalogFactV1(f)) = &e.event else {
            continue;
        };
        if f.previous_source_offset != until.unwrap_or(-1) {
            continue;
        }
        until = Some(f.source_offset);
        match f.event.as_ref().and_then(|e| e.event.as_ref()) {
            Some(catalog_event::Event::ProductUpsertedV1(u)) => {
                products.insert(u.product_id, (u.price_minor, true));
            }
            Some(catalog_event::Event::PriceChangedV1(c)) => {
                if let Some(p) = products.get_mut(&c.product_id) {
                    p.0 = c.price_minor;
                }
            }
            Some(catalog_event::Event::ProductDisabledV1(d)) => {
                if let Some(p) = products.get_mut(&d.product_id) {
                    p.1 = false;
                }
            }
            None => {}
        }
    }
    (products, until)
}

/// Every catalog copy of `events` reached the model: the chain's end and each product's
/// price and availability are what [`expected_products`] says.
fn assert_catalog_applied(m: &Checkout, events: &[CheckoutEvent]) -> Result<(), TestCaseError> {
    let (products, until) = expected_products(events);
    let copies = events
        .iter()
        .filter(|e| matches!(e.event, Some(Event::CatalogFactV1(_))))
        .count();
    prop_assert!(until.is_some() || copies == 0);
    prop_assert_eq!(m.bridged_until(), until);
    let got: std::collections::BTreeMap<u64, (i64, bool)> = m
        .products
        .iter()
        .map(|(id, p)| (id, (p.price_minor, p.enabled)))
        .collect();
    prop_assert_eq!(got, products);
    Ok(())
}

#[test]
fn generated_chains_reach_every_catalog_change() {
    // The generator's own proof: chains are valid, so disables and price changes apply.
    let events = with_products(vec![
        fact(CHAIN_PLACEHOLDER + 1, disable(2)),
        fact(CHAIN_PLACEHOLDER, disable(2)),
        fact(CHAIN_PLACEHOLDER + 2, price(1, 7)),
        fact(CHAIN_PLACEHOLDER + 1, upsert(2, "P", "C", 200)),
        fact(CHAIN_PLACEHOLDER + 1, disable(3)),
    ]);
    let m = fold(&events);
    assert_eq!(m.bridged_until(), Some(7));
    let seen: Vec<(i64, bool)> = (1..4)
        .map(|p| m.product(p).map(|p| (p.price_minor, p.enabled)).unwrap())
        .collect();
    assert_eq!(seen, vec![(7, true), (200, true), (300, false)]);
    assert_catalog_applied(&m, &events).unwrap();
}

#[test]
fn generated_orders_as_shown_are_placed_and_stale_ones_rejected() {
    // The generator's own proof that orders as shown reach the accepting path.
    let events = with_products(vec![
        stock("s", 1, 5),
        line("l", A, 1, 1),
        order_shown("stale", A, FILL_SHOWN - 1, vec![]),
        order_shown("shown", A, FILL_SHOWN, vec![]),
    ]);
    let m = fold(&events);
    assert!(
        matches!(outcome(&m, A, "stale"), Outcome::OrderRejected(r) if r.reason() == RejectionReason::PriceChanged)
    );
    assert_eq!(outcome(&m, A, "shown"), Outcome::OrderPlaced(1));
}

fn encoded(m: &Checkout) -> Vec<u8> {
    crate::engine::snapshot::encode::<CheckoutFold>(m)
}

proptest! {
    #[test]
    fn snapshot_and_tail_equal_a_replay_from_zero(events in prop::collection::vec(arb_event(), 0..120), cut in 0usize..130) {
        let events = with_products(events);
        let cut = cut.min(events.len());
        let full = fold(&events);
        let at_cut = fold(&events[..cut]);
        let bytes = encoded(&at_cut);
        let mut loaded = crate::engine::snapshot::decode::<CheckoutFold>(&bytes).unwrap();
        prop_assert_eq!(encoded(&loaded), bytes, "decode then encode is the identity");
        prop_assert_eq!(format!("{:?}", sorted_model(&loaded)), format!("{:?}", sorted_model(&at_cut)));
        for (i, e) in events[cut..].iter().enumerate() {
            CheckoutFold::apply(&mut loaded, e, (cut + i) as i64);
        }
        CheckoutFold::finalize(&mut loaded);
        prop_assert_eq!(encoded(&loaded), encoded(&full));
        prop_assert_eq!(format!("{:?}", sorted_model(&loaded)), format!("{:?}", sorted_model(&full)));
        for p in 0..6u64 {
            prop_assert_eq!(loaded.units_sold(p), full.units_sold(p), "units sold of {} (derived on load)", p);
        }
        assert_catalog_applied(&full, &events)?;
        assert_catalog_applied(&at_cut, &events[..cut])?;
    }

    #[test]
    fn stock_never_goes_negative_nor_oversells(events in prop::collection::vec(arb_event(), 0..120)) {
        let events = with_products(events);
        let mut m = Checkout::default();
        let mut delivered = std::collections::HashMap::<u64, u64>::new();
        for (i, e) in events.iter().enumerate() {
            CheckoutFold::apply(&mut m, e, i as i64);
            // A delivery took effect if its record was written by this event (a record
            // that expired meanwhile lets the same key take effect again).
            if let Some(Event::StockDeliveredV1(d)) = &e.event
                && m.command(&admin_command_key(&e.meta.as_ref().unwrap().idempotency_key)).is_some_and(|r| r.offset == i as i64) {
                *delivered.entry(d.product_id).or_default() += u64::from(d.quantity);
            }
        }
        for p in 1..5u64 {
            let sold: u64 = (1..=m.counts().1 as u64)
                .filter_map(|id| m.order(id))
                .flat_map(|o| o.lines.iter())
                .filter(|l| l.product_id == p)
                .map(|l| u64::from(l.quantity))
                .sum();
            let got = delivered.get(&p).copied().unwrap_or(0);
            prop_assert!(sold <= got, "product {} sold {} of {}", p, sold, got);
            prop_assert_eq!(m.stock(p), got - sold);
            prop_assert_eq!(m.units_sold(p), sold);
        }
        assert_catalog_applied(&m, &events)?;
        // An accepted order only holds products that were sellable when it was decided.
        let mut sellable = std::collections::BTreeMap::new();
        let mut seen = 0;
        for (i, e) in events.iter().enumerate() {
            if let Some(Event::OrderRequestedV1(_) | Event::OrderRequestedV2(_)) = &e.event {
                let placed = fold(&events[..=i]).counts().1;
                if placed > seen {
                    seen = placed;
                    let order = m.order(placed as u64).expect("placed order");
                    for l in &order.lines {
                        prop_assert_eq!(sellable.get(&l.product_id).copied(), Some(l.unit_price_minor), "order {} line {}", order.id, l.product_id);
                    }
                    // An order for the cart as shown charges exactly what was shown.
                    if let Some(Event::OrderRequestedV2(o)) = &e.event {
                        let mut charged: Vec<ShownLine> = order.lines.iter()
                            .map(|l| shown(l.product_id, &l.title, l.unit_price_minor, l.quantity))
                            .collect();
                        let mut named = o.lines.clone();
                        charged.sort_by_key(|l| l.product_id);
                        named.sort_by_key(|l| l.product_id);
                        prop_assert_eq!(charged, named);
                    }
                }
            }
            sellable = expected_products(&events[..=i]).0.into_iter()
                .filter(|(_, (_, enabled))| *enabled)
                .map(|(id, (price, _))| (id, price))
                .collect();
        }
    }

    /// Checkout has no batch mode (its replay is the same `apply`); what the engine relies
    /// on is that a published model (a clone sharing structure) never sees a later apply.
    #[test]
    fn published_models_never_change(events in prop::collection::vec(arb_event(), 0..120), publish_every in 1usize..10) {
        let events = with_products(events);
        let mut live = Checkout::default();
        CheckoutFold::finalize(&mut live);
        let mut published = Vec::new();
        for (i, e) in events.iter().enumerate() {
            CheckoutFold::apply(&mut live, e, i as i64);
            if i % publish_every == 0 { published.push((i, live.clone())); }
        }
        for (i, model) in &published {
            prop_assert_eq!(format!("{:?}", sorted_model(model)), format!("{:?}", sorted_model(&fold(&events[..=*i]))), "published after event {}", i);
        }
        prop_assert_eq!(format!("{:?}", sorted_model(&live)), format!("{:?}", sorted_model(&fold(&events))));
        assert_catalog_applied(&live, &events)?;
    }
}

/// The model with hash maps in key order, so two models compare by content.
fn sorted_model(m: &Checkout) -> impl std::fmt::Debug {
    fn s<K: Ord + Clone, V: Clone>(h: &HashMap<K, V>) -> Vec<(K, V)> {
        let mut v: Vec<(K, V)> = h.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
    (
        m.products
            .iter()
            .map(|(k, v)| (k, v.clone()))
            .collect::<Vec<_>>(),
        m.bridged_until,
        m.stock.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(),
        s(&m.carts),
        s(&m.orders),
        s(&m.orders_by_cart),
        m.last_order_id,
        m.commands
            .sorted()
            .into_iter()
            .map(|(k, r)| (k.to_owned(), r.clone()))
            .collect::<Vec<_>>(),
        m.clock,
        m.cart_deadlines.len(),
    )
}
