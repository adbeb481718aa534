//! The files of `src/` never import each other in a circle: dependencies point one way
//! (commands → ui/headless → train → model/data, everyone → config). Reads each file's
//! `crate::…` and `super::…` paths (outside `#[cfg(test)]` code), resolves them to files
//! and looks for strongly connected groups of more than one file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["train", "checkpoint"]`) of every `.rs` file under `src`.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                parts.clear();
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The longest prefix of `path` that names a file.
fn resolve<'a>(
    files: &'a BTreeMap<Vec<String>, PathBuf>,
    path: &[String],
) -> Option<&'a Vec<String>> {
    (0..=path.len())
        .rev()
        .find_map(|n| files.get_key_value(&path[..n]).map(|(k, _)| k))
}

/// Every module path that `text` (the file of module `here`) mentions. White space is
/// dropped first, so `use crate::a::{b, c::d};` reads as one word.
fn mentioned(text: &str, here: &[String]) -> Vec<Vec<String>> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let code: String = code
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .concat()
        .split_whitespace()
        .collect();
    let mut out = Vec::new();
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{' || c == ','))
        .collect();
    for word in words {
        for (root, rest) in [("crate::", true), ("super::", false)] {
            let Some(at) = word.find(root) else { continue };
            let tail = &word[at + root.len()..];
            // `super` of `train/checkpoint.rs` (module train::checkpoint) and of
            // `train/mod.rs` (module train) is the parent module alike.
            let base: Vec<String> = if rest {
                Vec::new()
            } else {
                here[..here.len().saturating_sub(1)].to_vec()
            };
            // `a::b::{c, d::e}`: one path per item in braces.
            let (stem, group) = match tail.split_once('{') {
                Some((s, g)) => (s, Some(g)),
                None => (tail, None),
            };
            let stem: Vec<String> = stem
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            match group {
                None => out.push([base.clone(), stem].concat()),
                Some(g) => {
                    for item in g.split(',') {
                        let item: Vec<String> = item
                            .split("::")
                            .map(|s| s.trim_matches(|c| c == '{' || c == '}'))
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect();
                        out.push([base.clone(), stem.clone(), item].concat());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn no_two_files_of_src_import_each_other_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = modules(&src);
    let mut edges: BTreeMap<&Vec<String>, BTreeSet<&Vec<String>>> = BTreeMap::new();
    for (module, path) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for target in mentioned(&text, module) {
            if let Some(t) = resolve(&files, &target) {
                if t != module {
                    edges.entry(module).or_default().insert(t);
                }
            }
        }
    }
    // A circle: some file reaches itself through another.
    let reaches = |from: &Vec<String>| -> BTreeSet<&Vec<String>> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&Vec<String>> = edges.get(from).into_iter().flatten().copied().collect();
        while let Some(m) = stack.pop() {
            if seen.insert(m) {
                stack.extend(edges.get(m).into_iter().flatten().copied());
            }
        }
        seen
    };
    let circles: Vec<String> = files
        .keys()
        .filter(|m| !m.is_empty())
        .filter_map(|m| {
            let mut group: Vec<String> = reaches(m)
                .into_iter()
                .filter(|other| *other != m && reaches(other).contains(m))
                .map(|o| o.join("/"))
                .collect();
            (!group.is_empty()).then(|| {
                group.push(m.join("/"));
                group.sort();
                group.join(" ↔ ")
            })
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(circles.is_empty(), "import circles in src/: {circles:#?}");
    // The reader itself works: it sees the edges that must exist.
    let key = |s: &str| s.split('/').map(str::to_string).collect::<Vec<_>>();
    assert!(edges[&key("commands/serve")].contains(&key("train")));
    assert!(edges[&key("store/checkpoint")].contains(&key("atomic")));
}
