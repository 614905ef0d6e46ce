//! CSV uploads: whether one is being checked or written now, and how each upload was answered.

use prometheus::{IntCounterVec, IntGauge, Registry};

use super::family::*;

/// What the import endpoint does.
#[derive(Clone)]
pub struct ImportMetrics {
    /// 1 while an upload holds the replica's one import slot (read, checked, written, applied).
    pub running: IntGauge,
    answers: IntCounterVec,
}

/// How an upload was answered.
#[derive(Debug, Clone, Copy)]
pub enum ImportAnswer {
    /// 202: checked and being written.
    Accepted,
    /// 422: bad rows, nothing written.
    InvalidRows,
    /// 503: another import held the slot.
    Busy,
}

impl ImportMetrics {
    pub(super) fn new() -> Self {
        let answers = counter_vec(
            "shop_imports_total",
            "CSV uploads by answer: accepted (202), invalid_rows (422, nothing written), busy (503: another import was in progress).",
            &["result"],
        );
        for result in ["accepted", "invalid_rows", "busy"] {
            answers.with_label_values(&[result]);
        }
        ImportMetrics {
            running: IntGauge::new(
                "shop_imports_running",
                "1 while an upload is being read, checked or written (one at a time per replica).",
            )
            .expect("valid metric"),
            answers,
        }
    }

    pub(super) fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.running.clone()))?;
        registry.register(Box::new(self.answers.clone()))
    }

    pub fn answered(&self, answer: ImportAnswer) {
        let result = match answer {
            ImportAnswer::Accepted => "accepted",
            ImportAnswer::InvalidRows => "invalid_rows",
            ImportAnswer::Busy => "busy",
        };
        self.answers.with_label_values(&[result]).inc();
    }
}

impl Default for ImportMetrics {
    /// Unregistered handles (a replica's imports before the registry, or a unit test).
    fn default() -> Self {
        ImportMetrics::new()
    }
}
