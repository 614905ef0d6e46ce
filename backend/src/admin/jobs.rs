//! The imports this replica runs: each upload's job (its rows, what Kafka acknowledged, whether
//! the context applied the last one), kept for the newest [`KEEP`] and read without a lock, and
//! the task that writes a job's rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use indicatif::{ProgressBar, ProgressDrawTarget};
use shared::proto::ImportStatus;

use crate::commands::meta::fingerprint;
use crate::config::KafkaConfig;
use crate::engine::kafka::{self, BrokerStatus};
use crate::tools::import::{FileKind, Prepared, bulk_config, produce_all_until};

/// Imports remembered per replica (the newest; older finished ones are forgotten).
pub const KEEP: usize = 100;
/// How long an import waits for its context to apply what it wrote.
const APPLY_WAIT: Duration = Duration::from_secs(120);

const PRODUCING: u8 = 0;
const APPLYING: u8 = 1;
const DONE: u8 = 2;
const FAILED: u8 = 3;

/// One upload being written, or written.
pub struct Job {
    id: String,
    kind: FileKind,
    /// The file's fingerprint: the same key with another file is refused.
    hash: u64,
    rows: u64,
    /// Its position is the rows Kafka acknowledged (hidden: nothing is drawn).
    progress: ProgressBar,
    state: AtomicU8,
    last_offset: AtomicI64,
    error: std::sync::OnceLock<String>,
    /// When it started, for forgetting the oldest.
    seq: u64,
}

impl Job {
    /// A job about to write `rows` rows of a file whose fingerprint is `hash`.
    pub fn new(id: String, kind: FileKind, hash: u64, rows: u64, seq: u64) -> Job {
        Job {
            id,
            kind,
            hash,
            rows,
            progress: ProgressBar::with_draw_target(Some(rows), ProgressDrawTarget::hidden()),
            state: AtomicU8::new(PRODUCING),
            last_offset: AtomicI64::new(-1),
            error: Default::default(),
            seq,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The fingerprint of the file it writes.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn status(&self) -> ImportStatus {
        let state = self.state.load(Ordering::Acquire);
        ImportStatus {
            id: self.id.clone(),
            kind: self.kind.name().to_owned(),
            state: match state {
                PRODUCING => "producing",
                APPLYING => "applying",
                DONE => "done",
                _ => "failed",
            }
            .to_owned(),
            rows: self.rows,
            produced: self.progress.position(),
            error: self.error.get().cloned().unwrap_or_default(),
            last_offset: self.last_offset.load(Ordering::Acquire),
        }
    }

    fn finished(&self) -> bool {
        self.state.load(Ordering::Acquire) >= DONE
    }
}

/// The imports this replica ran, by id: read without a lock, replaced whole when one starts.
#[derive(Default)]
pub struct Imports {
    jobs: ArcSwap<imbl::HashMap<String, Arc<Job>>>,
    next: AtomicU64,
}

impl Imports {
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.load().get(id).cloned()
    }

    /// A number for the next job: the order they started in.
    pub fn next_seq(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers `job` unless one with its id exists; returns the one registered under the id.
    pub fn insert(&self, job: Arc<Job>) -> Arc<Job> {
        let mut winner = job.clone();
        self.jobs.rcu(|jobs| {
            if let Some(existing) = jobs.get(&job.id) {
                winner = existing.clone();
                return jobs.clone();
            }
            winner = job.clone();
            let mut jobs = (**jobs).clone();
            jobs.insert(job.id.clone(), job.clone());
            if jobs.len() > KEEP
                && let Some(oldest) = jobs
                    .values()
                    .filter(|j| j.finished())
                    .min_by_key(|j| j.seq)
                    .map(|j| j.id.clone())
            {
                jobs.remove(&oldest);
            }
            Arc::new(jobs)
        });
        winner
    }
}

/// An import's id: its kind and key, hashed (a key may hold any visible character; an id goes
/// in a URL).
pub fn import_id(kind: FileKind, key: &str) -> String {
    format!(
        "{:016x}",
        fingerprint(&[kind.name().as_bytes(), key.as_bytes()])
    )
}

/// The context whose applied offset says an import is complete.
pub enum Applied {
    Catalog(crate::engine::Context<crate::catalog::CatalogFold>),
    Checkout(crate::engine::Context<crate::checkout::CheckoutFold>),
}

impl Applied {
    async fn wait_for(&self, offset: i64) -> Result<(), crate::engine::WaitError> {
        match self {
            Applied::Catalog(c) => c.wait_for(offset, APPLY_WAIT).await,
            Applied::Checkout(c) => c.wait_for(offset, APPLY_WAIT).await,
        }
    }
}

/// Writes the records with a producer of its own (so an upload never queues in front of the
/// shoppers' commands), then waits until the context applied the last one.
pub async fn run(job: Arc<Job>, prepared: Prepared, cfg: KafkaConfig, context: Applied) {
    let fail = |why: String| {
        tracing::warn!(import = %job.id, kind = job.kind.name(), why, "import failed");
        let _ = job.error.set(why);
        job.state.store(FAILED, Ordering::Release);
    };
    let producer = match kafka::producer(&bulk_config(&cfg), BrokerStatus::new()) {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot create a Kafka producer: {e}")),
    };
    let written = produce_all_until(
        &producer,
        &prepared.topic,
        prepared.records.into_iter(),
        &job.progress,
    )
    .await;
    let last = match written {
        Ok((_, last)) => last,
        Err(e) => {
            return fail(format!(
                "Kafka acknowledged {} of {} rows, then failed: {} (upload the same file again with the same key: nothing is written twice)",
                e.acknowledged, job.rows, e.cause
            ));
        }
    };
    job.last_offset.store(last, Ordering::Release);
    job.state.store(APPLYING, Ordering::Release);
    if last >= 0
        && let Err(e) = context.wait_for(last).await
    {
        return fail(format!("written, but not applied yet: {e}"));
    }
    job.state.store(DONE, Ordering::Release);
    tracing::info!(import = %job.id, kind = job.kind.name(), rows = job.rows, "import done");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_kind_and_key_only() {
        assert_eq!(
            import_id(FileKind::Stock, "k1"),
            import_id(FileKind::Stock, "k1")
        );
        assert_ne!(
            import_id(FileKind::Stock, "k1"),
            import_id(FileKind::Products, "k1")
        );
        assert_ne!(
            import_id(FileKind::Stock, "k1"),
            import_id(FileKind::Stock, "k2")
        );
        assert_eq!(import_id(FileKind::Stock, "a/b?c").len(), 16);
    }

    #[test]
    fn the_newest_are_kept_and_a_second_job_of_one_id_loses() {
        let imports = Imports::default();
        let job = |id: &str| {
            Arc::new(Job::new(
                id.into(),
                FileKind::Stock,
                1,
                1,
                imports.next_seq(),
            ))
        };
        let first = job("a");
        assert!(Arc::ptr_eq(&imports.insert(first.clone()), &first));
        assert!(Arc::ptr_eq(&imports.insert(job("a")), &first));
        first.state.store(DONE, Ordering::Release);
        for i in 0..KEEP {
            let j = job(&format!("j{i}"));
            j.state.store(DONE, Ordering::Release);
            imports.insert(j);
        }
        assert!(
            imports.get("a").is_none(),
            "the oldest finished one is forgotten"
        );
        assert!(imports.get("j0").is_some());
    }
}
