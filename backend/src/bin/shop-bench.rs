//! `shop-bench`: the benchmark harness behind `make bench`.
//!
//! It starts its own local broker (tansu, in a fresh temporary directory on a free port), runs
//! five measurements and writes them to a Markdown report:
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
//!    ready on the broker both ways, and each model's snapshot write and load without a broker.
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

use backend::app::Server;
use backend::catalog::{Catalog, CatalogFold};
use backend::checkout::{Checkout, CheckoutFold};
use backend::config::{Config, KafkaConfig};
use backend::engine::kafka::{self, BrokerStatus};
use backend::engine::snapshot;
use backend::engine::{self, Context, Fold};
use backend::http::cookie as cart_cookie;
use backend::tools::{generate, import};
use backend::{commands, shutdown};

/// Benchmarks of the shop against baselines measured in the same run; writes a Markdown report.
#[derive(Parser)]
#[command(name = "shop-bench", version)]
struct Args {
    /// The tansu broker binary (started and stopped by this run).
    #[arg(long, value_name = "PATH", required_unless_present = "memory_probe")]
    tansu: Option<PathBuf>,
    /// Where to write the Markdown report.
    #[arg(long, value_name = "FILE", required_unless_present = "memory_probe")]
    out: Option<PathBuf>,
    /// Internal: build the catalog model of `--products` products in this (fresh) process and
    /// print "rss_before rss_after raw_bytes products rss_after_drop"; used by section c.
    #[arg(long, hide = true)]
    memory_probe: bool,
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
    /// Length of each `wrk` run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    duration_secs: u64,
    /// librdkafka's fetch.wait.max.ms for every consumer of this run (the shop's too).
    #[arg(long, default_value_t = 10)]
    fetch_wait_ms: u32,
    /// Seed of the generated products (`shop generate --seed`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sections to run, a subset of `abcdef` (d and e share one in-process shop; f reuses a.'s
    /// topic when a. runs).
    #[arg(long, default_value = "abcdef")]
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

    if args.memory_probe {
        let [before, after, raw, products, dropped] = memory_probe(args.products, args.seed)?;
        println!("{before} {after} {raw} {products} {dropped}");
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
    let report = bench.report(&command, total);
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
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
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
        let all: [(char, &str); 6] = [
            ('a', "a. Replay: engine vs raw librdkafka consumer"),
            ('b', "b. Decode + apply without a broker (one thread)"),
            ('c', "c. Memory of the catalog model"),
            ('d', "d. Reads over HTTP: shop vs bare hyper"),
            ('e', "e. Add-to-cart round trip"),
            ('f', "f. Start-up: snapshot + tail vs replay from offset 0"),
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
        Ok(kafka::ensure_topics(&self.kafka()?, topics).await?)
    }

    // --- a. replay -----------------------------------------------------------------------------

    async fn replay(&mut self) -> SectionResult {
        let n = self.args.events;
        let topic = "bench.replay.catalog";
        let cfg = self.kafka()?;
        self.create_topics(&[topic]).await?;
        self.say(&format!(
            "producing {n} catalog events (products 1..={n}, seed {})",
            self.args.seed
        ));
        let seed = self.args.seed;
        let produced = self
            .produce(
                topic,
                n,
                (1..=n).map(move |id| (id.to_be_bytes(), catalog_upsert(seed, id).encode_to_vec())),
            )
            .await?;
        self.catalog_topic = Some((topic.to_owned(), n));
        let mut table = Table::new(&[
            "round",
            "engine replay (events/s)",
            "baseline: raw consumer (events/s)",
            "ratio",
            "goal",
        ]);
        let mut details = vec![];
        for round in 1..=2 {
            self.say(&format!("round {round}: raw consumer"));
            let raw = raw_consume(cfg.clone(), topic.to_owned()).await;
            match &raw {
                Ok(raw) => self.say(&format!(
                    "round {round}: raw consumer read {} events in {:.2} s ({})",
                    raw.events,
                    raw.elapsed.as_secs_f64(),
                    rate(raw.events, raw.elapsed)
                )),
                Err(e) => self.say(&format!("round {round}: raw consumer failed: {e:#}")),
            }
            self.say(&format!("round {round}: engine replay"));
            let eng = engine_replay(&cfg, topic, self.started).await;
            match &eng {
                Ok(eng) => self.say(&format!(
                    "round {round}: engine replayed {} events in {:.2} s ({}), finalize included",
                    eng.events,
                    eng.elapsed.as_secs_f64(),
                    rate(eng.events, eng.elapsed)
                )),
                Err(e) => self.say(&format!("round {round}: engine replay failed: {e:#}")),
            }
            let cell = |r: Result<(u64, Duration), &anyhow::Error>| match r {
                Ok((events, elapsed)) => format!(
                    "{} ({:.1} s)",
                    count(per_sec(events, elapsed)),
                    elapsed.as_secs_f64()
                ),
                Err(e) => format!("**failed:** {e:#}"),
            };
            let ratio = match (&raw, &eng) {
                (Ok(raw), Ok(eng)) => format!(
                    "{:.2}",
                    per_sec(eng.events, eng.elapsed) / per_sec(raw.events, raw.elapsed)
                ),
                _ => "—".into(),
            };
            table.row(vec![
                round.to_string(),
                cell(eng.as_ref().map(|e| (e.events, e.elapsed))),
                cell(raw.as_ref().map(|r| (r.events, r.elapsed))),
                ratio,
                "≥ 0.9".into(),
            ]);
            if let (Ok(raw), Ok(eng)) = (&raw, &eng) {
                details.push(format!(
                    "round {round}: {} products in the engine's model, {} MB of payload read raw",
                    eng.products,
                    raw.bytes / 1_000_000
                ));
            }
        }
        let mut notes = vec![
            format!(
                "{n} `ProductUpsertedV1` events (products 1..={n} of `shop generate --seed {}`), \
                 {:.0} bytes each on average, produced by `import::produce_all` at {} \
                 ({:.1} s; acks=all, idempotent, linger.ms=5).",
                self.args.seed,
                produced.bytes as f64 / n as f64,
                rate(n, produced.elapsed),
                produced.elapsed.as_secs_f64()
            ),
            format!(
                "Raw consumer: a `BaseConsumer` made by `kafka::consumer` (fetch.wait.max.ms={}), \
                 assigned from offset 0, polling until the high watermark and only counting. \
                 Engine: `engine::spawn` of a `Context<CatalogFold>`; time from its own start \
                 (after reading the watermark) to ready, i.e. `stats().replay_millis`, which \
                 includes `finalize`. The two alternate, twice.",
                self.fetch_wait_ms
            ),
            "The broker is the bottleneck (tansu near 100% of a core, the engine thread \
             mostly idle; compare b.). tansu 0.6.0's SQLite fetch (`record_fetch.sql`) sums \
             the sizes of every record from the fetch offset up to the high watermark before \
             applying the byte limit, and reads headers with one query per record, so a fetch \
             costs O(records after its offset): a replay of a large topic starts slow and \
             speeds up towards the end, and events/s fall as the topic grows (the toolchain \
             notes' 50–64k msg/s were for 200k messages of 100 bytes)."
                .to_owned(),
        ];
        if !details.is_empty() {
            notes.push(format!("Checks: {}.", details.join("; ")));
        }
        Ok((notes, table))
    }

    async fn produce(
        &self,
        topic: &str,
        n: u64,
        records: impl Iterator<Item = ([u8; 8], Vec<u8>)>,
    ) -> anyhow::Result<Produced> {
        let cfg = self.bulk_kafka()?;
        let producer = kafka::producer(&cfg, BrokerStatus::new())?;
        let bar = ProgressBar::hidden();
        let ticker = ticker(self.started, bar.clone(), n, "produced");
        let mut bytes = 0u64;
        let records = records.inspect(|(_, p)| bytes += p.len() as u64);
        let t0 = Instant::now();
        let result = import::produce_all(&producer, topic, records, &bar).await;
        let elapsed = t0.elapsed();
        ticker.abort();
        let written = result?;
        kafka::flush(&producer, Duration::from_secs(10));
        self.say(&format!(
            "produced {written} events to {topic} in {:.1} s ({})",
            elapsed.as_secs_f64(),
            rate(written, elapsed)
        ));
        Ok(Produced { bytes, elapsed })
    }

    // --- f. start-up with a snapshot ---------------------------------------------------------------

    async fn startup(&mut self) -> SectionResult {
        let (p, seed) = (self.args.products, self.args.seed);
        let mut table = Table::new(&["figure", "value", "baseline", "ratio", "goal"]);
        let mut notes = vec![];
        // Removed with the broker's directory at the end of the run.
        let dir = &self.broker.dir.join("snapshots");

        // Without a broker: each model's snapshot written and loaded.
        self.say(&format!(
            "building the catalog model of {p} products in memory"
        ));
        let mut catalog = Catalog::default();
        for id in 1..=p {
            CatalogFold::apply(&mut catalog, &catalog_upsert(seed, id), id as i64 - 1);
        }
        CatalogFold::finalize(&mut catalog);
        let t0 = Instant::now();
        let written =
            snapshot::file::write::<CatalogFold>(dir, "mem.catalog", p as i64, 0, &catalog, 1)?;
        let write = t0.elapsed();
        drop(catalog);
        trim_heap();
        let load = load_snapshot::<CatalogFold>(dir, "mem.catalog", p as i64)?;
        self.say(&format!(
            "catalog snapshot: {} MB written in {:.2} s (encode {:.2} s), loaded in {:.2} s ({:.2} s CPU)",
            written.bytes / 1_000_000,
            write.as_secs_f64(),
            written.encode.as_secs_f64(),
            load.wall.as_secs_f64(),
            load.cpu.as_secs_f64()
        ));
        table.row(vec![
            format!("catalog snapshot load, {} products (s)", load.entries),
            format!("{:.2}", load.wall.as_secs_f64()),
            format!("CPU time: {:.2}", load.cpu.as_secs_f64()),
            "—".into(),
            "≤ 2 s".into(),
        ]);
        table.row(vec![
            format!(
                "catalog snapshot write ({} MB; off the writer thread) (s)",
                written.bytes / 1_000_000
            ),
            format!("{:.2}", write.as_secs_f64()),
            format!("encode alone: {:.2}", written.encode.as_secs_f64()),
            "—".into(),
            "—".into(),
        ]);

        self.say(&format!(
            "building the checkout model of {p} products and stock in memory"
        ));
        let mut checkout = Checkout::default();
        for id in 1..=p {
            let fact = CheckoutEvent {
                event: Some(checkout_event::Event::CatalogFactV1(CatalogFactV1 {
                    source_offset: id as i64 - 1,
                    previous_source_offset: id as i64 - 2,
                    event: Some(catalog_upsert(seed, id)),
                })),
                meta: None,
            };
            CheckoutFold::apply(&mut checkout, &fact, id as i64 - 1);
            let stock = CheckoutEvent {
                event: Some(checkout_event::Event::StockDeliveredV1(StockDeliveredV1 {
                    product_id: id,
                    quantity: 1_000,
                })),
                meta: Some(meta(format!("stock-{id}"))),
            };
            CheckoutFold::apply(&mut checkout, &stock, (p + id) as i64);
        }
        CheckoutFold::finalize(&mut checkout);
        let t0 = Instant::now();
        let written = snapshot::file::write::<CheckoutFold>(
            dir,
            "mem.checkout",
            2 * p as i64,
            0,
            &checkout,
            1,
        )?;
        let write = t0.elapsed();
        drop(checkout);
        trim_heap();
        let load = load_snapshot::<CheckoutFold>(dir, "mem.checkout", 2 * p as i64)?;
        self.say(&format!(
            "checkout snapshot: {} MB written in {:.2} s, loaded in {:.2} s ({:.2} s CPU)",
            written.bytes / 1_000_000,
            write.as_secs_f64(),
            load.wall.as_secs_f64(),
            load.cpu.as_secs_f64()
        ));
        table.row(vec![
            format!("checkout snapshot load, {p} products + {p} stock deliveries (s)"),
            format!("{:.2}", load.wall.as_secs_f64()),
            format!("CPU time: {:.2}", load.cpu.as_secs_f64()),
            "—".into(),
            "≤ 2 s".into(),
        ]);

        // On the broker: the catalog context's start-up, from offset 0 and from the snapshot
        // the first start wrote.
        let n = self.args.events;
        let topic = match &self.catalog_topic {
            Some((topic, events)) if *events == n => topic.clone(),
            _ => {
                let topic = "bench.startup.catalog";
                self.create_topics(&[topic]).await?;
                self.say(&format!(
                    "producing {n} catalog events (products 1..={n}, seed {seed})"
                ));
                self.produce(
                    topic,
                    n,
                    (1..=n).map(move |id| {
                        (id.to_be_bytes(), catalog_upsert(seed, id).encode_to_vec())
                    }),
                )
                .await?;
                self.catalog_topic = Some((topic.to_owned(), n));
                topic.to_owned()
            }
        };
        let cfg = self.kafka()?;
        let settings = snapshot::SnapshotSettings {
            dir: dir.join("broker"),
            every_events: 0,
            every: Duration::ZERO,
            keep: 1,
            verify_every: None,
        };
        self.say("catalog start-up without a snapshot (replay from offset 0; writes one)");
        let full = engine_start(&cfg, &topic, &settings, self.started).await?;
        self.say(&format!("ready in {:.2} s", full.ready.as_secs_f64()));
        self.say("catalog start-up with the snapshot");
        let fast = engine_start(&cfg, &topic, &settings, self.started).await?;
        self.say(&format!(
            "ready in {:.2} s (snapshot at {}, tail {})",
            fast.ready.as_secs_f64(),
            fast.snapshot_offset,
            fast.tail
        ));
        if fast.snapshot_offset != n as i64 || full.products != fast.products {
            bail!(
                "the start with a snapshot loaded offset {} (want {n}) and has {} products (want {})",
                fast.snapshot_offset,
                fast.products,
                full.products
            );
        }
        table.row(vec![
            format!(
                "catalog context on the broker, {n} events: time to ready with the snapshot (s)"
            ),
            format!("{:.2}", fast.ready.as_secs_f64()),
            format!("replay from offset 0: {:.2}", full.ready.as_secs_f64()),
            format!("{:.3}", fast.ready.as_secs_f64() / full.ready.as_secs_f64()),
            "≤ 2 s".into(),
        ]);
        notes.push(format!(
            "Without a broker: the model of products 1..={p} of `shop generate --seed {seed}` (the \
             checkout model also with one keyed stock delivery per product), written by \
             `snapshot::write` (encode, temp file, fsync, rename) and read back by \
             `snapshot::load_newest` (read, CRC, decode into the persistent maps, no sorting: the \
             three sort orders are stored) from the page cache, into a fresh heap. CPU time is \
             the process's, all threads (the load builds one map on a second thread); wall time \
             on this shared machine depends on its load."
        ));
        notes.push(format!(
            "On the broker: `engine::spawn` of a `Context<CatalogFold>` with snapshots in a fresh \
             directory over the {n}-event topic, from its start (after reading the watermark) to \
             ready (`stats().replay_millis`, which includes the snapshot load and `finalize`). The \
             first start finds no snapshot, replays from offset 0 and writes one; the second loads \
             it ({} events of tail), after reading back the event the snapshot ends with. The \
             shop starts checkout, then the catalog: with snapshots, its time to ready is about \
             the sum of the two loads plus the broker round trips.",
            fast.tail
        ));
        Ok((notes, table))
    }

    // --- b. decode + apply ---------------------------------------------------------------------

    fn decode_apply(&mut self) -> SectionResult {
        let n = self.args.events;
        let seed = self.args.seed;
        self.say(&format!("encoding {n} catalog events in memory"));
        let catalog = Encoded::build((1..=n).map(|id| catalog_upsert(seed, id)));
        self.say(&format!(
            "encoded {n} events, {} MB",
            catalog.buf.len() / 1_000_000
        ));
        let mut table = Table::new(&["figure", "value", "baseline", "ratio", "goal"]);
        for round in 1..=2 {
            let decode = time(|| decode_only::<CatalogEvent>(&catalog));
            let (apply, finalize, products) = {
                let t0 = Instant::now();
                let mut model = Catalog::default();
                for (i, bytes) in catalog.iter().enumerate() {
                    let event = CatalogEvent::decode(bytes).expect("encoded here");
                    CatalogFold::apply(&mut model, &event, i as i64);
                }
                let apply = t0.elapsed();
                let t1 = Instant::now();
                CatalogFold::finalize(&mut model);
                let finalize = t1.elapsed();
                let products = model.product_count();
                drop(model);
                (apply, finalize, products)
            };
            assert_eq!(products as u64, n, "every product applied");
            let (r_apply, r_decode) = (per_sec(n, apply), per_sec(n, decode));
            self.say(&format!(
                "round {round}: decode {} ; decode+apply {} ; finalize {:.0} ms",
                rate(n, decode),
                rate(n, apply),
                millis(finalize)
            ));
            table.row(vec![
                format!("catalog decode + apply, round {round} (events/s)"),
                count(r_apply),
                format!("decode alone: {}", count(r_decode)),
                format!("{:.2}", r_apply / r_decode),
                "≥ 2,000,000/s".into(),
            ]);
            table.row(vec![
                format!("catalog `finalize` of {n} products, round {round}"),
                format!("{:.0} ms", millis(finalize)),
                format!("decode + apply: {:.0} ms", millis(apply)),
                format!("{:.2}", finalize.as_secs_f64() / apply.as_secs_f64()),
                "—".into(),
            ]);
            table.row(vec![
                format!("catalog decode + apply + finalize, round {round} (events/s)"),
                count(per_sec(n, apply + finalize)),
                format!("decode alone: {}", count(r_decode)),
                format!("{:.2}", per_sec(n, apply + finalize) / r_decode),
                "—".into(),
            ]);
        }
        drop(catalog);

        // Checkout: carts of four lines and an order each, over pre-bridged, stocked products.
        let p = self.args.products.max(4);
        self.say(&format!(
            "checkout: bridging {p} products and their stock (not timed)"
        ));
        let mut base = Checkout::default();
        for id in 1..=p {
            let fact = CheckoutEvent {
                event: Some(checkout_event::Event::CatalogFactV1(CatalogFactV1 {
                    source_offset: id as i64 - 1,
                    previous_source_offset: id as i64 - 2,
                    event: Some(catalog_upsert(seed, id)),
                })),
                meta: None,
            };
            CheckoutFold::apply(&mut base, &fact, id as i64 - 1);
        }
        for id in 1..=p {
            let stock = CheckoutEvent {
                event: Some(checkout_event::Event::StockDeliveredV1(StockDeliveredV1 {
                    product_id: id,
                    quantity: 1_000,
                })),
                meta: Some(meta(format!("stock-{id}"))),
            };
            CheckoutFold::apply(&mut base, &stock, (p + id) as i64);
        }
        CheckoutFold::finalize(&mut base);
        let lines = (n / 2).max(4);
        let events = shopper_events(p, lines);
        let m = events.len() as u64;
        self.say(&format!(
            "checkout: {lines} cart-line events + {} order events encoded",
            m - lines
        ));
        let mut notes_checkout = String::new();
        for round in 1..=2 {
            let decode = time(|| decode_only::<CheckoutEvent>(&events));
            let mut model = base.clone();
            let first = 2 * p as i64;
            let t0 = Instant::now();
            for (i, bytes) in events.iter().enumerate() {
                let event = CheckoutEvent::decode(bytes).expect("encoded here");
                CheckoutFold::apply(&mut model, &event, first + i as i64);
            }
            let apply = t0.elapsed();
            let (_, orders, _) = model.counts();
            drop(model);
            notes_checkout = format!("{orders} orders placed");
            let (r_apply, r_decode) = (per_sec(m, apply), per_sec(m, decode));
            self.say(&format!(
                "checkout round {round}: decode {} ; decode+apply {}",
                rate(m, decode),
                rate(m, apply)
            ));
            table.row(vec![
                format!("checkout decode + apply, round {round} (events/s)"),
                count(r_apply),
                format!("decode alone: {}", count(r_decode)),
                format!("{:.2}", r_apply / r_decode),
                "—".into(),
            ]);
        }
        let notes = vec![
            format!(
                "Catalog: the same {n} events as in a., encoded once into memory, then decoded \
                 with prost and applied with `CatalogFold::apply` in batch mode (the replay's \
                 mode: listings not maintained), then one `CatalogFold::finalize` (sorts the \
                 listings). Baseline: decoding alone. One thread, no broker."
            ),
            format!(
                "Checkout: a model with {p} bridged products (`CatalogFactV1`) and stock, then \
                 {lines} `CartLineSetV1` events (carts of four lines) and {} `OrderRequestedV1` \
                 events (one per cart; {notes_checkout}), each with its own idempotency key.",
                m - lines
            ),
        ];
        Ok((notes, table))
    }

    // --- c. memory -----------------------------------------------------------------------------

    fn memory(&mut self) -> SectionResult {
        let p = self.args.products;
        let seed = self.args.seed;
        self.say(&format!(
            "building the catalog model of {p} products in a fresh child process"
        ));
        let exe = std::env::current_exe()?;
        let out = Command::new(exe)
            .args(["--memory-probe", "--products", &p.to_string()])
            .args(["--seed", &seed.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run the memory probe")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let numbers: Vec<u64> = text
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [before, after, raw, products, _dropped] = numbers[..] else {
            bail!("the memory probe failed ({}): {text}", out.status);
        };
        let products = products as usize;
        let delta = after.saturating_sub(before);
        self.say(&format!(
            "model built: RSS {} (+{}), raw fields {}",
            mib(after),
            mib(delta),
            mib(raw)
        ));
        let mut table = Table::new(&["figure", "value", "baseline", "ratio", "goal"]);
        table.row(vec![
            format!("RSS growth with the {products}-product catalog model loaded"),
            mib(delta),
            format!("raw product fields: {}", mib(raw)),
            format!("{:.2}", delta as f64 / raw as f64),
            "— (reported)".into(),
        ]);
        table.row(vec![
            "probe process RSS with the model loaded (absolute)".into(),
            mib(after),
            format!("before building: {}", mib(before)),
            "—".into(),
            "—".into(),
        ]);
        table.row(vec![
            "model bytes per product".into(),
            format!("{:.0} B", delta as f64 / products as f64),
            format!("raw: {:.0} B", raw as f64 / products as f64),
            format!("{:.2}", delta as f64 / raw as f64),
            "—".into(),
        ]);
        let notes = vec![format!(
            "VmRSS from /proc/self/status of a fresh child process (this binary with \
                 `--memory-probe`, so memory the earlier sections freed cannot hide or inflate \
                 the growth) before and after applying products 1..={p} (seed {seed}) with \
                 `CatalogFold::apply` and one `finalize`. Raw size: \
                 title + description + long_text + category + currency + image URLs bytes, plus \
                 8 + 8 for id and price. The model also holds a lower-case name key, a \
                 lower-case search text and a slug per product, and three sorted listings \
                 globally and per category."
        )];
        Ok((notes, table))
    }

    // --- d. reads ------------------------------------------------------------------------------

    /// Starts the in-process shop with its products and their stock, once; returns the number
    /// of products.
    async fn ensure_shop(&mut self) -> anyhow::Result<u64> {
        if let Some(shop) = &self.shop {
            return shop
                .startup
                .as_ref()
                .map(|s| s.products)
                .context("the shop did not start (see section d)");
        }
        let p = self.args.shop_products;
        let seed = self.args.seed;
        let catalog_topic = match &self.catalog_topic {
            Some((topic, n)) if *n == p => topic.clone(),
            _ => {
                let topic = "bench.shop.catalog".to_owned();
                self.create_topics(&[&topic]).await?;
                self.say(&format!("producing {p} products for the shop"));
                self.produce(
                    &topic,
                    p,
                    (1..=p).map(move |id| {
                        (id.to_be_bytes(), catalog_upsert(seed, id).encode_to_vec())
                    }),
                )
                .await?;
                topic
            }
        };
        let checkout_topic = "bench.shop.checkout".to_owned();
        self.create_topics(&[&checkout_topic]).await?;
        let stocked = generate::stock_deliveries(seed, p, 50).count() as u64;
        self.say(&format!(
            "producing {stocked} stock deliveries for the shop"
        ));
        self.produce(
            &checkout_topic,
            stocked,
            generate::stock_deliveries(seed, p, 50).map(move |d| {
                let id = d.product_id;
                let event = CheckoutEvent {
                    event: Some(checkout_event::Event::StockDeliveredV1(d)),
                    meta: Some(commands::meta::meta(
                        format!("generate-stock-{seed}-{id}"),
                        0,
                    )),
                };
                (id.to_be_bytes(), event.encode_to_vec())
            }),
        )
        .await?;

        let fetch_wait = self.fetch_wait_ms.to_string();
        let brokers = self.broker.brokers();
        let config = server_config(&[
            "shop-bench",
            "--kafka-brokers",
            &brokers,
            "--fetch-wait-max-ms",
            &fetch_wait,
            "--kafka-produce-timeout-ms",
            &SHOP_PRODUCE_TIMEOUT_MS.to_string(),
            "--http-addr",
            "127.0.0.1:0",
            "--static-dir",
            "/nonexistent",
            "--catalog-topic",
            &catalog_topic,
            "--checkout-topic",
            &checkout_topic,
        ])?;
        let rss_before = rss_bytes().unwrap_or(0);
        let (stop, shutdown) = shutdown::channel();
        let t0 = Instant::now();
        let server = Server::start(config, shutdown).await?;
        let (addr, app) = (server.addr, server.state.clone());
        // Kept at once, so that a failure or an interrupt below still stops it.
        self.shop = Some(Shop {
            addr,
            server,
            stop,
            startup: None,
        });
        self.say(&format!("shop listening on {addr}; replaying"));
        let seen = || {
            let (c, k) = (app.catalog.stats(), app.checkout.stats());
            c.applied.load(Ordering::Relaxed)
                + c.ignored.load(Ordering::Relaxed)
                + k.applied.load(Ordering::Relaxed)
                + k.ignored.load(Ordering::Relaxed)
        };
        let (mut last_seen, mut moved) = (0, Instant::now());
        let mut last = Instant::now();
        while backend::ops::health::not_ready(&app).is_some() {
            if seen() != last_seen {
                (last_seen, moved) = (seen(), Instant::now());
            }
            if moved.elapsed() > STALL {
                bail!(
                    "the shop's start-up stalled: no event applied for {} s ({})",
                    STALL.as_secs(),
                    backend::ops::health::not_ready(&app).unwrap_or_default()
                );
            }
            if last.elapsed() > Duration::from_secs(5) {
                last = Instant::now();
                self.say(&format!(
                    "  shop: checkout applied {}, catalog applied {}",
                    app.checkout.stats().applied.load(Ordering::Relaxed),
                    app.catalog.stats().applied.load(Ordering::Relaxed)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ready = t0.elapsed();
        self.say(&format!(
            "shop ready in {:.1} s; waiting for the bridge to copy {p} products into checkout",
            ready.as_secs_f64()
        ));
        let last_offset = p as i64 - 1;
        let mut last = Instant::now();
        while app
            .checkout
            .model()
            .bridged_until()
            .is_none_or(|b| b < last_offset)
        {
            if seen() != last_seen {
                (last_seen, moved) = (seen(), Instant::now());
            }
            if moved.elapsed() > STALL {
                bail!(
                    "the bridge stalled: no event applied for {} s, copies up to catalog \
                     offset {:?} of {last_offset}",
                    STALL.as_secs(),
                    app.checkout.model().bridged_until()
                );
            }
            if last.elapsed() > Duration::from_secs(5) {
                last = Instant::now();
                self.say(&format!(
                    "  bridge: checkout has copies up to catalog offset {:?}",
                    app.checkout.model().bridged_until()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let bridged = t0.elapsed();
        let rss = rss_bytes().unwrap_or(0);
        self.say(&format!(
            "bridge done {:.1} s after start; process RSS {}",
            bridged.as_secs_f64(),
            mib(rss)
        ));
        let shop = self.shop.as_mut().expect("kept above");
        shop.startup = Some(Startup {
            products: p,
            ready,
            bridged,
            stocked,
            rss_growth: rss.saturating_sub(rss_before),
            rss,
        });
        Ok(p)
    }

    async fn stop_shop(&mut self) {
        if let Some(shop) = self.shop.take() {
            self.say("stopping the shop");
            let _ = shop.stop.send(true);
            if tokio::time::timeout(Duration::from_secs(30), shop.server.stopped())
                .await
                .is_err()
            {
                self.say("the shop did not stop within 30 s; leaving it behind");
            }
        }
    }

    async fn reads(&mut self) -> SectionResult {
        if which("wrk").is_none() {
            bail!("wrk is not installed (apt-get install -y wrk)");
        }
        let p = self.ensure_shop().await?;
        let shop = self.shop.as_ref().expect("started");
        let product_path = format!("/api/products/{}", p / 2);
        let list_path = "/api/products?page=1&page_size=20".to_owned();
        let mut client = HttpConn::connect(shop.addr).await?;
        let mut bodies = vec![];
        for path in [&product_path, &list_path] {
            let (status, body) = client.request("GET", path, &[], b"").await?;
            if status != 200 {
                bail!(
                    "GET {path} answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            bodies.push(Bytes::from(body));
        }
        drop(client);
        let bare = BareServer::start(vec![
            ("/product".to_owned(), bodies[0].clone()),
            ("/list".to_owned(), bodies[1].clone()),
        ])
        .await?;
        let d = self.args.duration_secs;
        let mut table = Table::new(&[
            "endpoint",
            "round",
            "shop req/s",
            "baseline: bare hyper req/s",
            "ratio",
            "shop p50 / p99",
            "bare p50 / p99",
            "goal",
        ]);
        let targets = [
            (
                format!("`GET {product_path}` (JSON, {} B)", bodies[0].len()),
                format!("http://{}{product_path}", shop.addr),
                format!("http://{}/product", bare.addr),
            ),
            (
                format!("`GET {list_path}` (JSON, {} B)", bodies[1].len()),
                format!("http://{}{list_path}", shop.addr),
                format!("http://{}/list", bare.addr),
            ),
        ];
        for (name, shop_url, bare_url) in &targets {
            self.say(&format!("warming up {name}"));
            wrk(shop_url, 2).await?;
            wrk(bare_url, 2).await?;
            for round in 1..=2 {
                self.say(&format!("round {round}: wrk {d} s on the shop: {shop_url}"));
                let s = wrk(shop_url, d).await?;
                self.say(&format!("  {s}"));
                self.say(&format!(
                    "round {round}: wrk {d} s on bare hyper: {bare_url}"
                ));
                let b = wrk(bare_url, d).await?;
                self.say(&format!("  {b}"));
                table.row(vec![
                    name.clone(),
                    round.to_string(),
                    s.rps_cell(),
                    b.rps_cell(),
                    format!("{:.2}", s.rps / b.rps),
                    s.latency_cell(),
                    b.latency_cell(),
                    "≥ 0.8".into(),
                ]);
            }
        }
        bare.stop();
        let shop = self.shop.as_ref().and_then(|s| s.startup.as_ref());
        let shop = shop.expect("started");
        let notes = vec![
            format!(
                "The real shop (`app::Server::start`, in this process) loaded with **{p} \
                 products** (`--shop-products`; the memory figures in c. are for \
                 {} products) and {} stock deliveries: ready {:.1} s after start (checkout \
                 replay, then catalog replay with the bridge), all {p} products bridged into \
                 checkout {:.1} s after start. fetch.wait.max.ms={}; produce timeout {} s \
                 instead of the default 5 s (see below); otherwise the server's defaults. \
                 Process RSS with the shop loaded: {} (+{} for the shop).",
                self.args.products,
                shop.stocked,
                shop.ready.as_secs_f64(),
                shop.bridged.as_secs_f64(),
                self.fetch_wait_ms,
                SHOP_PRODUCE_TIMEOUT_MS / 1000,
                mib(shop.rss),
                mib(shop.rss_growth)
            ),
            format!(
                "Why the longer produce timeout: at start-up the bridge copies the whole \
                 catalog into the checkout topic while both replays fetch, and tansu serves \
                 all of it from one storage task, so on a busy machine a copy can wait more \
                 than 5 s. The copy then times out, the idempotent producer starts a new \
                 sequence, and tansu 0.6.0's storage panics (`idempotent_message_check`: \
                 \"more or less than one row\"), leaving the broker unusable. Seen twice while \
                 writing this harness; {} s makes it unlikely and changes no timing.",
                SHOP_PRODUCE_TIMEOUT_MS / 1000
            ),
            "Baseline: a bare hyper 1.x http1 server in the same process and runtime, answering \
             the shop's own response body (same bytes, same content type) for every request."
                .to_owned(),
            format!(
                "Load: `wrk -t1 -c16 -d{d}s --latency URL`, a second process on loopback, shop \
                 and bare alternating, two rounds each after a 2 s warm-up. **wrk, the servers \
                 and the broker share the machine's {} cores**, and the shop's two idle \
                 consumers keep the broker polling every {} ms meanwhile, so the absolute \
                 figures are lower than on separate machines.",
                cores(),
                self.fetch_wait_ms
            ),
        ];
        Ok((notes, table))
    }

    // --- e. add-to-cart round trip -------------------------------------------------------------

    async fn cart(&mut self) -> SectionResult {
        self.ensure_shop().await?;
        let addr = self.shop.as_ref().expect("started").addr;
        let cfg = self.kafka()?;
        let fw = self.fetch_wait_ms;
        const WARM: usize = 50;
        const SAMPLES: usize = 500;

        // (i) the broker's own produce round trip.
        let scratch = "bench.produce";
        self.create_topics(&[scratch, "bench.latency"]).await?;
        self.say("broker produce round trip (sequential, acks=all, idempotent, linger 0)");
        let status = BrokerStatus::new();
        let producer = kafka::producer(&cfg, status.clone())?;
        let payload = [b'x'; 100];
        let mut produce = vec![];
        for i in 0..WARM + SAMPLES {
            let t0 = Instant::now();
            kafka::produce(&producer, &status, scratch, b"k", &payload)
                .await
                .with_context(|| format!("produce {i}"))?;
            if i >= WARM {
                produce.push(t0.elapsed());
            }
        }
        let produce = Percentiles::of(produce);
        self.say(&format!("  produce round trip {produce}"));

        // (ii) produce → consumed, one message at a time.
        self.say(&format!(
            "produce→consumed floor (fetch.wait.max.ms={fw}, one message at a time)"
        ));
        let floor = produce_to_consumed(&cfg, &producer, &status, WARM, SAMPLES).await?;
        self.say(&format!("  produce→consumed {floor}"));

        // The shop's add-to-cart.
        self.say("add-to-cart: sequential PUT /api/cart/lines/{id}");
        let cookie = format!("{}={}", cart_cookie::NAME, cart_cookie::new_cart_id());
        let mut client = HttpConn::connect(addr).await?;
        let mut cart = vec![];
        for i in 0..WARM + SAMPLES {
            let product = 1 + (i as u64 * 7) % 10;
            let body = format!("{{\"quantity\":{}}}", 1 + i % 3);
            let key = format!("bench-{i}");
            let path = format!("/api/cart/lines/{product}");
            let t0 = Instant::now();
            let (status, reply) = client
                .request(
                    "PUT",
                    &path,
                    &[
                        ("content-type", "application/json"),
                        ("idempotency-key", &key),
                        ("cookie", &cookie),
                    ],
                    body.as_bytes(),
                )
                .await?;
            let took = t0.elapsed();
            if status != 200 {
                bail!(
                    "PUT {path} answered {status}: {}",
                    String::from_utf8_lossy(&reply)
                );
            }
            if i >= WARM {
                cart.push(took);
            }
        }
        let cart = Percentiles::of(cart);
        self.say(&format!("  add-to-cart {cart}"));

        let ms = |d: Duration| format!("{:.2} ms", millis(d));
        let diff = |a: Duration, b: Duration| format!("{:+.2} ms", millis(a) - millis(b));
        let mut table = Table::new(&[
            "figure",
            "fetch.wait.max.ms",
            "p50",
            "p99",
            "cart p50 minus it",
            "cart p99 minus it",
        ]);
        table.row(vec![
            "add-to-cart round trip (`PUT /api/cart/lines/{id}`, HTTP)".into(),
            fw.to_string(),
            ms(cart.p50),
            ms(cart.p99),
            "—".into(),
            "—".into(),
        ]);
        table.row(vec![
            "baseline (i): broker produce round trip (acks=all, idempotent, linger 0, 100 B)"
                .into(),
            format!("{fw} (not involved)"),
            ms(produce.p50),
            ms(produce.p99),
            diff(cart.p50, produce.p50),
            diff(cart.p99, produce.p99),
        ]);
        table.row(vec![
            "baseline (ii): raw produce→consumed floor (one message at a time)".into(),
            fw.to_string(),
            ms(floor.p50),
            ms(floor.p99),
            diff(cart.p50, floor.p50),
            diff(cart.p99, floor.p99),
        ]);
        let notes = vec![
            format!(
                "{SAMPLES} sequential requests after {WARM} warm-up ones, each with a fresh \
                 Idempotency-Key and the same cart cookie, over one keep-alive connection from \
                 this process (a minimal HTTP/1.1 client on a tokio `TcpStream`: the backend \
                 crate has hyper's client only as a dev-dependency). Ten products, quantities \
                 1 to 3. A command answers once the checkout writer has applied its own event, \
                 so its round trip is a produce plus a consume."
            ),
            format!(
                "Baselines in the same run, same broker: (i) {SAMPLES} sequential produces with \
                 `kafka::producer`'s settings to a scratch topic; (ii) one producer and one \
                 consumer made by `kafka::consumer` (fetch.wait.max.ms={fw}), one message at a \
                 time, from send to receipt. tansu holds every fetch for fetch.wait.max.ms even \
                 when data arrives, so (ii) is the floor a command cannot beat on this broker."
            ),
            format!(
                "The shop here is the one of d. ({} products).",
                self.args.shop_products
            ),
        ];
        Ok((notes, table))
    }

    // --- the report ----------------------------------------------------------------------------

    fn report(&self, command: &str, total: Duration) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Written by `shop-bench` (`backend/src/bin/shop-bench.rs`) and `make bench`. \
             Benchmarks, not tests: every figure stands next to a baseline measured in the \
             same run, since the machine is noisy; compare ratios, not absolute numbers.\n"
        );
        let _ = writeln!(md, "- Date: {}", utc_now());
        let _ = writeln!(md, "- Command: `{command}`");
        let _ = writeln!(
            md,
            "- Machine: {} cores (`nproc`), {}, {} memory; load average at the end: {}",
            cores(),
            cpu_model(),
            mem_total(),
            load_average()
        );
        let _ = writeln!(
            md,
            "- Broker: {} (SQLite storage in a fresh temporary directory, loopback), started and \
             stopped by this run",
            self.broker.version
        );
        let _ = writeln!(
            md,
            "- fetch.wait.max.ms = **{}** for every consumer (the shop's, the engine's, the \
             baselines'); tansu holds each fetch this long",
            self.fetch_wait_ms
        );
        let _ = writeln!(
            md,
            "- Topics: created by `kafka::ensure_topics` with retention.ms={} \
             (tansu 0.6.0 reads the usual -1 as \"delete every record\")",
            kafka::KEEP_FOREVER_MS
        );
        let _ = writeln!(
            md,
            "- Events: {}; products (b., c.): {}; products of the in-process shop (d., e.): {}; \
             wrk duration: {} s; seed {}",
            self.args.events,
            self.args.products,
            self.args.shop_products,
            self.args.duration_secs,
            self.args.seed
        );
        let _ = writeln!(md, "- Total run time: {}\n", minutes(total));
        for s in &self.sections {
            let _ = writeln!(md, "## {}\n", s.title);
            let _ = writeln!(md, "Section time: {}.\n", minutes(s.elapsed));
            if !s.table.header.is_empty() {
                let _ = writeln!(md, "| {} |", s.table.header.join(" | "));
                let _ = writeln!(
                    md,
                    "|{}",
                    s.table.header.iter().map(|_| " --- |").collect::<String>()
                );
                for row in &s.table.rows {
                    let _ = writeln!(md, "| {} |", row.join(" | "));
                }
                md.push('\n');
            }
            for n in &s.notes {
                let _ = writeln!(md, "{n}\n");
            }
        }
        md
    }
}

/// Section c's measurement, run in a fresh process: RSS before and after building the catalog
/// model of products 1..=`p`, the raw size of their fields, the product count, and the RSS
/// after dropping the model.
fn memory_probe(p: u64, seed: u64) -> anyhow::Result<[u64; 5]> {
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
    drop(model);
    trim_heap();
    let dropped = rss_bytes().context("VmRSS")?;
    Ok([before, after, raw, products, dropped])
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

// --- events --------------------------------------------------------------------------------------

/// Product `id` of a seed as `shop generate` produces it.
fn catalog_upsert(seed: u64, id: u64) -> CatalogEvent {
    CatalogEvent {
        event: Some(catalog_event::Event::ProductUpsertedV1(generate::product(
            seed, id,
        ))),
        // As `shop generate` writes them: a bulk load carries no idempotency key.
        meta: None,
    }
}

fn meta(key: String) -> CommandMeta {
    CommandMeta {
        idempotency_key: key,
        fingerprint: 0,
        requested_at_ms: 1_700_000_000_000,
    }
}

/// Events encoded back to back in one buffer.
struct Encoded {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Encoded {
    fn build<M: prost::Message>(events: impl Iterator<Item = M>) -> Encoded {
        let mut e = Encoded {
            buf: vec![],
            ends: vec![],
        };
        for m in events {
            m.encode(&mut e.buf).expect("a Vec grows");
            e.ends.push(e.buf.len());
        }
        e
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| &self.buf[a..b])
    }
}

fn decode_only<M: prost::Message + Default>(events: &Encoded) {
    for bytes in events.iter() {
        std::hint::black_box(M::decode(bytes).expect("encoded here"));
    }
}

/// `lines` cart-line events, four per cart with distinct products, each cart followed by an
/// order of the version those lines produced.
fn shopper_events(products: u64, lines: u64) -> Encoded {
    let carts = lines.div_ceil(4);
    let mut events = Vec::with_capacity((carts * 5) as usize);
    for c in 0..carts {
        let cart = CartId(0xbe4c_0000_0000_0000 + u128::from(c)).to_string();
        let first = (c.wrapping_mul(2_654_435_761)) % products;
        for j in 0..4 {
            events.push(CheckoutEvent {
                event: Some(checkout_event::Event::CartLineSetV1(CartLineSetV1 {
                    cart_id: cart.clone(),
                    product_id: 1 + (first + j) % products,
                    quantity: 1 + ((c + j) % 3) as u32,
                })),
                meta: Some(meta(format!("line-{c}-{j}"))),
            });
        }
        events.push(CheckoutEvent {
            event: Some(checkout_event::Event::OrderRequestedV1(OrderRequestedV1 {
                cart_id: cart,
                cart_version: 4,
            })),
            meta: Some(meta(format!("order-{c}"))),
        });
    }
    let e = Encoded::build(events.into_iter());
    debug_assert_eq!(e.len() as u64, carts * 5);
    e
}

// --- Kafka measurements --------------------------------------------------------------------------

fn kafka_config(
    brokers: &str,
    fetch_wait_ms: u32,
    linger_ms: u32,
    produce_timeout_ms: u64,
) -> anyhow::Result<KafkaConfig> {
    #[derive(Parser)]
    struct KafkaArgs {
        #[command(flatten)]
        kafka: KafkaConfig,
    }
    let (fw, linger, timeout) = (
        fetch_wait_ms.to_string(),
        linger_ms.to_string(),
        produce_timeout_ms.to_string(),
    );
    Ok(KafkaArgs::try_parse_from([
        "shop-bench",
        "--kafka-brokers",
        brokers,
        "--fetch-wait-max-ms",
        &fw,
        "--linger-ms",
        &linger,
        "--kafka-produce-timeout-ms",
        &timeout,
    ])?
    .kafka)
}

fn server_config(args: &[&str]) -> anyhow::Result<Config> {
    #[derive(Parser)]
    struct ServerArgs {
        #[command(flatten)]
        config: Config,
    }
    Ok(ServerArgs::try_parse_from(args)?.config)
}

/// A replay that receives nothing for this long has stalled (tansu 0.6.0 was seen to stop
/// answering one consumer's fetches mid-topic); it is reported and the run goes on.
const STALL: Duration = Duration::from_secs(60);

struct Consumed {
    events: u64,
    bytes: u64,
    elapsed: Duration,
}

/// Reads a topic from offset 0 to its high watermark with a consumer made like the engine's,
/// counting messages and payload bytes and nothing else.
async fn raw_consume(cfg: KafkaConfig, topic: String) -> anyhow::Result<Consumed> {
    tokio::task::spawn_blocking(move || {
        let consumer = kafka::consumer(&cfg, "bench-raw", BrokerStatus::new())?;
        let high = kafka::high_watermark(&consumer, &topic, Duration::from_secs(10))?;
        let t0 = Instant::now();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)?;
        consumer.assign(&tpl)?;
        let (mut events, mut bytes, mut next) = (0u64, 0u64, 0i64);
        let mut progress = Instant::now();
        while next < high {
            if progress.elapsed() > STALL {
                bail!(
                    "stalled: no message for {} s at offset {next} of {high}",
                    STALL.as_secs()
                );
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(msg)) => {
                    progress = Instant::now();
                    events += 1;
                    bytes += msg.payload_len() as u64;
                    next = msg.offset() + 1;
                }
                Some(Err(e)) => tracing::warn!(%e, "raw consumer error"),
                None => {}
            }
        }
        Ok(Consumed {
            events,
            bytes,
            elapsed: t0.elapsed(),
        })
    })
    .await?
}

/// CPU time of this process so far (all threads).
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which lives on this stack.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Load {
    wall: Duration,
    cpu: Duration,
    entries: usize,
}

/// Times `snapshot::load_newest` of this context in `dir` (wall and CPU time: the machine is
/// shared, CPU time is what the load itself costs); returns the model's first entry count.
fn load_snapshot<F: Fold>(dir: &Path, topic: &str, high: i64) -> anyhow::Result<Load> {
    let metrics = backend::ops::metrics::snapshot::SnapshotMetrics::unregistered(F::NAME);
    let (t0, c0) = (Instant::now(), cpu_time());
    let loaded = snapshot::load_newest::<F>(dir, topic, high, &metrics)
        .context("the snapshot just written did not load")?;
    let (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
    let entries = F::entries(&loaded.model).first().map_or(0, |e| e.1);
    Ok(Load { wall, cpu, entries })
}

struct Started {
    ready: Duration,
    snapshot_offset: i64,
    tail: u64,
    products: usize,
}

/// Starts a catalog context with snapshots, waits until it is ready, stops it (a graceful stop
/// joins the snapshot thread, so a snapshot written after the replay is on disk).
async fn engine_start(
    cfg: &KafkaConfig,
    topic: &str,
    settings: &snapshot::SnapshotSettings,
    started: Instant,
) -> anyhow::Result<Started> {
    let context = Context::<CatalogFold>::with_snapshots(
        topic,
        backend::ops::metrics::engine::EngineMetrics::unregistered(CatalogFold::NAME),
        Some(settings.clone()),
    );
    let (stop, shutdown) = shutdown::channel();
    let consumer = kafka::consumer(cfg, "bench-startup", BrokerStatus::new())?;
    let writer = engine::spawn(&context, consumer, None, shutdown)?;
    let mut last = Instant::now();
    while !context.is_ready() {
        if last.elapsed() > Duration::from_secs(5) {
            last = Instant::now();
            let s = context.stats();
            progress(
                started,
                &format!(
                    "  engine applied {}",
                    s.applied.load(Ordering::Relaxed) + s.ignored.load(Ordering::Relaxed)
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let s = context.stats();
    let result = Started {
        ready: Duration::from_millis(s.replay_millis.load(Ordering::Relaxed)),
        snapshot_offset: s.snapshot_offset.load(Ordering::Relaxed),
        tail: s.replayed.load(Ordering::Relaxed),
        products: context.model().product_count(),
    };
    let _ = stop.send(true);
    tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the engine's writer panicked"))?;
    Ok(result)
}

struct Replayed {
    events: u64,
    products: usize,
    elapsed: Duration,
}

/// Runs the engine's start-up replay of a catalog topic and stops it once ready.
async fn engine_replay(
    cfg: &KafkaConfig,
    topic: &str,
    started: Instant,
) -> anyhow::Result<Replayed> {
    let context = Context::<CatalogFold>::new(topic);
    let (stop, shutdown) = shutdown::channel();
    let consumer = kafka::consumer(cfg, "bench-engine", BrokerStatus::new())?;
    let writer = engine::spawn(&context, consumer, None, shutdown)?;
    let seen = |c: &Context<CatalogFold>| {
        let s = c.stats();
        s.applied.load(Ordering::Relaxed)
            + s.ignored.load(Ordering::Relaxed)
            + s.poison.load(Ordering::Relaxed)
    };
    let (mut last, mut last_seen, mut moved) = (Instant::now(), 0, Instant::now());
    while !context.is_ready() {
        let now_seen = seen(&context);
        if now_seen != last_seen {
            (last_seen, moved) = (now_seen, Instant::now());
        }
        if moved.elapsed() > STALL {
            let _ = stop.send(true);
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
            bail!(
                "stalled: no event for {} s after {now_seen} of {} events",
                STALL.as_secs(),
                context.stats().replay_target.load(Ordering::Relaxed)
            );
        }
        if last.elapsed() > Duration::from_secs(5) {
            last = Instant::now();
            progress(started, &format!("  engine applied {now_seen}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = Duration::from_millis(context.stats().replay_millis.load(Ordering::Relaxed));
    let events = context.applied_until() as u64;
    let products = context.model().product_count();
    let _ = stop.send(true);
    tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the engine's writer panicked"))?;
    drop(context);
    Ok(Replayed {
        events,
        products,
        elapsed,
    })
}

/// Send-to-receipt latency of single messages through the broker: one producer, one consumer
/// made by `kafka::consumer`, the next message sent only after the previous one arrived.
async fn produce_to_consumed(
    cfg: &KafkaConfig,
    producer: &rdkafka::producer::FutureProducer<kafka::ShopClientContext>,
    status: &BrokerStatus,
    warm: usize,
    samples: usize,
) -> anyhow::Result<Percentiles> {
    let topic = "bench.latency";
    let consumer = kafka::consumer(cfg, "bench-latency", BrokerStatus::new())?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(Ok(msg)) = consumer.poll(Duration::from_millis(100)) {
                    let _ = tx.send((msg.offset(), Instant::now()));
                }
            }
        })
    };
    let payload = [b'y'; 100];
    let mut latencies = vec![];
    let mut failure = None;
    for i in 0..warm + samples {
        let t0 = Instant::now();
        let offset = match kafka::produce(producer, status, topic, b"k", &payload).await {
            Ok(o) => o,
            Err(e) => {
                failure = Some(anyhow::anyhow!("produce {i}: {e}"));
                break;
            }
        };
        let received = loop {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some((o, at))) if o == offset => break Some(at),
                Ok(Some(_)) => continue,
                _ => break None,
            }
        };
        let Some(at) = received else {
            failure = Some(anyhow::anyhow!("message {offset} not consumed within 10 s"));
            break;
        };
        if i >= warm {
            latencies.push(at.duration_since(t0));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    match failure {
        Some(e) => Err(e),
        None => Ok(Percentiles::of(latencies)),
    }
}

// --- the in-process shop and the bare server -----------------------------------------------------

/// The in-process shop's produce timeout (the server's default is 5 s): see the notes of d.
const SHOP_PRODUCE_TIMEOUT_MS: u64 = 30_000;

struct Shop {
    addr: SocketAddr,
    server: Server,
    stop: tokio::sync::watch::Sender<bool>,
    /// Set once the shop is ready and the bridge has copied the whole catalog.
    startup: Option<Startup>,
}

struct Startup {
    products: u64,
    ready: Duration,
    bridged: Duration,
    stocked: u64,
    rss: u64,
    rss_growth: u64,
}

/// A bare hyper 1.x http1 server answering a fixed body per path: the floor of what any server
/// on this machine can do for a response of that size.
struct BareServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl BareServer {
    async fn start(bodies: Vec<(String, Bytes)>) -> anyhow::Result<BareServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let bodies = Arc::new(bodies);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let bodies = bodies.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let body = bodies
                            .iter()
                            .find(|(p, _)| p == req.uri().path())
                            .map(|(_, b)| b.clone());
                        async move {
                            let resp = match body {
                                Some(b) => Response::builder()
                                    .status(StatusCode::OK)
                                    .header(header::CONTENT_TYPE, "application/json")
                                    .header(header::CACHE_CONTROL, "no-store")
                                    .body(Full::new(b)),
                                None => Response::builder()
                                    .status(StatusCode::NOT_FOUND)
                                    .body(Full::new(Bytes::new())),
                            };
                            Ok::<_, std::convert::Infallible>(resp.expect("static headers"))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(BareServer { addr, task })
    }

    fn stop(self) {
        self.task.abort();
    }
}

/// A minimal HTTP/1.1 client on one keep-alive connection (the backend crate has hyper's client
/// only as a dev-dependency). Enough for the shop's and the bare server's replies, which always
/// carry Content-Length.
struct HttpConn {
    stream: BufReader<TcpStream>,
    host: String,
}

impl HttpConn {
    async fn connect(addr: SocketAddr) -> anyhow::Result<HttpConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            let _ = write!(head, "{k}: {v}\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        self.stream.get_mut().write_all(&out).await?;

        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                bail!("connection closed in the response head");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse::<usize>().ok();
            }
        }
        let length = length.context("response without Content-Length")?;
        let mut reply = vec![0; length];
        self.stream.read_exact(&mut reply).await?;
        Ok((status, reply))
    }
}

// --- wrk -----------------------------------------------------------------------------------------

struct WrkRun {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    non_2xx: u64,
    socket_errors: Option<String>,
}

impl std::fmt::Display for WrkRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
            self.rps,
            self.p50_us / 1000.0,
            self.p99_us / 1000.0
        )?;
        if self.non_2xx > 0 {
            write!(f, ", {} non-2xx", self.non_2xx)?;
        }
        if let Some(e) = &self.socket_errors {
            write!(f, ", socket errors: {e}")?;
        }
        Ok(())
    }
}

impl WrkRun {
    fn rps_cell(&self) -> String {
        let mut s = count(self.rps);
        if self.non_2xx > 0 {
            let _ = write!(s, " ({} non-2xx!)", self.non_2xx);
        }
        if let Some(e) = &self.socket_errors {
            let _ = write!(s, " (socket errors: {e})");
        }
        s
    }

    fn latency_cell(&self) -> String {
        format!(
            "{:.2} / {:.2} ms",
            self.p50_us / 1000.0,
            self.p99_us / 1000.0
        )
    }
}

async fn wrk(url: &str, secs: u64) -> anyhow::Result<WrkRun> {
    let out = tokio::process::Command::new("wrk")
        .args(["-t1", "-c16", &format!("-d{secs}s"), "--latency", url])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("cannot read wrk's output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<WrkRun> {
    let mut run = WrkRun {
        rps: f64::NAN,
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        non_2xx: 0,
        socket_errors: None,
    };
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.rps = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("50%") {
            run.p50_us = wrk_duration_us(v.trim())?;
        } else if let Some(v) = line.strip_prefix("99%") {
            run.p99_us = wrk_duration_us(v.trim())?;
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.non_2xx = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            run.socket_errors = Some(v.trim().to_owned());
        }
    }
    (run.rps.is_finite() && run.p50_us.is_finite() && run.p99_us.is_finite()).then_some(run)
}

/// wrk's durations: "245.00us", "1.23ms", "1.02s", "2.00m".
fn wrk_duration_us(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    let factor = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(num * factor)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

// --- the broker ----------------------------------------------------------------------------------

/// The tansu broker as a child process with its data in a fresh temporary directory; killed and
/// its directory removed on drop.
struct Broker {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    version: String,
}

impl Broker {
    async fn start(tansu: &Path) -> anyhow::Result<Broker> {
        let version = Command::new(tansu)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "tansu (version unknown)".to_owned());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("shop-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("tansu.log"))?;
        let child = Command::new(tansu)
            // The shop's log filter is not the broker's: tansu at `info` writes gigabytes.
            .env_remove("RUST_LOG")
            .current_dir(&dir)
            .args([
                "broker",
                "--cluster-id",
                "bench",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://tansu.db",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", tansu.display()))?;
        let mut broker = Broker {
            child: Some(child),
            dir,
            port,
            version,
        };
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Some(Ok(Some(status))) = broker.child.as_mut().map(Child::try_wait) {
                bail!("the broker exited at start ({status}); see its log above");
            }
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("the broker did not accept connections within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(broker)
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// --- numbers and facts ---------------------------------------------------------------------------

struct Percentiles {
    p50: Duration,
    p99: Duration,
    n: usize,
}

impl Percentiles {
    /// Nearest-rank percentiles.
    fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort();
        let n = samples.len();
        let at = |q: f64| samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            n,
        }
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p99 {:.2} ms ({} samples)",
            millis(self.p50),
            millis(self.p99),
            self.n
        )
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let t0 = Instant::now();
    f();
    t0.elapsed()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn rate(n: u64, d: Duration) -> String {
    format!("{}/s", count(per_sec(n, d)))
}

/// 1234567.8 → "1,234,568".
fn count(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02} min", s / 60, s % 60)
}

fn progress(started: Instant, what: &str) {
    let s = started.elapsed().as_secs();
    eprintln!("[bench {:>2}:{:02}] {what}", s / 60, s % 60);
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Gives memory freed earlier back to the system, so an RSS delta measures what is built next.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            safe fn malloc_trim(pad: usize) -> i32;
        }
        malloc_trim(0);
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kb as f64 / (1u64 << 20) as f64))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// "2026-11-22 10:04:05 UTC" (days to civil date after Howard Hinnant's algorithm).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
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
