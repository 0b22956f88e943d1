//! Progress of the tools' long operations (indicatif), drawn on stderr only when it is a
//! terminal: piped or redirected output (scripts, CI, the tests) is exactly what it was.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `done` out of a known total, with a message; invisible off a terminal.
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar counting `unit`s up to `total`.
    pub fn new(total: u64, unit: &str) -> Self {
        Self::with_target(total, unit, ProgressDrawTarget::stderr())
    }

    fn with_target(total: u64, unit: &str, target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template = format!("{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Self(bar)
    }

    /// Whether anything is drawn (stderr is a terminal): callers skip building messages
    /// otherwise.
    pub fn visible(&self) -> bool {
        !self.0.is_hidden()
    }

    pub fn set(&self, done: u64, message: String) {
        self.0.set_position(done);
        self.0.set_message(message);
    }

    /// Runs `print` with the bar hidden (a line printed under a drawn bar would be torn).
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        self.0.suspend(print)
    }

    /// Stops the bar and leaves it on screen.
    pub fn finish_visible(&self) {
        self.0.abandon();
    }

    /// Clears the bar (the tool then prints its result as always).
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.0.is_finished() {
            self.0.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_a_terminal_nothing_is_drawn() {
        let progress = Progress::with_target(10, "records", ProgressDrawTarget::hidden());
        assert!(!progress.visible());
        progress.set(5, "half".to_string());
        assert_eq!(progress.0.position(), 5);
        assert_eq!(progress.0.message(), "half");
        progress.finish();
    }
}
