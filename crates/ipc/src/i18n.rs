//! The message catalogs (`i18n/*.ftl`, Project Fluent), shared by the web
//! front end (through `@fluent/bundle`) and the tray: one file per
//! language, parsed once. Plurals and arguments are the catalog's.

use std::collections::HashMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// Every language's catalog, the first being the fallback.
pub const CATALOGS: &[(&str, &str)] = &[
    ("en", include_str!("../../../i18n/en.ftl")),
    ("zh-CN", include_str!("../../../i18n/zh-CN.ftl")),
];

/// `zh*` means Simplified Chinese; anything else English.
pub fn normalize(lang: &str) -> &'static str {
    if lang.to_lowercase().starts_with("zh") {
        "zh-CN"
    } else {
        "en"
    }
}

/// One language's messages.
pub struct Catalog {
    lang: &'static str,
    bundle: FluentBundle<FluentResource>,
}

/// An argument of a message: text, or a number (which plurals select on).
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    Num(u64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl From<u64> for Arg<'_> {
    fn from(n: u64) -> Self {
        Arg::Num(n)
    }
}

impl From<usize> for Arg<'_> {
    fn from(n: usize) -> Self {
        Arg::Num(n as u64)
    }
}

impl From<u32> for Arg<'_> {
    fn from(n: u32) -> Self {
        Arg::Num(n.into())
    }
}

fn build(lang: &'static str, text: &'static str) -> Catalog {
    let resource = FluentResource::try_new(text.to_string())
        .unwrap_or_else(|(_, errors)| panic!("i18n/{lang}.ftl does not parse: {errors:?}"));
    let id = lang
        .parse()
        .unwrap_or_else(|e| panic!("{lang} is not a language tag: {e}"));
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Plain text for the tray and notifications: no bidi isolation marks.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .unwrap_or_else(|e| panic!("i18n/{lang}.ftl has duplicate messages: {e:?}"));
    Catalog { lang, bundle }
}

/// The catalog of `lang` (normalized), parsed on first use only.
pub fn catalog(lang: &str) -> &'static Catalog {
    static ALL: OnceLock<HashMap<&'static str, Catalog>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        CATALOGS
            .iter()
            .map(|(lang, text)| (*lang, build(lang, text)))
            .collect()
    });
    &all[normalize(lang)]
}

impl Catalog {
    pub fn lang(&self) -> &'static str {
        self.lang
    }

    /// The message `id` with its arguments; the id itself when the catalog
    /// lacks it (the catalogs' test makes sure none does).
    pub fn get(&self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_string();
        };
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            let value = match value {
                Arg::Text(s) => FluentValue::from(*s),
                Arg::Num(n) => FluentValue::from(*n),
            };
            fluent_args.set(*name, value);
        }
        let mut errors = Vec::new();
        let text = self
            .bundle
            .format_pattern(pattern, Some(&fluent_args), &mut errors);
        debug_assert!(errors.is_empty(), "{id}: {errors:?}");
        text.into_owned()
    }
}
