//! The 404 page; sets the HTTP status during server rendering.

use leptos::prelude::*;

/// Shown for unknown routes and unknown sessions.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::set_status(http::StatusCode::NOT_FOUND);
    view! {
        <section class="card not-found">
            <h1>"Not found"</h1>
            <p>"This page or watch party does not exist (sessions expire after a day without activity)."</p>
            <a href="/">"Start a new watch party"</a>
        </section>
    }
}
