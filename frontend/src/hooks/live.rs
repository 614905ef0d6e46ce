//! A page's side of the live connection: the events it hears and the products it asks about,
//! both for as long as the page is shown.

use yew::prelude::*;

use crate::live::{LiveEvent, LiveHub};

/// Subscribes a page's reducer to live events for as long as the page is shown.
#[hook]
pub fn use_live_events<A: 'static>(dispatch: Callback<A>, wrap: fn(LiveEvent) -> A) {
    let hub = use_context::<LiveHub>().expect("LiveHub is provided by App");
    use_effect_with((), move |_| {
        let sub = hub.subscribe(Callback::from(move |e| dispatch.emit(wrap(e))));
        move || drop(sub)
    });
}

/// Tells the live connection which products the page shows.
#[hook]
pub fn use_watch(ids: Vec<u64>) {
    let hub = use_context::<LiveHub>().expect("LiveHub is provided by App");
    use_effect_with(ids, move |ids| hub.watch(ids.clone()));
}
