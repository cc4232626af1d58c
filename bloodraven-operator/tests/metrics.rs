//! The metrics export after a driven scenario: a planned switchover iad → pdx, then pdx dies after the cooldown and
//! the engine fails over back to iad. The rendered text is compared whole (insta snapshot) and its key series are
//! checked against what the scenario did.

use std::time::Duration;

use bloodraven_operator::engine::{
    Action, Config, Decision, Engine, Gates, Metric, Outcome, Role, SiteConfig, Taint,
};
use bloodraven_operator::metrics::Exporter;
use bloodraven_operator::record::{PlannedPhase, Record};
use bloodraven_operator::site::{Flavor, GtidState, Probe, ReplicaStatus};

const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

fn probe(read_only: bool, last: u64, source: Option<&str>, lag: Option<u64>) -> Option<Probe> {
    Some(Probe {
        read_only,
        super_read_only: Some(read_only),
        server_id: String::new(),
        version: "8.4.3".into(),
        flavor: Flavor::Mysql,
        executed: GtidState::Mysql(format!("{A}:1-{last}").parse().unwrap()),
        replica: source.map(|h| ReplicaStatus {
            io_running: true,
            sql_running: true,
            source_host: h.into(),
            seconds_behind: lag,
            ..Default::default()
        }),
    })
}

/// Steps the engine once, answering its actions the way a healthy runner would (outcomes go into the next step).
struct Driver {
    engine: Engine,
    exporter: Exporter,
    outcomes: Vec<Outcome>,
    gtid: u64,
    /// Every metric sample of every decision.
    samples: Vec<Metric>,
}

impl Driver {
    /// `probes` are iad's and pdx's; the reader fra always replicates from iad with its SQL thread stopped.
    fn step(&mut self, t: Duration, mut probes: Vec<Option<Probe>>) -> Decision {
        let mut reader = probe(true, 9, Some("iad.db"), None);
        if let Some(r) = reader.as_mut().and_then(|p| p.replica.as_mut()) {
            r.sql_running = false;
        }
        probes.push(reader);
        let d = self
            .engine
            .step(t, probes, std::mem::take(&mut self.outcomes));
        self.exporter.update("default", &self.engine, &d);
        self.samples.extend(d.metrics.iter().cloned());
        for a in &d.actions {
            match a {
                Action::FenceAndReadGtid { site } => {
                    self.outcomes.push(Outcome::FencedForPlanned {
                        site: site.clone(),
                        result: Ok(GtidState::Mysql(
                            format!("{A}:1-{}", self.gtid).parse().unwrap(),
                        )),
                        at: t,
                    })
                }
                Action::KillSessions { site, purpose } => self.outcomes.push(Outcome::Killed {
                    site: site.clone(),
                    purpose: *purpose,
                    result: Ok(0),
                }),
                Action::Promote { target, .. } => self.outcomes.push(Outcome::Promoted {
                    target: target.clone(),
                    result: Ok(format!("{A}:1-{}", self.gtid)),
                    at: t,
                }),
                Action::Dns { site } => self.outcomes.push(Outcome::Dns {
                    site: site.clone(),
                    result: Ok(()),
                }),
                Action::Taint { site, taint } => self.exporter.taint(site, *taint),
                _ => {}
            }
        }
        d
    }
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn render_after_a_planned_switchover_and_an_automatic_failover() {
    let config = Config::new(
        "orders",
        vec![
            SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
            SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
            SiteConfig::new("fra", Role::ReadOnly, "fra.db"),
        ],
    );
    let mut d = Driver {
        engine: Engine::new(config, Record::default()),
        exporter: Exporter::new(),
        outcomes: Vec::new(),
        gtid: 10,
        samples: Vec::new(),
    };
    // Healthy: iad writable, pdx replicating 1 s behind.
    for t in [0, 2000, 4000] {
        d.step(
            ms(t),
            vec![
                probe(false, 10, None, None),
                probe(true, 10, Some("iad.db"), Some(1)),
            ],
        );
        d.exporter.poll_latency("iad", ms(250));
        d.exporter.poll_latency("pdx", ms(500));
    }
    // Planned switchover to pdx: iad is fenced at 12 transactions, pdx catches up a poll later.
    d.engine
        .set_planned_annotation(Some("pdx:maxLagWait=30s".into()));
    d.gtid = 12;
    let mut t = 6000;
    let mut fenced_at = None;
    while d
        .engine
        .record()
        .planned
        .as_ref()
        .is_none_or(|p| p.phase != PlannedPhase::Succeeded)
    {
        assert!(t < 30_000, "planned switchover did not finish");
        let fenced = fenced_at.is_some();
        // pdx receives the last transaction 2 s after the fence.
        let pdx_has = if fenced_at.is_some_and(|f| t >= f + 2000) {
            12
        } else {
            11
        };
        let promoted = d.engine.record().last_failover_target.as_deref() == Some("pdx");
        let decision = d.step(
            ms(t),
            vec![
                probe(fenced, 12, None, None),
                probe(!promoted, pdx_has, (!promoted).then_some("iad.db"), Some(0)),
            ],
        );
        if decision
            .actions
            .iter()
            .any(|a| matches!(a, Action::FenceAndReadGtid { .. }))
        {
            fenced_at.get_or_insert(t);
        }
        t += 1000;
    }
    // iad rejoins as pdx's replica; the cooldown (5 min) passes; pdx dies and iad is promoted.
    let mut t = t + 1000;
    while t < 320_000 {
        d.step(
            ms(t),
            vec![
                probe(true, 12, Some("pdx.db"), Some(0)),
                probe(false, 12, None, None),
            ],
        );
        t += 10_000;
    }
    while d.engine.record().last_failover_target.as_deref() != Some("iad") {
        assert!(t < 360_000, "no automatic failover");
        d.step(ms(t), vec![probe(true, 12, Some("pdx.db"), None), None]);
        t += 2000;
    }
    for _ in 0..2 {
        t += 2000;
        d.step(ms(t), vec![probe(false, 12, None, None), None]);
    }

    let text = d.exporter.render();
    let record = d.engine.record();
    let planned = record.history.iter().filter(|h| h.target == "pdx").count();
    let automatic = record.history.iter().filter(|h| h.target == "iad").count();
    assert_eq!((planned, automatic), (1, 1), "{:?}", record.history);
    for line in [
        "bloodraven_failovers_total{target_site=\"iad\"} 1",
        "bloodraven_planned_failovers_total{target_site=\"pdx\",result=\"success\"} 1",
        "bloodraven_planned_failover_duration_seconds_count{target_site=\"pdx\"} 1",
        "bloodraven_planned_failover_lag_wait_seconds_count{target_site=\"pdx\"} 1",
        "bloodraven_site_state{namespace=\"default\",group=\"orders\",site=\"iad\",role=\"primary-candidate\",state=\"writable\"} 1",
        "bloodraven_site_state{namespace=\"default\",group=\"orders\",site=\"pdx\",role=\"primary-candidate\",state=\"unreachable\"} 1",
        "bloodraven_dns_flips_total{site=\"iad\"} 2",
        "bloodraven_dns_flips_total{site=\"pdx\"} 1",
        "bloodraven_replication_lag_seconds{namespace=\"default\",group=\"orders\",site=\"fra\",role=\"read-only\"} -1",
        "bloodraven_replication_running{namespace=\"default\",group=\"orders\",site=\"fra\",role=\"read-only\",thread=\"sql\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // Every counter sample the engine emitted is exported under its own name and labels.
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for m in d.samples.iter().filter(|m| m.observation().is_none()) {
        let labels: Vec<String> = m
            .labels("default", "orders")
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        *counts
            .entry(format!("{}{{{}}}", m.name(), labels.join(",")))
            .or_default() += 1;
    }
    assert!(counts.len() > 5, "{counts:?}");
    for (series, value) in &counts {
        assert!(
            text.contains(&format!("{series} {value}\n")),
            "{series} {value} not in\n{text}"
        );
    }
    insta::assert_snapshot!(text);
}

fn two_sites() -> Config {
    Config::new(
        "orders",
        vec![
            SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
            SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
        ],
    )
}

/// The value of the one series of `family` whose labels are exactly `labels`, as rendered.
fn sample(text: &str, family: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{family}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

#[test]
fn taint_operations_are_labelled_apply_and_remove_like_the_reference() {
    let exporter = Exporter::new();
    exporter.taint("iad", Taint::Apply);
    exporter.taint("iad", Taint::Apply);
    exporter.taint("pdx", Taint::Remove);
    let text = exporter.render();
    let family = "bloodraven_taint_operations_total";
    assert_eq!(
        sample(&text, family, r#"site="iad",action="apply""#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, family, r#"site="pdx",action="remove""#),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn keyring_refusals_are_counted_on_every_refusing_poll_with_namespace_and_group() {
    let mut engine = Engine::new(two_sites(), Record::default());
    engine.set_gates(Gates {
        rotating: ["pdx".to_owned()].into(),
        ..Gates::default()
    });
    let exporter = Exporter::new();
    let pdx = || probe(true, 10, Some("iad.db"), Some(0));
    for t in [0, 2000] {
        let d = engine.step(ms(t), vec![probe(false, 10, None, None), pdx()], vec![]);
        exporter.update("shop", &engine, &d);
    }
    // iad dies: after the failure threshold every poll refuses to promote the rotating pdx.
    let mut refusing = 0;
    for k in 0..8u64 {
        let d = engine.step(ms(4000 + 2000 * k), vec![None, pdx()], vec![]);
        assert!(
            !d.actions
                .iter()
                .any(|a| matches!(a, Action::Promote { .. })),
            "a rotating site was promoted"
        );
        if d.status.alert.contains("UnsealReason=Rotation") {
            refusing += 1;
        }
        exporter.update("shop", &engine, &d);
    }
    assert!(refusing >= 5, "only {refusing} polls refused");
    let text = exporter.render();
    assert_eq!(
        sample(
            &text,
            "bloodraven_keyring_promotions_blocked_total",
            r#"namespace="shop",group="orders",site="pdx",outcome="refused""#
        ),
        Some(f64::from(refusing)),
        "{text}"
    );
}

#[test]
fn a_planned_failover_deferred_by_the_cooldown_is_counted() {
    let mut config = two_sites();
    config.planned_defer_on_cooldown = true;
    let record = Record {
        last_failover: Some(ms(0)),
        last_failover_target: Some("iad".into()),
        ..Record::default()
    };
    let mut engine = Engine::new(config, record);
    let exporter = Exporter::new();
    let healthy = || {
        vec![
            probe(false, 10, None, None),
            probe(true, 10, Some("iad.db"), Some(0)),
        ]
    };
    for t in [1000, 3000] {
        let d = engine.step(ms(t), healthy(), vec![]);
        exporter.update("shop", &engine, &d);
    }
    engine.set_planned_annotation(Some("pdx".into()));
    let d = engine.step(ms(5000), healthy(), vec![]);
    exporter.update("shop", &engine, &d);
    assert_eq!(
        d.status.planned.as_ref().map(|p| p.phase),
        Some(PlannedPhase::Deferred)
    );
    let text = exporter.render();
    assert_eq!(
        sample(
            &text,
            "bloodraven_planned_failovers_deferred_total",
            r#"group="orders",reason="CooldownActive""#
        ),
        Some(1.0),
        "{text}"
    );
}
