//! The rules ARCHITECTURE.md states, checked on the source tree: modules import
//! each other without cycles, only `config` and `commands` read the command line,
//! every module says what it owns, and units stay readable (no file over 500
//! lines, no function over 120, `commands/` at most 900 lines in all).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push((p, text));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &mut out);
    out.sort();
    out
}

/// `src/engine/import/mod.rs` -> `engine`; `src/lib.rs` -> `lib`.
fn top_module(path: &Path) -> String {
    let rel = path
        .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The code before the first `#[cfg(test)]`, and whether the file is a test file.
fn non_test(path: &Path, text: &str) -> Option<String> {
    let name = path.file_name().unwrap().to_string_lossy();
    if name == "tests.rs" || name.ends_with("_tests.rs") {
        return None;
    }
    Some(match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    })
}

/// Which top-level modules each top-level module uses (`crate::x`).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in sources() {
        let top = top_module(&path);
        let Some(code) = non_test(&path, &text) else {
            continue;
        };
        let entry = graph.entry(top.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let used: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !used.is_empty() && used != top {
                entry.insert(used);
            }
        }
    }
    graph
}

#[test]
fn modules_import_each_other_without_cycles() {
    let graph = imports();
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} -> {m}", path[at..].join(" -> "));
        }
        if done.contains(m) {
            return;
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys().filter(|m| *m != "lib" && *m != "main") {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    assert!(done.contains("engine"), "the graph was read: {graph:?}");
}

#[test]
fn only_config_and_commands_read_the_command_line() {
    for (module, uses) in imports() {
        if ["config", "commands", "lib", "main", "cli"].contains(&module.as_str()) {
            continue;
        }
        assert!(!uses.contains("cli"), "{module} imports cli");
        assert!(!uses.contains("commands"), "{module} imports commands");
        assert!(!uses.contains("config"), "{module} imports config");
    }
}

#[test]
fn every_module_says_what_it_owns() {
    for (path, text) in sources() {
        assert!(
            text.starts_with("//!"),
            "{} does not start with a //! line",
            path.display()
        );
    }
}

/// Functions longer than `max` lines in `code` (signature to closing brace).
fn long_functions(code: &str, max: usize) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let t = t.strip_prefix("pub ").unwrap_or(t);
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub(super) "))
            .unwrap_or(t);
        let t = t.strip_prefix("async ").unwrap_or(t);
        let Some(rest) = t.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut opened) = (0i64, false);
        for (j, l) in lines.iter().enumerate().skip(i) {
            depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
            opened |= l.contains('{');
            if !opened && l.trim_end().ends_with(';') {
                break;
            }
            if opened && depth <= 0 {
                if j - i + 1 > max {
                    out.push((i + 1, name.clone(), j - i + 1));
                }
                break;
            }
        }
    }
    out
}

#[test]
fn units_stay_readable() {
    let mut commands = 0;
    let mut problems = Vec::new();
    for (path, text) in sources() {
        let n = text.lines().count();
        if n > 500 {
            problems.push(format!("{}: {n} lines", path.display()));
        }
        if top_module(&path) == "commands" {
            commands += n;
        }
        if let Some(code) = non_test(&path, &text) {
            for (line, name, len) in long_functions(&code, 120) {
                problems.push(format!("{}:{line} {name}: {len} lines", path.display()));
            }
        }
    }
    assert!(commands <= 900, "src/commands has {commands} lines");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_length_check_finds_a_long_function() {
    let body = "    x += 1;\n".repeat(130);
    let code = format!("fn long() {{\n{body}}}\nfn short() {{\n}}\n");
    let found = long_functions(&code, 120);
    assert_eq!(found, [(1, "long".to_string(), 132)]);
}
