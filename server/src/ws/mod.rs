//! The WebSocket endpoint `/ws/{id}`: checks, the opening handshake, and one task per
//! connection ([`conn`]).
//!
//! Before upgrading: the `Origin` must be allowed (else 403), the id valid and the session
//! known (else 404), the store reachable (else 503). The handshake (RFC 6455 §4.2) is checked here
//! rather than by a WebSocket library (only the accept key is tungstenite's
//! `derive_accept_key`): after the `101` the connection's plain `TcpStream` is
//! taken back from hyper, so that the hub can write prepared frames straight into it (see
//! `crate::hub::Viewer`) and the connection holds no buffers while idle. Frames are read by
//! [`crate::wire::Decoder`], capped at `max_frame_bytes`.

mod conn;

use crate::limits::origin_allowed;
use crate::sessions::random_id;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::borrow::Cow;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::Instrument;
use watchparty_core::ids::SessionId;
use watchparty_core::rights::Kid;

/// `GET /ws/{id}` (any method reaches it; only a valid WebSocket upgrade proceeds).
pub async fn upgrade(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    mut request: Request,
) -> Response {
    if let Err(refused) = check_origin(&app, &headers) {
        return refused.into_response();
    }
    let Ok(id) = SessionId::parse(&id) else {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    };
    let sessions = app.sessions.clone();
    let handshake = check_handshake(request.method(), &headers).and_then(|accept| {
        request
            .extensions_mut()
            .remove::<OnUpgrade>()
            .map(|on| (accept, on))
            .ok_or((
                StatusCode::UPGRADE_REQUIRED,
                "WebSocket request couldn't be upgraded since no upgrade state was present",
            ))
    });
    let (accept, on_upgrade) = match handshake {
        Ok(h) => h,
        // Not a WebSocket request: still a 404 for unknown sessions.
        Err(rejection) => {
            return match sessions.snapshot(&id).await {
                Ok(None) => (StatusCode::NOT_FOUND, "no such session").into_response(),
                _ => rejection.into_response(),
            }
        }
    };
    let admitted = match admit(&app, &id, peer, &headers).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused.into_response(),
    };
    let (kid, speaks_ours) = identify(&headers);
    let conn_id = random_id();
    let span = tracing::info_span!("ws", session = %id, conn_id);
    // Everything the connection needs, in one box: the task's future (which lives as long as
    // the connection) holds a pointer instead of the parts.
    let start = Box::new(conn::Start {
        sessions,
        membership: admitted.membership,
        shutdown: admitted.shutdown,
        conn_id,
        kid,
        guards: admitted.guards,
    });
    spawn_connection(start, on_upgrade, span);
    switching_protocols(accept, speaks_ours)
}

/// `Err(403)` unless the request's `Origin` is allowed (`allowed_origins`, else same host).
fn check_origin(app: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("invalid"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if origin_allowed(origin, host, &app.settings.allowed_origins) {
        return Ok(());
    }
    crate::telemetry::sampled_info("websocket origin rejected");
    tracing::debug!(?origin, ?host, "websocket origin rejected");
    Err((StatusCode::FORBIDDEN, "origin not allowed".into()))
}

/// Why a WebSocket request is refused before the upgrade: the status and the text answered.
type Refusal = (StatusCode, Cow<'static, str>);

/// What an admitted connection holds: its places in the counts, the shutdown signal and its
/// membership of the session's hub.
struct Admitted {
    guards: conn::Guards,
    shutdown: tokio::sync::watch::Receiver<bool>,
    membership: crate::hub::Membership,
}

/// Admits a WebSocket to session `id`: within the sockets per client address (429), for a
/// session that exists (404; 503 when the store does not answer), while the server is not
/// shutting down (503), and joined to the session's hub.
async fn admit(
    app: &AppState,
    id: &SessionId,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Admitted, Refusal> {
    let sessions = &app.sessions;
    // Sockets per session per client address (issue 11: one client filling a room), IPv6
    // addresses counted by prefix (issue 26: one home connection holds a /64).
    let addr = app.client_key(peer, headers);
    let Some(place) = app
        .sockets
        .try_acquire((id.clone(), addr), app.settings.max_sockets_per_address)
    else {
        crate::telemetry::sampled_info("websocket refused: too many sockets from one address");
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections to this session from your address".into(),
        ));
    };
    // Upgrades to ids with no hub here: check existence with one store read before building a
    // hub (which subscribes, loads and unsubscribes).
    if sessions.hubs().get(id).is_none() {
        match sessions.exists(id).await {
            Ok(true) => {}
            Ok(false) => return Err((StatusCode::NOT_FOUND, "no such session".into())),
            Err(e) => {
                return Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string().into()));
            }
        }
    }
    let Some((conn_guard, shutdown)) = sessions.register_connection() else {
        return Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down".into()));
    };
    let membership = match sessions.join(id).await {
        Ok(m) => m,
        Err(crate::hub::JoinError::UnknownSession) => {
            return Err((StatusCode::NOT_FOUND, "no such session".into()))
        }
        Err(e) => {
            tracing::warn!(session = %id, error = %e, "join failed");
            return Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string().into()));
        }
    };
    Ok(Admitted {
        guards: (conn_guard, place),
        shutdown,
        membership,
    })
}

/// Who this is: the public id of the key offered as a subprotocol (see `crate::identity`; a
/// random one without a key), and whether the client speaks our subprotocol.
fn identify(headers: &HeaderMap) -> (Kid, bool) {
    let protocols = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    let kid = crate::identity::key_from_protocols(protocols)
        .map(crate::identity::kid_of)
        .unwrap_or_else(crate::identity::random_kid);
    let speaks_ours =
        protocols.is_some_and(|p| p.split(',').any(|t| t.trim() == crate::identity::PROTOCOL));
    (kid, speaks_ours)
}

/// Spawns the connection's task: it waits for hyper's upgrade, takes the TCP stream back and
/// serves the connection ([`conn::Conn::run`]).
fn spawn_connection(start: Box<conn::Start>, on_upgrade: OnUpgrade, span: tracing::Span) {
    let task = async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade failed");
                return;
            }
        };
        let Some((tcp, early)) = into_tcp(upgraded) else {
            tracing::warn!("upgraded connection is not a TCP stream");
            return;
        };
        release_hyper_wakers(&tcp);
        conn::Conn::new(*start, tcp, early).run().await;
    }
    .instrument(span);
    // What an idle connection costs besides its socket and its `Viewer` (see benchmarks).
    tracing::trace!(bytes = std::mem::size_of_val(&task), "connection task");
    tokio::spawn(task);
}

/// The `101 Switching Protocols` answer, with our subprotocol when the client offered it.
fn switching_protocols(accept: String, speaks_ours: bool) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept);
    if speaks_ours {
        response = response.header(header::SEC_WEBSOCKET_PROTOCOL, crate::identity::PROTOCOL);
    }
    response
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Checks a WebSocket opening request (RFC 6455 §4.2.1); the `Sec-WebSocket-Accept` value.
fn check_handshake(
    method: &Method,
    headers: &HeaderMap,
) -> Result<String, (StatusCode, &'static str)> {
    if method != Method::GET {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "Request method must be `GET`",
        ));
    }
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::CONNECTION, "upgrade") {
        return Err((
            StatusCode::BAD_REQUEST,
            "Connection header did not include 'upgrade'",
        ));
    }
    if !has_token(header::UPGRADE, "websocket") {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Upgrade` header did not include 'websocket'",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Version` header did not include '13'",
        ));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` header missing",
        ));
    };
    Ok(derive_accept_key(key.as_bytes()))
}

/// Replaces the wakers hyper's connection task left in the socket's registration with a no-op.
///
/// hyper read the request with `poll_read`, which parks the reading task's waker in the
/// socket's readiness slot until the socket is next readable. That task ended with the upgrade,
/// but its waker keeps its memory (about 1 KB) alive until the client next sends something;
/// for a quiet viewer, as long as the connection lasts. This connection waits with
/// `readable()`, which does not use that slot.
fn release_hyper_wakers(tcp: &TcpStream) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    // Ready (nothing parked) or Pending (the no-op parked in place of hyper's waker).
    let _ = tcp.poll_read_ready(&mut cx);
    let _ = tcp.poll_write_ready(&mut cx);
}

/// The TCP stream under an upgraded connection, and the bytes hyper read past the request.
fn into_tcp(upgraded: Upgraded) -> Option<(TcpStream, Bytes)> {
    use hyper_util::server::conn::auto::upgrade::downcast;
    // Our accept loop (`crate::serve`) serves `TrackedIo` through hyper-util's auto builder,
    // which wraps it once more (hence its own `downcast`); `axum::serve` (some tests) serves
    // the plain stream the same way.
    let upgraded = match downcast::<TokioIo<crate::serve::TrackedIo>>(upgraded) {
        Ok(parts) => return Some((parts.io.into_inner().into_tcp(), parts.read_buf)),
        Err(u) => u,
    };
    let upgraded = match downcast::<TokioIo<TcpStream>>(upgraded) {
        Ok(parts) => return Some((parts.io.into_inner(), parts.read_buf)),
        Err(u) => u,
    };
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => Some((parts.io.into_inner(), parts.read_buf)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waker a finished reader (hyper's connection task) parked in the socket's
    /// registration is dropped, so the memory it keeps alive is freed at once.
    #[tokio::test]
    async fn releasing_drops_the_waker_a_reader_left_behind() {
        use std::io;
        use std::sync::Arc;
        struct Counted;
        impl std::task::Wake for Counted {
            fn wake(self: Arc<Self>) {}
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let parked = Arc::new(Counted);
        let waker = std::task::Waker::from(parked.clone());
        // Read until nothing is left, then wait for more, as hyper's task does: its waker
        // stays in the socket's registration. (No await in between: on this single-threaded
        // runtime the driver cannot mark the socket readable again meanwhile.)
        let mut buf = [0u8; 1];
        assert_eq!(
            server.try_read(&mut buf).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        assert!(server
            .poll_read_ready(&mut std::task::Context::from_waker(&waker))
            .is_pending());
        drop(waker);
        assert_eq!(Arc::strong_count(&parked), 2, "the registration holds it");
        release_hyper_wakers(&server);
        assert_eq!(Arc::strong_count(&parked), 1, "released");
        // The socket still works: the client's bytes arrive.
        client.try_write(b"x").unwrap();
        server.readable().await.unwrap();
        assert_eq!(server.try_read(&mut buf).unwrap(), 1);
    }

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn requests_that_are_not_websocket_upgrades_are_refused() {
        let ok = || {
            let mut h = HeaderMap::new();
            h.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
            h.insert(header::UPGRADE, "websocket".parse().unwrap());
            h.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().unwrap());
            h.insert(
                header::SEC_WEBSOCKET_KEY,
                "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
            );
            h
        };
        assert!(check_handshake(&Method::GET, &ok()).is_ok());
        assert_eq!(
            check_handshake(&Method::POST, &ok()).unwrap_err().0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        for name in [
            header::CONNECTION,
            header::UPGRADE,
            header::SEC_WEBSOCKET_VERSION,
            header::SEC_WEBSOCKET_KEY,
        ] {
            let mut h = ok();
            h.remove(&name);
            assert_eq!(
                check_handshake(&Method::GET, &h).unwrap_err().0,
                StatusCode::BAD_REQUEST,
                "{name}"
            );
        }
        let mut h = ok();
        h.insert(header::SEC_WEBSOCKET_VERSION, "8".parse().unwrap());
        assert!(check_handshake(&Method::GET, &h).is_err());
    }
}
