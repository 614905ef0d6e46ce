//! The `shop` command: parsing, logs and the runtime; `serve` runs the shop, `import` and
//! `generate` feed it. In the library rather than the binary, so that a save in `make dev`
//! recompiles none of this in the binary: its crate only links (and picks the allocator).

use clap::{Parser, Subcommand};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::admin::import::{self, ImportCommand};
use crate::app::Server;
use crate::config::Config;
use crate::ops::traces::{self, Exporter};
use crate::shutdown;
use crate::tools::generate::{self, GenerateArgs};

#[derive(Parser)]
#[command(
    name = "shop",
    version,
    about = "A web shop whose only source of truth is Kafka"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop's API and browser app.
    Serve(Box<Config>),
    /// Load products or stock from a CSV file into Kafka (all rows valid, or nothing written).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Produce deterministic demo products and stock, or write them as CSV files.
    Generate(GenerateArgs),
}

/// The most demo products `KAFKA_BROKERS=memory` takes: librdkafka's mock cluster keeps 5 MB of
/// each partition (hard-coded), and a product's catalog event, its bridged copy and its stock
/// delivery take about 500 bytes in the checkout topic. Anything the mock dropped would be a
/// hole in the log, which the engine refuses to serve (the shop would never be ready).
const MEMORY_DEMO_PRODUCTS: u64 = 8_000;

/// Logs to stderr, filtered by `RUST_LOG`; with an exporter, the spans made for traces go to it
/// on the same subscriber, through its own filter.
fn init_logs(exporter: Option<&Exporter>) {
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,librdkafka=warn"));
    if exporter.is_some() {
        // The spans made for traces are made whatever the log level.
        let spans = format!("{}=info", traces::TARGET);
        filter = filter.add_directive(spans.parse().expect("a directive"));
    }
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        // stdout carries only the listening address, so scripts can read it.
        .with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let logs = tracing_subscriber::registry().with(filter);
    match exporter {
        None => logs.with(fmt).init(),
        Some(exporter) => logs
            // The spans made for traces are exported, not logged: log lines stay the same.
            .with(fmt.with_filter(filter_fn(|meta| meta.target() != traces::TARGET)))
            .with(exporter.layer())
            .init(),
    }
}

/// Runs the `shop` command given on the command line, on a multi-threaded runtime.
pub fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let command = Cli::parse().command;
    // Only the server exports traces; the tools just log.
    let exporter = match &command {
        Command::Serve(config) => Exporter::start(&config.traces)?,
        _ => None,
    };
    init_logs(exporter.as_ref());
    match command {
        Command::Serve(mut config) => {
            // Held until exit: the in-process cluster lives as long as this value.
            let _memory = if config.kafka.brokers == "memory" {
                if config.demo_products > MEMORY_DEMO_PRODUCTS {
                    anyhow::bail!(
                        "KAFKA_BROKERS=memory keeps at most 5 MB of each topic (librdkafka's mock cluster drops the oldest events beyond it), about {MEMORY_DEMO_PRODUCTS} demo products; DEMO_PRODUCTS={} would leave holes in the log. Use the local broker (`make run`) for more",
                        config.demo_products
                    );
                }
                let cluster = rdkafka::mocking::MockCluster::new(1)?;
                for topic in [&config.kafka.catalog_topic, &config.kafka.checkout_topic] {
                    cluster.create_topic(topic, 1, 1)?;
                }
                config.kafka.brokers = cluster.bootstrap_servers();
                tracing::warn!(
                    "KAFKA_BROKERS=memory: an in-process mock cluster; everything is lost on exit"
                );
                Some(cluster)
            } else {
                None
            };
            if config.demo_products > 0 {
                generate::run(GenerateArgs {
                    products: config.demo_products,
                    seed: 42,
                    stock_max: 50,
                    csv: None,
                    if_empty: true,
                    kafka: config.kafka.clone(),
                })
                .await?;
            }
            let (stop, shutdown) = shutdown::channel();
            let server = Server::start(*config, shutdown).await?;
            println!("shop listening on http://{}", server.addr);
            shutdown::signal().await;
            tracing::info!("stopping");
            let _ = stop.send(true);
            server.stopped().await;
            if let Some(exporter) = exporter {
                // The last requests' spans go out before exit; this waits for the export.
                tokio::task::spawn_blocking(move || exporter.shutdown()).await?;
            }
        }
        Command::Import(command) => import::run(command).await?,
        Command::Generate(args) => generate::run(args).await?,
    }
    Ok(())
}
