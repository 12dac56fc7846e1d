//! The Rust side of the shared message catalogs (`i18n/*.json`): tray menu
//! and notifications speak the same words as the front end.

use std::collections::HashMap;

pub struct Messages {
    map: HashMap<String, String>,
}

/// `zh*` means Simplified Chinese; anything else English.
pub fn normalize(lang: &str) -> &'static str {
    if lang.to_lowercase().starts_with("zh") {
        "zh-CN"
    } else {
        "en"
    }
}

/// The system's language, from the usual environment variables.
pub fn system_language() -> &'static str {
    for var in ["LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() && v != "C" && v != "POSIX" {
                return normalize(&v);
            }
        }
    }
    "en"
}

impl Messages {
    pub fn load(lang: &str) -> Messages {
        let lang = normalize(lang);
        let text = nubo_ipc::CATALOGS
            .iter()
            .find(|(l, _)| *l == lang)
            .map_or(nubo_ipc::CATALOGS[0].1, |(_, t)| *t);
        Messages {
            map: serde_json::from_str(text).expect("the built-in catalogs are valid JSON"),
        }
    }

    /// The message for `key` with `{name}` placeholders filled in.
    pub fn get(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self
            .map
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string());
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }
}
