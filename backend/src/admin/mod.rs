//! The operator's reads and uploads under `/api/admin/` (the product commands live with their
//! context, in `catalog::http` and `checkout::http`; the event log in [`crate::eventlog`]).
//!
//! - [`products`]: the whole catalog, disabled products too, with stock, units sold and the
//!   version an edit names in `If-Match`.
//! - [`orders`]: the newest orders across all carts.
//! - [`imports`]: CSV uploads written through `shop import`'s own rules, and their progress;
//!   [`jobs`]: the uploads this replica runs (what handlers and the state share).

pub mod imports;
pub mod jobs;
pub mod orders;
pub mod products;

pub use jobs::Imports;
