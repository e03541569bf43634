//! The 404 page; sets the HTTP status during server rendering.

use crate::i18n::{tr, use_i18n};
use leptos::prelude::*;

/// Shown for unknown routes and unknown sessions.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::set_status(http::StatusCode::NOT_FOUND);
    let i18n = use_i18n();
    view! {
        <section class="card not-found">
            <h1>{tr!(i18n, common.not_found.title)}</h1>
            <p>{tr!(i18n, common.not_found.text)}</p>
            <a href="/">{tr!(i18n, common.not_found.link)}</a>
        </section>
    }
}
