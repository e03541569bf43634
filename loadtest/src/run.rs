//! The run: create sessions, open connections at the configured rate, settle, read server
//! memory, run the open-loop command schedule, drain, stop, and hand the outcomes to
//! [`crate::account`]. Each phase is one function, in that order, called by [`run`].

use crate::account::{account, Measured};
use crate::cli::Config;
use crate::conn::{self, Counters, Outcome, Phase, SessionShared, Spec};
use crate::procfs;
use crate::report::{CpuReport, Report};
use crate::target::{Target, TargetError};
use futures::StreamExt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use watchparty_core::ids::SessionId;

/// Sessions created concurrently.
const CREATE_CONCURRENCY: usize = 16;
/// File descriptors the load generator needs besides its connections.
const SPARE_FDS: u64 = 64;
/// Extra time after the scheduled end of the commands for the last send to happen.
const SEND_SLACK: Duration = Duration::from_secs(2);

/// The run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A server could not be reached or used.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// `--session` is not a session id.
    #[error("--session: not a valid session id")]
    BadSession,
    /// Not enough file descriptors for the connections.
    #[error(
        "{needed} connections need `ulimit -n` of at least {need_fds}, this process has {limit}"
    )]
    FdLimit {
        /// Connections requested.
        needed: usize,
        /// Descriptors needed.
        need_fds: u64,
        /// The soft limit.
        limit: u64,
    },
}

/// Runs the scenario described by `cfg`, printing progress to stderr unless quiet.
pub async fn run(cfg: Config) -> Result<Report, RunError> {
    let t_start = Instant::now();
    crate::clock::base();
    check_fd_limit(cfg.viewers)?;
    let targets = resolve_targets(&cfg.urls).await?;
    let sessions = create_sessions(&cfg, &targets).await?;

    let rss_before = rss_kib(&cfg.server_pids);
    let counters = Arc::new(Counters::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let progress = (!cfg.quiet).then(|| {
        tokio::spawn(progress_loop(
            counters.clone(),
            cfg.viewers,
            phase_rx.clone(),
        ))
    });
    let (tasks, connect_wall) = connect_all(&cfg, &targets, &sessions, &phase_rx, &counters).await;

    // Idle: let the server settle, then read its memory.
    tokio::time::sleep(cfg.settle).await;
    let rss_after = rss_kib(&cfg.server_pids);

    // Commands, then drain. CPU use is measured over this phase.
    let cpu_before = CpuSnapshot::take(&cfg.server_pids);
    send_commands(&cfg, sessions.len(), &phase_tx, &counters).await;
    drain(&sessions, &counters, cfg.drain).await;
    let cpu = CpuSnapshot::take(&cfg.server_pids).since(&cpu_before);
    let _ = phase_tx.send(Phase::Stop);
    let outcomes = collect_outcomes(tasks).await;
    if let Some(p) = progress {
        p.abort();
    }

    let measured = Measured {
        connect_wall,
        rss_before,
        rss_after,
        cpu,
        elapsed: t_start.elapsed(),
    };
    Ok(account(&cfg, &sessions, outcomes, &counters, measured))
}

/// Refuses to start when the open-files limit is too low for `viewers` connections.
fn check_fd_limit(viewers: usize) -> Result<(), RunError> {
    if let Some(limit) = procfs::open_files_limit() {
        let need_fds = viewers as u64 + SPARE_FDS;
        if limit < need_fds {
            return Err(RunError::FdLimit {
                needed: viewers,
                need_fds,
                limit,
            });
        }
    }
    Ok(())
}

/// Resolves every `--url`, in order.
async fn resolve_targets(urls: &[String]) -> Result<Vec<Arc<Target>>, RunError> {
    let mut targets = Vec::with_capacity(urls.len());
    for url in urls {
        targets.push(Arc::new(Target::resolve(url).await?));
    }
    Ok(targets)
}

/// The run's sessions: `--session`, or `--sessions` new ones created through the real server
/// function on the first server, [`CREATE_CONCURRENCY`] at a time.
async fn create_sessions(
    cfg: &Config,
    targets: &[Arc<Target>],
) -> Result<Vec<Arc<SessionShared>>, RunError> {
    let ids: Vec<SessionId> = match &cfg.session {
        Some(s) => vec![SessionId::parse(s).map_err(|_| RunError::BadSession)?],
        None => {
            let first = targets[0].clone();
            let video = cfg.video.clone();
            let created: Vec<Result<SessionId, TargetError>> =
                futures::stream::iter(0..cfg.sessions)
                    .map(|_| {
                        let t = first.clone();
                        let v = video.clone();
                        async move { t.create_session(&v).await }
                    })
                    .buffer_unordered(CREATE_CONCURRENCY)
                    .collect()
                    .await;
            created.into_iter().collect::<Result<_, _>>()?
        }
    };
    Ok(ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| Arc::new(SessionShared::new(id, i, cfg.commands)))
        .collect())
}

/// VmRSS of each server process, KiB (`None` where unreadable).
fn rss_kib(pids: &[u32]) -> Vec<Option<u64>> {
    pids.iter().map(|p| procfs::vm_rss_kib(*p)).collect()
}

/// Opens the connections at the configured rate, then waits until every connection has its
/// `Hello` or has failed (at most a minute past the last opening). Returns the connections'
/// tasks and the time it all took.
async fn connect_all(
    cfg: &Config,
    targets: &[Arc<Target>],
    sessions: &[Arc<SessionShared>],
    phase_rx: &watch::Receiver<Phase>,
    counters: &Arc<Counters>,
) -> (Vec<JoinHandle<Outcome>>, Duration) {
    let connect_start = Instant::now();
    let per_conn = Duration::from_secs_f64(1.0 / cfg.connect_rate);
    let mut tasks = Vec::with_capacity(cfg.viewers);
    for i in 0..cfg.viewers {
        let spec = viewer_spec(cfg, i, targets, sessions);
        tokio::time::sleep_until(connect_start + per_conn * i as u32).await;
        tasks.push(tokio::spawn(conn::run(
            spec,
            phase_rx.clone(),
            counters.clone(),
        )));
    }
    let connect_deadline = connect_start + Duration::from_secs(60) + per_conn * cfg.viewers as u32;
    while (counters.connected.load(Relaxed) + counters.failed.load(Relaxed)) < cfg.viewers as u64
        && Instant::now() < connect_deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (tasks, connect_start.elapsed())
}

/// What viewer `i` does. Viewer i joins session i mod S; within a session the viewers
/// alternate over the servers, its first viewer (the sender) on the first server.
fn viewer_spec(
    cfg: &Config,
    i: usize,
    targets: &[Arc<Target>],
    sessions: &[Arc<SessionShared>],
) -> Spec {
    let n_sessions = sessions.len();
    let session = sessions[i % n_sessions].clone();
    let rank = i / n_sessions;
    let url = rank % targets.len();
    Spec {
        index: i,
        url,
        target: targets[url].clone(),
        sender: rank == 0,
        offset: cfg
            .interval
            .mul_f64(session.index as f64 / n_sessions as f64),
        interval: cfg.interval,
        ping: cfg.ping_interval,
        status: cfg.status_interval,
        session,
    }
}

/// Starts the commands (a fixed schedule from one start instant, shortly ahead) and waits
/// until every session's sender has sent them all, or their schedule plus [`SEND_SLACK`] is
/// over.
async fn send_commands(
    cfg: &Config,
    n_sessions: usize,
    phase_tx: &watch::Sender<Phase>,
    counters: &Counters,
) {
    let start = Instant::now() + Duration::from_millis(100);
    let _ = phase_tx.send(Phase::Commands(start));
    let expected_sends = cfg.commands as u64 * n_sessions as u64;
    let sends_done = start + cfg.interval * cfg.commands + SEND_SLACK;
    while counters.sent.load(Relaxed) < expected_sends && Instant::now() < sends_done {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every live viewer has every command sent, or `drain` is up.
async fn drain(sessions: &[Arc<SessionShared>], counters: &Counters, drain: Duration) {
    let drain_end = Instant::now() + drain;
    loop {
        let expected: u64 = sessions
            .iter()
            .map(|s| s.sent_count() * s.live.load(Relaxed))
            .sum();
        if counters.received.load(Relaxed) >= expected || Instant::now() >= drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Each connection's outcome, in order (after [`Phase::Stop`]); a task that failed or did
/// not stop within 10 s counts as a connection error.
async fn collect_outcomes(tasks: Vec<JoinHandle<Outcome>>) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => outcomes.push(Outcome {
                connect_error: Some(format!("task failed: {e}")),
                ..Outcome::default()
            }),
            Err(_) => outcomes.push(Outcome {
                connect_error: Some("task did not stop".into()),
                ..Outcome::default()
            }),
        }
    }
    outcomes
}

/// CPU counters at one instant.
struct CpuSnapshot {
    at: Instant,
    servers: Vec<Option<u64>>,
    own: Option<u64>,
    machine: Option<(u64, u64)>,
}

impl CpuSnapshot {
    fn take(pids: &[u32]) -> Self {
        Self {
            at: Instant::now(),
            servers: pids.iter().map(|p| procfs::process_cpu_ticks(*p)).collect(),
            own: procfs::process_cpu_ticks(std::process::id()),
            machine: procfs::machine_cpu_ticks(),
        }
    }

    /// CPU seconds used between `before` and this snapshot.
    fn since(&self, before: &CpuSnapshot) -> CpuReport {
        let secs = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_sub(b) as f64 / procfs::TICKS_PER_SEC),
            _ => None,
        };
        let servers_s: Vec<Option<f64>> = self
            .servers
            .iter()
            .zip(&before.servers)
            .map(|(a, b)| secs(*a, *b))
            .collect();
        let loadtest_s = secs(self.own, before.own);
        let machine_busy_s = secs(self.machine.map(|m| m.0), before.machine.map(|m| m.0));
        let others_s = machine_busy_s.map(|m| {
            let ours: f64 = servers_s.iter().flatten().sum::<f64>() + loadtest_s.unwrap_or(0.0);
            (m - ours).max(0.0)
        });
        CpuReport {
            window_s: self.at.duration_since(before.at).as_secs_f64(),
            cores: procfs::cpus(),
            servers_s,
            loadtest_s,
            machine_busy_s,
            others_s,
        }
    }
}

/// Prints one progress line per second to stderr.
async fn progress_loop(counters: Arc<Counters>, viewers: usize, phase: watch::Receiver<Phase>) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let name = match *phase.borrow() {
            Phase::Connect => "connect",
            Phase::Commands(_) => "commands",
            Phase::Stop => "stop",
        };
        eprintln!(
            "[{:>6.1}s] {name:<8} connected {}/{viewers} failed {} dropped {} | sent {} received {} pongs {} errors {}",
            start.elapsed().as_secs_f64(),
            counters.connected.load(Relaxed),
            counters.failed.load(Relaxed),
            counters.disconnected.load(Relaxed),
            counters.sent.load(Relaxed),
            counters.received.load(Relaxed),
            counters.pongs.load(Relaxed),
            counters.server_errors.load(Relaxed),
        );
    }
}
