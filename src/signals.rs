//! Signal numbers and names, and the rewrite table applied before forwarding.
//!
//! Pure logic: no system calls. Names follow glibc's numbering whatever C library dumb-init is
//! linked with: the kernel has signals 1 to 64, glibc keeps 32 and 33 for its threads and calls 34
//! `SIGRTMIN`, musl keeps 32 to 34 and calls 35 `SIGRTMIN`. A user's `RTMIN+1` must mean the same
//! signal on every build, so the range is fixed here rather than asked of the C library. dumb-init
//! starts no threads, so 32 and 33 are ordinary signals to it: caught, forwarded, rewritable by number.

use crate::say::Lossy;
use nix::libc;
use std::fmt;

/// One more than the highest signal number on Linux (64 on every architecture we build for).
pub const TABLE_SIZE: usize = 65;

/// glibc's `SIGRTMIN`: the first real-time signal with a name.
pub const RTMIN: i32 = 34;

/// `SIGRTMAX`.
pub const RTMAX: i32 = 64;

/// The classic signals, numbered as the C library numbers them on this architecture.
const CLASSIC: [(i32, &str); 31] = [
    (libc::SIGHUP, "HUP"),
    (libc::SIGINT, "INT"),
    (libc::SIGQUIT, "QUIT"),
    (libc::SIGILL, "ILL"),
    (libc::SIGTRAP, "TRAP"),
    (libc::SIGABRT, "ABRT"),
    (libc::SIGBUS, "BUS"),
    (libc::SIGFPE, "FPE"),
    (libc::SIGKILL, "KILL"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGSEGV, "SEGV"),
    (libc::SIGUSR2, "USR2"),
    (libc::SIGPIPE, "PIPE"),
    (libc::SIGALRM, "ALRM"),
    (libc::SIGTERM, "TERM"),
    (libc::SIGSTKFLT, "STKFLT"),
    (libc::SIGCHLD, "CHLD"),
    (libc::SIGCONT, "CONT"),
    (libc::SIGSTOP, "STOP"),
    (libc::SIGTSTP, "TSTP"),
    (libc::SIGTTIN, "TTIN"),
    (libc::SIGTTOU, "TTOU"),
    (libc::SIGURG, "URG"),
    (libc::SIGXCPU, "XCPU"),
    (libc::SIGXFSZ, "XFSZ"),
    (libc::SIGVTALRM, "VTALRM"),
    (libc::SIGPROF, "PROF"),
    (libc::SIGWINCH, "WINCH"),
    (libc::SIGIO, "IO"),
    (libc::SIGPWR, "PWR"),
    (libc::SIGSYS, "SYS"),
];

/// Other names the C library and `kill -l` accept for the same signals.
const ALIASES: [(i32, &str); 3] = [(libc::SIGABRT, "IOT"), (libc::SIGCHLD, "CLD"), (libc::SIGIO, "POLL")];

/// Whether the kernel has signal `n`.
pub fn exists(n: i32) -> bool {
    (1..=RTMAX).contains(&n)
}

/// Whether a process can catch `n` (and so whether dumb-init can receive and forward it).
pub fn catchable(n: i32) -> bool {
    exists(n) && n != libc::SIGKILL && n != libc::SIGSTOP
}

/// Every signal with a name, in order: what `--list-signals` prints (as `kill -l` does, it leaves
/// out 32 and 33, which have none).
pub fn named() -> impl Iterator<Item = i32> {
    (1..=RTMAX).filter(|&n| n <= 31 || n >= RTMIN)
}

/// A signal's name as `kill -l` and the manual pages write it: `SIGTERM`, `SIGRTMIN+3`, `SIGRTMAX-1`.
pub struct Name(pub i32);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if let Some((_, name)) = CLASSIC.iter().find(|(num, _)| *num == n) {
            return write!(f, "SIG{name}");
        }
        // Like `kill -l`: the lower half counts up from RTMIN, the upper half down from RTMAX.
        match n {
            RTMIN => f.write_str("SIGRTMIN"),
            RTMAX => f.write_str("SIGRTMAX"),
            _ if n > RTMIN && n - RTMIN <= (RTMAX - RTMIN) / 2 => write!(f, "SIGRTMIN+{}", n - RTMIN),
            _ if n > RTMIN && n < RTMAX => write!(f, "SIGRTMAX-{}", RTMAX - n),
            _ => write!(f, "signal {n}"),
        }
    }
}

/// Why a word is not a signal; printed after the word itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadSignal {
    /// Not a number and not a name we know.
    Unknown,
    /// A number outside the signals the kernel has (such as 0 or 99).
    OutOfRange,
    /// `SIGKILL` or `SIGSTOP` where dumb-init must receive the signal: it never can.
    Uncatchable,
    /// `SIGCHLD` where dumb-init must receive the signal: it takes it for itself, to reap children.
    Reserved,
}

impl fmt::Display for BadSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadSignal::Unknown => {
                "not a signal; use a number (1-64) or a name such as TERM, SIGUSR1, RTMIN+3 \
                 (dumb-init --list-signals prints them all)"
            }
            BadSignal::OutOfRange => "no such signal; signals are 1-64",
            BadSignal::Uncatchable => "a signal that cannot be caught, so dumb-init never receives it",
            BadSignal::Reserved => "taken by dumb-init itself (SIGCHLD makes it reap children), so never forwarded",
        })
    }
}

/// Parses a signal given as a decimal number or a name (`TERM`, `SIGTERM`, `term`, `RTMIN+3`, `SIGRTMAX-1`).
pub fn parse(word: &[u8]) -> Result<i32, BadSignal> {
    if !word.is_empty() && word.iter().all(u8::is_ascii_digit) {
        let n = decimal(word).ok_or(BadSignal::OutOfRange)?;
        return if exists(n) { Ok(n) } else { Err(BadSignal::OutOfRange) };
    }
    // Names in any case: `term`, `SigTerm`, `rtmin+3`.
    let name = strip_prefix_ignoring_case(word, b"SIG").unwrap_or(word);
    let by_name = CLASSIC.iter().chain(ALIASES.iter()).find(|(_, known)| known.as_bytes().eq_ignore_ascii_case(name));
    if let Some((n, _)) = by_name {
        return Ok(*n);
    }
    let n = if let Some(rest) = strip_prefix_ignoring_case(name, b"RTMIN") {
        offset(rest, b'+').map(|k| RTMIN.saturating_add(k))
    } else if let Some(rest) = strip_prefix_ignoring_case(name, b"RTMAX") {
        offset(rest, b'-').map(|k| RTMAX.saturating_sub(k))
    } else {
        None
    };
    match n {
        Some(n) if (RTMIN..=RTMAX).contains(&n) => Ok(n),
        Some(_) => Err(BadSignal::OutOfRange),
        None => Err(BadSignal::Unknown),
    }
}

fn strip_prefix_ignoring_case<'a>(word: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = word.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &word[prefix.len()..])
}

/// Parses a signal that dumb-init must receive and act on: the source of a rewrite, `--pdeathsig`.
/// A rule for one it can never act on would be accepted and silently do nothing.
pub fn parse_receivable(word: &[u8]) -> Result<i32, BadSignal> {
    match parse(word)? {
        n if !catchable(n) => Err(BadSignal::Uncatchable),
        libc::SIGCHLD => Err(BadSignal::Reserved),
        n => Ok(n),
    }
}

/// The part after `RTMIN`/`RTMAX`: nothing (offset 0) or the sign and a decimal number.
fn offset(rest: &[u8], sign: u8) -> Option<i32> {
    match rest {
        [] => Some(0),
        // Too large to count is out of range, like any other offset past the end.
        [s, digits @ ..] if *s == sign && !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            Some(decimal(digits).unwrap_or(i32::MAX))
        }
        _ => None,
    }
}

/// A string of ASCII digits as a number, or `None` when it does not fit in an `i32`.
pub fn decimal(digits: &[u8]) -> Option<i32> {
    digits.iter().try_fold(0i32, |acc, d| acc.checked_mul(10)?.checked_add(i32::from(d - b'0')))
}

/// Why a `FROM:TO` rewrite rule was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRule<'a> {
    /// No `:` in the rule.
    Shape,
    /// The named part (`FROM` or `TO`) is not acceptable.
    Part(&'a [u8], BadSignal),
}

impl fmt::Display for BadRule<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRule::Shape => f.write_str("expected FROM:TO, two signals separated by a colon"),
            BadRule::Part(word, why) => write!(f, "'{}' is {why}", Lossy(word)),
        }
    }
}

/// Parses one rewrite rule `FROM:TO`; `TO` may be `0`, which means "do not forward".
pub fn parse_rule(rule: &[u8]) -> Result<(i32, i32), BadRule<'_>> {
    let colon = rule.iter().position(|&b| b == b':').ok_or(BadRule::Shape)?;
    let (from, to) = (&rule[..colon], &rule[colon + 1..]);
    let from_n = parse_receivable(from).map_err(|why| BadRule::Part(from, why))?;
    let to_n = if !to.is_empty() && to.iter().all(|&b| b == b'0') {
        0
    } else {
        parse(to).map_err(|why| BadRule::Part(to, why))?
    };
    Ok((from_n, to_n))
}

/// What each received signal becomes before it is forwarded.
#[derive(Clone, PartialEq, Eq)]
pub struct Rewrites {
    /// `to[n]` is the replacement for signal `n`: `None` forwards it unchanged, `Some(0)` drops it.
    to: [Option<u8>; TABLE_SIZE],
}

impl Default for Rewrites {
    fn default() -> Self {
        Rewrites { to: [None; TABLE_SIZE] }
    }
}

impl Rewrites {
    /// Sets the rule for `from`, replacing an earlier one (the last `-r` for a signal wins).
    pub fn set(&mut self, from: i32, to: i32) {
        if let (Some(slot), Ok(to)) = (self.to.get_mut(index(from)), u8::try_from(to)) {
            *slot = Some(to);
        }
    }

    /// Sets the rule for `from` unless one is already there (defaults, and variables under flags).
    pub fn set_if_absent(&mut self, from: i32, to: i32) {
        if self.rule(from).is_none() {
            self.set(from, to);
        }
    }

    /// The replacement the user asked for, if any.
    pub fn rule(&self, from: i32) -> Option<i32> {
        self.to.get(index(from)).copied().flatten().map(i32::from)
    }

    /// Adds every rule of `other` for which this table has none.
    pub fn fill_from(&mut self, other: &Rewrites) {
        for (n, to) in other.to.iter().enumerate() {
            if let (Some(to), None) = (to, self.to[n]) {
                self.to[n] = Some(*to);
            }
        }
    }
}

/// Puts signals taken together (one read of a signalfd) in the order dumb-init handles them:
/// each signal at most once a round. First the first instance of every signal, in the order the
/// kernel handed them out, then the second instances, and so on; the kernel's own order (lowest
/// number first) would hand out a queue of one real-time signal before any higher one.
pub fn fair_order<T>(batch: &mut [T], signal_of: impl Fn(&T) -> i32) {
    let mut placed = 0;
    while placed < batch.len() {
        let round_start = placed;
        let mut round = 0u64; // a bit per signal number already placed in this round
        for next in round_start..batch.len() {
            // No bit (0) for a number outside 1 to 64, which the kernel never hands out.
            let bit = 1u64.checked_shl((signal_of(&batch[next]) as u32).wrapping_sub(1)).unwrap_or(0);
            if bit == 0 || round & bit == 0 {
                round |= bit;
                // Moves it up to the end of the round, keeping the order of those it passes.
                batch[placed..=next].rotate_right(1);
                placed += 1;
            }
        }
    }
}

fn index(signal: i32) -> usize {
    usize::try_from(signal).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fair_order_takes_each_signal_once_a_round() {
        let order = |signals: &[i32]| {
            let mut batch = signals.to_vec();
            fair_order(&mut batch, |&n| n);
            batch
        };
        assert_eq!(order(&[]), Vec::<i32>::new());
        assert_eq!(order(&[18, 34, 34, 40]), [18, 34, 40, 34]);
        assert_eq!(order(&[40, 40, 40, 17]), [40, 17, 40, 40]);
        assert_eq!(order(&[1, 2, 1, 2, 1, 3]), [1, 2, 3, 1, 2, 1]);
        assert_eq!(order(&[64, 64, 1]), [64, 1, 64]);
        assert_eq!(order(&[5, 6, 7]), [5, 6, 7]);
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(parse(b"15"), Ok(15));
        assert_eq!(parse(b"TERM"), Ok(15));
        assert_eq!(parse(b"SIGTERM"), Ok(15));
        assert_eq!(parse(b"term"), Ok(15));
        assert_eq!(parse(b"SigUsr1"), Ok(10));
        assert_eq!(parse(b"CLD"), Ok(17));
        assert_eq!(parse(b"RTMIN"), Ok(34));
        assert_eq!(parse(b"RTMIN+3"), Ok(37));
        assert_eq!(parse(b"SIGRTMIN+3"), Ok(37));
        assert_eq!(parse(b"rtmax-1"), Ok(63));
        assert_eq!(parse(b"RTMAX"), Ok(64));
        assert_eq!(parse(b"64"), Ok(64));
        assert_eq!(parse(b"0015"), Ok(15));
        // glibc's reserved signals have no names, but dumb-init forwards them, so numbers are fine.
        assert_eq!(parse(b"32"), Ok(32));
        assert_eq!(parse(b"33"), Ok(33));
    }

    #[test]
    fn bad_signals() {
        assert_eq!(parse(b""), Err(BadSignal::Unknown));
        assert_eq!(parse(b"0"), Err(BadSignal::OutOfRange));
        assert_eq!(parse(b"65"), Err(BadSignal::OutOfRange));
        assert_eq!(parse(b"99999999999999"), Err(BadSignal::OutOfRange));
        assert_eq!(parse(b"-1"), Err(BadSignal::Unknown));
        assert_eq!(parse(b"+3"), Err(BadSignal::Unknown));
        assert_eq!(parse(b"3x"), Err(BadSignal::Unknown));
        assert_eq!(parse(b" 3"), Err(BadSignal::Unknown));
        assert_eq!(parse(b"SIG"), Err(BadSignal::Unknown));
        assert_eq!(parse(b"FOO"), Err(BadSignal::Unknown));
        assert_eq!(parse(b"RTMIN-1"), Err(BadSignal::Unknown));
        assert_eq!(parse(b"RTMAX+1"), Err(BadSignal::Unknown));
        assert_eq!(parse(b"RTMIN+"), Err(BadSignal::Unknown));
        assert_eq!(parse(b"RTMIN+31"), Err(BadSignal::OutOfRange));
        assert_eq!(parse(b"RTMAX-99999999999"), Err(BadSignal::OutOfRange));
        assert_eq!(parse_receivable(b"KILL"), Err(BadSignal::Uncatchable));
        assert_eq!(parse_receivable(b"19"), Err(BadSignal::Uncatchable));
        assert_eq!(parse_receivable(b"CHLD"), Err(BadSignal::Reserved));
        assert_eq!(parse_receivable(b"SIGCLD"), Err(BadSignal::Reserved));
        assert_eq!(parse_receivable(b"32"), Ok(32));
    }

    #[test]
    fn names_round_trip() {
        for n in named() {
            let name = Name(n).to_string();
            assert_eq!(parse(name.as_bytes()), Ok(n), "{name}");
        }
        assert_eq!(Name(15).to_string(), "SIGTERM");
        // As glibc and `kill -l` number them, whatever the C library.
        assert_eq!(Name(34).to_string(), "SIGRTMIN");
        assert_eq!(Name(35).to_string(), "SIGRTMIN+1");
        assert_eq!(Name(49).to_string(), "SIGRTMIN+15");
        assert_eq!(Name(50).to_string(), "SIGRTMAX-14");
        assert_eq!(Name(63).to_string(), "SIGRTMAX-1");
        assert_eq!(Name(64).to_string(), "SIGRTMAX");
        assert_eq!(named().count(), 31 + 31);
    }

    #[test]
    fn rules() {
        assert_eq!(parse_rule(b"15:3"), Ok((15, 3)));
        assert_eq!(parse_rule(b"TERM:QUIT"), Ok((15, 3)));
        assert_eq!(parse_rule(b"INT:0"), Ok((2, 0)));
        assert_eq!(parse_rule(b"RTMIN+2:TERM"), Ok((36, 15)));
        assert_eq!(parse_rule(b"32:33"), Ok((32, 33)));
        assert_eq!(parse_rule(b"TERM:CHLD"), Ok((15, 17)));
        assert_eq!(parse_rule(b"TSTP:STOP"), Ok((20, 19)));
        assert_eq!(parse_rule(b"15"), Err(BadRule::Shape));
        for bad in
            [&b"15:3x"[..], b"15::3", b":3", b"a:b", b"1:99", b"15:", b"9:15", b"STOP:1", b"15:-1", b"CHLD:15", b"17:0"]
        {
            assert!(parse_rule(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_rule(b"15:3x"), Err(BadRule::Part(b"3x", BadSignal::Unknown)));
    }

    #[test]
    fn rewrite_table() {
        let mut table = Rewrites::default();
        assert_eq!(table.rule(15), None);
        table.set(15, 3);
        table.set(15, 10);
        assert_eq!(table.rule(15), Some(10));
        table.set_if_absent(15, 1);
        assert_eq!(table.rule(15), Some(10));
        table.set(64, 0);
        assert_eq!(table.rule(64), Some(0));
        let mut flags = Rewrites::default();
        flags.set(2, 0);
        flags.fill_from(&table);
        assert_eq!((flags.rule(2), flags.rule(15), flags.rule(64)), (Some(0), Some(10), Some(0)));
        assert_eq!(table.rule(-1), None);
        assert_eq!(table.rule(1000), None);
    }
}
