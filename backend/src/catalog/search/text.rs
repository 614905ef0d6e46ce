//! How text becomes search terms: words split at anything that is not a letter or a digit,
//! folded to lower case without diacritics ("Café" → "cafe", "Straße" → "strasse"), and stemmed
//! lightly so English plurals meet their singular ("lamps", "boxes", "shelves" → the terms of
//! "lamp", "box", "shelf"). The index and the query go through the same functions, so a term is
//! only ever compared with terms made the same way; a stem is internal and never shown.

use unicode_normalization::UnicodeNormalization;

/// One word of a text: its byte range in the original and its folded form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub start: usize,
    pub end: usize,
    pub folded: String,
}

/// Calls `f(start, end, folded)` for each word of `text`, in order. An apostrophe inside a word
/// joins ("chef's" is one word, "chefs"); a hyphen splits ("linen-bound" is two).
pub fn words(text: &str, mut f: impl FnMut(usize, usize, &str)) {
    let mut folded = String::with_capacity(32);
    let mut start = None;
    let mut end = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            end = i + c.len_utf8();
            fold_char(c, &mut folded);
        } else if (c == '\'' || c == '’')
            && start.is_some()
            && chars.peek().is_some_and(|(_, n)| n.is_alphanumeric())
        {
            // Inside a word: skipped, not a boundary.
        } else if let Some(s) = start.take() {
            if !folded.is_empty() {
                f(s, end, &folded);
            }
            folded.clear();
        }
    }
    if let Some(s) = start
        && !folded.is_empty()
    {
        f(s, end, &folded);
    }
}

/// The words of `text` with their positions (for highlighting; indexing uses [`words`]).
pub fn word_list(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    words(text, |start, end, folded| {
        out.push(Word {
            start,
            end,
            folded: folded.to_owned(),
        })
    });
    out
}

/// Folds one character: lower case, diacritics dropped, a few letters spelled out.
fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'æ' | 'Æ' => out.push_str("ae"),
        'œ' | 'Œ' => out.push_str("oe"),
        'ø' | 'Ø' => out.push('o'),
        'ł' | 'Ł' => out.push('l'),
        'đ' | 'Đ' => out.push('d'),
        'þ' | 'Þ' => out.push_str("th"),
        _ => {
            for d in std::iter::once(c).nfd() {
                if !is_combining_mark(d) {
                    out.extend(d.to_lowercase());
                }
            }
        }
    }
}

/// Combining marks (what NFD splits off a letter with a diacritic).
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Folds a whole text the way words are folded (lower case, no diacritics), keeping spaces.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// The term of a folded word: English plural endings removed, and an "f"/"fe"/"ve" ending
/// written "v", so "shelf", "shelves", "knife" and "knives" each meet their pair. Short words
/// and numbers stay as they are.
pub fn stem(word: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let b = word.as_bytes();
    if b.len() <= 3 || !b.iter().all(u8::is_ascii_alphabetic) {
        return Cow::Borrowed(word);
    }
    let base: &str = if word.ends_with("ies") && b.len() > 4 {
        return Cow::Owned(format!("{}y", &word[..b.len() - 3]));
    } else if word.ends_with("sses")
        || word.ends_with("xes")
        || word.ends_with("ches")
        || word.ends_with("shes")
        || word.ends_with("zzes")
    {
        &word[..b.len() - 2]
    } else if word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
    {
        &word[..b.len() - 1]
    } else {
        word
    };
    if let Some(rest) = base.strip_suffix("ve").or_else(|| base.strip_suffix("fe"))
        && rest.len() >= 2
    {
        return Cow::Owned(format!("{rest}v"));
    }
    if let Some(rest) = base.strip_suffix('f')
        && rest.len() >= 2
        && !rest.ends_with('f')
    {
        return Cow::Owned(format!("{rest}v"));
    }
    if base.len() == word.len() {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(base.to_owned())
    }
}

/// The term a folded prefix could be the start of: itself, or with a final "f" written the way
/// [`stem`] writes it ("knif" is on its way to "knife", whose term is "kniv").
pub fn prefix_forms(prefix: &str) -> Vec<String> {
    let mut out = vec![prefix.to_owned()];
    if let Some(rest) = prefix.strip_suffix('f')
        && rest.len() >= 2
    {
        out.push(format!("{rest}v"));
    }
    out
}

/// Typos a word of `chars` characters may have: none below `one_from`, one from it, two from
/// `two_from` (Meilisearch's defaults are 5 and 9).
pub fn typos_allowed(chars: usize, one_from: usize, two_from: usize) -> u8 {
    if chars >= two_from {
        2
    } else if chars >= one_from {
        1
    } else {
        0
    }
}

/// The edit distance between `a` and `b` with adjacent transpositions counting one (optimal
/// string alignment), or `None` when it is above `max`.
pub fn distance(a: &[char], b: &[char], max: u8) -> Option<u8> {
    if a.len().abs_diff(b.len()) > usize::from(max) {
        return None;
    }
    walk(a, b, max).0
}

/// The distance of `key` to `target` if within `max`, and how many of the key's first
/// characters stay within reach: once a row of the table has no entry within `max`, no
/// completion of that start can get back (the pruning a Levenshtein automaton does).
pub fn walk(key: &[char], target: &[char], max: u8) -> (Option<u8>, usize) {
    let max = usize::from(max);
    let n = target.len();
    let mut prev2: Vec<usize> = vec![0; n + 1];
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur: Vec<usize> = vec![0; n + 1];
    for i in 1..=key.len() {
        cur[0] = i;
        let mut row_min = i;
        for j in 1..=n {
            let cost = usize::from(key[i - 1] != target[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && key[i - 1] == target[j - 2] && key[i - 2] == target[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return (None, i - 1);
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = (prev[n] <= max).then_some(prev[n] as u8);
    (d, key.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(text: &str) -> Vec<String> {
        word_list(text).into_iter().map(|w| w.folded).collect()
    }

    #[test]
    fn words_fold_case_and_diacritics() {
        assert_eq!(folded("Café CRÈME, Straße"), ["cafe", "creme", "strasse"]);
        assert_eq!(folded("Chef's Knife"), ["chefs", "knife"]);
        assert_eq!(
            folded("Linen-Bound  (set of 2)"),
            ["linen", "bound", "set", "of", "2"]
        );
        assert_eq!(folded("'quoted'"), ["quoted"]);
        assert_eq!(folded("Ångström øl"), ["angstrom", "ol"]);
        let w = word_list("a Café!");
        assert_eq!((w[1].start, w[1].end), (2, 7));
    }

    #[test]
    fn plurals_meet_their_singular() {
        for (plural, singular) in [
            ("lamps", "lamp"),
            ("boxes", "box"),
            ("shelves", "shelf"),
            ("knives", "knife"),
            ("gloves", "glove"),
            ("batteries", "battery"),
            ("glasses", "glass"),
            ("benches", "bench"),
            ("brushes", "brush"),
            ("chefs", "chef"),
            ("shoes", "shoe"),
        ] {
            assert_eq!(stem(plural), stem(singular), "{plural} / {singular}");
        }
        for same in ["glass", "cactus", "tennis", "ash", "30", "mug"] {
            assert_eq!(stem(same), same);
        }
        assert_ne!(stem("lamp"), stem("lamb"));
    }

    #[test]
    fn distance_counts_edits_and_transpositions() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(distance(&c("lamp"), &c("lamp"), 2), Some(0));
        assert_eq!(distance(&c("lmap"), &c("lamp"), 2), Some(1));
        assert_eq!(distance(&c("walnut"), &c("wallnut"), 2), Some(1));
        assert_eq!(distance(&c("cuting"), &c("cutting"), 1), Some(1));
        assert_eq!(distance(&c("kitten"), &c("sitting"), 2), None);
        assert_eq!(distance(&c("kitten"), &c("sitting"), 3), Some(3));
        assert_eq!(walk(&c("walrus"), &c("walnut"), 1), (None, 5));
        assert_eq!(walk(&c("xyzabc"), &c("walnut"), 1), (None, 1));
        assert_eq!(walk(&c("walnuts"), &c("walnut"), 1), (Some(1), 7));
    }

    #[test]
    fn typo_thresholds() {
        assert_eq!([4, 5, 8, 9].map(|n| typos_allowed(n, 5, 9)), [0, 1, 1, 2]);
    }
}
