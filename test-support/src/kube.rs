//! A real Kubernetes API server for controller tests: `../shared/tools/k8s-from-debian.sh` (etcd, kube-apiserver
//! and kube-controller-manager v1.20 built from Debian's sources; no kubelet, so no pod ever runs).
//!
//! [`kubeconfig`] brings the control plane up once per machine (the script is idempotent; concurrent test
//! processes take turns through a file lock) and returns the path of its kubeconfig. The built binaries are cached
//! in `K8S_DEB_BIN_CACHE` (default `/var/cache/bloodraven/k8s`), so only the first run on a machine pays the
//! eight-minute build; `.ci/run` starts it before the tests.

use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The binary cache used when `K8S_DEB_BIN_CACHE` is not set.
pub const DEFAULT_BIN_CACHE: &str = "/var/cache/bloodraven/k8s";

/// The kubeconfig of the running control plane, starting it first if needed.
pub fn kubeconfig() -> io::Result<PathBuf> {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(up).clone().map_err(io::Error::other)
}

/// The settings this workspace's tests need where the environment does not set them (`.ci/run` sets the same):
/// a Service IP range larger than the script's /24, which about thirty failover groups fill, and the
/// pvc-protection controller, without which a namespace holding PVCs never finishes deleting.
fn control_plane_defaults() -> Vec<(&'static str, String)> {
    [
        (
            "K8S_DEB_APISERVER_ARGS",
            "--service-cluster-ip-range=10.96.0.0/16",
        ),
        (
            "K8S_DEB_CONTROLLERS",
            "garbagecollector,namespace,serviceaccount,serviceaccount-token,pvc-protection",
        ),
    ]
    .into_iter()
    .map(|(name, default)| {
        (
            name,
            std::env::var(name).unwrap_or_else(|_| default.to_owned()),
        )
    })
    .collect()
}

fn up() -> Result<PathBuf, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/tools/k8s-from-debian.sh"
    );
    let cache = std::env::var("K8S_DEB_BIN_CACHE").unwrap_or_else(|_| DEFAULT_BIN_CACHE.to_owned());
    let output = Command::new("flock")
        // `-o`: the lock's descriptor is not passed on, so the servers the script starts do not hold the lock for
        // the rest of their lives (every later `up` would wait for them forever).
        .args([
            "-o",
            "/tmp/bloodraven-k8s-from-debian.lock",
            "bash",
            script,
            "up",
        ])
        .env("K8S_DEB_BIN_CACHE", &cache)
        .envs(control_plane_defaults())
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::trim);
    match path {
        Some(path) if output.status.success() => Ok(PathBuf::from(path)),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            Err(format!(
                "{script} up failed ({}):\n{}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
    }
}
