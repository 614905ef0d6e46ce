//! The admin pages' side of the event-log connection: events for as long as a page is shown,
//! and a counter that goes up whenever an applied event touches what the page shows, so the
//! page reads it again (another operator's edit, a shopper's order).

use std::rc::Rc;

use shared::proto::LogEntry;
use yew::prelude::*;

use crate::admin_live::{AdminEvent, AdminHub};

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
