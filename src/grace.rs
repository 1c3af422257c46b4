//! The `--grace-period` value: a number of seconds, fractions allowed, kept as nanoseconds.
//!
//! Pure logic: no system calls.

use std::fmt;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// The longest period accepted: about 31 years, far past any container's stop timeout.
const MAX_SECONDS: u64 = 1_000_000_000;

/// How long remaining processes get between `SIGTERM` and `SIGKILL` after the child exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GracePeriod {
    pub nanos: u64,
}

impl GracePeriod {
    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }
}

/// Prints the period the way a user writes it: `2`, `2.5`, `0.125`.
impl fmt::Display for GracePeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, mut frac) = (self.nanos / NANOS_PER_SECOND, self.nanos % NANOS_PER_SECOND);
        write!(f, "{whole}")?;
        if frac != 0 {
            let mut digits = 9;
            while frac % 10 == 0 {
                frac /= 10;
                digits -= 1;
            }
            write!(f, ".{frac:0digits$}")?;
        }
        Ok(())
    }
}

/// Why a grace period was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct BadGracePeriod;

impl fmt::Display for BadGracePeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected a number of seconds from 0 to {MAX_SECONDS}, such as 10 or 2.5")
    }
}

/// Parses `10`, `2.5`, `2.`, `.5`: plain decimal digits with at most one point. Digits past the
/// ninth decimal place are accepted and dropped (nanoseconds are the kernel's resolution).
pub fn parse(word: &[u8]) -> Result<GracePeriod, BadGracePeriod> {
    let (whole, frac) = match word.iter().position(|&b| b == b'.') {
        Some(point) => (&word[..point], &word[point + 1..]),
        None => (word, &b""[..]),
    };
    let digits_only = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if (whole.is_empty() && frac.is_empty()) || !digits_only(whole) || !digits_only(frac) {
        return Err(BadGracePeriod);
    }
    let mut seconds: u64 = 0;
    for d in whole {
        seconds = seconds.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    if seconds > MAX_SECONDS {
        return Err(BadGracePeriod);
    }
    let mut nanos: u64 = 0;
    for place in 0..9 {
        nanos = nanos * 10 + frac.get(place).map_or(0, |d| u64::from(d - b'0'));
    }
    Ok(GracePeriod { nanos: seconds * NANOS_PER_SECOND + nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        assert_eq!(parse(b"0"), Ok(GracePeriod { nanos: 0 }));
        assert_eq!(parse(b"10"), Ok(GracePeriod { nanos: 10_000_000_000 }));
        assert_eq!(parse(b"2.5"), Ok(GracePeriod { nanos: 2_500_000_000 }));
        assert_eq!(parse(b"2."), Ok(GracePeriod { nanos: 2_000_000_000 }));
        assert_eq!(parse(b".5"), Ok(GracePeriod { nanos: 500_000_000 }));
        assert_eq!(parse(b"0.0000000019"), Ok(GracePeriod { nanos: 1 }));
        assert_eq!(parse(b"1000000000"), Ok(GracePeriod { nanos: MAX_SECONDS * NANOS_PER_SECOND }));
    }

    #[test]
    fn refused() {
        for bad in [&b""[..], b".", b"-1", b"+1", b"1e3", b"abc", b"1.2.3", b" 1", b"1s", b"inf", b"nan", b"1000000001"]
        {
            assert_eq!(parse(bad), Err(BadGracePeriod), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(b"99999999999999999999999999"), Err(BadGracePeriod));
    }

    #[test]
    fn printing() {
        for text in ["0", "2", "2.5", "0.125", "0.000000001", "30"] {
            assert_eq!(parse(text.as_bytes()).map(|g| g.to_string()), Ok(text.to_string()));
        }
    }
}
