//! The catalog context: products, prices and categories, with the indexes that page, sort, filter
//! and search them. `model` holds its types, `fold` its rules (the pure fold), `codec` the model's
//! snapshot encoding, `query` reads it, `http` serves it, `tests.rs` checks them given / when /
//! then (declared as `fold::tests`, the path its fixtures keep); `product` is the stored product,
//! `view` the views written from it, `search` the search index, `validate` the product rules the
//! API and the import share, `disabled` sorts disabled products for the operator.

mod codec;
pub mod disabled;
pub mod fold;
pub mod http;
mod model;
pub mod product;
pub mod query;
pub mod search;
pub mod validate;
pub mod view;

pub use fold::{CatalogFold, admin_command_key};
pub use model::{Catalog, Category, CommandRecord, Listing, SortKey, compare};
pub use product::Product;
