//! Progress bars on stderr. indicatif hides them when stderr is not a terminal, so scripts
//! and CI logs stay clean.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `len` steps of work described by `message`.
pub fn bar(len: u64, message: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} ({eta} left)")
        .expect("the template is valid")
        .progress_chars("=> ");
    ProgressBar::new(len)
        .with_style(style)
        .with_message(message.to_owned())
}
