//! The cart cookie against the real `shop` binary on the local broker: a cart written the old
//! way (its clear id in the log, a 32-digit cookie) still opens with its old cookie and moves
//! to a server-issued one, after which the old cookie opens nothing; a cookie one replica
//! issued opens the cart on another, whatever that one has applied.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use prost::Message;
use shared::proto::{
    CartLineSetV1, CheckoutEvent, CommandMeta, OrderRequestedV1, StockDeliveredV1,
    checkout_event::Event,
};

use support::{Backend, Broker, Shopper, eventually};

const CHECKOUT: &str = "shop.checkout.v1";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn meta(key: &str, at: i64) -> Option<CommandMeta> {
    Some(CommandMeta {
        idempotency_key: key.into(),
        fingerprint: 7,
        requested_at_ms: at,
        record_retention_ms: 86_400_000,
    })
}

/// A cart line as the shop wrote it before carts had names: the cookie itself in `cart_id`.
fn old_line(cart_id: &str, key: &str, product_id: u64, quantity: u32) -> Vec<u8> {
    CheckoutEvent {
        event: Some(Event::CartLineSetV1(CartLineSetV1 {
            cart_id: cart_id.into(),
            product_id,
            quantity,
            cart_retention_ms: 30 * 86_400_000,
            max_lines: 100,
            ..Default::default()
        })),
        meta: meta(key, now_ms()),
    }
    .encode_to_vec()
}

fn old_order(cart_id: &str, key: &str, cart_version: u64) -> Vec<u8> {
    CheckoutEvent {
        event: Some(Event::OrderRequestedV1(OrderRequestedV1 {
            cart_id: cart_id.into(),
            cart_version,
            ..Default::default()
        })),
        meta: meta(key, now_ms()),
    }
    .encode_to_vec()
}

/// `GET path` with exactly this cookie (no cookie jar): the answer.
async fn get_with(addr: std::net::SocketAddr, cookie: &str, path: &str) -> support::Reply {
    let mut s = Shopper::new(addr);
    s.cookie = Some(format!("cart={cookie}"));
    s.get(path).await.expect(StatusCode::OK)
}

fn set_cookie(r: &support::Reply) -> Option<String> {
    let v = r.headers.get("set-cookie")?.to_str().ok()?;
    Some(v.split(';').next()?.trim_start_matches("cart=").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_written_the_old_way_opens_with_its_old_cookie_then_moves_to_an_issued_one() {
    let broker = Broker::start().await;
    let shop = Backend::start(&broker.brokers(), &[]).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Lamp", "Home", 2500, 5).await;
    // The product has reached checkout once a shopper can put it in a cart.
    let probe = Shopper::new(shop.addr);
    support::until_ok(Duration::from_secs(20), "the lamp for sale", || {
        let mut probe = probe.clone();
        async move { probe.set_line(1, 1, "probe").await }
    })
    .await;

    // Written by the old version: a line, an order of it, another line.
    let old = "00112233445566778899aabbccddeeff";
    let brokers = broker.brokers();
    for payload in [
        old_line(old, "old-1", 1, 1),
        old_order(old, "old-2", 1),
        old_line(old, "old-3", 1, 2),
    ] {
        support::produce(&brokers, CHECKOUT, old.as_bytes(), &payload).await;
    }

    // The old cookie opens its cart, and is moved to an issued cookie on the way.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let moved = loop {
        let r = get_with(shop.addr, old, "/api/cart").await;
        if r.json()["lines"][0]["quantity"] == 2 && r.json()["version"] == "3" {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the old cart never opened: {}",
            r.json()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let new_cookie = set_cookie(&moved).expect("the old cookie moved to a new one");
    assert_eq!(new_cookie.len(), 64, "an issued cookie: {new_cookie}");
    assert_ne!(new_cookie, old);

    // The new cookie opens the cart and the order placed with the old one, and writes go on.
    let orders = get_with(shop.addr, &new_cookie, "/api/orders").await.json();
    let order_id = orders["orders"][0]["id"]
        .as_str()
        .expect("the old order")
        .to_owned();
    get_with(shop.addr, &new_cookie, &format!("/api/orders/{order_id}")).await;
    let mut shopper = Shopper::new(shop.addr);
    shopper.cookie = Some(format!("cart={new_cookie}"));
    let r = shopper
        .set_line(1, 3, "after-move")
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json()["version"], "4");
    assert!(set_cookie(&r).is_none(), "the issued cookie stays");

    // Moments after the move the old cookie is handed the same new cookie (a request that left
    // before the move), never another cart.
    let again = get_with(shop.addr, old, "/api/cart").await;
    assert_eq!(set_cookie(&again).as_deref(), Some(new_cookie.as_str()));
    assert_eq!(again.json()["version"], "4");

    // The move named the cart by values that open nothing: the old id is in no new event.
    let log = support::read_log(&brokers, CHECKOUT).await;
    let rekeys: Vec<CheckoutEvent> = log
        .iter()
        .filter_map(|p| CheckoutEvent::decode(p.as_slice()).ok())
        .filter(|e| matches!(e.event, Some(Event::CartRekeyedV1(_))))
        .collect();
    assert_eq!(rekeys.len(), 1, "one move");
    let with_old_id = log
        .iter()
        .filter(|p| p.windows(old.len()).any(|w| w == old.as_bytes()))
        .count();
    assert_eq!(
        with_old_id, 3,
        "only the three events of the old version carry the old id"
    );

    // Once the log's time has passed the grace, the old cookie opens nothing.
    let tick = CheckoutEvent {
        event: Some(Event::StockDeliveredV1(StockDeliveredV1 {
            product_id: 1,
            quantity: 1,
        })),
        meta: meta("tick", now_ms() + 2 * 3_600_000),
    };
    support::produce(&brokers, CHECKOUT, b"tick", &tick.encode_to_vec()).await;
    eventually(Duration::from_secs(20), "the delivery applied", || async {
        let p = Shopper::new(shop.addr).get("/api/products/1").await.json();
        p["availability"]["available"] == "5"
    })
    .await;
    let late = get_with(shop.addr, old, "/api/cart").await;
    assert_eq!(late.json(), serde_json::json!({}), "an empty cart");
    assert_ne!(set_cookie(&late).as_deref(), Some(new_cookie.as_str()));
    let late = get_with(shop.addr, old, "/api/orders").await;
    assert_eq!(late.json(), serde_json::json!({}), "no orders");
    // The issued cookie still opens both.
    assert_eq!(
        get_with(shop.addr, &new_cookie, "/api/cart").await.json()["version"],
        "4"
    );
    assert_eq!(
        get_with(shop.addr, &new_cookie, "/api/orders").await.json()["orders"][0]["id"],
        order_id.as_str()
    );
}

/// A cookie is checked by its MAC alone: one replica issues it (a read, which writes nothing),
/// another accepts it for a write without ever having seen it, and the first then shows the cart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_one_replica_issued_opens_the_cart_on_another() {
    let broker = Broker::start().await;
    let a = Backend::start(&broker.brokers(), &[]).await;
    let b = Backend::start(&broker.brokers(), &[]).await;
    Shopper::new(a.addr)
        .add_product(1, "Lamp", "Home", 2500, 5)
        .await;
    let mut shopper = Shopper::new(a.addr);
    let first = shopper.get("/api/cart").await.expect(StatusCode::OK);
    let cookie = set_cookie(&first).expect("a cookie for a new cart");
    let on_b = shopper.via(b.addr);
    let r = support::until_ok(Duration::from_secs(20), "a line through b", || {
        let mut on_b = on_b.clone();
        async move { on_b.set_line(1, 2, "line-b").await }
    })
    .await;
    assert!(set_cookie(&r).is_none(), "b kept the cookie a issued");
    eventually(Duration::from_secs(20), "a shows the line", || async {
        get_with(a.addr, &cookie, "/api/cart").await.json()["lines"][0]["quantity"] == 2
    })
    .await;
}
