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
    /// The bar shown, and the phase it shows.
    bar: Option<(Phase, ProgressBar)>,
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
                let done = Done {
                    files: (r.files_done, r.files),
                    bytes: (r.bytes_done, r.bytes),
                };
                self.show(&mut state, Phase::Reading, done);
                if r.files_done == r.files {
                    state.finish();
                }
            }
            SyncEvent::Working { ops, bytes } => {
                state.finish();
                state.batch = (ops, bytes);
                let done = Done {
                    files: (0, ops as u64),
                    bytes: (0, bytes),
                };
                self.show(&mut state, Phase::Syncing, done);
            }
            SyncEvent::Progress {
                ops_done,
                bytes_done,
            } => {
                let (ops, bytes) = state.batch;
                let done = Done {
                    files: (ops_done as u64, ops as u64),
                    bytes: (bytes_done, bytes),
                };
                // As lines, one at the end of a batch, not one per file.
                if self.shown == Shown::Bar || ops_done == ops {
                    self.show(&mut state, Phase::Synced, done);
                }
                if ops_done == ops {
                    state.finish();
                }
            }
            SyncEvent::Settled(_) => state.finish(),
        }
    }

    /// Shows how far `phase` is: a line, or on a terminal the bar (a new
    /// one where the phase changed: a round whose batch did not finish
    /// leaves its bar to the next phase otherwise).
    fn show(&self, state: &mut State, phase: Phase, done: Done) {
        let line = words::progress(phase, done.files, done.bytes);
        match self.shown {
            Shown::Lines => eprintln!("{line}"),
            Shown::Bar => {
                if state
                    .bar
                    .as_ref()
                    .is_some_and(|(p, _)| p.bar() != phase.bar())
                {
                    state.finish();
                }
                // Bytes where there are any; files where all are empty.
                let (at, total) = if done.bytes.1 > 0 {
                    done.bytes
                } else {
                    done.files
                };
                let (_, bar) = state
                    .bar
                    .get_or_insert_with(|| (phase, new_bar(phase, total)));
                bar.set_position(at.min(total));
                bar.set_message(line);
            }
            Shown::Nothing => {}
        }
    }
}

/// What a phase has done: (done, in all) of files and of bytes.
#[derive(Clone, Copy)]
struct Done {
    files: (u64, u64),
    bytes: (u64, u64),
}

/// What the shown progress is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A scan reading new and changed files.
    Reading,
    /// A round's batch starting.
    Syncing,
    /// A round's batch, as far as it went.
    Synced,
}

impl Phase {
    /// The bar it is shown on (a batch's start and progress share one).
    fn bar(self) -> Phase {
        match self {
            Phase::Synced => Phase::Syncing,
            p => p,
        }
    }
}

impl State {
    fn finish(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
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

fn new_bar(phase: Phase, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total.max(1));
    let label = words::phase(phase.bar());
    let style = ProgressStyle::with_template(&format!("{label:8} {{wide_bar}} {{msg}} {{eta}}"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
