//! The supervisor loop: take each signal as it comes, forward it or reap children, and when the
//! direct child has exited, end what is left (or, with `--wait-all`, wait for it) and exit with
//! the child's status.
//!
//! One thread, sleeping in the kernel between signals: no timer exists except the deadline of a
//! grace period, and nothing is allocated once the loop runs.

use crate::config::Config;
use crate::exit::ChildExit;
use crate::say::{debug, error};
use crate::sys::{self, Event, Reaped, Received, Signals};
use nix::errno::Errno;
use nix::libc::{SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU};

/// Who a forwarded signal is for.
enum Recipients {
    /// The child's process group (setsid mode) or the child: while it runs, and the final
    /// `SIGTERM` of 1.2.5's exit.
    Child,
    /// Everything left once the child is gone (see `signal_the_rest`).
    Rest,
}

pub struct Supervisor {
    config: Config,
    signals: Signals,
    /// The direct child; `None` in pause mode.
    child: Option<i32>,
    /// dumb-init's exit status (before `--remap-exit`) once the direct child has exited, or pause
    /// mode was told to end. From then on signals go to whatever is left. Until then the child's
    /// PID is dumb-init's to signal: it cannot name another process before it is reaped.
    ended: Option<i32>,
    /// When the grace period ends, once it has begun.
    deadline: Option<u64>,
    own_pid: i32,
}

impl Supervisor {
    pub fn new(config: Config, signals: Signals, child: Option<i32>) -> Supervisor {
        Supervisor { config, signals, child, ended: None, deadline: None, own_pid: sys::own_pid() }
    }

    /// Runs until the child exits (or, in pause mode, until `SIGTERM` or `SIGINT`); never returns.
    /// `parent_gone`: the parent died before dumb-init could watch it, so act on that at once.
    pub fn run(mut self, parent_gone: bool) -> ! {
        if parent_gone {
            self.parent_died();
        }
        loop {
            match self.signals.next(self.deadline) {
                Event::Signal(received) => self.handle(received),
                Event::ParentDied => self.parent_died(),
                Event::Deadline => self.end_grace_period(),
            }
        }
    }

    /// `--pdeathsig`: act as if the signal had been received.
    fn parent_died(&mut self) {
        if let Some(signal) = self.config.pdeathsig {
            debug!(self.config.verbose, "Parent process exited: acting on signal {signal}.");
            self.handle(Received { signal, sender: 0 });
        }
    }

    fn handle(&mut self, received: Received) {
        let signal = received.signal;
        debug!(self.config.verbose, "Received signal {signal}.");
        if received.sender == self.own_pid {
            // The kernel sends some signals in dumb-init's own name: SIGHUP and SIGCONT when it
            // gives up its terminal, SIGPIPE when it writes to a pipe nobody reads (a log
            // collector that died). Forwarded, that SIGPIPE would kill the child, and logging it
            // would cause the next one.
            if signal == SIGHUP || signal == SIGCONT {
                debug!(self.config.verbose, "Ignoring tty hand-off signal {signal}.");
            } else {
                debug!(self.config.verbose, "Not forwarding signal {signal}: dumb-init caused it itself.");
            }
        } else if signal == SIGCHLD {
            self.reap();
        } else if self.ended.is_some() {
            self.signal_after_child(signal);
        } else if self.child.is_none() {
            if signal == SIGTERM || signal == SIGINT {
                self.child_gone(0);
            } else {
                debug!(self.config.verbose, "Not forwarding signal {signal}: no child in pause mode.");
            }
        } else {
            self.forward(signal, Recipients::Child);
            if signal == SIGTSTP || signal == SIGTTOU || signal == SIGTTIN {
                // Stop with the child, so the shell that started dumb-init sees the job stop.
                debug!(self.config.verbose, "Suspending self due to TTY signal.");
                let _ = sys::send(self.own_pid, SIGSTOP);
            }
        }
    }

    /// Reaps every child that has exited, orphans included; notices the direct child's end, and,
    /// once that has come, the end of everything else.
    fn reap(&mut self) {
        loop {
            match self.reap_one(false) {
                Reaped::Child(pid, exit) if self.ended.is_none() && Some(pid) == self.child => {
                    self.child_gone(exit.status())
                }
                Reaped::Child(..) => {}
                Reaped::NoneExited => return,
                Reaped::NoChildren => {
                    if self.ended.is_some() {
                        debug!(self.config.verbose, "All processes exited.");
                        self.finish();
                    }
                    return;
                }
            }
        }
    }

    /// Reaps one exited child (waiting for one if `block`), and reports it.
    fn reap_one(&self, block: bool) -> Reaped {
        let reaped = sys::reap(block);
        if let Reaped::Child(pid, exit) = reaped {
            match exit {
                ChildExit::Exited(code) => {
                    debug!(self.config.verbose, "A child with PID {pid} exited with exit status {code}.")
                }
                ChildExit::Killed(signal) => {
                    debug!(self.config.verbose, "A child with PID {pid} was terminated by signal {signal}.")
                }
            }
        }
        reaped
    }

    /// The direct child has exited with `status` (or pause mode was told to end): wait for the
    /// rest (`--wait-all`), begin the grace period, or, as 1.2.5 does, `SIGTERM` the child's
    /// process group and exit.
    fn child_gone(&mut self, status: i32) {
        self.ended = Some(status);
        let verbose = self.config.verbose;
        if self.config.wait_all {
            // Counting the children reads /proc: only worth it for the debug line.
            if verbose {
                match sys::for_each_child(|_| {}) {
                    Some(left) => error!(
                        "Child exited with status {status}; waiting for the remaining processes ({left} children left)."
                    ),
                    None => error!("Child exited with status {status}; waiting for the remaining processes."),
                }
            }
            // The reaping goes on; when nothing is left, reap() finishes.
        } else if !self.config.grace_period.is_zero() {
            self.begin_grace_period(SIGTERM);
        } else {
            // In single-child mode there is nothing left to address: the child's PID is already
            // reaped and may be reused.
            if self.config.setsid && self.child.is_some() {
                self.forward(SIGTERM, Recipients::Child);
            }
            self.finish();
        }
    }

    /// A signal received once the child is gone. With `--wait-all` and a grace period, the first
    /// `SIGTERM` or `SIGINT` (as received, before rewriting) begins the period.
    fn signal_after_child(&mut self, signal: i32) {
        let stop = signal == SIGTERM || signal == SIGINT;
        if stop && self.deadline.is_none() && !self.config.grace_period.is_zero() {
            self.begin_grace_period(signal);
        } else {
            self.forward(signal, Recipients::Rest);
        }
    }

    /// Sends `signal` (rewritten) to everything left, then `SIGCONT`, as service managers do, so
    /// that a stopped process can act on it; the rest get `SIGKILL` when the period is over.
    fn begin_grace_period(&mut self, signal: i32) {
        if self.forward(signal, Recipients::Rest) != 0 {
            self.signal_the_rest(SIGCONT);
        }
        let period = self.config.grace_period;
        debug!(self.config.verbose, "Grace period: waiting up to {period} seconds for remaining processes.");
        self.deadline = Some(sys::monotonic_nanos().saturating_add(period.nanos));
    }

    /// `SIGKILL` for everything left, and reap it. Only children that `SIGKILL` reached are
    /// waited for: one dumb-init may not signal (a setuid program, when it is not root), or
    /// cannot name (no `/proc`), would never come, so it is left behind rather than waited for.
    fn end_grace_period(&mut self) -> ! {
        debug!(self.config.verbose, "Grace period over: sending SIGKILL to remaining processes.");
        loop {
            loop {
                match self.reap_one(false) {
                    Reaped::Child(..) => continue,
                    Reaped::NoChildren => self.finish(),
                    Reaped::NoneExited => break,
                }
            }
            if self.signal_the_rest(SIGKILL) == 0 {
                if self.own_pid == 1 {
                    // PID 1's exit ends every process of its namespace: nothing is left behind.
                    debug!(self.config.verbose, "Not waiting for processes dumb-init cannot signal.");
                } else {
                    // Worth saying always: these outlive the grace period the user asked for.
                    error!("Leaving processes dumb-init cannot signal (no /proc, or no permission).");
                }
                self.finish();
            }
            // One of those SIGKILL reached is bound to exit.
            if let Reaped::NoChildren = self.reap_one(true) {
                self.finish();
            }
        }
    }

    /// Exits with the status the child left, remapped.
    fn finish(&self) -> ! {
        let verbose = self.config.verbose;
        let status = self.ended.unwrap_or(0);
        let code = self.config.remap.apply(status);
        if code != status {
            debug!(verbose, "Remapping exit status {status} to {code}.");
        }
        if self.child.is_some() {
            debug!(verbose, "Child exited with status {status}. Goodbye.");
        } else {
            debug!(verbose, "Pause ended with status {status}. Goodbye.");
        }
        sys::exit(code)
    }

    /// The signal the rewrite rules make of `signal` (0: do not forward).
    fn translate(&self, signal: i32) -> i32 {
        match self.config.rewrites.rule(signal) {
            Some(to) => {
                debug!(self.config.verbose, "Translating signal {signal} to {to}.");
                to
            }
            None => signal,
        }
    }

    /// Rewrites `received` and sends it on; returns what was sent (0: nothing).
    fn forward(&self, received: i32, to: Recipients) -> i32 {
        let signal = self.translate(received);
        if signal == 0 {
            debug!(self.config.verbose, "Not forwarding signal {received} to children (ignored).");
            return 0;
        }
        match to {
            Recipients::Child => self.signal_child(signal),
            Recipients::Rest => {
                self.signal_the_rest(signal);
            }
        }
        debug!(self.config.verbose, "Forwarded signal {signal} to children.");
        signal
    }

    /// Sends `signal` to the child's process group (setsid mode) or to the child alone.
    fn signal_child(&self, signal: i32) {
        let Some(child) = self.child else { return };
        let unreaped = self.ended.is_none();
        if !self.config.setsid {
            if unreaped {
                let _ = sys::send(child, signal);
            }
        } else if sys::send(-child, signal) == Err(Errno::ESRCH) && unreaped {
            // The child has not called setsid() yet, so its group does not exist: signal the
            // child alone, whose actions are the defaults already (see sys::take_over_signals).
            let _ = sys::send(child, signal);
        }
    }

    /// Sends `signal` to what remains after the child: its process group (setsid mode) and, as
    /// PID 1, every process of the namespace, or, as a subreaper, each of dumb-init's children.
    /// Each process gets it once (a second `SIGTERM` means "hurry" to some programs). Returns how
    /// many of dumb-init's own children it reached, as `/proc` lists them.
    fn signal_the_rest(&self, signal: i32) -> usize {
        // kill(-1) from PID 1 reaches every process of its namespace but itself, and nothing outside it.
        let everyone = self.own_pid == 1 && sys::send(-1, signal).is_ok();
        let group = self.child.filter(|_| self.config.setsid);
        if let (Some(group), false) = (group, everyone) {
            let _ = sys::send(-group, signal);
        }
        let mut reached = 0;
        sys::for_each_child(|pid| {
            let sent_already = everyone || group.is_some_and(|group| sys::group_of(pid) == Ok(group));
            // Signal 0 only asks whether the signal could be sent, which is what counts then.
            if sys::send(pid, if sent_already { 0 } else { signal }).is_ok() {
                reached += 1;
            }
        });
        reached
    }
}
