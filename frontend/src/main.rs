//! The app's view, built by Trunk for `wasm32-unknown-unknown`: `pages` (one per route) lay out
//! `components` (reusable widgets) and get their data and effects from the library's `hooks`;
//! `app` is the root that routes to the pages. Everything else is the `frontend` library, which
//! a save here does not recompile.

mod app;
mod components;
mod pages;

/// Mounts the app on the page's `<body>`.
fn main() {
    yew::Renderer::<app::App>::new().render();
}
