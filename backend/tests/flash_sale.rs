//! The flash sale, reduced for `make test`: 60 shoppers race for 10 units of one product through
//! two real `shop` replicas on one real broker (tansu). Afterwards the sale is audited as
//! `shop-audit` does it: from Kafka itself (the checkout topic read from offset 0 with
//! `backend::tools::audit`) and from what both replicas serve. No timing is asserted.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use shared::ids::CartId;

use backend::tools::audit::{self, Expectation};
use support::{Backend, Broker, Shopper, eventually};

const SHOPPERS: u64 = 60;
const UNITS: u64 = 10;
const PRODUCT: u64 = 4242;

/// The units a replica shows for the product (proto3 JSON leaves a zero out).
async fn available(shopper: &mut Shopper) -> Option<u64> {
    let r = shopper.get(&format!("/api/products/{PRODUCT}")).await;
    if r.status != StatusCode::OK {
        return None;
    }
    match &r.json()["availability"]["available"] {
        serde_json::Value::String(s) => s.parse().ok(),
        _ => Some(0),
    }
}

/// What one shopper was answered: the order's status and the API's code for a rejection.
struct Answer {
    status: StatusCode,
    code: Option<String>,
}

/// Opens a cart on `shopper`'s replica, puts one unit in it, waits at the door with everyone
/// else, then orders; a 503 (broker busy, command not applied in time) is retried with the same
/// key, as a shopper's client does.
async fn race(mut shopper: Shopper, n: u64, door: Arc<tokio::sync::Barrier>) -> Answer {
    shopper.get("/api/cart").await.expect(StatusCode::OK);
    let cart = shopper
        .set_line(PRODUCT, 1, &format!("flash-line-{n}"))
        .await
        .expect(StatusCode::OK);
    let version: u64 = cart.json()["version"].as_str().unwrap().parse().unwrap();
    // The order confirms the cart as shown; a retry sends the very same body.
    let shown = cart.json()["lines"].clone();
    door.wait().await;
    let key = format!("flash-order-{n}");
    let mut reply = shopper.place_shown(version, shown.clone(), &key).await;
    for _ in 0..5 {
        if reply.status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        reply = shopper.place_shown(version, shown.clone(), &key).await;
    }
    let code = (reply.status == StatusCode::CONFLICT)
        .then(|| reply.json()["code"].as_str().map(str::to_owned))
        .flatten();
    Answer {
        status: reply.status,
        code,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_shoppers_race_for_ten_units_through_two_replicas_and_the_log_agrees() {
    let broker = Broker::start().await;
    // Every shopper comes from this test's loopback address: no limit on new carts.
    let env = [("CART_CREATE_PER_MINUTE", "0")];
    let a = Backend::start(&broker.brokers(), &env).await;
    let b = Backend::start(&broker.brokers(), &env).await;
    let mut admin = Shopper::new(a.addr);
    admin
        .add_product(
            PRODUCT,
            "Flash sale lantern",
            "Home & Garden",
            1999,
            UNITS as u32,
        )
        .await;
    for addr in [a.addr, b.addr] {
        let s = Shopper::new(addr);
        eventually(
            Duration::from_secs(30),
            "both replicas show the units on sale",
            || {
                let mut s = s.clone();
                async move { available(&mut s).await == Some(UNITS) }
            },
        )
        .await;
    }

    let door = Arc::new(tokio::sync::Barrier::new(SHOPPERS as usize));
    let races: Vec<_> = (0..SHOPPERS)
        .map(|n| {
            let addr = if n % 2 == 0 { a.addr } else { b.addr };
            tokio::spawn(race(Shopper::new(addr), n, door.clone()))
        })
        .collect();
    let mut answers = Vec::new();
    for r in races {
        answers.push(r.await.expect("a shopper's task"));
    }
    let accepted = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count() as u64;
    let rejected_out_of_stock = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT && a.code.as_deref() == Some("out_of_stock"))
        .count() as u64;
    let answered = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED || a.code.is_some())
        .count() as u64;
    assert_eq!(accepted, UNITS, "orders accepted");
    assert_eq!(
        rejected_out_of_stock,
        SHOPPERS - UNITS,
        "every other shopper is told the product sold out"
    );

    // From Kafka itself.
    let kafka = support::config(&broker.brokers(), &[]).kafka;
    let topic = kafka.checkout_topic.clone();
    let log = tokio::task::spawn_blocking(move || {
        audit::read_topic(&kafka, &topic, Duration::from_secs(60))
    })
    .await
    .unwrap()
    .expect("the checkout topic reads to its end");
    let summary = audit::summarise(&log);
    let carts: Vec<CartId> = summary.ordering_carts();
    assert_eq!(
        carts.len() as u64,
        SHOPPERS,
        "every shopper's order is in the log"
    );
    assert_eq!(
        summary.orders_rejected().get("out_of_stock"),
        Some(&(SHOPPERS - UNITS))
    );

    // And from both replicas, once they have applied the log's tail (both answered shoppers
    // already; the other replica's last events may be a moment behind).
    let want = Expectation {
        product: PRODUCT,
        units: UNITS,
        shoppers: Some(SHOPPERS),
        answered: Some(answered),
        accepted_answers: Some(accepted),
    };
    let bases = [format!("http://{}", a.addr), format!("http://{}", b.addr)];
    let deadline = Instant::now() + Duration::from_secs(30);
    let checks = loop {
        let mut replicas = Vec::new();
        for base in &bases {
            replicas.push(
                audit::fetch_replica(base, PRODUCT, support::ADMIN_TOKEN)
                    .await
                    .expect("replica answers"),
            );
        }
        let checks = audit::check(&summary, &replicas, &want);
        if checks.iter().all(|c| c.ok) || Instant::now() >= deadline {
            break checks;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        checks.iter().all(|c| c.ok),
        "audit:\n{}",
        audit::table(&checks)
    );
    // The table covers what the sale promises: from the log and from each replica.
    assert!(checks.len() >= 14, "{}", audit::table(&checks));
}
