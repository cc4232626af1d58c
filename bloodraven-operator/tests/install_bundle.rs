//! The install bundle in `examples/install/` and the example manifests in `examples/`: the committed CRDs are the
//! ones `bloodraven crds` prints; every metric an alert or a dashboard panel uses is one the operator or the sidecar
//! exports; the Containerfiles build binaries the workspace has; every example manifest passes `bloodraven-api
//! lint`; and the bundle builds with `kubectl kustomize`, applies to the real API server (v1.20 from
//! `../shared/tools/k8s-from-debian.sh`, which authorizes with RBAC) and its RBAC is enough for the operator, run as
//! the bundle's ServiceAccount, to take a group over real MariaDB servers to Ready, and no more than that.

mod kube_support;
mod live_support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::names::metric;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, PostParams};
use kube_support::{Operator, cluster, delete_namespace, namespace, wait};
use live_support::{Group, host};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn install() -> PathBuf {
    repo().join("examples/install")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `kubectl kustomize DIR`, parsed into its documents.
fn kustomize(dir: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    bloodraven_api::manifest::documents(&String::from_utf8(output.stdout).unwrap()).unwrap()
}

fn kind<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the bundle"))
}

#[test]
fn the_committed_crds_are_the_ones_bloodraven_crds_prints() {
    let listed = read(&install().join("crds/kustomization.yaml"));
    for crd in bloodraven_api::crd::crds() {
        let file = bloodraven_api::crd::file_name(&crd);
        let path = install().join("crds").join(&file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == bloodraven_api::crd::to_yaml(&crd).unwrap(),
            "{} is stale: regenerate with `cargo run -p bloodraven-api -- crds --out examples/install/crds`",
            path.display()
        );
        assert!(
            listed.contains(&file),
            "crds/kustomization.yaml does not list {file}"
        );
    }
}

/// Every `bloodraven_…` name in `text`, with the histogram series suffixes taken off names that are histograms.
fn metric_names(text: &str) -> BTreeSet<String> {
    let exported: BTreeSet<&str> = metric::ALL
        .iter()
        .chain(metric::ADDITIONS)
        .copied()
        .collect();
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("bloodraven_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| exported.contains(b)))
            .unwrap_or(name);
        names.insert(base.to_owned());
        rest = &tail[end..];
    }
    names
}

fn unknown_metrics(text: &str) -> Vec<String> {
    let exported: BTreeSet<&str> = metric::ALL
        .iter()
        .chain(metric::ADDITIONS)
        .copied()
        .collect();
    metric_names(text)
        .into_iter()
        .filter(|n| !exported.contains(n.as_str()))
        .collect()
}

#[test]
fn alerts_and_dashboards_use_only_exported_metrics() {
    // The check itself tells a wrong name from a right one.
    assert_eq!(
        unknown_metrics(
            "rate(bloodraven_backup_duration_seconds_bucket[5m]) + bloodraven_nope_total"
        ),
        vec!["bloodraven_nope_total"]
    );
    let docs = bloodraven_api::manifest::documents(&read(
        &install().join("monitoring/prometheusrule.yaml"),
    ))
    .unwrap();
    let rules: Vec<&Value> = docs[0]["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    let alerts: BTreeSet<&str> = rules.iter().map(|r| r["alert"].as_str().unwrap()).collect();
    let rules = rules
        .iter()
        .map(|r| r["expr"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        unknown_metrics(&rules),
        Vec::<String>::new(),
        "prometheusrule.yaml"
    );
    // The alerts the product docs name.
    for (alert, metric_used) in [
        (
            "BloodravenBackupVerificationStale",
            metric::BACKUP_VERIFIED_TIMESTAMP_SECONDS,
        ),
        (
            "BloodravenBackupVerificationFailing",
            metric::BACKUP_VERIFICATION_RUNS_TOTAL,
        ),
        (
            "BloodravenReplicationLagHigh",
            metric::REPLICATION_LAG_SECONDS,
        ),
        (
            "BloodravenDivergentTransactions",
            metric::DIVERGENT_TRANSACTIONS,
        ),
        ("BloodravenArchiverBacklog", metric::ARCHIVER_BACKLOG_FILES),
        (
            "BloodravenArchiverUploadFailures",
            metric::ARCHIVER_UPLOAD_FAILURES,
        ),
        ("BloodravenNoWritableSite", metric::SITE_STATE),
    ] {
        assert!(alerts.contains(alert), "no alert {alert}");
        assert!(rules.contains(metric_used), "no alert uses {metric_used}");
    }
    let mut used = BTreeSet::new();
    for dashboard in ["overview", "failover", "replication", "backups", "archiver"] {
        let path = install().join(format!("monitoring/dashboards/{dashboard}.json"));
        let json: Value = serde_json::from_str(&read(&path)).unwrap();
        let exprs: Vec<&str> = json["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().unwrap())
            .map(|t| t["expr"].as_str().unwrap())
            .collect();
        assert!(!exprs.is_empty(), "{dashboard} has no queries");
        let text = exprs.join("\n");
        assert_eq!(
            unknown_metrics(&text),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        used.extend(metric_names(&text));
    }
    assert!(used.len() >= 25, "the dashboards show only {used:?}");
}

/// The `[[bin]]` names and package names of the workspace's crates.
fn workspace_binaries() -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut bins, mut packages) = (BTreeSet::new(), BTreeSet::new());
    for entry in std::fs::read_dir(repo()).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.to_owned();
            } else if let Some(value) = line.strip_prefix("name = ") {
                let value = value.trim_matches('"').to_owned();
                match section.as_str() {
                    "[[bin]]" => {
                        bins.insert(value);
                    }
                    "[package]" => {
                        packages.insert(value);
                    }
                    _ => {}
                }
            }
        }
    }
    (bins, packages)
}

#[test]
fn the_containerfiles_build_binaries_the_workspace_has() {
    let (bins, packages) = workspace_binaries();
    assert!(
        bins.contains("bloodraven") && packages.contains("bloodraven-operator"),
        "{bins:?}"
    );
    for (file, entrypoint) in [
        ("Containerfile.operator", "bloodraven"),
        ("Containerfile.sidecar", "bloodraven-sidecar"),
    ] {
        let text = read(&install().join(file));
        let words: Vec<&str> = text.split_whitespace().collect();
        let after = |flag: &str| -> Vec<&str> {
            words
                .windows(2)
                .filter(|w| w[0] == flag)
                .map(|w| w[1])
                .collect()
        };
        let built = after("--bin");
        assert!(!built.is_empty(), "{file} builds no --bin");
        for bin in &built {
            assert!(
                bins.contains(*bin),
                "{file}: --bin {bin} is not a [[bin]] of the workspace ({bins:?})"
            );
        }
        for package in after("-p") {
            assert!(
                packages.contains(package),
                "{file}: -p {package} is not a workspace package"
            );
        }
        assert!(
            built.contains(&entrypoint),
            "{file} does not build {entrypoint}"
        );
        assert!(
            text.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{entrypoint}\"]")),
            "{file}: entrypoint"
        );
        let stages = text.lines().filter(|l| l.starts_with("FROM ")).count();
        assert_eq!(stages, 2, "{file}: a build and a runtime stage");
        let user = text.lines().rfind(|l| l.starts_with("USER ")).unwrap();
        assert!(
            !user.contains("root") && !user.contains(" 0"),
            "{file}: runs as {user}"
        );
    }
}

#[test]
fn every_example_manifest_passes_bloodraven_api_lint() {
    let mut linted = 0;
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let docs = bloodraven_api::manifest::documents(&read(&path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for checked in docs.iter().filter_map(bloodraven_api::manifest::check) {
            assert!(
                checked.violations.is_empty(),
                "{}: {}/{}: {:?}",
                path.display(),
                checked.kind,
                checked.name,
                checked.violations
            );
            linted += 1;
        }
    }
    // The minimal group, TLS, S3 backups + verification, encryption, the standby cluster and the DR restore.
    assert!(linted >= 6, "only {linted} Bloodraven objects in examples/");
    // And the lint does refuse a broken one (the same call).
    let broken = bloodraven_api::manifest::documents(
        "apiVersion: shipstream.io/v1alpha1\nkind: MysqlBackup\nmetadata: {name: b}\nspec: {profileName: x}\n",
    )
    .unwrap();
    assert!(
        !bloodraven_api::manifest::check(&broken[0])
            .unwrap()
            .violations
            .is_empty()
    );
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn the_overlays_build_and_the_deployment_is_hardened() {
    let base = kustomize(&install().join("base"));
    assert_eq!(
        base.iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
            .count(),
        5
    );
    let deployment = kind(&base, "Deployment", "bloodraven-operator");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "bloodraven-operator");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert!(
        c["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--leader-elect"))
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let ports: Vec<i64> = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [8080, 8081, 8082]);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert!(
        c["resources"]["requests"]["memory"].is_string()
            && c["resources"]["limits"]["memory"].is_string()
    );
    // `kubectl bloodraven version` finds it by these labels.
    let labels = &deployment["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/name"], "bloodraven");
    assert_eq!(labels["app.kubernetes.io/component"], "operator");
    kind(&base, "Service", "bloodraven-operator-metrics");
    kind(&base, "Service", "bloodraven-operator-aux");

    let single = kustomize(&install().join("overlays/single-namespace"));
    let args = &kind(&single, "Deployment", "bloodraven-operator")["spec"]["template"]["spec"]["containers"]
        [0]["args"];
    assert!(
        args.as_array()
            .unwrap()
            .contains(&json!("--namespace=databases")),
        "{args}"
    );
    assert!(
        !single
            .iter()
            .any(|d| d["kind"] == "ClusterRoleBinding"
                && d["metadata"]["name"] == "bloodraven-operator"),
        "single-namespace keeps the cluster-wide binding"
    );
    assert_eq!(
        kind(&single, "RoleBinding", "bloodraven-operator")["metadata"]["namespace"],
        "databases"
    );
    kind(&single, "ClusterRoleBinding", "bloodraven-operator-nodes");

    let monitoring = kustomize(&install().join("overlays/monitoring"));
    kind(&monitoring, "PrometheusRule", "bloodraven");
    kind(&monitoring, "ServiceMonitor", "bloodraven-operator");
    let dashboards = kind(&monitoring, "ConfigMap", "bloodraven-dashboards");
    assert_eq!(dashboards["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(dashboards["data"].as_object().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_applies_and_its_rbac_is_enough_for_the_operator_and_no_more() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "install").await;
    // The CRDs as the install notes say for a v1.20 server (client-side, --validate=false: no CEL there).
    let crds = install().join("crds");
    let (ok, out) = kubectl(
        &kubeconfig,
        &["apply", "--validate=false", "-k", crds.to_str().unwrap()],
        None,
    );
    assert!(ok, "{out}");
    // The operator part, into the test's namespace, with a prefix on the cluster-scoped names.
    let dir = tempfile_dir(&ns);
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "namespace: {ns}\nnamePrefix: {ns}-\nresources:\n  - {}\n",
            relative(&dir, &install().join("operator"))
        ),
    )
    .unwrap();
    let built = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let built = String::from_utf8(built.stdout).unwrap();
    let (ok, out) = kubectl(
        &kubeconfig,
        &[
            "apply",
            "--server-side",
            "--field-manager=install-test",
            "-f",
            "-",
        ],
        Some(&built),
    );
    assert!(ok, "{out}");
    let sa = format!("{ns}-bloodraven-operator");
    for object in [
        format!("deployment/{ns}-bloodraven-operator"),
        format!("service/{ns}-bloodraven-operator-metrics"),
        format!("service/{ns}-bloodraven-operator-aux"),
        format!("serviceaccount/{sa}"),
        format!("clusterrole/{ns}-bloodraven-operator"),
        format!("clusterrolebinding/{ns}-bloodraven-operator-nodes"),
        format!("role/{ns}-bloodraven-leader-election"),
    ] {
        let (ok, out) = kubectl(&kubeconfig, &["get", "-n", &ns, &object], None);
        assert!(ok, "{object}: {out}");
    }

    // `kubectl bloodraven version` finds the operator the bundle installed.
    let version = Command::new(env!("CARGO_BIN_EXE_kubectl-bloodraven"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.contains(&format!(
            "Operator:  {ns}/{ns}-bloodraven-operator ghcr.io/shipstream/bloodraven-operator:0.1.0"
        )),
        "{version}"
    );

    // Least privilege: what the controllers call is allowed, what they never call is not.
    let as_sa = format!("--as=system:serviceaccount:{ns}:{sa}");
    let can = |verb: &str, resource: &str, namespace: &str| {
        let (ok, out) = kubectl(
            &kubeconfig,
            &["auth", "can-i", &as_sa, "-n", namespace, verb, resource],
            None,
        );
        (ok, out.lines().next().unwrap_or_default().trim().to_owned())
    };
    for (verb, resource, where_) in [
        (
            "patch",
            "mysqlfailovergroups.shipstream.io/status",
            "default",
        ),
        ("create", "deployments.apps", "default"),
        ("patch", "pods", "default"),
        ("patch", "nodes", "default"),
        ("create", "events.events.k8s.io", "default"),
        ("create", "jobs.batch", "default"),
        ("create", "mysqlbackups.shipstream.io", "default"),
        ("update", "leases.coordination.k8s.io", ns.as_str()),
    ] {
        assert_eq!(
            can(verb, resource, where_),
            (true, "yes".into()),
            "{verb} {resource} in {where_}"
        );
    }
    for (verb, resource, where_) in [
        ("delete", "deployments.apps", "default"),
        ("delete", "persistentvolumeclaims", "default"),
        ("create", "secrets", "default"),
        ("delete", "nodes", "default"),
        ("create", "leases.coordination.k8s.io", "default"),
        ("delete", "mysqlfailovergroups.shipstream.io", "default"),
    ] {
        let (allowed, answer) = can(verb, resource, where_);
        assert!(
            !allowed && answer == "no",
            "{verb} {resource} in {where_} is allowed ({answer})"
        );
    }

    // Enough: the operator, as that ServiceAccount (its token, nothing else), runs a group to Ready.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut token = String::new();
    for _ in 0..300 {
        let secret = accounts
            .get(&sa)
            .await
            .ok()
            .and_then(|a| a.secrets?.first()?.name.clone());
        if let Some(name) = secret
            && let Some(data) = secrets.get(&name).await.ok().and_then(|s| s.data)
            && let Some(t) = data.get("token")
        {
            token = String::from_utf8_lossy(&t.0).into_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !token.is_empty(),
        "no token for ServiceAccount {sa} after 30 s"
    );
    let admin = read(&kubeconfig);
    let as_operator: String = admin
        .lines()
        .map(|l| match l.find("token: ") {
            Some(at) => format!("{}token: {token}", &l[..at]),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let sa_kubeconfig = dir.join("kubeconfig");
    std::fs::write(&sa_kubeconfig, as_operator).unwrap();
    let group = Group::start(2);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": { "name": "orders-operator" },
                "stringData": { "username": "root", "password": "" },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    groups
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "shipstream.io/v1alpha1",
                "kind": "MysqlFailoverGroup",
                "metadata": { "name": "orders" },
                "spec": {
                    "image": "mariadb:11.4",
                    "credentials": { "operatorSecret": "orders-operator" },
                    "dns": { "hostname": "orders.example.test" },
                    "pollInterval": "1s",
                    "sites": [
                        { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                        { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
                    ],
                },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let endpoints: Vec<(&str, &str, String, u16)> = ["iad", "pdx"]
        .iter()
        .enumerate()
        .map(|(i, site)| ("orders", *site, host(i), group.servers[i].port()))
        .collect();
    let log = dir.join("operator.log");
    let op = Operator::start_logged(
        &sa_kubeconfig,
        &ns,
        &endpoints,
        &["--leader-elect", "--leader-election-namespace", &ns],
        &log,
    );
    wait(
        "the group Ready under the bundle's RBAC",
        Duration::from_secs(90),
        || async {
            let g = groups.get("orders").await.unwrap();
            let s = serde_json::to_value(&g.status).unwrap();
            let ready = s["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            ready && s["activeSite"] == "iad" && s["sites"][1]["replicating"] == true
        },
    )
    .await;
    // Its objects were applied and its Lease taken, all with the ServiceAccount's permissions.
    for object in [
        "deployment/mysql-orders-iad",
        "service/mysql-orders-primary",
        "lease/bloodraven.shipstream.io",
    ] {
        let (ok, out) = kubectl(&kubeconfig, &["get", "-n", &ns, object], None);
        assert!(ok, "{object}: {out}");
    }
    // A few more polls (status writes, events, pod labels), then: nothing the operator asked for was forbidden.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(op);
    let log = read(&log);
    assert!(
        !log.contains("Forbidden") && !log.contains("forbidden"),
        "{log}"
    );
    assert!(log.contains("runner started"), "{log}");
    cleanup_cluster_scoped(&kubeconfig, &ns);
    delete_namespace(&client, &ns).await;
}

fn cleanup_cluster_scoped(kubeconfig: &Path, ns: &str) {
    for object in [
        format!("clusterrole/{ns}-bloodraven-operator"),
        format!("clusterrole/{ns}-bloodraven-operator-nodes"),
        format!("clusterrolebinding/{ns}-bloodraven-operator"),
        format!("clusterrolebinding/{ns}-bloodraven-operator-nodes"),
    ] {
        let _ = kubectl(kubeconfig, &["delete", "--ignore-not-found", &object], None);
    }
}

/// `to` relative to the directory `from` (kustomize takes no absolute resource paths).
fn relative(from: &Path, to: &Path) -> String {
    let from = from.canonicalize().unwrap();
    let to = to.canonicalize().unwrap();
    let ups = "../".repeat(from.components().count() - 1);
    format!("{ups}{}", to.strip_prefix("/").unwrap().display())
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bloodraven-install-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
