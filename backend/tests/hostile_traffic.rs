//! The hostile-traffic suite: the real `shop` binary on the real local broker (tansu) under what
//! hostile or careless clients send, each scenario with what held and what was lost, printed as
//! one row of a table (also written to `target/hostile/report.md`):
//!
//! - `stalled-connections`: connections that send half a head, and connections that announce a
//!   body and send one byte of it, all at once: every one closed by the server within its
//!   deadlines, `/healthz` answered meanwhile (its p99 under the attack beside the idle p99,
//!   reported, not asserted);
//! - `no-op-flood`: anonymous commands that change nothing: no event written, no cart made;
//! - `foreign-origin`: a websocket upgrade from another site's page: refused, the shop's own
//!   accepted;
//! - `repricing-race`: shoppers ordering while the operator changes the price every 50 ms: no
//!   accepted order charged a price its request did not name (the audit's check over the log);
//! - `log-reader`: a shopper's journey, then every checkout event read by a plain Kafka consumer
//!   and every cart name found there sent as the cart cookie: no cart and no order opened, the
//!   shopper's cookie in no event;
//! - `made-up-cart`: writes with cart cookies the server never issued (a guessable id, a
//!   forged value): each gets a new cart and cookie, the made-up value never reaches the log;
//! - `cart-flood`: cookieless writes from one address, each asking for a new cart (a second
//!   shop on the same log, at the default limit): at most the limit made, the rest answered 429
//!   with `Retry-After`.
//! - `concurrent-bad-uploads`: two CSV uploads of bad rows sent at once while `/healthz` is
//!   measured: each answered 422 or 503, nothing written, `/healthz` answered throughout (its
//!   p99 under the uploads beside the idle p99, and the shop's peak RSS growth against the
//!   files' size, reported, not asserted).
//! - `product-text`: titles with NUL, ESC sequences, BEL, a right-to-left override or CR LF and
//!   image URLs `//host/x` or `javascript:`, through the API and a CSV upload: every one refused
//!   naming its field, nothing written;
//! - `live-answers`: three `LiveRequest`s of 500 new ids, 1 s apart, from a socket that reads
//!   every frame (all answered, never closed) and from one that never reads (closed, 1013).
//!
//! `cargo test` runs it reduced; `make hostile` at full size (`HOSTILE_STALLED` connections of
//! each kind, `HOSTILE_NOOPS` commands, `HOSTILE_SECONDS` of repricing, `HOSTILE_CART_FLOOD`
//! new-cart writes, 1,000 either way, `HOSTILE_UPLOAD_MIB` MiB per upload).

mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use http::{Method, StatusCode};
use prost::Message as _;
use shared::proto::{LiveFrame, LiveRequest, live_frame::Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use support::{ADMIN_TOKEN, Backend, Broker, Shopper, sample};

const CHECKOUT: &str = "shop.checkout.v1";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The server's deadlines in this suite (short, so a run takes seconds).
const HEAD_MS: u64 = 2_000;
const BODY_MS: u64 = 2_000;

struct Row {
    scenario: &'static str,
    load: String,
    held: String,
    lost: String,
    ok: bool,
    seconds: f64,
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples
        .get((samples.len() * 99 / 100).min(samples.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// `/healthz` answered one after the other for `window`: the latencies, and how many were not 200.
async fn healthz_for(addr: std::net::SocketAddr, window: Duration) -> (Vec<Duration>, usize) {
    let mut s = Shopper::new(addr);
    let (mut took, mut failed) = (vec![], 0);
    let started = Instant::now();
    while started.elapsed() < window {
        let t = Instant::now();
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(5), s.try_send(Method::GET, "/healthz", &[], bytes::Bytes::new())).await,
            Ok(Ok(r)) if r.status == StatusCode::OK
        );
        took.push(t.elapsed());
        failed += usize::from(!ok);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (took, failed)
}

/// Reads until the server closes; true if it did within `limit`.
async fn closed_within(mut tcp: TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

async fn stalled_connections(addr: std::net::SocketAddr) -> Row {
    let t = Instant::now();
    let each: usize = env_or("HOSTILE_STALLED", 200);
    let (idle, _) = healthz_for(addr, Duration::from_secs(1)).await;
    let mut sockets = Vec::with_capacity(2 * each);
    let mut refused = 0;
    for i in 0..2 * each {
        let Ok(mut tcp) = TcpStream::connect(addr).await else {
            refused += 1;
            continue;
        };
        let sent = if i % 2 == 0 {
            tcp.write_all(b"GET /api/cart HTTP/1.1\r\nHost: x\r\n")
                .await
        } else {
            tcp.write_all(
                b"PUT /api/cart/lines/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                  Idempotency-Key: stalled\r\nContent-Length: 65000\r\n\r\n{",
            )
            .await
        };
        if sent.is_ok() {
            sockets.push(tcp);
        }
    }
    let opened = sockets.len();
    // Each must be closed by the server once its deadline passed (plus the time to open them all
    // and a margin for a loaded machine).
    let limit = Duration::from_millis(HEAD_MS.max(BODY_MS)) + t.elapsed() + Duration::from_secs(10);
    let closing = tokio::spawn(async move {
        let all = sockets.into_iter().map(|s| closed_within(s, limit));
        futures_util::future::join_all(all).await
    });
    let (attacked, failed) = healthz_for(addr, Duration::from_millis(HEAD_MS.max(BODY_MS))).await;
    let closed = closing.await.unwrap().into_iter().filter(|c| *c).count();
    let (idle_p99, attack_p99) = (p99(idle), p99(attacked.clone()));
    Row {
        scenario: "stalled-connections",
        load: format!("{each} stalled heads + {each} stalled bodies ({refused} not opened)"),
        held: format!(
            "{closed}/{opened} closed by the server within {HEAD_MS}/{BODY_MS} ms deadlines; /healthz {}/{} answered 200, p99 {:.1} ms under attack vs {:.1} ms idle",
            attacked.len() - failed,
            attacked.len(),
            attack_p99.as_secs_f64() * 1e3,
            idle_p99.as_secs_f64() * 1e3
        ),
        lost: format!(
            "{} connections left open, {failed} /healthz failed",
            opened - closed
        ),
        ok: closed == opened && failed == 0 && refused == 0,
        seconds: t.elapsed().as_secs_f64(),
    }
}

async fn no_op_flood(broker: &Broker, addr: std::net::SocketAddr) -> Row {
    let t = Instant::now();
    let total: usize = env_or("HOSTILE_NOOPS", 2_000);
    let before = support::log_size(broker, "shop.checkout.v1");
    let workers = 32;
    let tasks = (0..workers).map(|w| {
        tokio::spawn(async move {
            let (mut ok, mut cookies) = (0, 0);
            for i in (w..total).step_by(workers) {
                // A new visitor every time: no cookie, removing a line it does not have.
                let mut s = Shopper::new(addr);
                let key = format!("noop-{i}");
                let r = s.set_line(1 + (i as u64 % 3), 0, &key).await;
                ok += usize::from(r.status == StatusCode::OK);
                cookies += usize::from(r.headers.contains_key("set-cookie"));
            }
            (ok, cookies)
        })
    });
    let (mut ok, mut cookies) = (0, 0);
    for t in futures_util::future::join_all(tasks).await {
        let (o, c) = t.unwrap();
        ok += o;
        cookies += c;
    }
    let written = support::log_size(broker, "shop.checkout.v1") - before;
    let m = Shopper::new(addr).get("/metrics").await;
    let m = String::from_utf8(m.body.to_vec()).unwrap();
    let carts =
        sample(&m, r#"shop_model_entries{context="checkout",kind="carts"}"#).unwrap_or(-1.0);
    Row {
        scenario: "no-op-flood",
        load: format!("{total} anonymous `PUT /api/cart/lines/{{id}}` with quantity 0"),
        held: format!(
            "{ok}/{total} answered 200 as applied; {written} events written, {carts} carts, {cookies} cookies set"
        ),
        lost: "nothing to lose".into(),
        ok: ok == total && written == 0 && carts == 0.0 && cookies == 0,
        seconds: t.elapsed().as_secs_f64(),
    }
}

async fn upgrade_status(addr: std::net::SocketAddr, origin: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /api/ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Origin: {origin}\r\nCookie: cart=0000000000000000000000000000000a\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n") {
        seen.push(tcp.read_u8().await.expect("an answer"));
    }
    String::from_utf8(seen).unwrap().trim_end().to_owned()
}

async fn foreign_origin(addr: std::net::SocketAddr) -> Row {
    let t = Instant::now();
    let foreign = upgrade_status(addr, "http://evil.example").await;
    let own = upgrade_status(addr, &format!("http://{addr}")).await;
    let ok = foreign == "HTTP/1.1 403 Forbidden" && own == "HTTP/1.1 101 Switching Protocols";
    Row {
        scenario: "foreign-origin",
        load: "websocket upgrades with a victim's cart cookie".into(),
        held: format!("http://evil.example: {foreign}; the shop's own origin: {own}"),
        lost: if ok {
            "no frame to a foreign page".into()
        } else {
            "a foreign page got the socket".into()
        },
        ok,
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// One shopper: add the lamp, read the cart as shown, order it; on `price_changed` read the
/// cart again and order what it now shows. Returns (accepted, price_changed rejections).
async fn reprice_shopper(addr: std::net::SocketAddr, n: usize, until: Instant) -> (u32, u32) {
    let (mut accepted, mut changed) = (0, 0);
    let mut s = Shopper::new(addr);
    let mut round = 0;
    while Instant::now() < until {
        round += 1;
        if s.set_line(1, 1, &format!("r{n}-{round}-line")).await.status != StatusCode::OK {
            continue;
        }
        for attempt in 0..5 {
            let cart = s.get("/api/cart").await.json();
            let version: u64 = cart["version"].as_str().unwrap_or("0").parse().unwrap();
            let r = s
                .place_shown(
                    version,
                    cart["lines"].clone(),
                    &format!("r{n}-{round}-order-{attempt}"),
                )
                .await;
            match (r.status, r.json()["code"].as_str()) {
                (StatusCode::CREATED, _) => {
                    accepted += 1;
                    break;
                }
                (StatusCode::CONFLICT, Some("price_changed")) => changed += 1,
                _ => break,
            }
        }
    }
    (accepted, changed)
}

async fn repricing_race(broker: &Broker, addr: std::net::SocketAddr) -> Row {
    let t = Instant::now();
    let seconds: f64 = env_or("HOSTILE_SECONDS", 3.0);
    let shoppers = 8;
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let operator = tokio::spawn(async move {
        let mut admin = Shopper::new(addr);
        let mut changes = 0u32;
        while Instant::now() < until {
            changes += 1;
            let price = 1000 + i64::from(changes % 97);
            let _ = admin
                .admin(
                    Method::PUT,
                    "/api/admin/products/1/price",
                    &format!("reprice-{changes}"),
                    serde_json::json!({ "priceMinor": price }),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        changes
    });
    let runs = (0..shoppers).map(|n| tokio::spawn(reprice_shopper(addr, n, until)));
    let (mut accepted, mut changed) = (0, 0);
    for r in futures_util::future::join_all(runs).await {
        let (a, c) = r.unwrap();
        accepted += a;
        changed += c;
    }
    let changes = operator.await.unwrap();
    let kafka = support::config(&broker.brokers(), &[]).kafka;
    let log = tokio::task::spawn_blocking(move || {
        backend::tools::audit::read_topic(&kafka, "shop.checkout.v1", Duration::from_secs(10))
    })
    .await
    .unwrap()
    .unwrap();
    let summary = backend::tools::audit::summarise(&log);
    let unnamed = summary.charged_unnamed.len();
    Row {
        scenario: "repricing-race",
        load: format!(
            "{shoppers} shoppers ordering for {seconds} s while the operator reprices every 50 ms ({changes} price changes)"
        ),
        held: format!(
            "{accepted} orders accepted ({} in the log), {changed} refused as price_changed and ordered again at the new price",
            summary.orders_accepted()
        ),
        lost: format!("{unnamed} orders charged a price their request did not name"),
        ok: unnamed == 0
            && summary.accepted_unnamed_v1 == 0
            && accepted > 0
            && summary.orders_accepted() == u64::from(accepted),
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// Every run of 32 or more hex digits in a record, as text: whatever a reader could try as a
/// cookie, whichever field it came from.
fn hex_runs(payload: &[u8], into: &mut std::collections::BTreeSet<String>) {
    let text = String::from_utf8_lossy(payload);
    let hex = regex::Regex::new("[0-9a-fA-F]{32,}").unwrap();
    into.extend(hex.find_iter(&text).map(|m| m.as_str().to_owned()));
}

/// Every cart a checkout event names, in every field that names one.
fn named_carts(payload: &[u8], into: &mut std::collections::BTreeSet<String>) {
    use prost::Message as _;
    use shared::proto::{CheckoutEvent, checkout_event::Event};
    let Ok(event) = CheckoutEvent::decode(payload) else {
        return;
    };
    let names: Vec<&str> = match &event.event {
        Some(Event::CartLineSetV1(e)) => vec![&e.cart_id, &e.cart_name],
        Some(Event::OrderRequestedV1(e)) => vec![&e.cart_id, &e.cart_name],
        Some(Event::OrderRequestedV2(e)) => vec![&e.cart_id, &e.cart_name],
        Some(Event::CartRekeyedV1(e)) => vec![&e.from_cart_name, &e.cart_name],
        _ => vec![],
    };
    into.extend(
        names
            .into_iter()
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
    );
}

/// Whether `cookie` opens anything: a cart with lines or a version, or an order.
async fn opens(addr: std::net::SocketAddr, cookie: &str) -> bool {
    let mut s = Shopper::new(addr);
    s.cookie = Some(format!("cart={cookie}"));
    let cart = s.get("/api/cart").await.expect(StatusCode::OK).json();
    let mut s = Shopper::new(addr);
    s.cookie = Some(format!("cart={cookie}"));
    let orders = s.get("/api/orders").await.expect(StatusCode::OK).json();
    cart != serde_json::json!({}) || orders != serde_json::json!({})
}

async fn log_reader(broker: &Broker, addr: std::net::SocketAddr) -> Row {
    let t = Instant::now();
    let mut shopper = Shopper::new(addr);
    shopper
        .set_line(1, 1, "reader-line")
        .await
        .expect(StatusCode::OK);
    let version = shopper.cart_version().await;
    let order = shopper.place_order(version, "reader-order").await;
    let cookie = shopper.cookie.clone().unwrap_or_default();
    let secret = cookie.trim_start_matches("cart=").to_owned();
    let log = support::read_log(&broker.brokers(), CHECKOUT).await;
    let (mut names, mut runs) = (Default::default(), Default::default());
    for payload in &log {
        named_carts(payload, &mut names);
        hex_runs(payload, &mut runs);
    }
    let tried: std::collections::BTreeSet<&String> = names.iter().chain(&runs).collect();
    let mut opened = 0;
    for candidate in &tried {
        opened += usize::from(opens(addr, candidate).await);
    }
    let leaked = log
        .iter()
        .filter(|p| !secret.is_empty() && p.windows(secret.len()).any(|w| w == secret.as_bytes()))
        .count();
    // The shopper's own cookie still opens the cart and the order (the check is not blind).
    let own = opens(addr, &secret).await;
    Row {
        scenario: "log-reader",
        load: format!(
            "a journey (a line, an order: {}), then all {} events of `{CHECKOUT}` read by a plain consumer; {} cart names and {} hex runs found there sent as `Cookie: cart=…`",
            order.status,
            log.len(),
            names.len(),
            runs.len()
        ),
        held: format!(
            "{opened} of {} opened a cart or an order; the shopper's own cookie in {leaked} events (and it still opens its cart: {own})",
            tried.len()
        ),
        lost: if opened == 0 {
            "no shopper's cart or orders".into()
        } else {
            format!("{opened} carts or order lists opened from the log")
        },
        ok: order.status == StatusCode::CREATED
            && !names.is_empty()
            && opened == 0
            && leaked == 0
            && own,
        seconds: t.elapsed().as_secs_f64(),
    }
}

async fn made_up_cart(broker: &Broker, addr: std::net::SocketAddr) -> Row {
    let t = Instant::now();
    let guessable = "00000000000000000000000000000007";
    let forged = "0".repeat(64);
    let mut outcomes = vec![];
    let mut new_carts = 0;
    for (i, made_up) in [guessable, forged.as_str()].into_iter().enumerate() {
        let mut s = Shopper::new(addr);
        s.cookie = Some(format!("cart={made_up}"));
        let r = s.set_line(3, 1, &format!("made-up-{i}")).await;
        let set = r
            .headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let fresh = set
            .as_deref()
            .is_some_and(|c| !c.contains(made_up) && c.starts_with("cart="));
        // The new cookie opens the new cart: the line is there.
        let cart = s.get("/api/cart").await.json();
        let kept = cart["lines"][0]["productId"] == "3";
        new_carts += usize::from(r.status == StatusCode::OK && fresh && kept);
        outcomes.push(format!(
            "{}: {}{}",
            if i == 0 {
                "guessable id"
            } else {
                "forged value"
            },
            r.status.as_u16(),
            if fresh {
                " + new cookie"
            } else {
                ", no new cookie"
            }
        ));
    }
    let log = support::read_log(&broker.brokers(), CHECKOUT).await;
    let in_log = log
        .iter()
        .filter(|p| {
            p.windows(guessable.len())
                .any(|w| w == guessable.as_bytes())
        })
        .count();
    Row {
        scenario: "made-up-cart",
        load: format!(
            "`PUT /api/cart/lines/3` with `Cookie: cart={guessable}`, and with 64 zeros (a forged issued form)"
        ),
        held: format!(
            "{new_carts}/2 got a new cart and a new cookie ({}); the guessable id in {in_log} events",
            outcomes.join("; ")
        ),
        lost: if new_carts == 2 && in_log == 0 {
            "no cart made under a made-up id".into()
        } else {
            "a cart under a made-up id".into()
        },
        ok: new_carts == 2 && in_log == 0,
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// Hostile product text: as API upserts (JSON) and as the rows of one CSV upload.
const HOSTILE_TEXT: [(&str, &str, &str); 7] = [
    ("title", "Lamp\0", "NUL"),
    ("title", "Lamp \u{1b}[2J\u{1b}[31mred", "ESC sequence"),
    ("title", "Lamp\u{7}", "BEL"),
    ("title", "Lamp \u{202e}gpj.exe", "right-to-left override"),
    ("title", "Lamp\r\nX-Injected: 1", "CR LF"),
    (
        "imageUrls",
        "//evil.example/pixel.png",
        "scheme-relative URL",
    ),
    ("imageUrls", "javascript:alert(1)", "javascript: URL"),
];

async fn product_text(broker: &Broker, addr: std::net::SocketAddr) -> Row {
    let t = Instant::now();
    let before = support::log_size(broker, "shop.catalog.v1");
    let mut admin = Shopper::new(addr);
    let (mut refused, mut named) = (0, 0);
    let mut csv =
        String::from("id,title,description,long_text,category,price_minor,currency,image_urls\n");
    for (i, (field, value, _)) in HOSTILE_TEXT.iter().enumerate() {
        let id = 900 + i as u64;
        let mut p = serde_json::json!({"title": "Lamp", "category": "Home", "price": {"minor": 100, "currency": "EUR"}});
        p[field] = if *field == "imageUrls" {
            serde_json::json!([value])
        } else {
            serde_json::json!(value)
        };
        let r = admin
            .admin(
                Method::PUT,
                &format!("/api/admin/products/{id}"),
                &format!("text-{i}"),
                p,
            )
            .await;
        refused += usize::from(r.status == StatusCode::BAD_REQUEST);
        let names = |m: &str| {
            m.starts_with(if *field == "imageUrls" {
                "image URL"
            } else {
                field
            })
        };
        named += usize::from(r.json()["message"].as_str().is_some_and(names));
        let (title, urls) = if *field == "title" {
            (*value, "")
        } else {
            ("Lamp", *value)
        };
        csv.push_str(&format!("{id},\"{title}\",,,Home,100,EUR,{urls}\n"));
    }
    let r = admin
        .send(
            Method::POST,
            "/api/admin/imports/products",
            &[
                ("authorization", &format!("Bearer {}", support::ADMIN_TOKEN)),
                ("content-type", "text/csv"),
                ("idempotency-key", "hostile-text"),
            ],
            csv,
        )
        .await;
    let bad_rows = if r.status == StatusCode::UNPROCESSABLE_ENTITY {
        r.json()["badRows"].as_array().map_or(0, |rows| {
            rows.iter()
                .filter(|b| {
                    b["message"].as_str().is_some_and(|m| {
                        m.starts_with("title must not contain") || m.starts_with("image URL")
                    })
                })
                .count()
        })
    } else {
        0
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = support::log_size(broker, "shop.catalog.v1") - before;
    let n = HOSTILE_TEXT.len();
    let kinds: Vec<&str> = HOSTILE_TEXT.iter().map(|(_, _, k)| *k).collect();
    Row {
        scenario: "product-text",
        load: format!("{n} upserts and a {n}-row CSV upload: {}", kinds.join(", ")),
        held: format!(
            "{refused}/{n} upserts answered 400, {named} naming the field; the upload answered {} with {bad_rows}/{n} bad rows naming the field",
            r.status.as_u16()
        ),
        lost: format!("{written} events written"),
        ok: refused == n && named == n && bad_rows == n && written == 0,
        seconds: t.elapsed().as_secs_f64(),
    }
}

async fn cart_flood(broker: &Broker) -> Row {
    let t = Instant::now();
    let total: usize = env_or("HOSTILE_CART_FLOOD", 1_000);
    // A second shop on the same log, with the default limit, so the other scenarios' carts do
    // not count against this address.
    let shop = Backend::start(&broker.brokers(), &[]).await;
    let addr = shop.addr;
    let (per_minute, burst) = (60.0, 30.0);
    let started = Instant::now();
    let workers = 32;
    let tasks = (0..workers).map(|w| {
        tokio::spawn(async move {
            let (mut made, mut limited, mut hinted, mut other) = (0, 0, 0, 0);
            for i in (w..total).step_by(workers) {
                let mut s = Shopper::new(addr);
                let r = s.set_line(1, 1, &format!("flood-{i}")).await;
                match r.status {
                    StatusCode::OK => made += 1,
                    StatusCode::TOO_MANY_REQUESTS => {
                        limited += 1;
                        hinted += usize::from(r.headers.contains_key("retry-after"));
                    }
                    _ => other += 1,
                }
            }
            (made, limited, hinted, other)
        })
    });
    let (mut made, mut limited, mut hinted, mut other) = (0, 0, 0, 0);
    for t in futures_util::future::join_all(tasks).await {
        let (m, l, h, o) = t.unwrap();
        made += m;
        limited += l;
        hinted += h;
        other += o;
    }
    let took = started.elapsed();
    // What the limit allows in the time the flood took: the burst and the refill since.
    let allowed = (burst + per_minute * took.as_secs_f64() / 60.0).floor() as usize;
    let log = support::read_log(&broker.brokers(), CHECKOUT).await;
    let events = log
        .iter()
        .filter(|p| p.windows(6).any(|w| w == b"flood-"))
        .count();
    drop(shop);
    Row {
        scenario: "cart-flood",
        load: format!(
            "{total} cookieless `PUT /api/cart/lines/1` from one address (32 clients) in {:.1} s, at the default limit ({per_minute} new carts a minute, burst {burst})",
            took.as_secs_f64()
        ),
        held: format!(
            "{made} carts made ({events} events), at most {allowed} allowed; {limited} answered 429, {hinted} of them with `Retry-After`; {other} other answers"
        ),
        lost: "nothing to lose".into(),
        ok: made <= allowed
            && made >= 1
            && events == made
            && made + limited == total
            && hinted == limited,
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`: resident now, and its peak).
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A stock file of at most `bytes` bytes (the largest upload the shop takes, at full size)
/// whose every row is bad (quantity 0), and its rows.
fn bad_stock_file(bytes: usize) -> (bytes::Bytes, u64) {
    let mut file = String::with_capacity(bytes);
    file.push_str("product_id,quantity\n");
    let mut id = 1u64;
    loop {
        let row = format!("{id},0\n");
        if file.len() + row.len() > bytes {
            break;
        }
        file.push_str(&row);
        id += 1;
    }
    (bytes::Bytes::from(file), id - 1)
}

async fn concurrent_bad_uploads(broker: &Broker, shop: &Backend) -> Row {
    let t = Instant::now();
    let addr = shop.addr;
    let mib: usize = env_or("HOSTILE_UPLOAD_MIB", 4);
    let (file, rows) = bad_stock_file(mib << 20);
    let files_size = 2 * file.len() as u64;
    let before = support::log_size(broker, "shop.checkout.v1");
    let (idle, _) = healthz_for(addr, Duration::from_secs(1)).await;
    let pid = shop.pid();
    // Resets the process's peak RSS to its current RSS (proc(5): clear_refs, "5").
    let peak_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let rss_before = proc_status_bytes(pid, "VmRSS");
    let uploads: Vec<_> = (0..2)
        .map(|i| {
            let file = file.clone();
            tokio::spawn(async move {
                let auth = format!("Bearer {ADMIN_TOKEN}");
                let key = format!("hostile-upload-{i}");
                let started = Instant::now();
                let r = Shopper::new(addr)
                    .try_send(
                        Method::POST,
                        "/api/admin/imports/stock",
                        &[
                            ("authorization", &auth),
                            ("content-type", "text/csv"),
                            ("idempotency-key", &key),
                        ],
                        file,
                    )
                    .await;
                (r, started.elapsed())
            })
        })
        .collect();
    // /healthz one after the other until both uploads are answered.
    let mut healthz = Shopper::new(addr);
    let (mut during, mut failed) = (vec![], 0usize);
    while during.len() < 10 || !uploads.iter().all(|u| u.is_finished()) {
        let started = Instant::now();
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(30), healthz.try_send(Method::GET, "/healthz", &[], bytes::Bytes::new())).await,
            Ok(Ok(r)) if r.status == StatusCode::OK
        );
        during.push(started.elapsed());
        failed += usize::from(!ok);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let peak = proc_status_bytes(pid, "VmHWM");
    let mut answers = vec![];
    for u in uploads {
        let (r, took) = u.await.unwrap();
        match r {
            Ok(r) => {
                let message = r.json()["message"].as_str().unwrap_or("").to_owned();
                answers.push((r.status.as_u16(), took, message));
            }
            Err(e) => answers.push((0, took, e)),
        }
    }
    // What the shop still holds a moment later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = proc_status_bytes(pid, "VmRSS");
    let written = support::log_size(broker, "shop.checkout.v1") - before;
    let (idle_p99, during_p99) = (p99(idle), p99(during.clone()));
    let growth = peak.saturating_sub(rss_before);
    let mib_of = |b: u64| b as f64 / (1 << 20) as f64;
    let answered = answers
        .iter()
        .map(|(status, took, message)| {
            format!(
                "{status} in {:.1} s ({})",
                took.as_secs_f64(),
                message.chars().take(70).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Row {
        scenario: "concurrent-bad-uploads",
        load: format!(
            "2 uploads at once of a {:.1} MiB stock file, {rows} rows, every one bad (quantity 0)",
            mib_of(file.len() as u64),
        ),
        held: format!(
            "{answered}; /healthz {}/{} answered 200, p99 {:.1} ms under the uploads vs {:.1} ms idle ({:.1}×), the longest {:.1} ms; shop peak RSS +{:.0} MiB over {:.0} MiB before ({:.2}× the files' {:.0} MiB{}), {:.0} MiB held 1 s after",
            during.len() - failed,
            during.len(),
            during_p99.as_secs_f64() * 1e3,
            idle_p99.as_secs_f64() * 1e3,
            during_p99.as_secs_f64() / idle_p99.as_secs_f64().max(1e-9),
            during
                .iter()
                .max()
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3,
            mib_of(growth),
            mib_of(rss_before),
            growth as f64 / files_size as f64,
            mib_of(files_size),
            if peak_reset {
                ""
            } else {
                "; peak since start: clear_refs refused"
            },
            mib_of(rss_after.saturating_sub(rss_before)),
        ),
        lost: format!("{written} events written, {failed} /healthz failed"),
        ok: answers
            .iter()
            .all(|(status, ..)| *status == 422 || *status == 503)
            && written == 0
            && failed == 0,
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// The ids of three pages of 500: each new to the socket when it is asked for.
fn live_pages() -> [Vec<u64>; 3] {
    [
        (1001..=1500).collect(),
        (1501..=2000).collect(),
        (1001..=1500).collect(),
    ]
}

/// A socket with a 4 KB receive buffer, so that one that does not read blocks the server soon.
async fn live_socket(
    addr: std::net::SocketAddr,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let req = format!("ws://{addr}/api/ws").into_client_request().unwrap();
    tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
        .expect("websocket connects")
        .0
}

fn live_request(ids: &[u64]) -> WsMessage {
    let req = LiveRequest {
        watch_products: ids.to_vec(),
    };
    WsMessage::Binary(req.encode_to_vec().into())
}

async fn live_answers(broker: &Broker) -> Row {
    let t = Instant::now();
    // A shop of its own with a short ping (250 ms) and idle limit (1.5 s), the rest at defaults
    // (`LIVE_SOCKET_BUFFER` 1024).
    let shop = Backend::start(
        &broker.brokers(),
        &[("LIVE_PING_MS", "250"), ("LIVE_IDLE_MS", "1500")],
    )
    .await;
    let addr = shop.addr;
    // 1,000 products with 1.5 KB descriptions: an answer of 500 snapshots is about 800 KB.
    let description = "Solid walnut, oiled by hand. ".repeat(52);
    let seeding = (0..16).map(|w| {
        let description = description.clone();
        tokio::spawn(async move {
            let mut admin = Shopper::new(addr);
            for id in (1001..=2000u64).skip(w).step_by(16) {
                let p = serde_json::json!({"title": format!("Lamp {id}"), "description": description,
                    "category": "Home", "price": {"minor": 1000, "currency": "EUR"}});
                admin
                    .admin(Method::PUT, &format!("/api/admin/products/{id}"), &format!("live-{id}"), p)
                    .await
                    .expect(StatusCode::OK);
            }
        })
    });
    for s in futures_util::future::join_all(seeding).await {
        s.unwrap();
    }

    // The reader: reads every frame as it comes, sends the next page 1 s after the last.
    let (mut tx, mut rx) = live_socket(addr).await.split();
    let reading = tokio::spawn(async move {
        let (mut ids, mut closed) = (Vec::new(), None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while ids.len() < 1_500 && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), rx.next()).await {
                Ok(Some(Ok(WsMessage::Binary(b)))) => {
                    if let Ok(f) = LiveFrame::decode(b)
                        && let Some(Frame::Product(p)) = f.frame
                    {
                        ids.push(p.product_id);
                    }
                }
                Ok(Some(Ok(WsMessage::Close(c)))) => {
                    closed = Some(c.map_or(0, |c| u16::from(c.code)));
                    break;
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => {
                    closed = Some(0);
                    break;
                }
                Err(_) => {}
            }
        }
        (ids, closed, rx)
    });
    for page in live_pages() {
        let _ = tx.send(live_request(&page)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (ids, closed, _rx) = reading.await.unwrap();
    let answered = ids == live_pages().concat();

    // The one that never reads: the same pages 1 s apart, then the pages again every 250 ms
    // (each a new answer of 500), more than the kernel's buffers take (4 MB here).
    let started = Instant::now();
    let (mut tx, mut rx) = live_socket(addr).await.split();
    let sending = tokio::spawn(async move {
        for (n, page) in live_pages().iter().cycle().enumerate() {
            if tx.send(live_request(page)).await.is_err() {
                return;
            }
            let pause = if n < 3 { 1_000 } else { 250 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    });
    let mut dropped_after = None;
    let mut metrics = Shopper::new(addr);
    while started.elapsed() < Duration::from_secs(30) {
        let m = String::from_utf8(metrics.get("/metrics").await.body.to_vec()).unwrap();
        if sample(&m, "shop_live_slow_clients_dropped_total").unwrap_or(0.0) >= 1.0 {
            dropped_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sending.abort();
    // Read now: the frames on their way, then the close frame.
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.next().await {
                Some(Ok(WsMessage::Close(c))) => return c.map(|c| c.code),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    })
    .await
    .ok()
    .flatten();
    shop.terminate();
    let cut = dropped_after.is_some() && close == Some(CloseCode::Again);
    Row {
        scenario: "live-answers",
        load: "3 `LiveRequest`s of 500 new ids (1.6 KB snapshots), 1 s apart, from a socket reading every frame, and from one that never reads and goes on asking every 250 ms (4 KB receive buffers; ping 250 ms, idle limit 1.5 s)".into(),
        held: format!(
            "reader: {}/1500 snapshots in the order asked, {}; non-reader: {}",
            ids.len(),
            match closed {
                None => "still open".to_owned(),
                Some(code) => format!("closed with {code}"),
            },
            match (dropped_after, close) {
                (Some(after), Some(code)) => format!(
                    "closed with {} after {:.1} s",
                    u16::from(code),
                    after.as_secs_f64()
                ),
                (Some(after), None) => format!("dropped after {:.1} s, no close frame read", after.as_secs_f64()),
                (None, _) => "still open after 30 s".to_owned(),
            }
        ),
        lost: format!("{} snapshots the reader asked for", 1_500usize.saturating_sub(ids.len())),
        ok: answered && closed.is_none() && cut,
        seconds: t.elapsed().as_secs_f64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_traffic_suite() {
    // Thousands of sockets on each side: this process needs its open-file limit raised too.
    backend::server::raise_open_file_limit().unwrap();
    let broker = Broker::start().await;
    let env = [
        ("HEADER_TIMEOUT_MS", HEAD_MS.to_string()),
        ("BODY_TIMEOUT_MS", BODY_MS.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shop = Backend::start(&broker.brokers(), &env).await;
    let mut admin = Shopper::new(shop.addr);
    for id in 1..=3 {
        admin
            .add_product(id, &format!("Lamp {id}"), "Home", 1000, 0)
            .await;
    }
    admin
        .admin(
            Method::POST,
            "/api/admin/stock",
            "stock-1",
            serde_json::json!({"productId": "1", "quantity": 1_000_000}),
        )
        .await
        .expect(StatusCode::OK);
    let rows = vec![
        stalled_connections(shop.addr).await,
        no_op_flood(&broker, shop.addr).await,
        foreign_origin(shop.addr).await,
        repricing_race(&broker, shop.addr).await,
        log_reader(&broker, shop.addr).await,
        made_up_cart(&broker, shop.addr).await,
        cart_flood(&broker).await,
        concurrent_bad_uploads(&broker, &shop).await,
        product_text(&broker, shop.addr).await,
        live_answers(&broker).await,
    ];
    let mut report = format!(
        "Hostile-traffic suite, {}: the debug `shop` binary on tansu, head and body deadlines {HEAD_MS} ms.\n\n\
         | scenario | load | what held | what was lost | s | result |\n| --- | --- | --- | --- | --- | --- |\n",
        chrono_free_now()
    );
    for r in &rows {
        report.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {} |\n",
            r.scenario,
            r.load,
            r.held,
            r.lost,
            r.seconds,
            if r.ok { "ok" } else { "FAILED" }
        ));
    }
    println!("{report}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/hostile");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report.md"), &report).unwrap();
    let failed: Vec<&str> = rows.iter().filter(|r| !r.ok).map(|r| r.scenario).collect();
    assert!(
        failed.is_empty(),
        "hostile scenarios failed: {failed:?}\n{report}"
    );
}

/// The date of the run (UTC, to the minute), from the system clock.
fn chrono_free_now() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    out.unwrap_or_default()
}
