//! Messages: each is put together in a buffer on the stack and written with one `write(2)`, so
//! lines from dumb-init and its child do not interleave mid-line, nothing is allocated, and the
//! same code is safe to use between `fork` and `exec`.

use crate::sys;
use std::fmt;

/// Longer text is cut: a message must never fail for being long.
const CAPACITY: usize = 512;

/// Text being put together.
pub struct Text {
    buf: [u8; CAPACITY],
    len: usize,
}

impl Text {
    pub fn new() -> Text {
        Text { buf: [0; CAPACITY], len: 0 }
    }

    /// A line starting with the prefix of every dumb-init message.
    pub fn line() -> Text {
        let mut text = Text::new();
        text.push(b"[dumb-init] ");
        text
    }

    /// Appends raw bytes (such as a command name that is not UTF-8).
    pub fn push(&mut self, bytes: &[u8]) {
        let room = CAPACITY.saturating_sub(self.len + 1); // one byte is kept for a final newline
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Ends the text with a newline; there is always room for one.
    pub fn end_line(&mut self) {
        if self.len < CAPACITY {
            self.buf[self.len] = b'\n';
            self.len += 1;
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Ends the line and writes it to stderr.
    pub fn emit(mut self) {
        self.end_line();
        sys::write_stderr(self.as_bytes());
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", Lossy(self.as_bytes()))
    }
}

/// Shows bytes that need not be UTF-8 (a user's argument), with U+FFFD for what is not.
pub struct Lossy<'a>(pub &'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
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
    ($($arg:tt)*) => {
        $crate::say::emit_line(format_args!($($arg)*))
    };
}

/// Writes one `[dumb-init] ` line (one function for every message, not a copy at each).
#[inline(never)]
pub fn emit_line(args: fmt::Arguments<'_>) {
    let mut line = Text::line();
    let _ = fmt::Write::write_fmt(&mut line, args);
    line.emit();
}

pub(crate) use {debug, error};

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn long_lines_are_cut_not_failed() {
        let mut line = Text::line();
        let _ = write!(line, "{}", "x".repeat(5000));
        assert_eq!(line.len, CAPACITY - 1);
        assert!(line.as_bytes().starts_with(b"[dumb-init] xxx"));
        line.end_line();
        assert_eq!(line.as_bytes().last(), Some(&b'\n'));
    }

    #[test]
    fn lossy_bytes() {
        assert_eq!(Lossy(b"caf\xc3\xa9").to_string(), "café");
        assert_eq!(Lossy(b"a\xffb").to_string(), "a\u{FFFD}b");
    }
}
