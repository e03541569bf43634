//! Home page: paste a YouTube link, create a session.

use leptos::prelude::*;

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    view! { <h1>"Watch party"</h1> }
}
