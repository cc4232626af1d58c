//! Interoperability with an independent implementation: `tests/brv1_peer.py`, written from
//! the reference spec with Python's `cryptography` package (installed by `.ci/run` from
//! `.ci/requirements.txt`). The peer decrypts what the `brv1` tool writes, and writes what
//! `brv1` must decrypt, including chunk sizes our encoder never picks.

use std::path::PathBuf;
use std::process::Command;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/brv1_peer.py");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/brv1");

fn peer(args: &[&dyn AsRef<std::ffi::OsStr>]) -> std::process::Output {
    let out = Command::new("python3")
        .arg(PEER)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("python3 must be installed for the interoperability test");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the Python `cryptography` package is missing (pip install -r .ci/requirements.txt): {stderr}"
    );
    out
}

fn brv1(args: &[&dyn AsRef<std::ffi::OsStr>]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_brv1"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap()
}

fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed).to_le_bytes()[1])
        .collect()
}

struct Dir {
    dir: tempfile::TempDir,
    pass: PathBuf,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("passphrase");
        std::fs::write(&pass, "\n  interop passphrase with spaces inside\t\r\n").unwrap();
        Dir { dir, pass }
    }

    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_peer_reproduces_the_shared_vectors() {
    let out = peer(&[&"selftest", &FIXTURES]);
    ok(&out, "selftest");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5 vectors ok");
}

#[test]
fn the_peer_decrypts_what_brv1_writes() {
    let d = Dir::new();
    for len in [0usize, 1, 65_535, 65_536, 65_537, 200_001] {
        let plain = data(len, len as u32);
        let src = d.file("plain", &plain);
        let sealed = d.path("sealed");
        let back = d.path("back");
        ok(
            &brv1(&[
                &"encrypt",
                &"--passphrase-file",
                &d.pass,
                &"-o",
                &sealed,
                &src,
            ]),
            "brv1 encrypt",
        );
        ok(
            &peer(&[&"decrypt", &d.pass, &sealed, &back]),
            "peer decrypt",
        );
        assert!(std::fs::read(&back).unwrap() == plain, "{len} bytes");
    }
}

#[test]
fn brv1_decrypts_what_the_peer_writes() {
    let d = Dir::new();
    for (len, log2) in [
        (0usize, 16u16),
        (1, 16),
        (65_536, 16),
        (65_537, 16),
        (150_000, 16),
        (1_000, 4),
        (70_000, 12),
        (4_000, 1),
        (300_000, 20),
    ] {
        let plain = data(len, 7 + len as u32);
        let src = d.file("plain", &plain);
        let sealed = d.path("sealed");
        let back = d.path("back");
        ok(
            &peer(&[&"encrypt", &d.pass, &src, &sealed, &log2.to_string()]),
            "peer encrypt",
        );
        ok(
            &brv1(&[
                &"decrypt",
                &"--passphrase-file",
                &d.pass,
                &"-o",
                &back,
                &sealed,
            ]),
            "brv1 decrypt",
        );
        assert!(
            std::fs::read(&back).unwrap() == plain,
            "{len} bytes, chunk_log2 {log2}"
        );
        let info = brv1(&[&"inspect", &"--json", &sealed]);
        ok(&info, "brv1 inspect");
        assert!(String::from_utf8_lossy(&info.stdout).contains(&format!("\"chunk_log2\":{log2},")));
    }
}

#[test]
fn both_sides_reject_the_same_damage() {
    let d = Dir::new();
    let plain = data(140_000, 3);
    let src = d.file("plain", &plain);
    let sealed = d.path("sealed");
    ok(&peer(&[&"encrypt", &d.pass, &src, &sealed]), "peer encrypt");
    let good = std::fs::read(&sealed).unwrap();
    let rs = 65_552;
    let mut flipped = good.clone();
    flipped[32 + rs + 100] ^= 0x20;
    let damaged: [(&str, Vec<u8>, &str); 4] = [
        (
            "cut at a chunk boundary",
            good[..32 + 2 * rs].to_vec(),
            "truncated",
        ),
        (
            "byte flipped in chunk 1",
            flipped,
            "chunk 1 at byte offset 65584 failed authentication",
        ),
        (
            "byte appended",
            [&good[..], b"\n"].concat(),
            "trailing data",
        ),
        (
            "chunk 0 dropped",
            [&good[..32], &good[32 + rs..]].concat(),
            "is chunk 1 of this stream",
        ),
    ];
    for (what, bytes, message) in damaged {
        let input = d.file("damaged", &bytes);
        let out = d.path("out");
        let peer_out = peer(&[&"decrypt", &d.pass, &input, &out]);
        assert_eq!(peer_out.status.code(), Some(1), "peer accepts: {what}");
        assert!(!out.exists());
        let ours = brv1(&[
            &"decrypt",
            &"--passphrase-file",
            &d.pass,
            &"-o",
            &out,
            &input,
        ]);
        assert_eq!(ours.status.code(), Some(1), "brv1 accepts: {what}");
        let stderr = String::from_utf8_lossy(&ours.stderr);
        assert!(stderr.contains(message), "{what}: {stderr}");
        assert!(!out.exists(), "{what}: no output on failure");
    }
}
