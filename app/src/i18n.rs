//! The page's language as one signal, and the macro the views translate with.
//!
//! The words come from `app/locales/<locale>.json`, compiled in by `leptos_i18n`'s
//! `load_locales!` (the generated module is `i18n_gen::i18n`): the [`Locale`] enum, one typed
//! key per sentence (a key missing from a locale is a compile error) and `td_string!`, which
//! gives a sentence for a given locale as a `&'static str`.
//!
//! The crate's own context (`I18nContextProvider`) is not used: it picks the browser's language
//! with ICU's locale matching and leptos-use's `use_locales`, which cost about 35 KB of gzip'd
//! wasm before the first sentence (docs/benchmarks.md, "Bundle"). The choice is made once, on
//! the server, from the request ([`crate::lang`]), and written into `<html lang>`; the browser
//! reads it back from there when it hydrates, so both render the same words. [`I18n`] is that
//! choice as a signal: the switcher sets it, and every `t_string!` read in a reactive closure
//! follows it.

use leptos::prelude::*;

pub use crate::i18n_gen::i18n::{td_string, I18nLocaleTrait, Locale};

/// The page's language (a `Copy` handle on one signal, provided by [`provide_i18n`]).
#[derive(Clone, Copy, Debug)]
pub struct I18n(RwSignal<Locale>);

impl I18n {
    /// The language, tracked (a reactive closure that reads it follows a switch).
    pub fn get_locale(self) -> Locale {
        self.0.get()
    }

    /// The language, untracked.
    pub fn get_locale_untracked(self) -> Locale {
        self.0.get_untracked()
    }

    /// Switches the page to `locale` in place, and writes it into `<html lang>` so screen
    /// readers and the browser's own features (hyphenation, spelling) follow.
    pub fn set_locale(self, locale: Locale) {
        self.0.set(locale);
        #[cfg(feature = "hydrate")]
        if let Some(html) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = html.set_attribute("lang", locale.as_str());
        }
    }
}

/// Provides the page's language: on the server the request's ([`crate::lang::request_locale`]),
/// in the browser the one the server wrote into `<html lang>`.
pub fn provide_i18n() -> I18n {
    let i18n = I18n(RwSignal::new(initial_locale()));
    provide_context(i18n);
    i18n
}

/// The page's language. Outside [`provide_i18n`] (a component rendered alone in a test) it is
/// the default language.
pub fn use_i18n() -> I18n {
    use_context::<I18n>().unwrap_or_else(|| I18n(RwSignal::new(Locale::default())))
}

#[cfg(feature = "ssr")]
fn initial_locale() -> Locale {
    crate::lang::request_locale()
}

#[cfg(not(feature = "ssr"))]
fn initial_locale() -> Locale {
    #[cfg(feature = "hydrate")]
    return document_locale();
    #[cfg(not(feature = "hydrate"))]
    Locale::default()
}

/// Browser side: the language in `<html lang>`, as the server or the switcher last wrote it
/// (the default language when it names none of ours). Also read by code outside the page's
/// reactive tree (the player's errors), which has no [`I18n`] to ask.
#[cfg(feature = "hydrate")]
pub fn document_locale() -> Locale {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|html| html.get_attribute("lang"))
        .and_then(|code| code.parse().ok())
        .unwrap_or_default()
}

/// A word of a view that follows the page's language. Every such word is the same closure type
/// (the one this function returns), so the views render all of them with one instantiation of
/// Leptos' reactive text and attribute code: a `move || t_string!(..)` closure per word cost a
/// few hundred bytes of wasm each (docs/benchmarks.md, "Bundle"). Written `tr!(i18n, ns.key)`.
pub fn text(
    i18n: I18n,
    pick: fn(Locale) -> &'static str,
) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    move || pick(i18n.get_locale())
}

/// `tr!(i18n, ns.key)`: the word `ns.key` as a view's text or attribute value that follows the
/// page's language (see [`text`]).
macro_rules! tr {
    ($i18n:expr, $($key:tt)+) => {
        $crate::i18n::text($i18n, |locale| $crate::i18n::td_string!(locale, $($key)+))
    };
}
pub(crate) use tr;

/// `t_string!(i18n, key.subkey)`: the sentence `key.subkey` in the language of `i18n` (an
/// [`I18n`]), as a `&'static str`; read inside a reactive closure, it follows a switch.
macro_rules! t_string {
    ($i18n:expr, $($key:tt)+) => {
        $crate::i18n::td_string!($i18n.get_locale(), $($key)+)
    };
}
pub(crate) use t_string;
