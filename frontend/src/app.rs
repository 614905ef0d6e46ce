//! The app's root: routes, the shared shop state, and the live connection, started once and
//! kept for the app's lifetime.

use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::components::cart::CartPage;
use crate::components::catalog::CatalogPage;
use crate::components::header::Header;
use crate::components::orders::{OrderConfirmation, OrderHistory};
use crate::components::product::ProductDetail;
use crate::live::{self, ConnectionEvent, LiveHub, LiveStatus};
use crate::shop::{Shop, ShopAction};

#[derive(Debug, Clone, PartialEq, Routable)]
pub enum Route {
    #[at("/")]
    Catalog,
    #[at("/product/:id")]
    Product { id: u64 },
    #[at("/cart")]
    Cart,
    #[at("/orders")]
    Orders,
    #[at("/orders/:id")]
    Order { id: u64 },
    #[not_found]
    #[at("/404")]
    NotFound,
}

/// The shared shop state as pages receive it from the context.
pub type ShopHandle = UseReducerHandle<Shop>;

fn switch(route: Route) -> Html {
    match route {
        Route::Catalog => html! { <CatalogPage /> },
        Route::Product { id } => html! { <ProductDetail {id} /> },
        Route::Cart => html! { <CartPage /> },
        Route::Orders => html! { <OrderHistory /> },
        Route::Order { id } => html! { <OrderConfirmation {id} /> },
        Route::NotFound => html! {
            <section class="page">
                <h1>{ "Page not found" }</h1>
                <p>{ "There is nothing at this address. " }
                    <Link<Route> to={Route::Catalog}>{ "Back to the catalog" }</Link<Route>>
                </p>
            </section>
        },
    }
}

/// Reads the cart into the shared state; failures only feed the offline banner.
pub fn refresh_cart(shop: UseReducerDispatcher<Shop>) {
    spawn_local(async move {
        if let Ok(cart) = api::cart().await {
            shop.dispatch(ShopAction::Cart(cart));
        }
    });
}

#[component]
pub fn App() -> Html {
    let shop = use_reducer(Shop::default);
    let hub = use_memo((), |_| LiveHub::default());

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
                    <Header />
                    <main id="main" class="main" tabindex="-1">
                        <Switch<Route> render={switch} />
                    </main>
                    <footer class="site-footer">
                        <p>{ "Prices include VAT. Stock updates live." }</p>
                    </footer>
                </ContextProvider<LiveHub>>
            </ContextProvider<ShopHandle>>
        </BrowserRouter>
    }
}
