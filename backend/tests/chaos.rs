//! The chaos suite: the real `shop` binary on the real local broker under a steady command load,
//! with one fault per scenario (backend SIGKILL, broker SIGKILL, network faults through a
//! fault-injecting proxy, poison and unknown events in the log, clients that time out and retry
//! everything). After the fault is healed, each scenario proves from the client's records, the
//! log and a freshly started backend that nothing acknowledged was lost, nothing was oversold and
//! no order exists twice, and prints one row of the table (also written to
//! `target/chaos/report.md`).
//!
//! `cargo test` runs a reduced suite (short phases, few shoppers); `make chaos` runs it longer:
//! `CHAOS_SECONDS` (length of each phase), `CHAOS_SHOPPERS`, and `CHAOS_SCENARIOS` (a
//! comma-separated subset of the names below). `CHAOS_BACKEND_LOG` is the backends' `RUST_LOG`
//! (default: off, as faults make them log a lot).

mod support;

#[path = "chaos/load.rs"]
mod load;
#[path = "chaos/proxy.rs"]
mod proxy;
#[path = "chaos/verify.rs"]
mod verify;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use noxious::toxic::ToxicKind;
use prost::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use shared::proto::{CatalogEvent, CheckoutEvent, CommandMeta};

use load::{Load, Policy, Sent, Settings};
use noxious::toxic::StreamDirection::Downstream;
use proxy::{FaultProxy, both_ways, toxic};
use support::{Backend, Broker, Shopper, free_port};
use verify::{Figures, Log, views};

const SCENARIOS: [&str; 5] = [
    "backend-sigkill",
    "broker-sigkill",
    "network-faults",
    "poison-events",
    "timeouts-retried",
];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn settings() -> Settings {
    Settings {
        phase: Duration::from_secs_f64(env_or("CHAOS_SECONDS", 2.0)),
        shoppers: env_or("CHAOS_SHOPPERS", 3),
        products: 4,
        stock: 5,
    }
}

/// A produce timeout (ms) longer than any fault of a scenario. A produce that times out while
/// in flight makes librdkafka's idempotent producer bump its epoch, and the produce after that
/// makes tansu 0.6.0's storage task panic (`idempotent_message_check`: "more or less than one
/// row"), after which the broker serves nothing until it is restarted. `e2e.rs` covers that path
/// with a broker restart; here the faults must be the ones the scenario names.
fn outlasting(s: &Settings) -> String {
    (s.phase + Duration::from_secs(10)).as_millis().to_string()
}

/// A client that waits long and retries until the fault is long healed.
const PATIENT: Policy = Policy {
    first_timeout: Duration::from_secs(10),
    deadline: Duration::from_secs(120),
};

/// The shop under test: a broker, optionally a proxy in front of it that the broker advertises,
/// and one backend on a fixed port (so clients find it again after a restart).
struct Shop {
    broker: Broker,
    proxy: Option<FaultProxy>,
    backend: Option<Backend>,
    addr: SocketAddr,
    /// What the backend bootstraps from: the broker, or the proxy.
    bootstrap: String,
    env: Vec<(&'static str, String)>,
}

impl Shop {
    async fn start(proxied: bool, env: &[(&'static str, &str)], settings: &Settings) -> Shop {
        let (broker, proxy, bootstrap) = if proxied {
            let (port, proxy_port) = (free_port(), free_port());
            let proxy = FaultProxy::start(
                SocketAddr::from(([127, 0, 0, 1], proxy_port)),
                SocketAddr::from(([127, 0, 0, 1], port)),
            )
            .await;
            let broker = Broker::start_advertising(port, proxy_port).await;
            (broker, Some(proxy), format!("127.0.0.1:{proxy_port}"))
        } else {
            let broker = Broker::start().await;
            let bootstrap = broker.brokers();
            (broker, None, bootstrap)
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = std::env::var("CHAOS_BACKEND_LOG").unwrap_or_else(|_| "off".into());
        // Every shopper of the load comes from this test's loopback address: no cart limit.
        let mut all = vec![
            ("HTTP_ADDR", addr.to_string()),
            ("RUST_LOG", log),
            ("CART_CREATE_PER_MINUTE", "0".to_owned()),
        ];
        all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        let mut shop = Shop {
            broker,
            proxy,
            backend: None,
            addr,
            bootstrap,
            env: all,
        };
        shop.start_backend().await;
        let mut admin = Shopper::new(addr);
        for p in 1..=settings.products {
            admin
                .add_product(
                    p,
                    &format!("Lamp {p}"),
                    "Home",
                    1000 + p as i64,
                    settings.stock,
                )
                .await;
        }
        shop
    }

    async fn start_backend(&mut self) {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.backend = Some(Backend::start(&self.bootstrap, &env).await);
    }

    fn kill_backend(&mut self) {
        if let Some(b) = self.backend.take() {
            b.kill();
        }
    }

    fn proxy(&mut self) -> &mut FaultProxy {
        self.proxy.as_mut().expect("a proxied shop")
    }

    async fn metrics(&self) -> String {
        let r = Shopper::new(self.addr).get("/metrics").await;
        String::from_utf8_lossy(&r.body).into_owned()
    }
}

/// One row of the table.
struct Row {
    name: &'static str,
    figures: Figures,
    /// Reads answered 200 of those attempted, and whether all of them had to be.
    reads: Option<(u64, u64, bool)>,
    seconds: f64,
}

impl Row {
    fn passed(&self) -> bool {
        self.figures.lost == 0
            && self.figures.oversold == 0
            && self.figures.duplicates == 0
            && self.figures.problems.is_empty()
    }
}

/// The checks after the load: the log, the model of the backend that served the load, and the
/// model of a backend started afresh after a SIGKILL of that one.
async fn settle(shop: &mut Shop, sent: Sent, reads_must_hold: bool, poisoned: usize) -> Figures {
    let carts: Vec<String> = sent.carts.iter().map(|(c, _)| c.clone()).collect();
    let client = Shopper::new(shop.addr);
    let products = settings().products;
    let before = views(&client, &carts, products).await;
    let bootstrap = shop.bootstrap.clone();
    let log = Log::read(&bootstrap).await;
    shop.kill_backend();
    shop.start_backend().await;
    let after = views(&client, &carts, products).await;
    let mut figures =
        verify::check(&sent, &log, &before, &after, &client, &bootstrap, poisoned).await;
    if reads_must_hold && sent.reads.ok != sent.reads.total {
        figures.problems.push(format!(
            "{} of {} reads failed while the backend was up; the first: {:?}",
            sent.reads.total - sent.reads.ok,
            sent.reads.total,
            sent.reads.first_failure
        ));
    }
    // The restarted backend replayed the whole log: it must have absorbed exactly the repeats.
    let absorbed = metric(
        &shop.metrics().await,
        "shop_events_ignored_total",
        &[("context", "checkout"), ("reason", "duplicate command")],
    );
    if absorbed != log.repeats() as u64 {
        figures.problems.push(format!(
            "the log holds {} repeated keys, the replay ignored {absorbed} as duplicates",
            log.repeats()
        ));
    }
    figures
}

/// A counter's value in Prometheus' text format (summed over the series that carry `labels`).
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    metric_value(text, name, labels) as u64
}

fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>()
}

/// Connections the shop's Kafka clients lost, as librdkafka counts them.
async fn disconnects(shop: &Shop) -> u64 {
    metric(
        &shop.metrics().await,
        "shop_kafka_broker_disconnects_total",
        &[],
    )
}

/// Waits `phase`, sampling the producer's broker round trip as the shop exports it (librdkafka's
/// window average, once a second); the largest seen.
async fn producer_rtt_during(shop: &Shop, phase: Duration) -> f64 {
    let until = Instant::now() + phase;
    let mut seen = 0f64;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250).min(phase)).await;
        let rtt = metric_value(
            &shop.metrics().await,
            "shop_kafka_broker_rtt_avg_seconds",
            &[("client", "producer")],
        );
        seen = seen.max(rtt);
    }
    seen
}

/// A progress line, so a long run shows where it is.
fn note(scenario: &str, t: Instant, what: &str) {
    eprintln!(
        "chaos: {scenario} +{:.1} s: {what}",
        t.elapsed().as_secs_f64()
    );
}

fn row(
    name: &'static str,
    sent_reads: (u64, u64),
    must: bool,
    figures: Figures,
    t: Instant,
) -> Row {
    Row {
        name,
        figures,
        reads: Some((sent_reads.0, sent_reads.1, must)),
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// 1. The backend is killed with SIGKILL under load and started again; clients retry the
///    commands that lost their connection, with the same key.
async fn backend_sigkill(s: Settings) -> Row {
    let t = Instant::now();
    let mut shop = Shop::start(false, &[], &s).await;
    let load = Load::start(shop.addr, &s, PATIENT);
    tokio::time::sleep(s.phase).await;
    shop.kill_backend();
    tokio::time::sleep(s.phase / 2).await;
    shop.start_backend().await;
    tokio::time::sleep(s.phase).await;
    let sent = load.finish().await;
    let reads = (sent.reads.ok, sent.reads.total);
    let mut figures = settle(&mut shop, sent, false, 0).await;
    if figures.retries == 0 {
        figures
            .problems
            .push("no command was retried: the kill was not felt".into());
    }
    row("backend-sigkill", reads, false, figures, t)
}

/// 2. The broker is killed with SIGKILL and restarted: reads go on, commands get 503 and then
///    work again.
async fn broker_sigkill(s: Settings) -> Row {
    let t = Instant::now();
    let mut shop = Shop::start(false, &[], &s).await;
    let load = Load::start(shop.addr, &s, PATIENT);
    tokio::time::sleep(s.phase).await;
    shop.broker.kill();
    tokio::time::sleep(s.phase).await;
    shop.broker.restart().await;
    tokio::time::sleep(s.phase).await;
    let sent = load.finish().await;
    let reads = (sent.reads.ok, sent.reads.total);
    let mut figures = settle(&mut shop, sent, true, 0).await;
    if figures.unavailable == 0 {
        figures
            .problems
            .push("no command was answered 503 while the broker was down".into());
    }
    row("broker-sigkill", reads, true, figures, t)
}

/// 3. Network faults between backend and broker, through the proxy the broker advertises:
///    latency with jitter, a healthy spell, connections cut after 4 KB of answers, a black hole
///    that swallows everything and closes connections after a second; between two of them every
///    connection is cut and the link stays down for a moment. Then healed.
async fn network_faults(s: Settings) -> Row {
    let t = Instant::now();
    let produce_timeout = outlasting(&s);
    let mut shop = Shop::start(true, &[("KAFKA_PRODUCE_TIMEOUT_MS", &produce_timeout)], &s).await;
    let load = Load::start(shop.addr, &s, PATIENT);
    tokio::time::sleep(s.phase / 2).await;
    let latency = ToxicKind::Latency {
        latency: 50,
        jitter: 25,
    };
    let steps = [
        (
            "50 ms ± 25 ms latency both ways",
            both_ways("latency", latency),
        ),
        ("healthy", vec![]),
        (
            "connections cut after 4 KB from the broker",
            vec![toxic(
                "limit",
                ToxicKind::LimitData { bytes: 4096 },
                Downstream,
            )],
        ),
        (
            "a black hole that closes connections after 1 s",
            both_ways("blackhole", ToxicKind::Timeout { timeout: 1000 }),
        ),
    ];
    let disconnects_before = disconnects(&shop).await;
    let mut latency_seen = 0f64;
    let mut cuts = 0;
    for (what, toxics) in steps {
        note("network-faults", t, what);
        let latency_step = what.contains("latency");
        shop.proxy().set(toxics).await;
        let rtt = producer_rtt_during(&shop, s.phase).await;
        if latency_step {
            latency_seen = rtt;
        }
        // Between two faults, the link is down for a moment.
        note("network-faults", t, "link down");
        shop.proxy().disable().await;
        cuts += 1;
        tokio::time::sleep(s.phase / 4).await;
    }
    note("network-faults", t, "healed");
    shop.proxy().enable().await;
    tokio::time::sleep(s.phase).await;
    let sent = load.finish().await;
    note("network-faults", t, "load settled");
    let lost_connections = disconnects(&shop).await - disconnects_before;
    let reads = (sent.reads.ok, sent.reads.total);
    let mut figures = settle(&mut shop, sent, true, 0).await;
    // The faults must have reached the shop: the proxy is in its path only if the broker
    // advertised it. Latency: 25-75 ms each way on top of a loopback round trip.
    if latency_seen < 0.05 {
        figures.problems.push(format!(
            "the producer's broker round trip peaked at {:.1} ms under 50 ms ± 25 ms latency each way: the latency was not felt",
            latency_seen * 1e3
        ));
    }
    if lost_connections < cuts {
        figures.problems.push(format!(
            "the shop's Kafka clients lost {lost_connections} connections over {cuts} cuts of the link: the cuts were not felt"
        ));
    }
    note(
        "network-faults",
        t,
        &format!(
            "felt: producer round trip up to {:.0} ms, {lost_connections} connections lost",
            latency_seen * 1e3
        ),
    );
    row("network-faults", reads, true, figures, t)
}

/// An event of a kind this version does not know: a valid envelope whose oneof holds field 9.
fn future_kind<M: Message>(envelope: M) -> Vec<u8> {
    let mut bytes = envelope.encode_to_vec();
    // Field 9, length-delimited, holding a message whose field 1 is 42.
    bytes.extend_from_slice(&[0x4a, 0x02, 0x08, 0x2a]);
    bytes
}

/// 4. A poison (undecodable) event and an event of an unknown future kind written straight into
///    both topics: skipped, counted, and nothing else changes.
async fn poison_events(s: Settings) -> Row {
    let t = Instant::now();
    let mut shop = Shop::start(false, &[], &s).await;
    let load = Load::start(shop.addr, &s, PATIENT);
    tokio::time::sleep(s.phase).await;

    let meta = Some(CommandMeta {
        idempotency_key: "from-the-future".into(),
        fingerprint: 1,
        requested_at_ms: 0,
        record_retention_ms: 0,
    });
    let poison = vec![0xff, 0xff, 0xff, 0xff];
    let checkout_future = future_kind(CheckoutEvent {
        event: None,
        meta: meta.clone(),
    });
    let catalog_future = future_kind(CatalogEvent { event: None, meta });
    // The test's own bytes must be what they claim to be.
    assert!(CheckoutEvent::decode(poison.as_slice()).is_err());
    assert!(CatalogEvent::decode(poison.as_slice()).is_err());
    let decoded = CheckoutEvent::decode(checkout_future.as_slice()).unwrap();
    assert!(decoded.event.is_none() && decoded.meta.is_some());
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", shop.broker.brokers())
        .create()
        .unwrap();
    for (topic, payload) in [
        (verify::CHECKOUT, &poison),
        (verify::CHECKOUT, &checkout_future),
        ("shop.catalog.v1", &poison),
        ("shop.catalog.v1", &catalog_future),
    ] {
        producer
            .send(
                FutureRecord::<(), _>::to(topic).payload(payload.as_slice()),
                Duration::from_secs(10),
            )
            .await
            .expect("written into the topic");
    }
    tokio::time::sleep(s.phase).await;
    let sent = load.finish().await;
    let reads = (sent.reads.ok, sent.reads.total);
    let acked_after = sent.records().filter(|r| r.acked()).count();

    let counted = |text: &str| {
        [
            ("checkout", "shop_events_poison_total", None),
            ("catalog", "shop_events_poison_total", None),
            (
                "checkout",
                "shop_events_ignored_total",
                Some("unknown event kind"),
            ),
            (
                "catalog",
                "shop_events_ignored_total",
                Some("unknown event kind"),
            ),
        ]
        .map(|(context, name, reason)| {
            let mut labels = vec![("context", context)];
            labels.extend(reason.map(|r| ("reason", r)));
            (context, name, reason, metric(text, name, &labels))
        })
    };
    let live = counted(&shop.metrics().await);
    let mut figures = settle(&mut shop, sent, true, 1).await;
    let replayed = counted(&shop.metrics().await);
    for (when, counts) in [("live", live), ("after the restart", replayed)] {
        for (context, name, reason, n) in counts {
            if n != 1 {
                figures.problems.push(format!(
                    "{when}: {name}{{context={context}, reason={reason:?}}} is {n}, not 1"
                ));
            }
        }
    }
    if acked_after == 0 {
        figures
            .problems
            .push("no command was acknowledged in this scenario".into());
    }
    // Commands after the bad events still work.
    let (_, mut c) = load::cart_client(shop.addr);
    c.set_line(1, 1, "after-the-poison")
        .await
        .expect(http::StatusCode::OK);
    row("poison-events", reads, true, figures, t)
}

/// 5. Clients that give up waiting after a short time and retry every command with the same
///    key: first while the broker's answers are slow (300 ms ± 100 ms), then while the broker is
///    frozen (SIGSTOP) and after it thaws. Exactly one effect each.
async fn timeouts_retried(s: Settings) -> Row {
    let t = Instant::now();
    let produce_timeout = outlasting(&s);
    let mut shop = Shop::start(true, &[("KAFKA_PRODUCE_TIMEOUT_MS", &produce_timeout)], &s).await;
    let hasty = Policy {
        first_timeout: Duration::from_millis(150),
        deadline: Duration::from_secs(120),
    };
    let load = Load::start(shop.addr, &s, hasty);
    tokio::time::sleep(s.phase / 2).await;
    note("timeouts-retried", t, "answers 300 ms ± 100 ms late");
    let slow = ToxicKind::Latency {
        latency: 300,
        jitter: 100,
    };
    shop.proxy()
        .set(vec![toxic("slow", slow, Downstream)])
        .await;
    tokio::time::sleep(s.phase).await;
    shop.proxy().set(vec![]).await;
    note("timeouts-retried", t, "broker frozen");
    shop.broker.freeze();
    tokio::time::sleep(s.phase / 2).await;
    shop.broker.thaw();
    note("timeouts-retried", t, "broker thawed");
    tokio::time::sleep(s.phase).await;
    let sent = load.finish().await;
    note("timeouts-retried", t, "load settled");
    let reads = (sent.reads.ok, sent.reads.total);
    let mut figures = settle(&mut shop, sent, true, 0).await;
    if figures.timeouts == 0 {
        figures
            .problems
            .push("no client timed out: the slow answers were not felt".into());
    }
    row("timeouts-retried", reads, true, figures, t)
}

fn table(rows: &[Row], s: &Settings, total: f64) -> String {
    let mut out = format!(
        "Chaos suite, {} UTC: {} shoppers, phases of {:.1} s, {} products with {} units each \
         (plus the operator's deliveries); {total:.0} s in all.\n\n",
        utc_now(),
        s.shoppers,
        s.phase.as_secs_f64(),
        s.products,
        s.stock
    );
    out.push_str(
        "| scenario | sent | acked | rejected (409) | found after restart | lost | oversold | duplicates | retries (timeouts / 503) | repeats absorbed | reads served | s | result |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for r in rows {
        let f = &r.figures;
        let reads = match r.reads {
            Some((ok, total, true)) => format!("{ok}/{total}"),
            Some((ok, total, false)) => format!("{ok}/{total} (down: n/a)"),
            None => "-".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({} / {}) | {} | {} | {:.1} | {} |\n",
            r.name,
            f.sent,
            f.acked,
            f.rejected,
            f.found,
            f.lost,
            f.oversold,
            f.duplicates,
            f.retries,
            f.timeouts,
            f.unavailable,
            f.repeats,
            reads,
            r.seconds,
            if r.passed() { "ok" } else { "FAILED" }
        ));
    }
    for r in rows {
        for p in r.figures.problems.iter().take(20) {
            out.push_str(&format!("\n- {}: {p}", r.name));
        }
    }
    out.push('\n');
    out
}

fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_suite() {
    let s = settings();
    let wanted = std::env::var("CHAOS_SCENARIOS").unwrap_or_default();
    let unknown: Vec<&str> = wanted
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty() && !SCENARIOS.contains(w))
        .collect();
    assert!(
        unknown.is_empty(),
        "CHAOS_SCENARIOS names no such scenario: {unknown:?} (the scenarios: {SCENARIOS:?})"
    );
    let started = Instant::now();
    let mut rows = vec![];
    for name in SCENARIOS {
        if !wanted.is_empty() && !wanted.split(',').any(|w| w.trim() == name) {
            continue;
        }
        let t = Instant::now();
        let run = match name {
            "backend-sigkill" => tokio::spawn(backend_sigkill(s.clone())),
            "broker-sigkill" => tokio::spawn(broker_sigkill(s.clone())),
            "network-faults" => tokio::spawn(network_faults(s.clone())),
            "poison-events" => tokio::spawn(poison_events(s.clone())),
            "timeouts-retried" => tokio::spawn(timeouts_retried(s.clone())),
            other => unreachable!("{other} is in SCENARIOS but has no body"),
        };
        // A scenario that panics (a harness wait ran out) still gets its row.
        let row = run.await.unwrap_or_else(|e| {
            let why = match e.try_into_panic() {
                Ok(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            Row {
                name,
                figures: Figures {
                    problems: vec![format!("the scenario stopped: {why}")],
                    ..Figures::default()
                },
                reads: None,
                seconds: t.elapsed().as_secs_f64(),
            }
        });
        eprintln!(
            "chaos: {name} done in {:.1} s ({})",
            row.seconds,
            if row.passed() { "ok" } else { "FAILED" }
        );
        rows.push(row);
    }
    assert!(!rows.is_empty(), "no chaos scenario ran");
    let report = table(&rows, &s, started.elapsed().as_secs_f64());
    println!("\n{report}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/chaos");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report.md"), &report).unwrap();
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.name)
        .collect();
    assert!(
        failed.is_empty(),
        "chaos scenarios failed: {failed:?}\n{report}"
    );
}
