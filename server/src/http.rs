//! HTTP surface: health endpoints, security headers and the fallback (embedded files, else 404).

use crate::{assets, state::AppState};
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

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

/// Unrouted requests: an embedded site file, or the app's 404 page.
pub async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    if let Some(resp) = assets::serve(&req) {
        return resp;
    }
    let render = leptos_axum::render_app_to_stream_with_context(state.leptos_context(), {
        let options = state.leptos.clone();
        move || app::ssr::shell(options.clone())
    });
    render(req).await.into_response()
}

/// Adds the headers every response gets (the page CSP is set per response by the shell,
/// because it carries that response's nonce).
pub async fn security_headers(req: Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
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
