//! The app's root: which page each route shows (the shop's under its header, the operator's
//! under `/admin` in their own shell), the shared shop state, and the live connections,
//! created once and kept for the app's lifetime.

use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::admin_live::AdminHub;
use crate::api;
use crate::components::Header;
use crate::hooks::{ShopHandle, refresh_cart};
use crate::hub::LiveStatus;
use crate::live::{self, ConnectionEvent, LiveHub};
use crate::pages::admin::AdminShell;
use crate::pages::{
    CartPage, CatalogPage, NotFound, OrderConfirmation, OrderHistory, ProductDetail,
};
use crate::route::Route;
use crate::state::shop::{ShopAction, ShopState};

fn switch(route: Route) -> Html {
    if route.is_admin() {
        return html! { <AdminShell {route} /> };
    }
    let page = match route {
        Route::Catalog => html! { <CatalogPage /> },
        Route::Product { id } => html! { <ProductDetail {id} /> },
        Route::Cart => html! { <CartPage /> },
        Route::Orders => html! { <OrderHistory /> },
        Route::Order { id } => html! { <OrderConfirmation {id} /> },
        _ => html! { <NotFound /> },
    };
    html! {
        <>
            <Header />
            <main id="main" class="main" tabindex="-1">{ page }</main>
            <footer class="site-footer">
                <p>{ "Prices include VAT. Stock updates live." }</p>
            </footer>
        </>
    }
}

#[component]
pub fn App() -> Html {
    let shop = use_reducer(ShopState::default);
    let hub = use_memo((), |_| LiveHub::default());
    // The admin pages' event-log connection, kept across their navigations.
    let admin = use_memo((), |_| AdminHub::default());

    {
        let shop = shop.dispatcher();
        let hub = (*hub).clone();
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

    html! {
        <BrowserRouter>
            <ContextProvider<ShopHandle> context={shop.clone()}>
                <ContextProvider<LiveHub> context={(*hub).clone()}>
                    <ContextProvider<AdminHub> context={(*admin).clone()}>
                        <Switch<Route> render={switch} />
                    </ContextProvider<AdminHub>>
                </ContextProvider<LiveHub>>
            </ContextProvider<ShopHandle>>
        </BrowserRouter>
    }
}
