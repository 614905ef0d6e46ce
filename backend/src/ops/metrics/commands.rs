//! Commands by kind and result, and the time of their produce and of the wait for their apply.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{HistogramVec, IntCounterVec, Registry};

use super::family::*;

/// How a command ended, as the `result` label of `shop_commands_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandResult {
    /// Produced, applied and answered.
    Applied,
    /// Answered from the first result of the same idempotency key, without producing.
    Replayed,
    /// Changed nothing (the cart already held that), so answered without an event.
    NoOp,
    /// The idempotency key was already used for another request (422).
    Rejected,
    /// 503: the broker is unreachable, the produce or the apply timed out, or shutdown.
    Unavailable,
    /// Anything else (an internal error).
    Error,
}

impl CommandResult {
    pub fn label(self) -> &'static str {
        match self {
            CommandResult::Applied => "applied",
            CommandResult::Replayed => "replayed",
            CommandResult::NoOp => "no_op",
            CommandResult::Rejected => "rejected",
            CommandResult::Unavailable => "unavailable",
            CommandResult::Error => "error",
        }
    }
}

/// What the command path records: each command's result, and its produce and apply-wait times.
#[derive(Clone)]
pub struct CommandMetrics {
    commands: IntCounterVec,
    produce_duration: HistogramVec,
    apply_wait_duration: HistogramVec,
}

impl CommandMetrics {
    pub(super) fn new() -> Self {
        CommandMetrics {
            commands: counter_vec(
                "shop_commands_total",
                "Commands by kind and result (applied, replayed, no_op, rejected, unavailable, error).",
                &["kind", "result"],
            ),
            produce_duration: histogram_vec(
                "shop_command_produce_duration_seconds",
                "Time to produce a command's event to Kafka until acknowledged (acks=all).",
                &["kind"],
                LATENCY_BUCKETS,
            ),
            apply_wait_duration: histogram_vec(
                "shop_command_apply_wait_duration_seconds",
                "Time from a command's acknowledgement until its context has applied it.",
                &["kind"],
                LATENCY_BUCKETS,
            ),
        }
    }

    pub(super) fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        for c in [
            Box::new(self.commands.clone()) as Box<dyn Collector>,
            Box::new(self.produce_duration.clone()),
            Box::new(self.apply_wait_duration.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(())
    }

    pub fn ended(&self, kind: &'static str, result: CommandResult) {
        self.commands
            .with_label_values(&[kind, result.label()])
            .inc();
    }

    pub fn produced(&self, kind: &'static str, took: Duration) {
        self.produce_duration
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }

    pub fn waited(&self, kind: &'static str, took: Duration) {
        self.apply_wait_duration
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }
}
