//! The viewer's language (issue 29): the words of the pages come from `app/locales/<locale>.json`,
//! compiled in by `leptos_i18n` (the generated module is `crate::i18n`).
//!
//! How a page picks its language:
//! - the server renders it in the language the browser asks for (`Accept-Language`, matched by
//!   `leptos_i18n` against the locales in `app/Cargo.toml`; English when none fits), and writes
//!   it in `<html lang>`, from which the browser's hydration takes it;
//! - the switcher in the top bar ([`LanguageSwitch`]) changes it at once, in place, and
//!   remembers the choice in the [`LANG_COOKIE`] cookie; the server reads that cookie before
//!   `Accept-Language` ([`prefer_cookie`], applied to every page request), so the next page is
//!   rendered in the chosen language from its first byte.
//!
//! The crate's own cookie feature is off: it adds leptos-use's cookie stack and the `time`
//! crate to the wasm (docs/benchmarks.md, "Bundle"); one cookie written by hand is enough.

use crate::api::CreateFailure;
use crate::i18n::{t_string, use_i18n, Locale};
use crate::video::VideoInputError;
use leptos::prelude::*;

/// The cookie that remembers the viewer's choice of language (`lang=de`).
pub const LANG_COOKIE: &str = "lang";

/// How long the choice is remembered (a year, in seconds).
const LANG_COOKIE_MAX_AGE: u32 = 365 * 24 * 3600;

/// Every language, with its name in itself (what the switcher lists).
pub const LANGUAGES: [(Locale, &str, &str); 2] =
    [(Locale::en, "en", "English"), (Locale::de, "de", "Deutsch")];

/// The language code the `Cookie` header's [`LANG_COOKIE`] names, if it is one we have.
pub fn cookie_choice(cookie_header: &str) -> Option<&'static str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == LANG_COOKIE)
        .find_map(|(_, value)| LANGUAGES.iter().find(|(_, code, _)| *code == value.trim()))
        .map(|(_, code, _)| *code)
}

/// Server side: a page request whose `Cookie` names a language gets that language as its
/// `Accept-Language`, so the render (and its `<html lang>`) uses the viewer's choice. A cookie
/// naming no language of ours changes nothing.
#[cfg(feature = "ssr")]
pub fn prefer_cookie(headers: &mut http::HeaderMap) {
    let choice = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(cookie_choice);
    if let Some(code) = choice {
        headers.insert(
            http::header::ACCEPT_LANGUAGE,
            http::HeaderValue::from_static(code),
        );
    }
}

/// The sentence for a failed create, in the page's language.
pub fn create_failure(failure: CreateFailure) -> String {
    let i18n = use_i18n();
    match failure {
        CreateFailure::Video(e) => video_error(e).to_string(),
        CreateFailure::Unavailable => t_string!(i18n, create_error.unavailable).to_string(),
        CreateFailure::TooMany { secs } => fill(
            t_string!(i18n, create_error.too_many),
            &[("secs", &secs.to_string())],
        ),
        CreateFailure::Unreachable => t_string!(i18n, create_error.unreachable).to_string(),
        CreateFailure::Generic => t_string!(i18n, create_error.generic).to_string(),
    }
}

/// `template` with each `{name}` replaced by its value. The locales' sentences take their values
/// this way rather than through `leptos_i18n`'s interpolation, whose generated views cost about
/// half a kilobyte of wasm (gzip) per sentence; a test holds every locale to the English
/// sentence's placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The sentence for a refused link, in the page's language.
pub fn video_error(e: VideoInputError) -> &'static str {
    let i18n = use_i18n();
    match e {
        VideoInputError::Empty => t_string!(i18n, create_error.empty),
        VideoInputError::TooLong => t_string!(i18n, create_error.too_long),
        VideoInputError::BadCharacters => t_string!(i18n, create_error.bad_characters),
        VideoInputError::NotALink => t_string!(i18n, create_error.not_a_link),
        VideoInputError::NotYouTube => t_string!(i18n, create_error.not_youtube),
        VideoInputError::NoVideo => t_string!(i18n, create_error.no_video),
        VideoInputError::BadVideoId => t_string!(i18n, create_error.bad_video_id),
        VideoInputError::BadStart => t_string!(i18n, create_error.bad_start),
        VideoInputError::StartTooLarge => t_string!(i18n, create_error.start_too_large),
        VideoInputError::LiveStream => t_string!(i18n, create_error.live_stream),
    }
}

/// The language switcher of the top bar: changes the page's language in place and remembers it.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let i18n = use_i18n();
    let on_change = move |ev| {
        let code = event_target_value(&ev);
        if let Some((locale, code, _)) = LANGUAGES.iter().find(|(_, c, _)| *c == code) {
            i18n.set_locale(*locale);
            remember(code);
        }
    };
    view! {
        <label class="lang-switch">
            <span class="sr-only">{move || t_string!(i18n, language)}</span>
            <select data-testid="language" on:change=on_change>
                {LANGUAGES
                    .iter()
                    .map(|(locale, code, name)| {
                        let locale = *locale;
                        view! {
                            <option value=*code selected=move || i18n.get_locale() == locale>
                                {*name}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Writes [`LANG_COOKIE`] (browser only).
fn remember(code: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let cookie =
            format!("{LANG_COOKIE}={code}; Path=/; Max-Age={LANG_COOKIE_MAX_AGE}; SameSite=Lax");
        if let Some(doc) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok())
        {
            let _ = doc.set_cookie(&cookie);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (code, LANG_COOKIE_MAX_AGE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_names_a_language_of_ours_or_nothing() {
        assert_eq!(cookie_choice("lang=de"), Some("de"));
        assert_eq!(cookie_choice("a=1; lang=en; b=2"), Some("en"));
        assert_eq!(cookie_choice("lang=xx"), None);
        assert_eq!(cookie_choice("slang=de"), None);
        assert_eq!(cookie_choice(""), None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_cookie_wins_over_accept_language() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::ACCEPT_LANGUAGE,
            "en-US,en;q=0.9".parse().unwrap(),
        );
        h.insert(http::header::COOKIE, "lang=de".parse().unwrap());
        prefer_cookie(&mut h);
        assert_eq!(h[http::header::ACCEPT_LANGUAGE], "de");
        let mut h = http::HeaderMap::new();
        h.insert(http::header::ACCEPT_LANGUAGE, "de".parse().unwrap());
        h.insert(http::header::COOKIE, "lang=zz".parse().unwrap());
        prefer_cookie(&mut h);
        assert_eq!(h[http::header::ACCEPT_LANGUAGE], "de");
    }

    #[test]
    fn every_locale_file_has_every_key_of_the_english_one() {
        fn keys(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
            if let Some(map) = v.as_object() {
                for (k, v) in map {
                    keys(v, &format!("{prefix}{k}."), out);
                }
            } else {
                out.push(prefix.trim_end_matches('.').to_string());
            }
        }
        let read = |name: &str| -> serde_json::Value {
            let path = format!("{}/locales/{name}.json", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        let (mut en, mut de) = (Vec::new(), Vec::new());
        keys(&read("en"), "", &mut en);
        keys(&read("de"), "", &mut de);
        en.sort();
        de.sort();
        assert_eq!(en, de, "de.json must translate exactly the keys of en.json");
    }

    #[test]
    fn every_translation_has_the_english_placeholders() {
        fn leaves(v: &serde_json::Value, prefix: &str, out: &mut Vec<(String, String)>) {
            match v.as_object() {
                Some(map) => map
                    .iter()
                    .for_each(|(k, v)| leaves(v, &format!("{prefix}{k}."), out)),
                None => out.push((prefix.to_string(), v.as_str().unwrap_or("").to_string())),
            }
        }
        fn placeholders(s: &str) -> Vec<&str> {
            let mut found: Vec<&str> = s
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                .collect();
            found.sort();
            found
        }
        let read = |name: &str| -> serde_json::Value {
            let path = format!("{}/locales/{name}.json", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        let (mut en, mut de) = (Vec::new(), Vec::new());
        leaves(&read("en"), "", &mut en);
        leaves(&read("de"), "", &mut de);
        let de: std::collections::HashMap<_, _> = de.into_iter().collect();
        for (key, english) in &en {
            let german = de.get(key).map(String::as_str).unwrap_or("");
            assert_eq!(placeholders(english), placeholders(german), "{key}");
        }
    }

    #[test]
    fn fill_replaces_every_placeholder() {
        assert_eq!(
            fill(
                "Found video {id} from {at}.",
                &[("id", "abc"), ("at", "1:30")]
            ),
            "Found video abc from 1:30."
        );
        assert_eq!(fill("no {x}", &[]), "no {x}");
    }
}
