//! The bridge: copies every catalog event into the checkout topic, so checkout's state stays a
//! function of its own single ordered log.
//!
//! It rides on the catalog writer (an engine observer) instead of running a consumer of its own: the
//! catalog is read once per process. Each copy names the catalog offset before it, and checkout
//! applies a copy only if it continues that chain; so every replica may bridge, a restart resumes
//! after the last copy checkout applied, and a copy that failed is re-sent, together with
//! everything after it, without ever leaving a gap.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use shared::proto::{CatalogEvent, CatalogFactV1, CheckoutEvent, checkout_event};
use tokio::sync::mpsc;

use crate::catalog::CatalogFold;
use crate::catalog::fold::Catalog;
use crate::engine::kafka::{Generation, ProduceError, ShopProducer};
use crate::engine::{Applied, Observer};
use crate::shutdown::{self, Shutdown};

/// Copies sent but not yet acknowledged, at most.
const IN_FLIGHT: usize = 4096;

/// The catalog writer's observer: hands every catalog event after `bridged_until` to the bridge
/// task.
pub fn tap(
    bridged_until: Option<i64>,
    copies: mpsc::Sender<CatalogFactV1>,
) -> Box<dyn Observer<CatalogFold>> {
    Box::new(Tap {
        bridged_until,
        previous: -1,
        copies,
    })
}

struct Tap {
    bridged_until: Option<i64>,
    /// The offset of the catalog event before the next one.
    previous: i64,
    copies: mpsc::Sender<CatalogFactV1>,
}

impl Observer<CatalogFold> for Tap {
    fn resumed(&mut self, from: i64) {
        self.previous = from - 1;
    }

    fn event(&mut self, offset: i64, event: Option<(&CatalogEvent, Applied)>, _: &Catalog) {
        if self.bridged_until.is_none_or(|until| offset > until) {
            let fact = copy(offset, self.previous, event);
            // Blocks the catalog writer while the bridge is behind: back-pressure, never loss.
            let _ = self.copies.blocking_send(fact);
        }
        self.previous = offset;
    }
}

/// The copy of the catalog event at `offset`. It carries the event only if the catalog applied
/// it: an event the catalog ignored (a repeated idempotency key with other content, product id
/// 0) would otherwise change checkout's products and not the catalog's. An empty copy still
/// continues the chain.
pub fn copy(offset: i64, previous: i64, event: Option<(&CatalogEvent, Applied)>) -> CatalogFactV1 {
    CatalogFactV1 {
        source_offset: offset,
        event: event
            .filter(|(_, applied)| *applied == Applied::Changed)
            .map(|(e, _)| e.clone()),
        previous_source_offset: previous,
    }
}

/// Produces the copies in order, re-sending from the first failure.
pub async fn run(
    mut copies: mpsc::Receiver<CatalogFactV1>,
    producer: Arc<ShopProducer>,
    topic: String,
    shutdown: Shutdown,
) {
    let mut in_flight: VecDeque<(Vec<u8>, Arc<Generation>, DeliveryFuture)> = VecDeque::new();
    let stop = shutdown::requested(shutdown.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            fact = copies.recv(), if in_flight.len() < IN_FLIGHT => {
                let Some(fact) = fact else { break };
                let payload = CheckoutEvent { event: Some(checkout_event::Event::CatalogFactV1(fact)), meta: None }.encode_to_vec();
                let Some((generation, delivery)) = enqueue(&producer, &topic, &payload, &shutdown).await else { break };
                in_flight.push_back((payload, generation, delivery));
            }
            delivered = async { (&mut in_flight.front_mut().expect("guarded").2).await }, if !in_flight.is_empty() => {
                match delivered {
                    Ok(Ok(_)) => { in_flight.pop_front(); }
                    failed => {
                        // Cancelled: the producer instance went away without an answer.
                        let error = failed.ok().and_then(|r| r.err()).map(|(e, _)| ProduceError::from(e));
                        tracing::warn!(error = ?error.as_ref().map(|e| e.to_string()), pending = in_flight.len(), "bridge copy failed; re-sending from it");
                        let generation = in_flight.front().expect("guarded").1.clone();
                        producer.failed(&generation, error.as_ref());
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                            _ = &mut stop => break,
                        }
                        for (payload, generation, delivery) in in_flight.iter_mut() {
                            let Some(sent) = enqueue(&producer, &topic, payload, &shutdown).await else { break };
                            (*generation, *delivery) = sent;
                        }
                    }
                }
            }
            _ = &mut stop => break,
        }
    }
    // Copies still in flight are flushed with the producer in main; anything lost here is
    // re-sent by the next start, which resumes after the last copy checkout applied.
    tracing::debug!(pending = in_flight.len(), "bridge stopped");
}

/// Hands a copy to the current producer, waiting while its queue is full; None once the
/// process is stopping.
async fn enqueue(
    producer: &ShopProducer,
    topic: &str,
    payload: &[u8],
    shutdown: &Shutdown,
) -> Option<(Arc<Generation>, DeliveryFuture)> {
    loop {
        if *shutdown.borrow() {
            return None;
        }
        let generation = producer.current();
        match generation.producer.send_result(
            FutureRecord::<(), [u8]>::to(topic)
                .partition(0)
                .payload(payload),
        ) {
            Ok(delivery) => return Some((generation, delivery)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((e, _)) => {
                tracing::warn!(%e, "cannot hand a bridge copy to the producer; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::{ProductUpsertedV1, catalog_event};

    /// Caught by the `catalog_events` fuzz target (checkout sells the catalog's products): every
    /// catalog event was copied, so one the catalog ignored (a product id 0, a repeated
    /// idempotency key with other content) still changed checkout's products.
    #[test]
    fn copies_carry_only_what_the_catalog_applied() {
        let event = CatalogEvent {
            event: Some(catalog_event::Event::ProductUpsertedV1(ProductUpsertedV1 {
                product_id: 0,
                ..Default::default()
            })),
            meta: None,
        };
        let ignored = copy(7, 5, Some((&event, Applied::Ignored("product id 0"))));
        assert_eq!(
            (
                ignored.source_offset,
                ignored.previous_source_offset,
                ignored.event
            ),
            (7, 5, None)
        );
        let applied = copy(8, 7, Some((&event, Applied::Changed)));
        assert_eq!(applied.event, Some(event));
        assert_eq!(copy(9, 8, None).event, None);
    }
}
