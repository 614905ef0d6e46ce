//! Snapshots of a context's model on local disk, so a restart replays only the log's tail.
//!
//! A snapshot is a cache of the log, never a source of truth: it holds the model after applying
//! every event below `offset`, and a start-up that cannot use it replays from offset 0 as
//! before. One file per snapshot, `<context>-<topic>-<offset>.snap`, little-endian:
//!
//! | field | bytes |
//! | --- | --- |
//! | magic `SHOPSNAP` | 8 |
//! | format version ([`FORMAT_VERSION`](file::FORMAT_VERSION): this header) | 4 |
//! | model version ([`Fold::MODEL_VERSION`](crate::engine::Fold::MODEL_VERSION): the payload and the fold's meaning) | 4 |
//! | context name, topic name (u16 length + UTF-8 each) | 2 + n, 2 + n |
//! | offset: the next offset to apply | 8 |
//! | CRC-32 of the payload of the event at `offset - 1` (0 when `offset` is 0) | 4 |
//! | payload length | 8 |
//! | CRC-32 of every byte above and of the payload | 4 |
//! | payload ([`Fold::encode`](crate::engine::Fold::encode)) | length |
//!
//! The last event's CRC ties a snapshot to its log: a start-up reads that one event again, and
//! a topic that was deleted and filled anew (whose offsets mean other events) is noticed.
//!
//! Files are written to a temporary name, fsynced, renamed and the directory fsynced, so a
//! crash leaves either the old set or the new file, never half a file under a snapshot's name.
//! The payload is deterministic (maps in key order), so two models are equal exactly when their

pub mod codec;
pub mod file;
pub mod store;
#[cfg(test)]
mod tests;
pub mod verify;

pub use codec::{DecodeError, Decoder, Encoder};
pub use file::{Rejected, decode, encode};
pub use store::{Loaded, SnapshotSettings, SnapshotWriter, load_newest};
pub use verify::{Verdict, spawn_verifier, verify_once};
