//! The viewer's language (issue 29): pages are rendered in the language the browser accepts, or
//! in the one the `lang` cookie names (the switcher's choice), with `<html lang>` saying which.

use reqwest::{header, Client};
use server::{settings::Settings, startup::TestServer};

async fn page(server: &TestServer, path: &str, headers: &[(header::HeaderName, &str)]) -> String {
    let mut req = Client::new().get(server.http_url(path));
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:?}"));
    resp.text().await.unwrap_or_else(|e| panic!("no body: {e}"))
}

/// The value of `<html lang="…">` (the first one: a browser takes the first of two).
fn html_lang(html: &str) -> &str {
    let tag = &html[html.find("<html").expect("an html element")..];
    let tag = &tag[..tag.find('>').expect("the end of the html tag")];
    let lang = tag.split("lang=\"").nth(1).expect("a lang attribute");
    &lang[..lang.find('"').expect("the end of lang")]
}

#[tokio::test]
async fn pages_speak_the_accepted_language_or_the_chosen_one() {
    let server = TestServer::spawn(Settings::default())
        .await
        .unwrap_or_else(|e| panic!("server did not start: {e}"));
    let english = page(&server, "/", &[]).await;
    assert_eq!(html_lang(&english), "en");
    assert!(english.contains("Watch YouTube together"));
    let german = page(
        &server,
        "/",
        &[(header::ACCEPT_LANGUAGE, "de-CH,de;q=0.9,en;q=0.5")],
    )
    .await;
    assert_eq!(html_lang(&german), "de");
    assert!(
        german.contains("YouTube gemeinsam ansehen"),
        "{german:.600}"
    );
    assert!(!german.contains("Watch YouTube together"));
    // An unknown language falls back to English.
    let other = page(&server, "/", &[(header::ACCEPT_LANGUAGE, "ja")]).await;
    assert_eq!(html_lang(&other), "en");
    // The switcher's cookie wins over the browser's languages, on every page (here a 404).
    let chosen = page(
        &server,
        "/no/such/page",
        &[
            (header::ACCEPT_LANGUAGE, "en-US"),
            (header::COOKIE, "lang=de"),
        ],
    )
    .await;
    assert_eq!(html_lang(&chosen), "de");
    let at = chosen.find("<h1>").unwrap_or(0);
    assert!(
        chosen[at..].starts_with("<h1>Nicht gefunden<"),
        "{}",
        &chosen[at..]
    );
    // A cookie naming no language of ours is ignored.
    let forged = page(
        &server,
        "/",
        &[
            (header::ACCEPT_LANGUAGE, "de"),
            (header::COOKIE, "lang=<script>"),
        ],
    )
    .await;
    assert_eq!(html_lang(&forged), "de");
    server.stop().await;
}
