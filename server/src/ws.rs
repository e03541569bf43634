//! WebSocket endpoint (placeholder until the sync core lands).

use axum::{http::StatusCode, response::IntoResponse};

/// `GET /ws/{id}`.
pub async fn upgrade() -> impl IntoResponse {
    StatusCode::NOT_IMPLEMENTED
}
