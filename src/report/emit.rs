//! `--emit`: the normalized leads as JSON Lines, to a file or stdout.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::create_output;

/// `--emit`: one JSON object per lead, one per line (rendered by the workers).
pub struct EmitWriter {
    out: BufWriter<Box<dyn Write + Send>>,
}

impl EmitWriter {
    pub fn create(path: &Path) -> io::Result<EmitWriter> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(io::stdout())
        } else {
            Box::new(create_output(path)?)
        };
        Ok(EmitWriter {
            out: BufWriter::with_capacity(256 * 1024, out),
        })
    }

    /// Rendered lines, newlines included.
    pub fn write_bytes(&mut self, lines: &[u8]) -> io::Result<()> {
        self.out.write_all(lines)
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}
