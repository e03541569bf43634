//! The viewer's language (issue 29): the words of the pages come from `app/locales/<locale>/<namespace>.json`,
//! compiled in by `leptos_i18n` and read through [`crate::i18n`].
//!
//! How a page picks its language:
//! - the server renders it in the language the browser asks for ([`request_locale`]:
//!   `Accept-Language`, matched by `leptos_i18n` against the locales in `app/Cargo.toml`;
//!   English when none fits), and writes it in `<html lang>`, from which the browser's hydration
//!   takes it;
//! - the switcher in the top bar ([`LanguageSwitch`]) changes it at once, in place, and
//!   remembers the choice in the [`LANG_COOKIE`] cookie; the server reads that cookie before
//!   `Accept-Language` ([`prefer_cookie`], applied to every page request), so the next page is
//!   rendered in the chosen language from its first byte.
//!
//! The crate's own context and cookie are not used: they add ICU's locale matching,
//! leptos-use's cookie stack and the `time` crate to the wasm (docs/benchmarks.md, "Bundle");
//! the choice is the server's, and one cookie written by hand is enough.

use crate::api::CreateFailure;
#[cfg(feature = "ssr")]
use crate::i18n::I18nLocaleTrait;
use crate::i18n::{t_string, tr, use_i18n, I18n, Locale};
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

/// Server side: the language of the page being rendered, from its request's `Accept-Language`
/// (which [`prefer_cookie`] has already set from the viewer's choice); the default language
/// outside a request.
#[cfg(feature = "ssr")]
pub fn request_locale() -> Locale {
    use_context::<http::request::Parts>()
        .and_then(|parts| {
            let header = parts.headers.get(http::header::ACCEPT_LANGUAGE)?;
            let accepted = accepted_languages(header.to_str().ok()?);
            Some(<Locale as I18nLocaleTrait>::find_locale(&accepted))
        })
        .unwrap_or_default()
}

/// The language tags of an `Accept-Language` value, most wanted first (by `q`, then by order);
/// tags with `q=0` are left out. At most 16 are read: a header is the client's to write.
pub fn accepted_languages(header: &str) -> Vec<&str> {
    let mut tags: Vec<(&str, f32)> = header
        .split(',')
        .take(16)
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (!tag.is_empty() && q > 0.0 && q.is_finite()).then_some((tag, q))
        })
        .collect();
    tags.sort_by(|a, b| b.1.total_cmp(&a.1));
    tags.into_iter().map(|(tag, _)| tag).collect()
}

/// The sentence for a failed create, in the page's language.
pub fn create_failure(failure: CreateFailure) -> String {
    let i18n = use_i18n();
    match failure {
        CreateFailure::Video(e) => video_error(e).to_string(),
        CreateFailure::Unavailable => t_string!(i18n, common.create_error.unavailable).to_string(),
        CreateFailure::TooMany { secs } => fill(
            t_string!(i18n, common.create_error.too_many),
            &[("secs", &secs.to_string())],
        ),
        CreateFailure::Unreachable => t_string!(i18n, common.create_error.unreachable).to_string(),
        CreateFailure::Generic => t_string!(i18n, common.create_error.generic).to_string(),
    }
}

/// `template` with each `{name}` replaced by its value. The locales' sentences take their values
/// this way rather than through `leptos_i18n`'s interpolation, whose generated views cost about
/// half a kilobyte of wasm (gzip) per sentence; a test holds every locale to the English
/// sentence's placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    // One pass over the template: a value is never read again, so a name such as "{video}"
    // stays a name.
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            let (_, value) = values.iter().find(|(n, _)| *n == name)?;
            Some((value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `n` with the locale's digit grouping: 9812 → "9,812" in English, "9.812" in German.
pub fn number(i18n: I18n, n: u64) -> String {
    group(&n.to_string(), t_string!(i18n, common.number.group))
}

/// `x` with at most `decimals` decimals (trailing zeros dropped) and the locale's decimal
/// separator: 1.25 → "1.25" in English, "1,25" in German.
pub fn decimal(i18n: I18n, x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    text.replace('.', t_string!(i18n, common.number.decimal))
}

/// `digits` grouped by threes with `separator`.
fn group(digits: &str, separator: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * separator.len());
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(c);
    }
    out
}

/// The sentence for a refused link, in the page's language.
pub fn video_error(e: VideoInputError) -> &'static str {
    let i18n = use_i18n();
    match e {
        VideoInputError::Empty => t_string!(i18n, common.create_error.empty),
        VideoInputError::TooLong => t_string!(i18n, common.create_error.too_long),
        VideoInputError::BadCharacters => t_string!(i18n, common.create_error.bad_characters),
        VideoInputError::NotALink => t_string!(i18n, common.create_error.not_a_link),
        VideoInputError::NotYouTube => t_string!(i18n, common.create_error.not_youtube),
        VideoInputError::NoVideo => t_string!(i18n, common.create_error.no_video),
        VideoInputError::BadVideoId => t_string!(i18n, common.create_error.bad_video_id),
        VideoInputError::BadStart => t_string!(i18n, common.create_error.bad_start),
        VideoInputError::StartTooLarge => t_string!(i18n, common.create_error.start_too_large),
        VideoInputError::LiveStream => t_string!(i18n, common.create_error.live_stream),
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
            <span class="sr-only">{tr!(i18n, common.language)}</span>
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
    fn accepted_languages_come_most_wanted_first() {
        assert_eq!(
            accepted_languages("en-US;q=0.5, de-DE, fr;q=0.8, xx;q=0, yy;q=abc"),
            ["de-DE", "fr", "en-US"]
        );
        assert_eq!(accepted_languages("*"), ["*"]);
        assert!(accepted_languages("").is_empty());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_request_language_is_the_best_match_or_english() {
        let locale_for = |header: &str| {
            let owner = Owner::new();
            owner.with(|| {
                let mut req = http::Request::new(());
                req.headers_mut()
                    .insert(http::header::ACCEPT_LANGUAGE, header.parse().unwrap());
                provide_context(req.into_parts().0);
                request_locale()
            })
        };
        assert_eq!(locale_for("de-AT, en;q=0.5"), Locale::de);
        assert_eq!(locale_for("fr, en-GB;q=0.9, de;q=0.8"), Locale::en);
        assert_eq!(locale_for("fr, de;q=0.8"), Locale::de);
        assert_eq!(locale_for("ja"), Locale::en);
    }

    /// One locale's namespaces (`app/locales/<locale>/<namespace>.json`) as one JSON object.
    fn locale_tree(locale: &str) -> serde_json::Value {
        let dir = format!("{}/locales/{locale}", env!("CARGO_MANIFEST_DIR"));
        let mut tree = serde_json::Map::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let namespace = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            tree.insert(namespace, serde_json::from_str(&text).unwrap());
        }
        serde_json::Value::Object(tree)
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
        let (mut en, mut de) = (Vec::new(), Vec::new());
        keys(&locale_tree("en"), "", &mut en);
        keys(&locale_tree("de"), "", &mut de);
        en.sort();
        de.sort();
        assert_eq!(
            en, de,
            "locales/de must translate exactly the keys of locales/en"
        );
        assert!(
            en.len() > 20,
            "the English locale has its sentences: {}",
            en.len()
        );
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
        let (mut en, mut de) = (Vec::new(), Vec::new());
        leaves(&locale_tree("en"), "", &mut en);
        leaves(&locale_tree("de"), "", &mut de);
        let de: std::collections::HashMap<_, _> = de.into_iter().collect();
        for (key, english) in &en {
            let german = de.get(key).map(String::as_str).unwrap_or("");
            assert_eq!(placeholders(english), placeholders(german), "{key}");
        }
    }

    #[test]
    fn fill_never_reads_a_value_twice() {
        assert_eq!(
            fill("{who} added {video}", &[("who", "{video}"), ("video", "X")]),
            "{video} added X"
        );
        assert_eq!(fill("a {b c} {", &[("b", "1")]), "a {b c} {");
    }

    #[test]
    fn numbers_in_each_locale() {
        let owner = Owner::new();
        owner.with(|| {
            let en = crate::i18n::use_i18n();
            assert_eq!(number(en, 9_812), "9,812");
            assert_eq!(number(en, 1_234_567), "1,234,567");
            assert_eq!(number(en, 7), "7");
            assert_eq!(decimal(en, 1.25, 2), "1.25");
            assert_eq!(decimal(en, 1.5, 2), "1.5");
            assert_eq!(decimal(en, 2.0, 2), "2");
            en.set_locale(Locale::de);
            assert_eq!(number(en, 10_000), "10.000");
            assert_eq!(decimal(en, 0.75, 2), "0,75");
        });
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
