//! `/admin/imports`: a products or stock CSV file (the `shop import` format) uploaded from the
//! browser. The shop checks the whole file first: with one bad row nothing is written, and the
//! bad rows are listed with their line and reason (the first 100; the message counts them all).
//! Otherwise a progress bar follows the rows that change something as Kafka acknowledges them
//! and until the shop has applied the last one, and the end says how many rows were applied and
//! how many were already imported. Each chosen file gets its own idempotency key, so "Upload
//! again" after a lost answer writes nothing twice; while another import is in progress the
//! shop answers at once, and the page says so.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use frontend::hooks::{Uploads, use_uploads};
use frontend::upload::{Stage, progress, stage_text};

#[component]
pub fn AdminImports() -> Html {
    let kind = use_state(|| "products".to_owned());
    let Uploads {
        upload,
        stage,
        choose,
        clear,
        send,
    } = use_uploads();
    let on_kind = {
        let kind = kind.clone();
        Callback::from(move |e: Event| {
            kind.set(e.target_unchecked_into::<HtmlSelectElement>().value());
            clear.emit(());
        })
    };
    let on_file = {
        let kind = kind.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            choose.emit(((*kind).clone(), input.files().and_then(|f| f.get(0))));
        })
    };
    let on_upload = {
        let send = send.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            send.emit(());
        })
    };
    let on_retry = send.reform(|_: MouseEvent| ());
    let busy = matches!(&stage, Stage::Sending)
        || matches!(&stage, Stage::Running(s) if s.state == "producing" || s.state == "applying");
    let columns = if *kind == "products" {
        "id,title,description,long_text,category,price_minor,currency,image_urls"
    } else {
        "product_id,quantity"
    };
    html! {
        <section class="page admin-imports">
            <h1>{ "Imports" }</h1>
            <p>{ "A CSV file with a header line, as " }<code>{ "shop import" }</code>
                { " reads it. The whole file is checked first: if any row is bad, nothing is written." }</p>
            <form class="form import-form" onsubmit={on_upload}>
                <div class="field field--row">
                    <label class="field field--inline">
                        <span>{ "File holds" }</span>
                        <select data-testid="import-kind" onchange={on_kind}>
                            <option value="products" selected={*kind == "products"}>{ "Products" }</option>
                            <option value="stock" selected={*kind == "stock"}>{ "Stock deliveries" }</option>
                        </select>
                    </label>
                    <label class="field field--inline">
                        <span>{ "CSV file" }</span>
                        <input type="file" accept=".csv,text/csv" data-testid="import-file" onchange={on_file} />
                    </label>
                </div>
                <p class="hint">{ "Columns: " }<code>{ columns }</code></p>
                <button type="submit" class="button button--primary" data-testid="import-upload"
                    disabled={upload.is_none() || busy}>{ "Upload" }</button>
            </form>
            <div aria-live="polite" data-testid="import-result">
                { match &stage {
                    Stage::Idle => html! {},
                    Stage::Sending => html! { <p data-testid="import-state" data-state="sending">{ "Checking the file…" }</p> },
                    Stage::Refused(message, rows) => html! {
                        <div class="notice notice--problem" role="alert" data-testid="import-refused">
                            <p class="notice__text">{ message.clone() }</p>
                            if !rows.is_empty() {
                                <table class="admin-table" data-testid="import-bad-rows">
                                    <thead><tr><th class="num">{ "Line" }</th><th>{ "What is wrong" }</th></tr></thead>
                                    <tbody>
                                        { for rows.iter().map(|r| html! {
                                            <tr data-testid="import-bad-row" data-line={r.line.to_string()}>
                                                <td class="num">{ r.line }</td><td>{ r.message.clone() }</td>
                                            </tr>
                                        }) }
                                    </tbody>
                                </table>
                            }
                        </div>
                    },
                    Stage::Running(status) => {
                        let (done, total) = progress(status);
                        html! {
                            <div class="import-progress">
                                <progress data-testid="import-progress" max={total.to_string()} value={done.to_string()}
                                    data-produced={status.produced.to_string()} data-rows={status.rows.to_string()}
                                    data-applied={status.applied.to_string()} data-already={status.already_imported.to_string()}></progress>
                                <p data-testid="import-state" data-state={status.state.clone()}>{ stage_text(status) }</p>
                                if status.state == "failed" {
                                    <button type="button" class="button" data-testid="import-retry" onclick={on_retry.clone()}>{ "Upload again" }</button>
                                }
                            </div>
                        }
                    }
                    Stage::Failed(message) => html! {
                        <div class="notice notice--problem" role="alert">
                            <p class="notice__text" data-testid="import-failed">{ message.clone() }</p>
                            <button type="button" class="button" data-testid="import-retry" onclick={on_retry.clone()}>{ "Upload again" }</button>
                        </div>
                    },
                } }
            </div>
            if let Some(u) = upload.as_ref() {
                <p class="hint" data-testid="import-chosen">{ format!("{} ({} bytes)", u.name, u.bytes.len()) }</p>
            }
        </section>
    }
}
