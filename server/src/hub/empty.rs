//! What the hubs tell the session service about a room's life that is not a state change:
//! the room became empty on every instance (the final presence report of the last local
//! viewer's hub came back with a total of 0), and a host ended the room.

use std::sync::OnceLock;
use watchparty_core::ids::SessionId;

/// Called with a session whose last viewer (over all instances) just left.
type Hook = Box<dyn Fn(SessionId) + Send + Sync>;

/// The hook set once by the session service ([`super::Hubs::on_empty`]).
#[derive(Default)]
pub(super) struct EmptyHook(OnceLock<Hook>);

impl std::fmt::Debug for EmptyHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "EmptyHook(set)"
        } else {
            "EmptyHook(unset)"
        })
    }
}

impl EmptyHook {
    /// Sets the hook (only the first call counts).
    pub(super) fn set(&self, hook: Hook) {
        let _ = self.0.set(hook);
    }

    /// Runs the hook for `id`, if set.
    pub(super) fn call(&self, id: &SessionId) {
        if let Some(hook) = self.0.get() {
            hook(id.clone());
        }
    }
}
