//! Keeps the design documents honest: every `` `path/to/file.rs: fn_name` `` that ARCHITECTURE.md
//! or tracker/src/store/STATE.md names must be a file of this workspace that defines `fn fn_name`,
//! and every path they name (`tracker/src/store/`, `proto/src/lib.rs`) must exist. Reads only the
//! source tree.

use std::path::{Path, PathBuf};

/// The documents checked, relative to the workspace root, with the fewest `file: fn` references
/// each must have (so a change of notation cannot make the check pass by finding nothing).
const DOCUMENTS: [(&str, usize); 2] = [("ARCHITECTURE.md", 80), ("tracker/src/store/STATE.md", 50)];

fn workspace_root() -> PathBuf {
    // This crate sits one directory below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cluster crate has a parent directory")
        .to_path_buf()
}

/// What one inline code span of a document names.
#[derive(Debug, PartialEq, Eq)]
enum Reference {
    /// `path/to/file.rs: fn_name`.
    Function { file: String, name: String },
    /// `crate/path/file.rs` or `crate/path/dir/`.
    Path(String),
    /// Code that names neither.
    Other,
    /// Looks like a function reference but is not in the notation (`file.rs:name`, `a.rs: T::f`).
    Malformed(String),
}

fn is_path(s: &str) -> bool {
    let Some((first, _)) = s.split_once('/') else {
        return false;
    };
    !first.is_empty()
        && first.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && (s.ends_with(".rs") || s.ends_with(".md") || s.ends_with('/'))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn classify(code: &str) -> Reference {
    if let Some((file, name)) = code.split_once(".rs:") {
        let file = format!("{file}.rs");
        return match name.strip_prefix(' ') {
            Some(name) if is_path(&file) && is_identifier(name) => Reference::Function {
                file,
                name: name.to_string(),
            },
            _ => Reference::Malformed(code.to_string()),
        };
    }
    if is_path(code) {
        return Reference::Path(code.to_string());
    }
    Reference::Other
}

/// Every inline code span outside fenced blocks, with its line number.
fn code_spans(text: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for (i, piece) in line.split('`').enumerate() {
            if i % 2 == 1 && !piece.trim().is_empty() {
                spans.push((n + 1, piece.trim().to_string()));
            }
        }
    }
    spans
}

/// Whether `source` defines `fn name` (followed by its parameters or generics).
fn defines(source: &str, name: &str) -> bool {
    let needle = format!("fn {name}");
    source.match_indices(&needle).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && matches!(after, Some('(' | '<'))
    })
}

#[test]
fn every_named_function_and_path_exists() {
    let root = workspace_root();
    let mut problems = Vec::new();
    for (doc, fewest) in DOCUMENTS {
        let text = std::fs::read_to_string(root.join(doc))
            .unwrap_or_else(|e| panic!("cannot read {doc}: {e}"));
        let mut functions = 0;
        for (line, code) in code_spans(&text) {
            match classify(&code) {
                Reference::Function { file, name } => {
                    functions += 1;
                    match std::fs::read_to_string(root.join(&file)) {
                        Ok(source) if defines(&source, &name) => {}
                        Ok(_) => problems.push(format!("{doc}:{line}: {file} has no `fn {name}`")),
                        Err(e) => problems.push(format!("{doc}:{line}: {file}: {e}")),
                    }
                }
                Reference::Path(path) => {
                    if !root.join(&path).exists() {
                        problems.push(format!("{doc}:{line}: {path} does not exist"));
                    }
                }
                Reference::Malformed(code) => problems.push(format!(
                    "{doc}:{line}: `{code}` is not in the `path/to/file.rs: fn_name` notation"
                )),
                Reference::Other => {}
            }
        }
        if functions < fewest {
            problems.push(format!(
                "{doc}: only {functions} `file.rs: fn` references found, expected at least {fewest}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_parser_reads_the_notation() {
    assert_eq!(
        classify("tracker/src/api/write.rs: handle"),
        Reference::Function {
            file: "tracker/src/api/write.rs".into(),
            name: "handle".into()
        }
    );
    assert_eq!(
        classify("tracker/src/store/"),
        Reference::Path("tracker/src/store/".into())
    );
    assert_eq!(classify("--write-gather-ms"), Reference::Other);
    assert_eq!(classify("write.rs"), Reference::Other);
    assert!(matches!(
        classify("tracker/src/app.rs:propose"),
        Reference::Malformed(_)
    ));
    assert!(matches!(
        classify("proto/src/client.rs: TrackerClient::write"),
        Reference::Malformed(_)
    ));
    let spans = code_spans("a `x/y.rs: f` b\n```\n`not/this.rs: g`\n```\n`` `z/w.rs: h` ``\n");
    let codes: Vec<&str> = spans.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(codes, vec!["x/y.rs: f", "z/w.rs: h"]);
    assert!(defines("pub async fn read(&self)", "read"));
    assert!(defines("fn get<T: Record>(", "get"));
    assert!(!defines("fn read_traced(", "read"));
    assert!(!defines("fn unread(", "read"));
}
