//! The layers of each library crate call only downward, and no modules import each other
//! round a circle, except inside a crate's kernel folder, whose types hold each other. Read
//! from the `crate::`, `super::` and child-module paths of every source file; the layers are
//! the ones written at the top of each crate's `src/lib.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core: plain values at the bottom, the runtime beside them, the mailbox, the kernel, then
/// what runs on it; distribution's seam on top.
const CORE: &[(&str, u32)] = &[
    ("lock", 0),
    ("domain", 0),
    ("exit", 0),
    ("etf", 0),
    ("shown", 1),
    ("shape", 0),
    ("sim", 0),
    ("runtime", 1),
    ("error", 1),
    ("origin", 2),
    ("cbor", 1),
    ("id", 2),
    ("extension", 2),
    ("sync", 2),
    ("mailbox", 3),
    ("kernel", 4),
    ("registry", 5),
    ("monitor", 5),
    ("kill", 5),
    ("decoding", 5),
    ("process", 6),
    ("call", 7),
    ("supervisor", 8),
    ("dist", 8),
    ("message_codec", 9),
    ("introspect", 9),
];

const NET: &[(&str, u32)] = &[
    ("config", 0),
    ("builder", 0),
    ("transport", 0),
    ("tls", 0),
    ("logs", 0),
    ("discovery", 0),
    ("overlay", 0),
    ("http", 0),
    ("handshake", 1),
    ("frame", 2),
    ("connection", 3),
    ("io", 3),
    ("links", 3),
    ("net", 4),
    ("setup", 4),
    ("router", 5),
    ("requests", 5),
    ("control", 5),
    ("dispatch", 5),
    ("node", 6),
    ("global", 7),
    ("groups", 7),
    ("pubsub", 7),
    ("presence", 7),
    ("introspect", 7),
    ("metrics", 7),
    ("observer", 7),
    ("spawn", 7),
    ("system", 7),
    ("beam", 7),
    ("distributed", 7),
    ("failover", 7),
    ("start", 8),
    ("sim", 9),
];

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

/// The file of module `path` (`["global", "server"]`), if there is one.
fn file_of(src: &Path, path: &[String]) -> Option<PathBuf> {
    let mut base = src.to_path_buf();
    for seg in &path[..path.len().saturating_sub(1)] {
        base = base.join(seg);
    }
    let last = path.last()?;
    [
        base.join(format!("{last}.rs")),
        base.join(last).join("mod.rs"),
    ]
    .into_iter()
    .find(|p| p.exists())
}

/// The module path of a source file: `global/server.rs` -> `["global", "server"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The deepest module file named by `path` (items after the module are ignored).
fn resolve(src: &Path, path: &[String]) -> Option<PathBuf> {
    (1..=path.len())
        .rev()
        .find_map(|n| file_of(src, &path[..n]))
}

/// Every path this file's code names through `crate::`, `super::`, or a child module.
fn references(src: &Path, file: &Path, text: &str) -> BTreeSet<PathBuf> {
    let me = module_of(src, file);
    let is_dir_module = file.ends_with("mod.rs") || file.ends_with("lib.rs");
    let here: Vec<String> = if is_dir_module {
        me.clone()
    } else {
        me[..me.len().saturating_sub(1)].to_vec()
    };
    let mut found = BTreeSet::new();
    // Code only: comments and doc comments name modules too.
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let words = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|w| {
                w.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|w| !w.is_empty())
            .collect()
    };
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", here[..here.len().saturating_sub(0)].to_vec()),
    ] {
        let base = if prefix == "super::" {
            // `super` of a file module is its folder's module; of a folder module, the one above.
            if is_dir_module {
                me[..me.len().saturating_sub(1)].to_vec()
            } else {
                here.clone()
            }
        } else {
            base
        };
        for (i, _) in code.match_indices(prefix) {
            // Not part of a longer word (`actors::crate::` cannot occur; `some_crate::` can).
            if code[..i]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let rest = &code[i + prefix.len()..];
            let groups: Vec<String> = if let Some(inner) = rest.strip_prefix('{') {
                let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                inner.split(',').map(|s| s.trim().to_string()).collect()
            } else {
                vec![rest.to_string()]
            };
            for g in groups {
                let mut path = base.clone();
                path.extend(words(&g));
                if let Some(f) = resolve(src, &path) {
                    found.insert(f);
                }
            }
        }
    }
    // `use child::...` in a folder module names its child modules.
    if is_dir_module {
        for line in code.lines() {
            let line = line.trim_start();
            let line = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub "))
                .unwrap_or(line);
            if let Some(rest) = line.strip_prefix("use ") {
                let mut path = me.clone();
                path.extend(words(rest));
                if path.len() > me.len()
                    && let Some(f) = file_of(src, &path[..me.len() + 1])
                {
                    found.insert(f);
                }
            }
        }
    }
    found.remove(file);
    found
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src readable").flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Checks one crate: every module has a layer, none uses a higher one, and the only circles
/// are among the files of the folder module `knot`, if one is named.
fn check(name: &str, layers: &[(&str, u32)], knot: Option<&str>) {
    let src = crate_src(name);
    let top = |file: &Path| module_of(&src, file).first().cloned();
    let layer = |file: &Path| {
        let top = top(file)?;
        layers.iter().find(|(m, _)| *m == top).map(|(_, l)| *l)
    };
    let in_knot = |file: &Path| knot.is_some_and(|k| top(file).as_deref() == Some(k));
    let mut files = Vec::new();
    sources(&src, &mut files);
    let lib = src.join("lib.rs");
    let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    let mut upward = Vec::new();
    for file in files.iter().filter(|f| **f != lib) {
        let own = layer(file).unwrap_or_else(|| panic!("{} has no layer", file.display()));
        let text = std::fs::read_to_string(file).expect("readable");
        let refs: BTreeSet<PathBuf> = references(&src, file, &text)
            .into_iter()
            .filter(|r| *r != lib)
            .collect();
        for r in &refs {
            let theirs = layer(r).unwrap_or_else(|| panic!("{} has no layer", r.display()));
            if theirs > own {
                upward.push(format!(
                    "{} (layer {own}) uses {} (layer {theirs})",
                    file.display(),
                    r.display()
                ));
            }
        }
        // Inside the knot the files hold each other by design: only its edges out count.
        let refs = refs
            .into_iter()
            .filter(|r| !(in_knot(file) && in_knot(r)))
            .collect();
        graph.insert(file.clone(), refs);
    }
    assert!(
        upward.is_empty(),
        "{name} calls upward:\n{}",
        upward.join("\n")
    );
    fn visit(
        n: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        path: &mut Vec<PathBuf>,
        done: &mut BTreeSet<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            return Some(path[i..].to_vec());
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.clone());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(circle) = visit(m, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        let circle = visit(n, &graph, &mut Vec::new(), &mut done);
        assert!(
            circle.is_none(),
            "{name}: modules import each other round a circle: {:?}",
            circle.unwrap_or_default()
        );
    }
    assert!(graph.len() >= layers.len(), "{name}: every module was read");
}

#[test]
fn the_core_calls_only_downward_and_its_only_circle_is_the_kernel() {
    check("actors", CORE, Some("kernel"));
}

#[test]
fn the_network_layer_calls_only_downward_without_circles() {
    check("actors-net", NET, None);
}
