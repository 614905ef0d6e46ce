//! Suggestions for what the shopper is typing: asked for a moment after the last key (sooner
//! than the results commit to the URL), and only the newest answer is kept.

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use shared::proto::ProductPage;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;

/// Milliseconds after the last key before suggestions are asked for.
const SUGGEST_AFTER_MS: u32 = 120;

/// The newest suggestions: the text they were asked for and the answer.
#[hook]
pub fn use_suggestions(typed: String) -> Option<(String, ProductPage)> {
    let found = use_state(|| None::<(String, ProductPage)>);
    let generation = use_mut_ref(|| Rc::new(Cell::new(0u64)));
    {
        let found = found.clone();
        let generation = generation.borrow().clone();
        use_effect_with(typed, move |typed| {
            let g = generation.get() + 1;
            generation.set(g);
            let typed = typed.trim_start().to_owned();
            let timer = (!typed.trim().is_empty()).then(|| {
                Timeout::new(SUGGEST_AFTER_MS, move || {
                    spawn_local(async move {
                        if let Ok(page) = api::suggestions(&typed).await
                            && generation.get() == g
                        {
                            found.set(Some((typed, page)));
                        }
                    });
                })
            });
            move || drop(timer)
        });
    }
    (*found).clone()
}
