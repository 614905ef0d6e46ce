//! One websocket session's plumbing, shared by the live-update socket and the event log's: the
//! queue of frames a writer task drains, why a session ends, and the end itself (the close frame,
//! the closing handshake, the writer's last frames), so both sockets close alike.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hyper_tungstenite::HyperWebsocketStream;
use hyper_tungstenite::tungstenite::Message;
use hyper_tungstenite::tungstenite::protocol::CloseFrame;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::ops::metrics::live::LiveMetrics;

/// How long a closing handshake may take before the connection is dropped.
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// What waits in a socket's queue. A permit, where there is one, is returned once the frame is
/// written to the socket: it holds a place that is bounded apart from the pushed frames.
pub enum Out {
    Frame(&'static str, Bytes),
    /// A snapshot the client asked for (its place among `ANSWERS_QUEUED`).
    Answer(&'static str, Bytes, OwnedSemaphorePermit),
    /// A ping (its place among the pings that may wait: see `Session::ping`).
    Ping(Option<OwnedSemaphorePermit>),
}

/// Why a socket's task ends.
pub enum End {
    /// The client closed, or the connection broke.
    Gone,
    /// The client fell a whole queue behind, or let pings wait past the idle limit.
    Slow,
    /// The server closes with this code and reason.
    Close(CloseCode, String),
}

/// Ends a session whose queue's sender is dropped: counts a slow client, has the writer send the
/// close frame (none when the client is gone), reads on so the closing handshake completes and a
/// client's unread frames never reset the socket (a reset would discard the frames and the close
/// frame on their way to it), then waits a bounded time for the writer.
pub async fn end(
    end: End,
    metrics: &LiveMetrics,
    close: oneshot::Sender<Option<CloseFrame>>,
    stream: &mut SplitStream<HyperWebsocketStream>,
    mut writer: JoinHandle<()>,
) {
    if let End::Slow = end {
        metrics.slow_clients_dropped.inc();
    }
    let frame = match end {
        End::Gone => None,
        End::Slow => Some(close_frame(CloseCode::Again, "too slow: reconnect")),
        End::Close(code, reason) => Some(close_frame(code, &reason)),
    };
    let _ = close.send(frame);
    let _ =
        tokio::time::timeout(CLOSE_WAIT, async { while stream.next().await.is_some() {} }).await;
    if tokio::time::timeout(CLOSE_WAIT * 2, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

pub fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }
}

/// Writes the queue to the socket until the session ends it: with a close frame (pending frames
/// are dropped), or with None once the client closed (the handshake is completed).
pub async fn write(
    mut sink: SplitSink<HyperWebsocketStream, Message>,
    mut queue: mpsc::Receiver<Out>,
    mut close: oneshot::Receiver<Option<CloseFrame>>,
    metrics: LiveMetrics,
) {
    loop {
        let out = tokio::select! {
            biased;
            frame = &mut close => return finish(&mut sink, frame.ok().flatten()).await,
            out = queue.recv() => out,
        };
        // A place (an answer's, a ping's) is given back once its frame is written.
        let (message, kind, _place) = match out {
            Some(Out::Frame(kind, bytes)) => (Message::Binary(bytes), Some(kind), None),
            Some(Out::Answer(kind, bytes, place)) => {
                (Message::Binary(bytes), Some(kind), Some(place))
            }
            Some(Out::Ping(place)) => (Message::Ping(Bytes::new()), None, place),
            None => return finish(&mut sink, None).await,
        };
        // A client that stops reading blocks this send; the session notices the queue filling.
        tokio::select! {
            biased;
            frame = &mut close => return finish(&mut sink, frame.ok().flatten()).await,
            sent = sink.send(message) => match (sent, kind) {
                (Ok(()), Some(kind)) => metrics.frame_sent(kind),
                (Ok(()), None) => {}
                (Err(e), _) => {
                    tracing::debug!(%e, "cannot write to a live socket");
                    return;
                }
            },
        }
    }
}

async fn finish(sink: &mut SplitSink<HyperWebsocketStream, Message>, frame: Option<CloseFrame>) {
    let closing = async {
        match frame {
            Some(frame) => sink.send(Message::Close(Some(frame))).await,
            None => sink.close().await,
        }
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, closing).await;
}
