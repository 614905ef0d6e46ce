//! Criterion benchmarks of the catalog's pure code, each next to a baseline in the same group so
//! the figure to read is a ratio (these machines are noisy):
//!
//! - `catalog_replay_100k`: decoding 100k encoded catalog events and applying them with
//!   `CatalogFold::apply` in batch mode (with and without the one `finalize`), against decoding
//!   alone.
//! - `catalog_page_100k`: `catalog::query::list` of one page of 20 on a 100k-product model,
//!   against cloning 20 `Arc`s out of a plain `Vec` (the least a page can cost).
//!
//! Run with `cargo bench -p backend --bench fold` (add `-- --quick` for a short run). The HTTP
//! and Kafka figures come from `shop-bench` instead.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use shared::paging::PageRequest;
use shared::proto::{CatalogEvent, catalog_event};

use backend::catalog::fold::{Product, SortKey};
use backend::catalog::query::{self, ListQuery};
use backend::catalog::search::Plan;
use backend::catalog::{Catalog, CatalogFold};
use backend::checkout::Checkout;
use backend::engine::Fold;
use backend::tools::generate;

const N: u64 = 100_000;
const SEED: u64 = 1;

/// Products 1..=N of the seed, encoded as `shop generate` produces them.
fn encoded_events() -> Vec<Vec<u8>> {
    (1..=N)
        .map(|id| {
            CatalogEvent {
                event: Some(catalog_event::Event::ProductUpsertedV1(generate::product(
                    SEED, id,
                ))),
                // As `shop generate` writes them: a bulk load carries no idempotency key.
                meta: None,
            }
            .encode_to_vec()
        })
        .collect()
}

fn replay(events: &[Vec<u8>], finalize: bool) -> Catalog {
    let mut model = Catalog::default();
    for (offset, bytes) in events.iter().enumerate() {
        let event = CatalogEvent::decode(bytes.as_slice()).expect("valid event");
        CatalogFold::apply(&mut model, &event, offset as i64);
    }
    if finalize {
        CatalogFold::finalize(&mut model);
    }
    model
}

fn catalog_replay(c: &mut Criterion) {
    let events = encoded_events();
    let mut group = c.benchmark_group("catalog_replay_100k");
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);
    group.bench_function("baseline: decode alone", |b| {
        b.iter(|| {
            for bytes in &events {
                black_box(CatalogEvent::decode(bytes.as_slice()).expect("valid event"));
            }
        })
    });
    // The model is dropped outside the timed part: freeing 100k products is not the fold's cost.
    group.bench_function("decode + apply (batch mode)", |b| {
        b.iter_with_large_drop(|| replay(&events, false))
    });
    group.bench_function("decode + apply + finalize", |b| {
        b.iter_with_large_drop(|| replay(&events, true))
    });
    group.finish();
}

fn catalog_page(c: &mut Criterion) {
    let events = encoded_events();
    let model = replay(&events, true);
    drop(events);
    let plain: Vec<Arc<Product>> = model.listing().by(SortKey::Name).iter().cloned().collect();
    let middle = (N as u32 / 20) / 2;
    let (checkout, plan) = (Checkout::default(), Plan::default());
    let mut group = c.benchmark_group("catalog_page_100k");
    group.throughput(Throughput::Elements(20));
    group.bench_function("baseline: 20 Arc clones from a Vec slice", |b| {
        b.iter(|| black_box(black_box(&plain)[..20].to_vec()))
    });
    group.bench_function("list page 1 by name", |b| {
        let q = ListQuery::default();
        b.iter(|| black_box(query::list(&model, &checkout, black_box(&q), &plan).items))
    });
    group.bench_function("list middle page by price, descending", |b| {
        let q = ListQuery {
            page: PageRequest::new(middle, 20).expect("valid page"),
            sort: SortKey::Price,
            descending: true,
            ..Default::default()
        };
        b.iter(|| black_box(query::list(&model, &checkout, black_box(&q), &plan).items))
    });
    group.finish();
}

criterion_group!(benches, catalog_replay, catalog_page);
criterion_main!(benches);
