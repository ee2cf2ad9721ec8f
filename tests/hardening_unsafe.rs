//! `unsafe` code lives in one small crate, `crates/exflow-mmap` (the memory
//! map of a capture file), and nowhere else: not in the main crate, its
//! tests, benches and examples, nor the fuzz targets. Each `unsafe` block
//! there carries a `SAFETY:` comment stating its invariant.
//!
//! The main crate's roots also forbid unsafe code, so the compiler rejects
//! it there; this test covers the files no `forbid` reaches.

use std::fs;
use std::path::{Path, PathBuf};

/// The only directory allowed to hold `unsafe`.
const UNSAFE_CRATE: &str = "crates/exflow-mmap";

/// Directories whose Rust files are searched, relative to the repository.
const SEARCHED: [&str; 7] = [
    "src",
    "tests",
    "benches",
    "examples",
    "crates",
    "fuzz/src",
    "fuzz/fuzz_targets",
];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// Returns `source` with comments, string literals and character literals
/// blanked out (their newlines kept), so that only code is left to search.
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut code = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |code: &mut String, text: &[u8]| {
        for &byte in text {
            code.push(if byte == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < bytes.len() {
        let rest = &bytes[i..];
        let end = if rest.starts_with(b"//") {
            rest.iter()
                .position(|&byte| byte == b'\n')
                .unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            // Block comments nest in Rust.
            let (mut depth, mut at) = (0usize, 0);
            loop {
                if at >= rest.len() {
                    break rest.len();
                }
                if rest[at..].starts_with(b"/*") {
                    depth += 1;
                    at += 2;
                } else if rest[at..].starts_with(b"*/") {
                    depth -= 1;
                    at += 2;
                    if depth == 0 {
                        break at;
                    }
                } else {
                    at += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(rest) {
            let closing: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let body = hashes + 2 + usize::from(rest[0] == b'b');
            rest[body..]
                .windows(closing.len())
                .position(|window| window == closing.as_slice())
                .map_or(rest.len(), |at| body + at + closing.len())
        } else if rest[0] == b'"' {
            let mut at = 1;
            while at < rest.len() && rest[at] != b'"' {
                at += if rest[at] == b'\\' { 2 } else { 1 };
            }
            (at + 1).min(rest.len())
        } else if rest[0] == b'\'' && rest.get(1) == Some(&b'\\') {
            rest[2..]
                .iter()
                .position(|&byte| byte == b'\'')
                .map_or(rest.len(), |at| at + 3)
        } else if rest[0] == b'\'' && char_literal_len(rest).is_some() {
            char_literal_len(rest).unwrap_or(1)
        } else {
            let c = source[i..]
                .chars()
                .next()
                .expect("a character at a boundary");
            code.push(c);
            i += c.len_utf8();
            continue;
        };
        blank(&mut code, &rest[..end]);
        i += end;
    }
    code
}

/// Returns the number of `#` of a raw string literal starting `rest`.
fn raw_string_start(rest: &[u8]) -> Option<usize> {
    let after_r = match rest {
        [b'r', tail @ ..] => tail,
        [b'b', b'r', tail @ ..] => tail,
        _ => return None,
    };
    let hashes = after_r.iter().take_while(|&&byte| byte == b'#').count();
    (after_r.get(hashes) == Some(&b'"')).then_some(hashes)
}

/// Returns the length of an unescaped character literal starting `rest` (a
/// quote, one character, a quote), or `None` for a lifetime.
fn char_literal_len(rest: &[u8]) -> Option<usize> {
    let tail = &rest[1..];
    let first = (1..=tail.len().min(4)).find_map(|len| std::str::from_utf8(&tail[..len]).ok())?;
    let c = first.chars().next()?;
    (tail.get(c.len_utf8()) == Some(&b'\'')).then_some(2 + c.len_utf8())
}

/// Returns the 1-based line numbers where the keyword `unsafe` appears in code.
fn unsafe_lines(source: &str) -> Vec<usize> {
    let code = code_only(source);
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let bytes = code.as_bytes();
    code.match_indices("unsafe")
        .filter(|&(at, word)| {
            let before = at.checked_sub(1).map(|b| bytes[b]);
            let after = bytes.get(at + word.len()).copied();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
        .map(|(at, _)| code[..at].matches('\n').count() + 1)
        .collect()
}

fn searched_files() -> Vec<PathBuf> {
    let root = repository();
    let mut files = Vec::new();
    for directory in SEARCHED {
        rust_files(&root.join(directory), &mut files);
    }
    files.sort();
    files
}

#[test]
fn lexer_sees_only_code() {
    let source = "// unsafe in a comment\n/* unsafe /* nested */ unsafe */\nlet a = \"unsafe\";\nlet b = r#\"unsafe \"quoted\"\"#;\nlet c = '\"'; fn is_unsafe_char<'a>() {}\nunsafe { x }\n";
    assert_eq!(unsafe_lines(source), vec![6]);
}

#[test]
fn unsafe_only_in_mmap_crate() {
    let root = repository();
    let files = searched_files();
    assert!(
        files.len() > 50,
        "only {} Rust files found under {}",
        files.len(),
        root.display()
    );

    let mut outside = Vec::new();
    let mut inside = 0;
    for path in &files {
        let source = fs::read_to_string(path).expect("a readable source file");
        let lines = unsafe_lines(&source);
        let relative = path.strip_prefix(&root).expect("under the repository");
        if relative.starts_with(UNSAFE_CRATE) {
            inside += lines.len();
        } else {
            outside.extend(
                lines
                    .into_iter()
                    .map(|line| format!("{}:{line}", relative.display())),
            );
        }
    }

    assert!(
        outside.is_empty(),
        "unsafe code outside {UNSAFE_CRATE}: {outside:?}"
    );
    // The map needs one block and the release of pages behind the reader
    // another; the search must find both, or it is blind.
    assert_eq!(inside, 2, "unsafe blocks in {UNSAFE_CRATE}");
}

#[test]
fn every_unsafe_block_has_safety_comment() {
    let root = repository();
    let mut files = Vec::new();
    rust_files(&root.join(UNSAFE_CRATE), &mut files);
    for path in files {
        let source = fs::read_to_string(&path).expect("a readable source file");
        let lines: Vec<&str> = source.lines().collect();
        for line in unsafe_lines(&source) {
            // The comment block right above the line must hold `SAFETY:`.
            let comment: Vec<&str> = lines[..line - 1]
                .iter()
                .rev()
                .take_while(|text| text.trim_start().starts_with("//"))
                .copied()
                .collect();
            assert!(
                comment.iter().any(|text| text.contains("SAFETY:")),
                "{}:{line}: unsafe without a SAFETY comment above it",
                path.display()
            );
        }
    }
}

#[test]
fn crate_roots_forbid_unsafe() {
    let root = repository();
    for file in ["src/lib.rs", "src/main.rs"] {
        let source = fs::read_to_string(root.join(file)).expect("a crate root");
        assert!(
            source.contains("#![forbid(unsafe_code)]"),
            "{file} does not forbid unsafe code"
        );
    }
}
