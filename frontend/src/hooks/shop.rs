//! The state every page shares, as the app provides it: the context's handle type, what feeds
//! it for the app's lifetime (reachability, the cart, the live connection), and the cart re-read
//! that the app root and the cart page both start.

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::hub::LiveStatus;
use crate::live::{self, ConnectionEvent, LiveHub};
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

/// Feeds the shared state for the app's lifetime: whether the backend answers, the cart, live
/// frames (which also reprice and restock cart lines) and the connection's events, and a cart
/// re-read after every reconnect or resync.
#[hook]
pub fn use_shop_feeds(shop: &ShopHandle, hub: &LiveHub) {
    {
        let shop = shop.dispatcher();
        let hub = hub.clone();
        use_effect_with((), move |_| {
            let reach = shop.clone();
            api::on_reachability(Callback::from(move |r| {
                reach.dispatch(ShopAction::Reachable(r))
            }));
            // Product frames also reprice and restock cart lines.
            let to_cart = shop.clone();
            let cart_sub = hub.subscribe(Callback::from(move |e| {
                to_cart.dispatch(ShopAction::Live(e))
            }));
            spawn_local(async move {
                // The first read gives the browser its cart cookie, which names the cart the
                // websocket reports on; so it comes before the socket.
                if let Ok(cart) = api::cart().await {
                    shop.dispatch(ShopAction::Cart(cart));
                }
                let events = Callback::from(move |e: ConnectionEvent| {
                    if e == ConnectionEvent::Status(LiveStatus::Offline) {
                        // The socket is gone: a plain read tells whether the backend is too
                        // (the offline banner) and keeps the cart fresh meanwhile.
                        refresh_cart(shop.clone());
                    }
                    shop.dispatch(ShopAction::Connection(e));
                });
                live::run(hub, events).await;
                drop(cart_sub);
            });
        });
    }
    {
        // Re-read the cart after a reconnect or a resync frame.
        let shop_d = shop.dispatcher();
        use_effect_with(shop.resyncs, move |&n| {
            if n > 0 {
                refresh_cart(shop_d);
            }
        });
    }
}
