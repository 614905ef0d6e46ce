//! The running shop: its configuration, its two contexts, the producer, and the start-up order
//! that brings them up (topics, checkout replay, then the catalog replay that feeds the bridge).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::catalog::CatalogFold;
use crate::checkout::CheckoutFold;
use crate::config::Config;
use crate::engine::{self, Context};
use crate::kafka::{self, BrokerStatus, ShopClientContext};
use crate::shutdown::{self, Shutdown};
use crate::{bridge, http};

/// Everything a request handler may use. Built once, shared by reference.
pub struct App {
    pub config: Config,
    pub catalog: Context<CatalogFold>,
    pub checkout: Context<CheckoutFold>,
    pub producer: FutureProducer<ShopClientContext>,
    pub broker: Arc<BrokerStatus>,
}

impl App {
    pub fn new(config: Config) -> anyhow::Result<Arc<App>> {
        let broker = BrokerStatus::new();
        let producer = kafka::producer(&config.kafka, broker.clone())?;
        Ok(Arc::new(App {
            catalog: Context::new(&config.kafka.catalog_topic),
            checkout: Context::new(&config.kafka.checkout_topic),
            producer,
            broker,
            config,
        }))
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
            kafka::consumer(k, "checkout", self.broker.clone())?,
            None,
            shutdown.clone(),
        )?];
        tokio::select! {
            _ = self.checkout.wait_ready(Duration::MAX) => {}
            _ = shutdown::requested(shutdown.clone()) => return Ok(writers),
        }
        let tap = if self.config.bridge {
            let (tx, rx) = mpsc::channel(1024);
            tokio::spawn(bridge::run(
                rx,
                self.producer.clone(),
                k.checkout_topic.clone(),
                shutdown.clone(),
            ));
            Some(bridge::tap(self.checkout.model().bridged_until(), tx))
        } else {
            None
        };
        writers.push(engine::spawn(
            &self.catalog,
            kafka::consumer(k, "catalog", self.broker.clone())?,
            tap,
            shutdown,
        )?);
        Ok(writers)
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
        let producer = app.producer.clone();
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
                kafka::flush(&producer, Duration::from_secs(5))
            })
            .await;
            // A writer stops within one poll; closing its consumer can take long when the broker
            // is gone. The model needs no saving (it is in Kafka), so a slow close is not waited for.
            let joined = tokio::task::spawn_blocking(move || {
                writers.into_iter().for_each(|w| drop(w.join()))
            });
            if tokio::time::timeout(Duration::from_secs(3), joined)
                .await
                .is_err()
            {
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
