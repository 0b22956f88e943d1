//! The repository stands alone and its written rules hold:
//! * no file points to a document that lives outside the repository (the old design notes);
//! * every `docs/*.md` path mentioned anywhere, and every relative link in a Markdown file,
//!   names a file that exists — and, with `#section`, a heading that exists in it;
//! * the determinism rules that clippy cannot express (`docs/architecture.md#determinism-rules`):
//!   every `select!` is `biased;`, and node code uses no std `HashMap`/`HashSet`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Build output, dependencies and data that are not part of the sources.
const NOT_SOURCES: &[&str] = &[
    ".git",
    "target",
    "target-sim",
    "target-wt",
    ".venv",
    "node_modules",
    "corpus",
    "artifacts",
    "rill-data",
    "__pycache__",
];

/// Every text file below `dir` (relative to the repository root), with its contents.
fn text_files(dir: &str) -> Vec<(PathBuf, String)> {
    fn walk(path: &Path, out: &mut Vec<(PathBuf, String)>) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if NOT_SOURCES.contains(&name) {
            return;
        }
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for entry in entries {
                walk(&entry, out);
            }
        } else if let Ok(text) = std::fs::read_to_string(path) {
            out.push((path.to_path_buf(), text));
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), &mut out);
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (code blocks skipped).
fn anchors(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// Checks that `target` (a path, optionally `#anchor`) resolved against `base` exists;
/// returns the problem otherwise.
fn check_target(base: &Path, target: &str) -> Option<String> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = base.join(path);
    if !file.exists() {
        return Some(format!("{} does not exist", relative(&file)));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if file.extension().is_some_and(|e| e == "md") {
        let text = std::fs::read_to_string(&file).unwrap();
        if !anchors(&text).iter().any(|a| a == anchor) {
            return Some(format!(
                "{} has no section #{anchor} (sections: {:?})",
                relative(&file),
                anchors(&text)
            ));
        }
    }
    None
}

/// Every file the checks read: the sources, tests, docs and top-level files.
fn repository() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for dir in [
        "src", "sim", "tests", "bench", "fuzz", "docs", ".cargo", ".ci",
    ] {
        files.extend(text_files(dir));
    }
    for file in ["README.md", "Cargo.toml", "clippy.toml"] {
        let path = root().join(file);
        files.push((path.clone(), std::fs::read_to_string(path).unwrap()));
    }
    files
}

#[test]
fn no_file_points_outside_the_repository() {
    // Spelled in two pieces so this file does not match itself.
    let outside = concat!("DESIGN", ".md");
    let offenders: Vec<String> = repository()
        .iter()
        .filter(|(_, text)| text.contains(outside))
        .map(|(path, _)| relative(path))
        .collect();
    assert!(
        offenders.is_empty(),
        "{offenders:?} mention {outside}, which is not in the repository; \
         point to docs/architecture.md instead"
    );
}

#[test]
fn every_docs_path_mentioned_exists() {
    let mut problems = Vec::new();
    let mut mentions = 0;
    for (path, text) in repository() {
        for (at, _) in text.match_indices("docs/") {
            // A path from the repository root: not the tail of a longer path or word.
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '/' || c == '_' || c == '.') {
                continue;
            }
            let token: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/._-#".contains(*c))
                .collect();
            let file_part = token.split('#').next().unwrap();
            if !file_part.ends_with(".md") {
                continue;
            }
            mentions += 1;
            if let Some(problem) = check_target(&root(), &token) {
                problems.push(format!("{}: `{token}`: {problem}", relative(&path)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The code does point to the architecture page; a scan that finds nothing is broken.
    assert!(mentions >= 5, "only {mentions} docs/*.md mentions found");
}

#[test]
fn every_relative_markdown_link_resolves() {
    let mut problems = Vec::new();
    let mut links = 0;
    for (path, text) in repository() {
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        for (at, _) in text.match_indices("](") {
            let target: String = text[at + 2..].chars().take_while(|c| *c != ')').collect();
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            links += 1;
            let target = if target.starts_with('#') {
                format!("{}{target}", path.file_name().unwrap().to_str().unwrap())
            } else {
                target
            };
            if let Some(problem) = check_target(path.parent().unwrap(), &target) {
                problems.push(format!("{}: ]({target}): {problem}", relative(&path)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(links >= 2, "only {links} relative links found");
}

/// Rust sources of node code and the simulator, without line comments.
fn rust_code(dirs: &[&str]) -> Vec<(PathBuf, String)> {
    dirs.iter()
        .flat_map(|dir| text_files(dir))
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "rs"))
        .map(|(path, text)| {
            let code = text
                .lines()
                .map(|line| line.split("//").next().unwrap())
                .collect::<Vec<_>>()
                .join("\n");
            (path, code)
        })
        .collect()
}

#[test]
fn every_select_is_biased() {
    let mut selects = 0;
    let mut problems = Vec::new();
    for (path, code) in rust_code(&["src", "sim/src", "sim/runner"]) {
        for (at, _) in code.match_indices("select! {") {
            selects += 1;
            let body = code[at + "select! {".len()..].trim_start();
            if !body.starts_with("biased;") {
                let line = code[..at].lines().count();
                problems.push(format!("{}:{line}", relative(&path)));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "select! without `biased;` (its branch order then depends on a random draw that is \
         not the simulator's): {problems:?}"
    );
    assert!(selects > 0, "no select! found: the scan is broken");
}

#[test]
fn node_code_uses_no_std_hash_maps() {
    // The client tools never run in the simulator; everything else in src/ may.
    let offenders: Vec<String> = rust_code(&["src", "sim/src"])
        .into_iter()
        .filter(|(path, _)| !path.starts_with(root().join("src/cli")))
        .filter(|(_, code)| code.contains("HashMap") || code.contains("HashSet"))
        .map(|(path, _)| relative(&path))
        .collect();
    assert!(
        offenders.is_empty(),
        "{offenders:?} use std HashMap/HashSet, whose iteration order is random per process: \
         use BTreeMap/BTreeSet"
    );
}
