//! Topics changing under a running shop, on the real local broker (tansu, built with the fixes
//! of `broker/patches/`) and the real `shop` binary: another application's topic created and
//! deleted changes nothing; a shop topic deleted, or deleted and made again, stops the context
//! that folds it (not ready, with the reason) and never crashes the process.

mod support;

use std::time::Duration;

use http::StatusCode;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use support::{Backend, Broker, Shopper, log_size};

const CATALOG: &str = "shop.catalog.v1";
const CHECKOUT: &str = "shop.checkout.v1";

fn admin(broker: &Broker) -> AdminClient<DefaultClientContext> {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .create()
        .expect("an admin client")
}

async fn create(broker: &Broker, topic: &str) {
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    for r in admin(broker)
        .create_topics(&[new], &AdminOptions::new())
        .await
        .expect("create_topics answered")
    {
        r.unwrap_or_else(|(t, e)| panic!("creating {t}: {e}"));
    }
}

async fn delete(broker: &Broker, topic: &str) {
    for r in admin(broker)
        .delete_topics(&[topic], &AdminOptions::new())
        .await
        .expect("delete_topics answered")
    {
        r.unwrap_or_else(|(t, e)| panic!("deleting {t}: {e}"));
    }
}

/// The broker's topics, as a client of the test's own sees them.
fn topics(broker: &Broker) -> Vec<String> {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .create()
        .unwrap();
    let md = c.fetch_metadata(None, Duration::from_secs(5)).unwrap();
    let mut names: Vec<_> = md
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name().to_owned())
        .collect();
    names.sort();
    names
}

/// A shop with a product, stock and a cart line, so both topics hold events.
async fn a_shop_with_events() -> (Broker, Backend, Shopper) {
    let broker = Broker::start().await;
    let backend = Backend::start(&broker.brokers(), &[]).await;
    let mut s = Shopper::new(backend.addr);
    s.add_product(1, "Desk lamp", "Lighting", 3990, 5).await;
    s.set_line(1, 2, "line-1").await.expect(StatusCode::OK);
    (broker, backend, s)
}

fn alive(backend: &mut Backend) {
    if let Some(status) = backend.exited() {
        panic!("the shop's process ended: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_topic_created_and_deleted_changes_nothing() {
    let (broker, mut backend, mut s) = a_shop_with_events().await;
    let before = (log_size(&broker, CATALOG), log_size(&broker, CHECKOUT));
    assert!(before.0 > 0 && before.1 > 0, "{before:?}");

    create(&broker, "scratch.x").await;
    assert!(topics(&broker).contains(&"scratch.x".to_owned()));
    delete(&broker, "scratch.x").await;

    assert_eq!(
        topics(&broker),
        [CATALOG, CHECKOUT],
        "the shop's topics are intact"
    );
    assert_eq!(
        (log_size(&broker, CATALOG), log_size(&broker, CHECKOUT)),
        before,
        "no event of the shop's topics was lost"
    );
    // A few seconds in which a client whose metadata mentioned the deleted topic would act on it.
    for _ in 0..20 {
        alive(&mut backend);
        s.get("/readyz").await.expect(StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cart = s.get("/api/cart").await.expect(StatusCode::OK).json();
    assert_eq!(cart["lines"][0]["quantity"], 2, "{cart}");
    s.set_line(1, 3, "line-2").await.expect(StatusCode::OK);
    alive(&mut backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_topic_deleted_then_made_again_stops_its_context_with_the_reason() {
    let (broker, mut backend, s) = a_shop_with_events().await;

    delete(&broker, CATALOG).await;
    assert_eq!(
        topics(&broker),
        [CHECKOUT],
        "only the deleted topic is gone"
    );
    // Polled by hand, so that a crashed process is reported as such (with its signal).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        alive(&mut backend);
        let r = s.clone().get("/readyz").await;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        if r.status == StatusCode::SERVICE_UNAVAILABLE && body.contains(CATALOG) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not ready naming the deleted topic within 30 s: {} {body}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    alive(&mut backend);
    let mut reader = s.clone();
    let products = reader.get("/api/products").await;
    assert_eq!(
        products.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no read of a model without its log"
    );

    // The topic made again (empty, or refilled by someone) must not be taken for the old one.
    create(&broker, CATALOG).await;
    for _ in 0..20 {
        alive(&mut backend);
        let r = s.clone().get("/readyz").await;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains(CATALOG), "{body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cart = reader.get("/api/cart").await;
    assert_eq!(cart.status, StatusCode::SERVICE_UNAVAILABLE);
    alive(&mut backend);
}

/// Runs a command with `stdin`, returning its standard output; fails the test on a non-zero exit.
fn run(program: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} (make test installs it): {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Debian's `kcat` (librdkafka 2.0.2), the tool operators reach for first: it lists, writes and
/// reads the local broker's topics, and a shop event it reads decodes with `protoc`, as the
/// README shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_lists_writes_and_reads_and_protoc_decodes_a_shop_event() {
    let (broker, _backend, _s) = a_shop_with_events().await;
    let b = broker.brokers();
    create(&broker, "kcat.check").await;

    let listed = String::from_utf8(run("kcat", &["-b", &b, "-L"], b"")).unwrap();
    for topic in [CATALOG, CHECKOUT, "kcat.check"] {
        assert!(listed.contains(&format!("topic \"{topic}\"")), "{listed}");
    }
    run(
        "kcat",
        &["-b", &b, "-P", "-t", "kcat.check", "-K:"],
        b"k1:one\nk2:two\n",
    );
    let read = run(
        "kcat",
        &[
            "-b",
            &b,
            "-C",
            "-t",
            "kcat.check",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%o %k=%s\\n",
        ],
        b"",
    );
    assert_eq!(String::from_utf8(read).unwrap(), "0 k1=one\n1 k2=two\n");

    let event = run(
        "kcat",
        &[
            "-b", &b, "-C", "-t", CATALOG, "-o", "0", "-c", "1", "-e", "-f", "%s",
        ],
        b"",
    );
    let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto");
    let decoded = run(
        "protoc",
        &[
            "--decode=shop.CatalogEvent",
            "-I",
            proto,
            "catalog_events.proto",
        ],
        &event,
    );
    let decoded = String::from_utf8(decoded).unwrap();
    assert!(
        decoded.contains("product_upserted_v1") && decoded.contains("title: \"Desk lamp\""),
        "{decoded}"
    );
}
