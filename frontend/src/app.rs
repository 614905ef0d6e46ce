//! The app's root: which page each route shows (the shop's under its header, the operator's
//! under `/admin` in their own shell), the shared shop state, and the live connections,
//! created once and kept for the app's lifetime.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::Header;
use crate::pages::admin::AdminShell;
use crate::pages::{
    CartPage, CatalogPage, NotFound, OrderConfirmation, OrderHistory, ProductDetail,
};
use frontend::admin_live::AdminHub;
use frontend::hooks::{ShopHandle, use_shop_feeds};
use frontend::live::LiveHub;
use frontend::route::Route;
use frontend::state::shop::ShopState;

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

    use_shop_feeds(&shop, &hub);

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
