//! The thin half that talks to the API server: the client from `--kubeconfig`/`--context`, reads that turn a
//! missing object into a [`Refusal`] naming it, and the watches behind `--wait`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::verification::MysqlBackupVerification;
use bloodraven_operator::record::Record;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::request::Refusal;
use crate::view::GroupView;

/// The field manager of the plugin's patches.
pub(crate) const FIELD_MANAGER: &str = "kubectl-bloodraven";

/// A client and the namespace the command works in.
pub(crate) struct Cluster {
    pub(crate) client: Client,
    pub(crate) namespace: String,
}

impl Cluster {
    /// Connects as kubectl would: `--kubeconfig`, else `KUBECONFIG`/`~/.kube/config`, else in-cluster; `--context`
    /// picks the context; `-n` overrides the context's namespace.
    pub(crate) async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> anyhow::Result<Cluster> {
        bloodraven_operator::controller::install_crypto_provider();
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let config = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(file, &options)
                    .await
                    .with_context(|| format!("cannot use the kubeconfig {}", path.display()))?
            }
            None if context.is_some() => kube::Config::from_kubeconfig(&options)
                .await
                .context("cannot use the kubeconfig (KUBECONFIG or ~/.kube/config)")?,
            None => kube::Config::infer()
                .await
                .context("no kubeconfig found: pass --kubeconfig or set KUBECONFIG")?,
        };
        let namespace = namespace.map_or_else(|| config.default_namespace.clone(), str::to_owned);
        let client = Client::try_from(config).context("cannot build a Kubernetes client")?;
        Ok(Cluster { client, namespace })
    }

    pub(crate) fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The group, or a refusal saying it does not exist here.
    pub(crate) async fn group(&self, name: &str) -> anyhow::Result<MysqlFailoverGroup> {
        let found = self
            .api::<MysqlFailoverGroup>()
            .get_opt(name)
            .await
            .with_context(|| self.reading(&format!("MysqlFailoverGroup {name}")))?;
        found.ok_or_else(|| {
            Refusal::new(
                format!(
                    "there is no MysqlFailoverGroup {name:?} in namespace {}",
                    self.namespace
                ),
                format!("the GROUP argument (namespace {})", self.namespace),
                "check the name and -n (kubectl get mysqlfailovergroups -A lists them)",
            )
            .into()
        })
    }

    /// The group's durable record (`mysql-<group>-failover-record`, key `record.json`), if the operator wrote one.
    pub(crate) async fn record(&self, group: &str) -> anyhow::Result<Option<Record>> {
        let name = bloodraven_api::names::object::failover_record(group);
        let Some(map) = self
            .api::<ConfigMap>()
            .get_opt(&name)
            .await
            .with_context(|| self.reading(&format!("ConfigMap {name}")))?
        else {
            return Ok(None);
        };
        let Some(json) = map.data.as_ref().and_then(|d| d.get("record.json")) else {
            return Ok(None);
        };
        serde_json::from_str(json)
            .map(Some)
            .with_context(|| format!("ConfigMap {name} key record.json is not a failover record"))
    }

    /// Every object of a kind whose `spec.failoverGroupRef.name` is `group`; empty when the kind is not served.
    async fn runs<K>(&self, group: &str, of: impl Fn(&K) -> &str) -> Vec<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        match self.api::<K>().list(&ListParams::default()).await {
            Ok(list) => list.items.into_iter().filter(|k| of(k) == group).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Everything `status GROUP` shows.
    pub(crate) async fn view(&self, group: &MysqlFailoverGroup) -> anyhow::Result<GroupView> {
        let name = group.metadata.name.clone().unwrap_or_default();
        let record = self.record(&name).await?;
        let backups = self
            .runs::<MysqlBackup>(&name, |b| &b.spec.failover_group_ref.name)
            .await;
        let verifications = self
            .runs::<MysqlBackupVerification>(&name, |v| &v.spec.failover_group_ref.name)
            .await;
        Ok(GroupView::new(
            group,
            record.as_ref(),
            &backups,
            &verifications,
        ))
    }

    /// Merge-patches the group's metadata.
    pub(crate) async fn patch_group(
        &self,
        name: &str,
        patch: &serde_json::Value,
    ) -> anyhow::Result<MysqlFailoverGroup> {
        self.api::<MysqlFailoverGroup>()
            .patch(
                name,
                &PatchParams {
                    field_manager: Some(FIELD_MANAGER.to_owned()),
                    ..PatchParams::default()
                },
                &Patch::Merge(patch),
            )
            .await
            .with_context(|| {
                format!(
                    "cannot annotate MysqlFailoverGroup {name} in namespace {}",
                    self.namespace
                )
            })
    }

    /// Follows one object: calls `step` on every version until it returns `Some`, or fails after `timeout`.
    pub(crate) async fn follow<K, T>(
        &self,
        name: &str,
        timeout: Duration,
        mut step: impl FnMut(Option<&K>) -> Option<T>,
    ) -> anyhow::Result<T>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
        K::DynamicType: Default,
    {
        let stream = watcher::watch_object(self.api::<K>(), name);
        let mut stream = std::pin::pin!(stream);
        let follow = async {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(object) => {
                        if let Some(done) = step(object.as_ref()) {
                            return Ok(done);
                        }
                    }
                    // The watcher retries by itself; a failed watch is only noise here.
                    Err(e) => tracing::debug!("watch: {e}"),
                }
            }
            anyhow::bail!("the watch of {name} ended")
        };
        tokio::time::timeout(timeout, follow).await.map_err(|_| {
            anyhow::anyhow!(
                "{} {name} did not finish within {timeout:?} (raise --timeout, or look at kubectl describe)",
                K::kind(&K::DynamicType::default())
            )
        })?
    }

    fn reading(&self, what: &str) -> String {
        format!(
            "cannot read {what} in namespace {} from the API server",
            self.namespace
        )
    }
}
