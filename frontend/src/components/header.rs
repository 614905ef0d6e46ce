//! The header on every page: the shop's name, navigation, the live-connection indicator, the
//! cart badge, and the banner shown while the backend cannot be reached.

use yew::prelude::*;
use yew_router::prelude::*;

use frontend::hooks::ShopHandle;
use frontend::hub::LiveStatus;
use frontend::route::Route;

#[component]
pub fn Header() -> Html {
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    html! {
        <header class="site-header">
            <a class="skip-link" href="#main">{ "Skip to content" }</a>
            <div class="site-header__bar">
                <Link<Route> to={Route::Catalog} classes="brand">{ "Kafka Shop" }</Link<Route>>
                <nav class="site-nav" aria-label="Main">
                    <Link<Route> to={Route::Catalog} classes="site-nav__link">{ "Catalog" }</Link<Route>>
                    <Link<Route> to={Route::Orders} classes="site-nav__link">{ "Orders" }</Link<Route>>
                </nav>
                <LiveIndicator status={shop.live} />
                <CartBadge count={shop.item_count()} />
            </div>
            if !shop.reachable {
                <OfflineBanner />
            }
        </header>
    }
}

#[derive(Properties, PartialEq)]
pub struct CartBadgeProps {
    pub count: u32,
}

/// The cart link with the number of items in the cart.
#[component]
pub fn CartBadge(props: &CartBadgeProps) -> Html {
    let n = props.count;
    let items = if n == 1 { "item" } else { "items" };
    html! {
        <Link<Route> to={Route::Cart} classes="cart-link">
            <span class="cart-link__label">{ "Cart" }</span>
            <span class="cart-badge" data-testid="cart-badge" aria-hidden="true">{ n }</span>
            <span class="visually-hidden" aria-live="polite">{ format!("{n} {items} in your cart") }</span>
        </Link<Route>>
    }
}

#[derive(Properties, PartialEq)]
pub struct LiveIndicatorProps {
    pub status: LiveStatus,
}

/// Whether prices and stock on screen update by themselves right now.
#[component]
pub fn LiveIndicator(props: &LiveIndicatorProps) -> Html {
    let s = props.status;
    let title = match s {
        LiveStatus::Connected => "Prices and stock update live",
        LiveStatus::Connecting => "Connecting for live updates",
        LiveStatus::Offline => "Live updates paused; reconnecting",
    };
    html! {
        <span class={classes!("live-status", format!("live-status--{}", s.as_str()))}
            data-testid="live-status" data-state={s.as_str()} title={title}>
            <span class="live-status__dot" aria-hidden="true"></span>
            <span class="live-status__label">{ s.label() }</span>
        </span>
    }
}

/// Shown while the shop cannot be reached; it goes away by itself once it answers again.
#[component]
pub fn OfflineBanner() -> Html {
    html! {
        <div class="offline-banner" role="alert" data-testid="offline-banner">
            <strong>{ "You're offline." }</strong>
            { " We can't reach the shop right now. We'll keep trying; what you see may be out of date." }
        </div>
    }
}
