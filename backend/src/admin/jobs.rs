//! The imports this replica runs.
//!
//! - **One at a time.** An upload takes the replica's one [`Slot`] before its first byte is read
//!   and gives it back once its last row is applied (or it is refused): one file is held,
//!   checked and written at a time, and the next upload is judged against a model that already
//!   holds this one. Another upload meanwhile is refused at once (503, see `imports.rs`).
//! - **Off the request threads.** A file is checked and its records built on a thread of its
//!   own at the lowest priority ([`start`]), never on the async runtime's workers, which keep
//!   answering `/healthz`, the pages and every command meanwhile; a task writes the records as
//!   the thread builds them, a few thousand at a time.
//! - **What it changes.** The check also judges every row against the context's model: rows
//!   already in effect (a stock row of this very file written before, a product row that sets
//!   the fields the product has) are counted and not written; only the rest are.
//! - **Remembered.** Each upload's [`Job`] (its rows, what Kafka acknowledged, whether the
//!   context applied the last one) is kept for the newest [`KEEP`] and read without a lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget};
use shared::proto::ImportStatus;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::admin::import::{
    self, BadRows, FileKind, Record, bulk_config, produce_stream_until, stock_row_key,
};
use crate::catalog::CatalogFold;
use crate::checkout::CheckoutFold;
use crate::checkout::fold::admin_command_key;
use crate::commands::meta::fingerprint;
use crate::config::KafkaConfig;
use crate::engine::Context;
use crate::engine::kafka::{self, BrokerStatus};
use crate::ops::heap;
use crate::ops::metrics::imports::{ImportAnswer, ImportMetrics};

/// Imports remembered per replica (the newest; older finished ones are forgotten).
pub const KEEP: usize = 100;
/// How long an import waits for its context to apply what it wrote.
const APPLY_WAIT: Duration = Duration::from_secs(120);
/// Records handed from the import thread to the writing task at once, and chunks queued
/// between them: a few thousand records in memory, whatever the file's size.
const CHUNK: usize = 1_000;
const CHUNKS_QUEUED: usize = 4;

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
    /// Rows that change something: the ones written.
    applied: u64,
    /// Its position is the rows Kafka acknowledged (hidden: nothing is drawn).
    progress: ProgressBar,
    state: AtomicU8,
    last_offset: AtomicI64,
    error: std::sync::OnceLock<String>,
    /// When it started, for forgetting the oldest.
    seq: u64,
}

impl Job {
    /// A job of a file of `rows` rows whose fingerprint is `hash`, `applied` of which change
    /// something and are written.
    pub fn new(id: String, kind: FileKind, hash: u64, rows: u64, applied: u64, seq: u64) -> Job {
        Job {
            id,
            kind,
            hash,
            rows,
            applied,
            progress: ProgressBar::with_draw_target(Some(applied), ProgressDrawTarget::hidden()),
            state: AtomicU8::new(if applied == 0 { DONE } else { PRODUCING }),
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
            applied: self.applied,
            already_imported: self.rows - self.applied,
        }
    }

    fn finished(&self) -> bool {
        self.state.load(Ordering::Acquire) >= DONE
    }
}

/// The replica's one import slot, held by an upload from its first byte to its last row
/// applied.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: ImportMetrics,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.running.dec();
    }
}

/// The imports this replica ran, by id (read without a lock, replaced whole when one starts),
/// and its import slot. Cloning shares them.
#[derive(Clone)]
pub struct Imports {
    shared: Arc<Shared>,
}

struct Shared {
    jobs: ArcSwap<imbl::HashMap<String, Arc<Job>>>,
    next: AtomicU64,
    slot: Arc<Semaphore>,
    metrics: ImportMetrics,
}

impl Default for Imports {
    fn default() -> Self {
        Imports::new(ImportMetrics::default())
    }
}

impl Imports {
    pub fn new(metrics: ImportMetrics) -> Imports {
        Imports {
            shared: Arc::new(Shared {
                jobs: Default::default(),
                next: AtomicU64::new(0),
                slot: Arc::new(Semaphore::new(1)),
                metrics,
            }),
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.shared.jobs.load().get(id).cloned()
    }

    /// The import slot, unless an upload holds it.
    pub fn try_slot(&self) -> Option<Slot> {
        let permit = self.shared.slot.clone().try_acquire_owned().ok()?;
        self.shared.metrics.running.inc();
        Some(Slot {
            _permit: permit,
            metrics: self.shared.metrics.clone(),
        })
    }

    pub fn metrics(&self) -> &ImportMetrics {
        &self.shared.metrics
    }

    /// A number for the next job: the order they started in.
    pub fn next_seq(&self) -> u64 {
        self.shared.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers `job` unless one with its id exists; returns the one registered under the id.
    pub fn insert(&self, job: Arc<Job>) -> Arc<Job> {
        let mut winner = job.clone();
        self.shared.jobs.rcu(|jobs| {
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

/// The context a file's rows are judged against and applied by.
#[derive(Clone)]
pub enum Target {
    Catalog(Context<CatalogFold>),
    Checkout(Context<CheckoutFold>),
}

impl Target {
    fn kind(&self) -> FileKind {
        match self {
            Target::Catalog(_) => FileKind::Products,
            Target::Checkout(_) => FileKind::Stock,
        }
    }

    async fn wait_for(&self, offset: i64) -> Result<(), crate::engine::WaitError> {
        match self {
            Target::Catalog(c) => c.wait_for(offset, APPLY_WAIT).await,
            Target::Checkout(c) => c.wait_for(offset, APPLY_WAIT).await,
        }
    }
}

/// Which rows of a checked file change something: a bit per row, in file order.
#[derive(Default)]
struct Plan {
    write: Vec<u64>,
    rows: u64,
    applied: u64,
}

impl Plan {
    fn push(&mut self, changes: bool) {
        let i = self.rows as usize;
        if i.is_multiple_of(64) {
            self.write.push(0);
        }
        if changes {
            self.write[i / 64] |= 1 << (i % 64);
            self.applied += 1;
        }
        self.rows += 1;
    }

    fn writes(&self, row: usize) -> bool {
        self.write
            .get(row / 64)
            .is_some_and(|w| w & (1 << (row % 64)) != 0)
    }
}

/// Checks a file by the import's rules and judges each row against the target's model.
fn check(bytes: &[u8], file: u64, target: &Target) -> Result<Plan, BadRows> {
    let mut plan = Plan::default();
    match target {
        Target::Catalog(c) => {
            let model = Arc::clone(&c.model());
            import::check_products(bytes, |row| plan.push(model.upsert_changes(&row.event)))?;
        }
        Target::Checkout(c) => {
            let model = Arc::clone(&c.model());
            import::check_stock(bytes, |row| {
                let key = admin_command_key(&stock_row_key(file, row.line));
                plan.push(model.command(&key).is_none())
            })?;
        }
    }
    Ok(plan)
}

/// An upload read whole, holding the slot.
pub struct Upload {
    pub id: String,
    pub bytes: Bytes,
    pub target: Target,
    pub kafka: KafkaConfig,
    pub imports: Imports,
    pub slot: Slot,
}

/// What the upload's handler answers.
pub enum Checked {
    /// Bad rows: nothing was written.
    Refused(BadRows),
    /// The import of this id (the new one, or one registered meanwhile under the same key) and
    /// the fingerprint of the file just uploaded.
    Job { job: Arc<Job>, file: u64 },
}

/// Starts the upload's thread: it checks the file and sends the answer, then builds the
/// records of the rows to write while a task writes them.
pub fn start(upload: Upload) -> std::io::Result<oneshot::Receiver<Checked>> {
    let (answer, checked) = oneshot::channel();
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("import".into())
        .spawn(move || work(upload, answer, runtime))?;
    Ok(checked)
}

fn work(upload: Upload, answer: oneshot::Sender<Checked>, runtime: tokio::runtime::Handle) {
    lower_priority();
    let Upload {
        id,
        bytes,
        target,
        kafka,
        imports,
        slot,
    } = upload;
    let kind = target.kind();
    let file = fingerprint(&[&bytes]);
    let plan = match check(&bytes, file, &target) {
        Ok(plan) => plan,
        Err(bad) => {
            drop(bytes);
            heap::give_back();
            // Freed before the answer: an upload sent right after it is not refused as busy.
            drop(slot);
            imports.metrics().answered(ImportAnswer::InvalidRows);
            let _ = answer.send(Checked::Refused(bad));
            return;
        }
    };
    let job = Arc::new(Job::new(
        id,
        kind,
        file,
        plan.rows,
        plan.applied,
        imports.next_seq(),
    ));
    let registered = imports.insert(job.clone());
    if !Arc::ptr_eq(&registered, &job) || plan.applied == 0 {
        // Nothing to write: the same upload registered meanwhile runs it, or every row is
        // already in effect (the job is done as it is made).
        drop(bytes);
        drop(slot);
        heap::give_back();
        if Arc::ptr_eq(&registered, &job) {
            imports.metrics().answered(ImportAnswer::Accepted);
        }
        let _ = answer.send(Checked::Job {
            job: registered,
            file,
        });
        return;
    }
    imports.metrics().answered(ImportAnswer::Accepted);
    let (records, queue) = mpsc::channel::<Vec<Record>>(CHUNKS_QUEUED);
    let (finished, built) = oneshot::channel();
    runtime.spawn(write(job.clone(), queue, built, kafka, target, slot));
    let _ = answer.send(Checked::Job { job, file });
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut sent_all = true;
    for (row, record) in import::records(kind, &bytes, file).enumerate() {
        if !plan.writes(row) {
            continue;
        }
        chunk.push(record);
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            // An error: the task stopped (a failed write, or the shop shutting down).
            if records.blocking_send(full).is_err() {
                sent_all = false;
                break;
            }
        }
    }
    if sent_all && !chunk.is_empty() {
        sent_all = records.blocking_send(chunk).is_ok();
    }
    drop(bytes);
    drop(plan);
    if sent_all {
        let _ = finished.send(());
    }
}

/// Writes the records the import thread builds, with a producer of its own (so an upload never
/// queues in front of the shoppers' commands), then waits until the context applied the last
/// one; gives the slot back once the thread has ended, before the job says it is over.
async fn write(
    job: Arc<Job>,
    queue: mpsc::Receiver<Vec<Record>>,
    built: oneshot::Receiver<()>,
    cfg: KafkaConfig,
    target: Target,
    slot: Slot,
) {
    let outcome = write_rows(&job, queue, built, &cfg, &target).await;
    drop(slot);
    let _ = tokio::task::spawn_blocking(heap::give_back).await;
    match outcome {
        Ok(()) => {
            job.state.store(DONE, Ordering::Release);
            tracing::info!(import = %job.id, kind = job.kind.name(), rows = job.rows, applied = job.applied, "import done");
        }
        Err(why) => {
            tracing::warn!(import = %job.id, kind = job.kind.name(), why, "import failed");
            let _ = job.error.set(why);
            job.state.store(FAILED, Ordering::Release);
        }
    }
}

async fn write_rows(
    job: &Job,
    mut queue: mpsc::Receiver<Vec<Record>>,
    built: oneshot::Receiver<()>,
    cfg: &KafkaConfig,
    target: &Target,
) -> Result<(), String> {
    let producer = kafka::producer(&bulk_config(cfg), BrokerStatus::new())
        .map_err(|e| format!("cannot create a Kafka producer: {e}"))?;
    let records = futures_util::stream::poll_fn(|cx| queue.poll_recv(cx))
        .flat_map(futures_util::stream::iter);
    let written =
        produce_stream_until(&producer, job.kind.topic(cfg), records, &job.progress).await;
    // Whatever happened, the thread has ended (or ends at its next chunk) once the queue is
    // gone: wait for it, so the slot is free only when the file is no longer held.
    drop(queue);
    let thread_done = built.await.is_ok();
    let last = match written {
        Ok((_, last)) => last,
        Err(e) => {
            return Err(format!(
                "Kafka acknowledged {} of {} rows, then failed: {} (upload the same file again with the same key: nothing is written twice)",
                e.acknowledged, job.applied, e.cause
            ));
        }
    };
    if !thread_done || job.progress.position() != job.applied {
        return Err(format!(
            "the import stopped after {} of {} rows (upload the same file again: nothing is written twice)",
            job.progress.position(),
            job.applied
        ));
    }
    job.last_offset.store(last, Ordering::Release);
    job.state.store(APPLYING, Ordering::Release);
    target
        .wait_for(last)
        .await
        .map_err(|e| format!("written, but not applied yet: {e}"))
}

/// The import thread yields to every other thread (nice 19): a busy shop slows an import down,
/// an import never slows the shop's answers.
fn lower_priority() {
    // SAFETY: gettid and setpriority on the calling thread (on Linux, PRIO_PROCESS with a thread
    // id sets that thread's nice value alone); neither touches memory. If it fails the thread
    // keeps its priority.
    #[cfg(target_os = "linux")]
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
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

    #[test]
    fn one_slot_per_replica() {
        let imports = Imports::default();
        let slot = imports.try_slot().expect("a free slot");
        assert_eq!(imports.metrics().running.get(), 1);
        assert!(imports.clone().try_slot().is_none(), "held by the first");
        drop(slot);
        assert_eq!(imports.metrics().running.get(), 0);
        assert!(imports.try_slot().is_some());
    }

    #[test]
    fn a_plan_marks_the_rows_to_write() {
        let mut plan = Plan::default();
        for i in 0..130 {
            plan.push(i % 3 == 0);
        }
        assert_eq!((plan.rows, plan.applied), (130, 44));
        assert!(plan.writes(0) && plan.writes(129) && !plan.writes(128));
        assert!(!plan.writes(1_000));
    }

    #[test]
    fn a_job_with_nothing_to_write_is_done_as_it_is_made() {
        let job = Job::new("x".into(), FileKind::Stock, 1, 3, 0, 0);
        let s = job.status();
        assert_eq!(
            (s.state.as_str(), s.rows, s.applied, s.already_imported),
            ("done", 3, 0, 3)
        );
    }
}
