//! The commands: each checks its request against the cluster, writes (or reads) through [`Cluster`] and prints
//! the result in the chosen [`Output`]. The pure parts they call are in [`crate::request`], [`crate::view`] and
//! [`crate::standby`].

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::status::PlannedFailoverPhase;
use bloodraven_api::standby::MysqlStandbyCluster;
use bloodraven_api::verification::{MysqlBackupVerification, VerificationPhase};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde::Serialize;

use crate::cluster::Cluster;
use crate::request::{self, Refusal};
use crate::{Output, emit, phase_text, standby, view};

pub(crate) async fn status(
    cluster: &Cluster,
    group: Option<&str>,
    out: Output,
) -> anyhow::Result<ExitCode> {
    let views = match group {
        Some(name) => vec![cluster.view(&cluster.group(name).await?).await?],
        None => {
            let groups = cluster
                .api::<MysqlFailoverGroup>()
                .list(&ListParams::default())
                .await
                .with_context(|| {
                    format!(
                        "cannot list MysqlFailoverGroups in namespace {}",
                        cluster.namespace
                    )
                })?;
            let mut views = Vec::new();
            for g in &groups.items {
                views.push(cluster.view(g).await?);
            }
            views
        }
    };
    match (out, group) {
        (Output::Table, Some(_)) => print!("{}", views[0].table()),
        (Output::Table, None) if views.is_empty() => {
            eprintln!("no MysqlFailoverGroups in namespace {}", cluster.namespace);
        }
        (Output::Table, None) => print!("{}", view::list_table(&views)),
        (_, Some(_)) => emit(out, &views[0])?,
        (_, None) => emit(out, &views)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn promote(
    cluster: &Cluster,
    name: &str,
    site: &str,
    max_lag_wait: Option<&str>,
    timeout: Option<Duration>,
    out: Output,
) -> anyhow::Result<ExitCode> {
    let group = cluster.group(name).await?;
    let (value, patch) = request::promote(&group, site, max_lag_wait)?;
    let before = planned_start(&group);
    let patched = cluster.patch_group(name, &patch).await?;
    if out == Output::Table {
        println!(
            "{name}: planned failover to {site} requested ({}={value})",
            bloodraven_api::names::annotation::PLANNED_FAILOVER
        );
    } else if timeout.is_none() {
        emit(out, &patched)?;
    }
    let Some(timeout) = timeout else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut seen = None;
    let end = cluster
        .follow::<MysqlFailoverGroup, _>(name, timeout, |g| {
            let g = g?;
            let p = g.status.as_ref()?.planned_failover.as_ref()?;
            // Only this request's attempt: the target matches and the start differs from the attempt before.
            if p.target.as_deref() != Some(site) || planned_start(g) == before {
                return None;
            }
            let phase = p.phase?;
            if seen != Some(phase) {
                seen = Some(phase);
                if out == Output::Table {
                    println!("{name}: plannedFailover {}", phase_text(&phase));
                }
            }
            matches!(
                phase,
                PlannedFailoverPhase::Succeeded | PlannedFailoverPhase::Failed
            )
            .then(|| g.clone())
        })
        .await?;
    let p = end
        .status
        .as_ref()
        .and_then(|s| s.planned_failover.clone())
        .unwrap_or_default();
    if out != Output::Table {
        emit(out, &end)?;
    }
    if p.phase == Some(PlannedFailoverPhase::Succeeded) {
        if out == Output::Table {
            println!(
                "{name}: {site} is the active site ({} transactions lost)",
                p.transactions_lost.unwrap_or(0)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "kubectl-bloodraven: the planned failover of {name} to {site} failed: {}: {}",
        p.reason.as_deref().unwrap_or("unknown reason"),
        p.message.as_deref().unwrap_or("")
    );
    Ok(ExitCode::FAILURE)
}

fn planned_start(group: &MysqlFailoverGroup) -> Option<String> {
    let p = group.status.as_ref()?.planned_failover.as_ref()?;
    Some(format!(
        "{}|{}",
        p.start_time
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
        p.target.as_deref().unwrap_or_default()
    ))
}

pub(crate) async fn reclone(
    cluster: &Cluster,
    name: &str,
    site: &str,
    yes: bool,
    cold: bool,
    out: Output,
) -> anyhow::Result<ExitCode> {
    let group = cluster.group(name).await?;
    let (value, patch) = request::reclone(&group, site, cold)?;
    let active = group
        .status
        .as_ref()
        .and_then(|s| s.active_site.clone())
        .unwrap_or_else(|| "the active site".into());
    if !yes {
        let stdin = io::stdin();
        if !stdin.is_terminal() {
            return Err(Refusal::new(
                format!("recloning {site} wipes its data and needs confirmation, and stdin is not a terminal"),
                format!("reclone {name} {site}"),
                "run it in a terminal to confirm, or add --yes",
            )
            .into());
        }
        eprint!(
            "This wipes the data of {site} in {name} and clones it again from {active}{}.\nType the site name ({site}) to confirm: ",
            if cold {
                ""
            } else {
                ", discarding its divergent transactions"
            }
        );
        io::stderr().flush()?;
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if answer.trim() != site {
            eprintln!("kubectl-bloodraven: not confirmed, nothing changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    let patched = cluster.patch_group(name, &patch).await?;
    match out {
        Output::Table => println!(
            "{name}: reclone of {site} requested ({}={value}); the operator clones it from {active}",
            bloodraven_api::names::annotation::RECLONE_SITE
        ),
        _ => emit(out, &patched)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn backup(
    cluster: &Cluster,
    name: &str,
    profile: &str,
    timeout: Option<Duration>,
    out: Output,
) -> anyhow::Result<ExitCode> {
    let group = cluster.group(name).await?;
    request::check_profile(&group, profile)?;
    let object = request::backup(name, &cluster.namespace, profile)?;
    create_and_follow(
        cluster,
        &object,
        timeout,
        out,
        |b: &MysqlBackup| b.status.as_ref()?.phase,
        |p| match p {
            BackupPhase::Succeeded => Some(true),
            BackupPhase::Failed => Some(false),
            _ => None,
        },
        |b| b.status.as_ref().and_then(|s| s.message.clone()),
    )
    .await
}

/// What `backup` and `verify-backup` do with their object: create it, print it, and with a `timeout` (`--wait`)
/// follow its phase to the end; `outcome` says which phases end it and whether that is a success. Exit 1 when it
/// failed, with its `status.message`.
async fn create_and_follow<K, P>(
    cluster: &Cluster,
    object: &K,
    timeout: Option<Duration>,
    out: Output,
    phase: impl Fn(&K) -> Option<P>,
    outcome: impl Fn(P) -> Option<bool>,
    message: impl Fn(&K) -> Option<String>,
) -> anyhow::Result<ExitCode>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + Serialize
        + std::fmt::Debug
        + Send
        + 'static,
    P: Copy + PartialEq + Serialize,
{
    let kind = K::kind(&());
    let created = cluster
        .api::<K>()
        .create(&PostParams::default(), object)
        .await
        .with_context(|| format!("cannot create a {kind} in namespace {}", cluster.namespace))?;
    let created_name = created.name_any();
    if out == Output::Table {
        println!(
            "{}.{}/{created_name} created",
            kind.to_lowercase(),
            K::group(&())
        );
    } else if timeout.is_none() {
        emit(out, &created)?;
    }
    let Some(timeout) = timeout else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut seen = None;
    let (end, succeeded) = cluster
        .follow::<K, _>(&created_name, timeout, |o| {
            let o = o?;
            let p = phase(o)?;
            if seen != Some(p) && out == Output::Table {
                println!("{created_name}: {}", phase_text(&p));
            }
            seen = Some(p);
            outcome(p).map(|ok| (o.clone(), ok))
        })
        .await?;
    if out != Output::Table {
        emit(out, &end)?;
    }
    if succeeded {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "kubectl-bloodraven: {kind} {created_name} failed: {}",
        message(&end).unwrap_or_default()
    );
    Ok(ExitCode::FAILURE)
}

pub(crate) async fn verify_backup(
    cluster: &Cluster,
    name: &str,
    profile: &str,
    backup: Option<&str>,
    pitr: Option<&str>,
    timeout: Option<Duration>,
    out: Output,
) -> anyhow::Result<ExitCode> {
    let group = cluster.group(name).await?;
    request::check_profile(&group, profile)?;
    if let Some(b) = backup {
        let found = cluster
            .api::<MysqlBackup>()
            .get_opt(b)
            .await
            .with_context(|| {
                format!(
                    "cannot read MysqlBackup {b} in namespace {}",
                    cluster.namespace
                )
            })?;
        let Some(found) = found else {
            return Err(Refusal::new(
                format!("there is no MysqlBackup {b:?} in namespace {}", cluster.namespace),
                "--backup",
                format!("kubectl get mysqlbackups -n {} lists them; leave --backup out to verify the newest", cluster.namespace),
            )
            .into());
        };
        if found.spec.failover_group_ref.name != name || found.spec.profile_name != profile {
            return Err(Refusal::new(
                format!(
                    "MysqlBackup {b} belongs to group {} profile {}, not {name} profile {profile}",
                    found.spec.failover_group_ref.name, found.spec.profile_name
                ),
                "--backup",
                "give a backup of this group and profile",
            )
            .into());
        }
    }
    let object = request::verification(name, &cluster.namespace, profile, backup, pitr)?;
    create_and_follow(
        cluster,
        &object,
        timeout,
        out,
        |v: &MysqlBackupVerification| v.status.as_ref()?.phase,
        |p| match p {
            VerificationPhase::Succeeded => Some(true),
            VerificationPhase::Failed => Some(false),
            _ => None,
        },
        |v| v.status.as_ref().and_then(|s| s.message.clone()),
    )
    .await
}

pub(crate) async fn dr_status(
    cluster: &Cluster,
    name: Option<&str>,
    out: Output,
) -> anyhow::Result<ExitCode> {
    let api = cluster.api::<MysqlStandbyCluster>();
    let standbys = match name {
        Some(n) => match api.get_opt(n).await.with_context(|| {
            format!(
                "cannot read MysqlStandbyCluster {n} in namespace {}",
                cluster.namespace
            )
        })? {
            Some(s) => vec![s],
            None => {
                return Err(Refusal::new(
                    format!(
                        "there is no MysqlStandbyCluster {n:?} in namespace {}",
                        cluster.namespace
                    ),
                    "the STANDBY argument",
                    "check the name and -n (kubectl get mysqlstandbyclusters -A lists them)",
                )
                .into());
            }
        },
        None => {
            api.list(&ListParams::default())
                .await
                .with_context(|| {
                    format!(
                        "cannot list MysqlStandbyClusters in namespace {}",
                        cluster.namespace
                    )
                })?
                .items
        }
    };
    let views: Vec<standby::StandbyView> = standbys.iter().map(standby::StandbyView::new).collect();
    match out {
        Output::Table if views.is_empty() => {
            eprintln!("no MysqlStandbyClusters in namespace {}", cluster.namespace);
        }
        Output::Table => print!("{}", standby::table(&views)),
        _ if name.is_some() => emit(out, &views[0])?,
        _ => emit(out, &views)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What `version` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionView {
    plugin: String,
    server: Option<String>,
    operator: Vec<String>,
    crds: Vec<(String, bool)>,
}

pub(crate) async fn version(cluster: &Cluster, out: Output) -> anyhow::Result<ExitCode> {
    let server = cluster
        .client
        .apiserver_version()
        .await
        .map(|v| v.git_version)
        .ok();
    let deployments: Api<Deployment> = Api::all(cluster.client.clone());
    let operator = match deployments
        .list(&ListParams::default().labels(OPERATOR_SELECTOR))
        .await
    {
        Ok(list) => list
            .items
            .iter()
            .flat_map(|d| {
                let at = format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any());
                d.spec
                    .template
                    .spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .map(move |c| format!("{at} {}", c.image.as_deref().unwrap_or("?")))
                    .collect::<Vec<_>>()
            })
            .collect(),
        Err(e) => vec![format!("unknown (cannot list Deployments: {e})")],
    };
    let crd_api: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    let mut crds = Vec::new();
    for crd in bloodraven_api::crd::crds() {
        let name = crd.name_any();
        let present = crd_api.get_opt(&name).await.ok().flatten().is_some();
        crds.push((name, present));
    }
    let v = VersionView {
        plugin: env!("CARGO_PKG_VERSION").to_owned(),
        server,
        operator,
        crds,
    };
    if out != Output::Table {
        emit(out, &v)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Plugin:    kubectl-bloodraven {}", v.plugin);
    println!(
        "Server:    {}",
        v.server.as_deref().unwrap_or("unreachable")
    );
    if v.operator.is_empty() {
        println!("Operator:  not found (no Deployment labelled {OPERATOR_SELECTOR})");
    }
    for o in &v.operator {
        println!("Operator:  {o}");
    }
    for (name, present) in &v.crds {
        println!(
            "CRD:       {name} {}",
            if *present { "installed" } else { "missing" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The labels of the operator Deployment in `examples/install`.
const OPERATOR_SELECTOR: &str =
    "app.kubernetes.io/name=bloodraven,app.kubernetes.io/component=operator";
