//! Operational metrics in the Prometheus text format (`GET /metrics`).
//!
//! One [`Metrics`] per session service (`Sessions`; so several instances in one test process
//! keep their own figures), built on `prometheus-client`: a registry object per instance instead
//! of a process-global recorder, typed label sets, and an encoder for the text format.
//!
//! Label cardinality is bounded by construction: label values are enums, close codes from a
//! fixed set, or axum's *matched* route template (never a raw URL); no session or viewer id is
//! ever a label. Gauges that describe the instance (connections, hubs, viewers, clock offset)
//! are read at scrape time. The viewers' own sync error arrives in `health` reports (at most one
//! per connection every [`HEALTH_REPORT_EVERY`], values clamped) and goes into one histogram.
//!
//! This module imports nothing of the rest of the crate: the hubs, the stores and the session
//! service count into it, and the `GET /metrics` handler that renders it lives with the other
//! HTTP handlers (`crate::http::scrape`).

use axum::extract::{MatchedPath, Request, State};
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// A connection's `health` reports are counted at most this often (more are dropped).
pub const HEALTH_REPORT_EVERY: Duration = Duration::from_secs(5);
/// Reported sync errors are clamped to this many milliseconds.
pub const MAX_REPORTED_ERROR_MS: f64 = 60_000.0;
/// One viewer in this many observes its fan-out time (keeps the histogram lock cold in rooms of
/// 10,000 viewers).
pub const FANOUT_SAMPLE: u64 = 16;

/// The kind of a client command.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CommandKind {
    /// Play.
    Play,
    /// Pause.
    Pause,
    /// Seek.
    Seek,
    /// Playback rate.
    Rate,
    /// Video length report.
    Duration,
    /// Change the video.
    Video,
    /// A queue edit.
    Queue,
    /// Play a queued item now.
    PlayNow,
    /// A host's change of rights.
    Host,
    /// Anything else (other teams' commands until they are named here).
    Other,
}

impl CommandKind {
    /// The kind of a playback command.
    pub fn of(cmd: &watchparty_core::playback::Command) -> Self {
        use watchparty_core::playback::Command as C;
        match cmd {
            C::Play { .. } => Self::Play,
            C::Pause { .. } => Self::Pause,
            C::Seek { .. } => Self::Seek,
            C::Rate { .. } => Self::Rate,
            C::Duration { .. } | C::VideoDuration { .. } => Self::Duration,
            C::Video { .. } => Self::Video,
        }
    }

    /// The kind of any command a viewer sends (playback, queue, play now).
    pub fn of_room(cmd: &watchparty_core::room::RoomCommand) -> Self {
        use watchparty_core::room::RoomCommand as R;
        match cmd {
            R::Playback(c) => Self::of(c),
            R::Queue(_) => Self::Queue,
            R::PlayNow { .. } => Self::PlayNow,
            R::Rights(_) => Self::Host,
            R::Advance { .. }
            | R::Together(_)
            | R::Release { .. }
            | R::Stall { .. }
            | R::Permanence(_) => Self::Other,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Play => "play",
            Self::Pause => "pause",
            Self::Seek => "seek",
            Self::Rate => "rate",
            Self::Duration => "duration",
            Self::Video => "video",
            Self::Queue => "queue",
            Self::PlayNow => "play_now",
            Self::Host => "host",
            Self::Other => "other",
        }
    }
}

/// What became of a command.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CommandOutcome {
    /// Changed the state.
    Applied,
    /// Changed nothing (a duplicate); acknowledged.
    Unchanged,
    /// Based on an old revision.
    Stale,
    /// Refused by the rate limit.
    RateLimited,
    /// Not allowed for this viewer.
    Forbidden,
    /// An invalid value.
    Invalid,
    /// The store did not answer.
    Unavailable,
    /// The session is gone.
    UnknownSession,
}

impl CommandOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Unchanged => "unchanged",
            Self::Stale => "stale",
            Self::RateLimited => "rate_limited",
            Self::Forbidden => "forbidden",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
            Self::UnknownSession => "unknown_session",
        }
    }
}

/// Labels of `watchparty_commands_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    /// The command ([`CommandKind::as_str`]).
    pub kind: &'static str,
    /// Its outcome ([`CommandOutcome::as_str`]).
    pub outcome: &'static str,
}

/// Labels of `watchparty_ws_closes_total` (codes come from `watchparty_core::protocol::close`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    /// The close code.
    pub code: u16,
}

/// Labels of `watchparty_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The matched route template (`/s/{id}`), or `fallback`.
    pub route: String,
    /// The method (a fixed set; others are `other`).
    pub method: &'static str,
    /// The response status.
    pub status: u16,
}

/// Labels of `watchparty_redis_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreOpLabels {
    /// The operation (a fixed set of names).
    pub op: &'static str,
}

/// Redis command and script latency, shared by every instance that uses one store.
#[derive(Clone, Debug)]
pub struct StoreMetrics {
    /// Seconds per operation.
    pub latency: Family<StoreOpLabels, Histogram>,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self {
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
            }),
        }
    }
}

impl StoreMetrics {
    /// Records one operation that started at `start`.
    pub fn observe(&self, op: &'static str, start: Instant) {
        self.latency
            .get_or_create(&StoreOpLabels { op })
            .observe(start.elapsed().as_secs_f64());
    }

    /// Registers the family in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "watchparty_redis_seconds",
            "Redis command and script latency by operation",
            self.latency.clone(),
        );
    }
}

/// Every metric of one instance.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections (set at scrape time).
    pub connections: Gauge,
    /// Sessions with a hub on this instance (set at scrape time).
    pub hubs: Gauge,
    /// Commands by kind and outcome.
    pub commands: Family<CommandLabels, Counter>,
    /// Time from a hub handing a frame over until a (sampled) viewer's socket took it.
    pub fanout: Histogram,
    /// Viewers whose send queue overflowed.
    pub overflows: Counter,
    /// WebSocket closes by code.
    pub closes: Family<CloseLabels, Counter>,
    /// Revision gaps detected on the subscription (each re-reads the store).
    pub gaps: Counter,
    /// Store re-reads after a gap, a reconnect or the safety net.
    pub resyncs: Counter,
    /// Offset of the store's clock from the local one, seconds (set at scrape time).
    pub clock_offset: Gauge<f64, AtomicU64>,
    /// HTTP requests by route template, method and status.
    pub http: Family<HttpLabels, Counter>,
    /// Viewers' own sync error as their clients report it, seconds.
    pub client_sync_error: Histogram,
    /// Health reports dropped by the per-connection rate limit.
    pub client_reports_dropped: Counter,
}

impl Metrics {
    /// Creates the metrics of one instance; the store's families are registered too.
    pub fn new(store: Option<&StoreMetrics>) -> Self {
        let mut registry = Registry::default();
        let m = Self {
            registry: Registry::default(),
            connections: Gauge::default(),
            hubs: Gauge::default(),
            commands: Family::default(),
            fanout: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            overflows: Counter::default(),
            closes: Family::default(),
            gaps: Counter::default(),
            resyncs: Counter::default(),
            clock_offset: Gauge::default(),
            http: Family::default(),
            client_sync_error: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            client_reports_dropped: Counter::default(),
        };
        registry.register(
            "watchparty_connections",
            "Open WebSocket connections",
            m.connections.clone(),
        );
        registry.register(
            "watchparty_hubs",
            "Sessions with viewers on this instance (one hub each)",
            m.hubs.clone(),
        );
        registry.register(
            "watchparty_commands",
            "Client commands by kind and outcome",
            m.commands.clone(),
        );
        registry.register(
            "watchparty_fanout_seconds",
            "Time from a hub handing a frame over until a viewer's socket took it (sampled viewers)",
            m.fanout.clone(),
        );
        registry.register(
            "watchparty_send_queue_overflows",
            "Viewers disconnected because their send queue overflowed",
            m.overflows.clone(),
        );
        registry.register(
            "watchparty_ws_closes",
            "WebSocket closes sent, by close code",
            m.closes.clone(),
        );
        registry.register(
            "watchparty_pubsub_gaps",
            "Revision gaps detected on the subscription",
            m.gaps.clone(),
        );
        registry.register(
            "watchparty_resyncs",
            "Re-reads of a session's state from the store (gap, reconnect, safety net)",
            m.resyncs.clone(),
        );
        registry.register(
            "watchparty_clock_offset_seconds",
            "Offset of the store's (Redis') clock from the local clock",
            m.clock_offset.clone(),
        );
        registry.register(
            "watchparty_http_requests",
            "HTTP requests by matched route template, method and status",
            m.http.clone(),
        );
        registry.register(
            "watchparty_client_sync_error_seconds",
            "Viewers' own sync error as their clients report it (rate-limited per connection)",
            m.client_sync_error.clone(),
        );
        registry.register(
            "watchparty_client_reports_dropped",
            "Client health reports dropped by the per-connection rate limit",
            m.client_reports_dropped.clone(),
        );
        if let Some(store) = store {
            store.register(&mut registry);
        }
        Self { registry, ..m }
    }

    /// Counts one command.
    pub fn command(&self, kind: CommandKind, outcome: CommandOutcome) {
        self.commands
            .get_or_create(&CommandLabels {
                kind: kind.as_str(),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Counts one close sent with `code`.
    pub fn close(&self, code: u16) {
        self.closes.get_or_create(&CloseLabels { code }).inc();
    }

    /// Records a viewer's reported sync error (ms; clamped, non-finite values ignored).
    pub fn client_error_ms(&self, error_ms: f64) {
        if error_ms.is_finite() {
            let ms = error_ms.abs().min(MAX_REPORTED_ERROR_MS);
            self.client_sync_error.observe(ms / 1000.0);
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Lets one report through per [`HEALTH_REPORT_EVERY`] (per connection).
#[derive(Debug, Default)]
pub struct ReportGate {
    last: Option<Instant>,
}

impl ReportGate {
    /// `true` when a report arriving now may be counted.
    pub fn admit(&mut self, now: Instant) -> bool {
        match self.last {
            Some(t) if now.duration_since(t) < HEALTH_REPORT_EVERY => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts every request by matched route template and status.
pub async fn track_http(
    State(metrics): State<std::sync::Arc<Metrics>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "fallback".to_owned());
    let method = method_label(req.method());
    let resp = next.run(req).await;
    metrics
        .http
        .get_or_create(&HttpLabels {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_gated_per_connection() {
        let mut g = ReportGate::default();
        let t = Instant::now();
        assert!(g.admit(t));
        assert!(!g.admit(t + Duration::from_secs(1)));
        assert!(g.admit(t + HEALTH_REPORT_EVERY));
    }

    #[test]
    fn exposition_has_every_family_and_bounded_labels() {
        let store = StoreMetrics::default();
        let m = Metrics::new(Some(&store));
        m.command(CommandKind::Play, CommandOutcome::Applied);
        m.close(watchparty_core::protocol::close::TOO_SLOW);
        m.client_error_ms(f64::NAN);
        m.client_error_ms(1e12);
        store.observe("cas", Instant::now());
        let text = m.encode();
        for name in [
            "watchparty_connections",
            "watchparty_commands_total{kind=\"play\",outcome=\"applied\"} 1",
            "watchparty_ws_closes_total{code=\"4008\"} 1",
            "watchparty_client_sync_error_seconds_count 1",
            "watchparty_redis_seconds_count{op=\"cas\"} 1",
            "watchparty_clock_offset_seconds",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }
}
