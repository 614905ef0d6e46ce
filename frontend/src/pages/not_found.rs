//! What any address the app does not know shows.

use yew::prelude::*;
use yew_router::prelude::*;

use frontend::route::Route;

#[component]
pub fn NotFound() -> Html {
    html! {
        <section class="page">
            <h1>{ "Page not found" }</h1>
            <p>{ "There is nothing at this address. " }
                <Link<Route> to={Route::Catalog}>{ "Back to the catalog" }</Link<Route>>
            </p>
        </section>
    }
}
