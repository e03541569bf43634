//! Building and running the server: store, routes, listener, graceful shutdown.
//! [`Application::build`] binds (port 0 works) so tests can run many servers side by side.

pub use crate::state::AppState;
use crate::{assets, http, sessions::Sessions, settings::Settings, ws};
use app::App;
use axum::{
    extract::State,
    routing::{any, get},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(String),
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    /// The separate metrics listener (`metrics_listen`), if any.
    metrics_listener: Option<TcpListener>,
    router: Router,
    sessions: Arc<Sessions>,
}

/// Leptos options: cargo-leptos' environment when present (watch mode, reload port), with the
/// listen address from our settings.
fn leptos_options(settings: &Settings) -> LeptosOptions {
    let from_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME").is_some();
    let mut options = from_cargo_leptos
        .then(|| get_configuration(None).ok())
        .flatten()
        .map(|c| c.leptos_options)
        .unwrap_or_else(|| LeptosOptions::builder().output_name("watchparty").build());
    options.site_addr = settings.listen;
    options
}

/// Pending connections the kernel queues while the server accepts (a join storm of thousands
/// of viewers per second overflows the default 128, and every dropped SYN costs a 1 s retry).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with address reuse and a deep accept backlog.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Application {
    /// Opens the store and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        crate::serve::raise_nofile_limit();
        let settings = Arc::new(settings);
        let sessions = Sessions::open(settings.clone())
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        let listener = bind(settings.listen).map_err(|source| StartError::Bind {
            addr: settings.listen,
            source,
        })?;
        let state = AppState::new(
            settings.clone(),
            sessions.clone(),
            leptos_options(&settings),
            assets::links(),
        );
        let metrics_listener = match settings.metrics_listen {
            Some(addr) => Some(bind(addr).map_err(|source| StartError::Bind { addr, source })?),
            None => None,
        };
        let router = router(state);
        Ok(Self {
            listener,
            metrics_listener,
            router,
            sessions,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// The bound address of the separate metrics listener, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then closes every WebSocket with "going away" and
    /// waits for in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = self.local_addr();
        tracing::info!(%addr, store = self.sessions.store_kind(), "listening on http://{addr}");
        let sessions = self.sessions.clone();
        let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
        if let Some(listener) = self.metrics_listener {
            let app = Router::new()
                .route("/metrics", get(http::scrape))
                .with_state(self.sessions.clone());
            let mut stopped = metrics_stopped;
            tracing::info!(addr = ?listener.local_addr().ok(), "metrics on their own listener");
            tokio::spawn(async move {
                let stop = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::warn!(error = %e, "metrics listener failed");
                }
            });
        }
        let signal = async move {
            shutdown.await;
            let _ = stop_metrics.send(true);
            sessions.shutdown().await;
        };
        let settings = self.sessions.settings();
        let limits = crate::serve::ServeLimits {
            header_read_timeout: Duration::from_secs(settings.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(settings.idle_timeout_secs.max(1)),
            max_connections: settings.max_connections,
            drain: Duration::from_secs(settings.drain_secs),
        };
        crate::serve::serve(self.listener, self.router, limits, signal).await
    }
}

/// The app's routes, listed once per process.
///
/// Listing them runs the whole app once with resources suppressed, and Leptos suppresses them
/// with one process-wide flag (`leptos_server::SuppressResourceLoad`): a session page whose
/// resource is first polled while *any* thread is listing routes waits forever
/// (leptos-rs/leptos#4773). A server lists them once at start, before it serves; a process
/// that builds several servers (the tests) would list them while another server renders, so
/// the list is made once and shared.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// All routes. WebSocket upgrades bypass compression.
pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, state.leptos_context(), {
            let options = state.leptos.clone();
            move || app::ssr::shell(options.clone())
        })
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::render_to_completion,
        ))
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .route(crate::short_names::ROUTE, get(crate::short_names::resolve))
        .fallback(http::fallback)
        .layer(CompressionLayer::new());
    let metrics = state.sessions.metrics_handle();
    let mut router = Router::new();
    if state.settings.metrics_listen.is_none() {
        router = router.route(
            "/metrics",
            get(|State(s): State<AppState>| http::scrape(State(s.sessions))),
        );
    }
    router
        .route(
            &format!("{}{{id}}", watchparty_core::protocol::WS_PATH),
            any(ws::upgrade),
        )
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::create_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track_http,
        ))
        .layer(axum::middleware::from_fn(http::security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A server running in the background on a port of its own, for tests.
pub struct TestServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// The server's session service (tests create sessions and inspect state through it).
    pub sessions: Arc<Sessions>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Builds `settings` (its `listen` port is replaced by 0) and runs it in the background.
    pub async fn spawn(mut settings: Settings) -> Result<Self, StartError> {
        settings.listen.set_port(0);
        let app = Application::build(settings).await?;
        let addr = app.local_addr();
        let sessions = app.sessions.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Ok(Self {
            addr,
            sessions,
            stop: Some(tx),
            task: Some(task),
        })
    }

    /// `http://addr`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `ws://addr`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Shuts down gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
