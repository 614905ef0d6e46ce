//! Everything the shop says to Kafka goes through here: the client settings (kept in one place,
//! as plain librdkafka key/values, made from [`KafkaSettings`]), broker reachability as the
//! clients see it, librdkafka's statistics handed to a [`StatsRecorder`], topic creation, and the producer every command and import
//! uses (acks=all, idempotent, delivery awaited).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::statistics::Statistics;

use super::metrics::StatsRecorder;

/// What the shop's Kafka clients are made with: the part of the Kafka configuration the engine
/// reads (`config` makes it from the flags and environment; topic names are not the clients').
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// Bootstrap servers.
    pub brokers: String,
    /// librdkafka's fetch.wait.max.ms for consumers.
    pub fetch_wait_max_ms: u32,
    /// librdkafka's linger.ms for producers.
    pub linger_ms: u32,
    /// librdkafka's message.timeout.ms for producers: how long a produce may take.
    pub produce_timeout: Duration,
    /// Replication factor of the topics [`ensure_topics`] creates.
    pub replication_factor: i32,
    /// Further librdkafka settings, set last on every client.
    pub extra: Vec<(String, String)>,
}

/// A failed produce, as a command handler needs to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("the Kafka broker is unreachable")]
    BrokerDown,
    #[error("Kafka did not acknowledge the event in time")]
    Timeout,
    #[error("Kafka refused the event: {0}")]
    Kafka(KafkaError),
}

/// Whether the brokers are reachable, as the clients last saw them. Set down at once when
/// librdkafka reports all brokers down; set up again by the next statistics report that shows a
/// connected broker. Commands read it to fail fast instead of queueing into a dead link.
#[derive(Debug)]
pub struct BrokerStatus {
    up: AtomicBool,
}

impl BrokerStatus {
    pub fn new() -> Arc<Self> {
        Arc::new(BrokerStatus {
            up: AtomicBool::new(true),
        })
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn set(&self, up: bool, client: &str) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!(client, "Kafka broker reachable again");
            } else {
                tracing::warn!(client, "Kafka broker unreachable");
            }
        }
    }
}

/// The librdkafka client context of every client: routes errors and statistics into
/// [`BrokerStatus`] (and, when given, a [`StatsRecorder`]) and librdkafka's log lines into
/// `tracing`.
#[derive(Clone)]
pub struct ShopClientContext {
    pub name: &'static str,
    pub status: Arc<BrokerStatus>,
    pub metrics: Option<Arc<dyn StatsRecorder>>,
    /// The highest partition high watermark in the latest statistics (a consumer reads one
    /// partition, so it is that partition's); -1 before the first report.
    high_watermark: Arc<AtomicI64>,
}

impl ShopClientContext {
    pub fn new(
        name: &'static str,
        status: Arc<BrokerStatus>,
        metrics: Option<Arc<dyn StatsRecorder>>,
    ) -> Self {
        ShopClientContext {
            name,
            status,
            metrics,
            high_watermark: Arc::new(AtomicI64::new(-1)),
        }
    }

    /// The partition high watermark librdkafka last reported (statistics, once a second);
    /// -1 if none yet. Reading it costs one atomic load.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Relaxed)
    }
}

impl ClientContext for ShopClientContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(client = self.name, fac, "{log_message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(client = self.name, fac, "{log_message}"),
            _ => tracing::debug!(client = self.name, fac, "{log_message}"),
        }
    }

    fn stats(&self, statistics: Statistics) {
        // Bootstrap entries have nodeid -1; a learned broker in state UP means a live connection.
        let up = statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        if up {
            self.status.set(true, self.name);
        }
        let high = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.partition >= 0)
            .map(|p| p.hi_offset)
            .max()
            .unwrap_or(-1);
        self.high_watermark.fetch_max(high, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.record(self.name, &statistics);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown)
        ) {
            self.status.set(false, self.name);
        } else {
            tracing::warn!(client = self.name, %error, reason, "Kafka client error");
        }
    }
}

impl ConsumerContext for ShopClientContext {}

pub type ShopConsumer = BaseConsumer<ShopClientContext>;

/// Settings common to every client.
fn base(cfg: &KafkaSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("statistics.interval.ms", "1000")
        // Come back quickly after a broker restart (librdkafka's default backs off up to 10 s).
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "1000")
        .set("socket.keepalive.enable", "true");
    for (k, v) in &cfg.extra {
        c.set(k, v);
    }
    c
}

/// The consumer a context's writer reads its topic partition with. It is assigned, never
/// subscribed: no consumer group, no committed offsets; every start replays from offset 0.
pub fn consumer(
    cfg: &KafkaSettings,
    name: &'static str,
    status: Arc<BrokerStatus>,
) -> Result<ShopConsumer, KafkaError> {
    consumer_with(cfg, ShopClientContext::new(name, status, None))
}

/// [`consumer`] with a given client context (e.g. one that records metrics).
pub fn consumer_with(
    cfg: &KafkaSettings,
    context: ShopClientContext,
) -> Result<ShopConsumer, KafkaError> {
    let name = context.name;
    base(cfg)
        // librdkafka wants a group even for assign(); nothing is ever committed to it.
        .set("group.id", format!("shop-{name}"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // Should the broker ever call a position invalid, read from the start again (the engine
        // skips what it has applied) rather than jump to the end and silently miss events.
        .set("auto.offset.reset", "earliest")
        // The longest a fetch waits for new data. Real Kafka answers as soon as data arrives; a
        // broker that holds every fetch for this long makes it the read-your-writes latency.
        .set("fetch.wait.max.ms", cfg.fetch_wait_max_ms.to_string())
        .set("fetch.min.bytes", "1")
        .set("max.partition.fetch.bytes", "8388608")
        .set("queued.max.messages.kbytes", "262144")
        .create_with_context(context)
}

/// The producer of commands, bridge copies and imports: every event acknowledged by all in-sync
/// replicas, idempotent so librdkafka's retries never duplicate or reorder.
pub fn producer(
    cfg: &KafkaSettings,
    status: Arc<BrokerStatus>,
) -> Result<FutureProducer<ShopClientContext>, KafkaError> {
    producer_with(cfg, ShopClientContext::new("producer", status, None))
}

/// [`producer`] with a given client context (e.g. one that records metrics).
pub fn producer_with(
    cfg: &KafkaSettings,
    context: ShopClientContext,
) -> Result<FutureProducer<ShopClientContext>, KafkaError> {
    base(cfg)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", cfg.linger_ms.to_string())
        .set(
            "message.timeout.ms",
            cfg.produce_timeout.as_millis().to_string(),
        )
        .set("compression.type", "none")
        .create_with_context(context)
}

/// The long-lived producer of a server (commands and bridge copies), replaced by a fresh one
/// when it may be wedged.
///
/// A message that times out in flight makes librdkafka's idempotent producer bump its epoch
/// (KIP-360), and a fatal error leaves it unusable for good. Not every Kafka-protocol broker
/// handles the bump (tansu 0.6.0 fails every later produce of that producer), whereas a fresh
/// producer id works everywhere. Replacing loses nothing: the failed command was answered 503
/// and its retry with the same Idempotency-Key takes effect once, and the bridge re-sends.
pub struct ShopProducer {
    cfg: KafkaSettings,
    context: ShopClientContext,
    current: arc_swap::ArcSwap<Generation>,
}

/// One producer instance and its number, so that failures seen by several callers replace it
/// once.
pub struct Generation {
    pub number: u64,
    pub producer: FutureProducer<ShopClientContext>,
}

impl ShopProducer {
    pub fn new(
        cfg: &KafkaSettings,
        context: ShopClientContext,
    ) -> Result<ShopProducer, KafkaError> {
        let producer = producer_with(cfg, context.clone())?;
        Ok(ShopProducer {
            cfg: cfg.clone(),
            context,
            current: arc_swap::ArcSwap::from_pointee(Generation {
                number: 0,
                producer,
            }),
        })
    }

    /// The producer to use now.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    pub fn status(&self) -> &BrokerStatus {
        &self.context.status
    }

    /// Produces one event with the given headers (a command's trace context, if any) and waits
    /// for its acknowledgement; returns its offset.
    pub async fn send(
        &self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
        headers: Option<OwnedHeaders>,
    ) -> Result<i64, ProduceError> {
        let generation = self.current();
        let producer = &generation.producer;
        let result =
            produce_with_headers(producer, self.status(), topic, key, payload, headers).await;
        if let Err(ProduceError::Timeout | ProduceError::Kafka(_)) = &result {
            self.failed(&generation, result.as_ref().err());
        }
        result
    }

    /// Replaces `generation` if it is still the current one and the failure may have wedged it:
    /// a timeout, a fatal error, or a broker error librdkafka cannot name.
    pub fn failed(&self, generation: &Arc<Generation>, error: Option<&ProduceError>) {
        let fatal = generation.producer.client().fatal_error();
        let wedging = fatal.is_some()
            || match error {
                Some(ProduceError::Timeout) => true,
                Some(ProduceError::Kafka(e)) => matches!(
                    e.rdkafka_error_code(),
                    Some(RDKafkaErrorCode::Unknown | RDKafkaErrorCode::MessageTimedOut)
                ),
                _ => false,
            };
        if !wedging {
            return;
        }
        let fresh = match producer_with(&self.cfg, self.context.clone()) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(%e, "cannot create a new producer; keeping the old one");
                return;
            }
        };
        let next = Arc::new(Generation {
            number: generation.number + 1,
            producer: fresh,
        });
        let previous = self.current.compare_and_swap(generation, next);
        if Arc::ptr_eq(&previous, generation) {
            tracing::warn!(
                generation = generation.number + 1,
                fatal = ?fatal,
                error = ?error.map(|e| e.to_string()),
                "producer replaced after a failure that may have wedged it"
            );
        }
    }

    /// Waits up to `timeout` for every queued event of the current producer.
    pub fn flush(&self, timeout: Duration) {
        flush(&self.current().producer, timeout)
    }
}

/// Produces one event and waits for its acknowledgement; returns its offset.
pub async fn produce(
    producer: &FutureProducer<ShopClientContext>,
    status: &BrokerStatus,
    topic: &str,
    key: &[u8],
    payload: &[u8],
) -> Result<i64, ProduceError> {
    produce_with_headers(producer, status, topic, key, payload, None).await
}

/// [`produce`] with Kafka message headers (None writes none).
pub async fn produce_with_headers(
    producer: &FutureProducer<ShopClientContext>,
    status: &BrokerStatus,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: Option<OwnedHeaders>,
) -> Result<i64, ProduceError> {
    if !status.is_up() {
        return Err(ProduceError::BrokerDown);
    }
    let mut record = FutureRecord::to(topic)
        .partition(0)
        .key(key)
        .payload(payload);
    if let Some(headers) = headers {
        record = record.headers(headers);
    }
    match producer.send(record, Duration::from_secs(0)).await {
        Ok(delivery) => Ok(delivery.offset),
        Err((e, _)) => Err(ProduceError::from(e)),
    }
}

impl From<KafkaError> for ProduceError {
    fn from(e: KafkaError) -> Self {
        match e.rdkafka_error_code() {
            Some(RDKafkaErrorCode::MessageTimedOut) => ProduceError::Timeout,
            Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure) => {
                ProduceError::BrokerDown
            }
            _ => ProduceError::Kafka(e),
        }
    }
}

/// retention.ms that both Kafka and tansu 0.6.0 read as "keep forever" (i64::MAX).
pub const KEEP_FOREVER_MS: &str = "9223372036854775807";

/// Creates the shop's topics where missing (one partition each: a context's log is one total
/// order; unlimited retention). Existing topics are left alone.
pub async fn ensure_topics(cfg: &KafkaSettings, topics: &[&str]) -> Result<(), KafkaError> {
    let admin: AdminClient<_> = base(cfg).create()?;
    let cfg_timeout = Duration::from_secs(10);
    let metadata = admin.inner().fetch_metadata(None, cfg_timeout)?;
    let missing: Vec<&str> = topics
        .iter()
        .copied()
        .filter(|t| {
            !metadata
                .topics()
                .iter()
                .any(|m| m.name() == *t && m.error().is_none())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // Kafka is the only copy of the shop's state: events are kept forever, never compacted away.
    let new: Vec<NewTopic> = missing
        .iter()
        .map(|t| {
            NewTopic::new(t, 1, TopicReplication::Fixed(cfg.replication_factor))
                // i64::MAX, not -1: Kafka reads both as "forever", but tansu 0.6.0's cleanup
                // reads -1 as "delete everything" (it emptied topics within 10 minutes).
                .set("retention.ms", KEEP_FOREVER_MS)
                .set("cleanup.policy", "delete")
        })
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(cfg_timeout))
        .request_timeout(Some(cfg_timeout));
    for result in admin.create_topics(&new, &opts).await? {
        match result {
            Ok(topic) => tracing::info!(topic, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code))
                    .inspect_err(|_| tracing::error!(topic, %code, "cannot create topic"));
            }
        }
    }
    Ok(())
}

/// Number of events in a topic's partition 0 (its high watermark).
pub fn high_watermark(
    consumer: &ShopConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<i64, KafkaError> {
    use rdkafka::consumer::Consumer;
    consumer
        .fetch_watermarks(topic, 0, timeout)
        .map(|(_, high)| high)
}

/// Whether `error`, met while reading `topic`, may mean the topic is gone from the broker.
pub fn names_a_missing_topic(error: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(
            C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition | C::UnknownTopicId
        )
    )
}

/// Asks the broker whether `topic` exists: `Ok(false)` only when it says the topic is unknown
/// (a broker that cannot be reached proves nothing: `Err`).
pub fn topic_exists(
    consumer: &ShopConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<bool, KafkaError> {
    use rdkafka::consumer::Consumer;
    use rdkafka::types::RDKafkaRespErr as E;
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    Ok(!metadata.topics().iter().any(|t| {
        t.name() == topic
            && matches!(
                t.error(),
                Some(
                    E::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                        | E::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_ID
                )
            )
    }))
}

/// Flushes a producer before exit so nothing handed to it is dropped.
pub fn flush(producer: &FutureProducer<ShopClientContext>, timeout: Duration) {
    if let Err(e) = producer.flush(timeout) {
        tracing::warn!(%e, "producer flush incomplete");
    }
}
