//! The shopper's app: a Yew single-page app that talks protobuf to the shop's API and follows
//! live updates over a websocket.
//!
//! Pure logic (URL state, reducers, wording, timing decisions) lives in plain modules with
//! native unit tests; `components` renders it and owns the browser-side effects.

pub mod api;
pub mod app;
pub mod backoff;
pub mod cart_state;
pub mod catalog_query;
pub mod catalog_state;
pub mod components;
pub mod live;
pub mod live_apply;
pub mod loading;
pub mod notice;
pub mod page;
pub mod product_state;
pub mod shop;
pub mod stock;
pub mod timing;

/// Mounts the app on the page's `<body>`.
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
