//! The checkout context: stock levels, carts and orders, plus the catalog facts it needs (titles,
//! prices) copied into its own log by the bridge. `model` holds its types, `fold` its rules (the
//! pure fold), `codec` the model's snapshot encoding, `query` reads it, `http` serves it,
//! `tests.rs` checks them given / when / then (declared as `fold::tests`, the path its fixtures
//! keep); `cart_name` is how the log names a cart.

pub mod cart_name;
mod codec;
pub mod fold;
pub mod http;
mod model;
pub mod query;

pub use fold::{CheckoutFold, admin_command_key, cart_command_key, rekey_command_key};
pub use model::{Cart, Checkout, CommandRecord, Order, OrderLine, Outcome, ProductInfo};
