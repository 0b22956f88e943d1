//! The layering of `src/` holds without anyone watching.
//!
//! Every source file belongs to one part (`PARTS`); every `crate::` path a file names (in `use`
//! items, `use` groups, and inline in code), and every `rill::` path in `main.rs`, is an arrow
//! from its part to the part it names. An arrow between two parts must be one of `ALLOWED`;
//! the ones in `FORBIDDEN` come with the reason they must never exist. Besides: role folders
//! (`partition/`, `controller/`, `group/`, later `txn/`) do not import each other but all import
//! `messages/`, the roles' shared vocabulary (which imports none of them), the pure parts
//! (Wire, Actor, Storage, Roles) name no `tokio` and, outside the file backend `src/storage/file/`,
//! no `std::fs` or `std::net`, and nothing in `src/` names the simulator crate.
//! The tables copy the intended picture of the structure; `src/lib.rs` says the same in words.
//!
//! `KNOWN` is the ratchet that brought the code to the picture: it listed the violations left
//! to fix, and the test fails on a violation that is not listed and on a listed one that no
//! longer occurs, so the list could only shrink. It is empty now: the code matches the picture.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The parts and the source paths they hold: a folder ends in `/`, anything else is one file.
/// A file no entry holds fails the test: a new top-level module must be given a part.
const PARTS: &[(&str, &[&str])] = &[
    ("Wire", &["src/protocol/"]),
    ("Security", &["src/security/"]),
    ("Actor", &["src/actor/"]),
    ("Gateway", &["src/broker/"]),
    // `messages/` is the roles' shared vocabulary: see `SHARED_ROLE_FOLDERS`.
    (
        "Roles",
        &[
            "src/partition/",
            "src/controller/",
            "src/group/",
            "src/txn/",
            "src/messages/",
        ],
    ),
    ("Storage", &["src/storage/"]),
    ("Host", &["src/host/", "src/config.rs", "src/config/"]),
    ("Face", &["src/main.rs", "src/cli/"]),
    // Plain values, bounds, fault points and the module list: every part may name them; they
    // name no part.
    (
        "Base",
        &[
            "src/types/",
            "src/limits.rs",
            "src/faults/",
            "src/metrics.rs",
            "src/lib.rs",
        ],
    ),
];

/// The arrows of the intended picture: `(from, to)` means files of `from` may import `to`.
/// Every part may also import Base, and itself.
const ALLOWED: &[(&str, &str)] = &[
    ("Host", "Gateway"),
    ("Host", "Roles"),
    ("Host", "Actor"),
    ("Host", "Storage"),
    ("Host", "Wire"),
    ("Gateway", "Wire"),
    ("Gateway", "Actor"),
    ("Gateway", "Roles"),
    ("Gateway", "Storage"),
    ("Roles", "Actor"),
    ("Roles", "Storage"),
    ("Actor", "Storage"),
    ("Face", "Host"),
    ("Face", "Storage"),
    ("Host", "Security"),
    ("Gateway", "Security"),
    ("Roles", "Security"),
    ("Face", "Security"),
];

/// Arrows that must never exist, with the reason (shown when one appears).
const FORBIDDEN: &[(&str, &str, &str)] = &[
    ("Roles", "Host", "actors record effects; they never do I/O"),
    (
        "Roles",
        "Face",
        "logic knows no command line or config file",
    ),
    (
        "Roles",
        "Gateway",
        "state machines know nothing of the Kafka request path",
    ),
    (
        "Gateway",
        "Host",
        "the gateway asks actors via a trait the host plugs in",
    ),
    ("Gateway", "Face", "the gateway knows no command line"),
    ("Actor", "Host", "the contract knows no runtime"),
    ("Wire", "Host", "the protocol adapter is pure"),
    ("Wire", "Roles", "the protocol adapter knows no state"),
    (
        "Security",
        "Host",
        "the security mechanisms are pure: bytes in, bytes out",
    ),
    (
        "Security",
        "Roles",
        "a mechanism knows no state machine; credentials are handed in",
    ),
    ("Security", "Gateway", "a mechanism knows no request path"),
    (
        "Storage",
        "Roles",
        "the disk knows nothing of replicas or groups",
    ),
    (
        "Storage",
        "Host",
        "the storage trait is implemented below the host",
    ),
];

/// Role folders every role folder may import: the node's messages, which the roles use to talk
/// to each other instead of naming each other. They import no role folder themselves.
const SHARED_ROLE_FOLDERS: &[&str] = &["messages"];

/// Parts whose code runs inside handlers or below them: no runtime.
const NO_TOKIO: &[&str] = &["Wire", "Security", "Actor", "Storage", "Roles"];

/// The one folder of those parts that may name `std::fs`: the real-disk `Storage` backend and
/// its descriptor cache. Everything else reaches files through the `Storage` trait.
const FILE_BACKEND: &str = "src/storage/file/";

/// Violations still to fix, as (file, import); the import is the path cut after its second
/// segment. None are left; never add one.
const KNOWN: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------------------------
// Reading the sources.

/// `text` with comments (line, block, doc), string literals and char literals replaced by
/// spaces, so that only code is left; newlines are kept, so line numbers still hold.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && is_ident(chars[i - 1]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(&chars, i).filter(|_| !prev_ident) {
            // r"…", r#"…"#, br#"…"#: no escapes; ends at a quote followed by the same hashes.
            let open = chars[i..].iter().position(|&c| c == '"').unwrap() + 1;
            for _ in 0..open {
                out.push(' ');
            }
            i += open;
            while i < chars.len() {
                let closes =
                    chars[i] == '"' && (0..hashes).all(|h| chars.get(i + 1 + h) == Some(&'#'));
                if closes {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let skip = if chars[i] == '\\' { 2 } else { 1 };
                for _ in 0..skip {
                    if let Some(&c) = chars.get(i) {
                        out.push(blank(c));
                    }
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                let skip = if chars[i] == '\\' { 2 } else { 1 };
                for _ in 0..skip {
                    out.push(' ');
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else {
            // A lifetime's quote, or plain code.
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The number of `#`s if a raw string literal starts at `i`.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    (chars.get(j + hashes) == Some(&'"')).then_some(hashes)
}

/// Whether the quote at `i` opens a char literal (`'x'`, `'\n'`) rather than a lifetime (`'a`).
fn is_char_literal(chars: &[char], i: usize) -> bool {
    match chars.get(i + 1) {
        Some('\\') => true,
        Some(_) => chars.get(i + 2) == Some(&'\''),
        None => false,
    }
}

/// The 1-based line of byte offset `at`.
fn line_of(code: &str, at: usize) -> usize {
    code[..at].matches('\n').count() + 1
}

/// Whether the word at `at` stands alone (no identifier character, `$` or `:` right before it).
fn word_starts(code: &str, at: usize) -> bool {
    code[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !is_ident(c) && c != '$' && c != ':')
}

/// The leaf paths of a `use` tree, e.g. `crate::{a::b, c::{self, d as e}}` gives
/// `crate::a::b`, `crate::c`, `crate::c::d`. A glob keeps its prefix (`a::*` gives `a`).
fn use_paths(tree: &str) -> Vec<String> {
    let spaced = tree.replace("::", " :: ");
    let mut tokens = Vec::new();
    for word in spaced.split_whitespace() {
        let mut current = String::new();
        for c in word.chars() {
            if "{},*".contains(c) {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                tokens.push(c.to_string());
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            tokens.push(current);
        }
    }
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    let mut at = 0;
    parse_tree(&tokens, &mut at, &[], &mut out);
    out
}

/// Parses one tree at `tokens[*at..]` below `prefix`, pushing its leaves to `out`.
fn parse_tree(tokens: &[&str], at: &mut usize, prefix: &[String], out: &mut Vec<String>) {
    let mut path: Vec<String> = prefix.to_vec();
    loop {
        match tokens.get(*at).copied() {
            Some("{") => {
                *at += 1;
                while tokens.get(*at).is_some_and(|t| *t != "}") {
                    parse_tree(tokens, at, &path, out);
                    if tokens.get(*at) == Some(&",") {
                        *at += 1;
                    }
                }
                *at += 1; // the `}`
                return;
            }
            Some("*") => {
                *at += 1;
                break;
            }
            Some("self") if !path.is_empty() => {
                *at += 1;
                break;
            }
            Some(word) if word != "," && word != "}" && word != "::" => {
                path.push(word.to_string());
                *at += 1;
                match tokens.get(*at).copied() {
                    Some("::") => *at += 1,
                    Some("as") => {
                        *at += 2; // `as alias`
                        break;
                    }
                    _ => break,
                }
            }
            _ => break,
        }
    }
    out.push(path.join("::"));
}

/// Every path starting with one of `roots` that `text` names in code, with its line:
/// from `use` items (groups expanded) and inline in expressions, types and macro calls
/// (a macro's name keeps its `!`). Comments, strings and `$crate` are not references.
fn references(text: &str, roots: &[&str]) -> Vec<(usize, String)> {
    let code = code_only(text);
    references_at(text, roots)
        .into_iter()
        .map(|(at, path)| (line_of(&code, at), path))
        .collect()
}

/// As `references`, with the byte offset of each reference instead of its line.
fn references_at(text: &str, roots: &[&str]) -> Vec<(usize, String)> {
    let mut code = code_only(text);
    let mut found = Vec::new();
    // `use` items first; each is blanked once read so the inline scan does not see it again.
    let mut from = 0;
    while let Some(pos) = code[from..].find("use") {
        let at = from + pos;
        from = at + 3;
        let after = code[at + 3..].chars().next();
        if !word_starts(&code, at) || !after.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(len) = code[at..].find(';') else {
            break;
        };
        let tree = code[at + 3..at + len].to_string();
        for path in use_paths(&tree) {
            let first = path.split("::").next().unwrap_or("");
            if roots.contains(&first) {
                found.push((at, path));
            }
        }
        // Same length in bytes, so offsets after it still hold.
        let blanked: String = code[at..at + len]
            .chars()
            .map(|c| {
                if c == '\n' {
                    "\n".to_string()
                } else {
                    " ".repeat(c.len_utf8())
                }
            })
            .collect();
        code.replace_range(at..at + len, &blanked);
    }
    for root in roots {
        let mut from = 0;
        while let Some(pos) = code[from..].find(root) {
            let at = from + pos;
            from = at + root.len();
            if !word_starts(&code, at) {
                continue;
            }
            let rest = &code[at + root.len()..];
            if !rest.trim_start().starts_with("::") {
                continue;
            }
            let mut path = root.to_string();
            let mut tail = rest;
            while let Some(after) = tail.trim_start().strip_prefix("::") {
                let after = after.trim_start();
                let segment: String = after.chars().take_while(|&c| is_ident(c)).collect();
                if segment.is_empty() {
                    break;
                }
                path.push_str("::");
                path.push_str(&segment);
                tail = &after[segment.len()..];
            }
            if tail.starts_with('!') && !tail.starts_with("!=") {
                path.push('!');
            }
            found.push((at, path));
        }
    }
    found.sort();
    found
}

/// The paths of `file` that climb to the crate root with `super::` (`super::super::host::x` in
/// `src/partition/actor.rs`), rewritten as the `crate::` path they name, with their lines. An
/// inline `mod x { … }` adds a level, so `use super::*` in a test module stays inside the file.
fn climbs_to_root(file: &str, text: &str) -> Vec<(usize, String)> {
    let code = code_only(text);
    let rest = file.strip_prefix("src/").unwrap_or(file);
    let file_depth = match rest.rsplit_once('/') {
        _ if rest == "lib.rs" || rest == "main.rs" => 0,
        Some((dirs, "mod.rs")) => dirs.split('/').count(),
        Some((dirs, _)) => dirs.split('/').count() + 1,
        None => 1,
    };
    references_at(text, &["super"])
        .into_iter()
        .filter_map(|(at, path)| {
            let line = line_of(&code, at);
            let climbs = path.split("::").take_while(|s| *s == "super").count();
            let depth = file_depth + inline_modules_open(&code, at);
            let tail: Vec<&str> = path.split("::").skip(climbs).collect();
            (climbs >= depth && !tail.is_empty())
                .then(|| (line, format!("crate::{}", tail.join("::"))))
        })
        .collect()
}

/// How many inline `mod name { … }` blocks are open at byte `at` of `code` (comments and
/// strings already blanked, so braces balance).
fn inline_modules_open(code: &str, at: usize) -> usize {
    let mut depth = 0usize;
    let mut mods: Vec<usize> = Vec::new();
    let mut pending_mod = false;
    for piece in code[..at].split_inclusive(|c: char| !is_ident(c)) {
        let word = piece.trim_end_matches(|c: char| !is_ident(c));
        if word == "mod" {
            pending_mod = true;
        }
        for c in piece.chars().filter(|c| !is_ident(*c)) {
            match c {
                '{' => {
                    depth += 1;
                    if std::mem::take(&mut pending_mod) {
                        mods.push(depth);
                    }
                }
                '}' => {
                    if mods.last() == Some(&depth) {
                        mods.pop();
                    }
                    depth = depth.saturating_sub(1);
                }
                ';' => pending_mod = false,
                _ => {}
            }
        }
    }
    mods.len()
}

/// Every `.rs` file below `src/`, relative to the repository root (with `/`), with its text.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Judging the references.

/// The part holding `file` (longest matching entry wins), if any.
fn part_of(file: &str) -> Option<&'static str> {
    PARTS
        .iter()
        .flat_map(|(part, paths)| paths.iter().map(move |p| (*part, *p)))
        .filter(|(_, p)| {
            if p.ends_with('/') {
                file.starts_with(p)
            } else {
                file == *p
            }
        })
        .max_by_key(|(_, p)| p.len())
        .map(|(part, _)| part)
}

/// The part a crate-root path names: its first segment is a module (`src/x.rs` or `src/x/`)
/// or an exported macro (`crate::m!`, found by its `macro_rules!`).
fn target_part(
    path: &str,
    files: &BTreeSet<String>,
    macros: &BTreeMap<String, String>,
) -> Option<&'static str> {
    let first = path.split("::").nth(1)?;
    if let Some(name) = first.strip_suffix('!') {
        return part_of(macros.get(name)?);
    }
    let file = format!("src/{first}.rs");
    let dir = format!("src/{first}/mod.rs");
    if files.contains(&file) {
        part_of(&file)
    } else if files.contains(&dir) {
        part_of(&dir)
    } else {
        None
    }
}

/// The role folder (`partition`, `controller`, …: the Roles entries of `PARTS`) of a file
/// (`src/partition/x.rs`) or of a path (`crate::partition::x`).
fn role_folder(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("src/")
        .or_else(|| path.split_once("::").map(|(_, rest)| rest))?;
    let folder = rest.split(['/', ':']).next()?;
    let roles = PARTS.iter().find(|(part, _)| *part == "Roles").unwrap().1;
    roles
        .contains(&format!("src/{folder}/").as_str())
        .then_some(folder)
}

/// One broken rule: where, what was named, and why it must not be.
#[derive(Debug)]
struct Violation {
    file: String,
    line: usize,
    path: String,
    /// What identifies it in `KNOWN`.
    key: String,
    why: String,
}

/// `path` cut after its second segment: `crate::host::node::NodeHandle` gives `crate::host::node`.
fn key_of(path: &str) -> String {
    path.trim_end_matches('!')
        .split("::")
        .take(3)
        .collect::<Vec<_>>()
        .join("::")
}

fn arrow_problem(from: &str, to: &str) -> Option<String> {
    if from == to || to == "Base" || ALLOWED.contains(&(from, to)) {
        return None;
    }
    Some(
        match FORBIDDEN.iter().find(|(f, t, _)| *f == from && *t == to) {
            Some((_, _, why)) => format!("{from} -> {to} is forbidden: {why}"),
            None => format!(
            "{from} -> {to} is not an arrow of the intended picture (allowed from {from}: {:?})",
            ALLOWED.iter().filter(|(f, _)| *f == from).map(|(_, t)| *t).collect::<Vec<_>>()
        ),
        },
    )
}

/// Every violation in `sources`; panics on a file no part holds or a path that names no module.
fn violations(sources: &[(String, String)]) -> Vec<Violation> {
    let files: BTreeSet<String> = sources.iter().map(|(f, _)| f.clone()).collect();
    let mut macros = BTreeMap::new();
    for (file, text) in sources {
        let code = code_only(text);
        for (at, _) in code.match_indices("macro_rules!") {
            let name: String = code[at + "macro_rules!".len()..]
                .trim_start()
                .chars()
                .take_while(|&c| is_ident(c))
                .collect();
            macros.insert(name, file.clone());
        }
    }
    let mut out = Vec::new();
    for (file, text) in sources {
        let from = part_of(file).unwrap_or_else(|| {
            panic!("{file} is on no part: add it to PARTS (and to the layout map in src/lib.rs)")
        });
        // `rill::` is the library seen from the binary.
        let roots: &[&str] = if file == "src/main.rs" {
            &["crate", "rill"]
        } else {
            &["crate"]
        };
        let mut paths = references(text, roots);
        paths.extend(climbs_to_root(file, text));
        for (line, path) in paths {
            let to = target_part(&path, &files, &macros).unwrap_or_else(|| {
                panic!("{file}:{line}: `{path}` names no module or macro of src/")
            });
            let mut why = arrow_problem(from, to);
            if why.is_none() && from == "Roles" && to == "Roles" {
                let (a, b) = (role_folder(file), role_folder(&path));
                let shared = b.is_some_and(|b| SHARED_ROLE_FOLDERS.contains(&b));
                if a != b && !shared {
                    why = Some(format!(
                        "role folders do not import each other ({} -> {}): shared message \
                         types belong in `messages/`, each role answers only through messages",
                        a.unwrap_or("?"),
                        b.unwrap_or("?")
                    ));
                }
            }
            if let Some(why) = why {
                let key = key_of(&path);
                out.push(Violation {
                    file: file.clone(),
                    line,
                    path,
                    key,
                    why,
                });
            }
        }
        let code = code_only(text);
        let word = |w: &str| {
            code.match_indices(w)
                .filter(|(at, _)| {
                    word_starts(&code, *at)
                        && code[at + w.len()..]
                            .chars()
                            .next()
                            .is_none_or(|c| !is_ident(c))
                })
                .map(|(at, _)| line_of(&code, at))
                .collect::<Vec<_>>()
        };
        if NO_TOKIO.contains(&from) {
            for line in word("tokio") {
                out.push(Violation {
                    file: file.clone(),
                    line,
                    path: "tokio".into(),
                    key: "tokio".into(),
                    why: format!(
                        "{from} names tokio: handlers and what they call run with no runtime, so \
                         the same code runs in the host and in the simulator"
                    ),
                });
            }
        }
        if NO_TOKIO.contains(&from) && !file.starts_with(FILE_BACKEND) {
            for (io, line) in ["std::fs", "std::net"]
                .into_iter()
                .flat_map(|io| word(io).into_iter().map(move |line| (io, line)))
            {
                out.push(Violation {
                    file: file.clone(),
                    line,
                    path: io.into(),
                    key: io.into(),
                    why: format!(
                        "{from} names {io}: files and sockets are reached through the Storage \
                         trait (whose file backend is `{FILE_BACKEND}`) and the host, so the \
                         simulator can stand in for them"
                    ),
                });
            }
        }
        for line in word("rill_sim") {
            out.push(Violation {
                file: file.clone(),
                line,
                path: "rill_sim".into(),
                key: "rill_sim".into(),
                why: "production code never depends on the simulator".into(),
            });
        }
    }
    out
}

#[test]
fn the_layering_holds() {
    let sources = sources();
    assert!(
        sources.len() > 50,
        "only {} source files found: the walk is broken",
        sources.len()
    );
    let found = violations(&sources);
    let known: BTreeSet<(&str, &str)> = KNOWN.iter().copied().collect();
    assert_eq!(known.len(), KNOWN.len(), "KNOWN lists an entry twice");
    let new: Vec<String> = found
        .iter()
        .filter(|v| !known.contains(&(v.file.as_str(), v.key.as_str())))
        .map(|v| format!("{}:{}: `{}`: {}", v.file, v.line, v.path, v.why))
        .collect();
    let occurring: BTreeSet<(&str, &str)> = found
        .iter()
        .map(|v| (v.file.as_str(), v.key.as_str()))
        .collect();
    let gone: Vec<String> = KNOWN
        .iter()
        .filter(|entry| !occurring.contains(entry))
        .map(|(file, key)| format!("(\"{file}\", \"{key}\")"))
        .collect();
    assert!(
        new.is_empty(),
        "imports against the layering (see the layout map in src/lib.rs):\n{}",
        new.join("\n")
    );
    assert!(
        gone.is_empty(),
        "KNOWN lists violations that no longer occur; delete these lines:\n{}",
        gone.join("\n")
    );
}

/// The test would pass on nothing if the sources could not be read: it must see the crate's
/// own arrows, and the tables must name only parts that exist.
#[test]
fn the_scan_sees_the_code() {
    let sources = sources();
    let count: usize = sources
        .iter()
        .map(|(_, t)| references(t, &["crate"]).len())
        .sum();
    assert!(
        count > 150,
        "only {count} crate:: references found: the parser is broken"
    );
    let parts: Vec<&str> = PARTS.iter().map(|(p, _)| *p).collect();
    let forbidden: Vec<(&str, &str)> = FORBIDDEN.iter().map(|(f, t, _)| (*f, *t)).collect();
    for (from, to) in ALLOWED.iter().chain(&forbidden) {
        assert!(
            parts.contains(from) && parts.contains(to),
            "{from} -> {to}: unknown part"
        );
        assert!(
            !(ALLOWED.contains(&(from, to)) && forbidden.contains(&(from, to))),
            "{from} -> {to} is both allowed and forbidden"
        );
    }
}

#[test]
fn the_parser_reads_groups_inline_paths_and_skips_comments_and_strings() {
    let source = r##"
use crate::{host::node::NodeHandle, storage::{self, log::{Log, Segment as Seg}}};
pub(crate) use crate::limits::*;
use std::collections::BTreeMap;
// use crate::cli::commented;
/// Doc: crate::docs::not_code
/* block crate::block::not_code /* nested */ still crate::block::not_code */
fn f<'a>(x: &'a str) -> char {
    let s = "crate::string::not_code \" crate::still::a_string";
    let r = r#"crate::raw::not_code"#;
    let q = '"'; let e = '\'';
    crate::partition::errors::
        KAFKA_STORAGE_ERROR;
    if crate::buggify!(0.1) {}
    q
}
macro_rules! m { () => { $crate::faults::x() }; }
pub(in crate::partition) fn g() {}
"##;
    let found: Vec<(usize, String)> = references(source, &["crate"]);
    let expected: Vec<(usize, String)> = vec![
        (2, "crate::host::node::NodeHandle".into()),
        (2, "crate::storage".into()),
        (2, "crate::storage::log::Log".into()),
        (2, "crate::storage::log::Segment".into()),
        (3, "crate::limits".into()),
        (12, "crate::partition::errors::KAFKA_STORAGE_ERROR".into()),
        (14, "crate::buggify!".into()),
        (18, "crate::partition".into()),
    ];
    assert_eq!(found, expected);
    assert_eq!(key_of("crate::host::node::NodeHandle"), "crate::host::node");
    assert_eq!(role_folder("src/partition/actor.rs"), Some("partition"));
    assert_eq!(role_folder("crate::controller::topics"), Some("controller"));
    assert_eq!(role_folder("crate::messages::NodeMsg"), Some("messages"));
    assert_eq!(role_folder("src/types/ids.rs"), None);
}

/// The rules themselves, on a made-up crate: a role importing the host (by `crate::` or by
/// climbing with `super::`) is caught with its reason; an arrow of the picture, `$crate`, a
/// comment and a test module's `super::super` are not.
#[test]
fn the_rules_catch_a_planted_import() {
    let sources: Vec<(String, String)> = [
        (
            "src/partition/x.rs",
            "use crate::host::node::NodeHandle;\nuse crate::storage::Log;\n// crate::cli::y\n",
        ),
        (
            "src/partition/y.rs",
            // The test module's `super::super` is `partition`; the function's is the crate root.
            "fn f() { crate::controller::z::f(); }\nmod tests { use super::super::x; }\n\
             fn g() { super::super::host::f(); }\n",
        ),
        (
            "src/storage/mod.rs",
            "async fn f() { tokio::task::yield_now().await }\nuse std::fs::File;\n",
        ),
        // The file backend is the one storage place that touches the file system.
        ("src/storage/file/mod.rs", "use std::fs::File;\n"),
        ("src/host/mod.rs", "use crate::partition::x;\n"),
        // A role importing the shared messages is fine; the messages importing a role is not,
        // nor is the vocabulary leaf importing anything.
        ("src/controller/mod.rs", "use crate::messages::NodeMsg;\n"),
        ("src/messages/mod.rs", "use crate::partition::x;\n"),
        ("src/types/mod.rs", "use crate::storage::Log;\n"),
        (
            "src/partition/mod.rs",
            "#[cfg(test)]\nmod tests { use super::*; }\n",
        ),
        ("src/cli/mod.rs", "use rill_sim::Cluster;\n"),
        (
            "src/faults/mod.rs",
            "macro_rules! buggify { () => { $crate::faults::f() } }\n",
        ),
        (
            "src/broker/mod.rs",
            "fn f() -> bool { crate::buggify!() }\n",
        ),
    ]
    .iter()
    .map(|(f, t)| (f.to_string(), t.to_string()))
    .collect();
    let mut found: Vec<String> = violations(&sources)
        .into_iter()
        .map(|v| format!("{}:{} {}", v.file, v.line, v.key))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "src/cli/mod.rs:1 rill_sim",
            "src/messages/mod.rs:1 crate::partition::x",
            "src/partition/x.rs:1 crate::host::node",
            "src/partition/y.rs:1 crate::controller::z",
            "src/partition/y.rs:3 crate::host::f",
            "src/storage/mod.rs:1 tokio",
            "src/storage/mod.rs:2 std::fs",
            "src/types/mod.rs:1 crate::storage::Log",
        ]
    );
    let host = violations(&sources)
        .into_iter()
        .find(|v| v.key == "crate::host::node")
        .unwrap();
    assert!(host.why.contains("actors record effects"), "{}", host.why);
}

// ---------------------------------------------------------------------------------------------
// Error codes have names.

/// The one file where a Kafka error code may be a number: every other file names the constant
/// (`ErrorCode::UNKNOWN_TOPIC_OR_PARTITION`), so a code can't be mistyped or drift from Kafka's.
const ERROR_CODE_HOME: &str = "src/types/error_code.rs";

/// Lines of `text` that give an error code as a bare number: `error_code: 3`,
/// `with_error_code(3)`, `error_code == 0`, `error_code != 0` (comments and strings skipped).
fn bare_error_codes(text: &str) -> Vec<usize> {
    const NAME: &str = "error_code";
    let code = code_only(text);
    let mut lines = Vec::new();
    for (at, _) in code.match_indices(NAME) {
        let before = &code[..at];
        let after = code[at + NAME.len()..].trim_start();
        let operand = if let Some(rest) = after.strip_prefix('(') {
            before.ends_with("with_").then_some(rest)
        } else if after.starts_with("::") {
            None
        } else {
            ["==", "!=", ":"]
                .iter()
                .find_map(|op| after.strip_prefix(op))
        };
        let Some(operand) = operand else { continue };
        let operand = operand.trim_start();
        let digits = operand.strip_prefix('-').unwrap_or(operand);
        if digits.starts_with(|c: char| c.is_ascii_digit()) {
            lines.push(line_of(&code, at));
        }
    }
    lines
}

#[test]
fn error_codes_are_named_not_numbered() {
    let found: Vec<String> = sources()
        .iter()
        .filter(|(file, _)| file != ERROR_CODE_HOME)
        .flat_map(|(file, text)| {
            bare_error_codes(text)
                .into_iter()
                .map(move |line| format!("{file}:{line}"))
        })
        .collect();
    assert!(
        found.is_empty(),
        "bare error codes; name them with `types::ErrorCode`'s constants:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_error_code_check_catches_a_number() {
    let source = r#"
let a = Done { error_code: 0, message: None };
let b = result.with_error_code(3);
if r.error_code != 0 {}
if r.error_code == -1 {}
let fine = Done { error_code: ErrorCode::NONE, message: None };
let also_fine = result.with_error_code(code.wire());
fn log_error_code(e: &LogError) -> ErrorCode { errors::of(e) }
// error_code: 3 in a comment
let s = "error_code == 0";
"#;
    assert_eq!(bare_error_codes(source), [2, 3, 4, 5]);
}
