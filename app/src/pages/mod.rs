//! The pages: home (create a session), session (watch together) and 404.

mod chat;
mod home;
mod host;
mod not_found;
mod roster;
mod session;

pub use home::HomePage;
pub use not_found::NotFound;
pub use session::SessionPage;

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
