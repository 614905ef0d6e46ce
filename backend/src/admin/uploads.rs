//! `POST /api/admin/imports/{kind}` and `GET /api/admin/imports/{kind}/{id}`: a CSV file of
//! products or stock, uploaded from the browser and written exactly as `shop import` writes it
//! (one implementation: [`crate::admin::import`] checks the whole file and builds the records).
//! One bad row and nothing is written. An upload's `Idempotency-Key` names the import: the same
//! key again answers with it and writes nothing twice; the same key with another file is
//! refused.
//!
//! One upload at a time per replica ([`super::jobs`]): another one meanwhile is answered 503
//! with `Retry-After` at once (its body read and dropped, so the client sees the answer). A
//! refusal lists the first [`MAX_KEPT_ERRORS`](crate::admin::import::MAX_KEPT_ERRORS) bad rows and counts them all; a bad value is
//! quoted short. The answer says what the import changes: rows applied, and rows already in
//! effect, which are not written.
//!
//! Progress is the running replica's knowledge, kept for its newest [`super::jobs::KEEP`]
//! imports: what is written is in the log (stock rows carry keys derived from the file, product
//! rows set the same fields again), so an upload retried against another replica or after a
//! restart changes nothing twice.

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use shared::proto::ImportRowError;

use super::jobs::{self, Checked, Job, Target, Upload, import_id};
use crate::catalog::CatalogFold;
use crate::checkout::CheckoutFold;
use crate::commands::meta::{Fingerprint, idempotency_key};
use crate::config::KafkaConfig;
use crate::engine::Context;
use crate::http::wire::{self, ApiError, Format, Resp, reply};
use crate::ops::metrics::imports::ImportAnswer;

/// What an upload uses: the models it checks against, the imports under way, the Kafka settings
/// it writes with, and its size and time bounds.
pub struct Api<'a> {
    pub catalog: &'a Context<CatalogFold>,
    pub checkout: &'a Context<CheckoutFold>,
    pub imports: &'a super::Imports,
    pub kafka: &'a KafkaConfig,
    pub max_import_bytes: usize,
    pub body_timeout: std::time::Duration,
}
use crate::admin::import::{BadRows, FileKind};

/// Seconds an upload refused because another import is in progress is told to wait.
pub const BUSY_RETRY_AFTER_SECS: u32 = 5;

fn kind_of(name: &str) -> Result<FileKind, ApiError> {
    FileKind::parse(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no import of {:?}: products or stock",
            name.chars().take(40).collect::<String>()
        ))
    })
}

/// The refusal of a file with bad rows: the first ones listed, all of them counted.
pub fn bad_rows_error(bad: BadRows) -> ApiError {
    let n = bad.count;
    let listed = bad.first.len();
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_rows",
        if n > listed as u64 {
            format!(
                "{} bad rows (the first {listed} are listed); nothing was written: fix them and upload the file again",
                grouped(n)
            )
        } else {
            format!("{n} bad row(s); nothing was written: fix them and upload the file again")
        },
    );
    e.bad_rows = bad
        .first
        .into_iter()
        .map(|r| ImportRowError {
            line: r.line,
            message: r.message,
        })
        .collect();
    e
}

/// 5000000 as "5,000,000".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

fn busy() -> ApiError {
    ApiError {
        retry_after: Some(BUSY_RETRY_AFTER_SECS),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "import_in_progress",
            format!(
                "another import is in progress on this replica (one at a time); nothing of this \
                 file was read or written: upload it again in {BUSY_RETRY_AFTER_SECS} s"
            ),
        )
    }
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

/// The body's limits, as `wire::read_body` applies them: at most `limit` bytes (413 above),
/// within `timeout` (408).
struct Limits {
    limit: usize,
    timeout: std::time::Duration,
}

/// Hands the body to `each` piece by piece as it arrives, within the limits.
async fn read_pieces(
    body: Incoming,
    declared: Option<u64>,
    limits: &Limits,
    mut each: impl FnMut(Bytes),
) -> Result<(), ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds {} bytes", limits.limit),
        )
    };
    if declared.is_some_and(|n| n > limits.limit as u64) {
        return Err(too_large());
    }
    let read = async {
        let mut body = body;
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                total += data.len();
                if total > limits.limit {
                    return Err(too_large());
                }
                each(data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(limits.timeout, read).await {
        Ok(read) => read,
        Err(_) => Err(wire::body_timed_out(limits.timeout)),
    }
}

/// The file in one buffer sized from its `Content-Length` (held once, not in pieces and then
/// again whole).
async fn read_file(
    body: Incoming,
    declared: Option<u64>,
    limits: &Limits,
) -> Result<Bytes, ApiError> {
    let size = declared.unwrap_or(0).min(limits.limit as u64) as usize;
    let mut file = BytesMut::with_capacity(size);
    read_pieces(body, declared, limits, |piece| {
        file.extend_from_slice(&piece)
    })
    .await?;
    Ok(file.freeze())
}

/// The fingerprint of the file, computed as it arrives (a retried upload is recognised without
/// holding it).
async fn read_fingerprint(
    body: Incoming,
    declared: Option<u64>,
    limits: &Limits,
) -> Result<u64, ApiError> {
    let mut f = Fingerprint::default();
    read_pieces(body, declared, limits, |piece| f.update(&piece)).await?;
    f.end_part();
    Ok(f.value())
}

pub async fn start(cx: &Api<'_>, req: Request<Incoming>, kind: &str) -> Result<Resp, ApiError> {
    let kind = kind_of(kind)?;
    let (parts, body) = req.into_parts();
    let key = idempotency_key(&parts.headers)?;
    csv_body(&parts.headers)?;
    let format = Format::accepted(&parts.headers);
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limits = Limits {
        limit: cx.max_import_bytes,
        timeout: cx.body_timeout,
    };
    let id = import_id(kind, &key);
    if let Some(job) = cx.imports.get(&id) {
        let file = read_fingerprint(body, declared, &limits).await?;
        return answer(&job, file, format);
    }
    let Some(slot) = cx.imports.try_slot() else {
        // Read and dropped: closing a connection with unread data resets it, and the client
        // might never see this answer.
        let _ = read_pieces(body, declared, &limits, drop).await;
        cx.imports.metrics().answered(ImportAnswer::Busy);
        return Err(busy());
    };
    let bytes = read_file(body, declared, &limits).await?;
    let target = match kind {
        FileKind::Products => Target::Catalog(cx.catalog.clone()),
        FileKind::Stock => Target::Checkout(cx.checkout.clone()),
    };
    let checked = jobs::start(Upload {
        id,
        bytes,
        target,
        kafka: cx.kafka.clone(),
        imports: cx.imports.clone(),
        slot,
    })
    .map_err(|e| ApiError::internal(format!("cannot start the import's thread: {e}")))?;
    match checked.await {
        Ok(Checked::Refused(bad)) => Err(bad_rows_error(bad)),
        Ok(Checked::Job { job, file }) => answer(&job, file, format),
        Err(_) => Err(ApiError::internal(
            "the import stopped before its file was checked; nothing was written",
        )),
    }
}

fn answer(job: &Job, file: u64, format: Format) -> Result<Resp, ApiError> {
    if job.hash() != file {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another file; use a new key for a new upload",
        ));
    }
    Ok(reply(format, StatusCode::ACCEPTED, &job.status()))
}

pub fn status(
    cx: &Api<'_>,
    req: &Request<Incoming>,
    kind: &str,
    id: &str,
) -> Result<Resp, ApiError> {
    let kind = kind_of(kind)?;
    let job = cx
        .imports
        .get(id)
        .filter(|j| j.kind() == kind)
        .ok_or_else(|| {
            ApiError::not_found(format!("no {} import {id:?} on this replica", kind.name()))
        })?;
    Ok(reply(
        Format::accepted(req.headers()),
        StatusCode::OK,
        &job.status(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::import::{MAX_KEPT_ERRORS, RowError};

    #[test]
    fn a_refusal_lists_every_bad_row() {
        let e = bad_rows_error(BadRows {
            count: 2,
            first: vec![
                RowError {
                    line: 3,
                    message: "quantity must be between 1 and 1000000, got 0".into(),
                },
                RowError {
                    line: 5,
                    message: "x".into(),
                },
            ],
        });
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows")
        );
        assert_eq!(e.bad_rows.len(), 2);
        assert_eq!(e.bad_rows[0].line, 3);
        assert!(e.message.contains("nothing was written"), "{}", e.message);
    }

    #[test]
    fn a_refusal_of_more_rows_than_listed_counts_them_all() {
        let first = (0..MAX_KEPT_ERRORS as u64)
            .map(|line| RowError {
                line: line + 2,
                message: "x".into(),
            })
            .collect();
        let e = bad_rows_error(BadRows {
            count: 5_000_000,
            first,
        });
        assert_eq!(e.bad_rows.len(), 100);
        assert!(
            e.message
                .starts_with("5,000,000 bad rows (the first 100 are listed); nothing was written"),
            "{}",
            e.message
        );
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(123_456_789), "123,456,789");
    }

    #[test]
    fn busy_says_an_import_is_in_progress_and_when_to_retry() {
        let e = busy();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after, Some(BUSY_RETRY_AFTER_SECS));
        assert!(e.message.contains("import is in progress"), "{}", e.message);
    }
}
