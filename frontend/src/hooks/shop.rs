//! The state every page shares, as the app provides it: the context's handle type, and the
//! cart re-read that the app root and the cart page both start.

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::state::shop::{ShopAction, ShopState};

/// The shared shop state as pages receive it from the context.
pub type ShopHandle = UseReducerHandle<ShopState>;

/// Reads the cart into the shared state; failures only feed the offline banner.
pub fn refresh_cart(shop: UseReducerDispatcher<ShopState>) {
    spawn_local(async move {
        if let Ok(cart) = api::cart().await {
            shop.dispatch(ShopAction::Cart(cart));
        }
    });
}
