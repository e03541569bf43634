//! The floor of a hydrated Leptos 0.8 SPA of the watch party's shape: two client-side routes,
//! a blocking resource loaded by a server function (serialised into the HTML), `Suspense`,
//! a form, a few signals and a list. No room, no sync client.
use leptos::prelude::*;
use leptos_meta::*;
use leptos_router::{components::*, hooks::use_params_map, path};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub video: String,
    pub position: f64,
    pub playing: bool,
    pub revision: u64,
    pub viewers: Vec<String>,
}

#[server(prefix = "/api", endpoint = "session")]
pub async fn get_session(id: String) -> Result<Option<Session>, ServerFnError> {
    Ok(Some(Session {
        id,
        video: String::new(),
        position: 0.0,
        playing: false,
        revision: 0,
        viewers: vec![],
    }))
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Watch party"/>
        <Router>
            <header><A href="/">"Watch party"</A></header>
            <main>
                <Routes fallback=|| view! { <p>"Not found"</p> }>
                    <Route path=path!("/") view=Home/>
                    <Route path=path!("/s/:id") view=SessionPage/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Home() -> impl IntoView {
    let url = RwSignal::new(String::new());
    view! {
        <form method="post" action="/api/create">
            <input name="video" bind:value=url/>
            <button type="submit" disabled=move || url.get().is_empty()>"Create"</button>
        </form>
        <p>{move || format!("{} characters", url.get().len())}</p>
    }
}

#[component]
fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let session = Resource::new_blocking(id, |id| async move { get_session(id).await });
    let copied = RwSignal::new(false);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(s)) => view! {
                        <div id="player" data-video=s.video.clone()></div>
                        <p>"Revision " {s.revision} ", " {if s.playing { "playing" } else { "paused" }}</p>
                        <button on:click=move |_| copied.set(true)>
                            {move || if copied.get() { "Copied" } else { "Copy link" }}
                        </button>
                        <ul>{s.viewers.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
                    }.into_any(),
                    _ => view! { <p>"No such session"</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
