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
            "Sections a–f are `shop-bench`'s and g is `make bench`'s (which rewrites a–g and keeps \
             the rest); sections h–n come from the commands they name (browser tests, `make dev`, \
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
        for s in &self.sections {
            let _ = writeln!(md, "## {}\n", s.title);
            let _ = writeln!(md, "Section time: {}.\n", minutes(s.elapsed));
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
