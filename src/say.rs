//! Messages on stderr: each line is formatted into a buffer on the stack and written with one
//! `write(2)`, so lines from dumb-init and its child do not interleave mid-line, nothing is
//! allocated, and the same code is safe to use between `fork` and `exec`.

use crate::sys;
use std::fmt;

/// Longer lines are cut: a message must never fail for being long.
const CAPACITY: usize = 1024;

/// One line being put together.
pub struct Line {
    buf: [u8; CAPACITY],
    len: usize,
}

impl Line {
    /// A line starting with the prefix of every dumb-init message.
    pub fn new() -> Line {
        let mut line = Line { buf: [0; CAPACITY], len: 0 };
        line.push(b"[dumb-init] ");
        line
    }

    /// A line with no prefix, for callers that have the whole text ready.
    pub fn empty() -> Line {
        Line { buf: [0; CAPACITY], len: 0 }
    }

    /// Appends raw bytes (such as a command name that is not UTF-8).
    pub fn push(&mut self, bytes: &[u8]) {
        let room = CAPACITY - 1 - self.len; // one byte is kept for the newline
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Ends the line and writes it to stderr.
    pub fn emit(mut self) {
        self.buf[self.len] = b'\n';
        sys::write_stderr(&self.buf[..=self.len]);
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// `debug!(verbose, "format", args...)`: a `[dumb-init] ` line on stderr when `verbose` is on.
macro_rules! debug {
    ($verbose:expr, $($arg:tt)*) => {
        if $verbose {
            $crate::say::error!($($arg)*);
        }
    };
}

/// `error!("format", args...)`: a `[dumb-init] ` line on stderr, always.
macro_rules! error {
    ($($arg:tt)*) => {{
        let mut line = $crate::say::Line::new();
        let _ = ::std::fmt::Write::write_fmt(&mut line, format_args!($($arg)*));
        line.emit();
    }};
}

pub(crate) use {debug, error};

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn long_lines_are_cut_not_failed() {
        let mut line = Line::new();
        let _ = write!(line, "{}", "x".repeat(5000));
        assert_eq!(line.len, CAPACITY - 1);
        assert!(line.buf.starts_with(b"[dumb-init] xxx"));
    }
}
