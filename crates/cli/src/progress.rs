//! What `nubo sync` shows of its progress: a bar on a terminal (the files a
//! scan reads, then the files and bytes a round syncs), plain lines where
//! the output is not a terminal and `--progress` asks for them, nothing
//! otherwise. Words from the engine's events (data), as everywhere else.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use nubo_engine::engine::SyncEvent;

use crate::words;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Bar,
    Lines,
    Nothing,
}

/// One sync's progress display; told every event of the engine.
pub struct Progress {
    shown: Shown,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    /// The round's batch: files and bytes in all.
    batch: (usize, u64),
}

impl Progress {
    /// A bar where standard error is a terminal; plain lines there
    /// otherwise when `asked`.
    pub fn new(asked: bool) -> Progress {
        let shown = if std::io::stderr().is_terminal() {
            Shown::Bar
        } else if asked {
            Shown::Lines
        } else {
            Shown::Nothing
        };
        Progress {
            shown,
            state: Mutex::default(),
        }
    }

    pub fn event(&self, event: &SyncEvent) {
        if self.shown == Shown::Nothing {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *event {
            SyncEvent::Reading(r) => {
                let line = format!(
                    "reading {}/{} files ({}/{})",
                    r.files_done,
                    r.files,
                    words::bytes(r.bytes_done),
                    words::bytes(r.bytes)
                );
                self.show(&mut state, "reading", r.bytes, r.bytes_done, line);
                if r.files_done == r.files {
                    state.finish();
                }
            }
            SyncEvent::Working { ops, bytes } => {
                state.finish();
                state.batch = (ops, bytes);
                let line = format!("syncing 0/{ops} files (0 B/{})", words::bytes(bytes));
                self.show(&mut state, "syncing", bytes, 0, line);
            }
            SyncEvent::Progress {
                ops_done,
                bytes_done,
            } => {
                let (ops, bytes) = state.batch;
                let line = format!(
                    "synced {ops_done}/{ops} files ({}/{})",
                    words::bytes(bytes_done),
                    words::bytes(bytes)
                );
                // As lines, one at the end of a batch, not one per file.
                if self.shown == Shown::Bar || ops_done == ops {
                    self.show(&mut state, "syncing", bytes, bytes_done, line);
                }
                if ops_done == ops {
                    state.finish();
                }
            }
            SyncEvent::Settled(_) => state.finish(),
        }
    }

    /// Shows `line` (as the bar's message on a terminal, where the bar
    /// stands at `done` of `total` bytes).
    fn show(&self, state: &mut State, phase: &'static str, total: u64, done: u64, line: String) {
        match self.shown {
            Shown::Lines => eprintln!("{line}"),
            Shown::Bar => {
                let bar = state.bar.get_or_insert_with(|| new_bar(phase, total));
                bar.set_position(done);
                bar.set_message(line);
            }
            Shown::Nothing => {}
        }
    }
}

impl State {
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .finish();
    }
}

fn new_bar(phase: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total.max(1));
    let style = ProgressStyle::with_template(&format!("{phase:8} {{wide_bar}} {{msg}} {{eta}}"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
