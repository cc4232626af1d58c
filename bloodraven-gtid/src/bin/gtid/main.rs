//! `gtid`: GTID set algebra on the command line (see `gtid --help`).

mod cli;

use std::io::{self, Read, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use bloodraven_gtid::{Gtid, GtidSet};
use clap::Parser;
use clap::error::ErrorKind;
use serde_json::json;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let mut stdin = Stdin::default();
    let output = match run(&cli, &mut stdin) {
        Ok(output) => output,
        Err(e) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            return ExitCode::from(2);
        }
    };
    let mut out = io::stdout().lock();
    match writeln!(out, "{output}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`gtid ... | head`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs one command and returns what to print.
fn run(cli: &Cli, stdin: &mut Stdin) -> Result<String> {
    let show_set = |set: &GtidSet| -> String {
        if cli.json {
            json!({ "set": set.to_compact_string() }).to_string()
        } else if cli.compact {
            set.to_compact_string()
        } else {
            set.to_string()
        }
    };
    let show_bool = |b: bool| {
        if cli.json {
            json!({ "result": b }).to_string()
        } else {
            b.to_string()
        }
    };
    let pair = |stdin: &mut Stdin, a: &str, b: &str| -> Result<(GtidSet, GtidSet)> {
        Ok((set_arg(stdin, a, "A")?, set_arg(stdin, b, "B")?))
    };
    Ok(match &cli.command {
        Command::Normalize { set } => show_set(&set_arg(stdin, set, "SET")?),
        Command::Union { sets } => {
            let mut acc = GtidSet::new();
            for (i, text) in sets.iter().enumerate() {
                acc = acc.union(&set_arg(stdin, text, &format!("set {}", i + 1))?);
            }
            show_set(&acc)
        }
        Command::Subtract { a, b } => {
            let (a, b) = pair(stdin, a, b)?;
            show_set(&a.difference(&b))
        }
        Command::Intersect { a, b } => {
            let (a, b) = pair(stdin, a, b)?;
            show_set(&a.intersection(&b))
        }
        Command::Subset { a, b } => {
            let (a, b) = pair(stdin, a, b)?;
            show_bool(a.is_subset(&b))
        }
        Command::Equal { a, b } => {
            let (a, b) = pair(stdin, a, b)?;
            show_bool(a == b)
        }
        Command::Disjoint { a, b } => {
            let (a, b) = pair(stdin, a, b)?;
            show_bool(a.is_disjoint(&b))
        }
        Command::Compare { a, b } => {
            let (a, b) = pair(stdin, a, b)?;
            let relation = a.compare(&b);
            if cli.json {
                json!({ "relation": relation }).to_string()
            } else {
                relation.to_string()
            }
        }
        Command::Count { set } => {
            let count = set_arg(stdin, set, "SET")?.count();
            if cli.json {
                json!({ "count": count }).to_string()
            } else {
                count.to_string()
            }
        }
        Command::Contains { set, gtid } => {
            let set = set_arg(stdin, set, "SET")?;
            let text = stdin.resolve(gtid)?;
            let gtid: Gtid = text
                .trim()
                .parse()
                .with_context(|| format!("GTID {:?}", short(&text)))?;
            show_bool(set.contains(&gtid))
        }
        Command::Encode { set } => {
            let hex = to_hex(&set_arg(stdin, set, "SET")?.encode());
            if cli.json {
                json!({ "hex": hex }).to_string()
            } else {
                hex
            }
        }
        Command::Decode { hex } => {
            let text = stdin.resolve(hex)?;
            let bytes = from_hex(&text).context("HEX")?;
            show_set(&GtidSet::decode(&bytes).context("HEX")?)
        }
    })
}

/// Reads a set argument, naming it in the error.
fn set_arg(stdin: &mut Stdin, text: &str, name: &str) -> Result<GtidSet> {
    let text = stdin.resolve(text)?;
    GtidSet::parse(&text).with_context(|| format!("{name} {:?}", short(&text)))
}

/// Standard input, read at most once (only one argument may be `-`).
#[derive(Default)]
struct Stdin {
    used: bool,
}

impl Stdin {
    fn resolve(&mut self, arg: &str) -> Result<String> {
        if arg != "-" {
            return Ok(arg.to_owned());
        }
        if self.used {
            bail!("only one argument may be '-' (standard input)");
        }
        self.used = true;
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        Ok(text)
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Hex digits to bytes; whitespace is ignored, errors name the character offset.
fn from_hex(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    for (offset, c) in text.char_indices() {
        if c.is_ascii_whitespace() {
            continue;
        }
        let v = c.to_digit(16).ok_or_else(|| {
            anyhow!("invalid hex at byte {offset}: expected a hex digit, found {c:?}")
        })? as u8;
        match high.take() {
            None => high = Some(v),
            Some(h) => out.push((h << 4) | v),
        }
    }
    if high.is_some() {
        bail!("invalid hex: odd number of hex digits (each byte needs two)");
    }
    Ok(out)
}

/// Shortens a long argument for an error message.
fn short(text: &str) -> String {
    const MAX: usize = 80;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

/// Folds a message onto one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Prints a clap outcome: help and version to stdout with status 0, errors as one line with status 2.
fn clap_exit(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Help and version go to stdout; a failure to print them is not worth reporting.
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            let rendered = e.to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("error: {first} (see 'gtid --help')");
            ExitCode::from(2)
        }
    }
}
