//! A value read from the API, as a page holds it: the last good value stays on screen while a
//! newer read is under way (no flicker), answers of superseded reads are dropped, and the spinner
//! appears only when a read is still running after a short delay. Other states embed it for
//! their reads; the order pages use it alone.

use std::rc::Rc;

use yew::Reducible;

use super::apply_to_copy;
use crate::api::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub struct LoadState<T> {
    pub value: Option<T>,
    /// Generation of the read under way.
    pub loading: Option<u64>,
    /// Set by the delayed-spinner timer of the read under way.
    pub spinner: bool,
    pub error: Option<ApiError>,
}

/// What happens to a read: it starts, its answer arrives, or its spinner delay elapses.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadAction<T> {
    Start(u64),
    Done(u64, Result<T, ApiError>),
    SpinnerDue(u64),
}

impl<T> Default for LoadState<T> {
    fn default() -> Self {
        LoadState {
            value: None,
            loading: None,
            spinner: false,
            error: None,
        }
    }
}

impl<T> LoadState<T> {
    /// A read of generation `generation` starts; it supersedes any read under way.
    pub fn start(&mut self, generation: u64) {
        self.loading = Some(generation);
        self.spinner = false;
    }

    /// A read answered. Answers of superseded reads are dropped; returns whether it applied.
    pub fn finish(&mut self, generation: u64, result: Result<T, ApiError>) -> bool {
        if self.loading != Some(generation) {
            return false;
        }
        self.loading = None;
        self.spinner = false;
        match result {
            Ok(v) => {
                self.value = Some(v);
                self.error = None;
            }
            // The old value stays: a failed refresh should not blank the page.
            Err(e) => self.error = Some(e),
        }
        true
    }

    /// The spinner delay of read `generation` elapsed.
    pub fn spinner_due(&mut self, generation: u64) -> bool {
        if self.loading == Some(generation) && !self.spinner {
            self.spinner = true;
            true
        } else {
            false
        }
    }

    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    pub fn apply(&mut self, action: LoadAction<T>) -> bool {
        match action {
            LoadAction::Start(g) => {
                self.start(g);
                true
            }
            LoadAction::Done(g, r) => self.finish(g, r),
            LoadAction::SpinnerDue(g) => self.spinner_due(g),
        }
    }
}

impl<T: Clone> Reducible for LoadState<T> {
    type Action = LoadAction<T>;

    fn reduce(self: Rc<Self>, action: LoadAction<T>) -> Rc<Self> {
        apply_to_copy(self, |next| next.apply(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_values_stay_while_loading_and_late_answers_are_dropped() {
        let mut l: LoadState<&str> = LoadState::default();
        l.start(1);
        assert!(l.finish(1, Ok("first")));
        l.start(2);
        assert_eq!(l.value, Some("first"));
        l.start(3);
        assert!(!l.finish(2, Ok("stale")));
        assert_eq!(l.value, Some("first"));
        assert!(l.finish(3, Ok("third")));
        assert_eq!(l.value, Some("third"));
        assert!(!l.is_loading());
    }

    #[test]
    fn spinner_only_for_the_read_still_running() {
        let mut l: LoadState<u8> = LoadState::default();
        l.start(1);
        l.finish(1, Ok(1));
        assert!(!l.spinner_due(1), "a fast answer shows no spinner");
        l.start(2);
        assert!(l.spinner_due(2));
        assert!(l.spinner);
        l.finish(2, Err(ApiError::Network));
        assert!(!l.spinner);
        assert_eq!(l.value, Some(1));
        assert_eq!(l.error, Some(ApiError::Network));
        l.start(3);
        l.finish(3, Ok(3));
        assert_eq!(l.error, None);
    }
}
