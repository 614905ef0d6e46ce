//! What an operator and an engineer record into: Prometheus metrics, traces and the heap's
//! profiles. Everything here watches the shop from outside; the engine and the contexts
//! record into it through handles and hooks, and never depend on its handlers.

pub mod heap;
pub mod metrics;
pub mod traces;
