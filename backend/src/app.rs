//! The composition root: builds the shop's [`State`] from its [`Config`], starts the contexts'
//! writers in order (topics, checkout replay, then the catalog replay that feeds the bridge), the
//! snapshot verifiers and the HTTP server, and stops them in reverse. Only `main` and the tests
//! use it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::admin::Imports;
use crate::bridge;
use crate::catalog::CatalogFold;
use crate::catalog::search::SearchPool;
use crate::checkout::CheckoutFold;
use crate::commands::Commands;
use crate::config::Config;
use crate::engine::kafka::{self, BrokerStatus, ShopClientContext};
use crate::engine::{self, Context, Fold, Observer, snapshot};
use crate::eventlog::EventLog;
use crate::http::cart_limit::CartLimiter;
use crate::http::cookie::CartKeys;
use crate::live::Live;
use crate::ops::metrics::Metrics;
use crate::ops::traces;
use crate::server;
use crate::shutdown::{self, Shutdown};
use crate::state::State;

/// Builds the state handlers read: metrics, producer, both (not yet started) contexts.
pub fn build(config: Config) -> anyhow::Result<Arc<State>> {
    let broker = BrokerStatus::new();
    let metrics = Metrics::new()?;
    let producer = Arc::new(kafka::ShopProducer::new(
        &config.kafka.settings(),
        ShopClientContext::new("producer", broker.clone(), Some(metrics.kafka.clone())),
    )?);
    let catalog = Context::with_snapshots(
        &config.kafka.catalog_topic,
        metrics.engine(CatalogFold::NAME),
        config.snapshots(),
    );
    let checkout = Context::with_snapshots(
        &config.kafka.checkout_topic,
        metrics.engine(CheckoutFold::NAME),
        config.snapshots(),
    );
    catalog.trace_applies(traces::apply_span);
    checkout.trace_applies(traces::apply_span);
    metrics.observe_contexts(vec![Box::new(catalog.clone()), Box::new(checkout.clone())])?;
    let commands = Commands {
        producer,
        metrics: metrics.commands.clone(),
        timeout: config.command_timeout,
    };
    let imports = Imports::new(metrics.imports.clone());
    Ok(Arc::new(State {
        catalog,
        checkout,
        commands,
        broker,
        metrics,
        live: Live::new(config.live_announced_batches as usize),
        search: SearchPool::new(config.search.threads as usize, config.search.queue as usize),
        events: Arc::new(EventLog::new(config.admin.event_log_size as usize)),
        imports,
        cart_keys: CartKeys::new(config.cart_key()),
        cart_limiter: CartLimiter::new(
            config.limits.cart_create_per_minute,
            config.limits.cart_create_burst,
        ),
        shop: config.shop_settings(),
        sockets: config.socket_settings(),
        config,
    }))
}

/// A consumer for a context's writer whose statistics go into the metrics.
fn consumer(state: &State, name: &'static str) -> anyhow::Result<kafka::ShopConsumer> {
    let context = ShopClientContext::new(
        name,
        state.broker.clone(),
        Some(state.metrics.kafka.clone()),
    );
    Ok(kafka::consumer_with(
        &state.config.kafka.settings(),
        context,
    )?)
}

/// Creates missing topics, replays checkout (while the catalog's snapshot loads), then starts
/// the catalog with the bridge on it.
/// Returns the writer threads to join at shutdown.
async fn start_contexts(
    state: Arc<State>,
    shutdown: Shutdown,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    let k = &state.config.kafka;
    let mut delay = Duration::from_millis(200);
    while let Err(e) =
        kafka::ensure_topics(&k.settings(), &[&k.catalog_topic, &k.checkout_topic]).await
    {
        tracing::warn!(%e, "cannot create the topics yet; retrying");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown::requested(shutdown.clone()) => return Ok(vec![]),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    // The catalog's snapshot loads while checkout starts (its writer must wait for checkout:
    // see below); at a million products each load is about a second of a start-up.
    let catalog_preload = engine::preload(&state.catalog)?;
    let observers: Vec<Box<dyn Observer<CheckoutFold>>> = vec![
        state.live.collector(),
        state
            .events
            .recorder(&state.checkout, &state.events.checkout),
    ];
    let mut writers = vec![engine::spawn(
        &state.checkout,
        consumer(&state, "checkout")?,
        Some(Box::new(observers)),
        shutdown.clone(),
    )?];
    tokio::select! {
        _ = state.checkout.wait_ready(Duration::MAX) => {}
        _ = shutdown::requested(shutdown.clone()) => return Ok(writers),
    }
    // The bridge must see every catalog event checkout has not applied a copy of, so the
    // catalog may not start from a snapshot beyond that.
    let bridged_until = state.checkout.model().bridged_until();
    let latest_start = if state.config.bridge {
        bridged_until.map_or(0, |until| until + 1)
    } else {
        i64::MAX
    };
    let tap = if state.config.bridge {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(bridge::run(
            rx,
            state.commands.producer.clone(),
            k.checkout_topic.clone(),
            shutdown.clone(),
        ));
        Some(bridge::tap(bridged_until, tx))
    } else {
        None
    };
    let mut observers: Vec<Box<dyn Observer<CatalogFold>>> = tap.into_iter().collect();
    observers.push(state.events.recorder(&state.catalog, &state.events.catalog));
    writers.push(engine::spawn_preloaded(
        &state.catalog,
        consumer(&state, "catalog")?,
        Some(Box::new(observers)),
        shutdown.clone(),
        latest_start,
        catalog_preload,
    )?);
    writers.extend(start_verifiers(&state, shutdown)?);
    Ok(writers)
}

/// The background snapshot checks, when configured.
fn start_verifiers(
    state: &State,
    shutdown: Shutdown,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    let Some(settings) = state.config.snapshots() else {
        return Ok(vec![]);
    };
    let Some(every) = settings.verify_every else {
        return Ok(vec![]);
    };
    Ok(vec![
        snapshot::spawn_verifier(
            state.catalog.clone(),
            consumer(state, "catalog-verify")?,
            settings.dir.clone(),
            every,
            state.metrics.engine(CatalogFold::NAME).snapshot,
            shutdown.clone(),
        )?,
        snapshot::spawn_verifier(
            state.checkout.clone(),
            consumer(state, "checkout-verify")?,
            settings.dir,
            every,
            state.metrics.engine(CheckoutFold::NAME).snapshot,
            shutdown,
        )?,
    ])
}

/// A started server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds the listener, starts the contexts and serves until `shutdown`.
    pub async fn start(config: Config, shutdown: Shutdown) -> anyhow::Result<Server> {
        config.check_exposure().map_err(anyhow::Error::msg)?;
        match server::raise_open_file_limit() {
            Ok(files)
                if files
                    < u64::from(config.limits.max_connections)
                        + u64::from(config.limits.live_max_sockets)
                        + 256 =>
            {
                tracing::warn!(
                    files,
                    max_connections = config.limits.max_connections,
                    live_max_sockets = config.limits.live_max_sockets,
                    "the open-file limit is below MAX_CONNECTIONS plus LIVE_MAX_SOCKETS plus the shop's own files: connections beyond it fail to accept"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%e, "could not raise the open-file limit"),
        }
        let listener = TcpListener::bind(config.http_addr).await?;
        let addr = listener.local_addr()?;
        let state = build(config)?;
        let startup = tokio::spawn(start_contexts(state.clone(), shutdown.clone()));
        let http = tokio::spawn(server::serve(listener, state.clone(), shutdown.clone()));
        let flushing = state.clone();
        let snapshots_on = state.config.snapshot.snapshot_dir.is_some();
        let done = tokio::spawn(async move {
            let _ = http.await;
            let writers = match startup.await {
                Ok(Ok(w)) => w,
                Ok(Err(e)) => {
                    tracing::error!(%e, "start-up failed");
                    vec![]
                }
                Err(_) => vec![],
            };
            let _ = tokio::task::spawn_blocking(move || {
                flushing.commands.producer.flush(Duration::from_secs(5))
            })
            .await;
            // A writer stops within one poll; closing its consumer can take long when the broker
            // is gone. The model needs no saving (it is in Kafka), so a slow close is not waited
            // for; but a writer that writes its shutdown snapshot (a large model takes seconds)
            // is given the time to finish it.
            let grace = if snapshots_on {
                Duration::from_secs(60)
            } else {
                Duration::from_secs(3)
            };
            let joined = tokio::task::spawn_blocking(move || {
                writers.into_iter().for_each(|w| drop(w.join()))
            });
            if tokio::time::timeout(grace, joined).await.is_err() {
                tracing::warn!("a context's Kafka consumer is slow to close; exiting without it");
            }
        });
        tracing::info!(%addr, "listening");
        Ok(Server { addr, state, done })
    }

    /// Waits until the server has stopped: connections drained, writers joined, producer flushed.
    pub async fn stopped(self) {
        let _ = self.done.await;
    }
}
