//! The shared queue on the session page: add (any link or id) or import a playlist (its link,
//! or a `watch?v=…&list=…` link: see `watchparty_core::playlist`), and per item play now, play
//! next, up, down, remove. Items are named by id in every edit, so concurrent edits all land.

use super::client::{Client, RoomReq};
use crate::i18n::{t_string, tr, use_i18n, I18n};
use crate::queue::{thumbnail_url, ItemId, Queue, QueueEdit, QueueItem};
use leptos::prelude::*;
use reactive_stores::Field;
use watchparty_core::playlist::{QueueInputError, ReadError};

/// The queue's panel: the add form, the last refusal, and one row per item.
#[component]
pub fn QueuePanel(
    queue: Field<Queue>,
    error: Field<Option<String>>,
    client: Client,
    may_control: Signal<bool>,
) -> impl IntoView {
    // Rows are keyed by item id only: a row is never re-created while it stays in the queue,
    // so a click on it cannot be lost to another viewer's concurrent edit (a row replaced
    // between mousedown and mouseup gets no click). Its neighbours (for up/down) and its title
    // are read reactively, at click time from the newest queue.
    let rows = move || queue.with(|q| q.items.clone());
    let count = move || queue.with(|q| q.items.len());
    let i18n = use_i18n();
    view! {
        <section class="queue panel" data-testid="queue" data-count=move || count().to_string()>
            <h2 class="queue-heading">{tr!(i18n, queue.heading)}</h2>
            <QueueAdd error=error client=client may_control=may_control/>
            <Show when=move || error.with(|e| e.is_some())>
                <p class="error" role="alert" data-testid="queue-error">
                    {move || error.get().unwrap_or_default()}
                </p>
            </Show>
            <Show when=move || count() == 0>
                <p class="hint" data-testid="queue-empty">{tr!(i18n, queue.empty)}</p>
            </Show>
            <ol class="queue-items">
                <For
                    each=rows
                    key=|item: &QueueItem| item.id
                    children=move |item: QueueItem| view! {
                        <QueueRow item=item queue=queue error=error client=client may_control=may_control/>
                    }
                />
            </ol>
        </section>
    }
}

/// Why the queue field's input was refused, in the page's language.
fn input_error(i18n: I18n, e: QueueInputError) -> &'static str {
    match e {
        QueueInputError::Video(e) => crate::lang::video_error(e),
        QueueInputError::BadList => t_string!(i18n, queue.error.bad_list),
        QueueInputError::Mix => t_string!(i18n, queue.error.mix),
    }
}

/// Why a playlist could not be read, in the page's language.
fn read_error(i18n: I18n, e: ReadError) -> &'static str {
    match e {
        ReadError::Unreadable => t_string!(i18n, queue.error.unreadable),
        ReadError::Empty => t_string!(i18n, queue.error.no_videos),
        ReadError::Timeout => t_string!(i18n, queue.error.timeout),
        ReadError::NoPlayer => t_string!(i18n, queue.error.no_player),
    }
}

/// Sends a room request, clearing the last refusal.
fn request(error: Field<Option<String>>, client: Client, req: RoomReq) {
    error.set(None);
    client.room(req);
}

/// "Add a video to the queue": any YouTube link or id, or a playlist's link (read by a
/// hidden helper player, then imported: "Reading the playlist…", then what it did).
#[component]
fn QueueAdd(
    error: Field<Option<String>>,
    client: Client,
    may_control: Signal<bool>,
) -> impl IntoView {
    use watchparty_core::playlist::{parse_queue_input, QueueInput};
    let input = RwSignal::new(String::new());
    let reading = RwSignal::new(false);
    let note = client.import_note();
    let i18n = use_i18n();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if reading.get_untracked() {
            return;
        }
        match parse_queue_input(&input.get_untracked()) {
            Ok(QueueInput::Video(v)) => {
                input.set(String::new());
                note.set(None);
                let add = QueueEdit::Add {
                    video_id: v.id,
                    start: v.start,
                };
                request(error, client, RoomReq::Edit(add));
            }
            Ok(QueueInput::Playlist(p)) => {
                input.set(String::new());
                error.set(None);
                reading.set(true);
                client.import(p, move |failed| {
                    reading.try_set(false);
                    if let Some(e) = failed {
                        error.try_set(Some(read_error(i18n, e).to_string()));
                    }
                });
            }
            Err(e) => error.set(Some(input_error(i18n, e).to_string())),
        }
    };
    let busy = move || reading.get() || !may_control.get();
    view! {
            <form class="queue-add field" on:submit=submit>
                <label for="queue-add-input">{tr!(i18n, queue.add.label)}</label>
                <div class="share-row">
                    <input
                        id="queue-add-input"
                        type="text"
                        autocomplete="off"
                        placeholder=tr!(i18n, queue.add.placeholder)
                        data-testid="queue-add-input"
                        maxlength="2048"
                        disabled=busy
                        prop:value=move || input.get()
                        on:input=move |ev| input.set(event_target_value(&ev))
                    />
                    <button type="submit" data-testid="queue-add-submit" disabled=busy>{tr!(i18n, queue.add.submit)}</button>
                </div>
                <Show when=move || reading.get()>
                    <p class="hint" role="status" data-testid="queue-import-reading">{tr!(i18n, queue.add.reading)}</p>
                </Show>
                <Show when=move || note.with(|n| n.is_some())>
                    <p class="hint" role="status" data-testid="queue-import-note">
                        {move || note.get().unwrap_or_default()}
                    </p>
                </Show>
            </form>
    }
}

/// One queued item: its thumbnail, title (else id) and buttons.
#[component]
fn QueueRow(
    item: QueueItem,
    queue: Field<Queue>,
    error: Field<Option<String>>,
    client: Client,
    may_control: Signal<bool>,
) -> impl IntoView {
    let id = item.id;
    let video = item.video_id.to_string();
    let neighbours = move || {
        queue.with(|q| {
            let n = q.items.iter().position(|i| i.id == id)?;
            let prev = n.checked_sub(1).map(|p| q.items[p].id);
            let next = q.items.get(n + 1).map(|i| i.id);
            Some((prev, next))
        })
    };
    let prev = move || neighbours().and_then(|(p, _)| p);
    let next = move || neighbours().and_then(|(_, n)| n);
    let label = move || {
        queue.with(|q| {
            q.items
                .iter()
                .find(|i| i.id == id)
                .and_then(|i| i.title.clone())
                .unwrap_or_else(|| video.clone())
        })
    };
    let edit = move |e: QueueEdit| request(error, client, RoomReq::Edit(e));
    let i18n = use_i18n();
    let moved = move |item: ItemId, before: Option<ItemId>| {
        if let Some(before) = before {
            edit(QueueEdit::Move {
                item,
                before: Some(before),
            });
        }
    };
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
                                    <button type="button" data-testid="queue-play-now" title=tr!(i18n, queue.row.play_now)
                                        disabled=move || !may_control.get()
                                        on:click=move |_| request(error, client, RoomReq::PlayNow(id))>"▶"</button>
                                    <button type="button" data-testid="queue-play-next" title=tr!(i18n, queue.row.play_next)
                                        disabled=move || prev().is_none() || !may_control.get()
                                        on:click=move |_| edit(QueueEdit::PlayNext { item: id })>"⤒"</button>
                                    <button type="button" data-testid="queue-up" title=tr!(i18n, queue.row.up)
                                        disabled=move || prev().is_none() || !may_control.get()
                                        on:click=move |_| moved(id, prev())>"↑"</button>
                                    <button type="button" data-testid="queue-down" title=tr!(i18n, queue.row.down)
                                        disabled=move || next().is_none() || !may_control.get()
                                        on:click=move |_| {
                                            if let Some(n) = next() {
                                                moved(n, Some(id));
                                            }
                                        }>"↓"</button>
                                    <button type="button" data-testid="queue-remove" title=tr!(i18n, queue.row.remove)
                                        disabled=move || !may_control.get()
                                        on:click=move |_| edit(QueueEdit::Remove { item: id })>"✕"</button>
                                </div>
                            </li>
    }
}
