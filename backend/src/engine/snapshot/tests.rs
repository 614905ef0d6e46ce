//! The snapshot store's tests: round trips, rejected files, start-up choice and the verifier,
//! on real folds.

use super::codec::*;
use super::file::*;
use super::store::*;
use super::verify::*;
use crate::catalog::CatalogFold;
use crate::catalog::fold::tests::upsert;
use crate::checkout::CheckoutFold;
use crate::engine::Fold;
use crate::engine::metrics::{SnapshotRecorder, Unrecorded};

/// Counts start-up loads by result (what the shop's metrics count them into).
#[derive(Default)]
struct LoadCounts(std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>);

impl LoadCounts {
    /// The counts by result, sorted.
    fn load_counts(&self) -> Vec<(&'static str, u64)> {
        let counts = self.0.lock().unwrap();
        counts.iter().map(|(r, n)| (*r, *n)).collect()
    }
}

impl SnapshotRecorder for LoadCounts {
    fn load_result(&self, result: &'static str) {
        *self.0.lock().unwrap().entry(result).or_default() += 1;
    }
    fn loaded(&self, _offset: i64, _took: std::time::Duration) {}
    fn tail(&self, _events: u64) {}
    fn written(&self, _offset: i64, _bytes: u64, _took: std::time::Duration) {}
    fn write_failed(&self) {}
    fn verified(&self, _equal: bool, _offset: i64) {}
}

fn catalog_payload() -> Vec<u8> {
    let mut m = crate::catalog::Catalog::default();
    CatalogFold::apply(&mut m, &upsert(1, "Lamp", "Home", 500), 0);
    CatalogFold::apply(&mut m, &upsert(2, "Chair", "Home", 300), 1);
    CatalogFold::finalize(&mut m);
    encode::<CatalogFold>(&m)
}

fn reject(bytes: &[u8], topic: &str) -> Rejected {
    match parse(bytes).and_then(|(h, p)| {
        check_compatible::<CatalogFold>(&h, topic)?;
        decode::<CatalogFold>(p).map_err(|e| Rejected::Corrupt(e.0))
    }) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

#[test]
fn a_good_file_round_trips() {
    let payload = catalog_payload();
    let file = file_bytes::<CatalogFold>("t", 2, 9, &payload);
    let (h, p) = parse(&file).unwrap();
    check_compatible::<CatalogFold>(&h, "t").unwrap();
    assert_eq!((h.offset, p), (2, &payload[..]));
    let model = decode::<CatalogFold>(p).unwrap();
    assert_eq!(encode::<CatalogFold>(&model), payload);
}

#[test]
fn every_flipped_byte_is_caught() {
    let file = file_bytes::<CatalogFold>("t", 2, 9, &catalog_payload());
    for i in 0..file.len() {
        let mut bad = file.clone();
        bad[i] ^= 0x10;
        let why = reject(&bad, "t");
        // A flip in the format version is read as another version; anywhere else the
        // checksum (or the magic) catches it.
        assert!(
            matches!(why, Rejected::Corrupt(_) | Rejected::Incompatible(_)),
            "byte {i}: {why}"
        );
        if !(8..12).contains(&i) {
            assert_eq!(why.label(), "corrupt", "byte {i}: {why}");
        }
    }
}

#[test]
fn truncated_files_are_corrupt() {
    let file = file_bytes::<CatalogFold>("t", 2, 9, &catalog_payload());
    for len in [0, 7, 20, file.len() / 2, file.len() - 1] {
        let why = reject(&file[..len], "t");
        assert_eq!(why.label(), "corrupt", "{len} bytes: {why}");
    }
    let why = reject(&file[..file.len() - 1], "t").to_string();
    assert!(why.contains("truncated"), "{why}");
}

#[test]
fn other_versions_topics_and_contexts_are_incompatible() {
    let payload = catalog_payload();
    let mut file = file_bytes::<CatalogFold>("t", 2, 9, &payload);
    file[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert!(reject(&file, "t").to_string().contains("format version"));

    // A model version this build does not know, with a valid checksum.
    let (mut head, _) = head_and_crc::<CatalogFold>("t", 2, 9, &payload);
    head[12..16].copy_from_slice(&(CatalogFold::MODEL_VERSION + 1).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(&payload);
    let mut file = head;
    file.extend_from_slice(&crc.finalize().to_le_bytes());
    file.extend_from_slice(&payload);
    let why = reject(&file, "t");
    assert_eq!(why.label(), "incompatible");
    assert!(why.to_string().contains("model version"), "{why}");

    let file = file_bytes::<CatalogFold>("t", 2, 9, &payload);
    assert!(reject(&file, "other").to_string().contains("topic"));
    let file = file_bytes::<CheckoutFold>("t", 2, 9, &payload);
    assert!(reject(&file, "t").to_string().contains("context"));
}

#[test]
fn lengths_beyond_the_payload_are_refused_without_allocating() {
    let mut e = Encoder::default();
    e.u64(u64::MAX);
    let mut d = Decoder::new(&e.buf);
    assert!(d.len(1).is_err());
}

#[test]
fn start_up_picks_the_newest_usable_snapshot_and_counts_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = crate::catalog::Catalog::default();
    CatalogFold::finalize(&mut m);
    let stale = dir.path().join("catalog-t-00000000000000000009.snap.tmp");
    std::fs::write(&stale, b"half a file").unwrap();
    for offset in 1..=4 {
        CatalogFold::apply(
            &mut m,
            &upsert(offset as u64, "Lamp", "Home", 5),
            offset - 1,
        );
        write::<CatalogFold>(dir.path(), "t", offset, 9, &m, 3).unwrap();
    }
    let files = list::<CatalogFold>(dir.path(), "t").unwrap();
    assert_eq!(
        files.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![4, 3, 2],
        "the newest 3 are kept"
    );
    assert!(!stale.exists(), "a crash's temporary file is removed");
    // 4 is beyond the log, 3 is corrupt: 2 is used.
    let mut bytes = std::fs::read(&files[1].1).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&files[1].1, bytes).unwrap();
    let metrics = LoadCounts::default();
    let loaded = load_newest::<CatalogFold>(dir.path(), "t", 3, &metrics).unwrap();
    assert_eq!(loaded.offset, 2);
    assert_eq!(loaded.model.product_count(), 2);
    assert_eq!(
        metrics.load_counts(),
        vec![("ahead_of_log", 1), ("corrupt", 1), ("loaded", 1)]
    );

    let empty = tempfile::tempdir().unwrap();
    assert!(load_newest::<CatalogFold>(empty.path(), "t", 3, &metrics).is_none());
    assert_eq!(metrics.load_counts()[0], ("absent", 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_check_tells_an_equal_snapshot_from_a_different_one() {
    use crate::engine::kafka::{self, BrokerStatus};
    use prost::Message as _;

    let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
    cluster.create_topic("t", 1, 1).unwrap();
    let cfg = crate::engine::writer::tests::kafka_config(cluster.bootstrap_servers());
    let producer = kafka::producer(&cfg, BrokerStatus::new()).unwrap();
    let events = [
        upsert(1, "Lamp", "Home", 500),
        upsert(2, "Chair", "Office", 300),
        upsert(1, "Lamp", "Home", 700),
    ];
    let status = BrokerStatus::new();
    for e in &events {
        kafka::produce(&producer, &status, "t", b"k", &e.encode_to_vec())
            .await
            .unwrap();
    }
    let mut right = crate::catalog::Catalog::default();
    let mut wrong = crate::catalog::Catalog::default();
    for (i, e) in events.iter().enumerate() {
        CatalogFold::apply(&mut right, e, i as i64);
        // A fold that missed the last event.
        if i < 2 {
            CatalogFold::apply(&mut wrong, e, i as i64);
        }
    }
    CatalogFold::finalize(&mut right);
    CatalogFold::finalize(&mut wrong);

    let dir = tempfile::tempdir().unwrap();
    let metrics = Unrecorded;
    let consumer = kafka::consumer(&cfg, "verify", BrokerStatus::new()).unwrap();
    let (_stop, shutdown) = crate::shutdown::channel();
    let (path, shutdown2) = (dir.path().to_owned(), shutdown.clone());
    let check = move |model: crate::catalog::Catalog| {
        write::<CatalogFold>(&path, "t", 3, 9, &model, 1).unwrap();
        verify_once::<CatalogFold>(&consumer, &path, "t", &shutdown2, &metrics)
    };
    let verdicts = tokio::task::spawn_blocking(move || (check(wrong), check(right)))
        .await
        .unwrap();
    assert!(
        matches!(verdicts.0, Verdict::Different { offset: 3, .. }),
        "{verdicts:?}"
    );
    assert_eq!(verdicts.1, Verdict::Equal { offset: 3 });
}
