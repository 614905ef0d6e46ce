//! End-to-end tests: the real `shop` binary as child processes against the real local broker
//! (tansu) on spare ports — restarts, two replicas racing for the last units, broker loss.

mod support;

use std::time::Duration;

use futures_util::future::join_all;
use http::{Method, StatusCode};
use support::{Backend, Broker, Reply, Shopper, eventually, log_size, until_ok};

/// The views a shopper and an operator can see, as raw bodies.
async fn snapshot(s: &mut Shopper) -> Vec<(String, bytes::Bytes)> {
    let mut out = vec![];
    for p in [
        "/api/products?page_size=100",
        "/api/products?sort=price&order=desc&page_size=7&page=2",
        "/api/products?q=lamp",
        "/api/categories",
        "/api/cart",
        "/api/orders",
        "/api/products/3",
    ] {
        out.push((p.to_owned(), s.get(p).await.expect(StatusCode::OK).body));
    }
    out
}

async fn fill(admin: &mut Shopper, shopper: &mut Shopper) {
    for id in 1..=24u64 {
        let title = format!(
            "{} {}",
            ["Desk", "Floor", "Wall"][id as usize % 3],
            ["lamp", "chair", "shelf", "rug"][id as usize % 4]
        );
        admin
            .add_product(
                id,
                &title,
                ["Home", "Office", "Garden"][id as usize % 3],
                199 * id as i64,
                (id % 5) as u32 * 2,
            )
            .await;
    }
    admin
        .admin(
            Method::PUT,
            "/api/admin/products/5/price",
            "px",
            serde_json::json!({"priceMinor": 1}),
        )
        .await
        .expect(StatusCode::OK);
    admin
        .admin(
            Method::DELETE,
            "/api/admin/products/6",
            "dx",
            serde_json::json!({}),
        )
        .await
        .expect(StatusCode::OK);
    shopper.set_line(3, 2, "l1").await.expect(StatusCode::OK);
    shopper.set_line(4, 1, "l2").await.expect(StatusCode::OK);
    shopper
        .place_order(2, "o1")
        .await
        .expect(StatusCode::CREATED);
    shopper.set_line(8, 1, "l3").await.expect(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_backend_shows_exactly_the_same_state() {
    let broker = Broker::start().await;
    let backend = Backend::start(&broker.brokers(), &[]).await;
    let mut admin = Shopper::new(backend.addr);
    let mut shopper = Shopper::new(backend.addr);
    fill(&mut admin, &mut shopper).await;
    let before = snapshot(&mut shopper).await;
    let checkout_log = log_size(&broker, "shop.checkout.v1");

    backend.terminate();
    let backend = Backend::start(&broker.brokers(), &[]).await;
    let mut shopper = shopper.via(backend.addr);
    assert_eq!(
        snapshot(&mut shopper).await,
        before,
        "state after a graceful restart"
    );
    assert_eq!(
        log_size(&broker, "shop.checkout.v1"),
        checkout_log,
        "the bridge resumed after its last copy: nothing copied twice"
    );

    // The harshest stop loses nothing that was acknowledged either.
    shopper
        .set_line(9, 3, "after-restart")
        .await
        .expect(StatusCode::OK);
    let before = snapshot(&mut shopper).await;
    backend.kill();
    let backend = Backend::start(&broker.brokers(), &[]).await;
    let mut shopper = shopper.via(backend.addr);
    assert_eq!(
        snapshot(&mut shopper).await,
        before,
        "state after SIGKILL and restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_racing_for_the_last_units_never_oversell_and_converge() {
    let broker = Broker::start().await;
    let a = Backend::start(&broker.brokers(), &[]).await;
    let b = Backend::start(&broker.brokers(), &[]).await;
    let mut admin = Shopper::new(a.addr);
    admin.add_product(1, "Last lamp", "Home", 4900, 5).await;
    let on_b = Shopper::new(b.addr);
    eventually(Duration::from_secs(10), "replica B sees the stock", || {
        let mut s = on_b.clone();
        async move { s.get("/api/products/1").await.json()["availability"]["available"] == "5" }
    })
    .await;

    // Twelve shoppers, alternating replicas, each wants one of the five units.
    let mut shoppers = vec![];
    for i in 0..12 {
        let mut s = Shopper::new(if i % 2 == 0 { a.addr } else { b.addr });
        s.set_line(1, 1, "line").await.expect(StatusCode::OK);
        shoppers.push(s);
    }
    let replies = join_all(
        shoppers
            .iter_mut()
            .map(|s| async move { s.place_order(1, "order").await }),
    )
    .await;
    let accepted: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    let rejected: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .collect();
    assert_eq!(
        (accepted.len(), rejected.len()),
        (5, 7),
        "every shopper gets an answer; exactly the stock is sold"
    );
    for r in &rejected {
        assert_eq!(r.json()["code"], "out_of_stock");
    }

    // Both replicas converge on the same state: stock 0, the same orders for the same carts.
    for addr in [a.addr, b.addr] {
        let s = Shopper::new(addr);
        eventually(Duration::from_secs(10), "stock 0 on every replica", || {
            let mut s = s.clone();
            async move {
                s.get("/api/products/1").await.json()["availability"]["status"] == "OUT_OF_STOCK"
            }
        })
        .await;
    }
    for (s, reply) in shoppers.iter().zip(&replies) {
        let (mut on_a, mut on_b) = (s.via(a.addr), s.via(b.addr));
        eventually(
            Duration::from_secs(10),
            "both replicas show the shopper the same orders and cart",
            || {
                let (mut x, mut y) = (on_a.clone(), on_b.clone());
                async move {
                    x.get("/api/orders").await.body == y.get("/api/orders").await.body
                        && x.get("/api/cart").await.body == y.get("/api/cart").await.body
                }
            },
        )
        .await;
        if reply.status == StatusCode::CREATED {
            let id = reply.json()["id"].as_str().unwrap().to_owned();
            assert_eq!(
                on_b.get(&format!("/api/orders/{id}"))
                    .await
                    .expect(StatusCode::OK)
                    .json(),
                reply.json()
            );
            assert_eq!(
                on_a.get(&format!("/api/orders/{id}"))
                    .await
                    .expect(StatusCode::OK)
                    .json(),
                reply.json()
            );
        }
    }
}

/// A broker, a backend with the given settings, a product, and a shopper with one unit of it in
/// the cart (cart version 1).
async fn a_cart_with_one_lamp(env: &[(&str, &str)]) -> (Broker, Backend, Shopper) {
    let broker = Broker::start().await;
    let backend = Backend::start(&broker.brokers(), env).await;
    let mut admin = Shopper::new(backend.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 10).await;
    let mut shopper = Shopper::new(backend.addr);
    shopper
        .set_line(1, 1, "before")
        .await
        .expect(StatusCode::OK);
    (broker, backend, shopper)
}

/// Five more units of the lamp, under the given idempotency key. A delivery adds, so a key
/// applied twice would show as ten.
async fn deliver_five(s: &mut Shopper, key: &str) -> Reply {
    let body = serde_json::json!({"productId": "1", "quantity": 5});
    s.admin(Method::POST, "/api/admin/stock", key, body).await
}

async fn lamps_available(s: &mut Shopper) -> serde_json::Value {
    s.get("/api/products/1").await.expect(StatusCode::OK).json()["availability"]["available"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_a_broker_outage_and_commands_recover() {
    let (mut broker, backend, mut shopper) = a_cart_with_one_lamp(&[]).await;

    broker.kill();
    let r = shopper.set_line(1, 2, "during").await;
    let r = if r.status == StatusCode::SERVICE_UNAVAILABLE {
        r
    } else {
        // The very first command may still be in flight when the connection drops; the next fails fast.
        shopper.set_line(1, 2, "during").await
    };
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("same Idempotency-Key")
    );
    // Reads go on from memory.
    assert_eq!(
        shopper
            .get("/api/products/1")
            .await
            .expect(StatusCode::OK)
            .json()["title"],
        "Desk lamp"
    );
    assert_eq!(
        shopper.get("/api/cart").await.expect(StatusCode::OK).json()["version"],
        "1"
    );
    let ready = shopper.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&ready.body).contains("unreachable"));
    deliver_five(&mut shopper, "delivery-during")
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE);

    broker.restart().await;
    let mut s = shopper.clone();
    until_ok(Duration::from_secs(30), "the retried command", || {
        let mut s = s.clone();
        async move { s.set_line(1, 2, "during").await }
    })
    .await;
    until_ok(Duration::from_secs(30), "the retried delivery", || {
        let mut s = s.clone();
        async move { deliver_five(&mut s, "delivery-during").await }
    })
    .await;
    // Retried again after a later change: answered, and the later change stands (a second
    // effect of the key would set the line back to 2).
    s.set_line(1, 3, "after").await.expect(StatusCode::OK);
    let retried = s
        .set_line(1, 2, "during")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (
            retried["version"].as_str(),
            retried["lines"][0]["quantity"].as_u64()
        ),
        (Some("3"), Some(3)),
        "{retried}"
    );
    deliver_five(&mut s, "delivery-during")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        lamps_available(&mut s).await,
        "15",
        "one effect for the retried delivery"
    );
    let cart = s.get("/api/cart").await.json();
    assert_eq!(
        (
            cart["version"].as_str(),
            cart["lines"][0]["quantity"].as_u64()
        ),
        (Some("3"), Some(3)),
        "one effect for the retried key"
    );
    s.get("/readyz").await.expect(StatusCode::OK);
    drop(backend);
}

/// A broker that hangs rather than closes its connections: the command's produce is in flight
/// when it times out, which makes librdkafka's idempotent producer start a new epoch. Commands
/// must work again once a broker is back, and the retried key must take effect exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_broker_times_commands_out_and_they_recover() {
    let (mut broker, _backend, mut shopper) =
        a_cart_with_one_lamp(&[("KAFKA_PRODUCE_TIMEOUT_MS", "2000")]).await;

    broker.freeze();
    let r = shopper.set_line(1, 2, "during").await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        shopper.get("/api/cart").await.expect(StatusCode::OK).json()["version"],
        "1",
        "reads go on from memory"
    );
    // Its produce is in flight when it times out, so the log may hold it twice.
    deliver_five(&mut shopper, "delivery-during")
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE);
    broker.kill();
    broker.restart().await;

    let s = shopper.clone();
    until_ok(Duration::from_secs(60), "the retried command", || {
        let mut s = s.clone();
        async move { s.set_line(1, 2, "during").await }
    })
    .await;
    until_ok(Duration::from_secs(30), "the retried delivery", || {
        let mut s = s.clone();
        async move { deliver_five(&mut s, "delivery-during").await }
    })
    .await;
    // While the clients reconnect, one of them may still report the old connections lost
    // (a 503 that says to retry): a retry with the same key is what the app does.
    let s = shopper.clone();
    until_ok(Duration::from_secs(30), "a later command", || {
        let mut s = s.clone();
        async move { s.set_line(1, 3, "after").await }
    })
    .await;
    let cart = shopper.get("/api/cart").await.json();
    assert_eq!(
        (
            cart["version"].as_str(),
            cart["lines"][0]["quantity"].as_u64()
        ),
        (Some("3"), Some(3)),
        "the timed-out key took effect at most once: {cart}"
    );
    assert_eq!(
        lamps_available(&mut shopper).await,
        "15",
        "the timed-out delivery took effect once"
    );
    // A second process replays the same log to the same state.
    let again = Backend::start(&broker.brokers(), &[]).await;
    let mut other = Shopper::new(again.addr);
    other.cookie = shopper.cookie.clone();
    assert_eq!(other.get("/api/cart").await.json(), cart);
    assert_eq!(lamps_available(&mut other).await, "15");
}

/// A writer with events waiting that makes no progress is stuck: `/healthz` answers 503 naming
/// the context and the offset, and 200 again once it moves. The broker is frozen (SIGSTOP) in
/// the middle of the start-up replay: its connections stay up, so this is not an unreachable
/// broker (which readiness reports) but a writer that gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_makes_no_progress_with_events_waiting_is_stuck_on_healthz() {
    let mut broker = Broker::start().await;
    let kafka = support::config(&broker.brokers(), &[]).kafka;
    backend::tools::generate::run(backend::tools::generate::GenerateArgs {
        products: 100_000,
        seed: 3,
        stock_max: 5,
        csv: None,
        if_empty: false,
        kafka,
    })
    .await
    .unwrap();
    let backend = Backend::spawn(&broker.brokers(), &[("STUCK_AFTER_SECS", "1")]).await;
    let mut s = Shopper::new(backend.addr);
    // Frozen once a context is replaying towards a watermark it has read.
    loop {
        let ready = s.get("/readyz").await;
        let reason = ready.json()["reason"].as_str().unwrap_or("").to_owned();
        assert_eq!(
            ready.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "the replay ended before the broker could be frozen"
        );
        if reason.contains("is replaying its log") && !reason.contains("(0 events to read)") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    broker.freeze();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let stuck = loop {
        let r = s.get("/healthz").await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            break r.json();
        }
        if std::time::Instant::now() >= deadline {
            let ready = s.get("/readyz").await;
            let m = s.get("/metrics").await;
            let m = String::from_utf8_lossy(&m.body).into_owned();
            let lines: Vec<&str> = m
                .lines()
                .filter(|l| {
                    l.contains("broker_up")
                        || l.contains("applied_offset")
                        || l.contains("lag_events")
                        || l.contains("replay")
                })
                .collect();
            panic!(
                "/healthz never said stuck; readyz {}; {lines:#?}",
                String::from_utf8_lossy(&ready.body)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stuck["status"], "stuck", "{stuck}");
    assert!(
        ["catalog", "checkout"].contains(&stuck["context"].as_str().unwrap_or("")),
        "{stuck}"
    );
    assert!(stuck["offset"].as_i64().is_some_and(|o| o >= 0), "{stuck}");
    assert!(
        stuck["detail"]
            .as_str()
            .unwrap()
            .ends_with("(the limit is 1 s)"),
        "{stuck}"
    );
    broker.thaw();
    eventually(Duration::from_secs(120), "healthy and ready again", || {
        let mut s = s.clone();
        async move {
            s.get("/healthz").await.status == StatusCode::OK
                && s.get("/readyz").await.status == StatusCode::OK
        }
    })
    .await;
}
