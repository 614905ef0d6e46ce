//! Answering a search from the index: the query's words expanded to terms (exact, with typos,
//! as a prefix), the products holding every word found block by block, ranked, counted by
//! facet, and the first page selected.
//!
//! - **Expansion.** Each word's term, the terms within its typo budget (none under
//!   `typo_one_from` characters, one from it, two from `typo_two_from`) and, for the last word
//!   while the shopper is still typing, every term it starts. Each word keeps at most
//!   [`MAX_VARIANTS`], fewest typos first, then the most common; a dictionary walk visits at most
//!   [`MAX_VISITS`] terms. That bounds every query's work by its terms' posting lists.
//! - **Matching.** Words are AND-ed. When nothing matches them all, the last word is dropped and the
//!   rest tried again (the result says how many words it matched), never a silent empty page.
//! - **Ranking** (lower is better, compared in this order, ties by product id): the sum of each
//!   word's fewest typos; proximity (0: each pair of consecutive words adjacent in a title,
//!   category or description; 1: all words in one field; 2: apart); attribute (the least
//!   important field any word needed: title, category, description, long text); exactness (1
//!   when a word matched only as a prefix). The first page comes from a bounded heap: no sort of
//!   the whole result.
//! - **Facets** follow the query: category counts with the price filter applied but not the
//!   category filter (so the shopper can switch category), the price range with the category
//!   filter applied but not the price filter.

use std::collections::BinaryHeap;
use std::ops::Bound;

use super::index::{FIELDS, SearchIndex, Term};
use super::text::{self, prefix_forms, stem, typos_allowed, walk};
use crate::catalog::fold::{Catalog, SortKey, compare};
use crate::engine::idset::{self, Cursor, IdSet, Mask, WORDS, for_each_bit};

/// Terms one word may stand for.
pub const MAX_VARIANTS: usize = 48;
/// Dictionary terms one word's typo or prefix lookup may visit.
pub const MAX_VISITS: usize = 20_000;
/// Words of a query (the rest is ignored).
pub const MAX_WORDS: usize = 8;
/// Variants per word tried for the adjacency of a pair of words.
const PAIR_VARIANTS: usize = 8;

/// How typo-tolerant a search is (configurable; Meilisearch's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typos {
    pub one_from: usize,
    pub two_from: usize,
}

impl Default for Typos {
    fn default() -> Self {
        Typos {
            one_from: 5,
            two_from: 9,
        }
    }
}

/// A term a word stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub term: Box<str>,
    pub typos: u8,
    /// Matched as the start of a longer term (the last word while typing).
    pub prefix: bool,
}

/// One word of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordPlan {
    /// As typed, folded.
    pub folded: String,
    /// The shopper may still be typing it (the last word, with no space after it).
    pub is_prefix: bool,
    pub variants: Vec<Variant>,
}

impl WordPlan {
    /// The typo-corrected term the word stands for, when it matched nothing as typed.
    pub fn correction(&self) -> Option<&Variant> {
        if self.variants.iter().any(|v| v.typos == 0) {
            None
        } else {
            self.variants.first()
        }
    }
}

/// The words of a query and the terms each stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub words: Vec<WordPlan>,
    /// Dictionary terms visited while planning.
    pub visits: usize,
}

impl Plan {
    /// Blocks the query's sets hold: what answering it costs at most, known before it runs.
    pub fn estimated_work(&self, index: &SearchIndex) -> u64 {
        self.words
            .iter()
            .flat_map(|w| &w.variants)
            .filter_map(|v| index.term(&v.term))
            .flat_map(|t| t.fields.iter().map(IdSet::block_count))
            .sum()
    }
}

/// Splits and expands a search text.
pub fn plan(index: &SearchIndex, text: &str, typos: Typos) -> Plan {
    let mut words = text::word_list(text);
    words.truncate(MAX_WORDS);
    let typing = text.chars().last().is_some_and(char::is_alphanumeric);
    let last = words.len().saturating_sub(1);
    let mut plan = Plan::default();
    for (i, w) in words.into_iter().enumerate() {
        let is_prefix = typing && i == last;
        let variants = expand(index, &w.folded, is_prefix, typos, &mut plan.visits);
        plan.words.push(WordPlan {
            folded: w.folded,
            is_prefix,
            variants,
        });
    }
    plan
}

fn expand(
    index: &SearchIndex,
    folded: &str,
    is_prefix: bool,
    typos: Typos,
    visits: &mut usize,
) -> Vec<Variant> {
    let terms = index.terms();
    let exact = stem(folded).into_owned();
    // (typos, prefix, weight) for ordering.
    let mut found: Vec<(Variant, u64)> = Vec::new();
    if let Some(t) = terms.get(exact.as_str()) {
        found.push((variant(&exact, 0, false), t.weight()));
    }
    let allowed = typos_allowed(folded.chars().count(), typos.one_from, typos.two_from);
    if allowed > 0 {
        let targets: Vec<Vec<char>> = if exact == folded {
            vec![exact.chars().collect()]
        } else {
            vec![exact.chars().collect(), folded.chars().collect()]
        };
        fuzzy(index, &targets, allowed, visits, |term, d, t| {
            if d > 0 {
                found.push((variant(term, d, false), t.weight()));
            }
        });
    }
    if is_prefix {
        // The most common terms first: a one-letter prefix may start thousands of terms.
        let mut starts: Vec<(Variant, u64)> = Vec::new();
        for form in prefix_forms(folded) {
            for (term, t) in
                terms.range::<_, str>((Bound::Included(form.as_str()), Bound::Unbounded))
            {
                if !term.starts_with(form.as_str()) || *visits >= MAX_VISITS {
                    break;
                }
                *visits += 1;
                if **term != *exact {
                    starts.push((variant(term, 0, true), t.weight()));
                }
            }
        }
        found.extend(starts);
    }
    found.sort_by(|(a, wa), (b, wb)| {
        (a.typos, a.prefix, std::cmp::Reverse(wa), &a.term).cmp(&(
            b.typos,
            b.prefix,
            std::cmp::Reverse(wb),
            &b.term,
        ))
    });
    let mut seen = std::collections::HashSet::new();
    found
        .into_iter()
        .map(|(v, _)| v)
        .filter(|v| seen.insert(v.term.clone()))
        .take(MAX_VARIANTS)
        .collect()
}

fn variant(term: &str, typos: u8, prefix: bool) -> Variant {
    Variant {
        term: term.into(),
        typos,
        prefix,
    }
}

/// Calls `f(term, distance, sets)` for each dictionary term within `max` edits of one of
/// `targets`, in term order. The walk skips every run of terms that share a start already more
/// than `max` edits from all targets.
fn fuzzy(
    index: &SearchIndex,
    targets: &[Vec<char>],
    max: u8,
    visits: &mut usize,
    mut f: impl FnMut(&str, u8, &Term),
) {
    let terms = index.terms();
    let mut from: Bound<String> = Bound::Unbounded;
    let mut key_chars: Vec<char> = Vec::with_capacity(32);
    while *visits < MAX_VISITS {
        let Some((key, t)) = terms
            .range::<_, str>((from.as_ref().map(String::as_str), Bound::Unbounded))
            .next()
        else {
            break;
        };
        *visits += 1;
        key_chars.clear();
        key_chars.extend(key.chars());
        let mut best: Option<u8> = None;
        // The longest start of the key still within reach of some target.
        let mut alive = 0;
        for target in targets {
            let (d, reach) = walk(&key_chars, target, max);
            best = match (best, d) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            alive = alive.max(reach);
        }
        if let Some(d) = best {
            f(key, d, t);
        }
        from = if alive < key_chars.len() {
            // Every term starting with the dead start is out of reach too.
            let mut skip: String = key_chars[..=alive].iter().collect();
            skip.push(char::MAX);
            Bound::Excluded(skip)
        } else {
            Bound::Excluded(key.to_string())
        };
    }
}

/// How the results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Relevance,
    By(SortKey, bool),
}

/// What a shopper asks besides the words.
#[derive(Debug, Clone, Copy)]
pub struct Filters<'a> {
    pub category: Option<&'a str>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Only products in this set (checkout's products in stock).
    pub only: Option<&'a IdSet>,
}

/// One search's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The first `limit` products in order.
    pub ids: Vec<u64>,
    pub total: u64,
    /// The words the results match: all of the plan's, or fewer after the fallback.
    pub words_matched: usize,
    /// Products per category slug (with every filter but the category one), by slug.
    pub categories: Vec<(String, u64)>,
    /// Lowest and highest price (with every filter but the price ones).
    pub price_range: Option<(i64, i64)>,
    /// Blocks and bit runs processed.
    pub work: u64,
}

/// Searches: the plan's words AND-ed, dropping words from the right while nothing matches.
pub fn search(
    catalog: &Catalog,
    plan: &Plan,
    filters: &Filters,
    order: Order,
    limit: usize,
) -> Found {
    let mut words = plan.words.len();
    let mut work = 0;
    loop {
        let mut found = run(catalog, &plan.words[..words], filters, order, limit);
        work += found.work;
        found.work = work;
        if found.total > 0 || words <= 1 {
            return found;
        }
        words -= 1;
    }
}

/// Per word, per block: where its terms are.
#[derive(Clone)]
struct WordMasks {
    field: [Mask; FIELDS],
    /// By typos (0, 1, 2), all fields.
    level: [Mask; 3],
    /// Non-prefix terms, all fields.
    whole: Mask,
    any: Mask,
}

impl Default for WordMasks {
    fn default() -> Self {
        WordMasks {
            field: [[0; WORDS]; FIELDS],
            level: [[0; WORDS]; 3],
            whole: [0; WORDS],
            any: [0; WORDS],
        }
    }
}

struct WordSets<'a> {
    /// Per variant: its typos, whether a prefix, a cursor per field.
    variants: Vec<(u8, bool, Vec<Cursor<'a>>)>,
}

fn run(
    catalog: &Catalog,
    words: &[WordPlan],
    filters: &Filters,
    order: Order,
    limit: usize,
) -> Found {
    let index = catalog.search_index();
    let mut found = Found {
        ids: vec![],
        total: 0,
        words_matched: words.len(),
        categories: vec![],
        price_range: None,
        work: 0,
    };
    let mut sets: Vec<WordSets> = Vec::with_capacity(words.len());
    for w in words {
        let variants: Vec<_> = w
            .variants
            .iter()
            .filter_map(|v| index.term(&v.term).map(|t| (v.typos, v.prefix, t)))
            .collect();
        if variants.is_empty() {
            return found;
        }
        sets.push(WordSets {
            variants: variants
                .into_iter()
                .map(|(d, p, t)| (d, p, t.fields.iter().map(IdSet::cursor).collect()))
                .collect(),
        });
    }
    // Blocks to visit: those of the rarest word (every result holds it), or of every enabled
    // product when there are no words.
    let blocks: Vec<u64> = match words.iter().enumerate().min_by_key(|(_, w)| {
        w.variants
            .iter()
            .filter_map(|v| index.term(&v.term))
            .map(Term::weight)
            .sum::<u64>()
    }) {
        Some((i, w)) => {
            let mut b: Vec<u64> = w
                .variants
                .iter()
                .filter_map(|v| index.term(&v.term))
                .flat_map(|t| t.fields.iter().flat_map(IdSet::block_numbers))
                .collect();
            let _ = i;
            b.sort_unstable();
            b.dedup();
            b
        }
        None => index.enabled().block_numbers().collect(),
    };
    // Adjacency of consecutive words: the pair sets of their first variants.
    let mut pairs: Vec<Vec<Cursor>> = Vec::new();
    if order == Order::Relevance {
        for pair in words.windows(2) {
            let mut cursors = Vec::new();
            for a in pair[0].variants.iter().take(PAIR_VARIANTS) {
                for b in pair[1].variants.iter().take(PAIR_VARIANTS) {
                    if let Some(set) = index.pair(&a.term, &b.term) {
                        cursors.push(set.cursor());
                    }
                }
            }
            pairs.push(cursors);
        }
    }
    let category = filters
        .category
        .map(|slug| index.code(slug).unwrap_or(u32::MAX));
    let (lo, hi) = (
        filters.min_price.unwrap_or(i64::MIN),
        filters.max_price.unwrap_or(i64::MAX),
    );
    let mut only = filters.only.map(IdSet::cursor);
    let mut enabled = index.enabled().cursor();
    let mut counts = vec![0u64; index.code_count()];
    let mut range: Option<(i64, i64)> = None;
    let mut heap: BinaryHeap<(u32, u64)> = BinaryHeap::with_capacity(limit + 1);
    let mut results: Vec<(u64, Box<Mask>)> = Vec::new();
    let mut masks: Vec<WordMasks> = vec![WordMasks::default(); words.len()];
    let mut adjacent: Vec<Mask> = vec![[0; WORDS]; pairs.len()];
    let mut work = 0u64;

    for &b in &blocks {
        let mut c: Mask = [0; WORDS];
        if words.is_empty() {
            enabled.or_block(b, &mut c);
        } else {
            let mut first = true;
            for (w, set) in sets.iter_mut().enumerate() {
                let m = &mut masks[w];
                *m = WordMasks::default();
                for (typos, prefix, cursors) in set.variants.iter_mut() {
                    let mut v: Mask = [0; WORDS];
                    for (f, cursor) in cursors.iter_mut().enumerate() {
                        if cursor.or_block(b, &mut m.field[f]) {
                            cursor.or_block(b, &mut v);
                            work += 1;
                        }
                    }
                    or(&mut m.level[usize::from(*typos).min(2)], &v);
                    if !*prefix {
                        or(&mut m.whole, &v);
                    }
                    or(&mut m.any, &v);
                }
                if first {
                    c = m.any;
                    first = false;
                } else {
                    and(&mut c, &m.any);
                }
                if c.iter().all(|&x| x == 0) {
                    break;
                }
            }
        }
        if let Some(only) = only.as_mut() {
            let mut o: Mask = [0; WORDS];
            only.or_block(b, &mut o);
            and(&mut c, &o);
        }
        if c.iter().all(|&x| x == 0) {
            continue;
        }
        work += 1;
        let Some(columns) = index.columns(b) else {
            continue;
        };
        for (p, cursors) in pairs.iter_mut().enumerate() {
            adjacent[p] = [0; WORDS];
            for cursor in cursors.iter_mut() {
                cursor.or_block(b, &mut adjacent[p]);
            }
        }
        let mut block_results: Mask = [0; WORDS];
        let mut any_result = false;
        for_each_bit(&c, |at| {
            let code = columns.category[at];
            let price = columns.price[at];
            let in_price = (lo..=hi).contains(&price);
            let in_category = category.is_none_or(|want| want == code);
            if in_price {
                counts[code as usize] += 1;
            }
            if in_category {
                range = Some(match range {
                    Some((a, z)) => (a.min(price), z.max(price)),
                    None => (price, price),
                });
            }
            if !(in_price && in_category) {
                return;
            }
            found.total += 1;
            let id = idset::join(b, at);
            if order == Order::Relevance {
                // Later ids lose ties: only a strictly better key can enter a full heap.
                if heap.len() == limit && heap.peek().is_none_or(|&(k, _)| k == 0) {
                    return;
                }
                let key = rank(&masks, &adjacent, at);
                if heap.len() < limit {
                    heap.push((key, id));
                } else if heap.peek().is_some_and(|&(k, _)| key < k) {
                    heap.pop();
                    heap.push((key, id));
                }
            } else {
                block_results[at / 64] |= 1 << (at % 64);
                any_result = true;
            }
        });
        if any_result {
            results.push((b, Box::new(block_results)));
        }
    }
    found.work = work;
    found.categories = counts
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .filter_map(|(code, &n)| index.slug(code as u32).map(|s| (s.to_owned(), n)))
        .collect();
    found.categories.sort();
    found.price_range = range;
    found.ids = match order {
        Order::Relevance => {
            let mut v = heap.into_vec();
            v.sort_unstable();
            v.into_iter().map(|(_, id)| id).collect()
        }
        Order::By(key, descending) => select(
            catalog,
            &results,
            found.total,
            key,
            descending,
            limit,
            filters,
        ),
    };
    found
}

/// The rank key of the product at `at` (see the module documentation); lower is better.
fn rank(masks: &[WordMasks], adjacent: &[Mask], at: usize) -> u32 {
    let (w, bit) = (at / 64, 1u64 << (at % 64));
    let has = |m: &Mask| m[w] & bit != 0;
    let mut typos = 0u32;
    let mut attribute = 0u32;
    let mut exact = 0u32;
    for m in masks {
        typos += m.level.iter().position(has).unwrap_or(2) as u32;
        attribute = attribute.max(m.field.iter().position(has).unwrap_or(FIELDS - 1) as u32);
        if !has(&m.whole) {
            exact = 1;
        }
    }
    let proximity = if masks.len() < 2 || adjacent.iter().all(has) {
        0
    } else if (0..FIELDS).any(|f| masks.iter().all(|m| has(&m.field[f]))) {
        1
    } else {
        2
    };
    (typos << 8) | (proximity << 6) | (attribute << 2) | exact
}

fn or(a: &mut Mask, b: &Mask) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x |= y);
}

fn and(a: &mut Mask, b: &Mask) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x &= y);
}

/// The first `limit` results in a sort order: ids straight from the masks, prices from the
/// columns through a bounded heap, names from the catalog's name listing (walked until enough
/// results went by) or, for few results, a sort of just those.
fn select(
    catalog: &Catalog,
    results: &[(u64, Box<Mask>)],
    total: u64,
    key: SortKey,
    descending: bool,
    limit: usize,
    filters: &Filters,
) -> Vec<u64> {
    let ids = || {
        results.iter().flat_map(|(b, m)| {
            let mut v = Vec::with_capacity(64);
            for_each_bit(m, |at| v.push(idset::join(*b, at)));
            v
        })
    };
    match key {
        SortKey::Id if !descending => ids().take(limit).collect(),
        SortKey::Id => {
            let mut all: Vec<u64> = Vec::with_capacity(limit);
            for (b, m) in results.iter().rev() {
                let mut v = Vec::new();
                for_each_bit(m, |at| v.push(idset::join(*b, at)));
                all.extend(v.into_iter().rev());
                if all.len() >= limit {
                    break;
                }
            }
            all.truncate(limit);
            all
        }
        SortKey::Price => {
            let index = catalog.search_index();
            let mut heap: BinaryHeap<(i64, u64)> = BinaryHeap::with_capacity(limit + 1);
            for (b, m) in results.iter() {
                let columns = index.columns(*b).expect("a result block has columns");
                for_each_bit(m, |at| {
                    let price = columns.price[at];
                    let id = idset::join(*b, at);
                    // Descending is the ascending order reversed, ties included (as listings do).
                    let k = if descending {
                        (-price, u64::MAX - id)
                    } else {
                        (price, id)
                    };
                    if heap.len() < limit {
                        heap.push(k);
                    } else if heap.peek().is_some_and(|&top| k < top) {
                        heap.pop();
                        heap.push(k);
                    }
                });
            }
            let mut v = heap.into_vec();
            v.sort_unstable();
            v.into_iter()
                .map(|(_, id)| if descending { u64::MAX - id } else { id })
                .collect()
        }
        SortKey::Name if total <= 4096 => {
            let mut products: Vec<_> = ids().filter_map(|id| catalog.product(id)).collect();
            products.sort_unstable_by(|a, b| compare(SortKey::Name, a, b));
            if descending {
                products.reverse();
            }
            products.into_iter().take(limit).map(|p| p.id).collect()
        }
        SortKey::Name => {
            let listing = match filters.category.and_then(|s| catalog.category(s)) {
                Some(c) => &c.listing,
                None => catalog.listing(),
            };
            let by_name = listing.by(SortKey::Name);
            let member = |id: u64| {
                let (b, at) = idset::split(id);
                results
                    .binary_search_by_key(&b, |(k, _)| *k)
                    .is_ok_and(|i| results[i].1[at / 64] & (1 << (at % 64)) != 0)
            };
            let mut out = Vec::with_capacity(limit);
            let mut take = |p: &std::sync::Arc<crate::catalog::Product>| {
                if out.len() < limit && member(p.id) {
                    out.push(p.id);
                }
                out.len() < limit
            };
            if descending {
                for p in by_name.iter().rev() {
                    if !take(p) {
                        break;
                    }
                }
            } else {
                for p in by_name.iter() {
                    if !take(p) {
                        break;
                    }
                }
            }
            out
        }
    }
}

/// Byte ranges of `text` a query matched: whole words for exact and typo-tolerant matches, the
/// typed part of a word matched as a prefix.
pub fn highlights(plan: &Plan, words_matched: usize, text: &str) -> Vec<(usize, usize)> {
    let words = &plan.words[..words_matched.min(plan.words.len())];
    let mut out = Vec::new();
    text::words(text, |start, end, folded| {
        let term = stem(folded);
        let mut best: Option<usize> = None;
        for w in words {
            for v in &w.variants {
                if *v.term == *term && !v.prefix {
                    best = Some(end);
                }
            }
            if best.is_none()
                && w.is_prefix
                && w.variants
                    .iter()
                    .any(|v| v.prefix && term.starts_with(&*v.term))
                && folded.starts_with(w.folded.as_str())
            {
                // The original characters that fold to the typed prefix.
                let mut folded_len = 0;
                let mut cut = end;
                for (i, c) in text[start..end].char_indices() {
                    if folded_len >= w.folded.len() {
                        cut = start + i;
                        break;
                    }
                    folded_len += text::fold(c.encode_utf8(&mut [0; 4])).len();
                }
                best = Some(cut);
            }
        }
        if let Some(stop) = best {
            out.push((start, stop - start));
        }
    });
    out
}

/// The query as its results read it, when a word was corrected: each corrected word replaced by
/// the word the top results hold (found in their texts, so the shopper sees a real word, not a
/// term). `None` when nothing was corrected.
pub fn did_you_mean<'a>(
    plan: &Plan,
    words_matched: usize,
    texts: impl Iterator<Item = &'a str> + Clone,
) -> Option<String> {
    let words = &plan.words[..words_matched.min(plan.words.len())];
    if words.iter().all(|w| w.correction().is_none()) {
        return None;
    }
    let spelled: Vec<String> = words
        .iter()
        .map(|w| match w.correction() {
            None => w.folded.clone(),
            Some(v) => {
                let mut surface = None;
                for t in texts.clone() {
                    text::words(t, |_, _, folded| {
                        if surface.is_none() && *stem(folded) == *v.term {
                            surface = Some(folded.to_owned());
                        }
                    });
                    if surface.is_some() {
                        break;
                    }
                }
                surface.unwrap_or_else(|| v.term.to_string())
            }
        })
        .collect();
    Some(spelled.join(" "))
}
