//! The catalog model's snapshot encoding, and its load in parallel.
//!
//! A snapshot holds the products in id order (each its stored buffer as it is: a load copies it
//! back), the command records in key order, the search index's text parts (so a load does not
//! re-read every product's words: at a million products that took 3.6–4 s, decoding them well
//! under one), and the three global sort orders as positions in that product list (so a load
//! sorts nothing; category listings are the global ones filtered by category).

use std::sync::Arc;

use super::model::{Catalog, CommandRecord, Disabled, SortKey, listings};
use super::product::Product;
use super::search::SearchIndex;
use crate::engine::idmap::IdMap;
use crate::engine::retention::{LogClock, Records};
use crate::engine::snapshot::{DecodeError, Decoder, Encoder};

/// Threads a snapshot load decodes products on (the encoding writes this many chunks).
const DECODE_THREADS: usize = 2;

pub(super) fn encode(model: &Catalog, out: &mut Encoder) {
    let products: Vec<&Arc<Product>> = model.products.iter().map(|(_, p)| p).collect();
    let ids: Vec<u64> = products.iter().map(|p| p.id).collect();
    // In as many length-prefixed chunks as a load decodes in parallel.
    let per_chunk = products.len().div_ceil(DECODE_THREADS).max(1);
    out.len(products.chunks(per_chunk).len());
    for chunk in products.chunks(per_chunk) {
        let mut e = Encoder::default();
        e.len(chunk.len());
        for p in chunk {
            let (buf, wire_end) = p.parts();
            e.u64(p.id);
            e.i64(p.price_minor);
            e.bool(p.disabled);
            e.u32(wire_end);
            e.bytes(buf);
        }
        out.bytes(&e.buf);
    }
    out.i64(model.clock.0);
    out.len(model.commands.len());
    for (key, c) in model.commands.sorted() {
        out.str(key);
        out.u64(c.fingerprint);
        out.i64(c.offset);
        out.opt_i64(c.expires_at_ms);
    }
    out.bool(model.indexed);
    if model.indexed {
        out.blob(|out| model.search.encode(out));
        for key in SortKey::ALL {
            let order = model.all.by(key);
            out.len(order.len());
            for p in order.iter() {
                let at = ids.binary_search(&p.id).expect("a listed product is known");
                out.u32(at as u32);
            }
        }
    }
}

pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Catalog, DecodeError> {
    let chunks = (0..d.len(8)?)
        .map(|_| d.bytes())
        .collect::<Result<Vec<_>, _>>()?;
    let decoded: Vec<Result<Vec<Arc<Product>>, DecodeError>> = std::thread::scope(|s| {
        let rest: Vec<_> = chunks
            .iter()
            .skip(1)
            .map(|c| s.spawn(move || decode_products(c)))
            .collect();
        let first = chunks.first().map(|c| decode_products(c));
        first
            .into_iter()
            .chain(
                rest.into_iter()
                    .map(|h| h.join().expect("decoding does not panic")),
            )
            .collect()
    });
    let mut list: Vec<Arc<Product>> = Vec::new();
    for chunk in decoded {
        let chunk = chunk?;
        if let (Some(last), Some(next)) = (list.last(), chunk.first())
            && last.id >= next.id
        {
            return Err(DecodeError(format!("product id {} out of order", next.id)));
        }
        list.extend(chunk);
    }
    let clock = LogClock(d.i64()?);
    let count = d.len(8 + 8 + 8 + 1)?;
    let mut commands = Records::default();
    for _ in 0..count {
        let key = d.str()?;
        let record = CommandRecord {
            fingerprint: d.u64()?,
            offset: d.i64()?,
            outcome: (),
            expires_at_ms: d.opt_i64()?,
        };
        commands.insert(key, record);
    }
    let indexed = d.bool()?;
    let search = if indexed { Some(d.bytes()?) } else { None };
    // The product map and the search index are built on threads of their own while this one
    // builds the listings: at a million products each takes a good part of a start-up.
    let (products, listings, search) = std::thread::scope(|s| {
        let map = s.spawn(|| IdMap::from_sorted(list.iter().map(|p| (p.id, p.clone()))));
        let search = s.spawn(|| {
            search
                .map(|bytes| {
                    let mut d = Decoder::new(bytes);
                    let enabled = list.iter().filter(|p| !p.disabled).map(|p| &**p);
                    let index = SearchIndex::decode(&mut d, enabled)?;
                    d.finish().map(|()| index)
                })
                .transpose()
        });
        let listings = if indexed {
            orders(d, list.len()).map(|o| Some(listings(&list, o)))
        } else {
            Ok(None)
        };
        (
            map.join().expect("building a map does not panic"),
            listings,
            search
                .join()
                .expect("building the search index does not panic"),
        )
    });
    let mut model = Catalog {
        products,
        commands,
        clock,
        indexed,
        ..Catalog::default()
    };
    if let Some((all, categories)) = listings? {
        model.all = all;
        model.categories = categories;
    }
    model.search = search?.unwrap_or_default();
    if indexed {
        model.disabled = Disabled::build(list.iter().filter(|p| p.disabled));
    }
    Ok(model)
}

/// One chunk of products, in id order.
fn decode_products(bytes: &[u8]) -> Result<Vec<Arc<Product>>, DecodeError> {
    let mut d = Decoder::new(bytes);
    // id, price, disabled, view end, buffer length.
    let n = d.len(8 + 8 + 1 + 4 + 8)?;
    let mut list: Vec<Arc<Product>> = Vec::with_capacity(n);
    for _ in 0..n {
        let id = d.u64()?;
        if list.last().is_some_and(|p| p.id >= id) || id == 0 {
            return Err(DecodeError(format!("product id {id} out of order")));
        }
        let (price_minor, disabled, wire_end) = (d.i64()?, d.bool()?, d.u32()?);
        let product = Product::from_parts(id, price_minor, disabled, d.bytes()?, wire_end)
            .map_err(|e| DecodeError(e.to_string()))?;
        list.push(Arc::new(product));
    }
    d.finish()?;
    Ok(list)
}

/// The three sort orders of a snapshot: positions in its product list, in [`SortKey::ALL`]
/// order, each a permutation of the same positions.
fn orders(d: &mut Decoder<'_>, n: usize) -> Result<[Vec<u32>; 3], DecodeError> {
    let mut orders: [Vec<u32>; 3] = Default::default();
    for order in &mut orders {
        let len = d.len(4)?;
        *order = (0..len).map(|_| d.u32()).collect::<Result<_, _>>()?;
        if let Some(&at) = order.iter().find(|&&at| at as usize >= n) {
            return Err(DecodeError(format!(
                "listing position {at} of {n} products"
            )));
        }
    }
    // Each order lists the same products, each once (what `listings` relies on).
    let mut seen = vec![0u8; n];
    for (k, order) in orders.iter().enumerate() {
        for &at in order {
            if seen[at as usize] & (1 << k) != 0 {
                return Err(DecodeError(format!("position {at} listed twice")));
            }
            seen[at as usize] |= 1 << k;
        }
    }
    if seen.iter().any(|&s| s != 0 && s != 0b111) {
        return Err(DecodeError("listings of different products".into()));
    }
    Ok(orders)
}
