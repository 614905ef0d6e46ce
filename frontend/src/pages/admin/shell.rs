//! The admin area's frame: the sign-in form until the token is accepted, then the navigation,
//! the state of the event-log connection, sign-out and the page of the route.

use web_sys::HtmlInputElement;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{AdminEvents, AdminImports, AdminOrders, AdminProduct, AdminProducts};
use frontend::admin_api;
use frontend::admin_live::{AdminEvent, AdminHub};
use frontend::hooks::{SignInForm, use_admin_events, use_sign_in};
use frontend::hub::LiveStatus;
use frontend::route::Route;

#[derive(Properties, PartialEq)]
pub struct AdminShellProps {
    pub route: Route,
}

#[component]
pub fn AdminShell(props: &AdminShellProps) -> Html {
    let hub = use_context::<AdminHub>().expect("AdminHub is provided by App");
    let signed_in = use_state(|| admin_api::token().is_some());
    let status = use_state(|| LiveStatus::Connecting);
    {
        let hub = hub.clone();
        use_effect_with(*signed_in, move |&s| {
            if s {
                hub.start();
            }
        });
    }
    {
        let status = status.setter();
        use_admin_events(Callback::from(move |e| {
            if let AdminEvent::Status(s) = e {
                status.set(s);
            }
        }));
    }
    if !*signed_in {
        let signed_in = signed_in.setter();
        return html! {
            <main id="main" class="main admin" tabindex="-1">
                <SignIn on_signed_in={Callback::from(move |_| signed_in.set(true))} />
            </main>
        };
    }
    let sign_out = {
        let (hub, signed_in) = (hub.clone(), signed_in.setter());
        Callback::from(move |_: MouseEvent| {
            admin_api::forget();
            hub.stop();
            signed_in.set(false);
        })
    };
    let page = match &props.route {
        Route::AdminNewProduct => html! { <AdminProduct id={None::<u64>} /> },
        Route::AdminProduct { id } => html! { <AdminProduct id={Some(*id)} /> },
        Route::AdminImports => html! { <AdminImports /> },
        Route::AdminOrders => html! { <AdminOrders /> },
        Route::AdminEvents => html! { <AdminEvents /> },
        _ => html! { <AdminProducts /> },
    };
    let link = |to: Route, label: &'static str| {
        let current = props.route == to
            || (to == Route::AdminProducts
                && matches!(
                    props.route,
                    Route::AdminProduct { .. } | Route::AdminNewProduct
                ));
        html! {
            <Link<Route> {to} classes={classes!("site-nav__link", current.then_some("site-nav__link--current"))}>
                { label }
            </Link<Route>>
        }
    };
    let s = *status;
    html! {
        <>
            <header class="site-header admin-header">
                <div class="site-header__bar">
                    <Link<Route> to={Route::AdminProducts} classes="brand">{ "Kafka Shop · Admin" }</Link<Route>>
                    <nav class="site-nav" aria-label="Admin" data-testid="admin-nav">
                        { link(Route::AdminProducts, "Products") }
                        { link(Route::AdminImports, "Imports") }
                        { link(Route::AdminOrders, "Orders") }
                        { link(Route::AdminEvents, "Event log") }
                        <a class="site-nav__link" href="/api/docs">{ "API docs" }</a>
                        <Link<Route> to={Route::Catalog} classes="site-nav__link">{ "Shop" }</Link<Route>>
                    </nav>
                    <span class={classes!("live-status", format!("live-status--{}", s.as_str()))}
                        data-testid="admin-live-status" data-state={s.as_str()}
                        title="The event log's connection: tables and forms follow changes live">
                        <span class="live-status__dot" aria-hidden="true"></span>
                        <span class="live-status__label">{ s.label() }</span>
                    </span>
                    <button type="button" class="button button--quiet button--small"
                        data-testid="admin-sign-out" onclick={sign_out}>{ "Sign out" }</button>
                </div>
            </header>
            <main id="main" class="main admin" tabindex="-1">{ page }</main>
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct SignInProps {
    pub on_signed_in: Callback<()>,
}

/// The admin token, checked by the shop before it is kept (in this tab's session only).
#[component]
pub fn SignIn(props: &SignInProps) -> Html {
    let input = use_node_ref();
    let SignInForm {
        submit,
        busy,
        problem,
    } = use_sign_in(props.on_signed_in.clone());
    let onsubmit = {
        let input = input.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let token = input
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            submit.emit(token);
        })
    };
    html! {
        <section class="page sign-in">
            <h1>{ "Sign in to the admin area" }</h1>
            <form class="form" {onsubmit}>
                <div class="field">
                    <label for="admin-token">{ "Admin token" }</label>
                    <input id="admin-token" ref={input} type="password" autocomplete="off"
                        data-testid="admin-token" required=true />
                    <p class="hint">{ "The shop's ADMIN_TOKEN. It is kept in this tab only, until you sign out or close it." }</p>
                </div>
                if let Some(p) = problem {
                    <p class="field-error" role="alert" data-testid="admin-sign-in-error">{ p }</p>
                }
                <button type="submit" class="button button--primary" data-testid="admin-sign-in"
                    disabled={busy}>{ if busy { "Checking…" } else { "Sign in" } }</button>
            </form>
        </section>
    }
}
