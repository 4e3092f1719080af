//! Only the runtime module (`actors::rt`, and the simulated runtime it hands calls to,
//! `actors::sim`) names the runtime, reads the clock, draws random bytes or starts a thread: the library code of `actors` and `actors-net` reaches each through
//! it, so that the runtime can be swapped (for a simulated one, in virtual time) in one place.

use std::path::{Path, PathBuf};

/// What library code must not write outside `runtime.rs`, and what to use instead.
const FORBIDDEN: &[(&str, &str)] = &[
    ("async_std", "actors::rt"),
    ("async_global_executor", "actors::rt::spawn"),
    ("Instant::now", "rt::now"),
    (".elapsed()", "rt::elapsed"),
    ("SystemTime", "rt::now"),
    ("getrandom", "rt::fill_random"),
    ("thread::spawn", "rt::spawn or rt::spawn_blocking"),
    ("thread::sleep", "rt::sleep"),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder").flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn only_the_runtime_module_names_the_runtime_the_clock_and_randomness() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [root.join("src"), root.join("../actors-net/src")] {
        sources(&dir, &mut files);
    }
    assert!(files.len() > 20, "both crates' sources were read");
    let mut found = Vec::new();
    let runtime = |f: &&PathBuf| f.ends_with("src/runtime.rs") || f.ends_with("src/sim.rs");
    for file in files.iter().filter(|f| !runtime(f)) {
        let text = std::fs::read_to_string(file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            // Code only: comments may name what they like.
            let code = line.split("//").next().unwrap_or("");
            for (bad, instead) in FORBIDDEN {
                if code.contains(bad) {
                    found.push(format!(
                        "{}:{}: `{bad}` (use {instead})",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "outside runtime.rs:\n{}",
        found.join("\n")
    );
}
