//! The types both the backend and the browser app use: the protobuf messages generated from
//! `proto/` (with their proto3 JSON mapping), ids, money and paging maths, and the wording of
//! an order's changed lines. Pure and
//! wasm-compatible: nothing here does I/O.

pub mod ids;
pub mod money;
pub mod paging;
pub mod rejection;
pub mod sort;

/// Messages generated from `proto/` (package `shop`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/shop.rs"));
    include!(concat!(env!("OUT_DIR"), "/shop.serde.rs"));
}

/// The `FileDescriptorSet` of `proto/` with its comments: what the API's OpenAPI document
/// derives its schemas from.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// Content type of protobuf bodies.
pub const PROTOBUF: &str = "application/x-protobuf";
