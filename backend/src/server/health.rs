//! Liveness (`/healthz`) and readiness (`/readyz`): whether every context's writer makes
//! progress, and whether the shop has replayed and reaches its broker.

use std::time::Duration;

use http::StatusCode;

use crate::engine::{self, Context, WriterHealth};
use crate::http::wire::{Resp, json};
use crate::state::State;

/// The first context whose writer is stuck or dead. A writer that waits for an unreachable
/// broker is not stuck: readiness reports that.
pub fn unhealthy(state: &State) -> Option<(&'static str, WriterHealth)> {
    fn check<F: engine::Fold>(
        c: &Context<F>,
        stuck_after: Duration,
        broker_up: bool,
    ) -> Option<(&'static str, WriterHealth)> {
        match c.health(stuck_after) {
            WriterHealth::Healthy => None,
            WriterHealth::Stuck { .. } if !broker_up => None,
            h => Some((F::NAME, h)),
        }
    }
    let (after, up) = (state.config.stuck_after, state.broker.is_up());
    check(&state.checkout, after, up).or_else(|| check(&state.catalog, after, up))
}

/// Why the shop cannot serve yet, or None when both contexts have replayed.
pub fn not_ready(state: &State) -> Option<String> {
    fn progress<F: engine::Fold>(c: &Context<F>) -> Option<String> {
        if let Some(fault) = c.fault() {
            return Some(format!("{} cannot serve: {fault}", F::NAME));
        }
        (!c.is_ready()).then(|| {
            let target = c
                .stats()
                .replay_target
                .load(std::sync::atomic::Ordering::Relaxed);
            format!(
                "{} is replaying its log ({} events to read)",
                F::NAME,
                target
            )
        })
    }
    progress(&state.checkout).or_else(|| progress(&state.catalog))
}

/// Liveness: 200 while every context's writer makes progress or is idle with nothing to apply;
/// 503 naming the context and the offset it is stuck at, or that its writer is gone.
pub fn healthz(state: &State) -> Resp {
    liveness(unhealthy(state), state.config.stuck_after)
}

/// `/healthz`'s answer for the first unhealthy writer (none: ok).
fn liveness(unhealthy: Option<(&'static str, WriterHealth)>, stuck_after: Duration) -> Resp {
    let body = match unhealthy {
        None | Some((_, WriterHealth::Healthy)) => serde_json::json!({"status": "ok"}),
        Some((context, WriterHealth::Stuck { offset, idle_for })) => serde_json::json!({
            "status": "stuck",
            "context": context,
            "offset": offset,
            "detail": format!(
                "events are waiting but the writer has applied nothing for {} s (the limit is {} s)",
                idle_for.as_secs(),
                stuck_after.as_secs()
            ),
        }),
        Some((context, WriterHealth::Dead { offset, panicked })) => serde_json::json!({
            "status": "dead",
            "context": context,
            "offset": offset,
            "detail": if panicked {
                "the writer thread panicked; see the log"
            } else {
                "the writer thread exited; see the log"
            },
        }),
    };
    let status = if body["status"] == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &body)
}

/// Readiness: 200 once both contexts have replayed and the broker is reachable; otherwise 503
/// with the reason.
pub fn readyz(state: &State) -> Resp {
    let reason = match not_ready(state) {
        None if state.broker.is_up() => {
            return json(StatusCode::OK, &serde_json::json!({"ready": true}));
        }
        None => "the Kafka broker is unreachable; reads are served, commands are not".to_owned(),
        Some(why) => why,
    };
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({"ready": false, "reason": reason}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn answer(r: Resp) -> (StatusCode, serde_json::Value) {
        let status = r.status();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// What `/healthz` answers for each writer health `Context::health` reports (the engine's
    /// tests drive real writers into each: a fold that hangs, a fold that panics).
    #[tokio::test]
    async fn liveness_names_the_stuck_or_dead_writer() {
        let limit = Duration::from_secs(30);
        assert_eq!(
            answer(liveness(None, limit)).await,
            (StatusCode::OK, serde_json::json!({"status": "ok"}))
        );
        let stuck = WriterHealth::Stuck {
            offset: 41,
            idle_for: Duration::from_secs(95),
        };
        assert_eq!(
            answer(liveness(Some(("checkout", stuck)), limit)).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({
                    "status": "stuck",
                    "context": "checkout",
                    "offset": 41,
                    "detail": "events are waiting but the writer has applied nothing for 95 s (the limit is 30 s)"
                })
            )
        );
        for (panicked, detail) in [
            (true, "the writer thread panicked; see the log"),
            (false, "the writer thread exited; see the log"),
        ] {
            let dead = WriterHealth::Dead {
                offset: 7,
                panicked,
            };
            assert_eq!(
                answer(liveness(Some(("catalog", dead)), limit)).await,
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    serde_json::json!({"status": "dead", "context": "catalog", "offset": 7, "detail": detail})
                )
            );
        }
    }
}
