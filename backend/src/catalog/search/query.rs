//! Answering a search from the index: the query's words expanded to terms (exact, with typos,
//! as a prefix), the products holding every word found block by block, ranked, counted by
//! facet, and the first page selected.
//!
//! - **Expansion.** Each word's term, the terms within its typo budget (none under
//!   `typo_one_from` characters, one from it, two from `typo_two_from`) and, for the last word
//!   while the shopper is still typing, every term it starts (for a start of one or two
//!   characters, the most common [`SHORT_PREFIX_VARIANTS`] only). Each word keeps at most
//!   [`MAX_VARIANTS`], fewest typos first, then the most common; a dictionary walk visits at most
//!   [`MAX_VISITS`] terms. That bounds every query's work by its terms' posting lists.
//! - **Matching.** Words are AND-ed. When nothing matches them all, the last word is dropped and the
//!   rest tried again (the result says how many words it matched), never a silent empty page.
//! - **Ranking** (lower is better, compared in this order, ties by product id): the sum of each
//!   word's fewest typos; proximity (0: each pair of consecutive words adjacent in the title or
//!   the category name; 1: all words in one field; 2: apart); attribute (the least
//!   important field any word needed: title, category, description, long text); exactness (1
//!   when a word matched only as a prefix). The first page comes from a bounded heap: no sort of
//!   the whole result.
//! - **Facets** follow the query: category counts with the price filter applied but not the
//!   category filter (so the shopper can switch category), the price range with the category
//!   filter applied but not the price filter.
//!
//! The steps, in order: [`plan`] (words to terms); [`search`], which runs one pass per word count
//! tried: `Candidates` (per block, the products holding every word), `Facets` (the filters, with
//! the counts beside them), then the page (`Ranking`'s bounded heap, or `select` for a sort
//! order); [`highlights`] and [`did_you_mean`] for the answer shown.
//!
//! One file past 600 lines because the steps share the block-level types (`WordMasks`,
//! `WordSets`, the mask helpers) and the rank key's bit layout, which `rank`, `below` and
//! `best_possible` must agree on bit for bit: one file keeps them in step.

use std::collections::BinaryHeap;
use std::ops::Bound;

use super::index::{CATEGORY, CHUNK, Columns, FIELDS, SearchIndex, Term};
use super::text::{self, prefix_forms, stem, typos_allowed, walk};
use crate::catalog::model::{Catalog, SortKey, compare};
use crate::engine::idset::{self, Cursor, IdSet, Mask, WORDS, for_each_bit};

/// Terms one word may stand for.
pub const MAX_VARIANTS: usize = 48;
/// Terms a prefix of one and of two characters stands for (the most common ones).
pub const SHORT_PREFIX_VARIANTS: (usize, usize) = (10, 16);
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

impl From<&crate::config::SearchConfig> for Typos {
    fn from(c: &crate::config::SearchConfig) -> Self {
        Typos {
            one_from: c.one_typo_from as usize,
            two_from: c.two_typos_from.max(c.one_typo_from) as usize,
        }
    }
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
    /// The fields it is looked for in: the first this many (title, category, description,
    /// long text). All of them, but a start of one or two characters is looked for in titles and
    /// category names only: in every longer text some word starts with "a", so such a match
    /// says nothing, and a shopper typing one letter is after the names shown to them.
    pub fields: usize,
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
            .filter_map(|v| index.term(&v.term).map(|t| &t.fields[..v.fields]))
            .flat_map(|fields| fields.iter().map(IdSet::block_count))
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
        // A one- or two-letter start stands for its most common terms only: each term is one
        // more set to combine in every block, and a shopper who typed one letter is best served
        // by the words most products hold.
        starts.sort_by(|(a, wa), (b, wb)| wb.cmp(wa).then_with(|| a.term.cmp(&b.term)));
        let short = folded.chars().count() <= 2;
        starts.truncate(match folded.chars().count() {
            1 => SHORT_PREFIX_VARIANTS.0,
            2 => SHORT_PREFIX_VARIANTS.1,
            _ => MAX_VARIANTS,
        });
        if short {
            for (v, _) in &mut starts {
                v.fields = CATEGORY + 1;
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
        fields: FIELDS,
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
    /// By typos (0, 1, 2), all fields; prefixes count as 0.
    level: [Mask; 3],
    /// Whole-word terms (not prefixes), all fields.
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

/// How a variant matched: exactly, with one typo, with two, as a prefix.
const CLASSES: usize = 4;
const PREFIX: usize = 3;

/// One word's sets, grouped by class and field, so a block costs one OR per set.
struct WordSets<'a> {
    classes: [[Vec<Cursor<'a>>; FIELDS]; CLASSES],
    /// The only class with sets, if there is one.
    single_class: Option<usize>,
}

impl WordSets<'_> {
    /// The word's masks of block `b`; the number of sets that had ids there.
    fn masks(&mut self, b: u64, m: &mut WordMasks) -> u64 {
        *m = WordMasks::default();
        let mut work = 0;
        if let Some(class) = self.single_class {
            // One kind of match (the usual case): every set ORs straight into its field.
            for (f, cursors) in self.classes[class].iter_mut().enumerate() {
                for cursor in cursors.iter_mut() {
                    work += u64::from(cursor.or_block(b, &mut m.field[f]));
                }
                let field = m.field[f];
                or(&mut m.any, &field);
            }
            m.level[if class == PREFIX { 0 } else { class }] = m.any;
            if class != PREFIX {
                m.whole = m.any;
            }
            return work;
        }
        for (class, fields) in self.classes.iter_mut().enumerate() {
            if fields.iter().all(Vec::is_empty) {
                continue;
            }
            let mut in_class: Mask = [0; WORDS];
            for (f, cursors) in fields.iter_mut().enumerate() {
                let mut here: Mask = [0; WORDS];
                for cursor in cursors.iter_mut() {
                    work += u64::from(cursor.or_block(b, &mut here));
                }
                or(&mut m.field[f], &here);
                or(&mut in_class, &here);
            }
            or(
                &mut m.level[if class == PREFIX { 0 } else { class }],
                &in_class,
            );
            if class != PREFIX {
                or(&mut m.whole, &in_class);
            }
            or(&mut m.any, &in_class);
        }
        work
    }
}

/// One pass over the blocks for these words: per block, the candidates (every word, the `only`
/// set), then the filters with the facets beside them, then the page (ranked in a bounded heap,
/// or kept for a sort order); at the end the facets and the page's ids.
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
    let Some(mut candidates) = Candidates::new(index, words, filters.only) else {
        return found;
    };
    let blocks = blocks_to_visit(index, words);
    let empty = IdSet::default();
    let mut facets = Facets::new(index, filters, &empty);
    let mut page = match order {
        Order::Relevance => Page::Ranked(Ranking::new(index, words, limit)),
        Order::By(key, descending) => Page::Sorted(key, descending, Vec::new()),
    };
    let mut work = 0u64;

    for &b in &blocks {
        let c = candidates.block(b, &mut work);
        if is_empty(&c) {
            continue;
        }
        work += 1;
        let Some(columns) = index.columns(b) else {
            continue;
        };
        let r = facets.filter(b, columns, &c);
        let n = idset::count(&r);
        if n == 0 {
            continue;
        }
        found.total += u64::from(n);
        match &mut page {
            Page::Sorted(_, _, results) => results.push((b, Box::new(r))),
            Page::Ranked(ranking) => ranking.block(b, r, &candidates.masks),
        }
    }
    found.work = work;
    facets.finish(index, &mut found);
    found.ids = match page {
        Page::Ranked(ranking) => ranking.ids(),
        Page::Sorted(key, descending, results) => select(
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

/// The products of a block that hold every word (every enabled product when there are no
/// words) and are in the `only` set; each word's masks of the block, which ranking reads.
struct Candidates<'a> {
    sets: Vec<WordSets<'a>>,
    masks: Vec<WordMasks>,
    enabled: Cursor<'a>,
    only: Option<Cursor<'a>>,
}

impl<'a> Candidates<'a> {
    /// `None` when a word stands for no term of the index: nothing holds it.
    fn new(index: &'a SearchIndex, words: &[WordPlan], only: Option<&'a IdSet>) -> Option<Self> {
        let mut sets: Vec<WordSets> = Vec::with_capacity(words.len());
        for w in words {
            let mut set = WordSets {
                classes: Default::default(),
                single_class: None,
            };
            for v in &w.variants {
                if let Some(t) = index.term(&v.term) {
                    let class = if v.prefix {
                        PREFIX
                    } else {
                        usize::from(v.typos.min(2))
                    };
                    for (f, s) in t.fields.iter().enumerate().take(v.fields) {
                        if !s.is_empty() {
                            set.classes[class][f].push(s.cursor());
                        }
                    }
                }
            }
            let used: Vec<usize> = (0..CLASSES)
                .filter(|&c| set.classes[c].iter().any(|f| !f.is_empty()))
                .collect();
            if used.is_empty() {
                return None;
            }
            set.single_class = (used.len() == 1).then(|| used[0]);
            sets.push(set);
        }
        Some(Candidates {
            sets,
            masks: (0..words.len()).map(|_| WordMasks::default()).collect(),
            enabled: index.enabled().cursor(),
            only: only.map(IdSet::cursor),
        })
    }

    /// The candidates of block `b`, adding the sets read to `work`.
    fn block(&mut self, b: u64, work: &mut u64) -> Mask {
        let mut c: Mask = [0; WORDS];
        if self.sets.is_empty() {
            self.enabled.or_block(b, &mut c);
        } else {
            for (w, set) in self.sets.iter_mut().enumerate() {
                *work += set.masks(b, &mut self.masks[w]);
                if w == 0 {
                    c = self.masks[w].any;
                } else {
                    and(&mut c, &self.masks[w].any);
                }
                if is_empty(&c) {
                    break;
                }
            }
        }
        if let Some(only) = self.only.as_mut() {
            let mut o: Mask = [0; WORDS];
            only.or_block(b, &mut o);
            and(&mut c, &o);
        }
        c
    }
}

/// Blocks to visit: those of the rarest word (every result holds it), or of every enabled
/// product when there are no words.
fn blocks_to_visit(index: &SearchIndex, words: &[WordPlan]) -> Vec<u64> {
    match words.iter().min_by_key(|w| {
        w.variants
            .iter()
            .filter_map(|v| index.term(&v.term).map(|t| &t.fields[..v.fields]))
            .flat_map(|fields| fields.iter().map(IdSet::len))
            .sum::<u64>()
    }) {
        Some(w) => {
            let terms: Vec<&[IdSet]> = w
                .variants
                .iter()
                .filter_map(|v| index.term(&v.term).map(|t| &t.fields[..v.fields]))
                .collect();
            let listed: u64 = terms
                .iter()
                .flat_map(|fields| fields.iter().map(IdSet::block_count))
                .sum();
            if listed > index.enabled().block_count() {
                // A common word's sets cover about every block: visiting all of them (blocks a
                // word misses cost a few empty ORs) is cheaper than merging the lists.
                index.enabled().block_numbers().collect()
            } else {
                let mut b: Vec<u64> = terms
                    .iter()
                    .flat_map(|fields| fields.iter().flat_map(IdSet::block_numbers))
                    .collect();
                b.sort_unstable();
                b.dedup();
                b
            }
        }
        None => index.enabled().block_numbers().collect(),
    }
}

/// The filters (category, price) applied to a block's candidates, and the facets counted beside
/// them: products per category with every filter but the category one, the price range with
/// every filter but the price ones.
struct Facets<'a> {
    lo: i64,
    hi: i64,
    /// The category filter's set (an empty one for an unknown category).
    category: Option<Cursor<'a>>,
    /// Few categories and no price filter: counted a block at a time (a popcount per category);
    /// otherwise per product.
    per_category: bool,
    category_cursors: Vec<Cursor<'a>>,
    by_slug: Vec<u64>,
    by_code: Vec<u64>,
    range: Option<(i64, i64)>,
}

impl<'a> Facets<'a> {
    fn new(index: &'a SearchIndex, filters: &Filters, empty: &'a IdSet) -> Self {
        let price_filter = filters.min_price.is_some() || filters.max_price.is_some();
        let (lo, hi) = (
            filters.min_price.unwrap_or(i64::MIN),
            filters.max_price.unwrap_or(i64::MAX),
        );
        let category = filters
            .category
            .map(|slug| index.categories().get(slug).unwrap_or(empty).cursor());
        // Few categories: counted a block at a time (a popcount per category); many: per product.
        let per_category = !price_filter && index.categories().len() <= 64;
        let category_cursors: Vec<Cursor> = if per_category {
            index.categories().values().map(IdSet::cursor).collect()
        } else {
            vec![]
        };
        Facets {
            lo,
            hi,
            category,
            per_category,
            by_slug: vec![0u64; category_cursors.len()],
            category_cursors,
            by_code: vec![0u64; index.code_count()],
            range: None,
        }
    }

    /// The candidates `c` of block `b` that pass every filter, counted into the facets on the way.
    fn filter(&mut self, b: u64, columns: &Columns, c: &Mask) -> Mask {
        let mut in_category: Option<Mask> = None;
        if let Some(cursor) = self.category.as_mut() {
            let mut k: Mask = [0; WORDS];
            cursor.or_block(b, &mut k);
            in_category = Some(k);
        }
        // The results of this block: the words, the stock, the category and the price filters.
        let mut r = *c;
        // Counting one product reads its column entry (a likely cache miss, ~8 ns); a popcount per
        // category is three passes over 64 words (~40 ns): the popcounts win from about 5 products
        // per category on.
        let dense = idset::count(c) as usize > self.category_cursors.len() * 5;
        if self.per_category && !dense {
            if let Some(k) = &in_category {
                and(&mut r, k);
            }
            for_each_bit(c, |at| self.by_code[columns.category(at) as usize] += 1);
            price_range(columns, &r, &mut self.range);
        } else if self.per_category {
            for (n, cursor) in self
                .by_slug
                .iter_mut()
                .zip(self.category_cursors.iter_mut())
            {
                let mut m: Mask = [0; WORDS];
                if cursor.or_block(b, &mut m) {
                    and(&mut m, c);
                    *n += u64::from(idset::count(&m));
                }
            }
            if let Some(k) = &in_category {
                and(&mut r, k);
            }
            price_range(columns, &r, &mut self.range);
        } else {
            let k = in_category.unwrap_or([!0; WORDS]);
            let (lo, hi) = (self.lo, self.hi);
            for_each_bit(c, |at| {
                let price = columns.price(at);
                let in_price = (lo..=hi).contains(&price);
                let in_cat = k[at / 64] & (1 << (at % 64)) != 0;
                if in_price {
                    self.by_code[columns.category(at) as usize] += 1;
                }
                if in_cat {
                    self.range = Some(match self.range {
                        Some((a, z)) => (a.min(price), z.max(price)),
                        None => (price, price),
                    });
                }
                if !(in_price && in_cat) {
                    r[at / 64] &= !(1 << (at % 64));
                }
            });
        }
        r
    }

    /// The facets into `found`: products per category slug, by slug, and the price range.
    fn finish(self, index: &SearchIndex, found: &mut Found) {
        let mut categories: std::collections::BTreeMap<&str, u64> = Default::default();
        for (slug, &n) in index.categories().keys().zip(&self.by_slug) {
            if n > 0 {
                *categories.entry(slug).or_default() += n;
            }
        }
        for (code, &n) in self.by_code.iter().enumerate() {
            if n > 0
                && let Some(slug) = index.slug(code as u32)
            {
                *categories.entry(slug).or_default() += n;
            }
        }
        found.categories = categories
            .into_iter()
            .map(|(s, n)| (s.to_owned(), n))
            .collect();
        found.price_range = self.range;
    }
}

/// Where a search's page comes from.
enum Page<'a> {
    /// By relevance: the best products so far.
    Ranked(Ranking<'a>),
    /// In a sort order (key, descending): every block's results, selected from at the end.
    Sorted(SortKey, bool, Vec<(u64, Box<Mask>)>),
}

/// The best `limit` products by rank key (see the module documentation), kept in a bounded heap
/// as the blocks go by, with the adjacency of consecutive words that proximity reads.
struct Ranking<'a> {
    /// Per pair of consecutive words: the pair sets of their first variants.
    pairs: Vec<Vec<Cursor<'a>>>,
    /// Per pair: the products of the current block where the two words are adjacent.
    adjacent: Vec<Mask>,
    heap: BinaryHeap<(u32, u64)>,
    limit: usize,
    /// A key no product can beat ([`best_possible`]).
    best: u32,
}

impl<'a> Ranking<'a> {
    fn new(index: &'a SearchIndex, words: &[WordPlan], limit: usize) -> Self {
        // Adjacency of consecutive words: the pair sets of their first variants.
        let mut pairs: Vec<Vec<Cursor>> = Vec::new();
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
        Ranking {
            adjacent: vec![[0; WORDS]; pairs.len()],
            pairs,
            heap: BinaryHeap::with_capacity(limit + 1),
            limit,
            best: best_possible(index, words),
        }
    }

    /// Ranks the results `r` of block `b`, given each word's masks of that block.
    fn block(&mut self, b: u64, mut r: Mask, masks: &[WordMasks]) {
        for (p, cursors) in self.pairs.iter_mut().enumerate() {
            self.adjacent[p] = [0; WORDS];
            for cursor in cursors.iter_mut() {
                cursor.or_block(b, &mut self.adjacent[p]);
            }
        }
        // Later ids lose ties, so once the heap is full only a strictly better key can enter:
        // with a worst key of no typos, only the products below it need a key at all.
        if self.heap.len() == self.limit {
            match self.heap.peek() {
                None => return,
                Some(&(worst, _)) if worst <= self.best => return,
                Some(&(worst, _)) if worst >> 8 == 0 => {
                    and(&mut r, &below(worst, masks, &self.adjacent));
                }
                Some(_) => {}
            }
        }
        for_each_bit(&r, |at| {
            let key = rank(masks, &self.adjacent, at);
            let id = idset::join(b, at);
            if self.heap.len() < self.limit {
                self.heap.push((key, id));
            } else if self.heap.peek().is_some_and(|&(k, _)| key < k) {
                self.heap.pop();
                self.heap.push((key, id));
            }
        });
    }

    /// The page: the best products, best first.
    fn ids(self) -> Vec<u64> {
        let mut v = self.heap.into_vec();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id).collect()
    }
}

/// Widens `range` to the prices of the products in `r`: per chunk, the first and last hit in
/// price order (a dense result stops at once), or each product of a sparse one.
fn price_range(columns: &Columns, r: &Mask, range: &mut Option<(i64, i64)>) {
    let words_per_chunk = CHUNK / 64;
    for (i, part) in r.chunks(words_per_chunk).enumerate() {
        let n: u32 = part.iter().map(|w| w.count_ones()).sum();
        if n == 0 {
            continue;
        }
        let Some(chunk) = columns.chunk(i) else {
            continue;
        };
        let has = |o: u16| part[usize::from(o) / 64] & (1 << (o % 64)) != 0;
        // A scan from either end takes about 2 × CHUNK / n steps of the sorted offsets (cached),
        // against n reads of scattered entries: the scan wins early.
        let (a, z) = if n <= 16 {
            let mut lo_hi: Option<(i64, i64)> = None;
            for (w, &word) in part.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let p = chunk.entries[w * 64 + word.trailing_zeros() as usize].price;
                    lo_hi = Some(lo_hi.map_or((p, p), |(a, z)| (a.min(p), z.max(p))));
                    word &= word - 1;
                }
            }
            lo_hi.expect("n > 0")
        } else {
            let first = chunk.by_price.iter().find(|&&o| has(o));
            let last = chunk.by_price.iter().rev().find(|&&o| has(o));
            match (first, last) {
                (Some(&f), Some(&l)) => (
                    chunk.entries[usize::from(f)].price,
                    chunk.entries[usize::from(l)].price,
                ),
                _ => continue,
            }
        };
        *range = Some(range.map_or((a, z), |(x, y)| (x.min(a), y.max(z))));
    }
}

/// The products of a block whose rank key is below `worst` (which has no typos): no typos, and
/// better proximity, or the same and a better attribute, or the same and exact where it is not.
fn below(worst: u32, masks: &[WordMasks], adjacent: &[Mask]) -> Mask {
    let (p, a, e) = ((worst >> 6) & 3, (worst >> 2) & 15, worst & 3);
    let all = |f: &dyn Fn(&WordMasks) -> Mask| -> Mask {
        let mut out = [!0u64; WORDS];
        for m in masks {
            and(&mut out, &f(m));
        }
        out
    };
    let no_typos = all(&|m| m.level[0]);
    let (p0, p1) = if masks.len() < 2 {
        ([!0; WORDS], [!0; WORDS])
    } else {
        let mut p0 = [!0u64; WORDS];
        adjacent.iter().for_each(|m| and(&mut p0, m));
        let mut p1 = [0u64; WORDS];
        for f in 0..FIELDS {
            or(&mut p1, &all(&|m| m.field[f]));
        }
        (p0, p1)
    };
    let attr_le = |a: u32| {
        all(&|m| {
            let mut out = [0u64; WORDS];
            m.field[..=a as usize].iter().for_each(|f| or(&mut out, f));
            out
        })
    };
    let le = attr_le(a.min(FIELDS as u32 - 1));
    let lt = if a == 0 { [0; WORDS] } else { attr_le(a - 1) };
    let exact = all(&|m| m.whole);
    let mut out = [0u64; WORDS];
    for w in 0..WORDS {
        // Proximity 0 ⊂ proximity ≤ 1; the rest is 2.
        let (p0w, p1w) = (p0[w], p1[w] | p0[w]);
        let (prox_lt, prox_eq) = match p {
            0 => (0, p0w),
            1 => (p0w, p1w & !p0w),
            _ => (p1w, !p1w),
        };
        let attr_eq = le[w] & !lt[w];
        let exact_lt = if e == 0 { 0 } else { exact[w] };
        out[w] = no_typos[w] & (prox_lt | (prox_eq & (lt[w] | (attr_eq & exact_lt))));
    }
    out
}

/// A key no product can beat for these words: the fewest typos each word needs, the most
/// important field every word reaches somewhere, exact unless a word has only prefixes. A full
/// heap whose worst key is this good takes nothing more.
fn best_possible(index: &SearchIndex, words: &[WordPlan]) -> u32 {
    let (mut typos, mut attribute, mut exact) = (0u32, 0u32, 0u32);
    for w in words {
        let terms: Vec<(&Variant, &Term)> = w
            .variants
            .iter()
            .filter_map(|v| index.term(&v.term).map(|t| (v, t)))
            .collect();
        typos += terms
            .iter()
            .map(|(v, _)| u32::from(v.typos.min(2)))
            .min()
            .unwrap_or(0);
        let field = (0..FIELDS)
            .find(|&f| {
                terms
                    .iter()
                    .any(|(v, t)| f < v.fields && !t.fields[f].is_empty())
            })
            .unwrap_or(FIELDS - 1);
        attribute = attribute.max(field as u32);
        if terms.iter().all(|(v, _)| v.prefix) {
            exact = 1;
        }
    }
    (typos << 8) | (attribute << 2) | exact
}

fn is_empty(m: &Mask) -> bool {
    m.iter().all(|&w| w == 0)
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
                    let price = columns.price(at);
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
                for p in by_name.iter_rev() {
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

/// Byte ranges of `text` (the product's `field`) a query matched: whole words for exact and typo-tolerant matches, the
/// typed part of a word matched as a prefix.
pub fn highlights(
    plan: &Plan,
    words_matched: usize,
    field: usize,
    text: &str,
) -> Vec<(usize, usize)> {
    let words = &plan.words[..words_matched.min(plan.words.len())];
    let mut out = Vec::new();
    text::words(text, |start, end, folded| {
        let term = stem(folded);
        let mut best: Option<usize> = None;
        for w in words {
            for v in &w.variants {
                if *v.term == *term && !v.prefix && field < v.fields {
                    best = Some(end);
                }
            }
            if best.is_none()
                && w.is_prefix
                && w.variants
                    .iter()
                    .any(|v| v.prefix && field < v.fields && *v.term == *term)
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
