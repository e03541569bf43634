//! The pages: home (create a session), session (watch together) and 404.

mod home;
mod not_found;
mod roster;
mod session;

pub use home::HomePage;
pub use not_found::NotFound;
pub use session::SessionPage;
