//! The running shop: its configuration, its two contexts, the producer, the live-update hub, and
//! the start-up order that brings them up (topics, checkout replay, then the catalog replay that
//! feeds the bridge).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::catalog::CatalogFold;
use crate::checkout::CheckoutFold;
use crate::config::Config;
use crate::engine::{self, Context, Fold};
use crate::kafka::{self, BrokerStatus, ShopClientContext};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::shutdown::{self, Shutdown};
use crate::{bridge, http, snapshot};

/// Everything a request handler may use. Built once, shared by reference.
pub struct App {
    pub config: Config,
    pub catalog: Context<CatalogFold>,
    pub checkout: Context<CheckoutFold>,
    pub producer: Arc<kafka::ShopProducer>,
    pub broker: Arc<BrokerStatus>,
    pub metrics: Metrics,
    pub live: Live,
}

impl App {
    pub fn new(config: Config) -> anyhow::Result<Arc<App>> {
        let broker = BrokerStatus::new();
        let metrics = Metrics::new()?;
        let producer = Arc::new(kafka::ShopProducer::new(
            &config.kafka,
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
        metrics.observe_contexts(vec![Box::new(catalog.clone()), Box::new(checkout.clone())])?;
        Ok(Arc::new(App {
            catalog,
            checkout,
            producer,
            broker,
            metrics,
            live: Live::default(),
            config,
        }))
    }

    /// A consumer for a context's writer whose statistics go into the metrics.
    fn consumer(&self, name: &'static str) -> anyhow::Result<kafka::ShopConsumer> {
        let context =
            ShopClientContext::new(name, self.broker.clone(), Some(self.metrics.kafka.clone()));
        Ok(kafka::consumer_with(&self.config.kafka, context)?)
    }

    /// The first context whose writer is stuck or dead, for `/healthz`. A writer that waits for
    /// an unreachable broker is not stuck: readiness reports that.
    pub fn unhealthy(&self) -> Option<(&'static str, engine::WriterHealth)> {
        fn check<F: engine::Fold>(
            c: &Context<F>,
            stuck_after: Duration,
            broker_up: bool,
        ) -> Option<(&'static str, engine::WriterHealth)> {
            match c.health(stuck_after) {
                engine::WriterHealth::Healthy => None,
                engine::WriterHealth::Stuck { .. } if !broker_up => None,
                h => Some((F::NAME, h)),
            }
        }
        let (after, up) = (self.config.stuck_after, self.broker.is_up());
        check(&self.checkout, after, up).or_else(|| check(&self.catalog, after, up))
    }

    /// Why the shop cannot serve yet, or None when both contexts have replayed.
    pub fn not_ready(&self) -> Option<String> {
        fn progress<F: engine::Fold>(c: &Context<F>) -> Option<String> {
            (!c.is_ready()).then(|| {
                let target = c
                    .stats()
                    .replay_target
                    .load(std::sync::atomic::Ordering::Relaxed);
                format!(
                    "{} is replaying its log ({} events to read)",
                    F::NAME,
                    target
                )
            })
        }
        progress(&self.checkout).or_else(|| progress(&self.catalog))
    }

    /// Creates missing topics, replays checkout, then starts the catalog with the bridge on it.
    /// Returns the writer threads to join at shutdown.
    async fn start_contexts(
        self: Arc<Self>,
        shutdown: Shutdown,
    ) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
        let k = &self.config.kafka;
        let mut delay = Duration::from_millis(200);
        while let Err(e) = kafka::ensure_topics(k, &[&k.catalog_topic, &k.checkout_topic]).await {
            tracing::warn!(%e, "cannot create the topics yet; retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown::requested(shutdown.clone()) => return Ok(vec![]),
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        let mut writers = vec![engine::spawn(
            &self.checkout,
            self.consumer("checkout")?,
            Some(self.live.collector()),
            shutdown.clone(),
        )?];
        tokio::select! {
            _ = self.checkout.wait_ready(Duration::MAX) => {}
            _ = shutdown::requested(shutdown.clone()) => return Ok(writers),
        }
        // The bridge must see every catalog event checkout has not applied a copy of, so the
        // catalog may not start from a snapshot beyond that.
        let bridged_until = self.checkout.model().bridged_until();
        let latest_start = if self.config.bridge {
            bridged_until.map_or(0, |until| until + 1)
        } else {
            i64::MAX
        };
        let tap = if self.config.bridge {
            let (tx, rx) = mpsc::channel(1024);
            tokio::spawn(bridge::run(
                rx,
                self.producer.clone(),
                k.checkout_topic.clone(),
                shutdown.clone(),
            ));
            Some(bridge::tap(bridged_until, tx))
        } else {
            None
        };
        writers.push(engine::spawn_from(
            &self.catalog,
            self.consumer("catalog")?,
            tap,
            shutdown.clone(),
            latest_start,
        )?);
        writers.extend(self.start_verifiers(shutdown)?);
        Ok(writers)
    }

    /// The background snapshot checks, when configured.
    fn start_verifiers(
        &self,
        shutdown: Shutdown,
    ) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
        let Some(settings) = self.config.snapshots() else {
            return Ok(vec![]);
        };
        let Some(every) = settings.verify_every else {
            return Ok(vec![]);
        };
        Ok(vec![
            snapshot::spawn_verifier(
                self.catalog.clone(),
                self.consumer("catalog-verify")?,
                settings.dir.clone(),
                every,
                self.metrics.engine(CatalogFold::NAME).snapshot,
                shutdown.clone(),
            )?,
            snapshot::spawn_verifier(
                self.checkout.clone(),
                self.consumer("checkout-verify")?,
                settings.dir,
                every,
                self.metrics.engine(CheckoutFold::NAME).snapshot,
                shutdown,
            )?,
        ])
    }
}

/// A started server.
pub struct Server {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds the listener, starts the contexts and serves until `shutdown`.
    pub async fn start(config: Config, shutdown: Shutdown) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(config.http_addr).await?;
        let addr = listener.local_addr()?;
        let app = App::new(config)?;
        let startup = tokio::spawn(app.clone().start_contexts(shutdown.clone()));
        let http = tokio::spawn(http::serve(listener, app.clone(), shutdown.clone()));
        let flushing = app.clone();
        let snapshots_on = app.config.snapshot.snapshot_dir.is_some();
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
                flushing.producer.flush(Duration::from_secs(5))
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
        Ok(Server { addr, app, done })
    }

    /// Waits until the server has stopped: connections drained, writers joined, producer flushed.
    pub async fn stopped(self) {
        let _ = self.done.await;
    }
}
