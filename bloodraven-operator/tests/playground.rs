//! `bloodraven playground` against the real binary: every scenario with its expectations, the dashboard in
//! headless Chromium (the active site changing after a kill, a WebSocket reconnect, a screenshot), and bad input
//! (a taken port, a missing `mariadbd`, a read-only work directory) refused with clear messages, leaving nothing
//! running and nothing behind.
//!
//! The sidecar, `bloodraven-binlog` (the archive check) and `bloodraven-backup` (dumps, verification, PITR) are
//! built into the same target directory first, so the playground finds them next to `bloodraven`. The dashboard test needs Debian's `chromium` (`.ci/run` installs it).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bloodraven");

/// Builds the sidecar, `bloodraven-binlog` and `bloodraven-backup` beside `bloodraven` (once per test process).
fn build_helpers() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-p",
                "bloodraven-sidecar",
                "--bin",
                "bloodraven-sidecar",
                "-p",
                "bloodraven-binlog",
                "--bin",
                "bloodraven-binlog",
                "-p",
                "bloodraven-backup",
                "--bin",
                "bloodraven-backup",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "building the sidecar and bloodraven-binlog"
        );
    });
}

/// A fresh, empty directory for the playground's temporary files (`TMPDIR`), so a test can see what was left.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("playground-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn playground(tmp: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("playground")
        .env("TMPDIR", tmp)
        .env("RUST_LOG", "warn");
    cmd
}

/// Processes whose command line mentions `needle` (servers or sidecars left behind).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) && !text.contains("cargo") {
                found.push(text);
            }
        }
    }
    found
}

fn assert_nothing_left(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let procs = processes_mentioning(&tmp.display().to_string());
    assert!(procs.is_empty(), "still running: {procs:?}");
}

#[test]
fn scenario_all_meets_every_expectation() {
    build_helpers();
    let tmp = scratch("all");
    let out = playground(&tmp)
        .args(["--port", "0", "--scenario", "all"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "exit {}\n{stdout}\n{stderr}",
        out.status
    );
    let report = &stdout[stdout.find("== playground report ==").expect("a report")..];
    for expected in [
        "scenario switchover:",
        "[PASS] the planned switchover succeeded",
        "[PASS] zero acknowledged writes lost",
        "scenario failover:",
        "scenario partition:",
        "[PASS] promotion within the engine's bound",
        "[PASS] the divergent set is exactly the writes the old primary took after the last replicated one",
        "[PASS] every acknowledged write lost is in the divergent set",
        "[PASS] the isolated old primary is fenced by its own sidecar",
        "[PASS] a reclone request without the GTID prefix is refused",
        "[PASS] a reclone request with the divergent set's prefix is accepted",
        "[PASS] the recloned site replicates again, its divergent transactions discarded",
        "[PASS] the binlog archive is continuous across the scenario",
        "scenario pitr:",
        "[PASS] a dump of the primary, verified in a throwaway server",
        "[PASS] the archive holds the bad migration's binary log",
        "[PASS] the restore holds exactly the rows before the bad migration",
        "RTO (fault to promotion):",
        "result: PASS",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in\n{report}"
        );
    }
    assert!(!report.contains("[FAIL]"), "{report}");
    // Two promotions checked against the bound (failover and partition), four archive checks.
    assert_eq!(
        report
            .matches("[PASS] promotion within the engine's bound")
            .count(),
        2
    );
    assert_eq!(
        report
            .matches("[PASS] the binlog archive is continuous")
            .count(),
        4
    );
    assert_nothing_left(&tmp);
}

/// The interactive playground, its dashboard URL and its stdout reader.
struct Running {
    child: Child,
    url: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Running {
    fn start(tmp: &Path, args: &[&str]) -> Running {
        let mut child = playground(tmp)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("playground: {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the dashboard line");
            if let Some(rest) = line.strip_prefix("dashboard: ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Running { child, url, lines }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn get(&self, path: &str) -> String {
        let url = format!("{}{path}", self.url);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
    }

    fn post(&self, path: &str) -> u16 {
        let url = format!("{}{path}", self.url);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    }

    fn active_site(&self) -> String {
        let body = self.get("/active-site?namespace=playground&group=playground");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["activeSite"].as_str().unwrap_or_default().to_owned()
    }

    fn wait_active(&self, site: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.active_site() != site {
            assert!(Instant::now() < deadline, "{site} never became active");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM, as a terminal's Ctrl-C would stop it; waits for the exit.
    fn stop(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        drop(self.lines);
        status
    }
}

fn chromium(args: &[&str], url: &str) -> String {
    let profile = scratch("chromium-profile");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium (apt-get install -y chromium)");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dom(url: &str) -> String {
    chromium(&["--dump-dom", "--virtual-time-budget=5000"], url)
}

fn cell(dom: &str, id: &str) -> String {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in\n{dom}"));
    let rest = &dom[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    rest[open..open + close].to_owned()
}

#[test]
fn dashboard_in_chromium_follows_a_kill_and_survives_a_websocket_reconnect() {
    build_helpers();
    let tmp = scratch("dashboard");
    let mut pg = Running::start(&tmp, &["--port", "0", "--sites", "2"]);
    pg.wait_active("iad");

    let before = dom(&pg.url);
    assert_eq!(cell(&before, "active-site"), "iad", "{before}");
    assert!(before.contains("id=\"site-iad\""), "{before}");
    assert!(before.contains("id=\"site-pdx\""), "{before}");
    assert_eq!(cell(&before, "conn"), "live");

    // The page closes its first WebSocket itself (`?drop=1`), reconnects and keeps rendering the live topology.
    let dropped = dom(&format!("{}/?drop=1", pg.url));
    assert_eq!(cell(&dropped, "ws-reconnects"), "1", "{dropped}");
    assert_eq!(cell(&dropped, "conn"), "live", "{dropped}");
    assert_eq!(cell(&dropped, "active-site"), "iad");

    // Chaos comes from the page (its header) or the terminal, never from another site's form or script.
    assert_eq!(pg.post("/api/chaos?action=kill&site=iad"), 403);
    pg.send("kill iad");
    pg.wait_active("pdx");
    // The dashboard's state follows the poll that promoted pdx.
    let after = dom(&pg.url);
    assert_eq!(cell(&after, "active-site"), "pdx", "{after}");
    let iad_row = &after[after.find("id=\"site-iad\"").unwrap()..];
    let iad_row = &iad_row[..iad_row.find("</tr>").unwrap()];
    assert!(iad_row.contains("killed"), "{iad_row}");
    assert!(
        after.contains("Chaos"),
        "the timeline shows the kill: {after}"
    );

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("playground-dashboard.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--virtual-time-budget=5000",
        ],
        &pg.url,
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    eprintln!("dashboard screenshot: {}", shot.display());

    let status = pg.stop();
    assert!(status.success(), "{status}");
    assert_nothing_left(&tmp);
}

#[test]
fn scenario_pitr_archives_into_an_s3_bucket_and_restores_from_it() {
    build_helpers();
    let tmp = scratch("s3");
    let s3 = bloodraven_test_support::s3::S3Server::start().unwrap();
    let with_s3 = |cmd: &mut Command| {
        cmd.args(["--port", "0", "--sites", "2", "--scenario", "pitr"])
            .args(["--s3-endpoint", &s3.endpoint(), "--s3-bucket", s3.bucket()])
            .args(["--s3-prefix", "demo"])
            .env("AWS_REGION", s3.region())
            .stdin(Stdio::null());
    };

    // Without credentials: refused before anything starts, naming what to export.
    let mut cmd = playground(&tmp);
    with_s3(&mut cmd);
    let out = cmd
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--s3-endpoint needs AWS_ACCESS_KEY_ID") && stderr.contains(s3.bucket()),
        "{stderr}"
    );
    assert_nothing_left(&tmp);

    let mut cmd = playground(&tmp);
    with_s3(&mut cmd);
    let out = cmd
        .env("AWS_ACCESS_KEY_ID", s3.access_key())
        .env("AWS_SECRET_ACCESS_KEY", s3.secret_key())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "exit {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "archive in s3://archive/demo/binlogs at http://127.0.0.1:",
        "[PASS] the archive holds the bad migration's binary log",
        "[PASS] the restore holds exactly the rows before the bad migration",
        "[PASS] the binlog archive is continuous across the scenario",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    // The archive is in the bucket (objects are files below the server's root), not in the work directory.
    let archived = s3.root().join(s3.bucket()).join("demo/binlogs");
    let manifests: Vec<_> = std::fs::read_dir(&archived)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("manifest-"))
        .collect();
    assert!(
        !manifests.is_empty(),
        "no manifest in {}",
        archived.display()
    );
    assert_nothing_left(&tmp);
}

#[test]
fn a_taken_dashboard_port_is_refused_before_anything_starts() {
    let tmp = scratch("port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = playground(&tmp).args(["--port", &port]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("127.0.0.1:{port} is in use")) && stderr.contains("--port 0"),
        "{stderr}"
    );
    assert_nothing_left(&tmp);
}

#[test]
fn a_missing_mariadbd_names_the_package_to_install() {
    build_helpers();
    let tmp = scratch("mariadbd");
    let out = playground(&tmp)
        .args(["--port", "0"])
        .env("MARIADBD", "/nonexistent/mariadbd")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("mariadbd not found")
            && stderr.contains("apt-get install -y mariadb-server"),
        "{stderr}"
    );
    assert_nothing_left(&tmp);
}

#[test]
fn a_missing_sidecar_says_how_to_build_it() {
    let tmp = scratch("sidecar");
    let out = playground(&tmp)
        .args([
            "--port",
            "0",
            "--sidecar",
            "/nonexistent/bloodraven-sidecar",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bloodraven-sidecar not found")
            && stderr.contains("cargo build -p bloodraven-sidecar"),
        "{stderr}"
    );
    assert_nothing_left(&tmp);
}

#[test]
fn a_read_only_work_directory_is_refused() {
    let tmp = scratch("readonly");
    let dir = tmp.join("ro");
    std::fs::create_dir(&dir).unwrap();
    let mut perms = std::fs::metadata(&dir).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&dir, perms.clone()).unwrap();
    // Root ignores permission bits: then a directory in /sys (read-only to everyone) stands in.
    let keep = if std::fs::write(dir.join("probe"), b"x").is_ok() {
        PathBuf::from("/sys/bloodraven-playground")
    } else {
        dir.join("work")
    };
    let out = playground(&tmp)
        .args(["--port", "0", "--keep"])
        .arg(&keep)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "work directory {} is not writable",
            keep.display()
        )),
        "{stderr}"
    );
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&dir, perms).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_nothing_left(&tmp);
}
