//! The app's language: the user's choice, else the system's. The catalogs
//! themselves (Project Fluent, `i18n/*.ftl`) live in `nubo_ipc::i18n`,
//! shared with the web front end.

pub use nubo_ipc::i18n::{catalog, normalize, Catalog};

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
