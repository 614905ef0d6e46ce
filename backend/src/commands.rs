//! The path every command takes: an idempotency key from the request, a fingerprint of its
//! content, a produce to Kafka (acks=all), a wait until the context has applied the event, and an
//! answer read from the model. A key already applied is answered from its first result without
//! producing again; the same key with other content is refused. Every command is counted by kind
//! and result, and its produce and apply-wait times are measured.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use shared::proto::CommandMeta;
use tracing::Instrument;

use crate::app::App;
use crate::engine::{Context, Fold, WaitError};
use crate::http::wire::ApiError;
use crate::kafka::ProduceError;
use crate::metrics::CommandResult;
use crate::traces;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 128;

/// The request's `Idempotency-Key`: required on every command.
pub fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(v) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(ApiError::bad_request(
            "the Idempotency-Key header is required on every command (any unique string, e.g. a UUID)",
        ));
    };
    match v.to_str() {
        Ok(k)
            if !k.is_empty()
                && k.len() <= MAX_KEY_LEN
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(k.to_owned())
        }
        _ => Err(ApiError::bad_request(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        ))),
    }
}

/// FNV-1a over the command's parts: stable across processes and versions, unlike std's hasher.
pub fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain((part.len() as u64).to_le_bytes().iter()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

pub fn meta(key: String, fingerprint: u64) -> CommandMeta {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    CommandMeta {
        idempotency_key: key,
        fingerprint,
        requested_at_ms: now,
    }
}

/// A command's event, ready to produce.
pub struct Submission<'a> {
    pub topic: &'a str,
    pub key: &'a [u8],
    pub payload: Vec<u8>,
    pub fingerprint: u64,
}

/// Runs a command against a context. `kind` names the command in metrics (`cart_line`, ...).
/// `recorded` finds the command's record in a model (by its scoped idempotency key) and
/// returns the fingerprint it was first sent with and the result. Returns the result and the
/// offset of its event if it was applied now (None: an earlier identical request).
pub async fn execute<F: Fold, R>(
    app: &App,
    kind: &'static str,
    context: &Context<F>,
    submission: Submission<'_>,
    recorded: impl Fn(&F::Model) -> Option<(u64, R)>,
) -> Result<(R, Option<i64>), ApiError> {
    let result = run(app, kind, context, submission, recorded).await;
    let label = match &result {
        Ok((_, Some(_))) => CommandResult::Applied,
        Ok((_, None)) => CommandResult::Replayed,
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => CommandResult::Rejected,
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => CommandResult::Unavailable,
        Err(_) => CommandResult::Error,
    };
    app.metrics.command(kind, label);
    result
}

async fn run<F: Fold, R>(
    app: &App,
    kind: &'static str,
    context: &Context<F>,
    submission: Submission<'_>,
    recorded: impl Fn(&F::Model) -> Option<(u64, R)>,
) -> Result<(R, Option<i64>), ApiError> {
    let check = |(fp, result): (u64, R)| {
        if fp == submission.fingerprint {
            Ok(result)
        } else {
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request",
            ))
        }
    };
    if let Some(first) = recorded(&context.model()) {
        return check(first).map(|r| (r, None));
    }
    let started = Instant::now();
    // With traces on, the event carries this span's context to the writer that applies it.
    let span = traces::produce_span(submission.topic);
    let headers = traces::kafka_headers(&span);
    let produced = app
        .producer
        .send(
            submission.topic,
            submission.key,
            &submission.payload,
            headers,
        )
        .instrument(span.clone())
        .await;
    traces::produced(span, &produced);
    if !matches!(produced, Err(ProduceError::BrokerDown)) {
        app.metrics.command_produced(kind, started.elapsed());
    }
    let offset = produced.map_err(|e| match e {
        ProduceError::BrokerDown | ProduceError::Timeout => {
            ApiError::unavailable(format!("{e}; retry with the same Idempotency-Key"), 2)
        }
        ProduceError::Kafka(e) => ApiError::unavailable(
            format!("Kafka refused the command ({e}); retry with the same Idempotency-Key"),
            2,
        ),
    })?;
    let acknowledged = Instant::now();
    // librdkafka acknowledges a retried produce that the broker already had (a duplicate
    // sequence number) without its offset (-1): the event is in the log, but not where. Such a
    // command waits for its record instead of its offset.
    let applied = if offset < 0 {
        context
            .wait_until(app.config.command_timeout, |m| recorded(m).is_some())
            .instrument(traces::wait_span(F::NAME, offset))
            .await
    } else {
        context
            .wait_for(offset, app.config.command_timeout)
            .instrument(traces::wait_span(F::NAME, offset))
            .await
    };
    app.metrics.command_waited(kind, acknowledged.elapsed());
    applied.map_err(|e| match e {
        WaitError::Timeout => ApiError::unavailable(
            "the command was accepted but is not applied yet; retry with the same Idempotency-Key",
            1,
        ),
        WaitError::Stopped => ApiError::unavailable("the server is shutting down", 1),
    })?;
    match recorded(&context.model()) {
        Some(first) => check(first).map(|r| (r, (offset >= 0).then_some(offset))),
        None => Err(ApiError::internal(format!(
            "the command at offset {offset} was applied but left no record"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn keys_are_required_and_bounded() {
        let mut h = HeaderMap::new();
        assert!(
            idempotency_key(&h)
                .unwrap_err()
                .message
                .contains("required")
        );
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("a b"));
        assert!(idempotency_key(&h).is_err());
        h.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_str(&"k".repeat(129)).unwrap(),
        );
        assert!(idempotency_key(&h).is_err());
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("3f2a-17"));
        assert_eq!(idempotency_key(&h).unwrap(), "3f2a-17");
    }

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"x"]), fingerprint(&[b"x"]));
    }
}
