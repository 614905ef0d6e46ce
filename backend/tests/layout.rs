//! The crate's layout rules, checked from the source itself: no module imports another that
//! (directly or through others) imports it back, and the engine is closed: it imports nothing but
//! itself and the stop signal (no context, HTTP code, handler state, metrics, configuration or
//! composition root; its `tests` modules may also use a real context as a fixture).
//!
//! Edges come from every `crate::`, `super::` and `self::` path in code (comments stripped). A path
//! ends at the deepest module it names; a name a folder's `mod.rs` re-exports (`pub use x::Item`)
//! resolves to the child that defines it, and those re-export lines themselves are the folder's
//! map, not dependencies. `lib.rs` only declares modules, so it is no node.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

struct Crate {
    /// Module path → its source with comments stripped.
    modules: BTreeMap<Module, String>,
    /// (folder module, re-exported name) → the child module that defines it.
    reexports: BTreeMap<(Module, String), Module>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let mut quotes = 0;
        let bytes = line.as_bytes();
        let mut end = line.len();
        for i in 0..bytes.len() {
            match bytes[i] {
                b'"' if i == 0 || bytes[i - 1] != b'\\' => quotes += 1,
                b'/' if quotes % 2 == 0 && bytes.get(i + 1) == Some(&b'/') => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        out.push_str(&line[..end]);
        out.push('\n');
    }
    out
}

fn collect(dir: &Path, prefix: &Module, modules: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if prefix.is_empty() && name == "bin" {
                continue;
            }
            let mut module = prefix.clone();
            module.push(name);
            collect(&path, &module, modules);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.clone();
            if name != "mod" {
                if prefix.is_empty() && (name == "lib" || name == "main") {
                    continue;
                }
                module.push(name);
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            modules.insert(module, strip_comments(&text));
        }
    }
}

/// `use` trees with braces flattened into plain paths: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, …
fn expand_tree(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(&tree).to_string()];
    };
    let head = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand_tree(p)
                .into_iter()
                .map(move |s| format!("{head}{s}"))
        })
        .collect()
}

/// Every path in `code` that starts at `crate`, `super` or `self`.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(pos) = rest.find("use ") {
        let before = &rest[..pos];
        let boundary = before
            .chars()
            .last()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        rest = &rest[pos + 4..];
        if !boundary {
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        let tree = rest[..end].trim();
        if tree.starts_with("crate::") || tree.starts_with("super::") || tree.starts_with("self::")
        {
            out.extend(expand_tree(tree));
        }
    }
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(pos) = rest.find(root) {
            let boundary = rest[..pos]
                .chars()
                .last()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != ':');
            let tail = &rest[pos..];
            let len = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            if boundary {
                out.push(tail[..len].trim_end_matches(':').to_string());
            }
            rest = &rest[pos + len.max(1)..];
        }
    }
    out
}

impl Crate {
    fn load() -> Self {
        let mut modules = BTreeMap::new();
        collect(&src_dir(), &Vec::new(), &mut modules);
        let mut reexports = BTreeMap::new();
        for (module, code) in &modules {
            for line in code.lines().map(str::trim) {
                let Some(tree) = line.strip_prefix("pub use ") else {
                    continue;
                };
                let tree = tree.trim_end_matches(';');
                for path in expand_tree(tree) {
                    let path = path.strip_prefix("self::").unwrap_or(&path);
                    let segments: Vec<&str> = path.split("::").collect();
                    let mut child = module.clone();
                    child.push(segments[0].to_string());
                    if segments.len() > 1 && modules.contains_key(&child) {
                        let name = segments.last().unwrap();
                        let name = name.rsplit(" as ").next().unwrap().to_string();
                        reexports.insert((module.clone(), name), child);
                    }
                }
            }
        }
        Crate { modules, reexports }
    }

    /// The module a path (seen from `from`) ends in.
    fn resolve(&self, from: &Module, path: &str, in_inline_mod: bool) -> Option<Module> {
        let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
        let mut current: Module = match *segments.peek()? {
            "crate" => Vec::new(),
            "self" => from.clone(),
            "super" if in_inline_mod => from.clone(),
            "super" => from[..from.len().saturating_sub(1)].to_vec(),
            _ => return None,
        };
        segments.next();
        while segments.peek() == Some(&"super") {
            segments.next();
            current.pop();
        }
        for segment in segments {
            let mut next = current.clone();
            next.push(segment.to_string());
            if self.modules.contains_key(&next) {
                current = next;
            } else if let Some(child) = self.reexports.get(&(current.clone(), segment.to_string()))
            {
                current = child.clone();
                break;
            } else {
                break;
            }
        }
        Some(current)
    }

    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, code) in &self.modules {
            let targets = edges.entry(module.clone()).or_default();
            // A file's own `mod tests { use super::*; }` points back at the file, not its parent.
            let inline_mod = code.find("mod tests {").unwrap_or(code.len());
            let (outer, inner) = code.split_at(inline_mod);
            let outer: String = outer
                .lines()
                .filter(|l| !l.trim_start().starts_with("pub use ") || !module_reexport(l))
                .map(|l| format!("{l}\n"))
                .collect();
            for (part, inline) in [(outer.as_str(), false), (inner, true)] {
                for path in paths(part) {
                    if let Some(target) = self.resolve(module, &path, inline)
                        && &target != module
                        && !target.is_empty()
                    {
                        targets.insert(target);
                    }
                }
            }
        }
        edges
    }
}

/// A `pub use` of the file's own child (`pub use fold::Fold;`, `pub use self::x::Y;`).
fn module_reexport(line: &str) -> bool {
    let tree = line.trim().trim_start_matches("pub use ");
    !(tree.starts_with("crate::") || tree.starts_with("super::"))
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let Some((w, _)) = s.edges.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn name(module: &Module) -> String {
    module.join("::")
}

#[test]
fn no_module_imports_itself_through_others() {
    let krate = Crate::load();
    assert!(krate.modules.len() > 20, "the source tree was not found");
    let found = cycles(&krate.edges());
    let report: Vec<String> = found
        .iter()
        .map(|c| c.iter().map(name).collect::<Vec<_>>().join(", "))
        .collect();
    assert!(
        report.is_empty(),
        "import cycles in backend/src:\n{}",
        report.join("\n")
    );
}

/// The only modules outside itself the engine may import: the stop signal it is handed.
/// Everything else (contexts, HTTP, handler state, metrics, configuration, start-up code) wraps
/// the engine from outside, through its hooks (`Observer`, `engine::metrics`, the apply span)
/// and its own settings types (`KafkaSettings`, `SnapshotSettings`).
const ENGINE_MAY_IMPORT: [&str; 2] = ["engine", "shutdown"];

/// What the engine's own unit tests may also import: real contexts as fixtures (snapshots of
/// real models). Never metrics, configuration or anything else the engine must not know.
const ENGINE_TEST_FIXTURES: [&str; 2] = ["catalog", "checkout"];

/// Every import by which the engine leaves [`ENGINE_MAY_IMPORT`], as `from -> to` lines: what
/// ships is followed through every module it reaches; a `tests` module is checked for its own
/// imports only.
fn engine_leaks(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let is_test = |m: &Module| m.last().is_some_and(|l| l == "tests");
    let engine: Vec<&Module> = edges
        .keys()
        .filter(|m| m.first().is_some_and(|f| f == "engine"))
        .collect();
    assert!(!engine.is_empty(), "no engine module found");
    let mut leaks = BTreeSet::new();
    for test in engine.iter().filter(|m| is_test(m)) {
        for t in &edges[*test] {
            if !ENGINE_MAY_IMPORT.contains(&t[0].as_str())
                && !ENGINE_TEST_FIXTURES.contains(&t[0].as_str())
            {
                leaks.insert(format!("{} -> {}", name(test), name(t)));
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut todo: Vec<Module> = engine
        .into_iter()
        .filter(|m| !is_test(m))
        .cloned()
        .collect();
    while let Some(m) = todo.pop() {
        if !seen.insert(m.clone()) {
            continue;
        }
        for t in edges.get(&m).into_iter().flatten().filter(|t| !is_test(t)) {
            if ENGINE_MAY_IMPORT.contains(&t[0].as_str()) {
                todo.push(t.clone());
            } else {
                leaks.insert(format!("{} -> {}", name(&m), name(t)));
            }
        }
    }
    leaks.into_iter().collect()
}

#[test]
fn the_engine_imports_nothing_but_itself_and_the_stop_signal() {
    let krate = Crate::load();
    let leaks = engine_leaks(&krate.edges());
    assert!(
        leaks.is_empty(),
        "the engine imports what must reach it from outside (through a hook or a settings type \
         of its own):\n{}",
        leaks.join("\n")
    );
}

/// The engine check sees a wrong-way import, direct or through a module the engine may use, and
/// lets a test module use a context as a fixture but not metrics.
#[test]
fn the_engine_check_sees_imports_that_leave_the_engine() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
    let edges: BTreeMap<Module, BTreeSet<Module>> = [
        ("engine::kafka", vec!["config", "engine::metrics"]),
        ("engine::metrics", vec![]),
        ("engine::writer", vec!["shutdown", "engine::kafka"]),
        ("shutdown", vec!["ops::metrics"]),
        (
            "engine::snapshot::tests",
            vec!["catalog::fold", "ops::metrics"],
        ),
        ("catalog::fold", vec!["http"]),
    ]
    .into_iter()
    .map(|(from, to)| (m(from), to.into_iter().map(m).collect()))
    .collect();
    assert_eq!(
        engine_leaks(&edges),
        vec![
            "engine::kafka -> config",
            "engine::snapshot::tests -> ops::metrics",
            "shutdown -> ops::metrics",
        ]
    );
}

/// The checker itself finds a cycle when one exists (so a silent parser cannot pass the test).
#[test]
fn the_checker_sees_cycles_and_resolves_reexports() {
    let mut modules = BTreeMap::new();
    let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
    modules.insert(
        m("a"),
        strip_comments("use crate::b::{x, y::Z};\n// use crate::c;\n"),
    );
    modules.insert(
        m("b"),
        strip_comments("pub use inner::Thing;\nfn f() { crate::a::g() }\n"),
    );
    modules.insert(m("b::inner"), "pub struct Thing;".to_string());
    modules.insert(m("b::y"), "pub struct Z;".to_string());
    modules.insert(
        m("c"),
        "use crate::b::Thing;\nmod tests {\n use super::*;\n}\n".to_string(),
    );
    let mut reexports = BTreeMap::new();
    reexports.insert((m("b"), "Thing".to_string()), m("b::inner"));
    let krate = Crate { modules, reexports };
    let edges = krate.edges();
    assert_eq!(edges[&m("c")], BTreeSet::from([m("b::inner")]));
    assert_eq!(edges[&m("a")], BTreeSet::from([m("b"), m("b::y")]));
    assert_eq!(cycles(&edges), vec![vec![m("a"), m("b")]]);
}

/// The crate map's rows, from the inside out (as `lib.rs` draws them): a module imports only
/// modules of its own row or of a row before it. A module belongs to the row of the longest
/// entry that names it or a folder above it, so `catalog::http` is a handler while the rest of
/// `catalog` is the context's model, rules and reads.
const ROWS: &[(&str, &[&str])] = &[
    ("the engine and the stop signal", &["engine", "shutdown"]),
    (
        "settings, metrics and traces, a command's identity",
        &["config", "ops", "commands::meta"],
    ),
    (
        "the contexts: models, rules, reads, the bridge",
        &["catalog", "checkout", "bridge"],
    ),
    (
        "the HTTP vocabulary, the command path, the product views",
        &["http", "commands", "catalog::view"],
    ),
    (
        "the handlers",
        &[
            "catalog::http",
            "checkout::http",
            "admin",
            "eventlog",
            "live",
        ],
    ),
    (
        "the server and what it hands the handlers",
        &["server", "state"],
    ),
    (
        "the composition root, the command line, the tools",
        &["app", "cli", "tools"],
    ),
];

/// The row of a module: the longest entry of [`ROWS`] that is the module or a folder above it.
fn row_of(module: &Module) -> Option<usize> {
    let path = name(module);
    ROWS.iter()
        .enumerate()
        .flat_map(|(i, (_, entries))| entries.iter().map(move |e| (i, *e)))
        .filter(|(_, e)| path == *e || path.starts_with(&format!("{e}::")))
        .max_by_key(|(_, e)| e.len())
        .map(|(i, _)| i)
}

/// Every import from a row to a higher one, and every module no row names, as lines. `tests`
/// modules are left out: they may use anything as a fixture.
fn row_breaks(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let is_test = |m: &Module| m.last().is_some_and(|l| l == "tests");
    let mut out = Vec::new();
    for (from, targets) in edges.iter().filter(|(m, _)| !is_test(m)) {
        let Some(r) = row_of(from) else {
            out.push(format!("{} is in no row of the crate map", name(from)));
            continue;
        };
        for to in targets.iter().filter(|t| !is_test(t)) {
            match row_of(to) {
                Some(t) if t > r => out.push(format!(
                    "{} ({}) -> {} ({})",
                    name(from),
                    ROWS[r].0,
                    name(to),
                    ROWS[t].0
                )),
                _ => {}
            }
        }
    }
    out
}

#[test]
fn every_module_imports_only_its_own_row_and_the_rows_below() {
    let krate = Crate::load();
    let breaks = row_breaks(&krate.edges());
    assert!(
        breaks.is_empty(),
        "imports against the crate map (a lower row must not know a higher one: move the code \
         to the row it belongs to, or pass it in from above):\n{}",
        breaks.join("\n")
    );
}

/// The row check sees an import from a lower row to a higher one, and a module no row names.
#[test]
fn the_row_check_sees_wrong_way_imports() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
    let edges: BTreeMap<Module, BTreeSet<Module>> = [
        ("catalog::fold", vec!["engine::context", "http::wire"]),
        ("catalog::http", vec!["catalog::fold", "http::wire"]),
        ("http::wire", vec![]),
        ("ops::metrics", vec!["state"]),
        ("newcomer", vec![]),
        ("catalog::tests", vec!["server::dispatch"]),
    ]
    .into_iter()
    .map(|(from, to)| (m(from), to.into_iter().map(m).collect()))
    .collect();
    let breaks = row_breaks(&edges);
    assert_eq!(breaks.len(), 3, "{breaks:#?}");
    assert!(
        breaks[0].starts_with("catalog::fold (the contexts"),
        "{breaks:#?}"
    );
    assert!(breaks[0].contains("-> http::wire"), "{breaks:#?}");
    assert!(
        breaks[1].starts_with("newcomer is in no row"),
        "{breaks:#?}"
    );
    assert!(breaks[2].starts_with("ops::metrics"), "{breaks:#?}");
}
