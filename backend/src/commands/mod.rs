//! The path every command takes: an idempotency key from the request, a fingerprint of its
//! content, a produce to Kafka (acks=all), a wait until the context has applied the event, and an
//! answer read from the model. A key already applied is answered from its first result without
//! producing again; the same key with other content is refused. Every command is counted by kind
//! and result, and its produce and apply-wait times are measured.
//!
//! - [`meta`]: the idempotency key and the fingerprint, pure (import and demo data use them too).
//! - [`execute`]: [`Commands`], what a handler needs to run one, and the run itself.

pub mod execute;
pub mod meta;

pub use execute::{CommandError, Commands, Submission};
