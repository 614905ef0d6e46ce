//! The search index: a part of the catalog model, changed by the same fold, per event.
//!
//! - **Terms.** A dictionary from term ([`super::text`]) to the enabled products holding it, one
//!   [`IdSet`] per field (title, category, description, long text), so ranking can tell where a
//!   word matched. The dictionary is an ordered map: a prefix is a range, and typo-tolerant lookup
//!   walks it in order, skipping every run of terms whose common start is already too far from the
//!   word (the same pruning a Levenshtein automaton over an FST does).
//! - **Pairs.** Each pair of adjacent terms in a title or category name, with the products
//!   holding it: "desk lamp" ranks a "Desk Lamp" above a lamp whose description mentions a desk.
//!   (Descriptions are left out: their pairs would double the index's size and a change's cost
//!   for a signal the "same field" rule already gives.)
//! - **Columns.** Each product's category and price by id, in blocks like the sets, so facet counts,
//!   the price range and price filters read an array, never the product map.
//!
//! Why our own and not a library: tantivy gives fuzzy and prefix queries but makes documents
//! visible in batched commits and renumbers them on merge, so neither per-event visibility nor a
//! model a reader can hold across changes comes for free; `fst` gives compact dictionaries with
//! Levenshtein and prefix automata but is immutable, so every product change would rebuild it.
//! The index here is persistent like the rest of the model (a publish shares it, a change copies
//! the few blocks it touches), keyed by product id (ties by id need no renumbering, and checkout's
//! in-stock set combines with it block by block), and deterministic: it is a function of the set
//! of enabled products, whatever order the events came in.
//!
//! One file past 600 lines because terms, pairs and columns change together for one product
//! (`update`), are built together (in parallel at start-up) and encoded together: split apart,
//! one event's change would be spread over three files that must stay in step.

use std::sync::Arc;

use foldhash::HashMap;

use imbl::{OrdMap, Vector};

use super::text::{stem, words};
use crate::engine::idset::{self, Builder, IdSet};
use crate::engine::snapshot::{DecodeError, Decoder, Encoder};

/// What the index reads of a product (the catalog's `Product`; kept as a trait so the index does
/// not depend on the model it is part of).
pub trait Searchable {
    fn id(&self) -> u64;
    /// Title, category name, description, long text: the fields, most important first.
    fn fields(&self) -> [&str; FIELDS];
    fn category_slug(&self) -> &str;
    fn price_minor(&self) -> i64;
}

/// Where a word matched, most important first.
pub const FIELDS: usize = 4;
pub const TITLE: usize = 0;
pub const CATEGORY: usize = 1;
pub const DESCRIPTION: usize = 2;
pub const LONG_TEXT: usize = 3;

/// The products holding one term, per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Term {
    pub fields: [IdSet; FIELDS],
}

impl Term {
    /// Products holding the term in some field (counted once per field: a cheap, deterministic
    /// measure of how common it is).
    pub fn weight(&self) -> u64 {
        self.fields.iter().map(IdSet::len).sum()
    }

    fn is_empty(&self) -> bool {
        self.fields.iter().all(IdSet::is_empty)
    }
}

/// Ids per column chunk: a price change copies one chunk (about 7 KB), not a block's worth.
pub const CHUNK: usize = 512;
const CHUNKS: usize = idset::BLOCK / CHUNK;

/// Category codes and prices of [`CHUNK`] consecutive ids, and the offsets of its enabled
/// products by price (so a price range over a dense result stops at the first and last hit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// By offset: a product's price and category side by side, so counting a facet and
    /// widening the price range of one product touch one cache line.
    pub entries: Box<[Entry; CHUNK]>,
    /// Offsets of enabled products, by (price, offset).
    pub by_price: Vec<u16>,
}

/// One product's columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    pub price: i64,
    /// 0: no enabled product; otherwise 1 + the category's code.
    pub category: u32,
}

impl Default for Chunk {
    fn default() -> Self {
        Chunk {
            entries: Box::new([Entry::default(); CHUNK]),
            by_price: Vec::new(),
        }
    }
}

impl Chunk {
    fn set(&mut self, at: usize, category: u32, price: i64) {
        if self.entries[at].category != 0 {
            let old = (self.entries[at].price, at as u16);
            if let Ok(i) = self
                .by_price
                .binary_search_by_key(&old, |&o| (self.entries[usize::from(o)].price, o))
            {
                self.by_price.remove(i);
            }
        }
        self.entries[at] = Entry {
            price: if category == 0 { 0 } else { price },
            category,
        };
        if category != 0 {
            let new = (price, at as u16);
            let i = self
                .by_price
                .binary_search_by_key(&new, |&o| (self.entries[usize::from(o)].price, o))
                .unwrap_or_else(|i| i);
            self.by_price.insert(i, at as u16);
        }
    }
}

/// The columns of one id block, in chunks shared between clones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    chunks: [Option<Arc<Chunk>>; CHUNKS],
}

impl Columns {
    pub fn category(&self, at: usize) -> u32 {
        self.chunks[at / CHUNK]
            .as_ref()
            .map_or(0, |c| c.entries[at % CHUNK].category)
    }

    pub fn price(&self, at: usize) -> i64 {
        self.chunks[at / CHUNK]
            .as_ref()
            .map_or(0, |c| c.entries[at % CHUNK].price)
    }

    /// Chunk `i` (ids `i * CHUNK ..` of the block), if any of its ids was ever enabled.
    pub fn chunk(&self, i: usize) -> Option<&Chunk> {
        self.chunks[i].as_deref()
    }

    fn set(&mut self, at: usize, category: u32, price: i64) {
        let chunk = self.chunks[at / CHUNK].get_or_insert_with(Default::default);
        Arc::make_mut(chunk).set(at % CHUNK, category, price);
    }
}

/// The search index; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    terms: OrdMap<Arc<str>, Arc<Term>>,
    pairs: OrdMap<Arc<str>, IdSet>,
    enabled: IdSet,
    /// Enabled products per category slug (the category filter and facet counts).
    categories: OrdMap<Arc<str>, IdSet>,
    columns: OrdMap<u64, Arc<Columns>>,
    /// Category slug → code, and code → slug. Codes are never reused, so they depend on event
    /// order; nothing a query answers does (answers name slugs).
    codes: OrdMap<Arc<str>, u32>,
    slugs: Vector<Arc<str>>,
}

/// What one product puts into the index.
#[derive(Debug, Default, PartialEq, Eq)]
struct Entries {
    /// (term, field), sorted and without repeats.
    terms: Vec<(String, usize)>,
    /// "a b" for adjacent terms, sorted and without repeats.
    pairs: Vec<String>,
}

/// The entries of the fields `wanted` says (all of them for a product coming or going; only the
/// changed ones for an edit, which the others' entries would cancel out of the difference).
fn entries(p: &impl Searchable, wanted: [bool; FIELDS]) -> Entries {
    let mut e = Entries::default();
    for (field, text) in p.fields().into_iter().enumerate() {
        if !wanted[field] {
            continue;
        }
        let mut previous: Option<String> = None;
        words(text, |_, _, folded| {
            let term = stem(folded).into_owned();
            if field <= CATEGORY {
                if let Some(prev) = &previous {
                    e.pairs.push(format!("{prev} {term}"));
                }
                previous = Some(term.clone());
            }
            e.terms.push((term, field));
        });
    }
    e.terms.sort_unstable();
    e.terms.dedup();
    e.pairs.sort_unstable();
    e.pairs.dedup();
    e
}

impl SearchIndex {
    pub fn term(&self, term: &str) -> Option<&Term> {
        self.terms.get(term).map(|t| &**t)
    }

    pub fn terms(&self) -> &OrdMap<Arc<str>, Arc<Term>> {
        &self.terms
    }

    pub fn pair(&self, a: &str, b: &str) -> Option<&IdSet> {
        self.pairs.get(format!("{a} {b}").as_str())
    }

    /// Every enabled product.
    pub fn enabled(&self) -> &IdSet {
        &self.enabled
    }

    /// Enabled products by category slug.
    pub fn categories(&self) -> &OrdMap<Arc<str>, IdSet> {
        &self.categories
    }

    /// The columns of block `b`.
    pub fn columns(&self, b: u64) -> Option<&Columns> {
        self.columns.get(&b).map(|c| &**c)
    }

    /// The slug of a category code from the columns (1-based).
    pub fn slug(&self, code: u32) -> Option<&str> {
        code.checked_sub(1)
            .and_then(|c| self.slugs.get(c as usize))
            .map(|s| &**s)
    }

    /// The column code of a category slug.
    pub fn code(&self, slug: &str) -> Option<u32> {
        self.codes.get(slug).map(|c| c + 1)
    }

    /// Number of category codes handed out (the size of a facet counter).
    pub fn code_count(&self) -> usize {
        self.slugs.len() + 1
    }

    fn code_for(&mut self, slug: &str) -> u32 {
        if let Some(c) = self.codes.get(slug) {
            return c + 1;
        }
        let c = self.slugs.len() as u32;
        self.codes.insert(slug.into(), c);
        self.slugs.push_back(slug.into());
        c + 1
    }

    /// Takes a product change into account: `old` and `new` are the product before and after,
    /// each `None` when it was not (or is no longer) enabled. Only what differs is touched.
    pub fn update<P: Searchable>(&mut self, old: Option<&P>, new: Option<&P>) {
        let same_text = |a: &P, b: &P| a.fields() == b.fields();
        match (old, new) {
            (None, None) => {}
            (Some(o), Some(n)) if same_text(o, n) => {}
            _ => {
                let wanted: [bool; FIELDS] = match (old, new) {
                    (Some(o), Some(n)) => {
                        let (a, b) = (o.fields(), n.fields());
                        let mut wanted: [bool; FIELDS] = std::array::from_fn(|f| a[f] != b[f]);
                        // A pair may come from the title and the category both: they go together.
                        if wanted[TITLE] || wanted[CATEGORY] {
                            (wanted[TITLE], wanted[CATEGORY]) = (true, true);
                        }
                        wanted
                    }
                    _ => [true; FIELDS],
                };
                let before = old.map(|p| entries(p, wanted)).unwrap_or_default();
                let after = new.map(|p| entries(p, wanted)).unwrap_or_default();
                let id = new.or(old).expect("one of them").id();
                for (term, field) in difference(&before.terms, &after.terms) {
                    self.remove_term(term, *field, id);
                }
                for (term, field) in difference(&after.terms, &before.terms) {
                    // Looked up before inserting: a new key is an allocation.
                    match self.terms.get_mut(term.as_str()) {
                        Some(t) => {
                            Arc::make_mut(t).fields[*field].insert(id);
                        }
                        None => {
                            let mut t = Term::default();
                            t.fields[*field].insert(id);
                            self.terms.insert(term.as_str().into(), Arc::new(t));
                        }
                    }
                }
                for pair in difference(&before.pairs, &after.pairs) {
                    if let Some(set) = self.pairs.get_mut(pair.as_str()) {
                        set.remove(id);
                        if set.is_empty() {
                            self.pairs.remove(pair.as_str());
                        }
                    }
                }
                for pair in difference(&after.pairs, &before.pairs) {
                    match self.pairs.get_mut(pair.as_str()) {
                        Some(set) => {
                            set.insert(id);
                        }
                        None => {
                            let mut set = IdSet::default();
                            set.insert(id);
                            self.pairs.insert(pair.as_str().into(), set);
                        }
                    }
                }
            }
        }
        if let Some(o) = old
            && new.is_none_or(|n| n.category_slug() != o.category_slug())
            && let Some(set) = self.categories.get_mut(o.category_slug())
        {
            set.remove(o.id());
            if set.is_empty() {
                self.categories.remove(o.category_slug());
            }
        }
        match new {
            Some(n) => {
                // Each part is looked at before it is touched: after a publish, a mutable
                // lookup copies the path to it even when nothing changes.
                self.enabled.insert(n.id());
                match self.categories.get(n.category_slug()) {
                    Some(set) if set.contains(n.id()) => {}
                    Some(_) => {
                        let set = self.categories.get_mut(n.category_slug()).expect("found");
                        set.insert(n.id());
                    }
                    None => {
                        let mut set = IdSet::default();
                        set.insert(n.id());
                        self.categories.insert(n.category_slug().into(), set);
                    }
                }
                let code = self.code_for(n.category_slug());
                let (b, at) = idset::split(n.id());
                let current = self.columns.get(&b).map(|c| (c.category(at), c.price(at)));
                if current != Some((code, n.price_minor())) {
                    let cols = self.columns.entry(b).or_default();
                    Arc::make_mut(cols).set(at, code, n.price_minor());
                }
            }
            None => {
                if let Some(o) = old {
                    self.enabled.remove(o.id());
                    let (b, at) = idset::split(o.id());
                    if let Some(cols) = self.columns.get_mut(&b) {
                        Arc::make_mut(cols).set(at, 0, 0);
                    }
                }
            }
        }
    }

    fn remove_term(&mut self, term: &str, field: usize, id: u64) {
        if let Some(t) = self.terms.get_mut(term) {
            let t = Arc::make_mut(t);
            t.fields[field].remove(id);
            if t.is_empty() {
                self.terms.remove(term);
            }
        }
    }

    /// The index of these enabled products, given in ascending id order (a start-up build: no
    /// copy-on-write, each set appended to in order, no text copied but each new term once).
    pub fn build<'a, P: Searchable + 'a>(products: impl IntoIterator<Item = &'a P>) -> SearchIndex {
        let products: Vec<&P> = products.into_iter().collect();
        let mut index = SearchIndex::default();
        index.add_columns(products.iter().copied());
        (index.terms, index.pairs) = text_sets(products.iter().copied());
        index
    }

    /// [`SearchIndex::build`] with the words read on `threads` threads (the start-up's build:
    /// the same index).
    pub fn build_parallel<'a, P: Searchable + Sync + 'a>(
        products: impl IntoIterator<Item = &'a P>,
        threads: usize,
    ) -> SearchIndex {
        let products: Vec<&P> = products.into_iter().collect();
        let mut index = SearchIndex::default();
        let (terms, pairs) = std::thread::scope(|s| {
            let text = s.spawn(|| text_sets_parallel(&products, threads));
            index.add_columns(products.iter().copied());
            text.join().expect("building does not panic")
        });
        (index.terms, index.pairs) = (terms, pairs);
        index
    }

    /// The enabled set, the categories and the columns of these enabled products, given in
    /// ascending id order, into an index that has none yet.
    fn add_columns<'a, P: Searchable + 'a>(&mut self, products: impl IntoIterator<Item = &'a P>) {
        let mut categories: HashMap<Box<str>, Builder> = HashMap::default();
        let mut enabled = Builder::default();
        let mut columns: Vec<(u64, Columns)> = Vec::new();
        for p in products {
            enabled.push(p.id());
            match categories.get_mut(p.category_slug()) {
                Some(s) => s.push(p.id()),
                None => categories
                    .entry(p.category_slug().into())
                    .or_default()
                    .push(p.id()),
            }
            let code = self.code_for(p.category_slug());
            let (b, at) = idset::split(p.id());
            if columns.last().is_none_or(|(last, _)| *last != b) {
                columns.push((b, Columns::default()));
            }
            columns
                .last_mut()
                .expect("pushed")
                .1
                .set(at, code, p.price_minor());
        }
        self.categories = categories
            .into_iter()
            .map(|(slug, set)| (Arc::from(slug), set.build()))
            .collect();
        self.enabled = enabled.build();
        self.columns = columns.into_iter().map(|(b, c)| (b, Arc::new(c))).collect();
    }

    /// Writes the index for a snapshot: the parts made from text (the costly ones to rebuild:
    /// every product's words), as two blobs a load decodes side by side. The enabled set,
    /// categories and columns are rebuilt from the products (a pass over them), with category
    /// codes in id order as a replay gives them: codes follow event order, so storing them would
    /// make two replicas' snapshots of one log differ (answers never depend on them).
    pub fn encode(&self, out: &mut Encoder) {
        out.blob(|out| {
            out.len(self.terms.len());
            for (term, t) in &self.terms {
                out.str(term);
                t.fields.iter().for_each(|f| f.encode(out));
            }
        });
        out.blob(|out| {
            out.len(self.pairs.len());
            for (pair, set) in &self.pairs {
                out.str(pair);
                set.encode(out);
            }
        });
    }

    /// Reads what [`SearchIndex::encode`] wrote, for these enabled products in ascending id order
    /// (the ones the index was written with).
    pub fn decode<'a, P: Searchable + 'a>(
        d: &mut Decoder<'_>,
        products: impl IntoIterator<Item = &'a P>,
    ) -> Result<SearchIndex, DecodeError> {
        let mut index = SearchIndex::default();
        let (terms, pairs) = (d.bytes()?, d.bytes()?);
        let (terms, pairs) = std::thread::scope(|s| {
            let terms = s.spawn(|| decode_terms(terms));
            let pairs = s.spawn(|| decode_pairs(pairs));
            index.add_columns(products);
            (
                terms.join().expect("decoding does not panic"),
                pairs.join().expect("decoding does not panic"),
            )
        });
        (index.terms, index.pairs) = (terms?, pairs?);
        Ok(index)
    }

    /// Bytes the index allocates, by part: (terms with their sets, pairs, columns). The maps'
    /// nodes are estimated at a key, a value and a pointer's worth of spare room per entry.
    pub fn heap_bytes(&self) -> (usize, usize, usize) {
        let terms = self
            .terms
            .iter()
            .map(|(k, t)| {
                k.len()
                    + 16
                    + 16
                    + 16
                    + std::mem::size_of::<Term>()
                    + t.fields.iter().map(IdSet::heap_bytes).sum::<usize>()
            })
            .sum::<usize>()
            + self.enabled.heap_bytes();
        let pairs = self
            .pairs
            .iter()
            .map(|(k, s)| k.len() + 16 + std::mem::size_of::<IdSet>() + 16 + s.heap_bytes())
            .sum();
        let columns = self
            .columns
            .values()
            .map(|c| {
                48 + 32
                    + (0..CHUNKS)
                        .filter_map(|i| c.chunk(i))
                        .map(|ch| CHUNK * 16 + ch.by_price.capacity() * 2 + 64)
                        .sum::<usize>()
            })
            .sum::<usize>()
            + self
                .categories
                .iter()
                .map(|(k, s)| k.len() + 48 + s.heap_bytes())
                .sum::<usize>();
        (terms, pairs, columns)
    }

    /// Everything a query can observe, as plain values: each term's products per field, each
    /// pair's products, and each enabled product's category slug and price (codes are internal).
    pub fn contents(&self) -> Contents {
        let terms = self
            .terms
            .iter()
            .flat_map(|(k, t)| {
                t.fields
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.is_empty())
                    .map(move |(f, s)| (k.to_string(), f, s.iter().collect()))
            })
            .collect();
        let pairs = self
            .pairs
            .iter()
            .map(|(k, s)| (k.to_string(), s.iter().collect()))
            .collect();
        let categories = self
            .categories
            .iter()
            .map(|(k, s)| (k.to_string(), s.iter().collect()))
            .collect();
        let products = self
            .enabled
            .iter()
            .map(|id| {
                let (b, at) = idset::split(id);
                let c = self.columns(b).expect("an enabled product has columns");
                (
                    id,
                    self.slug(c.category(at)).unwrap_or("").to_owned(),
                    c.price(at),
                )
            })
            .collect();
        Contents {
            terms,
            pairs,
            categories,
            products,
        }
    }
}

/// See [`SearchIndex::contents`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub terms: Vec<(String, usize, Vec<u64>)>,
    pub pairs: Vec<(String, Vec<u64>)>,
    pub categories: Vec<(String, Vec<u64>)>,
    pub products: Vec<(u64, String, i64)>,
}

type Terms = OrdMap<Arc<str>, Arc<Term>>;
type Pairs = OrdMap<Arc<str>, IdSet>;

/// The terms and pairs of these enabled products, given in ascending id order.
fn text_sets<'a, P: Searchable + 'a>(products: impl IntoIterator<Item = &'a P>) -> (Terms, Pairs) {
    finish(text_builders(products))
}

type TermBuilders = HashMap<Box<str>, [Builder; FIELDS]>;
type PairBuilders = HashMap<Box<str>, Builder>;

/// [`text_sets`] on `threads` threads: each takes a run of whole id blocks, and their sets are
/// joined block run after block run.
fn text_sets_parallel<P: Searchable + Sync>(products: &[&P], threads: usize) -> (Terms, Pairs) {
    let per = products.len().div_ceil(threads.max(1)).max(1);
    // Split points moved forward to the next id block, so no block is split between threads.
    let mut cuts = vec![0];
    while let Some(&last) = cuts.last() {
        let mut at = (last + per).min(products.len());
        while at < products.len()
            && at > 0
            && idset::split(products[at].id()).0 == idset::split(products[at - 1].id()).0
        {
            at += 1;
        }
        if at == last {
            break;
        }
        cuts.push(at);
        if at == products.len() {
            break;
        }
    }
    let parts: Vec<(TermBuilders, PairBuilders)> = std::thread::scope(|s| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let part = &products[w[0]..w[1]];
                s.spawn(move || text_builders(part.iter().copied()))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("building does not panic"))
            .collect()
    });
    let mut parts = parts.into_iter();
    let (mut terms, mut pairs) = parts.next().unwrap_or_default();
    for (more_terms, more_pairs) in parts {
        for (term, fields) in more_terms {
            let into = terms.entry(term).or_default();
            for (a, b) in into.iter_mut().zip(fields) {
                a.append(b);
            }
        }
        for (pair, set) in more_pairs {
            pairs.entry(pair).or_default().append(set);
        }
    }
    finish((terms, pairs))
}

fn finish((terms, pairs): (TermBuilders, PairBuilders)) -> (Terms, Pairs) {
    let terms = terms
        .into_iter()
        .map(|(term, fields)| {
            let fields = fields.map(Builder::build);
            (Arc::from(term), Arc::new(Term { fields }))
        })
        .collect();
    let pairs = pairs
        .into_iter()
        .map(|(pair, set)| (Arc::from(pair), set.build()))
        .collect();
    (terms, pairs)
}

fn text_builders<'a, P: Searchable + 'a>(
    products: impl IntoIterator<Item = &'a P>,
) -> (TermBuilders, PairBuilders) {
    let mut terms: TermBuilders = HashMap::default();
    let mut pairs: PairBuilders = HashMap::default();
    let (mut previous, mut pair) = (String::new(), String::new());
    for p in products {
        for (field, text) in p.fields().into_iter().enumerate() {
            previous.clear();
            words(text, |_, _, folded| {
                let term = stem(folded);
                match terms.get_mut(&*term) {
                    Some(t) => t[field].push(p.id()),
                    None => terms.entry(term.as_ref().into()).or_default()[field].push(p.id()),
                }
                if field <= CATEGORY {
                    if !previous.is_empty() {
                        pair.clear();
                        pair.push_str(&previous);
                        pair.push(' ');
                        pair.push_str(&term);
                        match pairs.get_mut(pair.as_str()) {
                            Some(s) => s.push(p.id()),
                            None => pairs.entry(pair.as_str().into()).or_default().push(p.id()),
                        }
                    }
                    previous.clear();
                    previous.push_str(&term);
                }
            });
        }
    }
    (terms, pairs)
}

/// Keys of a snapshot's map: ascending, no repeats (so the map is the one written).
fn next_key<'a>(d: &mut Decoder<'a>, last: &mut Option<&'a str>) -> Result<&'a str, DecodeError> {
    let key = d.str()?;
    if last.is_some_and(|l| l >= key) {
        return Err(DecodeError(format!("search key {key:?} out of order")));
    }
    *last = Some(key);
    Ok(key)
}

fn decode_terms(bytes: &[u8]) -> Result<Terms, DecodeError> {
    let mut d = Decoder::new(bytes);
    let mut last = None;
    let n = d.len(8 + FIELDS * 8)?;
    let mut terms = Vec::with_capacity(n);
    for _ in 0..n {
        let term = next_key(&mut d, &mut last)?;
        let mut t = Term::default();
        for f in &mut t.fields {
            *f = IdSet::decode(&mut d)?;
        }
        if t.is_empty() {
            return Err(DecodeError(format!("term {term:?} without products")));
        }
        terms.push((Arc::from(term), Arc::new(t)));
    }
    d.finish()?;
    Ok(terms.into_iter().collect())
}

fn decode_pairs(bytes: &[u8]) -> Result<Pairs, DecodeError> {
    let mut d = Decoder::new(bytes);
    let mut last = None;
    let n = d.len(8 + 8)?;
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let pair = next_key(&mut d, &mut last)?;
        let set = IdSet::decode(&mut d)?;
        if set.is_empty() {
            return Err(DecodeError(format!("pair {pair:?} without products")));
        }
        pairs.push((Arc::from(pair), set));
    }
    d.finish()?;
    Ok(pairs.into_iter().collect())
}

/// The items of sorted `a` that sorted `b` lacks.
fn difference<'a, T: Ord>(a: &'a [T], b: &'a [T]) -> impl Iterator<Item = &'a T> {
    a.iter().filter(move |x| b.binary_search(x).is_err())
}
