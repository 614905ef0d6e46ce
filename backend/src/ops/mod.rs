//! What an operator and an engineer look at: Prometheus metrics, traces, health probes and
//! profiles. Everything here watches the shop from outside; the engine and the contexts
//! record into it through handles and hooks, and never depend on its handlers.

pub mod health;
pub mod heap;
pub mod metrics;
pub mod profiling;
pub mod traces;
