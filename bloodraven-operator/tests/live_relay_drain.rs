//! The relay-log drain before a promotion (§1.10 step 3) on real MariaDB servers: a replica with a relay backlog
//! whose primary is SIGKILLed applies the whole backlog before it is promoted.

mod live_support;

use std::time::{Duration, Instant};

use bloodraven_operator::site::Site;
use live_support::{Group, Operator, config, replicating, runtime};

const POLL: Duration = Duration::from_millis(500);
const WAIT: Duration = Duration::from_secs(90);
/// Transactions that reach the replica's relay log before the primary dies.
const ROWS: u64 = 200;

/// `pdx` applies each replicated row 25 ms late (a replica-only `SLEEP` trigger), so 200 transactions that all reached
/// its relay log are still ~5 s from applied when `iad` is SIGKILLed. MariaDB then reports `Last_IO_Error` and a NULL
/// lag at once; the promotion must still drain the relay log, so every one of those transactions is on `pdx`.
#[test]
fn sigkill_primary_keeps_every_transaction_in_the_relay_log() {
    let mut group = Group::start(2);
    group.servers[1]
        .sql(
            "STOP SLAVE SQL_THREAD; SET GLOBAL slave_run_triggers_for_rbr = YES; SET SESSION sql_log_bin = 0; \
             CREATE TRIGGER d.slow BEFORE INSERT ON d.t FOR EACH ROW DO SLEEP(0.025); START SLAVE SQL_THREAD",
        )
        .unwrap();
    let op = Operator::start(&group, config(&group, POLL));
    op.wait("a healthy group", WAIT, |s| {
        s.active_site.as_deref() == Some("iad") && replicating(s, "pdx")
    });
    let inserts: String = (1..=ROWS)
        .map(|id| format!("INSERT INTO d.t VALUES ({id}, 'relay');"))
        .collect();
    group.servers[0].sql(&inserts).unwrap();
    let written = group.servers[0]
        .sql("SELECT @@global.gtid_binlog_pos")
        .unwrap()
        .trim()
        .to_string();

    // Every transaction is in pdx's relay log, and most are not applied yet.
    let pdx = group.sites().swap_remove(1);
    let rt = runtime();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let r = rt.block_on(pdx.replica_status()).unwrap().unwrap();
        if r.retrieved == written {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "relay log never reached {written}: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        status.relay_applied(),
        Some(false),
        "the applier is not behind, the test proves nothing: {status:?}"
    );

    group.servers[0].kill().unwrap();
    op.wait("pdx promoted", WAIT, |s| {
        s.active_site.as_deref() == Some("pdx")
    });
    let ids = group.ids(1);
    let missing = (1..=ROWS)
        .filter(|id| ids.binary_search(id).is_err())
        .count();
    assert_eq!(
        missing, 0,
        "transactions in pdx's relay log lost by the promotion"
    );
    assert_eq!(
        group.servers[1]
            .sql("SELECT @@global.read_only")
            .unwrap()
            .trim(),
        "0"
    );
    op.stop();
}
