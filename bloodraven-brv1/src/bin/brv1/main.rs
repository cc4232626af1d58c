//! `brv1`: encrypt, decrypt and inspect BRV1 objects from the command line.
//!
//! Exit status: 0 on success, 1 when the operation failed (one `error: ...` line on stderr),
//! 2 on a usage error. With `-o`, the output file appears only on success.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use bloodraven_brv1::{
    Decryptor, Encryptor, Inspection, Passphrase, ciphertext_len, inspect, verify,
};
use clap::{Args, Parser, Subcommand};

mod progress;

use progress::{AUTO_THRESHOLD, ProgressReader};

/// Encrypt, decrypt and inspect BRV1 objects (the Bloodraven backup encryption envelope:
/// AES-256-GCM in 64 KiB chunks, key from a passphrase with HKDF-SHA256).
#[derive(Debug, Parser)]
#[command(name = "brv1", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Encrypt IN (default: stdin) into a BRV1 object on OUT (default: stdout).
    Encrypt(Transform),
    /// Authenticate and decrypt the BRV1 object IN (default: stdin) onto OUT (default: stdout).
    ///
    /// To stdout, plaintext is written chunk by chunk as each chunk verifies, so a damaged
    /// object can leave a prefix there before the error; with -o nothing appears unless the
    /// whole object verified.
    Decrypt(Transform),
    /// Show the header, chunk count and sizes of the BRV1 object IN.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
struct Transform {
    /// File holding the passphrase (leading and trailing spaces, tabs and line breaks are
    /// ignored).
    #[arg(long, value_name = "F")]
    passphrase_file: PathBuf,
    /// Write here (through a temporary file beside it, renamed on success) instead of stdout.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Use at most N threads [default: all cores]. 1 runs everything on one thread and never
    /// starts another; with 2, one thread reads and runs the cipher while a second writes the
    /// output; with more, the rest share the cipher work. The output is the same either way.
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
    #[command(flatten)]
    progress: ProgressFlags,
    /// Input file; `-` or nothing for stdin.
    #[arg(value_name = "IN")]
    input: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// Also authenticate every chunk (needs --passphrase-file).
    #[arg(long, requires = "passphrase_file")]
    verify: bool,
    /// File holding the passphrase, for --verify.
    #[arg(long, value_name = "F")]
    passphrase_file: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    progress: ProgressFlags,
    /// The BRV1 object; `-` for stdin.
    #[arg(value_name = "IN")]
    input: PathBuf,
}

#[derive(Debug, Args)]
struct ProgressFlags {
    /// Always show a progress line on stderr [default: when stderr is a terminal and the input
    /// is over 4 MiB].
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Never show a progress line.
    #[arg(long, overrides_with = "progress")]
    no_progress: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Encrypt(args) => transform(args, Direction::Encrypt),
        Command::Decrypt(args) => transform(args, Direction::Decrypt),
        Command::Inspect(args) => run_inspect(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(e.downcast_ref::<UsageError>().map_or(1, |_| 2))
        }
    }
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Direction {
    Encrypt,
    Decrypt,
}

/// A problem with how the tool was called, found after parsing (exit status 2).
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn transform(args: Transform, direction: Direction) -> Result<()> {
    let passphrase = Passphrase::from_file(&args.passphrase_file)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    if direction == Direction::Encrypt && args.output.is_none() && io::stdout().is_terminal() {
        return Err(UsageError(
            "refusing to write an encrypted object to a terminal (use -o OUT or redirect stdout)"
                .into(),
        )
        .into());
    }
    let (input, name, size) = open_input(args.input.as_deref())?;
    let label = match direction {
        Direction::Encrypt => "encrypting",
        Direction::Decrypt => "decrypting",
    };
    let mut input = ProgressReader::new(input, label, size, args.progress.show(size));
    let mut output = Output::create(args.output.as_deref())?;
    let result = match direction {
        Direction::Encrypt => {
            if let Some(size) = size {
                output.preallocate(ciphertext_len(size));
            }
            encrypt(&passphrase, threads, &mut input, &name, &mut output)
        }
        Direction::Decrypt => decrypt(&passphrase, threads, &mut input, &name, size, &mut output),
    };
    match result {
        Ok(()) => {
            input.finish();
            output.commit()
        }
        Err(e) => {
            input.clear();
            Err(e)
        }
    }
}

fn encrypt(
    pass: &Passphrase,
    threads: NonZeroUsize,
    input: &mut impl Read,
    name: &str,
    out: &mut Output,
) -> Result<()> {
    let out_name = out.name();
    let mut enc = Encryptor::new(pass, &mut *out)?.with_threads(threads);
    enc.copy_from(input)
        .with_context(|| format!("cannot encrypt {name} to {out_name}"))?;
    enc.finish()
        .with_context(|| format!("cannot write {out_name}"))?;
    Ok(())
}

fn decrypt(
    pass: &Passphrase,
    threads: NonZeroUsize,
    input: &mut impl Read,
    name: &str,
    size: Option<u64>,
    out: &mut Output,
) -> Result<()> {
    let mut dec = Decryptor::new(pass, input)
        .with_context(|| format!("cannot decrypt {name}"))?
        .with_threads(threads);
    if let Some(Ok(info)) = size.map(|len| Inspection::from_len(*dec.header(), len)) {
        out.preallocate(info.plaintext_len);
    }
    let out_name = out.name();
    dec.copy_to(out)
        .with_context(|| format!("cannot decrypt {name} to {out_name}"))?;
    Ok(())
}

fn run_inspect(args: InspectArgs) -> Result<()> {
    let (input, name, size) = open_input(Some(&args.input))?;
    let info = match &args.passphrase_file {
        Some(file) if args.verify => {
            let pass = Passphrase::from_file(file)?;
            let mut input = ProgressReader::new(input, "verifying", size, args.progress.show(size));
            let result = verify(&pass, &mut input);
            match &result {
                Ok(_) => input.finish(),
                Err(_) => input.clear(),
            }
            result
        }
        _ => inspect(input),
    }
    .with_context(|| format!("cannot inspect {name}"))?;
    let text = if args.json { json(&info) } else { text(&info) };
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn text(i: &Inspection) -> String {
    let h = &i.header;
    let verified = if i.verified {
        "yes, every chunk authenticated"
    } else {
        "no (add --verify --passphrase-file F to authenticate every chunk)"
    };
    format!(
        "format        BRV1 version 1, algorithm 1 (AES-256-GCM)\n\
         chunk size    {} bytes (chunk_log2 {})\n\
         salt          {}\n\
         nonce prefix  {}\n\
         chunks        {} (last chunk {} bytes)\n\
         plaintext     {} bytes\n\
         ciphertext    {} bytes\n\
         verified      {verified}\n",
        h.chunk_size(),
        h.chunk_log2,
        hex(&h.salt),
        hex(&h.nonce_prefix),
        i.chunks,
        i.last_chunk_len,
        i.plaintext_len,
        i.ciphertext_len,
    )
}

fn json(i: &Inspection) -> String {
    let h = &i.header;
    format!(
        "{{\"version\":1,\"algorithm\":\"AES-256-GCM\",\"chunk_log2\":{},\"chunk_size\":{},\"salt\":\"{}\",\
         \"nonce_prefix\":\"{}\",\"chunks\":{},\"last_chunk_len\":{},\"plaintext_len\":{},\
         \"ciphertext_len\":{},\"verified\":{}}}\n",
        h.chunk_log2,
        h.chunk_size(),
        hex(&h.salt),
        hex(&h.nonce_prefix),
        i.chunks,
        i.last_chunk_len,
        i.plaintext_len,
        i.ciphertext_len,
        i.verified,
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ProgressFlags {
    fn show(&self, size: Option<u64>) -> bool {
        if self.no_progress {
            return false;
        }
        self.progress || (io::stderr().is_terminal() && size.is_some_and(|s| s > AUTO_THRESHOLD))
    }
}

/// Opens a file, or stdin for `None` and `-`; returns it with a name for messages and its size
/// when it is a regular file.
fn open_input(path: Option<&Path>) -> Result<(File, String, Option<u64>)> {
    let (file, name) = match path {
        None => (stdin_file()?, "stdin".to_owned()),
        Some(p) if p == Path::new("-") => (stdin_file()?, "stdin".to_owned()),
        Some(p) => {
            let file = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            (file, p.display().to_string())
        }
    };
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok((file, name, size))
}

/// Stdin as an unbuffered file handle (a duplicate of descriptor 0).
fn stdin_file() -> Result<File> {
    let fd = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot use stdin")?;
    Ok(File::from(fd))
}

/// Where output goes: a temporary file renamed over the target on success, or stdout.
enum Output {
    File {
        temp: tempfile::NamedTempFile,
        target: PathBuf,
    },
    Stdout(File),
}

impl Output {
    fn create(path: Option<&Path>) -> Result<Output> {
        let Some(target) = path.filter(|p| *p != Path::new("-")) else {
            let fd = io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .context("cannot use stdout")?;
            return Ok(Output::Stdout(File::from(fd)));
        };
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if target.is_dir() {
            bail!("cannot write {}: it is a directory", target.display());
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".brv1-partial")
            .tempfile_in(dir)
            .with_context(|| {
                format!("cannot create a temporary file beside {}", target.display())
            })?;
        Ok(Output::File {
            temp,
            target: target.to_owned(),
        })
    }

    /// Reserves disk space for the `len` bytes about to be written when the output is a regular
    /// file, without changing its size (`fallocate` with `FALLOC_FL_KEEP_SIZE`): the file
    /// system then allocates the blocks in one go rather than write by write. Best effort.
    fn preallocate(&self, len: u64) {
        let file = match self {
            Output::File { temp, .. } => temp.as_file(),
            Output::Stdout(out) => out,
        };
        #[cfg(target_os = "linux")]
        if len > 0 && file.metadata().is_ok_and(|m| m.is_file()) {
            use std::io::Seek;
            if let Ok(offset) = (&mut &*file).stream_position() {
                let keep_size = rustix::fs::FallocateFlags::KEEP_SIZE;
                let _ = rustix::fs::fallocate(file, keep_size, offset, len);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (file, len);
    }

    fn name(&self) -> String {
        match self {
            Output::File { target, .. } => target.display().to_string(),
            Output::Stdout(_) => "stdout".to_owned(),
        }
    }

    /// Makes the output final: syncs and renames the temporary file, or flushes stdout.
    fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut out) => out.flush().context("cannot write stdout"),
            Output::File { temp, target } => {
                temp.as_file()
                    .sync_all()
                    .with_context(|| format!("cannot write {}", target.display()))?;
                temp.persist(&target)
                    .map_err(|e| e.error)
                    .with_context(|| {
                        format!("cannot rename the temporary file to {}", target.display())
                    })?;
                if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                    // Best effort: the rename is already visible; this makes it durable.
                    if let Ok(dir) = File::open(dir) {
                        let _ = dir.sync_all();
                    }
                }
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File { temp, .. } => temp.as_file_mut().write(buf),
            Output::Stdout(out) => out.write(buf),
        }
    }

    /// Passed through, so decrypted chunks go out with one `writev` per segment.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Output::File { temp, .. } => temp.as_file_mut().write_vectored(bufs),
            Output::Stdout(out) => out.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File { temp, .. } => temp.as_file_mut().flush(),
            Output::Stdout(out) => out.flush(),
        }
    }
}

/// The error chain on one line, without line breaks.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
