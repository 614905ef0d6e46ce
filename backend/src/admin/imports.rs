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

use http::{Request, StatusCode, header};
use hyper::body::Incoming;
use shared::proto::ImportRowError;

use super::jobs::{Applied, Job, import_id, run};
use crate::commands::meta::{fingerprint, idempotency_key};
use crate::http::request::require_admin;
use crate::http::wire::{self, ApiError, Format, Resp, reply};
use crate::state::State;
use crate::tools::import::{FileKind, RowError, prepare};

/// Bad rows listed in a refusal; beyond them the message counts the rest.
const MAX_LISTED: usize = 10_000;

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
    let rows = prepared.records.len() as u64;
    let job = Arc::new(Job::new(id, kind, hash, rows, state.imports.next_seq()));
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
    if job.hash() != hash {
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
