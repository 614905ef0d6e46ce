//! `shop import` and `shop generate` into Kafka, against librdkafka's mock cluster with the real
//! server reading the same topics: a good import lands and is served, a file with one bad row
//! writes nothing at all, re-importing the same stock file has no second effect on stock, and
//! the demo data generator writes only into an empty catalog.

mod support;

use std::path::Path;
use std::time::Duration;

use http::StatusCode;
use support::{InProcess, Shopper, config, eventually, mock_cluster};

use backend::admin::import::{self, ImportArgs, ImportCommand};
use backend::config::KafkaConfig;
use backend::engine::kafka::{self, BrokerStatus};
use backend::tools::generate::{self, GenerateArgs};

const PRODUCTS: &str = "\
id,title,description,long_text,category,price_minor,currency,image_urls
1,Desk lamp,A lamp for the desk,,Home,2500,EUR,
2,Chair,A chair,,Home,9900,EUR,https://example.com/chair.jpg
3,Kettle,A kettle,,Kitchen,3999,EUR,
";

const STOCK: &str = "\
product_id,quantity
1,5
3,2
";

fn kafka_of(brokers: &str) -> KafkaConfig {
    config(brokers, &[]).kafka
}

/// The two topics' high watermarks.
fn log_sizes(cfg: &KafkaConfig) -> (i64, i64) {
    let consumer = kafka::consumer(&cfg.settings(), "tools-test", BrokerStatus::new()).unwrap();
    let high = |t: &str| kafka::high_watermark(&consumer, t, Duration::from_secs(5)).unwrap();
    (high(&cfg.catalog_topic), high(&cfg.checkout_topic))
}

fn file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn import(
    cmd: fn(ImportArgs) -> ImportCommand,
    file: &Path,
    cfg: &KafkaConfig,
) -> anyhow::Result<()> {
    import::run(cmd(ImportArgs {
        file: file.to_owned(),
        kafka: cfg.clone(),
    }))
    .await
}

async fn available(s: &mut Shopper, id: u64) -> serde_json::Value {
    s.get(&format!("/api/products/{id}")).await.json()["availability"]["available"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_writes_all_or_nothing_and_a_reimport_changes_no_stock() {
    let cluster = mock_cluster();
    let cfg = kafka_of(&cluster.bootstrap_servers());
    let shop = InProcess::start(config(&cluster.bootstrap_servers(), &[])).await;
    let mut s = Shopper::new(shop.addr);
    let dir = tempfile::tempdir().unwrap();

    // A file with one bad row among good ones: nothing at all reaches Kafka.
    let bad = PRODUCTS.replace(
        "3,Kettle,A kettle,,Kitchen,3999",
        "3,Kettle,A kettle,,Kitchen,-1",
    );
    let before = log_sizes(&cfg);
    let err = import(
        ImportCommand::Products,
        &file(dir.path(), "bad.csv", &bad),
        &cfg,
    )
    .await
    .expect_err("a bad row fails the import");
    assert!(
        err.to_string()
            .contains("1 bad row(s); nothing was written"),
        "{err}"
    );
    assert_eq!(log_sizes(&cfg), before, "a failed import wrote events");

    import(
        ImportCommand::Products,
        &file(dir.path(), "products.csv", PRODUCTS),
        &cfg,
    )
    .await
    .unwrap();
    assert_eq!(log_sizes(&cfg).0, before.0 + 3);
    eventually(
        Duration::from_secs(20),
        "the imported products served",
        || {
            let mut s = s.clone();
            async move { s.get("/api/products").await.json()["totalItems"] == "3" }
        },
    )
    .await;
    assert_eq!(
        s.get("/api/products/2").await.expect(StatusCode::OK).json()["imageUrls"],
        serde_json::json!(["https://example.com/chair.jpg"])
    );

    let stock = file(dir.path(), "stock.csv", STOCK);
    import(ImportCommand::Stock, &stock, &cfg).await.unwrap();
    eventually(Duration::from_secs(20), "the imported stock served", || {
        let mut s = s.clone();
        async move { available(&mut s, 1).await == "5" && available(&mut s, 3).await == "2" }
    })
    .await;

    // The same file again: its rows reach the log a second time, and change nothing.
    let written = log_sizes(&cfg);
    import(ImportCommand::Stock, &stock, &cfg).await.unwrap();
    let again = log_sizes(&cfg);
    assert_eq!(
        again.1,
        written.1 + 2,
        "the re-import's rows are in the log"
    );
    let mut probe = Shopper::new(shop.addr);
    support::until_ok(
        Duration::from_secs(20),
        "a command after the re-import",
        || {
            let mut p = probe.clone();
            async move { p.set_line(2, 1, "after-reimport").await }
        },
    )
    .await;
    // That command was applied after the re-imported rows, so they have been folded too.
    assert_eq!(available(&mut probe, 1).await, "5");
    assert_eq!(available(&mut probe, 3).await, "2");
    shop.stop().await;
}

fn demo(cfg: &KafkaConfig, products: u64) -> GenerateArgs {
    GenerateArgs {
        products,
        seed: 7,
        stock_max: 5,
        csv: None,
        if_empty: true,
        kafka: cfg.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_is_generated_only_into_an_empty_catalog() {
    let cluster = mock_cluster();
    let cfg = kafka_of(&cluster.bootstrap_servers());
    generate::run(demo(&cfg, 20)).await.unwrap();
    let (catalog, checkout) = log_sizes(&cfg);
    assert_eq!(catalog, 20, "one upsert per product");
    assert!(checkout > 0 && checkout <= 20, "{checkout} stock rows");

    // The catalog holds events now: a second start-up generates nothing, whatever it asks for.
    generate::run(demo(&cfg, 50)).await.unwrap();
    assert_eq!(log_sizes(&cfg), (catalog, checkout));

    let shop = InProcess::start(config(&cluster.bootstrap_servers(), &[])).await;
    let mut s = Shopper::new(shop.addr);
    assert_eq!(s.get("/api/products").await.json()["totalItems"], "20");
    shop.stop().await;
}
