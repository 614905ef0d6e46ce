//! `/admin/imports`: a products or stock CSV file (the `shop import` format) uploaded from the
//! browser. The shop checks the whole file first: with one bad row nothing is written, and the
//! bad rows are listed with their line and reason (the first 100; the message counts them all).
//! Otherwise a progress bar follows the rows that change something as Kafka acknowledges them
//! and until the shop has applied the last one, and the end says how many rows were applied and
//! how many were already imported. Each chosen file gets its own idempotency key, so "Upload
//! again" after a lost answer writes nothing twice; while another import is in progress the
//! shop answers at once, and the page says so.

use gloo_timers::future::TimeoutFuture;
use shared::proto::{ImportRowError, ImportStatus};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::admin_api;
use crate::api::{ApiError, new_idempotency_key};

/// The file chosen, read, with the key of its upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub kind: String,
    pub name: String,
    pub bytes: Vec<u8>,
    pub key: String,
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Idle,
    Sending,
    /// Refused: every bad row (nothing was written).
    Refused(String, Vec<ImportRowError>),
    /// The shop is writing it, or wrote it.
    Running(ImportStatus),
    /// No answer, or an error a retry may fix: send the same upload again.
    Failed(String),
}

/// The bar's share done: rows acknowledged of the rows to write, and the last step (applied)
/// once done.
pub fn progress(status: &ImportStatus) -> (u64, u64) {
    let total = status.applied.max(1);
    match status.state.as_str() {
        "done" => (total, total),
        _ => (status.produced.min(total), total),
    }
}

fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".to_owned()
    } else {
        format!("{n} rows")
    }
}

pub fn stage_text(status: &ImportStatus) -> String {
    match status.state.as_str() {
        "producing" => format!(
            "Writing rows to Kafka: {} of {}",
            status.produced, status.applied
        ),
        "applying" => format!(
            "All {} written; waiting for the shop to apply the last one",
            rows(status.applied)
        ),
        "done" if status.applied == 0 => format!(
            "Done: 0 rows applied, {} already imported: nothing to write.",
            status.already_imported
        ),
        "done" => format!(
            "Done: {} applied, {} already imported.",
            rows(status.applied),
            status.already_imported
        ),
        _ => format!("Failed: {}", status.error),
    }
}

async fn follow(kind: String, id: String, stage: UseStateSetter<Stage>) {
    loop {
        TimeoutFuture::new(250).await;
        match admin_api::import_status(&kind, &id).await {
            Ok(s) => {
                let finished = s.state == "done" || s.state == "failed";
                stage.set(Stage::Running(s));
                if finished {
                    return;
                }
            }
            Err(e) => {
                stage.set(Stage::Failed(format!(
                    "Lost track of the import ({}). Upload the same file again: nothing is written twice.",
                    e.operator_message()
                )));
                return;
            }
        }
    }
}

fn send(upload: Upload, stage: UseStateSetter<Stage>) {
    stage.set(Stage::Sending);
    spawn_local(async move {
        match admin_api::upload(&upload.kind, &upload.bytes, &upload.key).await {
            Ok(status) => {
                let id = status.id.clone();
                let finished = status.state == "done" || status.state == "failed";
                stage.set(Stage::Running(status));
                if !finished {
                    follow(upload.kind, id, stage).await;
                }
            }
            Err(ApiError::Status { status: 422, body }) if !body.bad_rows.is_empty() => {
                stage.set(Stage::Refused(body.message.clone(), body.bad_rows))
            }
            Err(e @ ApiError::Status { status: 503, .. })
                if matches!(&e, ApiError::Status { body, .. } if body.code == "import_in_progress") =>
            {
                stage.set(Stage::Failed(format!(
                    "Another import is in progress on the shop ({}). Upload again in a few seconds: nothing of this file was written.",
                    e.operator_message()
                )))
            }
            Err(e) if e.is_retryable() => stage.set(Stage::Failed(format!(
                "The upload did not get through ({}). Upload it again: the shop writes it once.",
                e.operator_message()
            ))),
            Err(e) => stage.set(Stage::Refused(e.operator_message(), vec![])),
        }
    });
}

#[component]
pub fn AdminImports() -> Html {
    let kind = use_state(|| "products".to_owned());
    let upload = use_state(|| None::<Upload>);
    let stage = use_state(|| Stage::Idle);
    let on_kind = {
        let (kind, upload, stage) = (kind.clone(), upload.clone(), stage.clone());
        Callback::from(move |e: Event| {
            kind.set(e.target_unchecked_into::<HtmlSelectElement>().value());
            upload.set(None);
            stage.set(Stage::Idle);
        })
    };
    let on_file = {
        let (kind, upload, stage) = (kind.clone(), upload.clone(), stage.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                upload.set(None);
                return;
            };
            let (kind, upload, stage) = ((*kind).clone(), upload.clone(), stage.clone());
            spawn_local(async move {
                let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await;
                match buffer {
                    Ok(b) => {
                        let bytes = js_sys::Uint8Array::new(&b).to_vec();
                        // A new file, a new upload: its own key for as long as it is retried.
                        upload.set(Some(Upload {
                            kind,
                            name: file.name(),
                            bytes,
                            key: new_idempotency_key(),
                        }));
                        stage.set(Stage::Idle);
                    }
                    Err(_) => stage.set(Stage::Failed(
                        "The browser could not read that file.".into(),
                    )),
                }
            });
        })
    };
    let on_upload = {
        let (upload, stage) = (upload.clone(), stage.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(u) = (*upload).clone() {
                send(u, stage.setter());
            }
        })
    };
    let on_retry = {
        let (upload, stage) = (upload.clone(), stage.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(u) = (*upload).clone() {
                send(u, stage.setter());
            }
        })
    };
    let busy = matches!(&*stage, Stage::Sending)
        || matches!(&*stage, Stage::Running(s) if s.state == "producing" || s.state == "applying");
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
                { match &*stage {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_follows_the_rows_and_ends_when_applied() {
        let mut s = ImportStatus {
            rows: 5,
            applied: 4,
            already_imported: 1,
            produced: 1,
            state: "producing".into(),
            ..Default::default()
        };
        assert_eq!(progress(&s), (1, 4));
        assert_eq!(stage_text(&s), "Writing rows to Kafka: 1 of 4");
        s.produced = 4;
        s.state = "applying".into();
        assert_eq!(progress(&s), (4, 4));
        s.state = "done".into();
        assert_eq!(stage_text(&s), "Done: 4 rows applied, 1 already imported.");
        s.applied = 0;
        s.already_imported = 5;
        assert_eq!(
            progress(&s),
            (1, 1),
            "nothing to write is done, not divided by zero"
        );
        assert_eq!(
            stage_text(&s),
            "Done: 0 rows applied, 5 already imported: nothing to write."
        );
    }
}
