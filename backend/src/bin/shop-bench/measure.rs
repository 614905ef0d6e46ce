//! Measurements against the broker: a bare consumer's replay, the engine's replay and
//! start-up, snapshot loads, and the raw produce→consumed latency.

use super::*;

pub(crate) fn kafka_config(
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

pub(crate) fn server_config(args: &[&str]) -> anyhow::Result<Config> {
    #[derive(Parser)]
    struct ServerArgs {
        #[command(flatten)]
        config: Config,
    }
    Ok(ServerArgs::try_parse_from(args)?.config)
}

/// A replay that receives nothing for this long has stalled (tansu 0.6.0 was seen to stop
/// answering one consumer's fetches mid-topic); it is reported and the run goes on.
pub(crate) const STALL: Duration = Duration::from_secs(60);

pub(crate) struct Consumed {
    pub(crate) events: u64,
    pub(crate) bytes: u64,
    pub(crate) elapsed: Duration,
}

/// Reads a topic from offset 0 to its high watermark with a consumer made like the engine's,
/// counting messages and payload bytes and nothing else.
pub(crate) async fn raw_consume(cfg: KafkaConfig, topic: String) -> anyhow::Result<Consumed> {
    tokio::task::spawn_blocking(move || {
        let consumer = kafka::consumer(&cfg.settings(), "bench-raw", BrokerStatus::new())?;
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
pub(crate) fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which lives on this stack.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub(crate) struct Load {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
    pub(crate) entries: usize,
}

/// Times `snapshot::load_newest` of this context in `dir` (wall and CPU time: the machine is
/// shared, CPU time is what the load itself costs); returns the model's first entry count.
pub(crate) fn load_snapshot<F: Fold>(dir: &Path, topic: &str, high: i64) -> anyhow::Result<Load> {
    let metrics = backend::ops::metrics::snapshot::SnapshotMetrics::unregistered(F::NAME);
    let (t0, c0) = (Instant::now(), cpu_time());
    let loaded = snapshot::load_newest::<F>(dir, topic, high, &metrics)
        .context("the snapshot just written did not load")?;
    let (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
    let entries = F::entries(&loaded.model).first().map_or(0, |e| e.1);
    Ok(Load { wall, cpu, entries })
}

pub(crate) struct Started {
    pub(crate) ready: Duration,
    pub(crate) snapshot_offset: i64,
    pub(crate) tail: u64,
    pub(crate) products: usize,
}

/// Starts a catalog context with snapshots, waits until it is ready, stops it (a graceful stop
/// joins the snapshot thread, so a snapshot written after the replay is on disk).
pub(crate) async fn engine_start(
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
    let consumer = kafka::consumer(&cfg.settings(), "bench-startup", BrokerStatus::new())?;
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

pub(crate) struct Replayed {
    pub(crate) events: u64,
    pub(crate) products: usize,
    pub(crate) elapsed: Duration,
}

/// Runs the engine's start-up replay of a catalog topic and stops it once ready.
pub(crate) async fn engine_replay(
    cfg: &KafkaConfig,
    topic: &str,
    started: Instant,
) -> anyhow::Result<Replayed> {
    let context = Context::<CatalogFold>::new(topic);
    let (stop, shutdown) = shutdown::channel();
    let consumer = kafka::consumer(&cfg.settings(), "bench-engine", BrokerStatus::new())?;
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
pub(crate) async fn produce_to_consumed(
    cfg: &KafkaConfig,
    producer: &rdkafka::producer::FutureProducer<kafka::ShopClientContext>,
    status: &BrokerStatus,
    warm: usize,
    samples: usize,
) -> anyhow::Result<Percentiles> {
    let topic = "bench.latency";
    let consumer = kafka::consumer(&cfg.settings(), "bench-latency", BrokerStatus::new())?;
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
