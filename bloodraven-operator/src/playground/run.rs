//! The command: start, then either a scripted scenario or the interactive loop (chaos typed into the terminal, a
//! scheduled dump + verification), until it ends or Ctrl-C / SIGTERM arrives; then everything stops.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::playground::platform::LocalPlatform;
use crate::playground::{
    Chaos, Error, Options, Playground, Report, ScenarioName, backup, scenario,
};

/// Runs the playground: with a scenario, headlessly until it ends (the report is returned); without, until Ctrl-C
/// or SIGTERM, taking chaos actions typed into the terminal (`kill`, `hang`, `partition pdx`, `switchover pdx`…).
/// Everything started is stopped before returning, and the work directory removed unless kept.
pub async fn run(
    options: Options,
    scenario: Option<ScenarioName>,
) -> Result<Option<Report>, Error> {
    let started = std::time::Instant::now();
    // Registered once for the whole run: a signal arriving between two waits is still seen.
    let mut signals = Signals::new()?;
    println!(
        "bloodraven playground: starting {} sites…",
        options.sites.clamp(2, 3)
    );
    let pg = tokio::select! {
        pg = Playground::start(options) => pg?,
        _ = signals.recv() => return Err(Error::Interrupted("while starting")),
    };
    println!(
        "dashboard: http://{} (up {:.1} s after the command)",
        pg.addr,
        started.elapsed().as_secs_f64()
    );
    println!("work directory: {}", pg.dir.display());
    let result = match scenario {
        Some(name) => tokio::select! {
            r = scenario::run(&pg, name) => r.map(Some),
            _ = signals.recv() => Err(Error::Interrupted("during the scenario")),
        },
        None => {
            let schedule = tokio::spawn(backup_schedule(
                pg.dir.clone(),
                pg.platform.clone(),
                pg.names.clone(),
                pg.ports(),
                Arc::clone(&pg.backup),
            ));
            interactive(&pg, &mut signals).await;
            schedule.abort();
            Ok(None)
        }
    };
    println!("stopping everything…");
    pg.shutdown().await;
    result
}

async fn interactive(pg: &Playground, signals: &mut Signals) {
    println!(
        "try: kill | hang | resume SITE | restart SITE | partition | heal SITE | switchover SITE | reclone SITE:PREFIX \
         (Enter after each; Ctrl-C stops everything)"
    );
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            _ = signals.recv() => return,
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => {
                    let active = pg.active_site();
                    match Chaos::parse(&line, active.as_deref()) {
                        Ok(action) => match pg.chaos(&action).await {
                            Ok(done) => println!("{done}"),
                            Err(e) => println!("error: {e}"),
                        },
                        Err(e) => println!("error: {e}"),
                    }
                }
                _ => stdin_open = false,
            },
        }
    }
}

/// A dump of the active site and its verification one minute after the start, then every ten minutes.
async fn backup_schedule(
    dir: PathBuf,
    platform: LocalPlatform,
    names: Vec<String>,
    ports: Vec<u16>,
    view: Arc<Mutex<backup::BackupView>>,
) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::time::sleep(wait).await;
        wait = Duration::from_secs(600);
        let active = platform.state().dns.clone();
        let Some(i) = active.and_then(|a| names.iter().position(|n| *n == a)) else {
            continue;
        };
        match backup::dump_and_verify(&dir, ports[i], &view).await {
            Ok(url) => platform.note(
                "Playground",
                "BackupVerified",
                &format!("{url} dumped and verified"),
            ),
            Err(e) => platform.note("Warning", "BackupFailed", &e),
        }
    }
}

/// SIGINT (Ctrl-C) and SIGTERM.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, Error> {
        use tokio::signal::unix::{SignalKind, signal};
        let register = |kind| signal(kind).map_err(|e| Error::io("registering signal handlers", e));
        Ok(Signals {
            interrupt: register(SignalKind::interrupt())?,
            terminate: register(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
