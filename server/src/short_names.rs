//! `/r/<name>`: a permanent room's short name (any case) answers with a redirect to the room,
//! `/s/<id>` (303, not cached: a name can be freed and taken by another room); an unknown or
//! malformed name is the site's 404 page.

use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The route's path pattern.
pub const ROUTE: &str = "/r/{name}";

/// `GET /r/{name}`.
pub async fn resolve(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    match state.sessions.resolve_alias(&name).await {
        Ok(Some(id)) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, format!("/s/{id}")),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response(),
        Ok(None) => crate::http::fallback(State(state), req).await,
        Err(e) => {
            tracing::warn!(error = %e, "cannot resolve a room name");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "the store is unavailable; try again",
            )
                .into_response()
        }
    }
}
