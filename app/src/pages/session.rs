//! Session page: the player, share link, viewers and sync badge.
//!
//! Server-rendered with the session's state (a blocking resource, so the first paint already
//! knows the video and position; unknown sessions render the 404 page with status 404). After
//! hydration a [`crate::client::SyncClient`] takes over: it creates the YouTube player in
//! `#player`, connects the WebSocket and keeps this viewer in sync, pushing what to show into the
//! signals of [`SyncUi`]. The hooks of docs/test-hooks.md live here.
//!
//! Hosts (issue 13): the viewer's public id comes with `hello`, the room's rights with every
//! state; while only hosts control the room, a viewer who is none sees the page's playback,
//! video and queue controls disabled, and the runtime undoes what they do in the player.

use crate::api::{get_session, SessionView};
use crate::chat::{ChatLine, Reaction};
use crate::ids::SessionId;
use crate::pages::chat::{ChatPanel, ReactionBar, ReactionOverlay};
use crate::pages::host::{HostPanel, CONTROL_HINT};
use crate::pages::roster::RosterPanel;
use crate::pages::{Ask, NotFound};
use crate::queue::{thumbnail_url, ItemId, Queue, QueueEdit};
use crate::rights::{Kid, Rights};
use crate::sync::{RateControl, SyncStats};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The session page.
#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let session = Resource::new_blocking(id, |id| async move { get_session(id).await });
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the watch party…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(v)) => view! { <Session view=v/> }.into_any(),
                    Ok(None) => view! { <NotFound/> }.into_any(),
                    Err(_) => view! { <Unavailable/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Shown when the store cannot be reached.
#[component]
fn Unavailable() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::set_status(http::StatusCode::SERVICE_UNAVAILABLE);
    view! {
        <section class="card not-found">
            <h1>"Temporarily unavailable"</h1>
            <p>"The watch party could not be loaded right now. Please try again in a moment."</p>
        </section>
    }
}

/// What the sync client shows on the page.
#[derive(Clone, Copy)]
struct SyncUi {
    stats: RwSignal<SyncStats>,
    viewers: RwSignal<u32>,
    show_join: RwSignal<bool>,
    player_error: RwSignal<Option<String>>,
    /// The room's current video id and, once the player knows it, its title.
    video: RwSignal<(String, Option<String>)>,
    /// The room's queue.
    queue: RwSignal<Queue>,
    /// The last refused room request (queue edit, play now).
    room_error: RwSignal<Option<String>>,
    /// The latest notices, newest first (at most `room_view::MAX_NOTICES`).
    notices: RwSignal<Vec<(u64, String)>>,
    /// Who is here.
    roster: RwSignal<crate::roster::Roster>,
    /// This viewer's public id (from `hello`).
    kid: RwSignal<Option<Kid>>,
    /// The room's rights.
    rights: RwSignal<Rights>,
    /// A host removed this viewer (final).
    removed: RwSignal<bool>,
    /// "Only hosts control" shown after an undone change (a number per showing).
    control_notice: RwSignal<Option<u64>>,
    /// The last refused host request.
    host_error: RwSignal<Option<String>>,
    /// The chat, oldest first (at most `room_view::MAX_LINES`).
    chat: RwSignal<Vec<ChatLine>>,
    /// The last refused chat line or reaction.
    chat_error: RwSignal<Option<String>>,
    /// Reactions floating over the player now.
    floats: RwSignal<Vec<(u64, Reaction)>>,
}

/// How long "Only hosts control playback" stays after an undone change (ms).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const CONTROL_NOTICE_MS: u32 = 5_000;

/// A room request from the page (read only by the browser build).
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum RoomReq {
    /// A queue edit.
    Edit(QueueEdit),
    /// Play a queued item now.
    PlayNow(ItemId),
}

/// The full URL of a session, as the server sees the request (the client corrects it to
/// `location.origin` after hydration).
fn share_url(id: &SessionId) -> String {
    #[cfg(feature = "ssr")]
    {
        if let Some(parts) = use_context::<http::request::Parts>() {
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    !h.is_empty()
                        && h.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
                });
            let https = parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|h| h.to_str().ok())
                .is_some_and(|p| p.eq_ignore_ascii_case("https"));
            if let Some(host) = host {
                let scheme = if https { "https" } else { "http" };
                return format!("{scheme}://{host}/s/{id}");
            }
        }
    }
    format!("/s/{id}")
}

/// Why a rate-locked viewer may be a frame behind (the badge's tooltip).
const LOCKED_HINT: &str = "Your player ignores playback-rate changes, so sync corrects it with \
     small seeks only: it may stay up to about a frame (20 ms) from the others.";

/// The badge's short text.
fn badge_label(s: &SyncStats) -> String {
    match s.status {
        "live" => {
            let live = match s.error_ms {
                Some(e) if e.abs() >= 1_000.0 => format!("Live · {:+.1} s", e / 1000.0),
                Some(e) => format!("Live · {:+.0} ms", e),
                None => "Live".to_owned(),
            };
            if s.rate_control == RateControl::Locked {
                live + " · rate-locked"
            } else {
                live
            }
        }
        "reconnecting" => "Reconnecting…".to_owned(),
        "offline" => "Offline".to_owned(),
        _ => "Connecting…".to_owned(),
    }
}

/// The page of one session.
#[component]
fn Session(view: SessionView) -> impl IntoView {
    // Where the room is at the state's read: the sync stats start there, and the page's early
    // player starts at its whole seconds (as the app would: yt.rs floors `start`).
    let start_position = view.state.position_at(view.server_time);
    let start_video = view.state.video_id.to_string();
    let start_second = (start_position.max(0.0) as u64).to_string();
    let ui = SyncUi {
        stats: RwSignal::new(SyncStats {
            target_position: start_position,
            revision: view.state.revision,
            ..SyncStats::default()
        }),
        viewers: RwSignal::new(view.viewers),
        show_join: RwSignal::new(false),
        player_error: RwSignal::new(None),
        video: RwSignal::new((view.state.video_id.to_string(), None)),
        queue: RwSignal::new(view.state.queue.clone()),
        room_error: RwSignal::new(None),
        notices: RwSignal::new(Vec::new()),
        roster: RwSignal::new(crate::roster::Roster::default()),
        kid: RwSignal::new(None),
        rights: RwSignal::new(view.state.rights.clone()),
        removed: RwSignal::new(false),
        control_notice: RwSignal::new(None),
        host_error: RwSignal::new(None),
        chat: RwSignal::new(Vec::new()),
        chat_error: RwSignal::new(None),
        floats: RwSignal::new(Vec::new()),
    };
    #[cfg(feature = "hydrate")]
    let float_keys = StoredValue::new(0u64);
    let host_link = RwSignal::new(None::<String>);
    let is_host = Signal::derive(move || {
        ui.kid
            .with(|k| k.as_ref().is_some_and(|k| ui.rights.with(|r| r.is_host(k))))
    });
    let is_owner = Signal::derive(move || {
        ui.kid.with(|k| {
            k.as_ref()
                .is_some_and(|k| ui.rights.with(|r| r.is_owner(k)))
        })
    });
    let may_control = Signal::derive(move || {
        ui.kid.with(|k| {
            ui.rights.with(|r| match k {
                Some(k) => r.may_control(k),
                None => !r.locked,
            })
        })
    });
    let my_kid = Signal::derive(move || ui.kid.get());
    let my_name = RwSignal::new(None::<String>);
    let ended = RwSignal::new(false);
    let share = RwSignal::new(share_url(&view.id));
    let copied = RwSignal::new(None::<bool>);
    // The browser has a system share sheet (known after hydration; the server renders "Copy").
    let can_share = RwSignal::new(false);
    // The badge's details: opened and closed by a tap or click (or Enter/Space), closed by
    // Escape. Not by `:focus`: a tap does not reliably focus a non-control on every phone, and
    // a focus that sticks would keep them open.
    let details_open = RwSignal::new(false);
    let toggle_details = move || details_open.update(|o| *o = !*o);
    // The running client lives only in the browser (a thread-local value must never be created
    // on the multi-threaded server).
    #[cfg(feature = "hydrate")]
    let client: StoredValue<Option<crate::client::SyncClient>, LocalStorage> =
        StoredValue::new_local(None);

    #[cfg(feature = "hydrate")]
    {
        use crate::client::{SyncClient, UiEvent};
        use std::rc::Rc;
        let id = view.id.clone();
        let started = view.clone();
        Effect::new(move |prev: Option<()>| {
            if prev.is_some() {
                return;
            }
            // A host secret in the address (after creating, or a host link) is kept by this
            // browser and removed from the address before anything else reads it.
            crate::client::take_host_fragment(id.as_str());
            can_share.set(crate::client::can_share());
            if let Some(origin) = crate::client::origin() {
                share.set(format!("{origin}/s/{id}"));
                if let Some(secret) = crate::client::host_secret(id.as_str()) {
                    host_link.set(Some(format!("{origin}/s/{id}#host={secret}")));
                }
            }
            let sink: Rc<dyn Fn(UiEvent)> = Rc::new(move |ev| match ev {
                UiEvent::Stats(s) => {
                    if s.viewers > 0 && ui.viewers.get_untracked() != s.viewers {
                        ui.viewers.set(s.viewers);
                    }
                    ui.stats.set(s);
                }
                UiEvent::ShowJoin(b) => ui.show_join.set(b),
                UiEvent::PlayerError(e) => {
                    if ui.player_error.get_untracked() != e {
                        ui.player_error.set(e);
                    }
                }
                UiEvent::Video(id, title) => ui.video.set((id, title)),
                UiEvent::Queue(q) => ui.queue.set(q),
                UiEvent::RoomError(m) => ui.room_error.set(Some(m)),
                UiEvent::Ended => ended.set(true),
                UiEvent::Roster(r) => ui.roster.set(r),
                UiEvent::Notices(n) => ui.notices.set(n),
                UiEvent::Kid(k) => ui.kid.set(k),
                UiEvent::Rights(r) => ui.rights.set(r),
                UiEvent::Removed => ui.removed.set(true),
                UiEvent::ControlRefused => {
                    let n = ui.control_notice.get_untracked().map_or(0, |n| n + 1);
                    ui.control_notice.set(Some(n));
                    crate::pages::chat::after(CONTROL_NOTICE_MS, move || {
                        if ui.control_notice.try_get_untracked() == Some(Some(n)) {
                            let _ = ui.control_notice.try_set(None);
                        }
                    });
                }
                UiEvent::HostError(m) => crate::pages::chat::flash(ui.host_error, m),
                UiEvent::Chat(lines) => ui.chat.set(lines),
                UiEvent::ChatError(m) => crate::pages::chat::flash(ui.chat_error, m),
                UiEvent::Reactions(rs) => crate::pages::chat::float(ui.floats, float_keys, rs),
            });
            let c = SyncClient::start(&started, sink);
            let name = crate::client::stored_name();
            c.set_name(name.clone());
            my_name.set(Some(name));
            client.set_value(Some(c));
        });
        on_cleanup(move || {
            // Destroys the player, closes the socket, stops the timers.
            client.set_value(None);
        });
    }

    let copy = move |_| {
        let url = share.get_untracked();
        if can_share.get_untracked() {
            let title = ui
                .video
                .with(|(id, t)| format!("Watch party · {}", t.as_deref().unwrap_or(id.as_str())));
            super::share_or_copy(url, title, "share-link", copied);
        } else {
            super::copy_with_feedback(url, "share-link", copied);
        }
    };
    let join = move |_| {
        #[cfg(feature = "hydrate")]
        client.with_value(|c| {
            if let Some(c) = c {
                c.join();
            }
        });
    };

    let stats = ui.stats;
    let status = move || stats.with(|s| s.status);
    let error_attr = move || {
        stats.with(|s| {
            s.error_ms
                .filter(|_| s.status != "connecting")
                .map(|e| format!("{}", e.round() as i64))
        })
    };
    let label = move || stats.with(badge_label);
    let count = move || ui.viewers.get();
    let title = move || {
        ui.video.with(|(id, title)| match title {
            Some(t) => format!("Watch party · {t}"),
            None => format!("Watch party · {id}"),
        })
    };
    // The server renders the title as it is now, not as a closure over a signal: Leptos' meta
    // injection reads it outside this page's reactive scope (after the render, on whatever
    // thread the request resumed on), where a signal read hits another page's arena or none
    // ("no Arena is active": a panic). In the browser it follows the video's title.
    let title: leptos::text_prop::TextProp = if cfg!(feature = "ssr") {
        title().into()
    } else {
        title.into()
    };
    let change_video = move |cmd: crate::playback::Command| {
        #[cfg(feature = "hydrate")]
        client.with_value(|c| {
            if let Some(c) = c {
                c.request(cmd);
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = cmd;
    };

    let rename = move |name: String| {
        my_name.set(Some(name.clone()));
        #[cfg(feature = "hydrate")]
        {
            crate::client::remember_name(&name);
            client.with_value(|c| {
                if let Some(c) = c {
                    c.set_name(name);
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = name;
    };
    let ask = move |a: Ask| {
        #[cfg(feature = "hydrate")]
        client.with_value(|c| {
            let Some(c) = c else {
                return;
            };
            match a {
                Ask::Chat(text) => c.chat(text),
                Ask::DeleteChat(id) => c.delete_chat(id),
                Ask::React(emoji) => c.react(emoji),
                Ask::Seek(position) => c.request(crate::playback::Command::Seek { position }),
                Ask::Host(cmd) => c.host(cmd),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = a;
    };
    let room = move |req: RoomReq| {
        ui.room_error.set(None);
        #[cfg(feature = "hydrate")]
        client.with_value(|c| {
            if let Some(c) = c {
                c.room(move |seq, base_revision| match req {
                    RoomReq::Edit(edit) => crate::protocol::ClientMsg::Queue { seq, edit },
                    RoomReq::PlayNow(item) => crate::protocol::ClientMsg::PlayNow {
                        seq,
                        base_revision,
                        item,
                    },
                });
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = req;
    };

    view! {
        <Title text=title/>
        <Show when=move || ended.get()>
            <div class="ended" role="alert" data-testid="session-ended">
                <p>"This watch party has ended."</p>
                <a href="/" rel="external">"Start a new watch party"</a>
            </div>
        </Show>
        <div class="ended" role="alert" data-testid="session-removed" hidden=move || !ui.removed.get()>
            <p>"A host removed you from this watch party."</p>
            <a href="/" rel="external">"Start a new watch party"</a>
        </div>
        <section class="session">
            <div class="stage">
                <div class="player-frame">
                    // No children: the player goes into a child the page (or the app) adds,
                    // possibly before hydration (`EARLY_PLAYER` in ssr.rs); the text
                    // "Loading the player…" is the stylesheet's, shown while it is empty.
                    <div
                        id="player"
                        class="player-placeholder"
                        data-video=start_video
                        data-start=start_second
                    ></div>
                    <Show when=move || ui.show_join.get()>
                        <div class="join-overlay">
                            <button class="join" type="button" data-testid="join-playback" on:click=join>
                                "▶ Join playback"
                            </button>
                            <p class="hint">"Your browser paused the video until you click."</p>
                        </div>
                    </Show>
                    <ReactionOverlay floats=ui.floats/>
                </div>
                <p
                    class="control-notice"
                    role="status"
                    data-testid="control-notice"
                    hidden=move || ui.control_notice.with(|n| n.is_none())
                >
                    {CONTROL_HINT}
                </p>
                <ReactionBar on_ask=ask/>
                <Show when=move || ui.player_error.with(|e| e.is_some())>
                    <p class="player-error error" role="alert" data-testid="player-error">
                        {move || ui.player_error.get().unwrap_or_default()}
                    </p>
                </Show>
                <ChatPanel
                    lines=ui.chat
                    error=ui.chat_error
                    is_host=is_host
                    may_control=may_control
                    video=ui.video
                    on_ask=ask
                />
            </div>
            <aside class="panel">
                <HostPanel
                        visible=is_host
                        rights=ui.rights
                        is_owner=is_owner
                        host_link=host_link
                        error=ui.host_error
                        on_ask=ask
                    />
                <p class="hint control-hint" data-testid="control-hint" hidden=move || may_control.get()>
                    {CONTROL_HINT} "."
                </p>
                <NameField name=my_name on_rename=rename/>
                <NowPlaying video=ui.video/>
            <ol class="notices" data-testid="notices" aria-live="polite">
                <For
                    each=move || ui.notices.get()
                    key=|(id, _)| *id
                    children=|(_, text)| view! { <li data-testid="notice">{text}</li> }
                />
            </ol>
                <ChangeVideo on_change=change_video may_control=may_control/>
                <div class="share field">
                    <label for="share-link">"Invite people with this link"</label>
                    <div class="share-row">
                        <input
                            id="share-link"
                            type="text"
                            readonly
                            data-testid="share-link"
                            value=move || share.get()
                            prop:value=move || share.get()
                            on:focus=|ev| {
                                #[cfg(feature = "hydrate")]
                                {
                                    use wasm_bindgen::JsCast;
                                    if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                        input.select();
                                    }
                                }
                                #[cfg(not(feature = "hydrate"))]
                                let _ = ev;
                            }
                        />
                        <button
                            type="button"
                            class="copy"
                            data-testid="copy-link"
                            data-action=move || if can_share.get() { "share" } else { "copy" }
                            on:click=copy
                        >
                            {move || match copied.get() {
                                Some(true) => "Copied!",
                                Some(false) => "Press Ctrl+C",
                                None if can_share.get() => "Share",
                                None => "Copy",
                            }}
                        </button>
                    </div>
                </div>
                <div class="status-row">
                    <span class="viewers" data-testid="viewer-count" data-count=move || count().to_string()>
                        <span class="viewers-number">{count}</span>
                        " watching"
                    </span>
                    <div
                        class="sync-badge"
                        class:open=move || details_open.get()
                        tabindex="0"
                        role="button"
                        aria-expanded=move || if details_open.get() { "true" } else { "false" }
                        on:click=move |_| toggle_details()
                        on:keydown=move |ev| match ev.key().as_str() {
                            "Enter" | " " => {
                                ev.prevent_default();
                                toggle_details();
                            }
                            "Escape" => details_open.set(false),
                            _ => {}
                        }
                        data-testid="sync-badge"
                        data-status=status
                        data-error-ms=error_attr
                        data-rate-control=move || stats.with(|s| s.rate_control.as_str())
                        title=move || stats.with(|s| (s.rate_control == RateControl::Locked).then_some(LOCKED_HINT))
                        aria-label=move || format!("Sync status: {}", label())
                    >
                        <span class="dot" aria-hidden="true"></span>
                        <span class="badge-label">{label}</span>
                        <dl class="sync-details">
                            <dt>"Distance from session"</dt>
                            <dd>{move || stats.with(|s| s.error_ms.map(|e| format!("{e:+.1} ms")).unwrap_or_else(|| "–".into()))}</dd>
                            <dt>"Clock offset"</dt>
                            <dd>{move || stats.with(|s| format!("{:.1} ms", s.offset_ms))}</dd>
                            <dt>"Round trip"</dt>
                            <dd>{move || stats.with(|s| format!("{:.1} ms", s.rtt_ms))}</dd>
                            <dt>"Corrective seeks"</dt>
                            <dd>{move || stats.with(|s| s.corrective_seeks.to_string())}</dd>
                            <dt>"Rate nudges"</dt>
                            <dd>{move || stats.with(|s| s.rate_nudges.to_string())}</dd>
                            <dt>"Seek latency"</dt>
                            <dd>{move || stats.with(|s| format!("{:.0} ms", s.seek_latency_ms))}</dd>
                            <dt>"Revision"</dt>
                            <dd>{move || stats.with(|s| s.revision.to_string())}</dd>
                        </dl>
                    </div>
                </div>
                <p class="hint">
                    "Play, pause and seek in the player: everyone follows. Late joiners land where the party is."
                </p>
            </aside>
            <QueuePanel queue=ui.queue error=ui.room_error on_room=room may_control=may_control/>
            <RosterPanel
                roster=ui.roster
                viewers=ui.viewers
                me=Signal::from(Memo::new(move |_| stats.with(|s| s.conn_id)))
                rights=ui.rights
                my_kid=my_kid
                on_ask=ask
            />
        </section>
    }
}

/// The room's current video: its title once the player knows it, else its id.
#[component]
fn NowPlaying(video: RwSignal<(String, Option<String>)>) -> impl IntoView {
    let id = move || video.with(|(id, _)| id.clone());
    let label = move || video.with(|(id, title)| title.clone().unwrap_or_else(|| id.clone()));
    view! {
        <p class="now-playing" data-testid="now-playing" data-video-id=id>
            <span class="now-playing-label">"Now playing: "</span>
            // Titles come from YouTube: rendered as text, never as HTML.
            <span class="now-playing-title">{label}</span>
        </p>
    }
}

/// "Change the video": any YouTube link or id, through the same parser as the home page
/// (`t=`/`start=` honoured). The whole room switches.
#[component]
fn ChangeVideo<F>(on_change: F, may_control: Signal<bool>) -> impl IntoView
where
    F: Fn(crate::playback::Command) + Copy + Send + Sync + 'static,
{
    use crate::video::parse_video_input;
    let input = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match parse_video_input(&input.get_untracked()) {
            Ok(v) => {
                error.set(None);
                input.set(String::new());
                on_change(crate::playback::Command::Video {
                    video_id: v.id,
                    position: v.start,
                });
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    view! {
        <form class="change-video field" data-testid="video-change-form" on:submit=submit>
            <label for="video-change-input">"Change the video for everyone"</label>
            <div class="share-row">
                <input
                    id="video-change-input"
                    type="text"
                    autocomplete="off"
                    placeholder="YouTube link or video id"
                    data-testid="video-change-input"
                    maxlength="2048"
                    disabled=move || !may_control.get()
                    prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                />
                <button type="submit" data-testid="video-change-submit" disabled=move || !may_control.get()>"Play"</button>
            </div>
            <Show when=move || error.with(|e| e.is_some())>
                <p class="error" role="alert" data-testid="video-change-error">
                    {move || error.get().unwrap_or_default()}
                </p>
            </Show>
        </form>
    }
}

/// The shared queue: add (any link or id), and per item play now, play next, up, down,
/// remove. Items are named by id in every edit, so concurrent edits all land.
#[component]
fn QueuePanel<F>(
    queue: RwSignal<Queue>,
    error: RwSignal<Option<String>>,
    on_room: F,
    may_control: Signal<bool>,
) -> impl IntoView
where
    F: Fn(RoomReq) + Copy + Send + Sync + 'static,
{
    use crate::video::parse_video_input;
    let input = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match parse_video_input(&input.get_untracked()) {
            Ok(v) => {
                input.set(String::new());
                on_room(RoomReq::Edit(QueueEdit::Add {
                    video_id: v.id,
                    start: v.start,
                }));
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    // Rows are keyed by item id only: a row is never re-created while it stays in the queue,
    // so a click on it cannot be lost to another viewer's concurrent edit (a row replaced
    // between mousedown and mouseup gets no click). Its neighbours (for up/down) and its title
    // are read reactively, at click time from the newest queue.
    let rows = move || queue.with(|q| q.items.clone());
    let neighbours = move |id: ItemId| {
        queue.with(|q| {
            let n = q.items.iter().position(|i| i.id == id)?;
            let prev = n.checked_sub(1).map(|p| q.items[p].id);
            let next = q.items.get(n + 1).map(|i| i.id);
            Some((prev, next))
        })
    };
    let prev_of = move |id: ItemId| neighbours(id).and_then(|(p, _)| p);
    let next_of = move |id: ItemId| neighbours(id).and_then(|(_, n)| n);
    let count = move || queue.with(|q| q.items.len());
    view! {
        <section class="queue panel" data-testid="queue" data-count=move || count().to_string()>
            <h2 class="queue-heading">"Up next"</h2>
            <form class="queue-add field" on:submit=submit>
                <label for="queue-add-input">"Add a video to the queue"</label>
                <div class="share-row">
                    <input
                        id="queue-add-input"
                        type="text"
                        autocomplete="off"
                        placeholder="YouTube link or video id"
                        data-testid="queue-add-input"
                        maxlength="2048"
                        disabled=move || !may_control.get()
                        prop:value=move || input.get()
                        on:input=move |ev| input.set(event_target_value(&ev))
                    />
                    <button type="submit" data-testid="queue-add-submit" disabled=move || !may_control.get()>"Add"</button>
                </div>
            </form>
            <Show when=move || error.with(|e| e.is_some())>
                <p class="error" role="alert" data-testid="queue-error">
                    {move || error.get().unwrap_or_default()}
                </p>
            </Show>
            <Show when=move || count() == 0>
                <p class="hint" data-testid="queue-empty">
                    "The queue is empty: when this video ends, the party ends."
                </p>
            </Show>
            <ol class="queue-items">
                <For
                    each=rows
                    key=|item: &crate::queue::QueueItem| item.id
                    children=move |item: crate::queue::QueueItem| {
                        let id = item.id;
                        let video = item.video_id.to_string();
                        let label = move || {
                            queue.with(|q| {
                                q.items
                                    .iter()
                                    .find(|i| i.id == id)
                                    .and_then(|i| i.title.clone())
                                    .unwrap_or_else(|| video.clone())
                            })
                        };
                        let edit = move |e: QueueEdit| on_room(RoomReq::Edit(e));
                        view! {
                            <li
                                class="queue-item"
                                data-testid="queue-item"
                                data-item-id=id.0.to_string()
                                data-video-id=item.video_id.to_string()
                            >
                                <img
                                    class="thumb"
                                    src=thumbnail_url(&item.video_id)
                                    alt=""
                                    width="120"
                                    height="68"
                                    loading="lazy"
                                />
                                // Titles come from YouTube: rendered as text, never as HTML.
                                <span class="queue-title" data-testid="queue-title">{label}</span>
                                <div class="queue-actions">
                                    <button type="button" data-testid="queue-play-now" title="Play now"
                                        disabled=move || !may_control.get()
                                        on:click=move |_| on_room(RoomReq::PlayNow(id))>"▶"</button>
                                    <button type="button" data-testid="queue-play-next" title="Play next"
                                        disabled=move || prev_of(id).is_none() || !may_control.get()
                                        on:click=move |_| edit(QueueEdit::PlayNext { item: id })>"⤒"</button>
                                    <button type="button" data-testid="queue-up" title="Move up"
                                        disabled=move || prev_of(id).is_none() || !may_control.get()
                                        on:click=move |_| {
                                            if let Some(p) = prev_of(id) {
                                                edit(QueueEdit::Move { item: id, before: Some(p) });
                                            }
                                        }>"↑"</button>
                                    <button type="button" data-testid="queue-down" title="Move down"
                                        disabled=move || next_of(id).is_none() || !may_control.get()
                                        on:click=move |_| {
                                            if let Some(n) = next_of(id) {
                                                edit(QueueEdit::Move { item: n, before: Some(id) });
                                            }
                                        }>"↓"</button>
                                    <button type="button" data-testid="queue-remove" title="Remove"
                                        disabled=move || !may_control.get()
                                        on:click=move |_| edit(QueueEdit::Remove { item: id })>"✕"</button>
                                </div>
                            </li>
                        }
                    }
                />
            </ol>
        </section>
    }
}

/// This viewer's display name: generated on the first visit, editable, remembered by the
/// browser (`localStorage`), validated like the server does.
#[component]
fn NameField<F>(name: RwSignal<Option<String>>, on_rename: F) -> impl IntoView
where
    F: Fn(String) + Copy + Send + Sync + 'static,
{
    use crate::names::{validate_name, MAX_NAME_CHARS};
    let input = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match validate_name(&input.get_untracked(), MAX_NAME_CHARS) {
            Ok(n) => {
                error.set(None);
                input.set(String::new());
                on_rename(n);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    view! {
        <form class="name-field field" on:submit=submit>
            <label for="name-input">
                "You are "
                <strong data-testid="my-name">{move || name.get().unwrap_or_default()}</strong>
            </label>
            <div class="share-row">
                <input
                    id="name-input"
                    type="text"
                    autocomplete="nickname"
                    placeholder="Change your name"
                    data-testid="name-input"
                    maxlength="64"
                    prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                />
                <button type="submit" data-testid="name-save">"Rename"</button>
            </div>
            <Show when=move || error.with(|e| e.is_some())>
                <p class="error" role="alert" data-testid="name-error">
                    {move || error.get().unwrap_or_default()}
                </p>
            </Show>
        </form>
    }
}
