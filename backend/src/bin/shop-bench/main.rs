//! `shop-bench`: the benchmark harness behind `make bench`.
//!
//! It starts its own local broker (tansu, in a fresh temporary directory on a free port), runs
//! nine measurements and writes them to a Markdown report:
//!
//! a. **Replay** of a catalog topic: the engine's start-up replay against a bare librdkafka
//!    consumer that only counts the same messages (the broker is the bottleneck).
//! b. **Decode + apply** without a broker: prost decoding and the pure folds on one thread,
//!    against decoding alone.
//! c. **Memory** of the loaded catalog model against the raw size of the products' fields.
//! d. **Reads** over HTTP with `wrk`: the real shop (in this process) against a bare hyper server
//!    (also in this process) that answers a fixed body of the same size.
//! e. **Add-to-cart round trip** against the broker's own produce round trip and the raw
//!    produce→consumed latency at the same `fetch.wait.max.ms`.
//! f. **Start-up with a snapshot** against a replay from offset 0: the catalog context's time to
//!    ready on the broker both ways, each model's snapshot write and load without a broker, and
//!    the whole `shop` binary's time to ready both ways.
//! s. **Search** at a million products: query latency by kind, `/healthz` beside 32 searching
//!    connections, the index's memory, build and per-change cost, and relevance over judged
//!    queries.
//! t. **Commands under load**: add-to-cart and place-order at 16, 64 and 256 clients against the
//!    broker's raw rate, and product page reads alone and beside a command load.
//! u. **How cost grows**: the real binary at 10,000, 100,000 and 1,000,000 products, with an
//!    SVG chart.
//!
//! Benchmarks are not tests: nothing here asserts on a timing. Every figure is reported next to
//! a baseline measured in the same run, because these machines are noisy.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::Parser;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use indicatif::ProgressBar;
use prost::Message as _;
use rdkafka::consumer::Consumer as _;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use shared::ids::CartId;
use shared::proto::{
    CartLineSetV1, CatalogEvent, CatalogFactV1, CheckoutEvent, CommandMeta, OrderRequestedV1,
    StockDeliveredV1, catalog_event, checkout_event,
};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

use backend::admin::import;
use backend::app::Server;
use backend::catalog::{Catalog, CatalogFold};
use backend::checkout::{Checkout, CheckoutFold};
use backend::config::{Config, KafkaConfig};
use backend::engine::kafka::{self, BrokerStatus};
use backend::engine::snapshot;
use backend::engine::{self, Context, Fold};
use backend::http::cookie;
use backend::tools::generate;
use backend::{commands, shutdown};

/// A cart cookie as the shop would issue it: its shops run on loopback without `CART_KEY`, so
/// under the development key, and a client mints its own instead of reading a `Set-Cookie`.
fn bench_cart_cookie() -> String {
    format!(
        "{}={}",
        cookie::NAME,
        cookie::CartKeys::development().issue().value
    )
}

mod broker;
mod cart;
mod command_load;
mod decode_apply;
mod events;
mod measure;
mod memory;
mod numbers;
mod reads;
mod replay;
mod report;
mod scale;
mod search;
mod servers;
mod startup;
mod whole_shop;
mod wrk;

use broker::*;
use events::*;
use measure::*;
use numbers::*;
use servers::*;
use wrk::*;

/// Benchmarks of the shop against baselines measured in the same run; writes a Markdown report.
#[derive(Parser)]
#[command(name = "shop-bench", version)]
struct Args {
    /// The tansu broker binary (started and stopped by this run).
    #[arg(long, value_name = "PATH", required_unless_present_any = ["memory_probe", "search_probe", "paced"])]
    tansu: Option<PathBuf>,
    /// Where to write the Markdown report.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["memory_probe", "search_probe", "paced"])]
    out: Option<PathBuf>,
    /// Internal: GET this URL at `--paced-rate` per second for 5 s (open loop) and print
    /// "p50_us p99_us"; used by section d.
    #[arg(long, hide = true)]
    paced: Option<String>,
    #[arg(long, hide = true, default_value_t = 1000.0)]
    paced_rate: f64,
    #[arg(long, hide = true, default_value = "application/json")]
    paced_accept: String,
    /// Internal: build the catalog model of `--products` products in this (fresh) process and
    /// print "rss_before rss_after raw_bytes products rss_after_drop"; used by section c.
    #[arg(long, hide = true)]
    memory_probe: bool,
    /// Internal: build the catalog of `--products` products, then run these searches
    /// (`|`-separated) in a loop for ten seconds; for profiling with `perf`.
    #[arg(long, hide = true)]
    search_probe: Option<String>,
    /// Catalog events for the replay and decode + apply measurements.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Products of the catalog model in the memory measurement (and of the checkout model in
    /// the decode + apply one).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(20..))]
    products: u64,
    /// Products the in-process shop of the read and cart measurements is loaded with. Its
    /// start-up replays the catalog, the stock and the bridge's copies through the broker (about
    /// 10k events/s on tansu), so 1,000,000 would add several minutes to the run.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(20..))]
    shop_products: u64,
    /// Products of the whole-shop start-up in section f (the release `shop` binary beside this
    /// one; 0 skips it). At 1,000,000 its first start replays and bridges for about 6 minutes.
    #[arg(long, default_value_t = 1_000_000)]
    whole_shop_products: u64,
    /// Catalog sizes of section u, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    scale_products: Vec<u64>,
    /// Where section u writes its chart (shown by the report, which links it by file name).
    #[arg(long, value_name = "FILE", default_value = "BENCHMARKS-scale.svg")]
    scale_chart: PathBuf,
    /// Length of each `wrk` run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    duration_secs: u64,
    /// librdkafka's fetch.wait.max.ms for every consumer of this run (the shop's too).
    #[arg(long, default_value_t = 10)]
    fetch_wait_ms: u32,
    /// Seed of the generated products (`shop generate --seed`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Put the sections run into this existing report (each in place of its old self, a new one
    /// before section g) instead of writing `--out` as a whole report.
    #[arg(long, value_name = "FILE")]
    splice_into: Option<PathBuf>,
    /// Sections to run, a subset of `abcdefstu` (d, e and t share one in-process shop; f reuses
    /// a.'s topic when a. runs).
    #[arg(long, default_value = "abcdefstu")]
    sections: String,
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run());
    // A shop writer stuck on a dead broker must not keep the process alive after the report.
    runtime.shutdown_timeout(Duration::from_secs(10));
    result
}

async fn run() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,librdkafka=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let started = Instant::now();
    let command = std::env::args()
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");

    if let Some(url) = &args.paced {
        return paced_probe(url, args.paced_rate, &args.paced_accept).await;
    }
    if let Some(queries) = &args.search_probe {
        search::probe(args.products, args.seed, queries);
        return Ok(());
    }
    if args.memory_probe {
        let [before, after, raw, products, without_index, dropped] =
            memory_probe(args.products, args.seed)?;
        println!("{before} {after} {raw} {products} {without_index} {dropped}");
        return Ok(());
    }
    let (Some(tansu), Some(out)) = (args.tansu.clone(), args.out.clone()) else {
        bail!("--tansu and --out are required");
    };
    let broker = Broker::start(&tansu).await?;
    progress(started, &format!("broker up on {}", broker.brokers()));
    let mut bench = Bench {
        started,
        broker,
        shop: None,
        catalog_topic: None,
        sections: vec![],
        fetch_wait_ms: args.fetch_wait_ms,
        args,
    };
    let interrupted = tokio::select! {
        _ = bench.run_all() => false,
        _ = shutdown::signal() => true,
    };
    bench.stop_shop().await;
    if interrupted {
        eprintln!("interrupted: the shop and the broker are stopped, no report written");
        return Ok(());
    }
    let total = started.elapsed();
    let report = match &bench.args.splice_into {
        Some(into) => {
            let old = std::fs::read_to_string(into)
                .with_context(|| format!("cannot read {}", into.display()))?;
            report::splice(&old, &bench.sections_md(Some(&command)), 'g')
        }
        None => bench.report(&command, total),
    };
    std::fs::write(&out, report).with_context(|| format!("cannot write {}", out.display()))?;
    progress(
        started,
        &format!(
            "done in {}; report written to {}",
            minutes(total),
            out.display()
        ),
    );
    Ok(())
    // The broker is killed and its directory removed when `bench` is dropped here.
}

/// One run's state: the broker, the shop (started by section d, used by e) and the results.
struct Bench {
    args: Args,
    started: Instant,
    broker: Broker,
    shop: Option<Shop>,
    /// The topic section a filled with products 1..=N, reused as the shop's catalog.
    catalog_topic: Option<(String, u64)>,
    sections: Vec<Section>,
    fetch_wait_ms: u32,
}

/// A section of the report.
struct Section {
    title: String,
    notes: Vec<String>,
    table: Table,
    elapsed: Duration,
}

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: vec![],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

type SectionResult = anyhow::Result<(Vec<String>, Table)>;

impl Bench {
    async fn run_all(&mut self) {
        let wanted = self.args.sections.clone();
        let all: [(char, &str); 9] = [
            ('a', "a. Replay: engine vs raw librdkafka consumer"),
            ('b', "b. Decode + apply without a broker (one thread)"),
            ('c', "c. Memory of the catalog model"),
            ('d', "d. Reads over HTTP: shop vs bare hyper"),
            ('e', "e. Add-to-cart round trip"),
            ('f', "f. Start-up: snapshot + tail vs replay from offset 0"),
            ('s', "s. Search at a million products"),
            ('t', "t. Commands under load, and reads beside them"),
            ('u', "u. How cost grows: 10,000 to 1,000,000 products"),
        ];
        for (key, title) in all {
            if !wanted.contains(key) {
                continue;
            }
            self.say(&format!("=== {title}"));
            let t0 = Instant::now();
            let result = match key {
                'a' => self.replay().await,
                'b' => self.decode_apply(),
                'c' => self.memory(),
                'd' => self.reads().await,
                'e' => self.cart().await,
                's' => self.search().await,
                't' => self.commands().await,
                'u' => self.scale().await,
                _ => self.startup().await,
            };
            let elapsed = t0.elapsed();
            let (notes, table) = result.unwrap_or_else(|e| {
                self.say(&format!("section failed: {e:#}"));
                (
                    vec![format!("**This section failed:** {e:#}")],
                    Table::new(&[]),
                )
            });
            self.say(&format!("=== {title}: {}", minutes(elapsed)));
            self.sections.push(Section {
                title: title.to_owned(),
                notes,
                table,
                elapsed,
            });
        }
    }

    fn say(&self, what: &str) {
        progress(self.started, what);
    }

    fn kafka(&self) -> anyhow::Result<KafkaConfig> {
        kafka_config(&self.broker.brokers(), self.fetch_wait_ms, 0, 5_000)
    }

    /// A bulk load's producer settings (as `shop generate` uses): fuller batches, long timeout.
    fn bulk_kafka(&self) -> anyhow::Result<KafkaConfig> {
        kafka_config(&self.broker.brokers(), self.fetch_wait_ms, 5, 120_000)
    }

    /// Creates this run's topics as the shop does (one partition, events kept forever).
    async fn create_topics(&self, topics: &[&str]) -> anyhow::Result<()> {
        Ok(kafka::ensure_topics(&self.kafka()?.settings(), topics).await?)
    }
}

/// Section c's measurement, run in a fresh process: RSS before and after building the catalog
/// model of products 1..=`p`, the raw size of their fields, the product count, and the RSS
/// after dropping the model.
fn memory_probe(p: u64, seed: u64) -> anyhow::Result<[u64; 6]> {
    let before = rss_bytes().context("cannot read VmRSS from /proc/self/status")?;
    let mut raw = 0u64;
    let mut model = Catalog::default();
    for id in 1..=p {
        let event = catalog_upsert(seed, id);
        if let Some(catalog_event::Event::ProductUpsertedV1(u)) = &event.event {
            raw += (u.title.len()
                + u.description.len()
                + u.long_text.len()
                + u.category.len()
                + u.currency.len()
                + u.image_urls.iter().map(String::len).sum::<usize>()
                + 16) as u64;
        }
        CatalogFold::apply(&mut model, &event, id as i64 - 1);
    }
    CatalogFold::finalize(&mut model);
    let after = rss_bytes().context("VmRSS")?;
    let products = model.product_count() as u64;
    drop(model.take_search_index());
    trim_heap();
    let without_index = rss_bytes().context("VmRSS")?;
    drop(model);
    trim_heap();
    let dropped = rss_bytes().context("VmRSS")?;
    Ok([before, after, raw, products, without_index, dropped])
}

struct Produced {
    bytes: u64,
    elapsed: Duration,
}

/// Prints how far a hidden progress bar got, every five seconds, until aborted.
fn ticker(
    started: Instant,
    bar: ProgressBar,
    total: u64,
    what: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            progress(started, &format!("  {what} {}/{total}", bar.position()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 10s test @ http://127.0.0.1:1/\n  1 threads and 16 connections\n  \
            Latency Distribution\n     50%  245.00us\n     75%  1.00ms\n     90%    1.10ms\n     \
            99%    2.50ms\n  100 requests in 10.00s, 1.00MB read\n  \
            Non-2xx or 3xx responses: 3\nRequests/sec:  58911.45\nTransfer/sec:      7.71MB\n";
        let run = parse_wrk(text).unwrap();
        assert_eq!(run.rps, 58911.45);
        assert_eq!(run.p50_us, 245.0);
        assert_eq!(run.p99_us, 2500.0);
        assert_eq!(run.non_2xx, 3);
    }

    #[test]
    fn formats_numbers_and_percentiles() {
        assert_eq!(count(1_234_567.8), "1,234,568");
        assert_eq!(count(999.0), "999");
        let p = Percentiles::of((1..=100).map(Duration::from_millis).collect());
        assert_eq!(
            (p.p50, p.p99),
            (Duration::from_millis(50), Duration::from_millis(99))
        );
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
