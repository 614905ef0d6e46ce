//! The Markdown report: the sections' tables and notes, the machine's facts and the command.

use super::*;

impl Bench {
    pub(crate) fn report(&self, command: &str, total: Duration) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Written by `shop-bench` (`backend/src/bin/shop-bench/`, one file per section) and `make bench`. \
             Benchmarks, not tests: every figure stands next to a baseline measured in the \
             same run, since the machine is noisy; compare ratios, not absolute numbers.\n"
        );
        let _ = writeln!(
            md,
            "Sections a–f, s, t and u are `shop-bench`'s (u also draws `BENCHMARKS-scale.svg`) and \
             g is `make bench`'s (which rewrites a–g, s, t and u and keeps the rest; `make \
             bench-search` rewrites s alone); sections h–o come from the commands they name (browser tests, `make dev`, \
             `make load`, `make chaos`, `make fuzz`, `.ci/run`) and are kept by hand, each with \
             its date.\n"
        );
        let _ = writeln!(md, "- Date: {}", utc_now());
        let _ = writeln!(md, "- Command: `{command}`");
        let _ = writeln!(
            md,
            "- Machine: {} cores (`nproc`), {}, {} memory; load average at the end: {}",
            cores(),
            cpu_model(),
            mem_total(),
            load_average()
        );
        let _ = writeln!(
            md,
            "- Broker: {} (SQLite storage in a fresh temporary directory, loopback), started and \
             stopped by this run",
            self.broker.version
        );
        let _ = writeln!(
            md,
            "- fetch.wait.max.ms = **{}** for every consumer (the shop's, the engine's, the \
             baselines'); tansu holds each fetch this long",
            self.fetch_wait_ms
        );
        let _ = writeln!(
            md,
            "- Topics: created by `kafka::ensure_topics` with retention.ms={} \
             (tansu 0.6.0 reads the usual -1 as \"delete every record\")",
            kafka::KEEP_FOREVER_MS
        );
        let _ = writeln!(
            md,
            "- Events: {}; products (b., c.): {}; products of the in-process shop (d., e.): {}; \
             wrk duration: {} s; seed {}",
            self.args.events,
            self.args.products,
            self.args.shop_products,
            self.args.duration_secs,
            self.args.seed
        );
        let _ = writeln!(md, "- Total run time: {}\n", minutes(total));
        md.push_str(&self.sections_md(None));
        md
    }

    /// The sections alone; with `command`, each also names the date and the command that ran
    /// it (for a section spliced into a report another run wrote).
    pub(crate) fn sections_md(&self, command: Option<&str>) -> String {
        let mut md = String::new();
        for s in &self.sections {
            let _ = writeln!(md, "## {}\n", s.title);
            match command {
                Some(c) => {
                    let _ = writeln!(
                        md,
                        "{}, `{c}` ({} cores, {}); section time: {}.\n",
                        utc_now(),
                        cores(),
                        cpu_model(),
                        minutes(s.elapsed)
                    );
                }
                None => {
                    let _ = writeln!(md, "Section time: {}.\n", minutes(s.elapsed));
                }
            }
            if !s.table.header.is_empty() {
                let _ = writeln!(md, "| {} |", s.table.header.join(" | "));
                let _ = writeln!(
                    md,
                    "|{}",
                    s.table.header.iter().map(|_| " --- |").collect::<String>()
                );
                for row in &s.table.rows {
                    let _ = writeln!(md, "| {} |", row.join(" | "));
                }
                md.push('\n');
            }
            for n in &s.notes {
                let _ = writeln!(md, "{n}\n");
            }
        }
        md
    }
}

/// `report` with each `## x.` section of `sections` in place of the section of the same letter,
/// or, for a new one, before the section headed `## {before}.` (at the end without it).
pub(crate) fn splice(report: &str, sections: &str, before: char) -> String {
    // A report as (heading letter, text) blocks; the text before the first heading has none.
    fn blocks(md: &str) -> Vec<(Option<char>, String)> {
        let mut out: Vec<(Option<char>, String)> = vec![(None, String::new())];
        for line in md.split_inclusive('\n') {
            if let Some(rest) = line.strip_prefix("## ")
                && let Some(letter) = rest.chars().next()
                && rest[letter.len_utf8()..].starts_with('.')
            {
                out.push((Some(letter), String::new()));
            }
            out.last_mut().expect("never empty").1.push_str(line);
        }
        out
    }
    let mut out = blocks(report);
    for (letter, text) in blocks(sections).into_iter().filter(|(l, _)| l.is_some()) {
        if let Some(b) = out.iter_mut().find(|(l, _)| *l == letter) {
            b.1 = text;
        } else {
            let at = out
                .iter()
                .position(|(l, _)| *l == Some(before))
                .unwrap_or(out.len());
            out.insert(at, (letter, text));
        }
    }
    out.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::splice;

    #[test]
    fn a_section_replaces_its_own_or_goes_before_the_named_one() {
        let report = "# B\n\nintro\n\n## a. A\n\nold a\n\n## g. G\n\ng\n";
        let new = splice(report, "## s. S\n\nnew s\n\n", 'g');
        assert_eq!(
            new,
            "# B\n\nintro\n\n## a. A\n\nold a\n\n## s. S\n\nnew s\n\n## g. G\n\ng\n"
        );
        let again = splice(&new, "## s. S\n\nnewer s\n", 'g');
        assert_eq!(
            again,
            "# B\n\nintro\n\n## a. A\n\nold a\n\n## s. S\n\nnewer s\n## g. G\n\ng\n"
        );
        assert_eq!(splice("# B\n", "## s. S\n", 'g'), "# B\n## s. S\n");
    }
}
