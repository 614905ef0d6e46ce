//! What every page shares: its state changes in place and re-renders only when something changed,
//! and the reads of what it shows follow their inputs and the shopper's "Try again".

use std::future::Future;
use std::rc::Rc;

use yew::prelude::*;

use crate::api::ApiError;
use crate::components::start_read;
use crate::loading::{LoadAction, Loadable};

/// The body of a page state's `Reducible::reduce`: `apply` changes a copy of the state and says
/// whether it changed anything. Handing back the same `Rc` when nothing changed tells Yew the
/// page need not re-render (live frames for other products, late answers of superseded reads).
pub fn apply_to_copy<S: Clone>(state: Rc<S>, apply: impl FnOnce(&mut S) -> bool) -> Rc<S> {
    let mut next = (*state).clone();
    if apply(&mut next) {
        Rc::new(next)
    } else {
        state
    }
}

/// A page's reducer and a callback that dispatches to it (reads, live events and buttons take
/// a `Callback`).
#[hook]
pub fn use_page_state<S>(init: fn() -> S) -> (UseReducerHandle<S>, Callback<S::Action>)
where
    S: Reducible + 'static,
{
    let state = use_reducer(init);
    let d = state.dispatcher();
    (state, Callback::from(move |a| d.dispatch(a)))
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
pub fn use_loadable<T, I, F, R>(inputs: I, read: R) -> (UseReducerHandle<Loadable<T>>, Callback<()>)
where
    T: Clone + 'static,
    I: PartialEq + 'static,
    F: Future<Output = Result<T, ApiError>> + 'static,
    R: FnOnce(&I) -> F + 'static,
{
    let (state, dispatch) = use_page_state(Loadable::<T>::default);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_makes_a_new_state() {
        let state = Rc::new(1u32);
        let same = apply_to_copy(state.clone(), |_| false);
        assert!(Rc::ptr_eq(&state, &same));
        let next = apply_to_copy(state.clone(), |n| {
            *n += 1;
            true
        });
        assert_eq!((*state, *next), (1, 2));
    }
}
