//! dumb-init: a minimal init for containers.
//!
//! It starts one command as its child, forwards every signal it receives to the child's process
//! group, reaps every zombie, and exits with the child's status. `main` reads top to bottom as
//! the steps, one helper per step.
//!
//! `main` is the C entry point (`no_main`): Rust's own start-up would read `/proc/self/maps`,
//! map an alternate signal stack and ignore `SIGPIPE` before dumb-init undoes it, which is most
//! of an init's start-up cost and none of its job. The arguments are read in place from C's
//! `argv` (without Rust's start-up, `std::env::args` is empty on musl), and nothing is allocated:
//! every message is put together on the stack.

#![cfg_attr(not(test), no_main)]
// A `Failure` carries its message in a 512-byte buffer: it is made once, on the way out; a box
// would bring in the heap, which dumb-init otherwise does without.
#![allow(clippy::result_large_err)]

mod cli;
mod command;
mod config;
mod errno;
mod exit;
mod grace;
mod say;
mod signals;
mod supervisor;
mod sys;

use cli::{Action, Failure};
use config::Config;
use say::{debug, error, Text};
use std::ffi::{c_char, c_int, CStr};
use std::fmt::Write;
use supervisor::Supervisor;
use sys::Signals;

#[cfg(not(test))] // the unit tests bring their own main
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *mut *const c_char) -> c_int {
    run(argc, argv)
}

/// One word of the command line, read in place.
#[repr(transparent)]
struct Arg(*const c_char);

impl AsRef<[u8]> for Arg {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the C runtime's argv strings are NUL-terminated and live as long as the process.
        unsafe { CStr::from_ptr(self.0) }.to_bytes()
    }
}

/// The steps, in order; never returns (dumb-init exits with its child).
#[cfg_attr(test, allow(dead_code))]
fn run(argc: c_int, argv: *mut *const c_char) -> ! {
    // Taken first, so a parent that dies while dumb-init starts up is noticed (see watch_parent).
    let parent = sys::parent_pid();
    // SAFETY: the C runtime passes `argc` strings in `argv`; Arg is a transparent wrapper.
    let args = unsafe { std::slice::from_raw_parts(argv.cast::<Arg>(), usize::try_from(argc).unwrap_or(0)) };
    let prog = cli::program_name(args);

    let options = match cli::parse(args) {
        Ok(Action::Run(options)) => options,
        Ok(Action::Help) => finish(&cli::help(prog), 0),
        Ok(Action::Version) => finish(&[concat!("dumb-init v", env!("CARGO_PKG_VERSION"), "\n").as_bytes()], 0),
        Ok(Action::ListSignals) => list_signals(),
        Err(Failure(message)) => finish(&[message.as_bytes()], 1),
    };
    let has_command = options.command < args.len();
    // SAFETY: the command starts within argv, after dumb-init's own name (see Command::new).
    let command = unsafe { sys::Command::new(argv.add(options.command)) };
    let config = match config::resolve(prog, options, has_command, sys::getenv) {
        Ok(config) => config,
        Err(Failure(message)) => finish(&[message.as_bytes()], 1),
    };
    // Before the first message: a log write to a pipe nobody reads queues a SIGPIPE, which must
    // find it blocked, not at its default action (death).
    sys::take_over_signals();
    debug!(config.debug_from_env, "Running in debug mode.");
    debug!(config.verbose && config.setsid_off_from_env, "Not running in setsid mode.");

    let mut signals = Signals::new();
    let parent_gone = watch_parent(&config, parent, &mut signals);
    reap_orphans(&config);
    if config.setsid {
        detach_tty(&config);
    }
    let child = if config.pause {
        debug!(config.verbose, "Pausing: no child; waiting for SIGTERM or SIGINT.");
        None
    } else {
        Some(spawn(&config, &command))
    };
    // The child has the caller's working directory; dumb-init keeps no directory busy.
    if let Err(errno) = sys::chdir_root() {
        debug!(config.verbose, "Unable to chdir(\"/\") ({})", sys::OsError(errno));
    }
    Supervisor::new(config, signals, child).run(parent_gone)
}

/// Prints `message` on stderr and exits with `status` (help, version, and every failure before
/// the child starts).
fn finish(message: &[&[u8]], status: i32) -> ! {
    for piece in message {
        sys::write_stderr(piece);
    }
    sys::exit(status)
}

/// `--list-signals`: `NUMBER NAME` lines on stdout.
fn list_signals() -> ! {
    for n in signals::named() {
        let mut line = Text::new();
        let _ = write!(line, "{n} {}", signals::Name(n));
        line.end_line();
        if sys::write_all(1, line.as_bytes()).is_err() {
            break;
        }
    }
    sys::exit(0)
}

/// `--pdeathsig`: watches the parent process, so that the supervisor acts on the signal when it
/// exits. Returns whether it has exited already (dumb-init was re-parented while starting up).
fn watch_parent(config: &Config, parent: i32, signals: &mut Signals) -> bool {
    let Some(signal) = config.pdeathsig else { return false };
    let gone = || {
        debug!(config.verbose, "Parent already gone: acting on signal {signal} now.");
        true
    };
    // PID 1 of a namespace sees its parent as 0: it cannot name it, so it falls back on the kernel's
    // parent-death signal, as it does without pidfds (Linux before 5.3).
    if parent != 0 {
        match signals.watch_parent(parent) {
            Ok(false) => {
                debug!(config.verbose, "Parent death signal set to {signal} (watching parent process {parent}).");
                return false;
            }
            Ok(true) => return gone(),
            Err(errno) => debug!(config.verbose, "Unable to watch the parent process ({}).", sys::OsError(errno)),
        }
    }
    // The kernel sends it when the *thread* that started dumb-init ends, which for a
    // single-threaded parent is the same thing.
    if let Err(errno) = sys::set_parent_death_signal(signal) {
        error!("Unable to set the parent death signal ({}).", sys::OsError(errno));
        return false;
    }
    debug!(config.verbose, "Parent death signal set to {signal} (when the thread that started dumb-init exits).");
    if parent != 0 && sys::parent_pid() != parent {
        return gone();
    }
    false
}

/// Outside a PID namespace of its own, orphans of the child would go to the host's init, which
/// may never reap them: have them re-parented to dumb-init instead.
fn reap_orphans(config: &Config) {
    if sys::own_pid() == 1 {
        return;
    }
    match sys::become_subreaper() {
        Ok(()) => debug!(config.verbose, "Registered as child subreaper (not PID 1)."),
        Err(errno) => {
            debug!(config.verbose, "Unable to register as child subreaper ({}).", sys::OsError(errno))
        }
    }
}

/// Lets go of the controlling terminal so the child's new session can take it (setsid mode). The
/// kernel then sends `SIGHUP` and `SIGCONT` to the terminal's foreground group in dumb-init's own
/// name, which the supervisor knows not to forward.
fn detach_tty(config: &Config) {
    match sys::detach_tty() {
        Ok(true) => {
            debug!(config.verbose, "Detached from controlling tty, ignoring the first SIGHUP and SIGCONT we receive.")
        }
        Ok(false) => debug!(config.verbose, "Detached from controlling tty, but was not session leader."),
        Err(errno) => debug!(config.verbose, "Unable to detach from controlling tty ({}).", sys::OsError(errno)),
    }
}

/// Starts the command; exits if it cannot.
fn spawn(config: &Config, command: &sys::Command) -> i32 {
    match sys::spawn(command, config.setsid, config.verbose) {
        Ok(pid) => {
            debug!(config.verbose, "Child spawned with PID {pid}.");
            pid
        }
        Err(_) => {
            error!("Unable to fork. Exiting.");
            sys::exit(1)
        }
    }
}
