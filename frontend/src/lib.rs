//! The shop's app: a Yew single-page app that talks protobuf to the shop's API and follows
//! live updates over a websocket; under `/admin`, the operator's pages (products, imports,
//! orders, the event log) over the admin API and the event-log socket.
//!
//! Where things live: `pages` (one per route) lay out `components` (reusable widgets) and get
//! their data and effects from `hooks`; `state` holds every reducer. Pure logic (URL
//! state, wording, live-frame merging, timing decisions) lives in plain modules with native unit
//! tests. `app` is the root that routes to the pages.

pub mod admin_api;
pub mod admin_live;
pub mod api;
pub mod app;
pub mod backoff;
pub mod catalog_query;
pub mod components;
pub mod format;
pub mod hooks;
pub mod hub;
pub mod live;
pub mod live_apply;
pub mod notice;
pub mod pages;
pub mod route;
pub mod state;
pub mod stock;
pub mod timing;
pub mod upload;

/// Mounts the app on the page's `<body>`.
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
