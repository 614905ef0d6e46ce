//! Every custom hook of the app, and the effects behind them: page reducers, reads with the
//! delayed spinner and "Try again", the live connection's events and watch list, and the shared
//! shop state's context. Hooks know neither pages nor components.

mod admin;
mod live;
mod page_state;
mod read;
mod shop;

pub use admin::{use_admin_events, use_changes};
pub use live::{use_live_events, use_watch};
pub use page_state::use_page_state;
pub use read::{use_load_state, use_read};
pub use shop::{ShopHandle, refresh_cart};
