//! Every reducer of the app, one file per state, each tested natively beside it.
//!
//! The convention, followed by every file here:
//! - a `FooState` struct (`Clone + PartialEq`, `Default` is the state before anything happened)
//!   and a `FooAction` enum of everything that can happen to it;
//! - `FooState::apply(&mut self, FooAction) -> bool` is the pure transition and says whether
//!   anything changed; the unit tests drive it (or `reduce`) without a browser;
//! - `impl Reducible for FooState` is only `apply_to_copy(self, |next| next.apply(action))`, so
//!   an action that changes nothing re-renders nothing.
//!
//! Effects (reads, timers, the live connection) stay out: hooks and pages turn them into actions.

pub mod cart_page;
pub mod catalog;
pub mod event_log;
pub mod load;
pub mod product;
pub mod product_form;
pub mod shop;

use std::rc::Rc;

/// The body of every `Reducible::reduce`: `apply` changes a copy of the state and says whether
/// it changed anything. Handing back the same `Rc` when nothing changed tells Yew it need not
/// re-render (live frames for other products, late answers of superseded reads).
pub fn apply_to_copy<S: Clone>(state: Rc<S>, apply: impl FnOnce(&mut S) -> bool) -> Rc<S> {
    let mut next = (*state).clone();
    if apply(&mut next) {
        Rc::new(next)
    } else {
        state
    }
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
