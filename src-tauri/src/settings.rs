//! The app's own settings, beside the engine's config in the home.

use nubo_engine::Home;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AppSettings {
    /// The user's choice; absent means "follow the system".
    pub language: Option<String>,
}

fn path(home: &Home) -> std::path::PathBuf {
    home.dir.join("app.json")
}

pub fn load(home: &Home) -> AppSettings {
    std::fs::read_to_string(path(home))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

pub fn save_language(home: &Home, language: &str) -> anyhow::Result<()> {
    let mut s = load(home);
    s.language = Some(language.to_string());
    nubo_engine::home::write_atomic(
        &path(home),
        serde_json::to_string_pretty(&s)?.as_bytes(),
        false,
    )
}
