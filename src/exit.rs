//! Exit-status rules: how a child's end becomes dumb-init's exit status, and `--remap-exit`.
//!
//! Pure logic: no system calls.

use std::fmt;

/// How the direct child ended, as `waitpid` reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// It called `exit(code)`.
    Exited(i32),
    /// It was killed by a signal.
    Killed(i32),
}

impl ChildExit {
    /// Decodes a raw `waitpid` status (only terminations are ever asked for).
    pub fn from_wait_status(status: i32) -> ChildExit {
        // The encoding is fixed by the kernel ABI: low 7 bits are the terminating signal, 0 for a
        // normal exit, whose code is then in the next byte.
        match status & 0x7f {
            0 => ChildExit::Exited((status >> 8) & 0xff),
            signal => ChildExit::Killed(signal),
        }
    }

    /// dumb-init's exit status for this end: the child's own code, or 128 + N for signal N,
    /// as a shell reports it.
    pub fn status(self) -> i32 {
        match self {
            ChildExit::Exited(code) => code,
            ChildExit::Killed(signal) => 128 + signal,
        }
    }
}

/// `--remap-exit` rules: exit status FROM becomes TO.
#[derive(Clone, PartialEq, Eq)]
pub struct Remap {
    /// Bit `s` is set when status `s` has a rule (a table of `Option<u8>` would take twice the
    /// room, and dumb-init keeps its stack, hence its memory, small).
    ruled: [u64; 4],
    to: [u8; 256],
}

impl Default for Remap {
    fn default() -> Self {
        Remap { ruled: [0; 4], to: [0; 256] }
    }
}

impl Remap {
    /// Sets the rule for `from`; a later rule for the same status wins.
    pub fn set(&mut self, from: u8, to: u8) {
        self.ruled[usize::from(from / 64)] |= 1 << (from % 64);
        self.to[usize::from(from)] = to;
    }

    fn rule(&self, from: u8) -> Option<u8> {
        let ruled = self.ruled[usize::from(from / 64)] & (1 << (from % 64)) != 0;
        ruled.then_some(self.to[usize::from(from)])
    }

    /// Adds every rule of `other` for which this one has none (flags win over the variable).
    pub fn fill_from(&mut self, other: &Remap) {
        for from in 0..=u8::MAX {
            if let (None, Some(to)) = (self.rule(from), other.rule(from)) {
                self.set(from, to);
            }
        }
    }

    /// The status dumb-init exits with, given the status it would have exited with.
    pub fn apply(&self, status: i32) -> i32 {
        let rule = u8::try_from(status).ok().and_then(|s| self.rule(s));
        rule.map_or(status, i32::from)
    }
}

/// Why a `FROM:TO` exit rule was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRemap;

impl fmt::Display for BadRemap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected FROM:TO, two exit statuses from 0 to 255 (e.g. 143:0)")
    }
}

/// Parses one `FROM:TO` rule, each part a plain decimal number from 0 to 255.
pub fn parse_rule(rule: &[u8]) -> Result<(u8, u8), BadRemap> {
    let colon = rule.iter().position(|&b| b == b':').ok_or(BadRemap)?;
    Ok((status(&rule[..colon])?, status(&rule[colon + 1..])?))
}

fn status(word: &[u8]) -> Result<u8, BadRemap> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return Err(BadRemap);
    }
    let n = crate::signals::decimal(word).ok_or(BadRemap)?;
    u8::try_from(n).map_err(|_| BadRemap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_decoding() {
        assert_eq!(ChildExit::from_wait_status(0), ChildExit::Exited(0));
        assert_eq!(ChildExit::from_wait_status(3 << 8), ChildExit::Exited(3));
        assert_eq!(ChildExit::from_wait_status(255 << 8), ChildExit::Exited(255));
        assert_eq!(ChildExit::from_wait_status(15), ChildExit::Killed(15));
        assert_eq!(ChildExit::from_wait_status(0x80 | 11), ChildExit::Killed(11)); // with core dump
        assert_eq!(ChildExit::from_wait_status(64), ChildExit::Killed(64));
    }

    #[test]
    fn statuses() {
        assert_eq!(ChildExit::Exited(0).status(), 0);
        assert_eq!(ChildExit::Exited(255).status(), 255);
        assert_eq!(ChildExit::Killed(15).status(), 143);
        assert_eq!(ChildExit::Killed(64).status(), 192);
    }

    #[test]
    fn remapping() {
        let mut remap = Remap::default();
        assert_eq!(remap.apply(143), 143);
        remap.set(143, 0);
        remap.set(143, 1);
        assert_eq!(remap.apply(143), 1);
        assert_eq!(remap.apply(0), 0);
        let mut flags = Remap::default();
        flags.set(143, 7);
        flags.set(130, 0);
        remap.fill_from(&flags);
        assert_eq!((remap.apply(143), remap.apply(130)), (1, 0));
        // A rule to the status itself is a rule too (it keeps a variable's rule out).
        let mut same = Remap::default();
        same.set(255, 255);
        let mut env = Remap::default();
        env.set(255, 0);
        same.fill_from(&env);
        assert_eq!((same.apply(255), same.apply(256), same.apply(-1)), (255, 256, -1));
    }

    #[test]
    fn rules() {
        assert_eq!(parse_rule(b"143:0"), Ok((143, 0)));
        assert_eq!(parse_rule(b"0:255"), Ok((0, 255)));
        for bad in [&b"143"[..], b"256:0", b"1:256", b":0", b"1:", b"a:b", b"1:2:3", b"-1:0", b" 1:0", b"1:0x"] {
            assert_eq!(parse_rule(bad), Err(BadRemap), "{}", String::from_utf8_lossy(bad));
        }
    }
}
