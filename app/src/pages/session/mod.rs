//! Session page: the player, share link, viewers and sync badge.
//!
//! Server-rendered with the session's state (a blocking resource, so the first paint already
//! knows the video and position; unknown sessions render the 404 page with status 404). After
//! hydration a [`crate::client::SyncClient`] takes over ([`client::Client`]): it creates the
//! YouTube player in `#player`, connects the WebSocket and keeps this viewer in sync, pushing
//! what to show into the page's one store ([`state::Page`]). The page is split into components
//! that each take the store fields they show: [`stage`] (player, reactions, banners), the chat
//! and host panels ([`super::chat`], [`super::host`]), [`panel`] (name, now playing, notices,
//! change the video, invite, badge), [`queue`] and the roster ([`super::roster`]). The hooks of
//! docs/test-hooks.md live in them.
//!
//! Layout (issue 29): the stage (player, its buttons, reactions, the sync badge) and one tabbed
//! panel ([`tabs`]: Chat · Queue · People · Room), beside the player on wide screens, under it
//! on phones, where the player sticks to the top while the panel scrolls under it. Full screen
//! and theater mode are [`screen`]'s.
//!
//! Hosts (issue 13): the viewer's public id comes with `hello`, the room's rights with every
//! state; while only hosts control the room, a viewer who is none sees the page's playback,
//! video and queue controls disabled, and the runtime undoes what they do in the player.

mod client;
mod hold;
mod panel;
mod queue;
mod screen;
mod stage;
mod state;
mod tabs;
pub(super) mod together;

use crate::api::{get_session, SessionView};
use crate::i18n::{t_string, tr, use_i18n, I18n};
use crate::ids::SessionId;
use crate::lang::fill;
use crate::pages::chat::ChatPanel;
use crate::pages::host::HostPanel;
use crate::pages::keep::KeepRoom;
use crate::pages::roster::RosterPanel;
use crate::pages::NotFound;
use client::{Client, RoomReq};
use hold::HoldBanner;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use panel::{Announcer, ChangeVideo, Invite, NameField, Notices, NowPlaying, StatusRow};
use queue::QueuePanel;
use reactive_stores::Store;
use screen::{ScreenButtons, VideoOverlay};
use stage::{Banners, PlayerArea, PlayerStart};
use state::{Page, PageStoreFields, Roles};
use tabs::{Tab, TabList, TabPanel};
use together::{ReadyBar, SkipVote, TogetherHost};

/// The session page.
#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let session = Resource::new_blocking(id, |id| async move { get_session(id).await });
    let i18n = use_i18n();
    view! {
        <Suspense fallback=move || view! { <p class="loading">{tr!(i18n, session.loading)}</p> }>
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
    let i18n = use_i18n();
    view! {
        <section class="card not-found">
            <h1>{tr!(i18n, session.unavailable.title)}</h1>
            <p>{tr!(i18n, session.unavailable.text)}</p>
        </section>
    }
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

/// The page's title: "Watch party · " and the video's title (else its id).
fn page_title(page: Store<Page>, i18n: I18n) -> leptos::text_prop::TextProp {
    let video = page.video();
    let title = move || {
        video.with(|(id, title)| {
            fill(
                t_string!(i18n, session.title),
                &[("title", title.as_deref().unwrap_or(id))],
            )
        })
    };
    // The server renders the title as it is now, not as a closure over a signal: Leptos' meta
    // injection reads it outside this page's reactive scope (after the render, on whatever
    // thread the request resumed on), where a signal read hits another page's arena or none
    // ("no Arena is active": a panic). In the browser it follows the video's title.
    if cfg!(feature = "ssr") {
        title().into()
    } else {
        title.into()
    }
}

/// The page of one session.
#[component]
fn Session(view: SessionView) -> impl IntoView {
    // Where the room is at the state's read: the page's early player starts at its whole
    // seconds (as the app would: yt.rs floors `start`).
    let start = PlayerStart {
        video: view.state.video_id.to_string(),
        second: (view.state.position_at(view.server_time).max(0.0) as u64).to_string(),
    };
    let page = Store::new(Page::new(&view, share_url(&view.id)));
    let roles = Roles::of(page);
    let client = Client::start(view, page);
    let ask = move |a| client.ask(a);
    let my_kid = Signal::derive(move || page.kid().get());
    let stats = page.stats();
    let me = Signal::from(Memo::new(move |_| stats.with(|s| s.conn_id)));
    let may_control = roles.may_control;
    let tab = page.tab();
    let frame = NodeRef::<leptos::html::Div>::new();
    let badges = tab_badges(page);
    let i18n = use_i18n();
    view! {
        <Title text=page_title(page, i18n)/>
        <h1 class="sr-only" data-testid="session-title">{heading(page, i18n)}</h1>
        <Banners ended=page.ended().into() by_host=page.ended_by_host().into() removed=page.removed().into()/>
        <section class="session" class:theater=move || page.theater().get() data-testid="session">
            <div class="stage">
                <HoldBanner
                    hold=page.hold().into()
                    roster=page.roster().into()
                    may_control=may_control
                    on_start=move |r| client.room(RoomReq::StartNow(r))
                />
                <ReadyBar
                    ready_skip=page.ready_skip().into()
                    tally=together::tally(page.ready_skip().into(), page.rights().into(), page.roster().into(), page.viewers().into())
                    my_kid=my_kid
                    is_host=roles.is_host
                    position=Signal::derive(move || stats.with(|s| s.target_position))
                    client=client
                />
                <PlayerArea
                    start=start
                    show_join=page.show_join().into()
                    floats=page.floats().into()
                    control_notice=page.control_notice().into()
                    player_error=page.player_error().into()
                    client=client
                    frame=frame
                    screen=page.screen().into()
                >
                    <VideoOverlay
                        lines=page.chat().into()
                        notices=page.notices().into()
                        error=page.chat_error().into()
                        screen=page.screen().into()
                        on_ask=ask
                    />
                </PlayerArea>
                <div class="player-bar">
                    <StatusRow viewers=page.viewers().into() stats=stats.into()/>
                    <ScreenButtons frame=frame screen=page.screen().into() theater=page.theater().into()/>
                </div>
                <Announcer notices=page.notices().into() stats=stats.into() roster=page.roster().into()/>
            </div>
            <div class="side">
                <TabList tab=tab.into() badges=badges/>
                <TabPanel tab=tab.into() of=Tab::Chat>
                    <ChatPanel
                        lines=page.chat().into()
                        error=page.chat_error().into()
                        is_host=roles.is_host
                        may_control=may_control
                        video=page.video().into()
                        on_ask=ask
                    />
                </TabPanel>
                <TabPanel tab=tab.into() of=Tab::Queue>
                    <QueuePanel queue=page.queue().into() error=page.room_error().into() client=client may_control=may_control/>
                </TabPanel>
                <TabPanel tab=tab.into() of=Tab::People>
                    <RosterPanel
                        roster=page.roster().into()
                        viewers=page.viewers().into()
                        me=me
                        rights=page.rights().into()
                        my_kid=my_kid
                        ready_skip=page.ready_skip().into()
                        on_ask=ask
                    />
                </TabPanel>
                <TabPanel tab=tab.into() of=Tab::Room>
                    <section class="panel room" data-testid="room" aria-label=tr!(i18n, session.tabs.room)>
                        <NowPlaying video=page.video().into()/>
                        <SkipVote
                            settings=page.settings().into()
                            ready_skip=page.ready_skip().into()
                            queue=page.queue().into()
                            viewers=page.viewers().into()
                            my_kid=my_kid
                            is_host=roles.is_host
                            client=client
                        />
                        <Notices notices=page.notices().into()/>
                        <p class="hint control-hint" data-testid="control-hint" hidden=move || may_control.get()>
                            {tr!(i18n, host.control_hint)} "."
                        </p>
                        <ChangeVideo client=client may_control=may_control/>
                        <Invite share=page.share().into() can_share=page.can_share().into() video=page.video().into()/>
                        <NameField name=page.my_name().into() client=client/>
                        <HostPanel
                            visible=roles.is_host
                            rights=page.rights().into()
                            is_owner=roles.is_owner
                            host_link=page.host_link().into()
                            error=page.host_error().into()
                            on_ask=ask
                        />
                        <KeepRoom
                            visible=roles.is_owner
                            permanent=page.permanent().into()
                            on_ask=move |a| client.keep(a)
                        />
                        <TogetherHost
                            visible=roles.is_host
                            settings=page.settings().into()
                            ready_skip=page.ready_skip().into()
                            queue=page.queue().into()
                            client=client
                        />
                        <p class="hint">{tr!(i18n, session.how)}</p>
                    </section>
                </TabPanel>
            </div>
        </section>
    }
}

/// The page's one heading (read by screen readers; the page shows the video's title in the
/// room tab): "Watch party: " and the video's title, else its id.
fn heading(page: Store<Page>, i18n: I18n) -> impl Fn() -> String + Send + Sync + Copy + 'static {
    let video = page.video();
    move || {
        video.with(|(id, title)| {
            fill(
                t_string!(i18n, session.heading),
                &[("title", title.as_deref().unwrap_or(id))],
            )
        })
    }
}

/// Each tab's count of new items: chat lines that came while the chat was closed, notices
/// while the room tab was. Opening a tab marks its items seen.
fn tab_badges(page: Store<Page>) -> Signal<[usize; 4]> {
    let (tab, chat, notices) = (page.tab(), page.chat(), page.notices());
    let (chat_seen, notices_seen) = (page.chat_seen(), page.notices_seen());
    // Marks what an open tab shows as seen (again when new items come while it is open).
    Effect::new(move |_| match tab.get() {
        Tab::Chat => {
            if let Some(last) = chat.with(|c| c.last().map(|l| l.id + 1)) {
                if last > chat_seen.get_untracked() {
                    chat_seen.set(last);
                }
            }
        }
        Tab::Room => {
            if let Some(first) = notices.with(|n| n.first().map(|(id, _)| id + 1)) {
                if first > notices_seen.get_untracked() {
                    notices_seen.set(first);
                }
            }
        }
        _ => {}
    });
    Signal::derive(move || {
        let open = tab.get();
        let chat_new = if open == Tab::Chat {
            0
        } else {
            chat.with(|c| tabs::unread(c, chat_seen.get(), |l| l.id))
        };
        let notices_new = if open == Tab::Room {
            0
        } else {
            notices.with(|n| tabs::unread(n, notices_seen.get(), |(id, _)| *id))
        };
        [chat_new, 0, 0, notices_new]
    })
}
