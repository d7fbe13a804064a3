//! How to talk to the operator: quiet or verbose, text or JSON, a terminal or a
//! log file. Every command's messages go through these settings.

use std::io::IsTerminal;

/// Log format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How to talk to the user.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `-q`: only errors.
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
    pub format: LogFormat,
    /// stderr is a terminal (progress bars) rather than a file or a pipe (lines).
    pub terminal: bool,
}

impl Default for Ui {
    fn default() -> Ui {
        Ui {
            quiet: false,
            verbose: 0,
            format: LogFormat::Text,
            terminal: std::io::stderr().is_terminal(),
        }
    }
}
