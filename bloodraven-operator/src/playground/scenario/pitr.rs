//! The `pitr` scenario: a verified dump, a bad migration, and a point-in-time restore to just before it.

use std::time::Duration;

use mysql_async::prelude::Queryable as _;

use crate::playground::platform::now;
use crate::playground::scenario::{ScenarioReport, active, port, rows};
use crate::playground::{Error, Playground, root_conn};

pub(super) async fn pitr(pg: &Playground) -> Result<ScenarioReport, Error> {
    use crate::playground::backup;
    let mut r = ScenarioReport::new("pitr");
    let primary = active(pg)?;
    let p = port(pg, &primary);
    let started = now();
    let dumped = backup::dump_and_verify(&pg.dir, p, &pg.backup).await;
    let url = match dumped {
        Ok(url) => url,
        Err(e) => {
            r.check(
                "a dump of the primary, verified in a throwaway server",
                false,
                e,
            );
            return Ok(r);
        }
    };
    r.check(
        "a dump of the primary, verified in a throwaway server",
        true,
        format!(
            "{url} ({:.1} s)",
            now().saturating_sub(started).as_secs_f64()
        ),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The bad migration, with the write load held so that "the rows before it" is one well-defined set.
    let workload = pg.workload.as_ref();
    workload.inspect(|w| w.pause(true));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = rows(p).await;
    let migration = async {
        let mut c = root_conn(p).await?;
        c.query_drop("DELETE FROM playground.writes WHERE id % 2 = 0")
            .await?;
        let gtid: Option<String> = c.query_first("SELECT @@session.last_gtid").await?;
        let _ = c.disconnect().await;
        Ok::<_, mysql_async::Error>(gtid.unwrap_or_default())
    }
    .await;
    workload.inspect(|w| w.pause(false));
    let before = before?;
    let gtid = migration.map_err(|e| Error::Server {
        site: primary.clone(),
        message: format!("the bad migration: {e}"),
    })?;
    r.say(format!(
        "bad migration on {primary}: DELETE of every even id ({gtid}); {} rows before it",
        before.len()
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Ok(mut c) = root_conn(p).await {
        let _ = c.query_drop("FLUSH BINARY LOGS").await;
        let _ = c.disconnect().await;
    }
    // The archiver ships the sealed file within its poll interval, once MariaDB has finished closing it.
    let seq: u64 = gtid
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    let shipped = pg
        .wait_async(
            "the bad migration archived",
            Duration::from_secs(60),
            || {
                let at = pg.archive_at.clone();
                async move { archived_through(&at).await >= seq }
            },
        )
        .await;
    r.check(
        "the archive holds the bad migration's binary log",
        shipped.is_ok(),
        format!(
            "through sequence {}",
            archived_through(&pg.archive_at).await
        ),
    );
    let Some(bin) = pg.bin.clone() else {
        r.check(
            "a fresh server for the restore",
            false,
            "no MariaDB binaries",
        );
        return Ok(r);
    };
    // Stop at the transaction right before the migration (a MariaDB position names everything up to it, so
    // "just before 0-1-N" is "up to and including 0-1-(N-1)"; nothing else committed in between: the load was held).
    let stop = match gtid.rsplit_once('-') {
        Some((head, _)) if seq > 1 && seq != u64::MAX => format!("{head}-{}", seq - 1),
        _ => gtid.clone(),
    };
    let (template, root) = (pg.dir.join("template"), pg.dir.join("restore"));
    let fresh = tokio::task::spawn_blocking(move || {
        crate::playground::server::Server::create(&bin, &template, root, "restore", 1099)
    })
    .await
    .map_err(|e| Error::Chaos(e.to_string()))??;
    r.say(format!("fresh server on 127.0.0.1:{}", fresh.port));
    let restore_started = now();
    let restored = backup::tool_with_env(
        &[
            "restore".into(),
            "--from".into(),
            url,
            "--port".into(),
            fresh.port.to_string(),
            "--no-progress".into(),
            "--binlog-archive".into(),
            pg.archive_at.binlogs_url(),
            "--stop-gtid".into(),
            stop.clone(),
        ],
        &pg.archive_at.tool_env(),
    )
    .await;
    match restored {
        Ok(v) => {
            r.say(format!(
                "restored the dump and replayed the archive through {stop} in {:.1} s ({} archived files; GTID {})",
                now().saturating_sub(restore_started).as_secs_f64(),
                v["replay"]["files"].as_array().map_or(0, Vec::len),
                v["gtidExecuted"].as_str().unwrap_or_default()
            ));
            let after = rows(fresh.port).await?;
            let missing = before.iter().filter(|row| !after.contains(row)).count();
            let extra = after.iter().filter(|row| !before.contains(row)).count();
            r.check(
                "the restore holds exactly the rows before the bad migration",
                missing == 0 && extra == 0,
                format!(
                    "{} rows restored, {} before the migration: {missing} missing, {extra} extra",
                    after.len(),
                    before.len()
                ),
            );
        }
        Err(e) => r.check("the point-in-time restore", false, e),
    }
    drop(fresh);
    let _ = std::fs::remove_dir_all(pg.dir.join("restore"));
    Ok(r)
}

/// The highest sequence number the archive covers without a gap (the playground writes one GTID domain).
async fn archived_through(at: &crate::playground::archive::ArchiveLocation) -> u64 {
    let view = crate::playground::dashboard::check_archive(at).await;
    view.covered
        .rsplit('-')
        .next()
        .map(|n| {
            n.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
