//! The kubelet and the Job controller of the test control plane (which has neither): run a Job's init containers and
//! container as local processes (the same `bloodraven` binary; every volume a folder, shared between containers,
//! Secret volumes written into theirs; `/dev/termination-log` a file per container), then record the pod's container
//! statuses and the Job's outcome in their status as those controllers would.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, Pod, Secret};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// The kubelet and the Job controller of this control plane.
pub struct Kubelet {
    client: Client,
    namespace: String,
    /// Where Secret volumes and termination logs are written.
    pub scratch: PathBuf,
}

/// How one container's process ended.
pub struct Ran {
    pub name: String,
    pub code: i32,
    pub termination_message: String,
    pub stderr: String,
}

/// The pods' files (data directories of throwaway servers included) go with the kubelet; a failing test keeps
/// them for a look.
impl Drop for Kubelet {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

impl Kubelet {
    pub fn new(client: &Client, namespace: &str) -> Kubelet {
        // Short: the throwaway server's socket path below it must stay under 108 bytes.
        let tag: String = namespace
            .split('-')
            .filter(|p| !p.chars().all(|c| c.is_ascii_digit()))
            .filter_map(|p| p.chars().next())
            .collect();
        let scratch = std::env::temp_dir().join(format!("kb{}{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).unwrap();
        Kubelet {
            client: client.clone(),
            namespace: namespace.to_owned(),
            scratch,
        }
    }

    /// Runs the Job's pod and returns how its main container ended (see [`Kubelet::run_pod`]).
    pub async fn run(&self, job_name: &str, extra_env: &[(&str, &str)]) -> Ran {
        self.run_pod(job_name, extra_env)
            .await
            .pop()
            .expect("a pod runs at least one container")
    }

    /// [`run_pod`](Self::run_pod) of a Job that must succeed: every container exits 0 (else the test fails with
    /// its message and stderr) and, unless `steps` is empty, the containers that ran are exactly `steps`.
    pub async fn run_pod_ok(&self, job_name: &str, steps: &[&str]) -> Vec<Ran> {
        let ran = self.run_pod(job_name, &[]).await;
        for r in &ran {
            assert_eq!(
                r.code, 0,
                "{job_name} {}: {}\n{}",
                r.name, r.termination_message, r.stderr
            );
        }
        if !steps.is_empty() {
            let names: Vec<&str> = ran.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, steps, "the containers of {job_name}");
        }
        ran
    }

    /// Runs the Job's init containers in order, then its container (unless an init container failed), as local
    /// processes with `extra_env` added; records the pod's container statuses and the Job's outcome as the kubelet
    /// and the Job controller would. Returns how each container that ran ended, in order.
    pub async fn run_pod(&self, job_name: &str, extra_env: &[(&str, &str)]) -> Vec<Ran> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let job = jobs.get(job_name).await.unwrap();
        let pod_spec = job.spec.as_ref().unwrap().template.spec.clone().unwrap();
        let dir = self.scratch.join(job_name);
        std::fs::create_dir_all(&dir).unwrap();
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        // Every volume is a folder named after it, so emptyDirs are shared between containers.
        for volume in pod_spec.volumes.as_deref().unwrap_or_default() {
            let local = dir.join(&volume.name);
            std::fs::create_dir_all(&local).unwrap();
            if let Some(s) = &volume.secret {
                let secret = secrets
                    .get(s.secret_name.as_deref().unwrap())
                    .await
                    .unwrap();
                let data: BTreeMap<String, Vec<u8>> = secret
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect();
                match &s.items {
                    Some(items) => {
                        for item in items {
                            std::fs::write(local.join(&item.path), &data[&item.key]).unwrap();
                        }
                    }
                    None => {
                        for (k, v) in &data {
                            std::fs::write(local.join(k), v).unwrap();
                        }
                    }
                }
            }
        }
        let mut ran = Vec::new();
        let inits = pod_spec.init_containers.clone().unwrap_or_default();
        for c in inits.iter().chain(pod_spec.containers.iter()) {
            let r = self.run_container(c, &dir, extra_env).await;
            let failed = r.code != 0;
            ran.push(r);
            if failed {
                break;
            }
        }
        let status = |c: &Container| {
            let now = "2026-01-01T00:00:00Z";
            match ran.iter().find(|r| r.name == c.name) {
                Some(r) => json!({
                    "name": c.name, "image": c.image, "imageID": "", "ready": false, "restartCount": 0,
                    "state": { "terminated": {
                        "exitCode": r.code, "reason": if r.code == 0 { "Completed" } else { "Error" },
                        "message": r.termination_message, "startedAt": now, "finishedAt": now,
                    }},
                }),
                None => json!({
                    "name": c.name, "image": c.image, "imageID": "", "ready": false, "restartCount": 0,
                    "state": { "waiting": { "reason": "PodInitializing" } },
                }),
            }
        };
        let ok = ran.iter().all(|r| r.code == 0);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let pod_name = format!("{job_name}-run");
        let mut labels = job
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        labels.insert("job-name".into(), job_name.into());
        let slim = |c: &Container| json!({ "name": c.name, "image": c.image });
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": { "name": pod_name, "labels": labels },
                "spec": {
                    "restartPolicy": "Never",
                    "initContainers": inits.iter().map(slim).collect::<Vec<_>>(),
                    "containers": pod_spec.containers.iter().map(slim).collect::<Vec<_>>(),
                },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
        pods.patch_status(
            &pod_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": {
                "phase": if ok { "Succeeded" } else { "Failed" },
                "initContainerStatuses": inits.iter().map(status).collect::<Vec<_>>(),
                "containerStatuses": pod_spec.containers.iter().map(status).collect::<Vec<_>>(),
            }})),
        )
        .await
        .unwrap();
        let job_status = if ok {
            json!({ "succeeded": 1, "conditions": [{ "type": "Complete", "status": "True" }] })
        } else {
            json!({ "failed": 1, "conditions": [{ "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" }] })
        };
        jobs.patch_status(
            job_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": job_status })),
        )
        .await
        .unwrap();
        ran
    }

    async fn run_container(
        &self,
        c: &Container,
        dir: &std::path::Path,
        extra_env: &[(&str, &str)],
    ) -> Ran {
        let termination_log = dir.join(format!("{}.termination-log", c.name));
        let mut mounts: Vec<(String, PathBuf)> = c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.mount_path.clone(), dir.join(&m.name)))
            .collect();
        mounts.push(("/dev/termination-log".into(), termination_log.clone()));
        let localize = |value: &str| {
            for (mount, local) in &mounts {
                if let Some(rest) = value.strip_prefix(mount.as_str()) {
                    return format!("{}{rest}", local.display());
                }
            }
            value.to_owned()
        };
        let command = c.command.clone().unwrap();
        assert_eq!(command[0], "bloodraven");
        let mut process = Command::new(env!("CARGO_BIN_EXE_bloodraven"));
        process.args(&command[1..]);
        for e in c.env.as_deref().unwrap_or_default() {
            process.env(&e.name, localize(e.value.as_deref().unwrap_or_default()));
        }
        for (k, v) in extra_env {
            process.env(k, v);
        }
        let output = tokio::task::spawn_blocking(move || process.output().unwrap())
            .await
            .unwrap();
        Ran {
            name: c.name.clone(),
            code: output.status.code().unwrap_or(-1),
            termination_message: std::fs::read_to_string(&termination_log).unwrap_or_default(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
