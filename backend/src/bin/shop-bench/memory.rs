//! c. Memory of the loaded catalog model against the raw size of the products' fields.

use super::*;

impl Bench {
    pub(crate) fn memory(&mut self) -> SectionResult {
        let p = self.args.products;
        let seed = self.args.seed;
        self.say(&format!(
            "building the catalog model of {p} products in a fresh child process"
        ));
        let exe = std::env::current_exe()?;
        let out = Command::new(exe)
            .args(["--memory-probe", "--products", &p.to_string()])
            .args(["--seed", &seed.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run the memory probe")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let numbers: Vec<u64> = text
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [before, after, raw, products, without_index, _dropped] = numbers[..] else {
            bail!("the memory probe failed ({}): {text}", out.status);
        };
        let products = products as usize;
        let delta = after.saturating_sub(before);
        self.say(&format!(
            "model built: RSS {} (+{}), raw fields {}",
            mib(after),
            mib(delta),
            mib(raw)
        ));
        let mut table = Table::new(&["figure", "value", "baseline", "ratio", "goal"]);
        table.row(vec![
            format!("RSS growth with the {products}-product catalog model loaded"),
            mib(delta),
            format!("raw product fields: {}", mib(raw)),
            format!("{:.2}", delta as f64 / raw as f64),
            "— (reported)".into(),
        ]);
        table.row(vec![
            "probe process RSS with the model loaded (absolute)".into(),
            mib(after),
            format!("before building: {}", mib(before)),
            "—".into(),
            "—".into(),
        ]);
        let model = without_index.saturating_sub(before);
        let index = after.saturating_sub(without_index);
        let per = |b: u64| b as f64 / products as f64;
        table.row(vec![
            "model bytes per product, search index included".into(),
            format!("{:.0} B", per(delta)),
            format!("raw: {:.0} B", per(raw)),
            format!("{:.2}", delta as f64 / raw as f64),
            "— (reported)".into(),
        ]);
        table.row(vec![
            "model bytes per product without the search index (RSS once the index is dropped)"
                .into(),
            format!("{:.0} B", per(model)),
            format!("raw: {:.0} B", per(raw)),
            format!("{:.2}", model as f64 / raw as f64),
            "≤ 2".into(),
        ]);
        table.row(vec![
            "the search index's bytes per product (RSS it gave back when dropped)".into(),
            format!("{:.0} B", per(index)),
            "—".into(),
            "—".into(),
            "≤ 300 B (section s)".into(),
        ]);
        let notes = vec![format!(
            "VmRSS from /proc/self/status of a fresh child process (this binary with \
                 `--memory-probe`, so memory the earlier sections freed cannot hide or inflate \
                 the growth) before and after applying products 1..={p} (seed {seed}) with \
                 `CatalogFold::apply` and one `finalize`. Raw size: \
                 title + description + long_text + category + currency + image URLs bytes, plus \
                 8 + 8 for id and price. The model keeps each product as one buffer (its \
                 protobuf view, which adds the category slug and field tags, and its \
                 lower-case name key), a map by id, three sorted listings globally and per \
                 category, and the search index. The index is then dropped (and the heap \
                 trimmed) to measure the model without it."
        )];
        Ok((notes, table))
    }
}
