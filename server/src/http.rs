//! HTTP surface: health endpoints, the metrics scrape, security headers and the fallback
//! (embedded files, else 404).

use crate::{assets, sessions::Sessions, state::AppState};
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use std::sync::Arc;

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the store answers. 503 when it does not (e.g. Redis down).
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.sessions.ready().await {
        Ok(()) => Json(json!({ "status": "ready", "store": state.sessions.store_kind() }))
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "store": state.sessions.store_kind(), "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// `GET /metrics`: the Prometheus text exposition ([`Sessions::metrics_text`]).
pub async fn scrape(State(sessions): State<Arc<Sessions>>) -> Response {
    let text = sessions.metrics_text();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Unrouted requests: an embedded site file, or the app's 404 page.
pub async fn fallback(State(state): State<AppState>, mut req: Request) -> Response {
    if let Some(resp) = assets::serve(&req) {
        return resp;
    }
    app::lang::prefer_cookie(req.headers_mut());
    let render = leptos_axum::render_app_to_stream_with_context(state.leptos_context(), {
        let options = state.leptos.clone();
        move || app::ssr::shell(options.clone())
    });
    to_completion(&state, async move { render(req).await.into_response() }).await
}

/// Layer of the Leptos routes: see [`to_completion`]. A page is rendered in the language its
/// `lang` cookie names, before `Accept-Language` ([`app::lang::prefer_cookie`]).
pub async fn render_to_completion(
    State(state): State<AppState>,
    mut req: Request,
    next: axum::middleware::Next,
) -> Response {
    app::lang::prefer_cookie(req.headers_mut());
    to_completion(&state, next.run(req)).await
}

/// Runs a page render to its end even when the browser goes away first (a closed tab, a
/// navigation elsewhere, a reload): the render runs in a task of its own, and a page body
/// dropped before its end is read to the end in the background, discarded.
///
/// Leptos (0.8) cannot be stopped part-way through a server render: a `Suspense` leaves a task
/// that runs once its data is there, and when the render was dropped before that task ran
/// (hyper drops a request's future and body when its client closes) the task walks the
/// disposed page and panics. Finishing costs what the request would have cost anyway; the
/// store reads a render waits on are bounded by their own timeouts (2 s).
///
/// A render that outlives its connection no longer counts against `max_connections`, so
/// renders are counted on their own (`AppState::renders`, the same number): one that cannot
/// start is answered 503 with `Retry-After: 1`, and nothing is rendered. Without this, a
/// client that sends page requests and leaves at once could pile up renders waiting on a slow
/// store.
async fn to_completion(
    state: &AppState,
    render: impl std::future::Future<Output = Response> + Send + 'static,
) -> Response {
    use tracing::Instrument;
    let Ok(permit) = state.renders.clone().try_acquire_owned() else {
        crate::telemetry::sampled_info("render refused: too many in flight");
        let mut resp = (StatusCode::SERVICE_UNAVAILABLE, "busy, please retry").into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    };
    // The body is wrapped inside the task: when the browser has left before the answer (hyper
    // drops this future, so the task's answer is dropped unread), the wrapper still reads the
    // page to its end and holds the permit until then.
    let task = tokio::spawn(
        async move {
            let resp = render.await;
            let html = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
            if !html {
                // Server functions' answers and files are whole values, not renders.
                return resp;
            }
            resp.map(|body| {
                axum::body::Body::from_stream(ReadToEnd(Some((body.into_data_stream(), permit))))
            })
        }
        .in_current_span(),
    );
    match task.await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "page render failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A page body that, dropped before its end, is read to its end by a task of its own; it holds
/// its render's permit until then.
struct ReadToEnd(
    Option<(
        axum::body::BodyDataStream,
        tokio::sync::OwnedSemaphorePermit,
    )>,
);

impl futures::Stream for ReadToEnd {
    type Item = Result<axum::body::Bytes, axum::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let Some((inner, _)) = self.0.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let next = std::pin::Pin::new(inner).poll_next(cx);
        if let std::task::Poll::Ready(None) = next {
            self.0 = None;
        }
        next
    }
}

impl Drop for ReadToEnd {
    fn drop(&mut self) {
        let Some((mut rest, permit)) = self.0.take() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                use futures::StreamExt;
                while rest.next().await.is_some() {}
                drop(permit);
            });
        }
    }
}

/// Guards the endpoints that create sessions (`POST /api/create`, used by the JavaScript
/// client and by the plain HTML form): a request whose `Origin` (or, without one, `Referer`)
/// is another site is refused with 403 (other sites' forms cannot create sessions here), and
/// each client address (an IPv6 one with its whole prefix: [`AppState::client_key`]) may
/// create `creates_per_min` sessions per minute, beyond which the
/// answer is 429 with `Retry-After` (seconds). Requests without either header (not a browser)
/// are only rate limited.
pub async fn create_guard(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() != axum::http::Method::POST || req.uri().path() != CREATE_PATH {
        return next.run(req).await;
    }
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = match headers.get(header::ORIGIN) {
        Some(o) => Some(o.to_str().unwrap_or("invalid").to_owned()),
        None => headers
            .get(header::REFERER)
            .map(|r| origin_of(r.to_str().unwrap_or("invalid"))),
    };
    if !crate::limits::origin_allowed(origin.as_deref(), host, &state.settings.allowed_origins) {
        crate::telemetry::sampled_info("create refused: cross-site origin");
        return (
            StatusCode::FORBIDDEN,
            "cross-site requests cannot create watch parties",
        )
            .into_response();
    }
    let addr = state.client_key(peer, headers);
    if let Err(wait) = state.creates.check(addr) {
        crate::telemetry::sampled_info("create refused: rate limited");
        let secs = wait.as_secs() + 1;
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!doctype html><title>Too many watch parties</title><p>{}</p>\
                 <p><a href=\"/\">Back</a></p>",
                app::api::too_many_creates(secs)
            ),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    next.run(req).await
}

/// The path of the create server function.
const CREATE_PATH: &str = "/api/create";

/// `scheme://host[:port]` of a URL (the whole text when it has no path).
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{authority}")
        }
        None => url.to_owned(),
    }
}

/// Adds the headers every response gets (the page CSP is set per response by the shell,
/// because it carries that response's nonce).
pub async fn security_headers(req: Request, next: axum::middleware::Next) -> Response {
    // HSTS only when the client reached us over HTTPS (a TLS-terminating proxy says so).
    let https = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    // The YouTube player needs autoplay, fullscreen and encrypted media in its frame; nothing
    // else is granted to anyone.
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
             autoplay=(self \"https://www.youtube.com\" \"https://www.youtube-nocookie.com\"), \
             fullscreen=(self \"https://www.youtube.com\" \"https://www.youtube-nocookie.com\"), \
             encrypted-media=(self \"https://www.youtube.com\" \"https://www.youtube-nocookie.com\")",
        ),
    );
    // Popups may keep their opener (YouTube's "watch on YouTube" links); other documents get
    // no handle on this window.
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin-allow-popups"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}
