//! One file per routed page (the operator's under `admin/`): each reads what it shows, follows
//! live updates for it, and lays out components. Pages use components and hooks; nothing but the app root uses pages.

pub mod admin;
mod cart;
mod catalog;
mod not_found;
mod order_confirmation;
mod order_history;
mod product;

pub use cart::CartPage;
pub use catalog::CatalogPage;
pub use not_found::NotFound;
pub use order_confirmation::OrderConfirmation;
pub use order_history::OrderHistory;
pub use product::ProductDetail;
