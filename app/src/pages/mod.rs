//! The pages: home (create a session), session (watch together) and 404.

mod chat;
mod home;
mod host;
mod keep;
mod not_found;
mod roster;
mod session;

pub use home::HomePage;
pub use not_found::NotFound;
pub use session::SessionPage;

/// Copies `text` to the clipboard (selecting the input `input_id` instead when the browser
/// refuses) and shows the outcome in `copied` for 2 s: the share link's and the host link's
/// copy buttons.
#[cfg(feature = "hydrate")]
pub(crate) fn copy_with_feedback(
    text: String,
    input_id: &'static str,
    copied: leptos::prelude::RwSignal<Option<bool>>,
) {
    leptos::task::spawn_local(async move {
        use leptos::prelude::*;
        let ok = crate::client::copy_text(&text).await;
        if !ok {
            crate::client::select_input(input_id);
        }
        copied.try_set(Some(ok));
        gloo_timers::future::TimeoutFuture::new(2_000).await;
        copied.try_set(None);
    });
}

/// The share link's button: offers `url` to the system share sheet (`navigator.share`) where
/// the browser has one (phones), else copies it like [`copy_with_feedback`] (also when the
/// browser refuses to share).
#[cfg(feature = "hydrate")]
pub(crate) fn share_or_copy(
    url: String,
    title: String,
    input_id: &'static str,
    copied: leptos::prelude::RwSignal<Option<bool>>,
) {
    leptos::task::spawn_local(async move {
        if crate::client::share(&url, &title).await == crate::client::Shared::Unavailable {
            copy_with_feedback(url, input_id, copied);
        }
    });
}

/// Clicks never run on the server.
#[cfg(not(feature = "hydrate"))]
pub(crate) fn copy_with_feedback(
    _: String,
    _: &'static str,
    _: leptos::prelude::RwSignal<Option<bool>>,
) {
}

/// Clicks never run on the server.
#[cfg(not(feature = "hydrate"))]
pub(crate) fn share_or_copy(
    _: String,
    _: String,
    _: &'static str,
    _: leptos::prelude::RwSignal<Option<bool>>,
) {
}

/// Something the viewer asks of the room from the page's chat, reactions and host controls.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) enum Ask {
    /// Send a chat line (validated).
    Chat(String),
    /// Delete a chat line (hosts).
    DeleteChat(u64),
    /// React at this viewer's current video moment.
    React(&'static str),
    /// Seek the room to this moment (s), e.g. a chat line's time.
    Seek(f64),
    /// A host request.
    Host(crate::rights::RightsCommand),
}
