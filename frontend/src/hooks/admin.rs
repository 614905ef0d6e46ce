//! The admin pages' side of the event-log connection: events for as long as a page is shown,
//! and a counter that goes up whenever an applied event touches what the page shows, so the
//! page reads it again (another operator's edit, a shopper's order); and the sign-in.

use std::rc::Rc;

use shared::proto::LogEntry;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::admin_api;
use crate::admin_live::{AdminEvent, AdminHub};
use crate::api::ApiError;

/// Subscribes `callback` to the admin connection while the page is shown.
#[hook]
pub fn use_admin_events(callback: Callback<AdminEvent>) {
    let hub = use_context::<AdminHub>().expect("AdminHub is provided by App");
    use_effect_with((), move |_| {
        let sub = hub.subscribe(callback);
        move || drop(sub)
    });
}

#[derive(Default, PartialEq)]
struct Tick(u32);

impl Reducible for Tick {
    type Action = ();

    fn reduce(self: Rc<Self>, _: ()) -> Rc<Self> {
        Rc::new(Tick(self.0.wrapping_add(1)))
    }
}

/// A number that changes whenever an entry `touches` accepts arrives (and after a reconnect's
/// snapshot, which may follow changes missed meanwhile): put it in a read's inputs.
#[hook]
pub fn use_changes(touches: Rc<dyn Fn(&LogEntry) -> bool>) -> u32 {
    let tick = use_reducer(Tick::default);
    let bump = tick.dispatcher();
    let seen_snapshot = use_mut_ref(|| false);
    use_admin_events(Callback::from(move |e: AdminEvent| match e {
        AdminEvent::Entries(entries) if entries.iter().any(|e| touches(e)) => bump.dispatch(()),
        // The first snapshot comes with the page; a later one follows a reconnect.
        AdminEvent::Snapshot(_) if std::mem::replace(&mut *seen_snapshot.borrow_mut(), true) => {
            bump.dispatch(())
        }
        _ => {}
    }));
    tick.0
}

/// What a refused sign-in means.
fn sign_in_problem(e: &ApiError) -> String {
    match e.status() {
        Some(401) => "That is not this shop's admin token. Check it and try again.".into(),
        Some(403) => {
            "The admin API is switched off on this shop: start it with ADMIN_TOKEN set.".into()
        }
        _ => e.message(),
    }
}

/// The sign-in form's side: the token is checked by the shop before it is kept.
pub struct SignInForm {
    /// Checks the token typed; `on_signed_in` hears when the shop accepts it.
    pub submit: Callback<String>,
    pub busy: bool,
    /// Why the last attempt was refused.
    pub problem: Option<String>,
}

#[hook]
pub fn use_sign_in(on_signed_in: Callback<()>) -> SignInForm {
    let problem = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let submit = {
        let (problem, busy) = (problem.setter(), busy.setter());
        Callback::from(move |token: String| {
            if token.trim().is_empty() {
                problem.set(Some("Enter the admin token.".into()));
                return;
            }
            let (problem, busy, done) = (problem.clone(), busy.clone(), on_signed_in.clone());
            busy.set(true);
            spawn_local(async move {
                match admin_api::sign_in(token.trim()).await {
                    Ok(()) => done.emit(()),
                    Err(e) => problem.set(Some(sign_in_problem(&e))),
                }
                busy.set(false);
            });
        })
    };
    SignInForm {
        submit,
        busy: *busy,
        problem: (*problem).clone(),
    }
}
