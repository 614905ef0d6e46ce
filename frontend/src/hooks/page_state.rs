//! A page's reducer, with the dispatch as a `Callback` because reads, live events and buttons
//! all take one.

use yew::prelude::*;

/// The page's state handle and a callback that dispatches to it.
#[hook]
pub fn use_page_state<S>(init: fn() -> S) -> (UseReducerHandle<S>, Callback<S::Action>)
where
    S: Reducible + 'static,
{
    let state = use_reducer(init);
    let d = state.dispatcher();
    (state, Callback::from(move |a| d.dispatch(a)))
}
