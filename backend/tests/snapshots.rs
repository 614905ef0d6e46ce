//! Snapshots end to end, in process on librdkafka's mock cluster: a graceful stop writes them, a
//! restart loads them and serves the same reads (and keeps command idempotency), a corrupt one
//! is counted and replaced by a full replay with the same reads, and the background check finds
//! the snapshot equal to a replay from offset 0.

mod support;

use std::path::Path;
use std::time::Duration;

use http::StatusCode;
use support::{InProcess, Shopper, config, eventually, mock_cluster, until_ok};

const LIMIT: Duration = Duration::from_secs(30);

/// The value of the sample of `name` whose labels include every `labels` pair.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics(shop: &InProcess) -> String {
    let reply = Shopper::new(shop.addr).get("/metrics").await;
    String::from_utf8(reply.expect(StatusCode::OK).body.to_vec()).unwrap()
}

/// Everything the shopper and the admin can read, as text.
async fn reads(shopper: &mut Shopper) -> Vec<String> {
    let mut out = vec![];
    for path in [
        "/api/products?sort=price",
        "/api/products?sort=name&page_size=2",
        "/api/products?q=lamp",
        "/api/products?category=home",
        "/api/categories",
        "/api/products/1",
        "/api/products/2",
        "/api/products/3",
        "/api/cart",
        "/api/orders",
    ] {
        let reply = shopper.get(path).await;
        out.push(format!(
            "{path}: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        ));
    }
    out
}

fn snapshot_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_the_snapshots_and_a_corrupt_one_means_a_full_replay() {
    let cluster = mock_cluster();
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap().to_owned();
    let cfg = || config(&cluster.bootstrap_servers(), &["--snapshot-dir", &dir_arg]);

    let shop = InProcess::start(cfg()).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 5).await;
    admin.add_product(2, "Chair", "Office", 9900, 3).await;
    admin.add_product(3, "Floor lamp", "Home", 4500, 0).await;
    let mut alice = Shopper::new(shop.addr);
    alice.get("/api/cart").await.expect(StatusCode::OK);
    until_ok(LIMIT, "line of a bridged product", || {
        let mut a = alice.clone();
        async move { a.set_line(1, 2, "l1").await }
    })
    .await;
    alice.set_line(2, 1, "l2").await.expect(StatusCode::OK);
    let version = alice.cart_version().await;
    let shown = alice.get("/api/cart").await.json()["lines"].clone();
    let placed = alice
        .place_shown(version, shown.clone(), "o1")
        .await
        .expect(StatusCode::CREATED);
    alice.set_line(1, 1, "l3").await.expect(StatusCode::OK);
    let before = reads(&mut alice).await;
    let m = metrics(&shop).await;
    assert_eq!(
        sample(
            &m,
            "shop_snapshot_loads_total",
            &[("context", "catalog"), ("result", "absent")]
        ),
        Some(1.0),
        "{m}"
    );
    shop.stop().await;

    let files = snapshot_files(dir.path());
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("catalog-shop.catalog.v1-"))
            && names
                .iter()
                .any(|n| n.starts_with("checkout-shop.checkout.v1-")),
        "a graceful stop writes both contexts' snapshots: {names:?}"
    );

    // Restart: both snapshots are loaded, nothing is left to replay, the reads are the same.
    let shop = InProcess::start(cfg()).await;
    let m = metrics(&shop).await;
    for context in ["catalog", "checkout"] {
        assert_eq!(
            sample(
                &m,
                "shop_snapshot_loads_total",
                &[("context", context), ("result", "loaded")]
            ),
            Some(1.0),
            "{context}: {m}"
        );
        assert!(
            sample(&m, "shop_snapshot_loaded_offset", &[("context", context)]).unwrap() > 0.0,
            "{context}: {m}"
        );
        assert_eq!(
            sample(&m, "shop_snapshot_tail_events", &[("context", context)]),
            Some(0.0),
            "{context}: {m}"
        );
    }
    let mut alice = alice.via(shop.addr);
    assert_eq!(reads(&mut alice).await, before);
    // Idempotency survives the snapshot: the same key answers the first order again.
    let again = alice.place_shown(version, shown, "o1").await;
    assert_eq!((again.status, again.body), (placed.status, placed.body));
    // The bridge resumes after the snapshot: a product added now can be bought.
    let mut admin = admin.via(shop.addr);
    admin.add_product(4, "Rug", "Home", 700, 2).await;
    until_ok(LIMIT, "line of a product added after the restart", || {
        let mut a = alice.clone();
        async move { a.set_line(4, 1, "l4").await }
    })
    .await;
    let before = reads(&mut alice).await;
    shop.stop().await;

    // Corrupt the newest snapshot of each context: the one before it is loaded and its tail
    // replayed, and the reads are the same.
    let flip = |file: &Path| {
        let mut bytes = std::fs::read(file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(file, bytes).unwrap();
    };
    let files = snapshot_files(dir.path());
    for prefix in ["catalog-", "checkout-"] {
        let newest = files
            .iter()
            .filter(|f| f.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .max()
            .unwrap();
        flip(newest);
    }
    let shop = InProcess::start(cfg()).await;
    let m = metrics(&shop).await;
    for context in ["catalog", "checkout"] {
        for result in ["corrupt", "loaded"] {
            assert_eq!(
                sample(
                    &m,
                    "shop_snapshot_loads_total",
                    &[("context", context), ("result", result)]
                ),
                Some(1.0),
                "{context} {result}: {m}"
            );
        }
        assert!(
            sample(&m, "shop_snapshot_tail_events", &[("context", context)]).unwrap() > 0.0,
            "{context}: the tail after the older snapshot is replayed: {m}"
        );
    }
    let mut alice = alice.via(shop.addr);
    assert_eq!(reads(&mut alice).await, before);
    shop.stop().await;

    // Every snapshot corrupt: a full replay, each file counted, the same reads.
    let files = snapshot_files(dir.path());
    files.iter().for_each(|f| flip(f));
    let shop = InProcess::start(cfg()).await;
    let m = metrics(&shop).await;
    for context in ["catalog", "checkout"] {
        let count = files
            .iter()
            .filter(|f| {
                f.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{context}-"))
            })
            .count();
        assert_eq!(
            sample(
                &m,
                "shop_snapshot_loads_total",
                &[("context", context), ("result", "corrupt")]
            ),
            Some(count as f64),
            "{context}: {m}"
        );
        assert_eq!(
            sample(
                &m,
                "shop_snapshot_loads_total",
                &[("context", context), ("result", "loaded")]
            ),
            None,
            "{context}: {m}"
        );
        let applied = sample(&m, "shop_context_applied_offset", &[("context", context)]);
        assert_eq!(
            sample(&m, "shop_snapshot_tail_events", &[("context", context)]),
            applied,
            "{context}: replayed from offset 0: {m}"
        );
    }
    let mut alice = alice.via(shop.addr);
    assert_eq!(reads(&mut alice).await, before);
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_check_finds_the_snapshots_equal_to_a_replay() {
    let cluster = mock_cluster();
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap().to_owned();
    let cfg = config(
        &cluster.bootstrap_servers(),
        &[
            "--snapshot-dir",
            &dir_arg,
            "--snapshot-every-events",
            "2",
            "--snapshot-verify-every-secs",
            "1",
        ],
    );
    let shop = InProcess::start(cfg).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 5).await;
    admin.add_product(2, "Chair", "Office", 9900, 3).await;
    let mut bob = Shopper::new(shop.addr);
    bob.get("/api/cart").await.expect(StatusCode::OK);
    until_ok(LIMIT, "line of a bridged product", || {
        let mut b = bob.clone();
        async move { b.set_line(1, 1, "l1").await }
    })
    .await;
    let version = bob.cart_version().await;
    bob.place_order(version, "o1").await;

    let addr = shop.addr;
    for context in ["catalog", "checkout"] {
        eventually(
            Duration::from_secs(60),
            "a background check of a snapshot with events",
            || async move {
                let reply = Shopper::new(addr).get("/metrics").await;
                let m = String::from_utf8_lossy(&reply.body).into_owned();
                let verified = sample(&m, "shop_snapshot_verified", &[("context", context)]);
                let offset = sample(&m, "shop_snapshot_verified_offset", &[("context", context)]);
                assert_ne!(verified, Some(0.0), "{context}: snapshot differs: {m}");
                verified == Some(1.0) && offset.is_some_and(|o| o >= 2.0)
            },
        )
        .await;
    }
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_another_log_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap().to_owned();
    let with_snapshots = |cluster: &support::Cluster| {
        config(&cluster.bootstrap_servers(), &["--snapshot-dir", &dir_arg])
    };

    let first = mock_cluster();
    let shop = InProcess::start(with_snapshots(&first)).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 0).await;
    admin.add_product(2, "Chair", "Office", 9900, 0).await;
    shop.stop().await;
    assert!(!snapshot_files(dir.path()).is_empty());

    // Another log as long as the first (the topic deleted and filled anew), then a start with
    // the first log's snapshots.
    let second = mock_cluster();
    let shop = InProcess::start(config(&second.bootstrap_servers(), &[])).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(7, "Rug", "Home", 700, 0).await;
    admin.add_product(8, "Stool", "Office", 1900, 0).await;
    shop.stop().await;

    let shop = InProcess::start(with_snapshots(&second)).await;
    let m = metrics(&shop).await;
    assert_eq!(
        sample(
            &m,
            "shop_snapshot_loads_total",
            &[("context", "catalog"), ("result", "log_mismatch")]
        ),
        Some(1.0),
        "{m}"
    );
    let mut admin = Shopper::new(shop.addr);
    admin.get("/api/products/7").await.expect(StatusCode::OK);
    admin
        .get("/api/products/1")
        .await
        .expect(StatusCode::NOT_FOUND);
    shop.stop().await;
}

/// The catalog's snapshot is loaded while checkout starts; when it turns out to lie beyond the
/// catalog events checkout has copies of (here: a replica ran without the bridge), it is set
/// aside, an older one is loaded, and the bridge copies what checkout missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_snapshot_beyond_the_bridged_copies_is_set_aside() {
    let cluster = mock_cluster();
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap().to_owned();
    let cfg = |bridge: &str| {
        config(
            &cluster.bootstrap_servers(),
            &["--snapshot-dir", &dir_arg, "--bridge", bridge],
        )
    };

    let shop = InProcess::start(cfg("true")).await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 0).await;
    shop.stop().await;

    // Without the bridge, the catalog moves on and checkout hears nothing of it.
    let shop = InProcess::start(cfg("false")).await;
    let mut admin = admin.via(shop.addr);
    admin.add_product(2, "Chair", "Office", 9900, 0).await;
    shop.stop().await;

    let shop = InProcess::start(cfg("true")).await;
    let m = metrics(&shop).await;
    for (result, count) in [("ahead_of_start", 1.0), ("loaded", 2.0)] {
        assert_eq!(
            sample(
                &m,
                "shop_snapshot_loads_total",
                &[("context", "catalog"), ("result", result)]
            ),
            Some(count),
            "{result}: {m}"
        );
    }
    assert!(
        sample(&m, "shop_snapshot_tail_events", &[("context", "catalog")]).unwrap() > 0.0,
        "the older snapshot's tail is replayed: {m}"
    );
    let mut alice = Shopper::new(shop.addr);
    alice.get("/api/cart").await.expect(StatusCode::OK);
    until_ok(LIMIT, "line of the product checkout missed", || {
        let mut a = alice.clone();
        async move { a.set_line(2, 1, "l2").await }
    })
    .await;
    shop.stop().await;
}
