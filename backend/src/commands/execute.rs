//! Running a command: produce its event, wait until its context applied it, answer from the
//! model, and count it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::proto::CommandMeta;
use tracing::Instrument;

use super::meta::{fingerprint, retained_meta};
use crate::engine::kafka::{ProduceError, ShopProducer};
use crate::engine::{Context, Fold, WaitError};
use crate::ops::metrics::commands::{CommandMetrics, CommandResult};
use crate::ops::traces;

/// Why a command got no result, in the shop's words (the HTTP layer says which status each is).
#[derive(Debug)]
pub enum CommandError {
    /// The idempotency key was first used for a request with other content.
    KeyReused,
    /// The broker did not take the event: retry with the same key.
    NotProduced(ProduceError),
    /// The event is in the log, but its context has not applied it within the wait.
    NotAppliedYet,
    /// The context stopped while the command waited: the server is shutting down.
    Stopped,
    /// The event was applied but left no record in the model: a bug, never the client's fault.
    NoRecord { offset: i64 },
}

impl CommandError {
    /// The command's result in the metrics.
    pub fn result(&self) -> CommandResult {
        match self {
            CommandError::KeyReused => CommandResult::Rejected,
            CommandError::NotProduced(_) | CommandError::NotAppliedYet | CommandError::Stopped => {
                CommandResult::Unavailable
            }
            CommandError::NoRecord { .. } => CommandResult::Error,
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::KeyReused => {
                f.write_str("this Idempotency-Key was already used for a different request")
            }
            CommandError::NotProduced(e @ (ProduceError::BrokerDown | ProduceError::Timeout)) => {
                write!(f, "{e}; retry with the same Idempotency-Key")
            }
            CommandError::NotProduced(ProduceError::Kafka(e)) => write!(
                f,
                "Kafka refused the command ({e}); retry with the same Idempotency-Key"
            ),
            CommandError::NotAppliedYet => f.write_str(
                "the command was accepted but is not applied yet; retry with the same Idempotency-Key",
            ),
            CommandError::Stopped => f.write_str("the server is shutting down"),
            CommandError::NoRecord { offset } => write!(
                f,
                "the command at offset {offset} was applied but left no record"
            ),
        }
    }
}

impl std::error::Error for CommandError {}

/// What running a command needs: the producer, the command metrics and how long to wait for the
/// apply. Cheap to clone.
#[derive(Clone)]
pub struct Commands {
    pub producer: Arc<ShopProducer>,
    pub metrics: CommandMetrics,
    pub timeout: Duration,
}

/// A command's event, ready to produce.
pub struct Submission<'a> {
    pub key: &'a [u8],
    pub payload: Vec<u8>,
    pub fingerprint: u64,
}

impl<'a> Submission<'a> {
    /// A command's event under Kafka key `key`: `encode` writes the event with the given meta
    /// (None: without, for the fingerprint); the fingerprint covers `parts` and that bare event.
    /// Its idempotency record is kept for `retention` of log time.
    pub fn new(
        key: &'a [u8],
        idempotency_key: String,
        retention: Duration,
        parts: &[&[u8]],
        encode: impl Fn(Option<CommandMeta>) -> Vec<u8>,
    ) -> Self {
        let bare = encode(None);
        let mut all = parts.to_vec();
        all.push(&bare);
        let fingerprint = fingerprint(&all);
        Submission {
            key,
            payload: encode(Some(retained_meta(idempotency_key, fingerprint, retention))),
            fingerprint,
        }
    }
}

impl Commands {
    /// Runs a command against a context. `kind` names the command in metrics (`cart_line`, ...).
    /// `recorded` finds the command's record in a model (by its scoped idempotency key) and
    /// returns the fingerprint it was first sent with and the result. Returns the result and the
    /// offset of its event if it was applied now (None: an earlier identical request).
    pub async fn execute<F: Fold, R>(
        &self,
        kind: &'static str,
        context: &Context<F>,
        submission: Submission<'_>,
        recorded: impl Fn(&F::Model) -> Option<(u64, R)>,
    ) -> Result<(R, Option<i64>), CommandError> {
        let result = self.run(kind, context, submission, recorded).await;
        let label = match &result {
            Ok((_, Some(_))) => CommandResult::Applied,
            Ok((_, None)) => CommandResult::Replayed,
            Err(e) => e.result(),
        };
        self.metrics.ended(kind, label);
        result
    }

    async fn run<F: Fold, R>(
        &self,
        kind: &'static str,
        context: &Context<F>,
        submission: Submission<'_>,
        recorded: impl Fn(&F::Model) -> Option<(u64, R)>,
    ) -> Result<(R, Option<i64>), CommandError> {
        let check = |(fp, result): (u64, R)| {
            if fp == submission.fingerprint {
                Ok(result)
            } else {
                Err(CommandError::KeyReused)
            }
        };
        if let Some(first) = recorded(&context.model()) {
            return check(first).map(|r| (r, None));
        }
        let started = Instant::now();
        // With traces on, the event carries this span's context to the writer that applies it.
        let span = traces::produce_span(context.topic());
        let headers = traces::kafka_headers(&span);
        let produced = self
            .producer
            .send(
                context.topic(),
                submission.key,
                &submission.payload,
                headers,
            )
            .instrument(span.clone())
            .await;
        traces::produced(span, &produced);
        if !matches!(produced, Err(ProduceError::BrokerDown)) {
            self.metrics.produced(kind, started.elapsed());
        }
        let offset = produced.map_err(CommandError::NotProduced)?;
        let acknowledged = Instant::now();
        // librdkafka acknowledges a retried produce that the broker already had (a duplicate
        // sequence number) without its offset (-1): the event is in the log, but not where. Such a
        // command waits for its record instead of its offset.
        let applied = if offset < 0 {
            context
                .wait_until(self.timeout, |m| recorded(m).is_some())
                .instrument(traces::wait_span(F::NAME, offset))
                .await
        } else {
            context
                .wait_for(offset, self.timeout)
                .instrument(traces::wait_span(F::NAME, offset))
                .await
        };
        self.metrics.waited(kind, acknowledged.elapsed());
        applied.map_err(|e| match e {
            WaitError::Timeout => CommandError::NotAppliedYet,
            WaitError::Stopped => CommandError::Stopped,
        })?;
        match recorded(&context.model()) {
            Some(first) => check(first).map(|r| (r, (offset >= 0).then_some(offset))),
            None => Err(CommandError::NoRecord { offset }),
        }
    }
}
