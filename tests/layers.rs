//! Imports point down the layers: the layer table in docs/architecture.md
//! ("Layers") is read, then every `crate::` path in `src/**/*.rs` (outside
//! comments; `use` lines, grouped `use crate::{..}` and inline paths alike) is
//! checked against it. A module may use only its own module and modules in lower
//! layers. The binary (`src/main.rs`, `src/cli/`) is the top and is not checked.
//! Also: library code outside tests has no `unwrap()` / `expect(` without a
//! `// cannot fail: ...` reason (input and storage failures are typed errors).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module -> layer, from the table under `## Layers` in docs/architecture.md:
/// rows `| N | `a`, `b` | ... |`.
fn layer_table() -> BTreeMap<String, u32> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/architecture.md"))
        .expect("read docs/architecture.md");
    let section = doc
        .split("\n## Layers\n")
        .nth(1)
        .expect("docs/architecture.md has a '## Layers' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut layers = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(level) = cells.get(1).and_then(|c| c.parse::<u32>().ok()) else {
            continue;
        };
        for name in cells[2].split('`').skip(1).step_by(2) {
            // `error`, `src/schema/` and `verify.rs` name modules alike.
            let name = name.trim_start_matches("src/").trim_end_matches('/');
            let name = name.strip_suffix(".rs").unwrap_or(name);
            layers.insert(name.to_string(), level);
        }
    }
    assert!(layers.len() > 5, "no layer table found: {layers:?}");
    layers
}

/// Names re-exported at the crate root (`pub use module::{A, B};` in lib.rs),
/// mapped to their module, so `crate::{Error, Result}` counts as `error`.
fn root_reexports() -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(Path::new(ROOT).join("src/lib.rs")).expect("read lib.rs");
    let mut map = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_end_matches(';');
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            map.insert(item.to_string(), module.to_string());
        }
    }
    map
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of `text` without `//` comments (a `//` inside a string literal ends
/// the scanned part of that line, which can only hide paths, never invent one).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, line)| {
        let code = line.split("//").next().unwrap_or("");
        (i + 1, code)
    })
}

/// The first path segment of every `crate::` path in `code`: `crate::a::b` gives
/// `a`; `crate::{a::x, B}` gives `a` and `B`.
fn crate_targets(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let preceded = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[i + "crate::".len()..];
        if preceded {
            continue; // `prefix_merge_crate::`, not this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => items.push(std::mem::take(&mut item)),
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && c != ',' {
                    item.push(c);
                }
            }
            items.push(item);
            out.extend(
                items
                    .iter()
                    .map(|i| first_segment(i.trim()))
                    .filter(|s| !s.is_empty()),
            );
        } else {
            out.push(first_segment(rest));
        }
    }
    out
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Grouped `use crate::{...}` statements span lines; join each onto its first
/// line (leaving the lines it took empty, so line numbers stay true).
fn join_use_groups(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut open = 0i32;
    let mut group_line = 0;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        if open > 0 {
            lines[group_line].push(' ');
            lines[group_line].push_str(code);
            lines.push(String::new());
        } else {
            group_line = lines.len();
            lines.push(code.to_string());
        }
        if open > 0 || code.contains("crate::{") {
            open += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        }
    }
    lines.join("\n")
}

#[test]
fn imports_point_down_the_layers() {
    let layers = layer_table();
    let reexports = root_reexports();
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut unplaced = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(module.as_str(), "lib" | "main" | "cli") {
            continue;
        }
        let Some(&level) = layers.get(&module) else {
            unplaced.push(module);
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        let joined = join_use_groups(&text);
        for (line, code) in code_lines(&joined) {
            for target in crate_targets(code) {
                checked += 1;
                let target = reexports.get(&target).cloned().unwrap_or(target);
                if target == module || target == "self" || target == "super" {
                    continue;
                }
                match layers.get(&target) {
                    Some(&t) if t < level => {}
                    Some(&t) => violations.push(format!(
                        "src/{}:{line}: {module} (layer {level}) uses {target} (layer {t})",
                        rel.display()
                    )),
                    None => unplaced.push(format!("{target} (used by src/{})", rel.display())),
                }
            }
        }
    }
    unplaced.sort();
    unplaced.dedup();
    assert!(
        unplaced.is_empty(),
        "modules missing from the layer table in docs/architecture.md: {unplaced:?}"
    );
    assert!(
        checked > 100,
        "only {checked} crate:: paths found; is the scan broken?"
    );
    assert!(
        violations.is_empty(),
        "imports up (or across) a layer:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_every_form_of_a_crate_path() {
    assert_eq!(crate_targets("use crate::key::PrefixKey;"), ["key"]);
    assert_eq!(
        crate_targets("use crate::{key::{a, b}, Error, schema::X};"),
        ["key", "Error", "schema"]
    );
    assert_eq!(
        crate_targets("let s = crate::storage::Storage::default();"),
        ["storage"]
    );
    assert!(crate_targets("use prefix_merge_crate::x;").is_empty());
    let joined = join_use_groups("use crate::{\n    input::InputFile,\n    Error,\n};\nfn f() {}");
    assert_eq!(
        crate_targets(joined.lines().next().unwrap()),
        ["input", "Error"]
    );
}

/// Library code (outside `#[cfg(test)]` modules and doc comments) may call
/// `unwrap()` / `expect(` only with a `// cannot fail: ...` reason on the line or
/// the line above.
#[test]
fn library_code_has_no_unexplained_unwrap() {
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        let lines: Vec<&str> = text.lines().collect();
        // Depth of the test-only item being skipped (None: not in one).
        let mut skipping: Option<i32> = None;
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let attr = line.trim_start();
            // `#[cfg(test)]`, or a test module gated on a feature too
            // (`#[cfg(all(test, feature = "..."))]`).
            if attr.starts_with("#[cfg(test)]") || attr.starts_with("#[cfg(all(test,") {
                skipping = Some(0);
                continue;
            }
            if let Some(depth) = skipping.as_mut() {
                let opened = code.contains('{');
                *depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
                if *depth <= 0 && (opened || code.contains('}') || code.trim_end().ends_with(';')) {
                    skipping = None;
                }
                continue;
            }
            if !(code.contains(".unwrap()") || code.contains(".expect(")) {
                continue;
            }
            let reason = |l: &str| l.contains("// cannot fail: ");
            let explained = reason(line) || (i > 0 && reason(lines[i - 1]));
            if !explained {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "unwrap/expect without a reason:\n{}",
        found.join("\n")
    );
}

/// `mod.rs` files allowed to hold code: none.
const MOD_RS_WITH_CODE: &[&str] = &[];

/// Every other `mod.rs` is a table of contents: its module doc, comments,
/// attributes, `mod` and `pub use` lines, and nothing else.
#[test]
fn every_mod_rs_is_a_table_of_contents() {
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files.iter().filter(|f| f.ends_with("mod.rs")) {
        let rel = file.strip_prefix(&src).expect("under src");
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        if MOD_RS_WITH_CODE.contains(&rel_text.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read source");
        let mut in_use = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            let allowed = in_use
                || t.is_empty()
                || t.starts_with("//")
                || t.starts_with("#[")
                || t.starts_with("mod ")
                || t.starts_with("pub mod ")
                || t.starts_with("pub use ")
                || t.starts_with("pub(crate) use ");
            if !allowed {
                found.push(format!("src/{rel_text}:{}: {t}", i + 1));
            }
            if t.starts_with("pub use ") || t.starts_with("pub(crate) use ") || in_use {
                in_use = !t.ends_with(';');
            }
        }
    }
    assert!(found.is_empty(), "code in a mod.rs:\n{}", found.join("\n"));
}
