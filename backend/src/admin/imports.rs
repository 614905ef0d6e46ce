//! `POST /api/admin/imports/{kind}` and `GET /api/admin/imports/{kind}/{id}`: a CSV file of
//! products or stock, uploaded from the browser and written exactly as `shop import` writes it
//! (one implementation: [`crate::tools::import::prepare`] validates the whole file and builds
//! the records, [`crate::tools::import::produce_all_until`] writes them). One bad row and
//! nothing is written. An upload's `Idempotency-Key` names the import: the same key again
//! answers with it and writes nothing twice; the same key with another file is refused.
//!
//! Progress is the running replica's knowledge, kept for its newest [`KEEP`] imports: what is
//! written is in the log (stock rows carry keys derived from the file, product rows set the
//! same fields again), so an upload retried against another replica or after a restart is
//! written again and changes nothing twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{Request, StatusCode, header};
use hyper::body::Incoming;
use indicatif::{ProgressBar, ProgressDrawTarget};
use shared::proto::{ImportRowError, ImportStatus};

use crate::commands::meta::{fingerprint, idempotency_key};
use crate::config::KafkaConfig;
use crate::engine::kafka::{self, BrokerStatus};
use crate::http::request::require_admin;
use crate::http::wire::{self, ApiError, Format, Resp, reply};
use crate::state::State;
use crate::tools::import::{FileKind, Prepared, RowError, bulk_config, prepare, produce_all_until};

/// Imports remembered per replica (the newest; older finished ones are forgotten).
pub const KEEP: usize = 100;
/// Bad rows listed in a refusal; beyond them the message counts the rest.
const MAX_LISTED: usize = 10_000;
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
    next: std::sync::atomic::AtomicU64,
}

impl Imports {
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.load().get(id).cloned()
    }

    /// Registers `job` unless one with its id exists; returns the one registered under the id.
    fn insert(&self, job: Arc<Job>) -> Arc<Job> {
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

fn kind_of(name: &str) -> Result<FileKind, ApiError> {
    FileKind::parse(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no import of {:?}: products or stock",
            name.chars().take(40).collect::<String>()
        ))
    })
}

/// The refusal of a file with bad rows.
pub fn bad_rows_error(errors: Vec<RowError>) -> ApiError {
    let n = errors.len();
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_rows",
        if n > MAX_LISTED {
            format!(
                "{n} bad rows (the first {MAX_LISTED} are listed); nothing was written: fix them and upload the file again"
            )
        } else {
            format!("{n} bad row(s); nothing was written: fix them and upload the file again")
        },
    );
    e.bad_rows = errors
        .into_iter()
        .take(MAX_LISTED)
        .map(|r| ImportRowError {
            line: r.line,
            message: r.message,
        })
        .collect();
    e
}

fn csv_body(headers: &http::HeaderMap) -> Result<(), ApiError> {
    let Some(v) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let v = v.to_str().unwrap_or("").trim().to_ascii_lowercase();
    let ok = [
        "text/csv",
        "text/plain",
        "application/csv",
        "application/octet-stream",
    ]
    .iter()
    .any(|t| v.starts_with(t));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type {v:?} is not supported here; send the file as text/csv"),
        ))
    }
}

pub async fn start(state: &State, req: Request<Incoming>, kind: &str) -> Result<Resp, ApiError> {
    require_admin(state.admin_token(), &req)?;
    let kind = kind_of(kind)?;
    let (parts, body) = req.into_parts();
    let key = idempotency_key(&parts.headers)?;
    csv_body(&parts.headers)?;
    let format = Format::accepted(&parts.headers);
    let bytes = wire::read_body(
        body,
        &parts.headers,
        state.config.admin.max_import_bytes,
        state.config.limits.body_timeout,
    )
    .await?;
    let id = import_id(kind, &key);
    let hash = fingerprint(&[&bytes]);
    if let Some(job) = state.imports.get(&id) {
        return answer_existing(&job, hash, format);
    }
    let prepared = prepare(kind, &bytes, &state.config.kafka).map_err(bad_rows_error)?;
    let job = Arc::new(Job {
        id: id.clone(),
        kind,
        hash,
        rows: prepared.records.len() as u64,
        progress: ProgressBar::with_draw_target(
            Some(prepared.records.len() as u64),
            ProgressDrawTarget::hidden(),
        ),
        state: AtomicU8::new(PRODUCING),
        last_offset: AtomicI64::new(-1),
        error: Default::default(),
        seq: state.imports.next.fetch_add(1, Ordering::Relaxed),
    });
    let registered = state.imports.insert(job.clone());
    if !Arc::ptr_eq(&registered, &job) {
        // The same upload arrived twice at once: the first one runs it.
        return answer_existing(&registered, hash, format);
    }
    let context = match kind {
        FileKind::Products => Applied::Catalog(state.catalog.clone()),
        FileKind::Stock => Applied::Checkout(state.checkout.clone()),
    };
    tokio::spawn(run(
        job.clone(),
        prepared,
        state.config.kafka.clone(),
        context,
    ));
    Ok(reply(format, StatusCode::ACCEPTED, &job.status()))
}

fn answer_existing(job: &Job, hash: u64, format: Format) -> Result<Resp, ApiError> {
    if job.hash != hash {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another file; use a new key for a new upload",
        ));
    }
    Ok(reply(format, StatusCode::ACCEPTED, &job.status()))
}

pub fn status(
    state: &State,
    req: &Request<Incoming>,
    kind: &str,
    id: &str,
) -> Result<Resp, ApiError> {
    require_admin(state.admin_token(), req)?;
    let kind = kind_of(kind)?;
    let job = state
        .imports
        .get(id)
        .filter(|j| j.kind == kind)
        .ok_or_else(|| {
            ApiError::not_found(format!("no {} import {id:?} on this replica", kind.name()))
        })?;
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &job.status(),
    ))
}

/// The context whose applied offset says an import is complete.
enum Applied {
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
async fn run(job: Arc<Job>, prepared: Prepared, cfg: KafkaConfig, context: Applied) {
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
    fn a_refusal_lists_every_bad_row() {
        let e = bad_rows_error(vec![
            RowError {
                line: 3,
                message: "quantity must be between 1 and 1000000, got 0".into(),
            },
            RowError {
                line: 5,
                message: "x".into(),
            },
        ]);
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows")
        );
        assert_eq!(e.bad_rows.len(), 2);
        assert_eq!(e.bad_rows[0].line, 3);
        assert!(e.message.contains("nothing was written"), "{}", e.message);
    }
}
