//! The catalog context: products, prices and categories, with the indexes that page, sort,
//! filter and search them. `fold` is the pure model, `query` reads it, `http` serves it, `validate` holds the product
//! rules the API and the import share, `disabled` sorts disabled products for the operator.

pub mod disabled;
pub mod fold;
pub mod http;
pub mod product;
pub mod query;
pub mod search;
pub mod validate;
pub mod view;

pub use fold::{Catalog, CatalogFold, Product};
