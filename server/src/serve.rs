//! The HTTP accept loop (instead of bare `axum::serve`, which has no header-read timeout, no
//! idle timeout and no connection cap): hyper-util's server builder with a header-read timeout,
//! an idle timeout on the HTTP phase of every connection, a global connection cap (a
//! semaphore: beyond it, new connections wait in the kernel's accept backlog) and a bounded
//! graceful shutdown. Also raises the open-files limit at start.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Limits of the accept loop (from the settings).
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// A client must send a request's headers within this time.
    pub header_read_timeout: Duration,
    /// An HTTP connection with no traffic for this long is closed (WebSockets, once upgraded,
    /// have their own heartbeat and are not affected).
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a graceful shutdown waits for in-flight HTTP requests.
    pub drain: Duration,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (every socket is a descriptor) and logs
/// both numbers. Returns `(soft, hard)` after the change.
pub fn raise_nofile_limit() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            tracing::warn!("cannot read the open-files limit");
            return None;
        }
        let before = lim.rlim_cur;
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim = raised;
            } else {
                tracing::warn!("cannot raise the open-files limit");
            }
        }
        tracing::info!(
            soft_before = before,
            soft = lim.rlim_cur,
            hard = lim.rlim_max,
            "open-files limit"
        );
        Some((lim.rlim_cur, lim.rlim_max))
    }
    #[cfg(not(unix))]
    None
}

/// Milliseconds since `base`, the last time the connection read or wrote something.
#[derive(Debug)]
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.base.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A TCP stream that records when it last transferred data.
pub(crate) struct TrackedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl TrackedIo {
    /// The stream itself (a WebSocket takes it over after the upgrade; see `crate::ws`).
    pub(crate) fn into_tcp(self) -> TcpStream {
        self.inner
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits at most
/// `limits.drain` for in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder.http1_only());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and similar: back off instead of spinning.
                    crate::telemetry::sampled_info("accept failed");
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // TCP_NODELAY: small WebSocket frames (pongs, state changes) leave at once instead of
        // waiting behind Nagle's algorithm for the ACK of the previous frame.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let activity = Arc::new(Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        });
        let io = TokioIo::new(TrackedIo {
            inner: tcp,
            activity: activity.clone(),
        });
        let service =
            router
                .clone()
                .map_request(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let idle = limits.idle_timeout;
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(io, service);
            let conn = watcher.watch(conn.into_owned());
            tokio::pin!(conn);
            loop {
                let left = idle.saturating_sub(activity.idle_for());
                tokio::select! {
                    _ = &mut conn => break,
                    _ = tokio::time::sleep(left.max(Duration::from_millis(10))) => {
                        if activity.idle_for() >= idle {
                            tracing::debug!(%peer, "idle connection closed");
                            break;
                        }
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open after the drain period");
    }
    Ok(())
}
