//! The operator's reads and uploads under `/api/admin/` (the product commands live with their
//! context, in `catalog::http` and `checkout::http`; the event log in [`crate::eventlog`]).
//!
//! - [`products`]: the whole catalog, disabled products too, with stock, units sold and the
//!   version an edit names in `If-Match`.
//! - [`orders`]: the newest orders across all carts.
//! - [`uploads`]: CSV uploads written through `shop import`'s own rules, and their progress;
//!   [`jobs`]: the uploads this replica runs (what handlers and the state share).
//! - [`import`]: the import's core, shared by uploads and the `shop import` command: a CSV file
//!   checked whole into events, and written to Kafka.

pub mod import;
pub mod jobs;
pub mod orders;
pub mod products;
pub mod uploads;

pub use jobs::Imports;

use crate::catalog::CatalogFold;
use crate::catalog::search::SearchPool;
use crate::checkout::CheckoutFold;
use crate::config::ShopSettings;
use crate::engine::Context;

/// What the operator's reads use: both models, the search pool and the shop's settings.
pub struct Api<'a> {
    pub catalog: &'a Context<CatalogFold>,
    pub checkout: &'a Context<CheckoutFold>,
    pub search: &'a SearchPool,
    pub shop: &'a ShopSettings,
}
