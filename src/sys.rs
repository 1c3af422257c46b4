//! The system calls, each wrapped thinly: signals, processes, the terminal, `/proc`.
//!
//! `nix` is used where its types fit; signals go through `libc` directly, because dumb-init
//! handles every signal as a plain number and `nix::sys::signal::Signal` has no real-time signals
//! (nor can its `waitpid` decode a child killed by one).

use crate::exit::ChildExit;
use crate::say::{debug, error, Line};
use crate::signals;
use nix::errno::Errno;
use nix::libc::{self, c_char, c_int};
use nix::unistd;
use std::ffi::CString;
use std::fmt::Write;
use std::io::Read;

/// Writes all of `bytes` to stderr, retrying after interruptions; errors are dropped (there is
/// nowhere left to report them).
pub fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe a live slice.
        let n = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        match n {
            n if n > 0 => bytes = &bytes[n as usize..],
            -1 if Errno::last() == Errno::EINTR => continue,
            _ => return,
        }
    }
}

/// The C library's text for an error number, as `strerror` gives it (`No such file or directory`).
pub struct ErrorText {
    buf: [u8; 128],
}

pub fn describe(errno: Errno) -> ErrorText {
    let mut text = ErrorText { buf: [0; 128] };
    // SAFETY: strerror_r writes at most buf.len() bytes, NUL included, into the buffer given; the
    // buffer is zeroed, so it is NUL-terminated even if the call fails.
    unsafe { libc::strerror_r(errno as c_int, text.buf.as_mut_ptr().cast(), text.buf.len() - 1) };
    text
}

impl std::fmt::Display for ErrorText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.buf.iter().position(|&b| b == 0).unwrap_or(self.buf.len());
        f.write_str(&String::from_utf8_lossy(&self.buf[..len]))
    }
}

/// An error as 1.2.5's debug lines show it: `errno=25 Inappropriate ioctl for device`.
pub struct OsError(pub Errno);

impl std::fmt::Display for OsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "errno={} {}", self.0 as i32, describe(self.0))
    }
}

/// The signals dumb-init waits for: all of them.
pub struct SignalSet(libc::sigset_t);

/// Blocks every signal and puts each back to its default action, whatever dumb-init inherited
/// (a parent or shell may have ignored some, such as `SIGINT` for a background job). Signals then queue up until
/// `wait` takes them, one at a time, in the main loop.
///
/// Default actions are safe here, even as PID 1: the kernel never discards a blocked signal, and
/// only an *ignored* `SIGCHLD` makes it reap children behind dumb-init's back. The child inherits
/// these dispositions, so it has nothing to reset before exec.
pub fn take_over_signals() -> SignalSet {
    // Blocked first: from here on no signal can act on dumb-init, whatever its action.
    // SAFETY: sigfillset and sigprocmask only write the set passed in and this thread's mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        set
    };
    for signal in signals::all().filter(|&n| signals::catchable(n)) {
        // SAFETY: a zeroed sigaction asks for the default action, with no handler to run.
        unsafe {
            let action: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    SignalSet(set)
}

/// A signal taken from the queue, with who sent it.
#[derive(Clone, Copy)]
pub struct Received {
    pub signal: i32,
    /// The sender's PID for signals sent by a process (`si_code` is `SI_USER`); 0 otherwise.
    pub sender: i32,
}

/// Sleeps in the kernel until a signal is pending, and takes it.
pub fn wait(set: &SignalSet) -> Received {
    loop {
        if let Some(received) = wait_until(set, None) {
            return received;
        }
    }
}

/// Like `wait`, but gives up at `deadline` (nanoseconds on the monotonic clock) and returns `None`.
pub fn wait_until(set: &SignalSet, deadline: Option<u64>) -> Option<Received> {
    // SAFETY: siginfo_t is plain data; the kernel fills it in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let signal = match deadline {
        // SAFETY: valid set and info pointers.
        None => unsafe { libc::sigwaitinfo(&set.0, &mut info) },
        Some(deadline) => {
            let left = deadline.saturating_sub(monotonic_nanos());
            if left == 0 {
                return None;
            }
            let timeout = libc::timespec { tv_sec: (left / 1_000_000_000) as _, tv_nsec: (left % 1_000_000_000) as _ };
            // SAFETY: valid set, info and timeout pointers.
            unsafe { libc::sigtimedwait(&set.0, &mut info, &timeout) }
        }
    };
    if signal <= 0 {
        return None; // EINTR (a stop and continue) or EAGAIN (the deadline passed)
    }
    // SAFETY: si_pid is meaningful for SI_USER, which is the only case it is read.
    let sender = if info.si_code == libc::SI_USER { unsafe { info.si_pid() } } else { 0 };
    Some(Received { signal, sender })
}

/// Nanoseconds on the monotonic clock.
pub fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64)
}

/// `kill(2)`: a positive `pid` is a process, a negative one a process group, -1 everything
/// dumb-init may signal. Failure (typically: nobody left there) is rarely an error for dumb-init.
pub fn send(pid: i32, signal: i32) -> Result<(), Errno> {
    // SAFETY: kill has no memory effects.
    Errno::result(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// What one non-blocking `waitpid` found.
pub enum Reaped {
    Child(i32, ChildExit),
    /// Children exist but none has exited.
    NoneExited,
    /// No children at all.
    NoChildren,
}

/// Collects one exited child, if any, without waiting; `block` waits for one instead.
pub fn reap(block: bool) -> Reaped {
    let mut status: c_int = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, flags) };
        return match pid {
            0 => Reaped::NoneExited,
            -1 if Errno::last() == Errno::EINTR => continue,
            -1 => Reaped::NoChildren,
            pid => Reaped::Child(pid, ChildExit::from_wait_status(status)),
        };
    }
}

pub fn own_pid() -> i32 {
    unistd::getpid().as_raw()
}

pub fn parent_pid() -> i32 {
    unistd::getppid().as_raw()
}

/// Makes orphaned descendants re-parent to dumb-init instead of to the host's init.
pub fn become_subreaper() -> Result<(), Errno> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Asks the kernel for `signal` when dumb-init's parent dies.
pub fn set_parent_death_signal(signal: i32) -> Result<(), Errno> {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and no pointers.
    let result = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) };
    Errno::result(result).map(drop)
}

/// Gives up the controlling terminal (stdin's), so the child's new session can take it.
/// Returns whether dumb-init was its session leader.
pub fn detach_tty() -> Result<bool, Errno> {
    // SAFETY: TIOCNOTTY takes no argument.
    Errno::result(unsafe { libc::ioctl(libc::STDIN_FILENO, libc::TIOCNOTTY) })?;
    Ok(unistd::getsid(None).map(|sid| sid == unistd::getpid()).unwrap_or(false))
}

pub fn chdir_root() -> Result<(), Errno> {
    unistd::chdir("/")
}

/// Calls `f` with the PID of each child of dumb-init, as `/proc` lists them; returns how many.
/// Used only when shutting down with a grace period, as a subreaper.
pub fn for_each_child(mut f: impl FnMut(i32)) -> usize {
    // Single-threaded, so this thread's children are the process's children.
    let Ok(mut file) = std::fs::File::open("/proc/thread-self/children") else { return 0 };
    let mut buf = [0u8; 4096];
    let mut filled = 0;
    while let Ok(n @ 1..) = file.read(&mut buf[filled..]) {
        filled += n;
        if filled == buf.len() {
            break; // enough for one round; the caller asks again after reaping these
        }
    }
    let mut text = &buf[..filled];
    if filled == buf.len() {
        // A full buffer may end in the middle of a PID: leave the last word for the next round.
        text = &text[..text.iter().rposition(u8::is_ascii_whitespace).unwrap_or(0)];
    }
    let mut count = 0;
    for word in text.split(u8::is_ascii_whitespace) {
        if let Some(pid) = signals::decimal(word).filter(|&pid| pid > 0) {
            f(pid);
            count += 1;
        }
    }
    count
}

/// The child's command, made ready before `fork` so the child has nothing to allocate.
pub struct Command {
    _argv: Vec<CString>,
    pointers: Vec<*const c_char>,
    /// `[dumb-init] CMD: `, for an exec failure.
    failure_prefix: Vec<u8>,
}

impl Command {
    /// From the command's words. Arguments from `argv` hold no NUL byte, so none is dropped.
    pub fn new(words: Vec<Vec<u8>>) -> Command {
        let mut failure_prefix = b"[dumb-init] ".to_vec();
        failure_prefix.extend_from_slice(words.first().map_or(&b""[..], |w| w));
        failure_prefix.extend_from_slice(b": ");
        let argv: Vec<CString> = words.into_iter().filter_map(|w| CString::new(w).ok()).collect();
        let mut pointers: Vec<*const c_char> = argv.iter().map(|w| w.as_ptr()).collect();
        pointers.push(std::ptr::null());
        Command { _argv: argv, pointers, failure_prefix }
    }
}

/// Forks; the child becomes `command`. Returns the child's PID.
pub fn spawn(command: &Command, setsid: bool, verbose: bool) -> Result<i32, Errno> {
    // SAFETY: dumb-init has a single thread, so the child starts in a consistent state; it then
    // only makes system calls and formats into stack buffers until exec or _exit.
    match unsafe { libc::fork() } {
        -1 => Err(Errno::last()),
        0 => become_command(command, setsid, verbose),
        pid => Ok(pid),
    }
}

/// The child's side of `spawn`: never returns.
fn become_command(command: &Command, setsid: bool, verbose: bool) -> ! {
    if setsid {
        // SAFETY: setsid has no memory effects.
        if unsafe { libc::setsid() } == -1 {
            let errno = Errno::last();
            error!("Unable to setsid ({}). Exiting.", OsError(errno));
            // SAFETY: _exit is always safe; it skips the parent's atexit handlers and buffers.
            unsafe { libc::_exit(1) };
        }
        // Take the terminal dumb-init let go of, so an interactive shell gets job control.
        // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal it from another session).
        if unsafe { libc::ioctl(libc::STDIN_FILENO, libc::TIOCSCTTY, 0) } == -1 {
            let errno = Errno::last();
            debug!(verbose, "Unable to attach to controlling tty ({}).", OsError(errno));
        }
        debug!(verbose, "setsid complete.");
    }
    // Every action is the default already (see take_over_signals), so a signal queued for the
    // child before exec acts on it as it would after.
    // SAFETY: an empty set is valid; this opens the mask the command starts with.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // execvp searches PATH as the C library does (including running scripts without #! by sh).
        libc::execvp(command.pointers[0], command.pointers.as_ptr());
    }
    let errno = Errno::last();
    let mut line = Line::empty();
    line.push(&command.failure_prefix);
    let _ = write!(line, "{}", describe(errno));
    line.emit();
    // SAFETY: as above.
    unsafe { libc::_exit(2) }
}

/// Ends dumb-init with `status`.
pub fn exit(status: i32) -> ! {
    std::process::exit(status)
}
