//! Every custom hook of the app, and every call to the API behind them: page reducers, reads
//! with the delayed spinner and "Try again", the shopper's cart commands, search suggestions,
//! the live connection's events and watch list, the shared shop state and what feeds it, and
//! the operator's sign-in, product form and uploads. Pages and components render what hooks
//! give them; a page may name what a read fetches (`|&id| api::product(id)`), the hook runs it.
//! Hooks know neither pages nor components.

mod admin;
mod cart;
mod imports;
mod live;
mod page_state;
mod product_form;
mod read;
mod shop;
mod suggestions;

pub use admin::{SignInForm, use_admin_events, use_changes, use_sign_in};
pub use cart::{AddRequest, AddToCart, use_add_to_cart, use_cart_commands};
pub use imports::{Uploads, use_uploads};
pub use live::{use_live_events, use_watch};
pub use page_state::use_page_state;
pub use product_form::{ProductFormHandle, use_product_form};
pub use read::{use_load_state, use_read, use_side_read};
pub use shop::{ShopHandle, refresh_cart, use_shop_feeds};
pub use suggestions::use_suggestions;
