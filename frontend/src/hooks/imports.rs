//! The imports page's effects: reading the chosen file in the browser, sending it, and
//! following the import on the shop until it is done or failed.

use gloo_timers::future::TimeoutFuture;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::admin_api;
use crate::api::{ApiError, new_idempotency_key};
use crate::upload::{Stage, Upload};

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

/// The imports page's upload: the file chosen and where its upload stands.
pub struct Uploads {
    pub upload: Option<Upload>,
    pub stage: Stage,
    /// A file was chosen for a kind (`None`: the choice was emptied): read it, with a new key.
    pub choose: Callback<(String, Option<web_sys::File>)>,
    /// Forgets the file chosen (another kind was picked).
    pub clear: Callback<()>,
    /// Sends the file chosen (again: the same key).
    pub send: Callback<()>,
}

#[hook]
pub fn use_uploads() -> Uploads {
    let upload = use_state(|| None::<Upload>);
    let stage = use_state(|| Stage::Idle);
    let choose = {
        let (upload, stage) = (upload.clone(), stage.clone());
        Callback::from(move |(kind, file): (String, Option<web_sys::File>)| {
            let Some(file) = file else {
                upload.set(None);
                return;
            };
            let (upload, stage) = (upload.clone(), stage.clone());
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
    let clear = {
        let (upload, stage) = (upload.clone(), stage.clone());
        Callback::from(move |()| {
            upload.set(None);
            stage.set(Stage::Idle);
        })
    };
    let send = {
        let (upload, stage) = (upload.clone(), stage.clone());
        Callback::from(move |()| {
            if let Some(u) = (*upload).clone() {
                send(u, stage.setter());
            }
        })
    };
    Uploads {
        upload: (*upload).clone(),
        stage: (*stage).clone(),
        choose,
        clear,
        send,
    }
}
