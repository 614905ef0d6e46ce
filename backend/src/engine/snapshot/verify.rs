//! The background check that a snapshot equals a replay of its log from offset 0.

use std::io::{self};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::file::*;
use super::store::*;
use crate::engine::fold::Fold;
use crate::engine::kafka::ShopConsumer;
use crate::engine::metrics::SnapshotRecorder;
use crate::shutdown::Shutdown;

/// The result of one background check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A replay from 0 to the snapshot's offset gives the same encoding.
    Equal {
        offset: i64,
    },
    Different {
        offset: i64,
        path: PathBuf,
    },
    /// Nothing to check yet (no snapshot), or the check could not finish (shutdown, an
    /// unreadable file, a broker that does not deliver).
    Skipped(String),
}

/// Replays `topic` from offset 0 up to the newest snapshot's offset with `consumer` (a consumer
/// of its own) and compares the encodings. Poison events are skipped as the writer skips them.
pub fn verify_once<F: Fold>(
    consumer: &ShopConsumer,
    dir: &Path,
    topic: &str,
    shutdown: &Shutdown,
    metrics: &dyn SnapshotRecorder,
) -> Verdict {
    let verdict = check::<F>(consumer, dir, topic, shutdown);
    match &verdict {
        Verdict::Equal { offset } => {
            metrics.verified(true, *offset);
            tracing::info!(
                context = F::NAME,
                offset,
                "snapshot verified: equal to a replay from offset 0"
            );
        }
        Verdict::Different { offset, path } => {
            metrics.verified(false, *offset);
            tracing::error!(context = F::NAME, offset, file = %path.display(),
                "snapshot DIFFERS from a replay from offset 0: the fold is not deterministic or its model version was not bumped");
        }
        Verdict::Skipped(why) => {
            tracing::info!(context = F::NAME, why, "snapshot check skipped")
        }
    }
    verdict
}

fn check<F: Fold>(
    consumer: &ShopConsumer,
    dir: &Path,
    topic: &str,
    shutdown: &Shutdown,
) -> Verdict {
    let skipped = |why: String| Verdict::Skipped(why);
    let newest = match list::<F>(dir, topic) {
        Ok(files) => files.into_iter().next(),
        Err(e) => return skipped(format!("cannot list snapshots: {e}")),
    };
    let Some((_, path)) = newest else {
        return skipped("no snapshot yet".into());
    };
    let file = match read::<F>(&path, topic) {
        Ok(read) => read,
        Err(e) => return skipped(format!("{}: {e}", path.display())),
    };
    let until = file.header.offset;
    let mut tpl = TopicPartitionList::new();
    if let Err(e) = tpl
        .add_partition_offset(topic, 0, Offset::Beginning)
        .and_then(|_| consumer.assign(&tpl))
    {
        return skipped(format!("cannot assign the partition: {e}"));
    }
    let mut model = F::Model::default();
    let mut expected = 0i64;
    let mut idle_since = Instant::now();
    while expected < until {
        if *shutdown.borrow() {
            return skipped("shutdown".into());
        }
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            if idle_since.elapsed() > Duration::from_secs(120) {
                return skipped(format!("no event for 2 min at offset {expected}"));
            }
            continue;
        };
        let Ok(msg) = msg else { continue };
        idle_since = Instant::now();
        let offset = msg.offset();
        if offset < expected || offset >= until {
            continue;
        }
        expected = offset + 1;
        if let Ok(event) = <F::Event as prost::Message>::decode(msg.payload().unwrap_or_default()) {
            F::apply(&mut model, &event, offset);
        }
    }
    let _ = consumer.unassign();
    F::finalize(&mut model);
    if encode::<F>(&model) == file.payload() {
        Verdict::Equal { offset: until }
    } else {
        Verdict::Different {
            offset: until,
            path,
        }
    }
}

/// Runs [`verify_once`] on a low-priority thread of its own: first once the context is ready
/// (and a snapshot exists), then every `every`.
pub fn spawn_verifier<F: Fold>(
    context: crate::engine::Context<F>,
    consumer: ShopConsumer,
    dir: PathBuf,
    every: Duration,
    metrics: impl SnapshotRecorder,
    shutdown: Shutdown,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("{}-verify", F::NAME))
        .spawn(move || {
            lower_priority();
            let topic = context.topic().to_owned();
            let sleep = |d: Duration| {
                let until = Instant::now() + d;
                while Instant::now() < until {
                    if *shutdown.borrow() {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(100).min(d));
                }
                !*shutdown.borrow()
            };
            while !context.is_ready() {
                if !sleep(Duration::from_millis(100)) {
                    return;
                }
            }
            loop {
                let verdict = verify_once::<F>(&consumer, &dir, &topic, &shutdown, &metrics);
                // Without a snapshot yet, look again soon rather than after a whole period.
                let wait = match verdict {
                    Verdict::Skipped(_) => every.min(Duration::from_secs(1)),
                    _ => every,
                };
                if !sleep(wait) {
                    return;
                }
            }
        })
}
