//! Shared pieces of the tests against the real Kubernetes API server (`../shared/tools/k8s-from-debian.sh`, started by
//! `bloodraven_test_support::kube`): a client with the CRDs installed, a fresh namespace per test, a poller, and one
//! `bloodraven` manager process reaching real MariaDB servers through `--site-endpoint`.
//!
//! `tests/kube_operator.rs` keeps its own `Operator` (with the health port and `/active-site` helpers it needs).
#![allow(dead_code, unreachable_pub)]

pub mod kubelet;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};
use serde_json::json;

/// A client for the test control plane (started on first use), with the CRDs installed and served.
pub async fn cluster() -> (Client, PathBuf) {
    bloodraven_operator::controller::install_crypto_provider();
    let path = bloodraven_test_support::kube::kubeconfig().expect("the test Kubernetes API server");
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(&path).unwrap(),
        &KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let client = Client::try_from(config).unwrap();
    install_crds(&client).await;
    (client, path)
}

/// Creates or replaces the CRDs `bloodraven crds` prints, and waits until they are served.
pub async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in bloodraven_api::crd::crds() {
        let name = crd.name_any();
        match api.get_opt(&name).await.unwrap() {
            Some(existing) => {
                let mut crd = crd.clone();
                crd.metadata.resource_version = existing.resource_version();
                // Another test process may replace it meanwhile (409): theirs is the same.
                match api.replace(&name, &PostParams::default(), &crd).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 409 => {}
                    Err(e) => panic!("replace CRD {name}: {e}"),
                }
            }
            None => match api.create(&PostParams::default(), &crd).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => panic!("create CRD {name}: {e}"),
            },
        }
    }
    let groups: Api<MysqlFailoverGroup> = Api::all(client.clone());
    wait("the CRDs are served", Duration::from_secs(30), || async {
        groups.list(&ListParams::default().limit(1)).await.is_ok()
    })
    .await;
}

/// A fresh namespace for one test (the process id keeps concurrent runs apart).
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let name = format!("{prefix}-{}", std::process::id());
    let api: Api<Namespace> = Api::all(client.clone());
    api.create(
        &PostParams::default(),
        &serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap(),
    )
    .await
    .unwrap();
    name
}

/// Deletes a test namespace (best effort).
pub async fn delete_namespace(client: &Client, name: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await;
}

/// Polls `check` every 100 ms until it holds; panics after `timeout`.
pub async fn wait<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `bloodraven` manager process watching `namespace`, with `--site-endpoint` for each `(group, site, host,
/// port)`.
pub struct Operator {
    child: Child,
    /// The port of its `/metrics` on 127.0.0.1.
    pub metrics_port: u16,
    /// The port of its auxiliary server (`/active-site`, `/status`, `/pitr-cutoff`) on 127.0.0.1.
    pub aux_port: u16,
}

impl Operator {
    pub fn start(
        kubeconfig: &Path,
        namespace: &str,
        endpoints: &[(&str, &str, String, u16)],
    ) -> Operator {
        Operator::start_with(kubeconfig, namespace, endpoints, &[])
    }

    /// [`Operator::start`] with extra arguments.
    pub fn start_with(
        kubeconfig: &Path,
        namespace: &str,
        endpoints: &[(&str, &str, String, u16)],
        extra: &[&str],
    ) -> Operator {
        Operator::spawn(kubeconfig, namespace, endpoints, extra, Stdio::inherit())
    }

    /// [`Operator::start_with`], its log written to `log`.
    pub fn start_logged(
        kubeconfig: &Path,
        namespace: &str,
        endpoints: &[(&str, &str, String, u16)],
        extra: &[&str],
        log: &Path,
    ) -> Operator {
        let file = std::fs::File::create(log).expect("create the operator log");
        Operator::spawn(kubeconfig, namespace, endpoints, extra, Stdio::from(file))
    }

    fn spawn(
        kubeconfig: &Path,
        namespace: &str,
        endpoints: &[(&str, &str, String, u16)],
        extra: &[&str],
        stderr: Stdio,
    ) -> Operator {
        let (metrics_port, aux_port) = (free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_bloodraven"));
        command
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .args(["--namespace", namespace])
            .args(["--aux-bind-address", &format!("127.0.0.1:{aux_port}")])
            .args([
                "--health-probe-bind-address",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .args([
                "--metrics-bind-address",
                &format!("127.0.0.1:{metrics_port}"),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr);
        for (group, site, host, port) in endpoints {
            command.args([
                "--site-endpoint",
                &format!("{namespace}/{group}/{site}={host}:{port}"),
            ]);
        }
        Operator {
            child: command.spawn().expect("start bloodraven"),
            metrics_port,
            aux_port,
        }
    }

    /// The manager's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Whether the manager process is still running (it never crash-loops on bad input).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// The `bloodraven-sidecar` binary, built once per test process (the operator crate cannot depend on the sidecar
/// crate, which depends on it): it lands beside `bloodraven` in the target directory.
pub fn sidecar_binary() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-p",
                "bloodraven-sidecar",
                "--bin",
                "bloodraven-sidecar",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building bloodraven-sidecar");
    });
    Path::new(env!("CARGO_BIN_EXE_bloodraven")).with_file_name("bloodraven-sidecar")
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one run of the plugin printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the plugin with `--kubeconfig` and `-n`, stdin closed (never a terminal).
pub async fn plugin(kubeconfig: &Path, ns: &str, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-bloodraven"));
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", ns])
        .args(args)
        .stdin(Stdio::null());
    let output =
        tokio::task::spawn_blocking(move || command.output().expect("run kubectl-bloodraven"))
            .await
            .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    eprintln!(
        "$ kubectl bloodraven {}\n{}{}(exit {})",
        args.join(" "),
        run.stdout,
        run.stderr,
        run.code
    );
    run
}

/// An encrypted dump of the MariaDB server at `mysql_host` (`host:port`, user root without a password) into the
/// bucket at `output_url`, made by `bloodraven dump` with the environment a MysqlBackup's Job gets (credentials and
/// the passphrase as files under `scratch`); panics with its output when it fails.
pub fn dump_to_s3(
    mysql_host: &str,
    s3: &bloodraven_test_support::s3::S3Server,
    scratch: &Path,
    output_url: &str,
    passphrase: &str,
) {
    let creds = scratch.join("dump-creds");
    std::fs::create_dir_all(creds.join("mysql")).unwrap();
    std::fs::create_dir_all(creds.join("aws")).unwrap();
    std::fs::write(creds.join("mysql/MYSQL_USER"), "root").unwrap();
    std::fs::write(creds.join("mysql/MYSQL_PASSWORD"), "").unwrap();
    std::fs::write(creds.join("aws/AWS_ACCESS_KEY_ID"), s3.access_key()).unwrap();
    std::fs::write(creds.join("aws/AWS_SECRET_ACCESS_KEY"), s3.secret_key()).unwrap();
    std::fs::write(creds.join("passphrase"), passphrase).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bloodraven"))
        .arg("dump")
        .env("BLOODRAVEN_STORAGE_TYPE", "S3")
        .env("BLOODRAVEN_S3_BUCKET", s3.bucket())
        .env("BLOODRAVEN_S3_ENDPOINT_OVERRIDE", s3.endpoint())
        .env("AWS_REGION", s3.region())
        .env("BLOODRAVEN_AWS_CREDS_DIR", creds.join("aws"))
        .env("BLOODRAVEN_MYSQL_HOST", mysql_host)
        .env("BLOODRAVEN_MYSQL_CREDS_DIR", creds.join("mysql"))
        .env("BLOODRAVEN_OUTPUT_URL", output_url)
        .env(
            "BLOODRAVEN_BACKUP_PASSPHRASE_FILE",
            creds.join("passphrase"),
        )
        .env("BLOODRAVEN_RESULT_FILE", creds.join("dump-result"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bloodraven dump to {output_url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates Secret `name` in `namespace` from `string_data` (a JSON object of keys and values).
pub async fn create_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    string_data: serde_json::Value,
) {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), namespace);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(json!({ "metadata": { "name": name }, "stringData": string_data }))
            .unwrap(),
    )
    .await
    .unwrap();
}
