//! The kubelet and the Job controller of the test control plane (which has neither): run a Job's container as a
//! local process (the same `bloodraven` binary, Secret volumes written to temporary folders at the mount paths'
//! place, `/dev/termination-log` a temporary file), then record the pod's termination message and the Job's outcome
//! in their status as those controllers would.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
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

/// What a Job's process did.
pub struct Ran {
    pub code: i32,
    pub termination_message: String,
    pub stderr: String,
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

    /// Runs the Job's (only) container as a local process and records the outcome as the kubelet and the Job
    /// controller would: a Pod with the container's termination message, then the Job's status.
    pub async fn run(&self, job_name: &str, extra_env: &[(&str, &str)]) -> Ran {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let job = jobs.get(job_name).await.unwrap();
        let pod_spec = job.spec.as_ref().unwrap().template.spec.clone().unwrap();
        let container = &pod_spec.containers[0];
        let dir = self.scratch.join(job_name);
        std::fs::create_dir_all(&dir).unwrap();
        // Secret volumes, materialized where the kubelet would mount them.
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut mounts: Vec<(String, PathBuf)> = Vec::new();
        for m in container.volume_mounts.as_deref().unwrap_or_default() {
            let volume = pod_spec
                .volumes
                .as_deref()
                .unwrap_or_default()
                .iter()
                .find(|v| v.name == m.name)
                .unwrap();
            let local = dir.join(&m.name);
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
            mounts.push((m.mount_path.clone(), local));
        }
        let termination_log = dir.join("termination-log");
        mounts.push(("/dev/termination-log".into(), termination_log.clone()));
        let localize = |value: &str| {
            for (mount, local) in &mounts {
                if let Some(rest) = value.strip_prefix(mount.as_str()) {
                    return format!("{}{rest}", local.display());
                }
            }
            value.to_owned()
        };
        let command = container.command.clone().unwrap();
        assert_eq!(command[0], "bloodraven");
        let mut process = Command::new(env!("CARGO_BIN_EXE_bloodraven"));
        process.args(&command[1..]);
        for e in container.env.as_deref().unwrap_or_default() {
            process.env(&e.name, localize(e.value.as_deref().unwrap_or_default()));
        }
        for (k, v) in extra_env {
            process.env(k, v);
        }
        let output = tokio::task::spawn_blocking(move || process.output().unwrap())
            .await
            .unwrap();
        let code = output.status.code().unwrap_or(-1);
        let termination_message = std::fs::read_to_string(&termination_log).unwrap_or_default();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        // The Job controller's pod and the kubelet's report of its container.
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
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": { "name": pod_name, "labels": labels },
                "spec": { "restartPolicy": "Never", "containers": [{ "name": container.name, "image": container.image }] },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
        let now = "2026-01-01T00:00:00Z";
        pods.patch_status(
            &pod_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": {
                "phase": if code == 0 { "Succeeded" } else { "Failed" },
                "containerStatuses": [{
                    "name": container.name, "image": container.image, "imageID": "", "ready": false,
                    "restartCount": 0,
                    "state": { "terminated": {
                        "exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
                        "message": termination_message, "startedAt": now, "finishedAt": now,
                    }},
                }],
            }})),
        )
        .await
        .unwrap();
        let status = if code == 0 {
            json!({ "succeeded": 1, "conditions": [{ "type": "Complete", "status": "True" }] })
        } else {
            json!({ "failed": 1, "conditions": [{ "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" }] })
        };
        jobs.patch_status(
            job_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await
        .unwrap();
        Ran {
            code,
            termination_message,
            stderr,
        }
    }
}
