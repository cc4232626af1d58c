//! The Kubernetes side (feature `kube`): the `MysqlFailoverGroup` controller ([`run`]) the `bloodraven`
//! binary runs.
//!
//! The controller (kube-runtime's `Controller`) reconciles every group:
//!
//! ```text
//!   group event / 30 s requeue ─▶ leader? ──no──▶ stop this group's runner (a standby only keeps its caches warm)
//!                                   │yes
//!                                   ▼
//!        finalizer shipstream.io/graceful-shutdown ── deleting ─▶ stop the runner, remove node taints,
//!                                   │                              GracefulShutdown event, let owner refs cascade
//!                                   ▼
//!        spec → engine config, credentials from the operator Secret
//!           ├─ unusable (field path) ─▶ Ready=False condition + Warning event; nothing is fenced or promoted
//!           └─ usable ─▶ one runner per group, restarted when its inputs change (spec, endpoints, credentials)
//! ```
//!
//! Each runner polls its sites and writes through the Kubernetes platform: status (only when it changed),
//! events, the durable record, DNS and node taints. Every runner publishes into the manager's
//! [`Topology`], which the auxiliary server answers `/active-site` from.
//!
//! Every group's objects ([`render`]: Deployments, PVCs, the ConfigMap, Services, the PodDisruptionBudget) are
//! server-side applied when they change; every poll labels the pods the `-primary` and `-replicas` Services select
//! ([`labels`]). Not yet here (later issues): credential rotation and TLS to MySQL.

pub mod archiver;
pub mod backup;
mod credentials;
pub mod labels;
pub mod render;
pub mod restore;
pub mod spec;
pub mod standby;
pub mod status;
pub mod verification;

mod platform;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType as KubeEventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::watch;

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::names::{event, finalizer::GRACEFUL_SHUTDOWN};

use crate::driver::{self, DriverSite};
use crate::engine::Taint;
use crate::http::{Readiness, Topology};
use crate::metrics::Exporter;
use crate::platform::Platform;
use crate::runner::{Clock, Runner, RunnerConfig};

use platform::{KubePlatform, SiteTargets};
use spec::{SiteEndpoints, SpecProblem};

/// How often a healthy group is reconciled again (credentials and Secrets are re-read then), as the Go operator's
/// 30 s sync.
const RESYNC: Duration = Duration::from_secs(30);

/// How often the manager asks again whether the external-dns `DNSEndpoint` API is served.
const DNS_API_RECHECK: Duration = Duration::from_secs(15);

/// An error of one reconcile; the controller retries it with a back-off.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Adding or removing the finalizer failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

/// How the manager runs.
#[derive(Clone, Debug, Default)]
pub struct ManagerOptions {
    /// Watch only this namespace (`None`: all).
    pub namespace: Option<String>,
    /// `--site-endpoint` overrides for a manager running outside the cluster.
    pub site_endpoints: SiteEndpoints,
    /// `--sidecar-endpoint` overrides: where a site's sidecar is reached by a manager outside the cluster.
    pub sidecar_endpoints: SiteEndpoints,
    /// How often the sidecars' `/archiver/status` is polled ([`archiver::POLL_INTERVAL`] when zero).
    pub archiver_poll_interval: Duration,
    /// Deadlines and replication settings every runner starts from (namespace and credentials are filled in per
    /// group).
    pub runner: RunnerConfig,
    /// Where sidecars reach this operator's auxiliary server (`BLOODRAVEN_ADDRESS` of the rendered pods, unless
    /// `spec.sidecar.bloodravenAddress` says otherwise).
    pub operator_address: String,
    /// What the runners drive: each site's MySQL server (the default) or simulated servers.
    pub sites: SiteSource,
}

/// What a manager's runners drive.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum SiteSource {
    /// Each site's MySQL server, through the drivers.
    #[default]
    Driver,
    /// In-process simulated servers (feature `sim`, `sim::Lab::for_group`): a healthy primary and its replicas per
    /// group. A benchmark and development aid (`bloodraven --simulate-sites`), never a production mode.
    #[cfg(feature = "sim")]
    Simulated,
}

/// The state every reconcile shares.
struct Context {
    client: Client,
    options: ManagerOptions,
    topology: Topology,
    exporter: Arc<Exporter>,
    recorder: Recorder,
    leader: watch::Receiver<bool>,
    store: Store<MysqlFailoverGroup>,
    /// Whether the external-dns `DNSEndpoint` API is served, looked up again every [`DNS_API_RECHECK`].
    dns_served: Arc<AtomicBool>,
    runners: Mutex<BTreeMap<(String, String), Running>>,
    /// Per group, the hash of the objects last applied: unchanged objects are not applied again.
    applied: Mutex<BTreeMap<(String, String), u64>>,
    /// Per group, the credential Secrets (name → resource version) whose passwords MySQL was last seen to accept.
    accepted: Mutex<BTreeMap<(String, String), BTreeMap<String, String>>>,
    /// Per group and Secret, the last rotation failure reported (reported again only when it changes).
    rotation_failures: Mutex<BTreeMap<(String, String, String), String>>,
}

/// A group's runner task and the inputs it was started with.
struct Running {
    fingerprint: u64,
    task: tokio::task::JoinHandle<()>,
    /// The operator account the runner uses (the password MySQL accepts, until a rotation succeeds).
    credentials: spec::Credentials,
}

/// Runs the `MysqlFailoverGroup` controller until `shutdown` resolves; `readiness` turns ready once its cache of
/// groups is synced.
///
/// `leader` says whether this process may run groups (always `true` without leader election); the controller
/// reconciles every group again whenever it changes, starting or stopping their runners.
pub async fn run(
    client: Client,
    options: ManagerOptions,
    topology: Topology,
    exporter: Arc<Exporter>,
    leader: watch::Receiver<bool>,
    readiness: Readiness,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), Error> {
    let groups: Api<MysqlFailoverGroup> = match &options.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let dns_served = Arc::new(AtomicBool::new(false));
    let dns_api = watch_dns_endpoint_api(client.clone(), Arc::clone(&dns_served));
    // The first answer is in before any runner starts; later ones come every `DNS_API_RECHECK`.
    tokio::spawn(dns_api.await);
    let controller = Controller::new(groups, watcher::Config::default());
    let store = controller.store();
    let synced = store.clone();
    tokio::spawn(async move {
        // Ready once the group cache has its first full list; a standby is ready too. The store's readiness
        // keeps one waker only (the controller's, which waits on it too), so ask again until it answers.
        loop {
            match tokio::time::timeout(Duration::from_millis(250), synced.wait_until_ready()).await
            {
                Ok(Ok(())) => break readiness.set_ready(true),
                Ok(Err(_)) => break,
                Err(_) => {}
            }
        }
    });
    let context = Arc::new(Context {
        recorder: recorder(&client),
        client,
        options,
        topology,
        exporter,
        leader: leader.clone(),
        store,
        dns_served,
        runners: Mutex::new(BTreeMap::new()),
        applied: Mutex::new(BTreeMap::new()),
        accepted: Mutex::new(BTreeMap::new()),
        rotation_failures: Mutex::new(BTreeMap::new()),
    });
    let leadership = futures::stream::unfold(leader, |mut leader| async move {
        leader.changed().await.ok()?;
        Some(((), leader))
    });
    let backups = tokio::spawn(backup::run(
        context.client.clone(),
        context.options.clone(),
        context.leader.clone(),
    ));
    let schedules = tokio::spawn(backup::schedules::run(
        context.client.clone(),
        context.options.clone(),
        context.leader.clone(),
    ));
    let verifications = tokio::spawn(verification::run(
        context.client.clone(),
        context.options.clone(),
        context.leader.clone(),
    ));
    let standbys = tokio::spawn(standby::run(
        context.client.clone(),
        context.options.clone(),
        context.leader.clone(),
    ));
    let archiver = tokio::spawn(archiver::run(
        context.client.clone(),
        context.store.clone(),
        context.options.sidecar_endpoints.clone(),
        context.leader.clone(),
        match context.options.archiver_poll_interval {
            Duration::ZERO => archiver::POLL_INTERVAL,
            every => every,
        },
    ));
    let restores = tokio::spawn(restore::run(
        context.client.clone(),
        context.options.clone(),
        context.leader.clone(),
    ));
    let in_place_restores = tokio::spawn(restore::in_place::run(
        context.client.clone(),
        context.options.clone(),
        context.leader.clone(),
    ));
    controller
        .reconcile_all_on(leadership)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, Arc::clone(&context))
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile failed");
            }
        })
        .await;
    backups.abort();
    archiver.abort();
    verifications.abort();
    restores.abort();
    in_place_restores.abort();
    standbys.abort();
    schedules.abort();
    context.stop_all();
    Ok(())
}

/// `Api` over `namespace`, or over all namespaces (`--namespace` unset).
pub(crate) fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The Event recorder every controller of this manager uses (`reportingController: bloodraven`, the pod as
/// instance).
pub(crate) fn recorder(client: &Client) -> Recorder {
    let reporter = Reporter {
        controller: "bloodraven".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    Recorder::new(client.clone(), reporter)
}

/// Merge-patches `status` into `object`'s status subresource.
pub(crate) async fn patch_status<K>(
    client: &Client,
    object: &K,
    status: serde_json::Value,
) -> Result<(), kube::Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
    api.patch_status(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({ "status": status })),
    )
    .await?;
    Ok(())
}

/// Publishes an Event about `object` (its note cut to the API's 1000 characters); a failure is only logged.
pub(crate) async fn publish<K>(
    recorder: &Recorder,
    object: &K,
    type_: KubeEventType,
    reason: &str,
    note: &str,
) where
    K: kube::Resource<DynamicType = ()>,
{
    publish_related(recorder, object, type_, reason, note, None).await;
}

/// [`publish`] with a related object: events of one reason about different related objects are separate series
/// (the recorder folds repeats of a reason into one series, keeping the first note).
pub(crate) async fn publish_related<K>(
    recorder: &Recorder,
    object: &K,
    type_: KubeEventType,
    reason: &str,
    note: &str,
    related: Option<k8s_openapi::api::core::v1::ObjectReference>,
) where
    K: kube::Resource<DynamicType = ()>,
{
    let e = KubeEvent {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: reason.into(),
        secondary: related,
    };
    if let Err(err) = recorder.publish(&e, &object.object_ref(&())).await {
        tracing::debug!(error = %err, reason, "cannot publish event");
    }
}

/// Runs a controller of `K` objects that own Jobs until the process ends (the manager aborts it on shutdown):
/// an object is reconciled when it or one of its Jobs changes, and a failed reconcile is logged and tried again
/// after 10 s. `kind` names the objects in the logs.
pub(crate) async fn run_owning_jobs<K, C, F, Fut, E>(
    objects: Api<K>,
    jobs: Api<k8s_openapi::api::batch::v1::Job>,
    context: Arc<C>,
    reconcile: F,
    kind: &'static str,
) where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + std::fmt::Debug + Unpin,
    C: Send + Sync + 'static,
    F: FnMut(Arc<K>, Arc<C>) -> Fut,
    Fut: std::future::Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + 'static,
{
    let error_policy = move |object: Arc<K>, error: &E, _: Arc<C>| {
        tracing::warn!(kind, name = %object.name_any(), %error, "reconcile failed; retrying");
        Action::requeue(Duration::from_secs(10))
    };
    Controller::new(objects, watcher::Config::default())
        .owns(jobs, watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(kind, error = %e, "reconcile failed");
            }
        })
        .await;
}

/// The image the Job-running controllers give their Jobs: `BLOODRAVEN_OPERATOR_IMAGE`, else
/// [`backup::DEFAULT_IMAGE`].
pub(crate) fn job_image() -> String {
    std::env::var("BLOODRAVEN_OPERATOR_IMAGE")
        .ok()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| backup::DEFAULT_IMAGE.into())
}

async fn reconcile(group: Arc<MysqlFailoverGroup>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = group.namespace().unwrap_or_default();
    let name = group.name_any();
    let span = tracing::info_span!("reconcile", %namespace, group = %name);
    if !*ctx.leader.borrow() {
        ctx.stop(&namespace, &name);
        return Ok(Action::requeue(RESYNC));
    }
    let api: Api<MysqlFailoverGroup> = Api::namespaced(ctx.client.clone(), &namespace);
    let steps = finalizer(&api, GRACEFUL_SHUTDOWN, group, |step| async move {
        match step {
            Finalizer::Apply(group) => ctx.apply(&group).await,
            Finalizer::Cleanup(group) => ctx.cleanup(&group).await,
        }
    });
    tracing::Instrument::instrument(steps, span)
        .await
        .map_err(|e| Error::Finalizer(e.to_string()))
}

fn error_policy(group: Arc<MysqlFailoverGroup>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(group = %group.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

impl Context {
    /// Starts (or keeps, or restarts) the group's runner; refuses an unusable spec with a condition and an event.
    /// A changed password is set in MySQL before the runner or the pods use it.
    async fn apply(&self, group: &MysqlFailoverGroup) -> Result<Action, Error> {
        let namespace = group.namespace().unwrap_or_default();
        let name = group.name_any();
        let key = (namespace.clone(), name.clone());
        let inputs = self.inputs(group, &namespace).await?;
        let use_inputs = match &inputs {
            Ok(inputs) => self.rotate_credentials(group, inputs).await?,
            Err(_) => false,
        };
        // Failover does not wait on rendering: a failed apply is reported and retried on the next reconcile.
        if let Err(e) = self.apply_objects(group, &namespace, &name).await {
            tracing::warn!(error = %e, "could not apply the group's objects");
        }
        match inputs {
            Ok(inputs) if use_inputs => {
                let fingerprint = inputs.fingerprint();
                let running = self
                    .runners
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&key)
                    .is_some_and(|r| r.fingerprint == fingerprint && !r.task.is_finished());
                if !running {
                    self.start(group, inputs, fingerprint);
                }
            }
            // A password MySQL does not have yet: the runner keeps the one it has.
            Ok(_) => {}
            Err(problem) => {
                self.stop(&namespace, &name);
                self.refuse(group, &problem).await?;
            }
        }
        Ok(Action::requeue(RESYNC))
    }

    /// Brings MySQL's passwords in step with the group's credential Secrets ([`credentials`]); says whether the
    /// runner may use `inputs` (false while a changed operator password is not yet set in MySQL).
    async fn rotate_credentials(
        &self,
        group: &MysqlFailoverGroup,
        inputs: &Inputs,
    ) -> Result<bool, Error> {
        let namespace = group.namespace().unwrap_or_default();
        let key = (namespace.clone(), group.name_any());
        let previous = self
            .accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()
            .unwrap_or_default();
        let running = self
            .runners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .filter(|r| !r.task.is_finished())
            .map(|r| r.credentials.clone());
        let primary = group
            .status
            .as_ref()
            .and_then(|s| s.active_site.as_deref())
            .and_then(|site| {
                let i = inputs.config.sites.iter().position(|s| s.name == site)?;
                let (host, port) = inputs.dial[i].clone();
                Some(credentials::Primary {
                    site: site.to_owned(),
                    host,
                    port,
                    tls: inputs.tls.as_ref().map(|ca_pem| driver::Tls {
                        ca_pem: ca_pem.clone(),
                        server_name: spec::internal_host(&group.name_any(), site, &namespace),
                    }),
                })
            });
        let (secret, version) = inputs.secret.clone();
        let mut accepted = BTreeMap::new();
        // A Secret whose new password MySQL now has (set here, or by hand): the pods restart onto it.
        let mut restart = false;
        let operator_changed = running
            .as_ref()
            .is_some_and(|old| *old != inputs.credentials);
        let mut use_inputs = true;
        match (&running, &primary) {
            // The legacy `secretName` mode: the user sets the password in MySQL first (operations.txt).
            (Some(_), _) if group.spec.credentials.is_none() => {}
            (Some(old), Some(primary)) if operator_changed => {
                match primary.rotate(&inputs.credentials, old).await {
                    Ok(credentials::Rotation::Current) => restart = true,
                    Ok(credentials::Rotation::Set(n)) => {
                        restart = true;
                        self.rotated(
                            group,
                            "spec.credentials.operatorSecret",
                            &secret,
                            &inputs.credentials.user,
                            n,
                            &primary.site,
                        )
                        .await;
                    }
                    Ok(credentials::Rotation::NoSuchUser) => {
                        use_inputs = false;
                        self.rotation_failed(group, &secret, format!(
                            "spec.credentials.operatorSecret: MySQL has no account {:?} on the primary {}",
                            inputs.credentials.user, primary.site
                        ))
                        .await;
                    }
                    Err(e) => {
                        use_inputs = false;
                        self.rotation_failed(group, &secret, format!(
                            "spec.credentials.operatorSecret: the new password of {:?} could not be set on the \
                             primary {}: {e}; the operator keeps using the previous password",
                            inputs.credentials.user, primary.site
                        ))
                        .await;
                    }
                }
            }
            // No primary to set it on yet: keep the running password until there is one.
            (Some(_), None) if operator_changed => use_inputs = false,
            _ => {}
        }
        match (use_inputs, previous.get(&secret)) {
            (true, _) => accepted.insert(secret, version),
            (false, Some(old)) => accepted.insert(secret, old.clone()),
            (false, None) => None,
        };
        if let (true, Some(primary)) = (use_inputs, &primary) {
            let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
            for (field, name) in credentials::role_secrets(group) {
                // A role Secret is optional for failover: a missing or incomplete one is left alone.
                let Some(found) = secrets.get_opt(&name).await? else {
                    continue;
                };
                let (name, version) = credentials::secret_version(&found);
                if previous.get(&name) == Some(&version) {
                    accepted.insert(name, version);
                    continue;
                }
                let Some(account) = credentials::role_account(&found) else {
                    continue;
                };
                // First seen by this process: only a password MySQL refused restarts the pods.
                let changed = previous.contains_key(&name);
                match primary.rotate(&account, &inputs.credentials).await {
                    Ok(credentials::Rotation::Set(n)) => {
                        self.rotated(group, field, &name, &account.user, n, &primary.site)
                            .await;
                        restart = true;
                        accepted.insert(name, version);
                    }
                    Ok(credentials::Rotation::Current) => {
                        restart |= changed;
                        accepted.insert(name, version);
                    }
                    Ok(credentials::Rotation::NoSuchUser) => {
                        accepted.insert(name, version);
                    }
                    Err(e) => {
                        self.rotation_failed(group, &name, format!(
                            "{field}: the password of {:?} could not be set on the primary {}: {e}",
                            account.user, primary.site
                        ))
                        .await;
                        if let Some(old) = previous.get(&name) {
                            accepted.insert(name, old.clone());
                        }
                    }
                }
            }
        } else {
            // Nothing could be checked: the pods stay on what MySQL last accepted.
            for (name, version) in &previous {
                accepted
                    .entry(name.clone())
                    .or_insert_with(|| version.clone());
            }
        }
        if restart {
            self.restart_pods(group, &credentials::version(&accepted))
                .await?;
        }
        self.accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, accepted);
        Ok(use_inputs)
    }

    /// Restarts the group's pods onto new Secret values, as `kubectl rollout restart` does: a pod-template
    /// annotation ([`CREDENTIALS_VERSION`]) written by its own field manager, so the rendered objects' apply
    /// leaves it alone.
    ///
    /// [`CREDENTIALS_VERSION`]: bloodraven_api::names::annotation::CREDENTIALS_VERSION
    async fn restart_pods(&self, group: &MysqlFailoverGroup, version: &str) -> Result<(), Error> {
        let namespace = group.namespace().unwrap_or_default();
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(self.client.clone(), &namespace);
        let patch = json!({ "spec": { "template": { "metadata": { "annotations": {
            bloodraven_api::names::annotation::CREDENTIALS_VERSION: version,
        }}}}});
        let params = PatchParams {
            field_manager: Some(format!("{}-credentials", platform::FIELD_MANAGER)),
            ..PatchParams::default()
        };
        for site in &group.spec.sites {
            let name = bloodraven_api::names::object::site(&group.name_any(), &site.name);
            match deployments
                .patch(&name, &params, &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(%version, "pods restarted onto the rotated credentials");
        Ok(())
    }

    async fn rotated(
        &self,
        group: &MysqlFailoverGroup,
        field: &str,
        secret: &str,
        user: &str,
        accounts: usize,
        primary: &str,
    ) {
        let namespace = group.namespace().unwrap_or_default();
        self.rotation_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(namespace, group.name_any(), secret.to_owned()));
        tracing::info!(%field, %secret, %user, accounts, %primary, "password rotated");
        self.publish_about(
            group,
            KubeEventType::Normal,
            event::CREDENTIALS_ROTATED,
            format!(
                "{field}: the password of {user:?} from Secret {secret} was set on {accounts} account(s) through \
                 the primary {primary}; the pods restart onto it"
            ),
            Some(secret_reference(group, secret)),
        )
        .await;
    }

    async fn rotation_failed(&self, group: &MysqlFailoverGroup, secret: &str, message: String) {
        let namespace = group.namespace().unwrap_or_default();
        let repeated = self
            .rotation_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                (namespace, group.name_any(), secret.to_owned()),
                message.clone(),
            )
            .is_some_and(|last| last == message);
        if repeated {
            return;
        }
        tracing::warn!(%secret, "{message}");
        self.publish_about(
            group,
            KubeEventType::Warning,
            event::CREDENTIAL_ROTATION_FAILED,
            message,
            Some(secret_reference(group, secret)),
        )
        .await;
    }

    /// Server-side applies the group's rendered objects when they differ from what was last applied. A kind the
    /// cluster does not serve (`policy/v1` before Kubernetes 1.21) is skipped with a log line.
    async fn apply_objects(
        &self,
        group: &MysqlFailoverGroup,
        namespace: &str,
        name: &str,
    ) -> Result<(), Error> {
        let objects = render::objects(group, &self.options.operator_address);
        let mut hash = DefaultHasher::new();
        for o in &objects {
            o.manifest.to_string().hash(&mut hash);
        }
        let hash = hash.finish();
        let key = (namespace.to_owned(), name.to_owned());
        if self
            .applied
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            == Some(&hash)
        {
            return Ok(());
        }
        for o in &objects {
            let (group_name, version) =
                o.api_version.split_once('/').unwrap_or(("", o.api_version));
            let resource = kube::api::ApiResource {
                group: group_name.into(),
                version: version.into(),
                api_version: o.api_version.into(),
                kind: o.kind.into(),
                plural: format!("{}s", o.kind.to_ascii_lowercase()),
            };
            let api: Api<kube::api::DynamicObject> =
                Api::namespaced_with(self.client.clone(), namespace, &resource);
            let params = PatchParams::apply(platform::FIELD_MANAGER).force();
            match api
                .patch(&o.name, &params, &Patch::Apply(&o.manifest))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    tracing::debug!(
                        kind = o.kind,
                        api_version = o.api_version,
                        "not served by this cluster; skipped"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.applied
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, hash);
        Ok(())
    }

    /// Everything a runner needs, or the problem that keeps it from running.
    async fn inputs(
        &self,
        group: &MysqlFailoverGroup,
        namespace: &str,
    ) -> Result<Result<Inputs, SpecProblem>, Error> {
        let name = group.name_any();
        let mut config = match spec::engine_config(group, namespace) {
            Ok(c) => c,
            Err(p) => return Ok(Err(p)),
        };
        let (secret, field) = match spec::credentials_secret(group) {
            Ok(s) => s,
            Err(p) => return Ok(Err(p)),
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let Some(found) = secrets.get_opt(&secret).await? else {
            return Ok(Err(SpecProblem {
                reason: event::SECRET_NOT_FOUND,
                field: field.to_owned(),
                message: format!("Secret {secret} not found in namespace {namespace}"),
            }));
        };
        let secret_version = credentials::secret_version(&found);
        let data: BTreeMap<String, Vec<u8>> = found
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        let credentials = match spec::credentials(&secret, field, &data) {
            Ok(c) => c,
            Err(p) => return Ok(Err(p)),
        };
        let replication = spec::replication_credentials(&data, &credentials);
        let ca_pem = match &group.spec.tls {
            Some(tls) => {
                let field = "spec.tls.secretName";
                let Some(found) = secrets.get_opt(&tls.secret_name).await? else {
                    return Ok(Err(SpecProblem {
                        reason: event::SECRET_NOT_FOUND,
                        field: field.to_owned(),
                        message: format!(
                            "TLS Secret {} not found in namespace {namespace} (cert-manager writes it from the \
                             group's Certificate)",
                            tls.secret_name
                        ),
                    }));
                };
                let Some(ca) = found.data.as_ref().and_then(|d| d.get("ca.crt")) else {
                    return Ok(Err(SpecProblem {
                        reason: event::SECRET_MISSING_KEY,
                        field: field.to_owned(),
                        message: format!(
                            "TLS Secret {} has no ca.crt: the operator checks the servers' certificates against it",
                            tls.secret_name
                        ),
                    }));
                };
                Some(ca.0.clone())
            }
            None => None,
        };
        let endpoints = &self.options.site_endpoints;
        let mut dial = Vec::new();
        let mut source_ports = BTreeMap::new();
        for site in &mut config.sites {
            let (host, port) = endpoints.resolve(namespace, &name, &site.name);
            // Replicas report their source by the host they dial: the engine compares with this one.
            site.host.clone_from(&host);
            if port != self.options.runner.port {
                source_ports.insert(site.name.clone(), port);
            }
            dial.push((host, port));
        }
        let targets = site_targets(group);
        let mut runner = self.options.runner.clone();
        runner.namespace = namespace.to_owned();
        runner.repl_user = replication.user;
        runner.repl_password = replication.password;
        runner.source_ports = source_ports;
        runner.clone_timeout = spec::clone_timeout(group);
        runner.tls = ca_pem.is_some();
        Ok(Ok(Inputs {
            config,
            dial,
            secret: secret_version,
            credentials,
            tls: ca_pem,
            runner,
            targets,
            flavor: spec::flavor(group),
        }))
    }

    fn start(&self, group: &MysqlFailoverGroup, inputs: Inputs, fingerprint: u64) {
        let namespace = group.namespace().unwrap_or_default();
        let name = group.name_any();
        let platform = Arc::new(KubePlatform::new(
            self.client.clone(),
            self.store.clone(),
            inputs.config.clone(),
            group,
            self.recorder.clone(),
            inputs.targets,
            Arc::clone(&self.dns_served),
        ));
        let sites: Vec<Arc<DriverSite>> = inputs
            .config
            .sites
            .iter()
            .zip(&inputs.dial)
            .map(|(site, (host, port))| {
                let mut cfg = driver::SiteConfig::new(
                    &site.name,
                    host,
                    *port,
                    &inputs.credentials.user,
                    inputs.credentials.password.clone(),
                );
                cfg.clone_timeout = inputs.runner.clone_timeout;
                cfg.tls = inputs.tls.as_ref().map(|ca_pem| driver::Tls {
                    ca_pem: ca_pem.clone(),
                    server_name: spec::internal_host(&name, &site.name, &namespace),
                });
                Arc::new(DriverSite::new(cfg, inputs.flavor))
            })
            .collect();
        let credentials = inputs.credentials.clone();
        let (config, runner_config) = (inputs.config, inputs.runner);
        let (exporter, topology) = (Arc::clone(&self.exporter), self.topology.clone());
        let span = tracing::info_span!("group", namespace = %namespace, group = %name);
        #[cfg(feature = "sim")]
        let simulated = (self.options.sites == SiteSource::Simulated).then_some(inputs.flavor);
        let task = tokio::spawn(tracing::Instrument::instrument(
            async move {
                tracing::info!("runner started");
                #[cfg(feature = "sim")]
                if let Some(flavor) = simulated {
                    let lab = crate::sim::Lab::for_group(&config.sites, flavor);
                    let runner = Runner::new(
                        config,
                        lab.sites(),
                        platform,
                        runner_config,
                        Clock::system(),
                    );
                    return runner
                        .await
                        .with_metrics(exporter)
                        .with_topology(topology)
                        .run()
                        .await;
                }
                Runner::new(config, sites, platform, runner_config, Clock::system())
                    .await
                    .with_metrics(exporter)
                    .with_topology(topology)
                    .run()
                    .await;
            },
            span,
        ));
        let previous = self
            .runners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                (namespace, name),
                Running {
                    fingerprint,
                    task,
                    credentials,
                },
            );
        if let Some(previous) = previous {
            previous.task.abort();
        }
    }

    /// Stops a group's runner, if it runs here.
    fn stop(&self, namespace: &str, name: &str) {
        self.applied
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(namespace.to_owned(), name.to_owned()));
        let running = self
            .runners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(namespace.to_owned(), name.to_owned()));
        if let Some(running) = running {
            running.task.abort();
            tracing::info!(%namespace, group = %name, "runner stopped");
        }
        self.topology.remove(namespace, name);
    }

    fn stop_all(&self) {
        let runners =
            std::mem::take(&mut *self.runners.lock().unwrap_or_else(PoisonError::into_inner));
        for ((namespace, name), running) in runners {
            running.task.abort();
            self.topology.remove(&namespace, &name);
        }
    }

    /// The finalizer: stop the runner, take the node taints off, say so; owner references delete the rest.
    async fn cleanup(&self, group: &MysqlFailoverGroup) -> Result<Action, Error> {
        let namespace = group.namespace().unwrap_or_default();
        let name = group.name_any();
        self.stop(&namespace, &name);
        let config = spec::engine_config(group, &namespace)
            .unwrap_or_else(|_| crate::engine::Config::new(name.clone(), Vec::new()));
        let platform = KubePlatform::new(
            self.client.clone(),
            self.store.clone(),
            config,
            group,
            self.recorder.clone(),
            site_targets(group),
            Arc::new(AtomicBool::new(false)),
        );
        for site in &group.spec.sites {
            if let Err(e) = platform.taint(&site.name, Taint::Remove).await {
                tracing::warn!(site = %site.name, error = %e, "could not remove the node taint");
            }
        }
        self.publish(
            group,
            KubeEventType::Normal,
            event::GRACEFUL_SHUTDOWN,
            "group deleted: topology manager stopped, node taints removed".into(),
        )
        .await;
        Ok(Action::await_change())
    }

    /// Reports a spec the engine cannot run: `Ready=False` with the problem's reason and field, and a Warning event
    /// when the problem is new.
    async fn refuse(&self, group: &MysqlFailoverGroup, problem: &SpecProblem) -> Result<(), Error> {
        let namespace = group.namespace().unwrap_or_default();
        let message = problem.to_string();
        let current = group
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
        if current.is_some_and(|c| c.reason == problem.reason && c.message == message) {
            return Ok(());
        }
        tracing::warn!(field = %problem.field, reason = problem.reason, "{}", problem.message);
        let now = crate::record::format_rfc3339(platform::now());
        let patch = json!({ "status": { "conditions": [{
            "type": "Ready",
            "status": "False",
            "reason": problem.reason,
            "message": message,
            "lastTransitionTime": now,
        }]}});
        Api::<MysqlFailoverGroup>::namespaced(self.client.clone(), &namespace)
            .patch_status(
                &group.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        self.publish(group, KubeEventType::Warning, problem.reason, message)
            .await;
        Ok(())
    }

    async fn publish(
        &self,
        group: &MysqlFailoverGroup,
        type_: KubeEventType,
        reason: &str,
        note: String,
    ) {
        self.publish_about(group, type_, reason, note, None).await;
    }

    /// [`Context::publish`] with a related object (events about different objects are not folded into one series).
    async fn publish_about(
        &self,
        group: &MysqlFailoverGroup,
        type_: KubeEventType,
        reason: &str,
        note: String,
        related: Option<k8s_openapi::api::core::v1::ObjectReference>,
    ) {
        let event = KubeEvent {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: related,
        };
        if let Err(e) = self.recorder.publish(&event, &group.object_ref(&())).await {
            tracing::warn!(error = %e, %reason, "could not emit event");
        }
    }
}

/// A reference to a Secret in the group's namespace.
fn secret_reference(
    group: &MysqlFailoverGroup,
    secret: &str,
) -> k8s_openapi::api::core::v1::ObjectReference {
    k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Secret".into()),
        name: Some(secret.to_owned()),
        namespace: group.namespace(),
        ..Default::default()
    }
}

/// Everything a group's runner is started with.
struct Inputs {
    config: crate::engine::Config,
    dial: Vec<(String, u16)>,
    /// The operator Secret's name and resource version.
    secret: (String, String),
    credentials: spec::Credentials,
    /// The CA of `spec.tls` (PEM), when the group uses TLS.
    tls: Option<Vec<u8>>,
    runner: RunnerConfig,
    targets: BTreeMap<String, SiteTargets>,
    flavor: crate::site::Flavor,
}

impl Inputs {
    /// Changes when anything the runner was started with changes (the password included, by hash only).
    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        format!("{:?}", self.config).hash(&mut h);
        self.dial.hash(&mut h);
        self.credentials.user.hash(&mut h);
        self.credentials.password.expose().hash(&mut h);
        self.runner.repl_user.hash(&mut h);
        self.runner.repl_password.expose().hash(&mut h);
        self.runner.source_ports.hash(&mut h);
        self.runner.tls.hash(&mut h);
        self.tls.hash(&mut h);
        format!("{:?}", self.flavor).hash(&mut h);
        for (site, t) in &self.targets {
            (site, &t.lb_ip, &t.node_selector).hash(&mut h);
        }
        h.finish()
    }
}

/// Each site's DNS target and node selector (`sites[].lbIP`, `sites[].taintNodeSelector` as a label selector).
fn site_targets(group: &MysqlFailoverGroup) -> BTreeMap<String, SiteTargets> {
    group
        .spec
        .sites
        .iter()
        .map(|s| {
            let node_selector = s.taint_node_selector.as_ref().map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let lb_ip = s.lb_ip.clone();
            (
                s.name.clone(),
                SiteTargets {
                    lb_ip,
                    node_selector,
                },
            )
        })
        .collect()
}

/// Makes ring the process's rustls provider (idempotent). Call it before building a Kubernetes client: when another
/// crate of the same build enables aws-lc-rs (object_store's S3 support does), rustls cannot choose by itself and
/// the client's first TLS handshake panics.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Sets `served` to whether the cluster serves the external-dns `DNSEndpoint` API, and returns the task that asks
/// again every [`DNS_API_RECHECK`], so a CRD installed (or removed) later is noticed without a restart.
async fn watch_dns_endpoint_api(
    client: Client,
    served: Arc<AtomicBool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let resource = platform::dns_endpoint_resource();
    let api: Api<kube::api::DynamicObject> = Api::all_with(client, &resource);
    let ask = move |first: bool| {
        let (api, served) = (api.clone(), Arc::clone(&served));
        async move {
            let now = api
                .list(&kube::api::ListParams::default().limit(1))
                .await
                .is_ok();
            let before = served.swap(now, Ordering::AcqRel);
            if now && !before {
                tracing::info!("the externaldns.k8s.io/v1alpha1 DNSEndpoint API is served");
            } else if !now && (before || first) {
                tracing::warn!(
                    "the externaldns.k8s.io/v1alpha1 DNSEndpoint API is not served: groups with spec.dns report \
                     DNSPublished=False"
                );
            }
        }
    };
    ask(true).await;
    async move {
        loop {
            tokio::time::sleep(DNS_API_RECHECK).await;
            ask(false).await;
        }
    }
}
