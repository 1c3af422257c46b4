//! The system calls, each wrapped thinly: signals, processes, the terminal, `/proc`.
//!
//! Signals go through the kernel's own calls (`rt_sigprocmask`, `rt_sigaction`,
//! `rt_sigtimedwait`), not the C library's wrappers: those leave out the signals the C library
//! keeps for its threads (32 and 33 on glibc, 32 to 34 on musl), which would then keep their
//! default action and kill dumb-init. A signal set is the kernel's 64-bit mask, the same on every
//! architecture dumb-init is built for. `nix` is used where its types fit.

use crate::command::{self, Failure};
use crate::errno::ErrorText;
use crate::exit::ChildExit;
use crate::say::{debug, error, Text};
use crate::signals;
use nix::errno::Errno;
use nix::libc::{self, c_char, c_int, c_long};
use nix::unistd;
use std::ffi::CStr;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stderr is a pipe nobody reads: every later write would fail the same way, and each
/// failure would queue one more `SIGPIPE` for dumb-init.
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Writes all of `bytes` to stderr. Errors drop the message (there is nowhere left to report
/// them); a broken pipe stops all later writes.
pub fn write_stderr(bytes: &[u8]) {
    if !STDERR_GONE.load(Ordering::Relaxed) && write_all(libc::STDERR_FILENO, bytes) == Err(Errno::EPIPE) {
        STDERR_GONE.store(true, Ordering::Relaxed);
    }
}

/// Writes all of `bytes` to `fd`, retrying after interruptions.
pub fn write_all(fd: c_int, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        match Errno::result(n) {
            Ok(n) => bytes = &bytes[n as usize..],
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

extern "C" {
    /// The process's environment, as the C runtime set it up (`NAME=value` strings).
    static environ: *const *const c_char;
}

/// The value of environment variable `name`, as `getenv` finds it.
pub fn getenv(name: &str) -> Option<&'static [u8]> {
    // SAFETY: the C runtime leaves `environ` a NULL-terminated array of NUL-terminated strings,
    // and dumb-init never changes its environment, so they stay valid for the whole run.
    unsafe {
        let mut entry = environ;
        while !(*entry).is_null() {
            let bytes = CStr::from_ptr(*entry).to_bytes();
            if let Some(value) = bytes.strip_prefix(name.as_bytes()).and_then(|rest| rest.strip_prefix(b"=")) {
                return Some(value);
            }
            entry = entry.add(1);
        }
    }
    None
}

/// An error as 1.2.5's debug lines show it: `errno=25 Inappropriate ioctl for device`.
pub struct OsError(pub Errno);

impl std::fmt::Display for OsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "errno={} {}", self.0 as i32, ErrorText(self.0 as i32))
    }
}

/// A set of signals as the kernel takes it: bit `n - 1` for signal `n`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Mask(u64);

impl Mask {
    /// Signals 1 to 64 (the kernel leaves `SIGKILL` and `SIGSTOP` out of a mask by itself).
    const ALL: Mask = Mask(u64::MAX);
    const NONE: Mask = Mask(0);

    fn of(signal: i32) -> Mask {
        Mask(1 << (signal - 1))
    }
}

/// The kernel's `struct timespec` for the calls made here directly (`long` fields, as the calls
/// without a `_time64` suffix take on 32-bit architectures too).
#[repr(C)]
struct Timespec {
    sec: c_long,
    nsec: c_long,
}

impl Timespec {
    fn from_nanos(nanos: u64) -> Timespec {
        let sec = (nanos / 1_000_000_000).min(c_long::MAX as u64) as c_long;
        Timespec { sec, nsec: (nanos % 1_000_000_000) as c_long }
    }
}

fn set_mask(mask: Mask) {
    // SAFETY: rt_sigprocmask reads one 8-byte mask, the size passed, and writes nothing.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &mask.0, std::ptr::null_mut::<u64>(), 8) };
}

/// Blocks every signal and puts each back to its default action, whatever dumb-init inherited
/// (a parent or shell may have ignored some, such as `SIGINT` for a background job). Signals then
/// queue up until `Signals::next` takes them, one at a time, in the main loop.
///
/// Default actions are safe here, even as PID 1: the kernel never discards a blocked signal, and
/// only an *ignored* `SIGCHLD` makes it reap children behind dumb-init's back. The child inherits
/// these actions, so it has nothing to reset before exec.
pub fn take_over_signals() {
    // Blocked first: from here on no signal can act on dumb-init, whatever its action.
    set_mask(Mask::ALL);
    // The kernel's struct sigaction is at most 32 bytes on the architectures built for; all zero
    // is the default action, no flags and an empty mask, whatever its layout.
    let default_action = [0u64; 4];
    for signal in (1..=signals::RTMAX).filter(|&n| signals::catchable(n)) {
        // SAFETY: rt_sigaction reads the action from a buffer large enough for the kernel's
        // struct, and is given no place to write the old one.
        unsafe {
            libc::syscall(libc::SYS_rt_sigaction, signal, default_action.as_ptr(), std::ptr::null_mut::<u64>(), 8)
        };
    }
}

/// A signal taken from the queue, with who sent it.
#[derive(Clone, Copy)]
pub struct Received {
    pub signal: i32,
    /// The sender's PID for signals sent by a process (`si_code` is `SI_USER`); 0 otherwise.
    pub sender: i32,
}

/// What woke the supervisor.
pub enum Event {
    Signal(Received),
    /// The process that started dumb-init has exited (see `Signals::watch_parent`).
    ParentDied,
    /// The deadline passed.
    Deadline,
}

/// How many signals one read of the signalfd takes at most. A signal that is not real-time is
/// pending at most once at the thread and once at the process, so only a queue of one real-time
/// signal fills a batch; signals come one or two at a time otherwise.
const BATCH: usize = 8;

/// dumb-init's incoming signals (all of them, blocked and queued), and optionally its parent.
pub struct Signals {
    /// A signalfd of every signal (blocking, close-on-exec): one `read` takes every pending signal,
    /// up to `BATCH`, where `rt_sigtimedwait` takes one. The error where the kernel would not make
    /// one (no descriptor left, say): then signals are taken one at a time.
    fd: Result<c_int, Errno>,
    /// The signals of the last read, in the order they are handled, and how many of them are.
    batch: [Received; BATCH],
    len: usize,
    handed: usize,
    /// Set when the last read may have left signals behind (it filled the batch): the signals it
    /// took. Each other pending signal is then taken once before the next read, so that no stream
    /// of one signal can starve the others. The kernel hands out signals sent to the thread
    /// before those sent to the process, and the lowest-numbered first, so a queue of one signal
    /// sent to dumb-init's thread would otherwise keep `SIGCHLD` waiting until it ran dry.
    round: Mask,
    /// A pidfd of the parent, with `--pdeathsig`: it becomes readable when the parent exits.
    parent: Option<c_int>,
}

impl Signals {
    /// Call with every signal blocked (see `take_over_signals`).
    pub fn new() -> Signals {
        // SAFETY: signalfd4 reads one 8-byte mask; the descriptor is not inherited by the command.
        let fd = unsafe { libc::syscall(libc::SYS_signalfd4, -1, &Mask::ALL.0, 8, libc::SFD_CLOEXEC) };
        let fd = Errno::result(fd).map(|fd| fd as c_int);
        let nothing = Received { signal: 0, sender: 0 };
        Signals { fd, batch: [nothing; BATCH], len: 0, handed: 0, round: Mask::NONE, parent: None }
    }

    /// Watches process `parent` from now on: `next` reports `Event::ParentDied` once it has exited.
    /// Unlike the kernel's parent-death signal, which comes when the *thread* that started
    /// dumb-init ends, this is the whole process. Returns whether the parent is gone already;
    /// fails where the kernel has no pidfds (before Linux 5.3) or no signalfd could be made.
    pub fn watch_parent(&mut self, parent: i32) -> Result<bool, Errno> {
        // The pidfd is waited for together with the signalfd: without one, nothing can be.
        self.fd?;
        // SAFETY: pidfd_open takes a PID and flags.
        let pidfd = match Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, parent, 0) }) {
            Ok(pidfd) => pidfd as c_int,
            Err(Errno::ESRCH) => return Ok(true),
            Err(errno) => return Err(errno),
        };
        if parent_pid() != parent {
            // Re-parented: the parent exited before the pidfd was made, which may name another
            // process by now.
            close(pidfd);
            return Ok(true);
        }
        self.parent = Some(pidfd);
        Ok(false)
    }

    /// Sleeps in the kernel until a signal is pending and takes it, or until the parent being
    /// watched exits, or until `deadline` (nanoseconds on the monotonic clock) passes. An
    /// interruption (dumb-init stopped and continued) is never taken for the deadline.
    pub fn next(&mut self, deadline: Option<u64>) -> Event {
        loop {
            if self.handed < self.len {
                self.handed += 1;
                return Event::Signal(self.batch[self.handed - 1]);
            }
            if self.round != Mask::NONE {
                if let Ok(received) = take(Mask(!self.round.0), Some(0)) {
                    self.round.0 |= Mask::of(received.signal).0;
                    return Event::Signal(received);
                }
                self.round = Mask::NONE; // nothing else pending: the next read starts afresh
            }
            let left = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_sub(monotonic_nanos()) {
                    Some(left) if left > 0 => Some(left),
                    _ => return Event::Deadline,
                },
            };
            match self.fd {
                Ok(fd) if self.parent.is_some() || left.is_some() => match self.wait(fd, left) {
                    Woke::Signal => self.read(fd),
                    Woke::ParentExited => return Event::ParentDied,
                    Woke::Neither => {} // the time is up, or an interruption: the next round sees which
                },
                Ok(fd) => self.read(fd),
                Err(_) => {
                    // EAGAIN (time is up) or EINTR: the next round sees which.
                    if let Ok(received) = take(Mask::ALL, left) {
                        // Taken alone, it is a full batch: the others pending go next.
                        self.round = Mask::of(received.signal);
                        return Event::Signal(received);
                    }
                }
            }
        }
    }

    /// Takes every pending signal, up to a batch (waiting for one if none is), and puts them in
    /// the order in which they are handled.
    fn read(&mut self, fd: c_int) {
        // SAFETY: signalfd_siginfo is plain data; the kernel fills in whole entries.
        let mut infos: [libc::signalfd_siginfo; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: reads into the array, at most its size.
        let n = unsafe { libc::read(fd, infos.as_mut_ptr().cast(), std::mem::size_of_val(&infos)) };
        let Ok(n) = Errno::result(n) else { return }; // EINTR: dumb-init was stopped and continued
        self.len = n as usize / std::mem::size_of::<libc::signalfd_siginfo>();
        self.handed = 0;
        for (slot, info) in self.batch.iter_mut().zip(&infos[..self.len]) {
            let sender = if info.ssi_code == libc::SI_USER { info.ssi_pid as i32 } else { 0 };
            *slot = Received { signal: info.ssi_signo as i32, sender };
        }
        let batch = &mut self.batch[..self.len];
        signals::fair_order(batch, |received| received.signal);
        if self.len == BATCH {
            self.round = batch.iter().fold(Mask::NONE, |mask, received| Mask(mask.0 | Mask::of(received.signal).0));
        }
    }

    /// Waits up to `left` nanoseconds (`None`: no limit) for a signal to be pending or the parent
    /// to exit; a signal goes first.
    fn wait(&mut self, fd: c_int, left: Option<u64>) -> Woke {
        let mut fds = [
            libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
            // A negative descriptor is skipped: no parent to watch.
            libc::pollfd { fd: self.parent.unwrap_or(-1), events: libc::POLLIN, revents: 0 },
        ];
        let timeout = left.map(Timespec::from_nanos);
        let timeout_ptr = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const Timespec);
        // SAFETY: two valid pollfd entries, a timespec or NULL, and no signal mask to change.
        let ready =
            unsafe { libc::syscall(libc::SYS_ppoll, fds.as_mut_ptr(), 2, timeout_ptr, std::ptr::null::<u64>(), 8) };
        if ready <= 0 {
            Woke::Neither
        } else if fds[0].revents != 0 {
            Woke::Signal
        } else if let Some(pidfd) = self.parent.take() {
            close(pidfd);
            Woke::ParentExited
        } else {
            Woke::Neither
        }
    }
}

/// What `Signals::wait` saw.
enum Woke {
    Signal,
    ParentExited,
    Neither,
}

/// Takes one pending signal of `mask`, waiting up to `timeout` nanoseconds (`None`: no limit).
fn take(mask: Mask, timeout: Option<u64>) -> Result<Received, Errno> {
    if mask == Mask::NONE {
        return Err(Errno::EAGAIN);
    }
    // SAFETY: siginfo_t is plain data; the kernel fills it in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let timeout = timeout.map(Timespec::from_nanos);
    let timeout_ptr = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const Timespec);
    // SAFETY: a valid mask of the size passed, a siginfo to fill in, a timespec or NULL.
    let signal = unsafe { libc::syscall(libc::SYS_rt_sigtimedwait, &mask.0, &mut info, timeout_ptr, 8) };
    let signal = Errno::result(signal)? as i32;
    // SAFETY: si_pid is meaningful for SI_USER, which is the only case it is read.
    let sender = if info.si_code == libc::SI_USER { unsafe { info.si_pid() } } else { 0 };
    Ok(Received { signal, sender })
}

fn close(fd: c_int) {
    // SAFETY: closes a descriptor this module opened and no one else uses.
    unsafe { libc::close(fd) };
}

/// Nanoseconds on the monotonic clock.
pub fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64)
}

/// `kill(2)`: a positive `pid` is a process, a negative one a process group, -1 everything
/// dumb-init may signal; signal 0 only checks that one may. Failure (typically: nobody left
/// there) is rarely an error for dumb-init.
pub fn send(pid: i32, signal: i32) -> Result<(), Errno> {
    // SAFETY: kill has no memory effects.
    Errno::result(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// The process group of `pid`.
pub fn group_of(pid: i32) -> Result<i32, Errno> {
    // SAFETY: getpgid has no memory effects.
    Errno::result(unsafe { libc::getpgid(pid) })
}

/// What one `waitpid` found.
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

/// Asks the kernel for `signal` when the thread that started dumb-init exits.
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
    // SAFETY: a NUL-terminated path.
    Errno::result(unsafe { libc::chdir(c"/".as_ptr()) }).map(drop)
}

/// Calls `f` with the PID of each child of dumb-init, as `/proc` lists them; returns how many, or
/// `None` without `/proc`. Used only once the direct child has exited.
pub fn for_each_child(mut f: impl FnMut(i32)) -> Option<usize> {
    // Single-threaded, so this thread's children are the process's children.
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe { libc::open(c"/proc/thread-self/children".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // The list outgrows any buffer (700 orphans with 5-digit PIDs fill 4 KiB, 512 with 7-digit
    // ones), so it is read piece by piece, and a PID the end of a piece cuts goes on in the next
    // (the kernel cuts a PID wherever a read's buffer ends, unless a whole page of them fits).
    // The kernel ends every PID with a space: a PID counts once its space is read, so one cut
    // short by a failed read is dropped, never signalled as a shorter PID. The list keeps its
    // order between reads: dumb-init reaps nothing meanwhile, and orphans re-parented to it
    // meanwhile join at the end. A small buffer keeps the stack small.
    let mut buf = [0u8; 512];
    let mut digits: Option<u64> = None;
    let mut count = 0;
    loop {
        // SAFETY: reads into the buffer, at most its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        for &byte in &buf[..n as usize] {
            if byte.is_ascii_digit() {
                let value = digits.unwrap_or(0).saturating_mul(10).saturating_add(u64::from(byte - b'0'));
                digits = Some(value);
            } else if let Some(pid) = digits.take().and_then(|value| i32::try_from(value).ok()) {
                if pid > 0 {
                    f(pid);
                    count += 1;
                }
            }
        }
    }
    close(fd);
    Some(count)
}

/// The child's command: its words, as the C runtime passed them to dumb-init (a NULL-terminated
/// array of strings), and the `PATH` to look it up in. Nothing is allocated: the child builds each
/// path to try on its stack, as glibc's `execvp` does.
pub struct Command {
    /// The command's first word, within dumb-init's own `argv`; at least one word (dumb-init's
    /// name) comes before it, which the child may overwrite (see `exec`).
    argv: *mut *const c_char,
    path: Option<&'static [u8]>,
}

impl Command {
    /// # Safety
    /// `argv` points into the `argv` array the C runtime gave `main`, past its first element, at
    /// the command's first word.
    pub unsafe fn new(argv: *mut *const c_char) -> Command {
        Command { argv, path: getenv("PATH") }
    }
}

/// The size of the stack the child runs on until it execs: enough for the deepest path, the exec
/// error's message (a `PATH_BUFFER` for the candidate path, a message buffer, and the formatting
/// code's frames), several times over.
const CHILD_STACK: usize = 32 * 1024;

/// What the child needs to become the command, passed to it through `clone`.
struct Start<'a> {
    command: &'a Command,
    setsid: bool,
    verbose: bool,
}

/// Starts the child, which becomes `command`; returns its PID once it has exec'd (or exited).
///
/// Not `fork`: copying dumb-init's page tables for a child that execs at once is most of an
/// init's start-up. The child is made with `CLONE_VM | CLONE_VFORK`, as `posix_spawn` makes
/// its child: it runs in dumb-init's own memory, on a stack of its own, while dumb-init's one
/// thread is suspended until the child's `execve` succeeds or the child exits. (`posix_spawn`
/// itself cannot take the terminal with `TIOCSCTTY`, so the steps are dumb-init's own.)
///
/// Signals sent to dumb-init meanwhile wait, blocked, until the loop takes them, and by then the
/// child has its own session, so they reach its process group.
pub fn spawn(command: &Command, setsid: bool, verbose: bool) -> Result<i32, Errno> {
    let start = Start { command, setsid, verbose };
    // The ENOEXEC fallback writes two slots of dumb-init's argv (see exec_one); the child puts
    // them back after a failed exec, and this puts them back after a successful one.
    // SAFETY: Command::new guarantees a slot before the command's first word.
    let slots = unsafe { (*command.argv.sub(1), *command.argv) };
    // A mapping of its own, unmapped once the child is done with it, so that nothing of the
    // child's stays resident (a static buffer would split dumb-init's few variables over more pages).
    // SAFETY: a new private anonymous mapping: no memory of dumb-init's is touched.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            CHILD_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    // SAFETY: the child runs `child_main` on the top of its own stack (every architecture built
    // for has stacks growing down; mmap gives page-aligned memory, aligned enough for any ABI),
    // with `start`, which lives until clone returns. With CLONE_VFORK clone returns only once the
    // child has exec'd or exited, so nothing of the child's runs alongside dumb-init: see
    // become_command for what it may touch. SIGCHLD is the signal its exit sends, as for a
    // forked child.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.cast::<u8>().add(CHILD_STACK).cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::addr_of!(start).cast_mut().cast(),
        )
    };
    let errno = Errno::last();
    // SAFETY: as above; the child is done with them.
    unsafe { (*command.argv.sub(1), *command.argv) = slots };
    // SAFETY: the mapping made above, which the child (exec'd or exited) no longer uses.
    unsafe { libc::munmap(stack, CHILD_STACK) };
    if pid == -1 {
        return Err(errno);
    }
    Ok(pid)
}

/// The child's entry point on its own stack: never returns.
extern "C" fn child_main(start: *mut libc::c_void) -> c_int {
    // SAFETY: `start` is spawn's `Start`, alive until clone returns there, which is after this
    // child has exec'd or exited.
    let start = unsafe { &*start.cast::<Start>() };
    become_command(start.command, start.setsid, start.verbose)
}

/// The child's side of `spawn`: never returns.
///
/// It runs in dumb-init's memory (`CLONE_VM`), so it does only what is safe there: system calls,
/// and messages put together in buffers on its own stack. It allocates nothing, takes no lock,
/// and runs no signal handler (dumb-init has none: every action is the default). The writes it
/// makes to memory it shares with dumb-init are: the C library's `errno` of the one thread (set
/// by a failing call, and read by dumb-init only right after a failing call of its own); the
/// stderr-gone flag (set only when stderr is a pipe nobody reads, which is as true for dumb-init,
/// since both write to the same pipe); and two slots of argv, put back before `spawn` returns.
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
    if STDERR_GONE.load(Ordering::Relaxed) {
        // A line above hit a pipe nobody reads, and the kernel queued a SIGPIPE for this process,
        // which would kill it the moment its mask opens: drop it (but not one forwarded to it).
        if let Ok(received) = take(Mask::of(libc::SIGPIPE), Some(0)) {
            if received.sender != own_pid() {
                let _ = send(own_pid(), libc::SIGPIPE);
            }
        }
    }
    // Every action is the default already (see take_over_signals), so a signal queued for the
    // child before exec acts on it as it would after.
    set_mask(Mask::NONE);
    // SAFETY: `argv` is the command's NULL-terminated word list (see Command::new).
    let file = unsafe { CStr::from_ptr(*command.argv) }.to_bytes();
    let errno = exec(command, file);
    // Blocked again before the message: on a stderr pipe nobody reads, its write raises a SIGPIPE
    // that would end the child by signal instead of with the exec failure's status.
    set_mask(Mask::ALL);
    let mut line = Text::line();
    line.push(file);
    let _ = write!(line, ": {}", ErrorText(errno));
    line.emit();
    // SAFETY: as above.
    unsafe { libc::_exit(2) }
}

/// Tries each place `command::candidates` gives for `file`, as glibc's `execvp` does; returns the
/// error to report. Runs in the child, between `fork` and `exec`: stack buffers and system calls.
fn exec(command: &Command, file: &[u8]) -> i32 {
    let mut buf = [0u8; command::PATH_BUFFER];
    let (mut last, mut denied) = (None, false);
    for candidate in command::candidates(file, command.path) {
        let errno = match candidate.join(&mut buf) {
            Some(path) => exec_one(command, path),
            None => libc::ENAMETOOLONG, // what the kernel would say
        };
        last = Some(errno);
        match command::classify(errno) {
            Failure::Missing => {}
            Failure::Denied => denied = true,
            Failure::Fatal => return errno,
        }
    }
    command::final_error(last, denied)
}

/// Runs the file at `path`, or, when the kernel cannot (`ENOEXEC`: a script without `#!`), has
/// `/bin/sh` run it with the same arguments. Returns the error if neither happened.
fn exec_one(command: &Command, path: &CStr) -> i32 {
    let argv = command.argv;
    // SAFETY: `argv` is a NULL-terminated array of NUL-terminated strings, and `environ` the
    // process's own environment.
    unsafe { libc::execve(path.as_ptr(), argv.cast_const(), environ) };
    if Errno::last_raw() != libc::ENOEXEC {
        return Errno::last_raw();
    }
    // glibc's layout: `/bin/sh PATH ARGS...`. The two slots before ARGS (the word before the
    // command, and the command's name) are this child's copy of dumb-init's argv, which nothing
    // else reads; the name goes back for the next candidate.
    // SAFETY: Command::new guarantees a slot before `argv`; both slots are written and read
    // within the array.
    unsafe {
        let (before, name) = (*argv.sub(1), *argv);
        *argv.sub(1) = command::SHELL.as_ptr();
        *argv = path.as_ptr();
        libc::execve(command::SHELL.as_ptr(), argv.sub(1).cast_const(), environ);
        (*argv.sub(1), *argv) = (before, name);
    }
    Errno::last_raw()
}

/// Ends dumb-init with `status`. Nothing is buffered (every message is written at once), so
/// there is nothing to flush.
pub fn exit(status: i32) -> ! {
    // SAFETY: _exit ends the process; it has no preconditions.
    unsafe { libc::_exit(status) }
}
