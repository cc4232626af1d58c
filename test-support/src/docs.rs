//! Checks that the commands the user docs show are ones the binaries accept: each documented command is parsed
//! by the real binary with `--help` appended, so clap checks the sub-command, the flags and their values without
//! connecting anywhere. A renamed flag or sub-command fails a test before a reader trips on it.
//!
//! ```no_run
//! let checked = bloodraven_test_support::docs::check("gtid", "/path/to/gtid");
//! assert!(checked > 0);
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The documents: `README.md` and every `docs/*.md`.
pub fn documents() -> Vec<PathBuf> {
    let mut docs = vec![repo().join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// Splits a command line as a shell would for these simple cases: whitespace, single and double quotes.
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// The commands of `program` (`kubectl bloodraven`, `bloodraven-backup`, …) in `text`: lines of code blocks and
/// inline code spans that start with it (after an optional `$ ` prompt), without a trailing `# comment` or `|`
/// pipe; a command continued with `\` is checked up to the end of its first line. Spans with an ellipsis
/// (`kubectl bloodraven …`) are prose; lines whose first word ends with `:` (`bloodraven playground: …`) are
/// output, and ones whose first word is a placeholder (`bloodraven-backup <version>`) are values, not commands.
pub fn commands(text: &str, program: &str) -> Vec<Vec<String>> {
    let mut candidates: Vec<String> = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            candidates.push(line.trim().trim_start_matches("$ ").to_owned());
        } else {
            candidates.extend(
                line.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(|span| span.trim().to_owned()),
            );
        }
    }
    let prefix = format!("{program} ");
    candidates
        .into_iter()
        .filter(|c| c.starts_with(&prefix) && !c.contains('…'))
        .map(|c| {
            let c = c.split(" #").next().unwrap_or(&c);
            let c = c.split(" | ").next().unwrap_or(c);
            words(c.trim_end_matches('\\').trim())
                .into_iter()
                .skip(program.split(' ').count())
                .collect::<Vec<String>>()
        })
        .filter(|args| {
            !args
                .first()
                .is_some_and(|a| a.ends_with(':') || a.starts_with('<'))
        })
        .collect()
}

/// Runs every command of `program` found in the documents through `binary` with `--help` appended; panics
/// listing the ones it refuses. Returns how many were checked.
pub fn check(program: &str, binary: &str) -> usize {
    let mut checked = 0;
    let mut refused = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for args in commands(&text, program) {
            let out = Command::new(binary)
                .args(&args)
                .arg("--help")
                .env("KUBECONFIG", "/nonexistent")
                .output()
                .unwrap();
            checked += 1;
            if !out.status.success() {
                refused.push(format!(
                    "{}: `{program} {}`: {}",
                    doc.display(),
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "documented commands the binary refuses:\n{}",
        refused.join("\n")
    );
    checked
}
