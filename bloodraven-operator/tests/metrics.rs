//! The metrics export after a driven scenario: a planned switchover iad → pdx, then pdx dies after the cooldown and
//! the engine fails over back to iad. The rendered text is compared whole (insta snapshot) and its key series are
//! checked against what the scenario did.

use std::time::Duration;

use bloodraven_operator::engine::{Action, Config, Decision, Engine, Outcome, Role, SiteConfig};
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
                Action::Taint { site, apply } => self.exporter.taint(site, *apply),
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
    // Every counter the engine touched is exported under its own name and labels.
    for (key, value) in &d.engine.metrics().counters {
        assert!(
            text.contains(&format!("{key} {value}\n")),
            "{key} {value} not in\n{text}"
        );
    }
    insta::assert_snapshot!(text);
}
