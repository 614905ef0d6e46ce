//! `/admin/events`: the event log, live. Each context's figures (applied offset, high
//! watermark, lag, ready, events per second, poison and ignored counts: the families `/metrics`
//! exports), then the newest events of both topics, newest first, filtered by context, kind,
//! product or cart; an event opens to show what it changed and its JSON.

use shared::proto::{ContextFigures, LogEntry};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use frontend::hooks::use_admin_events;
use frontend::state::event_log::{EventLogAction, EventLogState, LogFilter, PER_CONTEXT};

/// The time of day of an event, to the millisecond (the list); with the date (the detail).
fn time(ms: i64, with_date: bool) -> String {
    if ms <= 0 {
        return String::new();
    }
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    let clock = format!(
        "{:02}:{:02}:{:02}.{:03}",
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds(),
        d.get_milliseconds()
    );
    if with_date {
        let date = d.to_locale_date_string("default", &wasm_bindgen::JsValue::UNDEFINED);
        format!("{} {clock}", String::from(date))
    } else {
        clock
    }
}

fn figures_card(f: &ContextFigures, rate: Option<f64>) -> Html {
    let row = |label: &'static str, value: String, testid: &'static str| {
        html! { <div><dt>{ label }</dt><dd data-testid={testid}>{ value }</dd></div> }
    };
    html! {
        <section class="figures card-form" data-testid={format!("figures-{}", f.context)}>
            <h2>{ f.context.clone() }<span class="hint">{ format!(" {}", f.topic) }</span></h2>
            <dl class="facts">
                { row("Applied offset", f.applied_offset.to_string(), "fig-applied") }
                { row("High watermark", f.high_watermark.to_string(), "fig-high") }
                { row("Lag", f.lag.to_string(), "fig-lag") }
                { row("Ready", if f.ready { "yes" } else { "no" }.to_owned(), "fig-ready") }
                { row("Events/s", rate.map_or_else(|| "…".to_owned(), |r| format!("{r:.1}")), "fig-rate") }
                { row("Applied", f.applied_events.to_string(), "fig-applied-events") }
                { row("Ignored", f.ignored_events.to_string(), "fig-ignored") }
                { row("Poison", f.poison_events.to_string(), "fig-poison") }
            </dl>
        </section>
    }
}

fn detail(e: &LogEntry) -> Html {
    html! {
        <section class="event-detail card-form" data-testid="event-detail">
            <h2>{ format!("{} offset {}: {}", e.context, e.offset, e.kind) }</h2>
            <p data-testid="event-detail-summary">{ e.summary.clone() }</p>
            <dl class="facts">
                <div><dt>{ "Result" }</dt><dd>{ if e.reason.is_empty() { e.result.clone() } else { format!("{} ({})", e.result, e.reason) } }</dd></div>
                <div><dt>{ "Recorded" }</dt><dd>{ time(e.timestamp_ms, true) }</dd></div>
                if !e.idempotency_key.is_empty() {
                    <div><dt>{ "Idempotency key" }</dt><dd class="mono">{ e.idempotency_key.clone() }</dd></div>
                }
                if !e.cart.is_empty() {
                    <div><dt>{ "Cart" }</dt><dd class="mono">{ e.cart.clone() }</dd></div>
                }
                if e.order_id > 0 {
                    <div><dt>{ "Order" }</dt><dd>{ format!("#{}", e.order_id) }</dd></div>
                }
            </dl>
            if !e.changes.is_empty() {
                <table class="admin-table" data-testid="event-changes">
                    <thead><tr><th>{ "What" }</th><th>{ "Before" }</th><th>{ "After" }</th></tr></thead>
                    <tbody>
                        { for e.changes.iter().map(|c| html! {
                            <tr data-testid="event-change"><td>{ c.field.clone() }</td><td>{ c.before.clone() }</td><td>{ c.after.clone() }</td></tr>
                        }) }
                    </tbody>
                </table>
            }
            if !e.json.is_empty() {
                <details open=true>
                    <summary>{ "The event as JSON" }</summary>
                    <pre class="json" data-testid="event-json">{ e.json.clone() }</pre>
                </details>
            }
        </section>
    }
}

#[component]
pub fn AdminEvents() -> Html {
    let state = use_reducer(EventLogState::default);
    {
        let d = state.dispatcher();
        use_admin_events(Callback::from(move |e| d.dispatch(EventLogAction::Live(e))));
    }
    let filter = |set: fn(&mut LogFilter, String)| {
        let state = state.clone();
        move |value: String| {
            let mut f = state.filter.clone();
            set(&mut f, value);
            state.dispatch(EventLogAction::Filter(f));
        }
    };
    let on_context = {
        let f = filter(|f, v| f.context = v);
        Callback::from(move |e: Event| f(e.target_unchecked_into::<HtmlSelectElement>().value()))
    };
    let on_kind = {
        let f = filter(|f, v| f.kind = v);
        Callback::from(move |e: Event| f(e.target_unchecked_into::<HtmlSelectElement>().value()))
    };
    let on_product = {
        let f = filter(|f, v| f.product = v);
        Callback::from(move |e: InputEvent| {
            f(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_cart = {
        let f = filter(|f, v| f.cart = v);
        Callback::from(move |e: InputEvent| {
            f(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let visible: Vec<&LogEntry> = state.visible().collect();
    let selected = state.selected_entry().cloned();
    html! {
        <section class="page admin-events">
            <h1>{ "Event log" }</h1>
            <p class="hint">{ format!(
                "The newest {PER_CONTEXT} events of each topic, newest first, as the shop applies them (each context keeps {} on the server). Carts show as a short hash.",
                state.ring_size
            ) }</p>
            <div class="figures-row">
                { for state.figures.iter().map(|f| figures_card(f, state.rate(&f.context))) }
            </div>
            <div class="toolbar admin-toolbar">
                <label class="field field--inline">
                    <span>{ "Context" }</span>
                    <select data-testid="filter-context" onchange={on_context}>
                        { for [("", "Both"), ("catalog", "catalog"), ("checkout", "checkout")].into_iter().map(|(v, l)| html! {
                            <option value={v} selected={state.filter.context == v}>{ l }</option>
                        }) }
                    </select>
                </label>
                <label class="field field--inline">
                    <span>{ "Kind" }</span>
                    <select data-testid="filter-kind" onchange={on_kind}>
                        <option value="" selected={state.filter.kind.is_empty()}>{ "Any" }</option>
                        { for state.kinds().into_iter().map(|k| html! {
                            <option value={k.clone()} selected={state.filter.kind == k}>{ k.clone() }</option>
                        }) }
                    </select>
                </label>
                <label class="field field--inline">
                    <span>{ "Product id" }</span>
                    <input data-testid="filter-product" inputmode="numeric" value={state.filter.product.clone()} oninput={on_product} />
                </label>
                <label class="field field--inline">
                    <span>{ "Cart" }</span>
                    <input data-testid="filter-cart" placeholder="hash, or its start" value={state.filter.cart.clone()} oninput={on_cart} />
                </label>
                <span class="result-count" data-testid="event-count">{ format!("{} shown", visible.len()) }</span>
            </div>
            <div class="admin-columns admin-columns--events">
                <div class="table-wrap">
                    <table class="admin-table events-table" data-testid="events-table">
                        <thead>
                            <tr><th>{ "Time" }</th><th>{ "Topic" }</th><th class="num">{ "Offset" }</th>
                                <th>{ "Kind" }</th><th>{ "What happened" }</th><th>{ "Products" }</th><th>{ "Cart" }</th></tr>
                        </thead>
                        <tbody>
                            { for visible.iter().map(|e| {
                                let key = (e.context.clone(), e.offset);
                                let open = state.selected.as_ref() == Some(&key);
                                let onclick = {
                                    let state = state.clone();
                                    let key = key.clone();
                                    Callback::from(move |_: MouseEvent| state.dispatch(EventLogAction::Select(if open { None } else { Some(key.clone()) })))
                                };
                                html! {
                                    <tr key={format!("{}-{}", e.context, e.offset)} data-testid="event-row"
                                        data-kind={e.kind.clone()} data-context={e.context.clone()} data-offset={e.offset.to_string()}
                                        data-cart={e.cart.clone()}
                                        class={classes!("event-row", format!("event-row--{}", e.result), open.then_some("event-row--open"))}
                                        tabindex="0" {onclick}>
                                        <td class="mono" title={time(e.timestamp_ms, true)}>{ time(e.timestamp_ms, false) }</td>
                                        <td>{ e.context.clone() }</td>
                                        <td class="num">{ e.offset }</td>
                                        <td class="mono">{ e.kind.clone() }</td>
                                        <td data-testid="event-summary">{ e.summary.clone() }</td>
                                        <td>{ e.product_ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ") }</td>
                                        <td class="mono">{ e.cart.clone() }</td>
                                    </tr>
                                }
                            }) }
                        </tbody>
                    </table>
                    if visible.is_empty() {
                        <p class="empty">{ "No events match." }</p>
                    }
                </div>
                if let Some(e) = selected {
                    { detail(&e) }
                }
            </div>
        </section>
    }
}
