//! Progress bars on stderr, drawn only when stderr is a terminal and the caller wants them.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether bars would be seen at all.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar of `length` steps labelled `what`; hidden unless `wanted` and stderr is a terminal.
pub fn bar(length: u64, what: &str, wanted: bool) -> ProgressBar {
    if !wanted || !stderr_is_terminal() {
        return ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::hidden());
    }
    let template = format!("{what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {{msg}} (eta {{eta}})");
    let style = ProgressStyle::with_template(&template).expect("a valid progress template");
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar
}

/// A spinner with `message`, for work whose length is unknown.
pub fn spinner(message: &str, wanted: bool) -> ProgressBar {
    if !wanted || !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_message(message.to_string());
    bar
}
