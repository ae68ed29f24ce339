//! Where the commands write: readable lines (stdout), a progress bar on a terminal (stderr),
//! or nothing but the final JSON report.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How the commands report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// Readable lines on stdout, a progress bar on stderr when it is a terminal.
    #[default]
    Text,
    /// Progress lines on stderr; the caller prints the report as JSON on stdout.
    Json,
    /// Nothing (library callers that print the report themselves).
    Quiet,
}

/// The commands' output.
#[derive(Debug)]
pub struct Console {
    mode: OutputMode,
    /// A progress bar is drawn (stderr is a terminal, text mode).
    bar: bool,
    bar_shown: AtomicBool,
}

impl Console {
    pub fn new(mode: OutputMode) -> Console {
        Console {
            mode,
            bar: mode == OutputMode::Text && std::io::stderr().is_terminal(),
            bar_shown: AtomicBool::new(false),
        }
    }

    pub fn mode(&self) -> OutputMode {
        self.mode
    }

    /// One line of progress or result.
    pub fn line(&self, s: impl Display) {
        self.clear_bar();
        match self.mode {
            OutputMode::Text => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{s}");
                let _ = out.flush();
            }
            OutputMode::Json => eprintln!("{s}"),
            OutputMode::Quiet => {}
        }
    }

    /// Several lines.
    pub fn lines<I: IntoIterator<Item = S>, S: Display>(&self, lines: I) {
        for l in lines {
            self.line(l);
        }
    }

    /// Draws (or redraws) the progress bar: `[#######.......] 12/40  1m02s`. A no-op without a
    /// terminal, where the event lines are the progress.
    pub fn progress(&self, done: usize, total: usize, elapsed: Duration, status: &str) {
        if !self.bar {
            return;
        }
        const WIDTH: usize = 30;
        let total = total.max(done).max(1);
        let filled = done * WIDTH / total;
        let secs = elapsed.as_secs();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K[{}{}] {done}/{total}  {}m{:02}s  {status}",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            secs / 60,
            secs % 60
        );
        let _ = err.flush();
        self.bar_shown.store(true, Ordering::Relaxed);
    }

    /// Removes the progress bar (before a line, and at the end).
    pub fn clear_bar(&self) {
        if self.bar_shown.swap(false, Ordering::Relaxed) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// `1.2s`, `2m05s`.
pub fn human_duration(d: Duration) -> String {
    if d.as_secs() >= 60 {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
