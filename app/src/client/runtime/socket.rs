//! The runtime's socket: connecting (or adopting the socket the page's early script opened),
//! reading the server's messages into the [`RoomView`](watchparty_core::room_view::RoomView)
//! and the engine, writing what they send, and reconnecting with backoff until the session is
//! gone or this viewer was removed; plus the periodic health report for the operators' metrics.

use super::{now_ms, Inner, UiEvent};
use crate::protocol::{close, ClientMsg, ServerMsg, KEY_PROTOCOL_PREFIX, SUBPROTOCOL, WS_PATH};
use crate::sync::{Action, Backoff};
use futures::channel::mpsc::unbounded;
use futures::future::{select, Either};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use js_sys::{Object, Reflect};
use std::rc::Weak;
use wasm_bindgen::JsValue;

/// `ws://host/ws/{id}` (or `wss://` on https).
fn socket_url(session_id: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!(
        "{scheme}://{}{WS_PATH}{session_id}",
        location.host().ok()?
    ))
}

/// Connects, runs the connection, and reconnects with backoff until told to stop.
/// Every [`HEALTH_EVERY_MS`], reports this viewer's own sync error (the badge figure) to the
/// server's metrics (`health`; the server counts one per connection per 5 s).
pub(super) async fn health_loop(weak: Weak<Inner>) {
    loop {
        gloo_timers::future::TimeoutFuture::new(HEALTH_EVERY_MS).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let error_ms = inner.engine.borrow().stats().error_ms;
        if let Some(error_ms) = error_ms.filter(|e| e.is_finite()) {
            inner.send(&ClientMsg::Health { error_ms });
        }
    }
}

/// How often the client reports its sync error (the server counts one per 5 s).
const HEALTH_EVERY_MS: u32 = 10_000;

pub(super) async fn connect_loop(weak: Weak<Inner>) {
    let mut backoff = Backoff::new();
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let session_id = inner.session_id.clone();
        drop(inner);
        let outcome = match socket_url(&session_id) {
            Some(url) => {
                run_connection(
                    &weak,
                    &session_id,
                    &url,
                    &crate::client::session_key(&session_id),
                )
                .await
            }
            None => Outcome {
                greeted: false,
                code: None,
                by_host: false,
            },
        };
        let removed = outcome.code == Some(close::REMOVED);
        let mut final_ = removed
            || matches!(
                outcome.code,
                Some(close::UNKNOWN_SESSION | close::SESSION_ENDED)
            );
        if !final_ && !outcome.greeted {
            // The handshake failed (the browser only reports 1006, whatever the HTTP status):
            // ask whether the session still exists, so an ended party does not retry forever.
            if let Ok(None) = crate::api::get_session(session_id.clone()).await {
                final_ = true;
            }
        }
        let Some(inner) = weak.upgrade() else {
            return;
        };
        inner.out.borrow_mut().take();
        inner.socket.borrow_mut().take();
        inner.dispatch(Box::new(move |e, now, r| e.on_disconnect(now, final_, r)));
        if final_ {
            (inner.ui)(if removed {
                UiEvent::Removed
            } else if outcome.by_host {
                UiEvent::EndedByHost
            } else {
                UiEvent::Ended
            });
            inner.publish();
            return;
        }
        if outcome.greeted {
            backoff.reset();
        }
        // A server going away (restart/deploy) is back soon: retry quickly the first time.
        let jitter = js_sys::Math::random();
        let delay = backoff.next_delay(jitter);
        inner.engine.borrow_mut().on_connecting();
        inner.publish();
        drop(inner);
        gloo_timers::future::TimeoutFuture::new(delay as u32).await;
    }
}

struct Outcome {
    greeted: bool,
    code: Option<u16>,
    /// The close said a host ended the room (`close::ENDED_BY_HOST`).
    by_host: bool,
}

/// The socket the page opened before the app ran (`app/src/early.js`, `window.__wpEarlySocket`)
/// with the messages it received so far and their receive times, when it was opened for this
/// session with this key and is still connecting or open. Taken once: the object is removed and
/// marked taken, so the page's script no longer acts. A socket of the page's that does not
/// qualify is closed.
fn take_early_socket(
    session_id: &str,
    key: &str,
) -> Option<(web_sys::WebSocket, Vec<(String, f64)>)> {
    use wasm_bindgen::JsCast;
    let window = web_sys::window()?;
    let name = JsValue::from_str("__wpEarlySocket");
    let early = Reflect::get(&window, &name)
        .ok()
        .filter(|e| e.is_object())?;
    let _ = Reflect::delete_property(window.unchecked_ref::<Object>(), &name);
    let _ = Reflect::set(&early, &"taken".into(), &true.into());
    let ws = Reflect::get(&early, &"ws".into())
        .ok()?
        .dyn_into::<web_sys::WebSocket>()
        .ok()?;
    ws.set_onmessage(None);
    let text = |k: &str| {
        Reflect::get(&early, &k.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let ours =
        text("session").as_deref() == Some(session_id) && text("key").as_deref() == Some(key);
    if !ours || ws.ready_state() > web_sys::WebSocket::OPEN {
        let _ = ws.close();
        return None;
    }
    let queued = Reflect::get(&early, &"msgs".into())
        .ok()
        .and_then(|m| m.dyn_into::<js_sys::Array>().ok())
        .map(|msgs| {
            msgs.iter()
                .filter_map(|m| {
                    let m = m.dyn_into::<js_sys::Array>().ok()?;
                    Some((m.get(0).as_string()?, m.get(1).as_f64()?))
                })
                .collect()
        })
        .unwrap_or_default();
    Some((ws, queued))
}

/// One text message from the server. `received`: the receive time of a message the page's
/// socket received before the app adopted it (replayed without a player reading; the clock
/// burst it would start was the page's already, so its pings are not sent again). Returns
/// whether it was `hello`, `None` once the client is gone.
fn on_text(weak: &Weak<Inner>, text: &str, received: Option<f64>) -> Option<bool> {
    let Ok(msg) = serde_json::from_str::<ServerMsg>(text) else {
        return Some(false);
    };
    let hello = matches!(msg, ServerMsg::Hello { .. });
    let inner = weak.upgrade()?;
    let mut out = {
        let engine = inner.engine.borrow();
        inner.view.borrow_mut().on_message(msg, &engine)
    };
    let forward = out.forward.take();
    let check_reactions = out.check_reactions;
    inner.carry_out(out);
    if check_reactions {
        // Ahead of this viewer's video: arm the timer for its moment.
        if let Some(reading) = inner.reading(now_ms()) {
            inner.reactions_due(reading);
        }
    }
    let Some(msg) = forward else {
        return Some(hello);
    };
    match received {
        None => inner.dispatch(Box::new(move |e, now, r| e.on_message(now, msg, r))),
        Some(at) => inner.dispatch(Box::new(move |e, _, _| {
            let mut out = e.on_message(at, msg, None);
            out.retain(|a| !matches!(a, Action::Send(ClientMsg::Ping { .. })));
            out
        })),
    }
    Some(hello)
}

async fn run_connection(weak: &Weak<Inner>, session_id: &str, url: &str, key: &str) -> Outcome {
    let mut outcome = Outcome {
        greeted: false,
        code: None,
        by_host: false,
    };
    let (raw, replay) = match take_early_socket(session_id, key) {
        Some(early) => early,
        None => {
            // The private key travels only in the handshake, as a second subprotocol `k.<key>`.
            let protocols = js_sys::Array::of2(
                &SUBPROTOCOL.into(),
                &format!("{KEY_PROTOCOL_PREFIX}{key}").into(),
            );
            let Ok(raw) = web_sys::WebSocket::new_with_str_sequence(url, &protocols) else {
                return outcome;
            };
            (raw, Vec::new())
        }
    };
    let Ok(ws) = WebSocket::try_from(raw.clone()) else {
        return outcome;
    };
    let (tx, mut rx) = unbounded::<String>();
    {
        let Some(inner) = weak.upgrade() else {
            let _ = raw.close();
            return outcome;
        };
        *inner.socket.borrow_mut() = Some(raw.clone());
        *inner.out.borrow_mut() = Some(tx);
    }
    if !replay.is_empty() {
        // What the page's socket received, in order and at the times it came; then the state
        // is applied to the player as it is now (the page may have joined already).
        for (text, at) in &replay {
            match on_text(weak, text, Some(*at)) {
                Some(hello) => outcome.greeted |= hello,
                None => {
                    let _ = raw.close();
                    return outcome;
                }
            }
        }
        if let Some(inner) = weak.upgrade() {
            inner.dispatch(Box::new(|e, now, r| e.on_adopted(now, r)));
        }
    }
    let (mut write, mut read) = ws.split();
    let open = raw.clone();
    let writer = async move {
        while let Some(text) = rx.next().await {
            // A message queued after the server's close frame arrived (a removal, an end) is
            // dropped: sending on a closing socket only makes the browser log an error. The
            // state cannot change between this check and the send: gloo's sink is ready at once,
            // so both run in the same turn of the event loop.
            if open.ready_state() != web_sys::WebSocket::OPEN {
                break;
            }
            if write.send(Message::Text(text)).await.is_err() {
                break;
            }
        }
    };
    let greeted = &mut outcome.greeted;
    let reader = async move {
        while let Some(msg) = read.next().await {
            match msg {
                Ok(Message::Text(text)) => {
                    if on_text(weak, &text, None)? {
                        *greeted = true;
                    }
                }
                Ok(Message::Bytes(_)) => {}
                Err(WebSocketError::ConnectionClose(ev)) => {
                    return Some((ev.code, ev.reason == close::ENDED_BY_HOST))
                }
                Err(_) => {}
            }
        }
        None
    };
    let closed = match select(Box::pin(writer), Box::pin(reader)).await {
        Either::Left(_) => None,
        Either::Right((closed, _)) => closed,
    };
    let _ = raw.close();
    outcome.code = closed.map(|(code, _)| code);
    outcome.by_host = closed.is_some_and(|(_, by_host)| by_host);
    outcome
}
