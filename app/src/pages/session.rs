//! Session page: the player, share link, viewers and sync badge.

use leptos::prelude::*;

/// The session page.
#[component]
pub fn SessionPage() -> impl IntoView {
    view! { <h1>"Session"</h1> }
}
