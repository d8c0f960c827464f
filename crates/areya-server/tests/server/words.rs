//! Every sentence the server can say in words (its refusals a dashboard shows, the audit log,
//! a gateway's failures, alert reasons and notices on pagers) has its German in the catalogue,
//! with the same slots.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A Rust or JS string literal's text from just after its opening quote; returns it and the
/// rest after the closing quote.
fn literal(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The string literals of a call's arguments, from just after its `(`: all of them, and
/// where the call ends.
fn arguments(code: &str) -> (Vec<String>, &str) {
    let mut out = Vec::new();
    let mut rest = code;
    let mut depth = 1;
    while depth > 0 {
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        match c {
            '"' => {
                let Some((text, after)) = literal(rest) else {
                    break;
                };
                out.push(text);
                rest = after;
            }
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
    }
    (out, rest)
}

/// The sentences in `code`: every string literal inside a `Words::new(…)` (the sentence, or
/// each one a `match` inside it picks from) and the joining template of a `Words::join(…)`
/// (its last literal; what it joins is found on its own).
fn sentences(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    loop {
        let new = rest.find("Words::new(");
        let join = rest.find("Words::join(");
        match (new, join) {
            (Some(n), j) if j.is_none_or(|j| n < j) => {
                let (lits, after) = arguments(&rest[n + "Words::new(".len()..]);
                out.extend(lits);
                rest = after;
            }
            (_, Some(j)) => {
                let inner = &rest[j + "Words::join(".len()..];
                out.extend(arguments(inner).0.pop());
                rest = inner;
            }
            _ => break,
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The German catalogue (`assets/de.json`, which the dashboard loads as `/catalogue.js`).
fn catalogue() -> BTreeMap<String, String> {
    serde_json::from_str(include_str!("../../src/assets/de.json")).expect("de.json reads")
}

fn slots(text: &str) -> BTreeSet<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect()
}

#[test]
fn every_sentence_the_server_says_in_words_has_its_german_with_the_same_slots() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for c in std::fs::read_dir(&crates).expect("crates").flatten() {
        let src = c.path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let mut said = BTreeSet::new();
    for f in &files {
        let code = std::fs::read_to_string(f).expect("read");
        // Unit tests say what they like.
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        said.extend(sentences(code));
    }
    said.extend(
        areya_store::AuditAction::ALL
            .iter()
            .map(|a| a.as_str().to_string()),
    );
    assert!(
        said.contains("{field}: {value} is not an hour of the day (0–23)")
            && said.contains("the gateway refused the connection")
            && said.contains("change rules"),
        "the scan finds the server's sentences: {said:?}"
    );
    let de = catalogue();
    let missing: Vec<&String> = said.iter().filter(|s| !de.contains_key(*s)).collect();
    assert!(
        missing.is_empty(),
        "no German in assets/de.json for: {missing:#?}"
    );
    let bad_slots: Vec<(&String, &String)> = de
        .iter()
        .filter(|(en, de)| slots(en) != slots(de))
        .collect();
    assert!(
        bad_slots.is_empty(),
        "German with other slots than its English: {bad_slots:#?}"
    );
}
