//! The supervisor loop: take each signal as it comes, forward it or reap children, and when the
//! direct child has exited, end everything that is left and exit with the child's status.
//!
//! One thread, sleeping in `sigwaitinfo` between signals: no timer exists except the deadline of
//! a grace period, and nothing is allocated once the loop runs.

use crate::config::Config;
use crate::exit::ChildExit;
use crate::say::debug;
use crate::sys::{self, Reaped, Received, SignalSet};
use nix::errno::Errno;
use nix::libc::{SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU};

/// Who a forwarded signal is for.
enum Recipients {
    /// The child's process group (setsid mode) or the child: while it runs, and the final
    /// `SIGTERM` of 1.2.5's exit.
    Child,
    /// Everything left once the child is gone, during a grace period (see `signal_the_rest`).
    Rest,
}

pub struct Supervisor {
    config: Config,
    signals: SignalSet,
    /// The direct child; `None` in pause mode.
    child: Option<i32>,
    /// Until the child is reaped its PID is dumb-init's, and cannot name another process.
    child_reaped: bool,
    own_pid: i32,
    /// The `SIGHUP` and `SIGCONT` the kernel still owes dumb-init for giving up its terminal.
    handoff: Handoff,
}

/// When a session leader detaches from its terminal (`TIOCNOTTY`), the kernel sends `SIGHUP` and
/// `SIGCONT` to the terminal's foreground process group, in dumb-init's own name. Those two must
/// not reach the child; any other `SIGHUP`, from anyone else or later, must.
#[derive(Default)]
pub struct Handoff {
    pub hangup: bool,
    pub cont: bool,
}

impl Supervisor {
    pub fn new(config: Config, signals: SignalSet, child: Option<i32>, handoff: Handoff) -> Supervisor {
        Supervisor { config, signals, child, child_reaped: false, own_pid: sys::own_pid(), handoff }
    }

    /// Runs until the child exits (or, in pause mode, until `SIGTERM` or `SIGINT`); never returns.
    /// `parent_gone` is the parent-death signal to act on at once, when the parent died before the
    /// kernel was asked for it.
    pub fn run(mut self, parent_gone: Option<i32>) -> ! {
        if let Some(signal) = parent_gone {
            self.handle(Received { signal, sender: 0 });
        }
        loop {
            let received = sys::wait(&self.signals);
            self.handle(received);
        }
    }

    fn handle(&mut self, received: Received) {
        let signal = received.signal;
        debug!(self.config.verbose, "Received signal {signal}.");
        if self.is_handoff(received) {
            debug!(self.config.verbose, "Ignoring tty hand-off signal {signal}.");
        } else if signal == SIGCHLD {
            if let Some(exit) = self.reap_until_child_exits() {
                self.shut_down(exit.status());
            }
        } else if self.child.is_none() {
            if signal == SIGTERM || signal == SIGINT {
                self.shut_down(0);
            }
            debug!(self.config.verbose, "Not forwarding signal {signal}: no child in pause mode.");
        } else {
            self.forward(signal, Recipients::Child);
            if signal == SIGTSTP || signal == SIGTTOU || signal == SIGTTIN {
                // Stop with the child, so the shell that started dumb-init sees the job stop.
                debug!(self.config.verbose, "Suspending self due to TTY signal.");
                let _ = sys::send(self.own_pid, SIGSTOP);
            }
        }
    }

    fn is_handoff(&mut self, received: Received) -> bool {
        let owed = match received.signal {
            SIGHUP => &mut self.handoff.hangup,
            SIGCONT => &mut self.handoff.cont,
            _ => return false,
        };
        let is_handoff = *owed && received.sender == self.own_pid;
        if is_handoff {
            *owed = false;
        }
        is_handoff
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

    /// Rewrites `received` and sends it on.
    fn forward(&self, received: i32, to: Recipients) {
        let signal = self.translate(received);
        if signal == 0 {
            debug!(self.config.verbose, "Not forwarding signal {received} to children (ignored).");
            return;
        }
        match to {
            Recipients::Child => self.signal_child(signal),
            Recipients::Rest => {
                self.signal_the_rest(signal);
            }
        }
        debug!(self.config.verbose, "Forwarded signal {signal} to children.");
    }

    /// Sends `signal` to the child's process group (setsid mode) or to the child alone.
    fn signal_child(&self, signal: i32) {
        if let Some(child) = self.child {
            if !self.config.setsid {
                if !self.child_reaped {
                    let _ = sys::send(child, signal);
                }
            } else if sys::send(-child, signal) == Err(Errno::ESRCH) && !self.child_reaped {
                // The child has not called setsid() yet, so its group does not exist: signal the
                // child alone, whose actions are the defaults already (see sys::take_over_signals).
                let _ = sys::send(child, signal);
            }
        }
    }

    /// Reaps every child that has exited (orphans included); returns the direct child's end if it
    /// was among them. dumb-init then leaves at once, as 1.2.5 does.
    fn reap_until_child_exits(&mut self) -> Option<ChildExit> {
        while let Reaped::Child(pid, exit) = self.reap_one(false) {
            if Some(pid) == self.child {
                self.child_reaped = true;
                return Some(exit);
            }
        }
        None
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

    /// The direct child is gone (or pause mode ends): `SIGTERM` what is left, wait out the grace
    /// period if there is one, and exit with `status`.
    fn shut_down(&mut self, status: i32) -> ! {
        let verbose = self.config.verbose;
        if self.config.grace_period.is_zero() {
            // As 1.2.5: SIGTERM to the rest of the child's process group. In single-child mode
            // there is nothing left to address: the child's PID is already reaped and may be reused.
            if self.config.setsid && self.child.is_some() {
                self.forward(SIGTERM, Recipients::Child);
            }
        } else {
            self.wait_out_grace_period();
        }
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

    /// `SIGTERM` (rewritten) to everything left, forward signals and reap until nothing is left or
    /// the deadline passes, then `SIGKILL` the rest.
    fn wait_out_grace_period(&mut self) {
        let verbose = self.config.verbose;
        self.forward(SIGTERM, Recipients::Rest);
        let period = self.config.grace_period;
        debug!(verbose, "Grace period: waiting up to {period} seconds for remaining processes.");
        let deadline = sys::monotonic_nanos().saturating_add(period.nanos);
        loop {
            match self.reap_one(false) {
                Reaped::Child(..) => continue,
                Reaped::NoChildren => {
                    debug!(verbose, "All processes exited.");
                    return;
                }
                Reaped::NoneExited => {}
            }
            let Some(received) = sys::wait_until(&self.signals, Some(deadline)) else { break };
            debug!(verbose, "Received signal {}.", received.signal);
            if received.signal != SIGCHLD {
                self.forward(received.signal, Recipients::Rest);
            }
        }
        debug!(verbose, "Grace period over: sending SIGKILL to remaining processes.");
        loop {
            if self.signal_the_rest(SIGKILL) == 0 {
                return; // no child left that dumb-init can name, so none to wait for
            }
            loop {
                match self.reap_one(false) {
                    Reaped::Child(..) => continue,
                    Reaped::NoChildren => return,
                    Reaped::NoneExited => break,
                }
            }
            if let Reaped::NoChildren = self.reap_one(true) {
                return;
            }
        }
    }

    /// Sends `signal` to what remains after the child: its process group (setsid mode) and, as
    /// PID 1, every process of the namespace, or, as a subreaper, each of dumb-init's children.
    /// Returns how many of dumb-init's own children may have been reached (any, as PID 1).
    fn signal_the_rest(&self, signal: i32) -> usize {
        if let (Some(child), true) = (self.child, self.config.setsid) {
            let _ = sys::send(-child, signal);
        }
        if self.own_pid == 1 {
            // kill(-1) from PID 1 reaches every process of its namespace but itself, and nothing outside it.
            let _ = sys::send(-1, signal);
            usize::MAX
        } else {
            sys::for_each_child(|pid| {
                let _ = sys::send(pid, signal);
            })
        }
    }
}
