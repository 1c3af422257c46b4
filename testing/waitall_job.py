"""A direct child for dumb-init that leaves one background job behind, for the --wait-all tests
and the grace-period regressions.

    waitall_job.py [--exit CODE] [--hold FD] [--release FD] [--setsid] [--term ignore|exit|report]

This process (the child) forks the job, waits until the job has its signal handling in place, then
prints `child PID` and exits with CODE (default 0); with --hold FD it first waits for a line (or end
of file) on the inherited descriptor FD, so that the test decides when the child exits.

The job prints `job PID` once ready, and `job got N` for every signal N it receives (SIGHUP, SIGINT,
SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGCONT, SIGWINCH, SIGRTMIN+1, SIGRTMIN+2) in the order the
kernel hands them out (lowest number first), once per copy (a real-time signal sent twice prints
two lines), each line in one write(2). --term says what
SIGTERM does besides: `report` (the default) only prints, `exit` prints and exits 0 (a graceful
stop), `ignore` ignores it without a word (a process that must be killed). With --setsid the job
leaves the child's session and process group first. With --release FD the job waits for a line (or
end of file) on FD, prints `job done ppid=PPID` and exits 0; without it, it lives until signalled
(at most 50 s). The job keeps the child's stdout, so its lines reach the test through dumb-init's.

PIDs are as the process sees them: inside a new PID namespace, the namespace's numbers.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import time

LIFETIME = 50.0
REPORTED = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGTERM,
    signal.SIGCONT,
    signal.SIGWINCH,
    signal.SIGRTMIN + 1,
    signal.SIGRTMIN + 2,
)


def say(line: str) -> None:
    """One line in one write(2): never mixed with the lines of the other processes on stdout."""
    os.write(1, f"{line}\n".encode())


def wait_for_line(fd: int) -> None:
    """Returns once `fd` has delivered a newline or reached end of file."""
    while os.read(fd, 1) not in (b"", b"\n"):
        pass


def signal_descriptor(signals: list[int]) -> int:
    """A signalfd(2) for `signals`, which must be blocked. Each read takes one pending signal, the
    lowest-numbered first and each real-time copy apart: the order in which they were delivered,
    where handlers would stack (two signals arriving together run the higher one's handler first)
    and Python's would merge copies."""
    libc = ctypes.CDLL(None, use_errno=True)
    mask = (ctypes.c_uint64 * 16)()  # glibc's sigset_t; the kernel reads the first 64 bits
    for signum in signals:
        mask[0] |= 1 << (signum - 1)
    fd = int(libc.signalfd(-1, ctypes.byref(mask), 0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "signalfd")
    return fd


def job(term: str, setsid: bool, release: int | None, ready: int) -> None:
    """Runs in the forked process; never returns."""
    try:
        if setsid:
            os.setsid()
        reported = [s for s in REPORTED if not (term == "ignore" and s == signal.SIGTERM)]
        if term == "ignore":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, reported)
        signals = signal_descriptor(reported)
        say(f"job {os.getpid()}")
        os.close(ready)
        waiting_on = [signals] if release is None else [signals, release]
        deadline = time.monotonic() + LIFETIME
        while time.monotonic() < deadline:
            left = max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select(waiting_on, [], [], left)
            if signals in readable:
                # struct signalfd_siginfo: 128 bytes, the signal number first.
                signum = int.from_bytes(os.read(signals, 128)[:4], sys.byteorder)
                say(f"job got {signum}")
                if signum == signal.SIGTERM and term == "exit":
                    return
            elif release in readable:
                # One read: a line from the test, or end of file once it closed the gate.
                os.read(release, 4096)
                say(f"job done ppid={os.getppid()}")
                return
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    code, hold, release, setsid, term = 0, None, None, False, "report"
    args = iter(argv)
    for arg in args:
        if arg == "--exit":
            code = int(next(args))
        elif arg == "--hold":
            hold = int(next(args))
        elif arg == "--release":
            release = int(next(args))
        elif arg == "--setsid":
            setsid = True
        elif arg == "--term":
            term = next(args)
            if term not in ("ignore", "exit", "report"):
                raise SystemExit(f"unknown --term {term}")
        else:
            raise SystemExit(f"unknown argument {arg}")

    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(read_end)
        job(term, setsid, release, write_end)
    os.close(write_end)
    # End of file once the job has its handlers in place and has printed its line.
    os.read(read_end, 1)
    os.close(read_end)
    say(f"child {os.getpid()}")
    if hold is not None:
        wait_for_line(hold)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
