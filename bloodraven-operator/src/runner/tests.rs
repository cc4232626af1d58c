//! Runner tests on the in-memory platform and simulated sites: the authority epoch (§1.2) and the record written
//! before acting (§1.13).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::{Action, Config, Role, SiteConfig};
use crate::platform::{InMemoryPlatform, Platform};
use crate::record::{FailoverRecord, Trigger};
use crate::runner::{Clock, Runner, RunnerConfig};
use crate::sim::SimSite;
use crate::sim::world::{Rng, World, WorldParams};

fn group() -> (Config, Arc<Mutex<World>>, Vec<Arc<SimSite>>) {
    let config = Config::new(
        "g",
        vec![
            SiteConfig::new("site0", Role::PrimaryCandidate, "site0.db"),
            SiteConfig::new("site1", Role::PrimaryCandidate, "site1.db"),
        ],
    );
    let names: Vec<(String, Role)> = config
        .sites
        .iter()
        .map(|s| (s.name.clone(), s.role))
        .collect();
    let params = WorldParams {
        replication_lag: Duration::from_millis(300),
        apply_per_tick: 10,
        mariadb: false,
        write_probability: 0.0,
        lease_timeout: Duration::from_secs(20),
        peer_check_interval: Duration::from_secs(5),
    };
    let world = Arc::new(Mutex::new(World::new(&names, params, Rng::new(1))));
    let sites = (0..2)
        .map(|i| Arc::new(SimSite::new(Arc::clone(&world), i, format!("site{i}"))))
        .collect();
    (config, world, sites)
}

async fn runner(
    config: Config,
    sites: Vec<Arc<SimSite>>,
    platform: &InMemoryPlatform,
) -> Runner<SimSite, InMemoryPlatform> {
    let clock = Clock::starting_at(Duration::from_secs(1_800_000_000));
    Runner::new(
        config,
        sites,
        Arc::new(platform.clone()),
        RunnerConfig::default(),
        clock,
    )
    .await
}

fn handoff(at: Duration) -> FailoverRecord {
    FailoverRecord {
        at,
        trigger: Trigger::Planned,
        target: "site1".into(),
        old_primary: Some("site0".into()),
        candidates: vec![],
        rule: "ordered-update handoff".into(),
        promotion_gtid: String::new(),
        write_unavailability: None,
        divergent_gtid: None,
        divergent_count: 0,
    }
}

#[tokio::test(start_paused = true)]
async fn s1_2_a_poll_overtaken_by_a_concurrent_promotion_is_discarded_and_the_promotion_adopted() {
    let (config, world, sites) = group();
    let platform = InMemoryPlatform::new();
    let mut r = runner(config, sites, &platform).await;
    for _ in 0..2 {
        r.poll_once().await;
    }
    assert_eq!(r.engine().effective_active_site(), Some("site0"));
    // site1 answers its probe slowly; another writer records a promotion while the probes are out. The world also
    // changes under the probes: site1 reports writable, site0 read-only (the handoff the record describes).
    world.lock().unwrap().servers[1].latency = Duration::from_secs(2);
    let (p, w) = (platform.clone(), Arc::clone(&world));
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut record = p.load_record().await.unwrap().status.unwrap_or_default();
        record.record_failover(handoff(Duration::from_secs(1_800_000_005)));
        p.save_record(&record).await.unwrap();
        let mut w = w.lock().unwrap();
        w.servers[0].read_only = true;
        w.servers[1].read_only = false;
        w.servers[1].channel = None;
    });
    let states = r.engine().states();
    let d = r.poll_once().await;
    writer.await.unwrap();
    assert!(
        d.actions.is_empty(),
        "acted on an overtaken poll: {:?}",
        d.actions
    );
    assert_eq!(
        r.engine().states(),
        states,
        "observations of an overtaken poll were used"
    );
    assert_eq!(r.engine().record().epoch, 1);
    assert_eq!(
        r.engine().record().last_failover_target.as_deref(),
        Some("site1")
    );
    // The next poll observes the world after the handoff and follows it: no split-brain fencing of site1, no
    // promotion, DNS moves to site1 once it is confirmed writable.
    world.lock().unwrap().servers[1].latency = Duration::from_millis(2);
    for _ in 0..3 {
        let d = r.poll_once().await;
        assert!(
            d.actions.iter().all(|a| match a {
                Action::Promote { .. } => false,
                Action::Fence { site, .. } => site != "site1",
                _ => true,
            }),
            "{:?}",
            d.actions
        );
    }
    assert_eq!(r.engine().effective_active_site(), Some("site1"));
    assert_eq!(platform.state().dns.as_deref(), Some("site1"));
}

#[tokio::test(start_paused = true)]
async fn s1_13_a_failed_record_save_stops_the_poll_and_is_retried_without_losing_the_request() {
    let (config, _world, sites) = group();
    let platform = InMemoryPlatform::new();
    let mut r = runner(config, sites, &platform).await;
    for _ in 0..3 {
        r.poll_once().await;
    }
    platform.state().planned = Some("site1".into());
    platform.state().fail_saves = 2;
    for attempt in 0..2 {
        let d = r.poll_once().await;
        assert!(
            d.actions
                .iter()
                .all(|a| matches!(a, Action::Fence { .. } | Action::Taint { .. })),
            "attempt {attempt}: acted before the record was saved: {:?}",
            d.actions
        );
        let s = platform.state();
        assert_eq!(
            s.planned.as_deref(),
            Some("site1"),
            "annotation removed before the record was saved"
        );
        assert!(s.record.as_ref().is_none_or(|r| r.planned.is_none()));
        assert!(
            s.events
                .iter()
                .all(|e| e.reason != "PlannedFailoverStarted")
        );
    }
    assert_eq!(platform.state().failed_saves, 2);
    // The third save succeeds: the accepted request is persisted, the annotation removed, the event emitted once,
    // and the switchover goes on (the source is fenced on a following poll).
    let mut fenced = false;
    for _ in 0..4 {
        let d = r.poll_once().await;
        fenced |= d
            .actions
            .iter()
            .any(|a| matches!(a, Action::FenceAndReadGtid { .. }));
    }
    let s = platform.state();
    assert_eq!(s.planned, None);
    assert!(s.record.as_ref().is_some_and(|r| r.planned.is_some()));
    assert_eq!(
        s.events
            .iter()
            .filter(|e| e.reason == "PlannedFailoverStarted")
            .count(),
        1
    );
    assert!(
        fenced,
        "the planned failover did not go on after the save succeeded"
    );
}

#[tokio::test(start_paused = true)]
async fn s2_4_an_unsupported_clone_surfaces_as_bootstrapping_failed_with_the_error() {
    let (config, world, sites) = group();
    {
        // site1 lost its data volume and has no CLONE (as MariaDB).
        let mut w = world.lock().unwrap();
        let s = &mut w.servers[1];
        s.channel = None;
        s.clone_unsupported = true;
    }
    let platform = InMemoryPlatform::new();
    let mut r = runner(config, sites, &platform).await;
    let mut cloned = 0;
    for _ in 0..6 {
        let d = r.poll_once().await;
        cloned += d
            .actions
            .iter()
            .filter(|a| matches!(a, Action::AutoClone { site, donor } if site == "site1" && donor == "site0"))
            .count();
        tokio::time::sleep(d.next_poll).await;
    }
    assert_eq!(cloned, 1, "one attempt, then the retry wait");
    let status = platform.state().status.clone().unwrap();
    let c = status.condition("Bootstrapping").unwrap();
    assert_eq!((c.status, c.reason.as_str()), (true, "Failed"));
    assert_eq!(
        c.message,
        "Auto-clone: cloning site1 failed: site site1: CLONE INSTANCE is not supported by mariadb"
    );
    assert!(
        world.lock().unwrap().clones.is_empty(),
        "nothing was cloned"
    );
}

/// site0 dies; the third failed probe decides the promotion of site1, whose sequence takes seconds (every call to
/// site1 takes one); `interrupt` runs in the middle of it. Returns whether site1 was made writable.
async fn promotion_interrupted(interrupt: impl FnOnce(&InMemoryPlatform) + Send + 'static) -> bool {
    let (config, world, sites) = group();
    let platform = InMemoryPlatform::new();
    let mut r = runner(config, sites, &platform).await;
    for _ in 0..2 {
        r.poll_once().await;
    }
    {
        let mut w = world.lock().unwrap();
        w.servers[0].up = false;
        w.servers[1].latency = Duration::from_secs(1);
    }
    for _ in 0..2 {
        r.poll_once().await;
    }
    let p = platform.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        interrupt(&p);
    });
    let d = r.poll_once().await;
    writer.await.unwrap();
    assert!(
        d.actions
            .iter()
            .any(|a| matches!(a, Action::Promote { target, .. } if target == "site1"))
    );
    let writable = !world.lock().unwrap().servers[1].read_only;
    let recorded = r
        .engine()
        .record()
        .history
        .iter()
        .any(|h| h.trigger == Trigger::Emergency);
    assert_eq!(writable, recorded, "the record must say what happened");
    writable
}

#[tokio::test(start_paused = true)]
async fn s1_2_a_promotion_aborts_before_its_unfence_when_authority_moves_meanwhile() {
    // Another writer records a promotion of site0.
    let moved = promotion_interrupted(|p| {
        let mut s = p.state();
        let mut record = s.record.clone().unwrap_or_default();
        let mut h = handoff(Duration::from_secs(1_800_000_010));
        h.target = "site0".into();
        record.record_failover(h);
        s.record = Some(record);
    });
    assert!(
        !moved.await,
        "site1 was made writable after another promotion was recorded"
    );
    // §1.7: an in-place restore starts; §1.7 step 6: the target's keyring rotation starts.
    let frozen = promotion_interrupted(|p| p.state().gates.frozen = true);
    assert!(
        !frozen.await,
        "site1 was made writable after the topology froze"
    );
    let rotating = promotion_interrupted(|p| {
        p.state().gates.rotating.insert("site1".into());
    });
    assert!(
        !rotating.await,
        "site1 was made writable mid keyring rotation"
    );
    // Nothing happens meanwhile: the promotion completes.
    assert!(promotion_interrupted(|_| {}).await);
}

/// Records, for every event, the fields of the spans it was emitted in (a minimal subscriber: no registry needed).
#[derive(Default)]
struct SpanFields {
    next: std::sync::atomic::AtomicU64,
    spans: Mutex<std::collections::BTreeMap<u64, String>>,
    stack: Mutex<Vec<u64>>,
    events: Mutex<Vec<String>>,
}

impl tracing::Subscriber for SpanFields {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
        let mut text = Text(span.metadata().name().to_owned());
        span.record(&mut text);
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        self.spans.lock().unwrap().insert(id, text.0);
        tracing::span::Id::from_u64(id)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        let spans = self.spans.lock().unwrap();
        let context: Vec<String> = self
            .stack
            .lock()
            .unwrap()
            .iter()
            .map(|id| spans[id].clone())
            .collect();
        self.events.lock().unwrap().push(context.join(" / "));
    }
    fn enter(&self, span: &tracing::span::Id) {
        self.stack.lock().unwrap().push(span.into_u64());
    }
    fn exit(&self, _: &tracing::span::Id) {
        self.stack.lock().unwrap().pop();
    }
}

#[test]
fn every_poll_logs_inside_a_span_naming_namespace_and_group() {
    let subscriber = Arc::new(SpanFields::default());
    let dispatch = tracing::Dispatch::from(Arc::clone(&subscriber));
    tracing::dispatcher::with_default(&dispatch, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let (config, world, sites) = group();
            let platform = InMemoryPlatform::new();
            let mut r = runner(config, sites, &platform).await;
            // site0 is crashed: probes fail and the runner logs it, inside the poll.
            world.lock().unwrap().servers[0].up = false;
            for _ in 0..2 {
                r.poll_once().await;
            }
        });
    });
    let events = subscriber.events.lock().unwrap();
    let in_poll: Vec<&String> = events.iter().filter(|e| e.starts_with("poll")).collect();
    assert!(
        !in_poll.is_empty(),
        "no event inside a poll span: {events:?}"
    );
    assert!(
        in_poll
            .iter()
            .all(|e| e.starts_with("poll namespace=default group=g")),
        "{in_poll:?}"
    );
}
