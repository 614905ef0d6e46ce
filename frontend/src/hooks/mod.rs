//! Every custom hook of the app, and the effects behind them: page reducers, reads with the
//! delayed spinner and "Try again", the live connection's events and watch list, and the shared
//! shop state's context. Hooks know neither pages nor components.

mod admin;
mod cart;
mod live;
mod page_state;
mod read;
mod shop;
mod suggestions;

pub use admin::{SignInForm, use_admin_events, use_changes, use_sign_in};
pub use cart::{AddRequest, AddToCart, use_add_to_cart, use_cart_commands};
pub use live::{use_live_events, use_watch};
pub use page_state::use_page_state;
pub use read::{use_load_state, use_read, use_side_read};
pub use shop::{ShopHandle, refresh_cart, use_shop_feeds};
pub use suggestions::use_suggestions;
