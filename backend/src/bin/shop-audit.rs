//! `shop-audit`: checks a sale from Kafka itself and from every replica (`make load
//! SCENARIO=flash-sale` runs it after the shoppers are done).
//!
//! It reads the checkout topic from offset 0 to its high watermark, summarises it with
//! `backend::tools::audit` (units delivered and sold, orders accepted and rejected by reason, running
//! stock, idempotency keys accepted twice), reads the product and every order (through the admin
//! API: the log names carts by values that open nothing) from each replica over HTTP, and prints
//! a table of checks. Exits 1 on any violation.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use serde::Serialize;

use backend::config::KafkaConfig;
use backend::tools::audit::{self, Check, Expectation, ReplicaView, Summary};

/// Audits a sale of one product from the checkout topic and the replicas' answers.
#[derive(Parser)]
#[command(name = "shop-audit", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaConfig,
    /// A replica's base URL (repeat for each replica), e.g. http://127.0.0.1:8080.
    #[arg(long = "replica", required = true)]
    replicas: Vec<String>,
    /// The replicas' admin token: their orders are read as the operator reads them.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
    /// The product on sale.
    #[arg(long)]
    product: u64,
    /// Units put on sale: exactly these must be delivered and sold.
    #[arg(long)]
    units: u64,
    /// Shoppers who raced (from the load generator's side).
    #[arg(long)]
    shoppers: Option<u64>,
    /// Shoppers who got an answer, accepted or rejected (from the load generator's side).
    #[arg(long)]
    answered: Option<u64>,
    /// Orders the shoppers were told were accepted (from the load generator's side).
    #[arg(long)]
    accepted_answers: Option<u64>,
    /// Longest wait for the replicas to serve what the log says (they apply it within
    /// milliseconds; the last answers may still be on their way).
    #[arg(long, default_value_t = 30)]
    settle_secs: u64,
    /// Also write the summary and the checks as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    expectation: &'a Expectation,
    checks: &'a [Check],
    events: u64,
    undecodable: u64,
    orders_requested: usize,
    orders_accepted: u64,
    orders_rejected: std::collections::BTreeMap<String, u64>,
    product: Option<&'a audit::ProductLedger>,
    duplicate_keys: &'a std::collections::BTreeMap<String, u64>,
    replicas: Vec<ReplicaSummary<'a>>,
}

#[derive(Serialize)]
struct ReplicaSummary<'a> {
    base: &'a str,
    available: Option<u64>,
    carts: usize,
    orders: usize,
}

fn print_log_summary(s: &Summary, product: u64) {
    let p = s.products.get(&product).cloned().unwrap_or_default();
    println!(
        "checkout log: {} events ({} undecodable)",
        s.events, s.undecodable
    );
    println!(
        "order requests: {} ({} accepted, rejected {:?}, {} repeats of a decided request)",
        s.orders.len(),
        s.orders_accepted(),
        s.orders_rejected(),
        s.orders
            .iter()
            .filter(|o| o.decision == audit::Decision::Repeat)
            .count()
    );
    println!(
        "product {product}: delivered {}, sold {} in {} orders, rejected {:?}, stock now {} (lowest {}), fold's stock {}",
        p.delivered,
        p.sold,
        p.orders_accepted,
        p.orders_rejected,
        p.stock,
        p.lowest_stock,
        p.fold_stock
    );
}

async fn fetch_all(args: &Args) -> anyhow::Result<Vec<ReplicaView>> {
    let mut views = Vec::new();
    for base in &args.replicas {
        let base = base.trim_end_matches('/');
        views.push(audit::fetch_replica(base, args.product, &args.admin_token).await?);
    }
    Ok(views)
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,librdkafka=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let cfg = args.kafka.clone();
    let topic = args.kafka.checkout_topic.clone();
    let log = tokio::task::spawn_blocking(move || {
        audit::read_topic(&cfg, &topic, Duration::from_secs(60))
    })
    .await?
    .with_context(|| format!("reading {}", args.kafka.checkout_topic))?;
    let summary = audit::summarise(&log);
    print_log_summary(&summary, args.product);

    let want = Expectation {
        product: args.product,
        units: args.units,
        shoppers: args.shoppers,
        answered: args.answered,
        accepted_answers: args.accepted_answers,
    };
    // The replicas apply the log's tail within milliseconds, but the audit may read the log
    // before a replica has applied its last events: read again until they agree or time is up.
    let deadline = Instant::now() + Duration::from_secs(args.settle_secs);
    let (replicas, checks) = loop {
        let replicas = fetch_all(&args).await?;
        let checks = audit::check(&summary, &replicas, &want);
        if checks.iter().all(|c| c.ok) || Instant::now() >= deadline {
            break (replicas, checks);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    print!("{}", audit::table(&checks));
    let ok = checks.iter().all(|c| c.ok);
    println!(
        "{}",
        if ok {
            "audit: every check holds"
        } else {
            "audit: VIOLATIONS found"
        }
    );
    if let Some(path) = &args.json {
        let report = Report {
            ok,
            expectation: &want,
            checks: &checks,
            events: summary.events,
            undecodable: summary.undecodable,
            orders_requested: summary.orders.len(),
            orders_accepted: summary.orders_accepted(),
            orders_rejected: summary.orders_rejected(),
            product: summary.products.get(&args.product),
            duplicate_keys: &summary.duplicate_keys,
            replicas: replicas
                .iter()
                .map(|r| ReplicaSummary {
                    base: &r.base,
                    available: r.available,
                    carts: r.orders.len(),
                    orders: r.orders.keys().map(|c| r.order_ids(c).len()).sum(),
                })
                .collect(),
        };
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
