//! Change detection, frames and the socket, from events to what a client receives.

use super::changes::*;
use super::frames::*;
use std::collections::HashSet;

use shared::proto::{CheckoutEvent, LiveFrame, ProductLive, live_frame::Frame};
use tokio::sync::broadcast;

use crate::catalog::{Catalog, CatalogFold};
use crate::checkout::fold::cart_command_key;
use crate::checkout::query::{cart_view, order_view};
use crate::checkout::{Checkout, CheckoutFold};
use crate::engine::{Applied, Observer};

use crate::catalog::fold::tests::{disable, price as price_event, upsert};
use crate::checkout::fold::tests::{A, B, fact, line, order, stock};
use crate::engine::Fold;
use shared::proto::{RejectionReason, StockStatus};

/// Applies checkout events in order and returns what each touched.
fn apply_all(m: &mut Checkout, from: i64, events: &[CheckoutEvent]) -> Vec<Vec<Touched>> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut t = Vec::new();
            if CheckoutFold::apply(m, e, from + i as i64) == Applied::Changed {
                touched(e, m, &mut t);
            }
            t
        })
        .collect()
}

fn shop() -> (Catalog, Checkout) {
    let catalog_events = [
        upsert(1, "Lamp", "Home", 2500),
        upsert(2, "Chair", "Home", 9900),
    ];
    let mut catalog = Catalog::default();
    let mut checkout = Checkout::default();
    for (i, e) in catalog_events.iter().enumerate() {
        CatalogFold::apply(&mut catalog, e, i as i64);
        CheckoutFold::apply(&mut checkout, &fact(i as i64, e.clone()), i as i64);
    }
    CatalogFold::finalize(&mut catalog);
    (catalog, checkout)
}

#[test]
fn each_event_kind_touches_what_it_changes() {
    let (_, mut m) = shop();
    let touched = apply_all(
        &mut m,
        2,
        &[
            fact(2, price_event(1, 2000)),
            fact(3, disable(2)),
            fact(4, upsert(3, "Desk", "Office", 100)),
            stock("s1", 1, 5),
            line("l1", A, 1, 2),
            order("o1", A, 1),
            order("o2", A, 1),
        ],
    );
    let placed = OrderDecided {
        cart: A,
        key: cart_command_key(A, "o1"),
        cart_version: 1,
    };
    let rejected = OrderDecided {
        cart: A,
        key: cart_command_key(A, "o2"),
        cart_version: 1,
    };
    assert_eq!(
        touched,
        vec![
            vec![Touched::Product(1)],
            vec![Touched::Product(2)],
            vec![Touched::Product(3)],
            vec![Touched::Product(1)],
            vec![Touched::Cart(A)],
            vec![
                Touched::Cart(A),
                Touched::Product(1),
                Touched::Order(placed)
            ],
            vec![Touched::Order(rejected)],
        ]
    );
}

#[test]
fn events_that_change_nothing_touch_nothing() {
    let (_, mut m) = shop();
    apply_all(&mut m, 2, &[stock("s1", 1, 5), line("l1", A, 1, 2)]);
    let mut collector = Collector {
        live: false,
        touched: vec![],
        catalog_offset: None,
        batches: broadcast::channel(4).0,
    };
    let mut rx = collector.batches.subscribe();
    let replayed = stock("s0", 2, 1);
    CheckoutFold::apply(&mut m, &replayed, 4);
    collector.event(4, Some((&replayed, Applied::Changed)), &m);
    collector.published(5, true);
    assert!(rx.try_recv().is_err(), "the replay is not announced");

    // A duplicate command and an out-of-chain copy are ignored by the fold.
    for (offset, e) in [(5, stock("s1", 1, 5)), (6, fact(0, disable(1)))] {
        let applied = CheckoutFold::apply(&mut m, &e, offset);
        assert!(matches!(applied, Applied::Ignored(_)));
        collector.event(offset, Some((&e, applied)), &m);
    }
    collector.event(7, None, &m);
    collector.published(8, false);
    assert!(rx.try_recv().is_err(), "nothing touched, nothing announced");

    let e = fact(2, price_event(2, 500));
    let applied = CheckoutFold::apply(&mut m, &e, 8);
    collector.event(8, Some((&e, applied)), &m);
    let e = line("l2", B, 1, 1);
    let applied = CheckoutFold::apply(&mut m, &e, 9);
    collector.event(9, Some((&e, applied)), &m);
    collector.published(10, false);
    let batch = rx.try_recv().expect("announced");
    assert_eq!(
        *batch,
        Batch {
            products: vec![2],
            carts: vec![B],
            orders: vec![],
            catalog_offset: Some(2),
        }
    );
}

#[test]
fn a_batch_is_sorted_and_deduplicated() {
    let b = Batch::new(
        [
            Touched::Product(5),
            Touched::Cart(B),
            Touched::Product(1),
            Touched::Product(5),
            Touched::Cart(A),
            Touched::Cart(B),
        ],
        None,
    );
    assert_eq!((b.products, b.carts), (vec![1, 5], vec![A, B]));
}

fn product_frame(f: &LiveFrame) -> &ProductLive {
    match &f.frame {
        Some(Frame::Product(p)) => p,
        other => panic!("not a product frame: {other:?}"),
    }
}

#[test]
fn product_frames_agree_with_the_product_view() {
    let (mut catalog, mut checkout) = shop();
    CheckoutFold::apply(&mut checkout, &stock("s", 1, 3), 2);
    let p = product_live(&catalog, &checkout, 1, 5).unwrap();
    let view = crate::catalog::query::product_view(catalog.product(1).unwrap(), &checkout, 5);
    assert_eq!(
        (&p.price, &p.availability),
        (&view.price, &view.availability)
    );
    assert_eq!(p.availability.unwrap().status(), StockStatus::LowStock);
    assert!(p.for_sale);

    CatalogFold::apply(&mut catalog, &disable(1), 2);
    let p = product_live(&catalog, &checkout, 1, 5).unwrap();
    assert!(!p.for_sale, "a disabled product is shown as not for sale");
    assert_eq!(product_live(&catalog, &checkout, 99, 5), None);
}

#[test]
fn a_socket_gets_frames_for_its_watched_products_and_its_own_cart() {
    let (catalog, mut checkout) = shop();
    let touched = apply_all(
        &mut checkout,
        2,
        &[
            stock("s1", 1, 10),
            stock("s2", 2, 10),
            line("a1", A, 2, 1),
            line("b1", B, 1, 1),
            order("ob", B, 1),
        ],
    );
    let batch = Batch::new(touched.into_iter().flatten(), None);
    let watched: HashSet<u64> = [1, 7].into();
    let frames = frames_for(&batch, &watched, Some(A), &catalog, &checkout, 5);
    // Product 1 (watched), nothing for B's order, A's cart because it holds product 2.
    assert_eq!(frames.len(), 2, "{frames:?}");
    let p = product_frame(&frames[0]);
    assert_eq!(
        (p.product_id, p.availability.as_ref().unwrap().available),
        (1, 9),
        "B's order took one"
    );
    match &frames[1].frame {
        Some(Frame::Cart(c)) => assert_eq!(
            *c,
            cart_view(&checkout, A, 5).unwrap(),
            "the cart read's view"
        ),
        other => panic!("not a cart frame: {other:?}"),
    }

    let frames = frames_for(&batch, &watched, Some(B), &catalog, &checkout, 5);
    let kinds: Vec<_> = frames.iter().map(kind).collect();
    assert_eq!(kinds, vec!["product", "order_placed", "cart"]);
    match &frames[1].frame {
        Some(Frame::OrderPlaced(o)) => {
            assert_eq!(*o, order_view(checkout.order(o.id).unwrap()))
        }
        other => panic!("not an order: {other:?}"),
    }

    let frames = frames_for(&batch, &HashSet::new(), None, &catalog, &checkout, 5);
    assert!(frames.is_empty(), "no cookie, nothing watched: {frames:?}");
}

#[test]
fn a_rejected_order_frame_names_the_reason_and_the_version_seen() {
    let (catalog, mut checkout) = shop();
    let touched = apply_all(&mut checkout, 2, &[line("a1", A, 1, 2), order("o1", A, 1)]);
    let batch = Batch::new(touched.into_iter().flatten(), None);
    let frames = frames_for(&batch, &HashSet::new(), Some(A), &catalog, &checkout, 5);
    assert_eq!(frames.len(), 2, "the cart (its line) and the rejection");
    match &frames[0].frame {
        Some(Frame::OrderRejected(r)) => {
            assert_eq!(r.cart_version, 1);
            let rejection = r.rejection.as_ref().unwrap();
            assert_eq!(rejection.reason(), RejectionReason::OutOfStockLine);
            assert_eq!((rejection.product_id, rejection.available), (1, 0));
        }
        other => panic!("not a rejection: {other:?}"),
    }
}
