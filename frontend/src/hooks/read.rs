//! Reads of what a page shows: each read takes a generation, so the page's reducer drops late
//! answers of superseded reads; the spinner is asked for only once a read outlasts
//! `SPINNER_DELAY_MS`; and the read runs again when its inputs change or on "Try again".

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use yew::platform::spawn_local;
use yew::prelude::*;

use super::use_page_state;
use crate::api::ApiError;
use crate::state::load::{LoadAction, LoadState};
use crate::timing::SPINNER_DELAY_MS;

/// Starts a read: takes a new generation, tells the page it started, arms the delayed spinner,
/// and reports the answer under the same generation.
fn start_read<A, T, F>(
    generation: &Rc<RefCell<u64>>,
    dispatch: Callback<A>,
    read: F,
    start: fn(u64) -> A,
    spinner_due: fn(u64) -> A,
    done: fn(u64, Result<T, ApiError>) -> A,
) where
    A: 'static,
    T: 'static,
    F: Future<Output = Result<T, ApiError>> + 'static,
{
    let g = {
        let mut n = generation.borrow_mut();
        *n += 1;
        *n
    };
    dispatch.emit(start(g));
    let d = dispatch.clone();
    Timeout::new(SPINNER_DELAY_MS, move || d.emit(spinner_due(g))).forget();
    spawn_local(async move {
        let result = read.await;
        dispatch.emit(done(g, result));
    });
}

/// Reads what the page shows (see `start_read`) when it is first shown, whenever `inputs`
/// change, and again on "Try again": returns the callback for that button.
#[hook]
pub fn use_read<A, T, I, F, R>(
    dispatch: Callback<A>,
    inputs: I,
    read: R,
    start: fn(u64) -> A,
    spinner_due: fn(u64) -> A,
    done: fn(u64, Result<T, ApiError>) -> A,
) -> Callback<()>
where
    A: 'static,
    T: 'static,
    I: PartialEq + 'static,
    F: Future<Output = Result<T, ApiError>> + 'static,
    R: FnOnce(&I) -> F + 'static,
{
    let generation = use_mut_ref(|| 0u64);
    let retries = use_state(|| 0u32);
    use_effect_with((inputs, *retries), move |(inputs, _)| {
        start_read(
            &generation,
            dispatch,
            read(inputs),
            start,
            spinner_due,
            done,
        );
    });
    Callback::from(move |_| retries.set(*retries + 1))
}

/// A page whose whole state is one read (the order pages): the read's state and "Try again".
#[hook]
pub fn use_load_state<T, I, F, R>(
    inputs: I,
    read: R,
) -> (UseReducerHandle<LoadState<T>>, Callback<()>)
where
    T: Clone + 'static,
    I: PartialEq + 'static,
    F: Future<Output = Result<T, ApiError>> + 'static,
    R: FnOnce(&I) -> F + 'static,
{
    let (state, dispatch) = use_page_state(LoadState::<T>::default);
    let retry = use_read(
        dispatch,
        inputs,
        read,
        LoadAction::Start,
        LoadAction::SpinnerDue,
        LoadAction::Done,
    );
    (state, retry)
}

/// A read beside the page's own (the catalog's category sizes), when the page is first shown
/// and whenever `inputs` change: the answer goes to `done`; a failure shows only in the offline
/// banner, which every call feeds.
#[hook]
pub fn use_side_read<T, I, F, R>(inputs: I, read: R, done: Callback<T>)
where
    T: 'static,
    I: PartialEq + 'static,
    F: Future<Output = Result<T, ApiError>> + 'static,
    R: FnOnce(&I) -> F + 'static,
{
    use_effect_with(inputs, move |inputs| {
        let read = read(inputs);
        spawn_local(async move {
            if let Ok(value) = read.await {
                done.emit(value);
            }
        });
    });
}
