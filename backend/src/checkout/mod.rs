//! The checkout context: stock levels, carts and orders, plus the catalog facts it needs (titles,
//! prices) copied into its own log by the bridge. `fold` is the pure model, `query` reads it,
//! `http` serves it; `cart_name` is how the log names a cart.

pub mod cart_name;
pub mod fold;
pub mod http;
pub mod query;

pub use fold::{Checkout, CheckoutFold, Outcome};
