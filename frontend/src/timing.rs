//! Decisions about time that the pages make: the search box's debounce and the delayed spinner.
//! Both work the same way: each new request takes a generation number, and a timer that fires
//! acts only if its generation is still the latest. Timers themselves live in the hooks and the search box.

/// Typing pauses this long before the catalog searches.
pub const SEARCH_DEBOUNCE_MS: u32 = 250;
/// A load shorter than this shows no spinner at all, so fast answers never flicker.
pub const SPINNER_DELAY_MS: u32 = 150;

/// Hands out generations; only the newest one is current.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Generations {
    latest: u64,
}

impl Generations {
    /// Starts a new request, superseding every earlier one.
    pub fn start(&mut self) -> u64 {
        self.latest += 1;
        self.latest
    }

    /// Whether a timer or answer of generation `g` may still act.
    pub fn is_current(&self, g: u64) -> bool {
        g == self.latest
    }

    /// Supersedes everything pending without starting anything new (e.g. Enter in the search
    /// box commits at once, so the pending debounce must not fire again).
    pub fn cancel(&mut self) {
        self.latest += 1;
    }
}

/// What the search box does when its debounce timer of generation `g` fires: commit the typed
/// text if the timer is current and the text differs from what the URL already says.
pub fn search_to_commit(
    generations: &Generations,
    g: u64,
    typed: &str,
    in_url: &str,
) -> Option<String> {
    let typed = typed.trim();
    (generations.is_current(g) && typed != in_url.trim()).then(|| typed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_keystroke_searches() {
        let mut g = Generations::default();
        let first = g.start();
        let second = g.start();
        assert_eq!(search_to_commit(&g, first, "la", ""), None);
        assert_eq!(
            search_to_commit(&g, second, "lam", ""),
            Some("lam".to_owned())
        );
    }

    #[test]
    fn unchanged_text_does_not_search_again() {
        let mut g = Generations::default();
        let n = g.start();
        assert_eq!(search_to_commit(&g, n, "lamp ", "lamp"), None);
        assert_eq!(search_to_commit(&g, n, "", ""), None);
        assert_eq!(search_to_commit(&g, n, "", "lamp"), Some(String::new()));
    }

    #[test]
    fn cancel_stops_pending_timers() {
        let mut g = Generations::default();
        let n = g.start();
        g.cancel();
        assert!(!g.is_current(n));
        assert_eq!(search_to_commit(&g, n, "lamp", ""), None);
    }
}
