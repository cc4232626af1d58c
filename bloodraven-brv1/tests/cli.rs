//! The `brv1` tool's contract: round trips through files and pipes, output only on success
//! (temporary file + rename), exit 1 with one `error: ...` line on failure, exit 2 on usage
//! errors, `--threads`, `inspect`, progress only on a terminal, and quiet broken pipes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn brv1() -> Command {
    Command::new(env!("CARGO_BIN_EXE_brv1"))
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    brv1()
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap()
}

struct Dir {
    dir: tempfile::TempDir,
    pass: PathBuf,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("passphrase");
        std::fs::write(&pass, "correct horse battery staple\n").unwrap();
        Dir { dir, pass }
    }

    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + i / 1000) as u8).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 1 and exactly one line, `error: ...`, that contains `needle`.
fn assert_fails(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.ends_with('\n') && err.lines().count() == 1,
        "one line: {err:?}"
    );
    assert!(err.contains(needle), "{needle:?} in {err:?}");
}

#[test]
fn files_round_trip_and_inspect_reports_the_layout() {
    let d = Dir::new();
    let plain = data(140_000);
    let src = d.file("plain", &plain);
    let sealed = d.path("plain.brv1");
    let back = d.path("back");
    let out = run(&[
        &"encrypt",
        &"--passphrase-file",
        &d.pass,
        &"-o",
        &sealed,
        &src,
    ]);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        stderr(&out)
    );
    let bytes = std::fs::read(&sealed).unwrap();
    assert_eq!(&bytes[..8], b"BRV1\x01\x01\x00\x10");
    assert_eq!(bytes.len(), 32 + 140_000 + 3 * 16);
    let out = run(&[
        &"decrypt",
        &"--passphrase-file",
        &d.pass,
        &"-o",
        &back,
        &sealed,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read(&back).unwrap() == plain);

    let text = run(&[&"inspect", &sealed]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    for line in [
        "chunk size    65536 bytes (chunk_log2 16)",
        "chunks        3 (last chunk 8928 bytes)",
        "plaintext     140000 bytes",
        "ciphertext    140080 bytes",
        "verified      no",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let json = run(&[
        &"inspect",
        &"--verify",
        &"--passphrase-file",
        &d.pass,
        &"--json",
        &sealed,
    ]);
    assert!(json.status.success(), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["chunks"], 3);
    assert_eq!(v["plaintext_len"], 140_000);
    assert_eq!(v["last_chunk_len"], 8_928);
    assert_eq!(v["verified"], true);
    assert_eq!(v["salt"].as_str().unwrap().len(), 32);
}

/// One thread seals inline; more start the worker pool once a stream passes 1 MiB. Every thread
/// count must give a complete, decodable object of the exact BRV1 length at every size,
/// including 0, the chunk and segment boundaries and the size where the pool starts.
#[test]
fn file_encryption_is_complete_on_one_and_many_threads_at_boundary_sizes() {
    const CHUNK: usize = 64 * 1024;
    let d = Dir::new();
    for len in [
        0,
        1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        16 * CHUNK,
        16 * CHUNK + 1,
        5 * CHUNK * 16 + 7,
    ] {
        let plain = d.file("plain", &data(len));
        for threads in ["1", "2", "3"] {
            let (sealed, back) = (d.path("sealed"), d.path("back"));
            let out = run(&[
                &"encrypt",
                &"--threads",
                &threads,
                &"--passphrase-file",
                &d.pass,
                &"-o",
                &sealed,
                &plain,
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
            let records = len.div_ceil(CHUNK).max(1);
            let sealed_len = std::fs::metadata(&sealed).unwrap().len();
            assert_eq!(
                sealed_len,
                (32 + len + 16 * records) as u64,
                "len {len}, {threads} threads"
            );
            let out = run(&[
                &"decrypt",
                &"--passphrase-file",
                &d.pass,
                &"-o",
                &back,
                &sealed,
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(
                std::fs::read(&back).unwrap() == data(len),
                "len {len}, {threads} threads"
            );
        }
    }
}

#[test]
fn stdin_and_stdout_round_trip_on_any_thread_count() {
    let d = Dir::new();
    let plain = data(300_000);
    for threads in ["1", "3"] {
        let mut enc = brv1()
            .args(["encrypt", "--threads", threads, "--passphrase-file"])
            .arg(&d.pass)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = enc.stdin.take().unwrap();
        let input = plain.clone();
        let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
        let sealed = enc.wait_with_output().unwrap();
        feeder.join().unwrap();
        assert!(sealed.status.success(), "{}", stderr(&sealed));
        let file = d.file("sealed", &sealed.stdout);
        let back = brv1()
            .args(["decrypt", "--threads", threads, "--passphrase-file"])
            .arg(&d.pass)
            .arg("-")
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        assert!(back.status.success(), "{}", stderr(&back));
        assert!(back.stdout == plain, "{threads} threads");
    }
}

#[test]
fn stdout_redirected_to_a_file_gets_exactly_the_object() {
    // A regular file on stdout is preallocated (without changing its size) and written by
    // the writer thread on 2 threads; it must end up exactly as long as the stream.
    let d = Dir::new();
    let len = 5 * 512 * 1024 + 7;
    let plain = d.file("plain", &data(len));
    for threads in ["1", "2"] {
        let sealed = d.path("sealed");
        let out = brv1()
            .args(["encrypt", "--threads", threads, "--passphrase-file"])
            .arg(&d.pass)
            .arg(&plain)
            .stdout(std::fs::File::create(&sealed).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let records = len.div_ceil(64 * 1024);
        let sealed_len = std::fs::metadata(&sealed).unwrap().len();
        assert_eq!(
            sealed_len,
            (32 + len + 16 * records) as u64,
            "{threads} threads"
        );
        let back = d.path("back");
        let out = brv1()
            .args(["decrypt", "--threads", threads, "--passphrase-file"])
            .arg(&d.pass)
            .arg(&sealed)
            .stdout(std::fs::File::create(&back).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            std::fs::read(&back).unwrap() == data(len),
            "{threads} threads"
        );
    }
}

#[test]
fn failures_leave_no_output_file_and_print_one_error_line() {
    let d = Dir::new();
    let src = d.file("plain", &data(140_000));
    let sealed = d.path("sealed");
    assert!(
        run(&[
            &"encrypt",
            &"--passphrase-file",
            &d.pass,
            &"-o",
            &sealed,
            &src
        ])
        .status
        .success()
    );
    let good = std::fs::read(&sealed).unwrap();
    let wrong = d.file("wrong", b"tr0ub4dor&3");
    let blank = d.file("blank", b" \n\t\r\n");
    let cut = d.file("cut", &good[..good.len() - 100]);
    let boundary = d.file("boundary", &good[..32 + 65_552]);
    let ragged = d.file("ragged", &good[..32 + 65_552 + 7]);
    let out = d.path("out");
    let missing = d.path("missing");

    let cases: Vec<(Vec<&dyn AsRef<std::ffi::OsStr>>, &str)> = vec![
        (
            vec![
                &"decrypt",
                &"--passphrase-file",
                &wrong,
                &"-o",
                &out,
                &sealed,
            ],
            "wrong passphrase",
        ),
        (
            vec![&"decrypt", &"--passphrase-file", &d.pass, &"-o", &out, &cut],
            "chunk 2 at byte offset 131136 failed authentication",
        ),
        (
            vec![
                &"decrypt",
                &"--passphrase-file",
                &d.pass,
                &"-o",
                &out,
                &boundary,
            ],
            "truncated",
        ),
        (
            vec![&"decrypt", &"--passphrase-file", &d.pass, &"-o", &out, &src],
            "not a brv1 stream",
        ),
        (
            vec![
                &"decrypt",
                &"--passphrase-file",
                &d.pass,
                &"-o",
                &out,
                &missing,
            ],
            "cannot open",
        ),
        (
            vec![
                &"encrypt",
                &"--passphrase-file",
                &d.pass,
                &"-o",
                &out,
                &missing,
            ],
            "missing",
        ),
        (
            vec![&"encrypt", &"--passphrase-file", &blank, &"-o", &out, &src],
            "passphrase file",
        ),
        (
            vec![
                &"encrypt",
                &"--passphrase-file",
                &missing,
                &"-o",
                &out,
                &src,
            ],
            "cannot read passphrase file",
        ),
        (
            vec![&"inspect", &ragged],
            "truncated: it ends at byte offset 65591",
        ),
        (
            vec![
                &"inspect",
                &"--verify",
                &"--passphrase-file",
                &wrong,
                &sealed,
            ],
            "wrong passphrase",
        ),
    ];
    let before = d.names();
    for (args, needle) in cases {
        let result = run(&args);
        assert_eq!(
            result.status.code(),
            Some(1),
            "{needle}: {}",
            stderr(&result)
        );
        assert_fails(&result, needle);
        assert!(!out.exists(), "no output after {needle}");
        assert_eq!(d.names(), before, "no temporary files left after {needle}");
    }

    // To stdout, a damaged object fails the same way (after the chunks that verified).
    let piped = run(&[&"decrypt", &"--passphrase-file", &d.pass, &cut]);
    assert_fails(&piped, "failed authentication");
    assert_eq!(piped.stdout.len(), 2 * 65_536);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![],
        vec!["encrypt"],
        vec!["frobnicate"],
        vec!["encrypt", "--threads", "0", "--passphrase-file", "p"],
        vec!["decrypt", "--threads", "many", "--passphrase-file", "p"],
        vec!["inspect", "--verify", "x.brv1"],
        vec!["inspect"],
        vec!["encrypt", "--passphrase-file", "p", "--bogus"],
    ] {
        let out = brv1().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let help = run(&[&"--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("encrypt"));
}

#[test]
fn progress_is_drawn_when_forced_and_never_on_a_pipe() {
    let d = Dir::new();
    let src = d.file("plain", &data(100_000));
    let out = d.path("out");
    let quiet = run(&[&"encrypt", &"--passphrase-file", &d.pass, &"-o", &out, &src]);
    assert!(quiet.status.success() && quiet.stderr.is_empty());
    let forced = run(&[
        &"encrypt",
        &"--progress",
        &"--passphrase-file",
        &d.pass,
        &"-o",
        &out,
        &src,
    ]);
    assert!(forced.status.success());
    let err = stderr(&forced);
    assert!(
        err.contains("encrypting [") && err.contains("100%"),
        "{err:?}"
    );
    let off = run(&[
        &"decrypt",
        &"--progress",
        &"--no-progress",
        &"--passphrase-file",
        &d.pass,
        &"-o",
        &d.path("back"),
        &out,
    ]);
    assert!(
        off.status.success() && off.stderr.is_empty(),
        "{}",
        stderr(&off)
    );
}

/// Runs `brv1 ARGS` (a shell word list) with stdin, stdout and stderr on a pseudo-terminal
/// (util-linux `script`); returns the exit status and what the terminal showed.
fn on_terminal(args: &str) -> (i32, String) {
    let cmd = format!("'{}' {args}", env!("CARGO_BIN_EXE_brv1"));
    let out = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("util-linux `script` runs the tool on a terminal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn on_a_terminal_progress_shows_for_large_inputs_only_and_ciphertext_is_refused() {
    let d = Dir::new();
    let big = d.file("big", &vec![7u8; (4 << 20) + 300_000]);
    let small = d.file("small", &data(1000));
    let cmd = |input: &Path, output: &Path| {
        format!(
            "encrypt --threads 2 --passphrase-file '{}' -o '{}' '{}'",
            d.pass.display(),
            output.display(),
            input.display()
        )
    };
    let (status, shown) = on_terminal(&cmd(&big, &d.path("big.brv1")));
    assert_eq!(status, 0, "{shown}");
    assert!(
        shown.contains("encrypting [") && shown.contains("100%") && shown.contains("MiB"),
        "{shown:?}"
    );
    let (status, shown) = on_terminal(&cmd(&small, &d.path("small.brv1")));
    assert_eq!(status, 0, "{shown}");
    assert!(
        !shown.contains("encrypting"),
        "no progress for a small input: {shown:?}"
    );
    let (status, shown) = on_terminal(&format!(
        "encrypt --passphrase-file '{}' '{}'",
        d.pass.display(),
        small.display()
    ));
    assert_eq!(status, 2, "{shown}");
    assert!(
        shown.contains("refusing to write an encrypted object to a terminal"),
        "{shown:?}"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let d = Dir::new();
    let src = d.file("plain", &data(1 << 20));
    let sealed = d.path("sealed");
    assert!(
        run(&[
            &"encrypt",
            &"--passphrase-file",
            &d.pass,
            &"-o",
            &sealed,
            &src
        ])
        .status
        .success()
    );
    let mut child = brv1()
        .args(["decrypt", "--passphrase-file"])
        .arg(&d.pass)
        .arg(&sealed)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 10];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

/// `--threads 1` never starts a thread; with 2, a writer thread runs while the stream goes on.
/// Counted in `/proc/<pid>/task` while the tool waits for more input on a pipe.
#[cfg(target_os = "linux")]
#[test]
fn one_thread_means_one_and_two_add_a_writer_thread() {
    let d = Dir::new();
    let plain = data(3 << 20);
    let sealed = {
        let src = d.file("plain", &plain);
        let sealed = d.path("sealed");
        let out = run(&[
            &"encrypt",
            &"--passphrase-file",
            &d.pass,
            &"-o",
            &sealed,
            &src,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read(&sealed).unwrap()
    };
    for (direction, input) in [("encrypt", &plain), ("decrypt", &sealed)] {
        for threads in [1, 2] {
            let mut child = brv1()
                .args([
                    direction,
                    "--threads",
                    &threads.to_string(),
                    "--passphrase-file",
                ])
                .arg(&d.pass)
                .stdin(Stdio::piped())
                .stdout(std::fs::File::create(d.path("out")).unwrap())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            // Several segments of 512 KiB, then a pause: the tool waits for more input.
            stdin.write_all(&input[..2 << 20]).unwrap();
            let tasks = format!("/proc/{}/task", child.id());
            let mut most = 0;
            for _ in 0..50 {
                most = most.max(std::fs::read_dir(&tasks).unwrap().count());
                if most > 1 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            stdin.write_all(&input[2 << 20..]).unwrap();
            drop(stdin);
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            assert_eq!(most, threads, "{direction} --threads {threads}");
        }
    }
}
