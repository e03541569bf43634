//! HTTP-level tests of the pages and the `create_session` server function against a real
//! server on port 0 with the in-memory store: the home page and its CSP nonce, creating a
//! session with a plain (no-JavaScript) form post and with the server-function client,
//! rejected inputs, 404s, health and security headers.

use app::api::SessionView;
use reqwest::{header, redirect::Policy, Client, Response, StatusCode};
use server::{settings::Settings, startup::TestServer};
use watchparty_core::video::{VideoInputError, MAX_INPUT_LEN};

/// What a browser sends when it navigates (and when it submits a form).
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const VIDEO: &str = "dQw4w9WgXcQ";

async fn spawn() -> TestServer {
    match TestServer::spawn(Settings::default()).await {
        Ok(server) => server,
        Err(e) => panic!("server did not start: {e}"),
    }
}

/// A client that shows redirects instead of following them.
fn client() -> Client {
    match Client::builder().redirect(Policy::none()).build() {
        Ok(c) => c,
        Err(e) => panic!("no HTTP client: {e}"),
    }
}

async fn body(resp: Response) -> String {
    match resp.text().await {
        Ok(t) => t,
        Err(e) => panic!("no body: {e}"),
    }
}

fn header_str<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("missing header {name}"))
}

/// A browser's navigation to `path` (the answer is not followed when it redirects).
async fn get_page(server: &TestServer, path: &str) -> Response {
    client()
        .get(server.http_url(path))
        .header(header::ACCEPT, BROWSER_ACCEPT)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:?}"))
}

/// A browser's plain form post to the create server function (JavaScript off).
async fn post_form(server: &TestServer, video: &str, referer: Option<&str>) -> Response {
    let mut req = client()
        .post(server.http_url("/api/create"))
        .header(header::ACCEPT, BROWSER_ACCEPT)
        .form(&[("video", video)]);
    if let Some(r) = referer {
        req = req.header(header::REFERER, r);
    }
    req.send().await.expect("form post")
}

/// The `/s/{id}` session id out of a redirect (`/s/{id}#host=<secret>`), checked to be a valid
/// session id with a valid host secret.
fn session_location(resp: &Response) -> String {
    let location = header_str(resp, "location");
    let rest = location
        .strip_prefix("/s/")
        .unwrap_or_else(|| panic!("redirect to {location}, not to a session"));
    let (id, secret) = rest
        .split_once("#host=")
        .unwrap_or_else(|| panic!("redirect to {location} without the host secret"));
    assert!(
        watchparty_core::ids::SessionId::parse(id).is_ok(),
        "{id} is not a 12-character session id"
    );
    assert!(
        watchparty_core::rights::is_valid_key(secret),
        "{secret} is not a key"
    );
    id.to_string()
}

/// Loads a session through the `get_session` server function, as the page's client would.
async fn load_session(server: &TestServer, id: &str) -> Option<SessionView> {
    let resp = client()
        .post(server.http_url("/api/session"))
        .header(header::ACCEPT, "application/json")
        .form(&[("id", id)])
        .send()
        .await
        .expect("get_session");
    assert_eq!(resp.status(), StatusCode::OK);
    serde_json::from_str(&body(resp).await).expect("SessionView JSON")
}

/// The nonce of a Content-Security-Policy header.
fn nonce_of(csp: &str) -> &str {
    csp.split(';')
        .flat_map(|d| d.split_whitespace())
        .find_map(|t| t.strip_prefix("'nonce-")?.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no nonce in CSP {csp}"))
}

#[tokio::test]
async fn home_page_has_the_form_and_a_csp_nonce_matching_the_boot_script() {
    let server = spawn().await;
    let resp = get_page(&server, "/").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header_str(&resp, "content-type").starts_with("text/html"));
    let csp = header_str(&resp, "content-security-policy").to_string();
    let html = body(resp).await;

    for needle in [
        r#"id="create-form""#,
        r#"action="/api/create""#,
        r#"method="post""#,
        r#"id="video-input""#,
        r#"name="video""#,
        r#"<label for="video-input">YouTube link or video id<"#,
        r#"type="submit""#,
        ">Create<",
    ] {
        assert!(html.contains(needle), "home page lacks {needle}");
    }
    assert!(
        !html.contains("create-error"),
        "no error is shown on a fresh home page"
    );

    let nonce = nonce_of(&csp);
    assert!(nonce.len() >= 16, "nonce {nonce} is too short");
    assert!(
        html.contains(&format!(r#"<script type="module" nonce="{nonce}">"#)),
        "the boot script does not carry the CSP nonce"
    );

    // A second render gets a different nonce.
    let again = client()
        .get(server.http_url("/"))
        .send()
        .await
        .expect("GET /");
    let csp2 = header_str(&again, "content-security-policy").to_string();
    assert!(!csp2.contains(nonce), "nonce reused across responses");
    server.stop().await;
}

#[tokio::test]
async fn plain_form_post_creates_a_session_and_redirects_to_it() {
    let server = spawn().await;
    let home = server.http_url("/");
    let link = format!("https://www.youtube.com/watch?feature=share&v={VIDEO}&t=1m30s");
    let resp = post_form(&server, &link, Some(&home)).await;
    assert!(
        matches!(resp.status(), StatusCode::FOUND | StatusCode::SEE_OTHER),
        "status {}",
        resp.status()
    );
    let id = session_location(&resp);
    let secret = header_str(&resp, "location")
        .split_once("#host=")
        .map(|(_, s)| s.to_owned())
        .expect("secret");

    // The store has it, paused at the link's start offset, with the creator as its host.
    let view = load_session(&server, &id)
        .await
        .expect("the created session exists");
    assert_eq!(
        view.state.rights.owner,
        Some(server::identity::kid_of(&secret))
    );
    assert_eq!(view.id.as_str(), id);
    assert_eq!(view.state.video_id.as_str(), VIDEO);
    assert_eq!(view.state.position, 90.0);
    assert!(!view.state.playing);

    // The session page renders it.
    let page = get_page(&server, &format!("/s/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body(page).await;
    assert!(html.contains(VIDEO), "the session page embeds the video id");
    assert!(html.contains(&id), "the session page embeds its id");

    // Each post makes a new session.
    let resp2 = post_form(&server, VIDEO, Some(&home)).await;
    let id2 = session_location(&resp2);
    assert_ne!(id, id2);
    let view2 = load_session(&server, &id2).await.expect("second session");
    assert_eq!(view2.state.position, 0.0);
    server.stop().await;
}

#[tokio::test]
async fn server_fn_client_gets_the_id_and_a_client_side_redirect() {
    let server = spawn().await;
    let resp = client()
        .post(server.http_url("/api/create"))
        .header(header::ACCEPT, "application/json")
        .form(&[("video", format!("https://youtu.be/{VIDEO}?t=42"))])
        .send()
        .await
        .expect("create");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().contains_key("serverfnredirect"));
    let id = session_location(&resp);
    let returned: String = serde_json::from_str(&body(resp).await).expect("JSON id");
    assert_eq!(returned, id);
    let view = load_session(&server, &id).await.expect("created");
    assert_eq!(view.state.position, 42.0);
    server.stop().await;
}

#[tokio::test]
async fn bad_input_creates_nothing_and_the_home_page_shows_why() {
    let server = spawn().await;
    let home = server.http_url("/");
    let long = "x".repeat(5 * 1024);
    let cases: [(&str, VideoInputError); 6] = [
        (
            "https://youtube.com.evil.com/watch?v=dQw4w9WgXcQ",
            VideoInputError::NotYouTube,
        ),
        ("https://vimeo.com/1234", VideoInputError::NotYouTube),
        ("<script>alert(1)</script>", VideoInputError::BadCharacters),
        (&long, VideoInputError::TooLong),
        ("dQw4w9WgXc", VideoInputError::BadVideoId),
        ("", VideoInputError::Empty),
    ];
    assert!(long.len() > MAX_INPUT_LEN);
    for (input, expected) in cases {
        // With and without a Referer (strict browsers omit it): back home either way.
        for referer in [Some(home.as_str()), None] {
            let resp = post_form(&server, input, referer).await;
            assert_eq!(resp.status(), StatusCode::FOUND, "input {input:.40}");
            let location = header_str(&resp, "location").to_string();
            assert_eq!(
                location,
                format!("/?error={}", expected.code()),
                "bad input {input:.40}"
            );

            let page = get_page(&server, &location).await;
            assert_eq!(page.status(), StatusCode::OK);
            let html = body(page).await;
            assert!(html.contains(r#"data-testid="create-error""#));
            assert!(html.contains(r#"role="alert""#));
            let message = expected
                .to_string()
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert!(
                html.contains(&message) || html.contains(&message.replace('"', "&quot;")),
                "page for {input:.40} lacks {message}"
            );
            assert!(!html.contains("<script>alert(1)"), "input echoed unescaped");
            assert!(
                html.contains(r#"id="create-form""#),
                "the form is still there"
            );
        }
    }

    // The server-function client gets an error with the parser's message, and no redirect.
    let resp = client()
        .post(server.http_url("/api/create"))
        .header(header::ACCEPT, "application/json")
        .form(&[("video", "https://notyoutube.com/watch?v=dQw4w9WgXcQ")])
        .send()
        .await
        .expect("create");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(!resp.headers().contains_key("location"));
    assert!(!resp.headers().contains_key("serverfnredirect"));
    let text = body(resp).await;
    assert!(
        text.contains(&VideoInputError::NotYouTube.to_string()),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_later_success_drops_an_earlier_error() {
    let server = spawn().await;
    let first = post_form(&server, "nope", Some(&server.http_url("/"))).await;
    let with_error = server.http_url(header_str(&first, "location"));
    // The next post comes from the page that shows the error.
    let resp = post_form(&server, VIDEO, Some(&with_error)).await;
    session_location(&resp);
    server.stop().await;
}

#[tokio::test]
async fn unknown_sessions_and_pages_are_real_404s() {
    let server = spawn().await;
    for path in ["/s/unknownid12", "/s/junk", "/s/<script>", "/no/such/page"] {
        let resp = get_page(&server, path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let html = body(resp).await;
        assert!(html.contains("<h1>Not found<"), "{path}: {html:.300}");
    }
    assert!(load_session(&server, "unknownid12").await.is_none());
    assert!(load_session(&server, "junk").await.is_none());
    server.stop().await;
}

#[tokio::test]
async fn health_and_security_headers() {
    let server = spawn().await;
    let health = client()
        .get(server.http_url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body(health).await).expect("JSON");
    assert_eq!(json["status"], "ok");

    for path in ["/", "/s/unknownid12", "/healthz"] {
        let resp = client()
            .get(server.http_url(path))
            .send()
            .await
            .expect("GET");
        assert_eq!(
            header_str(&resp, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert!(!header_str(&resp, "referrer-policy").is_empty(), "{path}");
        let csp = header_str(&resp, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    let home = client()
        .get(server.http_url("/"))
        .send()
        .await
        .expect("GET /");
    let csp = header_str(&home, "content-security-policy");
    let frame_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("frame-src"))
        .unwrap_or_else(|| panic!("no frame-src in {csp}"));
    assert!(frame_src.contains("https://www.youtube.com"), "{frame_src}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    server.stop().await;
}

/// The session page's `<title>` as the server renders it (what a link preview shows) names the
/// video, on the memory store and on Redis, where the page's session comes from a real store
/// read before Leptos injects the title (the server gives it as a plain string: see the title
/// in `app/src/pages/session.rs`).
#[tokio::test]
async fn session_page_title_names_the_video_on_both_stores() {
    let redis = Settings {
        redis_url: Some(
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        ..Settings::default()
    };
    for (store, settings) in [("memory", Settings::default()), ("redis", redis)] {
        let server = match TestServer::spawn(settings).await {
            Ok(server) => server,
            Err(e) => panic!("{store}: server did not start: {e}"),
        };
        let id = session_location(&post_form(&server, VIDEO, None).await);
        for _ in 0..5 {
            let resp = get_page(&server, &format!("/s/{id}")).await;
            assert_eq!(resp.status(), StatusCode::OK, "{store}");
            let html = body(resp).await;
            assert!(
                html.contains(&format!("<title>Watch party · {VIDEO}</title>")),
                "{store}: the title does not name the video: {:?}",
                html.split("<title>")
                    .nth(1)
                    .and_then(|t| t.split("</title>").next())
            );
        }
    }
}

/// Issue 15: a session page carries the early script (player, socket, join) whole, unescaped and
/// with the response's nonce, ahead of the stylesheet, and leaves the wasm to the boot script, so that the IFrame API
/// script has the link first; the home page preloads the wasm and has no early script.
#[tokio::test]
async fn a_session_page_starts_the_player_and_the_socket_from_its_html() {
    let server = spawn().await;
    let id = session_location(&post_form(&server, VIDEO, None).await);
    let resp = get_page(&server, &format!("/s/{id}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = header_str(&resp, "content-security-policy").to_string();
    let html = body(resp).await;
    let script = html
        .split(&format!(r#"<script nonce="{}">"#, nonce_of(&csp)))
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("an inline script with the response's nonce");
    assert_eq!(script, include_str!("../../../app/src/early.js"));
    // Its config, just before it: the Rust values it shares, rendered for this session (issue 26).
    let config = html
        .split(r#"<script type="application/json" id="wp-early">"#)
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("the early script's config");
    let session = watchparty_core::ids::SessionId::parse(&id).expect("a session id");
    assert_eq!(config, app::early::config(&session));
    let config_at = html.find(r#"id="wp-early""#).expect("the config");
    // Before the stylesheet: an inline script after it would wait for it (and the embed with it).
    let early_at = html.find("__wpEarlyPlayer").expect("the early script");
    assert!(config_at < early_at, "the config comes after the script");
    let css_at = html.find(r#"rel="stylesheet""#).expect("the stylesheet");
    assert!(
        early_at < css_at,
        "the early script waits for the stylesheet"
    );
    assert!(html.contains(r#"<link rel="modulepreload""#));
    assert!(
        !html.contains(r#"as="fetch""#),
        "a session page preloads the wasm"
    );
    let home = body(get_page(&server, "/").await).await;
    assert!(
        home.contains(r#"as="fetch""#),
        "the home page does not preload the wasm"
    );
    assert!(!home.contains("__wpEarlySocket"));
    assert!(!home.contains("wp-early"));
    server.stop().await;
}

/// The early script's socket offers what the server speaks: the subprotocol and the key token
/// it renders into the page are the server's own (`identity`).
#[test]
fn the_early_scripts_subprotocol_is_the_servers() {
    use watchparty_core::protocol::{KEY_PROTOCOL_PREFIX, SUBPROTOCOL};
    assert_eq!(server::identity::PROTOCOL, SUBPROTOCOL);
    assert_eq!(server::identity::KEY_PREFIX, KEY_PROTOCOL_PREFIX);
}

/// Servers that start while another renders a session page do not stall its render. Listing
/// the app's routes suppresses Leptos resources process-wide (leptos-rs/leptos#4773), so a
/// server lists them once per process (`startup::route_list`); when each new server listed
/// them again, a render whose resource first ran meanwhile waited forever (the connection then
/// closed at the 60 s idle timeout with no answer).
#[tokio::test]
async fn session_pages_render_while_other_servers_start() {
    let server = spawn().await;
    let id = session_location(&post_form(&server, VIDEO, None).await);
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let starter = std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("no runtime: {e}"),
        };
        rt.block_on(async move {
            let mut started = 0u32;
            while stopped.try_recv().is_err() {
                spawn().await.stop().await;
                started += 1;
            }
            started
        })
    });
    for i in 0..20 {
        let page = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            get_page(&server, &format!("/s/{id}")),
        )
        .await
        .unwrap_or_else(|_| panic!("render {i} stalled while other servers started"));
        assert_eq!(page.status(), StatusCode::OK);
        let html = tokio::time::timeout(std::time::Duration::from_secs(5), body(page))
            .await
            .unwrap_or_else(|_| panic!("render {i}'s body stalled"));
        assert!(html.contains(VIDEO), "render {i} lacks the session");
    }
    let _ = stop.send(());
    let started = starter
        .join()
        .unwrap_or_else(|_| panic!("starter panicked"));
    assert!(started > 0, "no server started during the renders");
}
