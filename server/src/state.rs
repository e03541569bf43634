//! [`AppState`]: what every HTTP handler shares (settings, the session service, the Leptos
//! options, asset links and the abuse limiters). Its own module so that `startup`, `http` and
//! `ws` all depend on it instead of on each other.

use crate::limits::{ClientKey, Counter, CreateLimiter};
use crate::{sessions::Sessions, settings::Settings};
use axum::extract::FromRef;
use leptos::prelude::*;
use std::net::SocketAddr;
use std::sync::Arc;
use watchparty_core::ids::SessionId;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// Runtime settings.
    pub settings: Arc<Settings>,
    /// Sessions: store, fan-out, connections.
    pub sessions: Arc<Sessions>,
    /// Leptos rendering options.
    pub leptos: LeptosOptions,
    /// Hashed asset URLs for the shell.
    pub links: app::ssr::AssetLinks,
    /// WebSockets per (session, client address key) on this instance.
    pub sockets: Arc<Counter<(SessionId, ClientKey)>>,
    /// Session creations per client address key.
    pub creates: Arc<CreateLimiter>,
    /// Page renders in flight, including those whose browser has left (they run to their end:
    /// `http::to_completion`), at most `max_connections`.
    pub renders: Arc<tokio::sync::Semaphore>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}

impl AppState {
    /// The state for `sessions` under `settings`, with fresh limiters.
    pub fn new(
        settings: Arc<Settings>,
        sessions: Arc<Sessions>,
        leptos: LeptosOptions,
        links: app::ssr::AssetLinks,
    ) -> AppState {
        AppState {
            creates: Arc::new(CreateLimiter::new(settings.creates_per_min)),
            renders: Arc::new(tokio::sync::Semaphore::new(settings.max_connections.max(1))),
            sockets: Arc::default(),
            settings,
            sessions,
            leptos,
            links,
        }
    }

    /// The key every per-address limit counts this client by: its address (the TCP `peer`, or
    /// the trusted `client_ip_header`), IPv6 grouped by `ipv6_prefix_len` bits (see
    /// [`crate::limits::client_key`]).
    pub fn client_key(&self, peer: SocketAddr, headers: &http::HeaderMap) -> ClientKey {
        crate::limits::client_key(
            peer,
            headers,
            &self.settings.client_ip_header,
            self.settings.ipv6_prefix_len,
        )
    }

    /// What every render and server function gets in its context.
    pub fn leptos_context(&self) -> impl Fn() + Clone + Send + Sync + 'static {
        let backend = self.sessions.backend();
        let links = self.links.clone();
        move || {
            provide_context(backend.clone());
            provide_context(links.clone());
            leptos::nonce::provide_nonce();
        }
    }
}
