"""Helpers for the hardening tests (signals 32 to 34, broken stderr, floods, races).

- The kernel's own signal calls through ctypes: glibc's ``sigprocmask`` and
  ``sigtimedwait`` (and so Python's ``signal`` module) silently leave out
  signals 32 and 33, which glibc keeps for its threads.
- ``build_tool``: compiles ``hardening_tool.c`` (floods, orphans, bursts).
- What a test reads about dumb-init in ``/proc``: CPU time, write calls,
  memory, descriptors, and whether it is asleep with nothing pending.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterable

from testing import proc

TOOL_SOURCE = Path(__file__).resolve().parent / "hardening_tool.c"

# System call numbers: x86_64 has its own table, the newer architectures share the generic one.
_SYSCALLS = {
    "x86_64": {"rt_sigprocmask": 14, "rt_sigtimedwait": 128},
    "aarch64": {"rt_sigprocmask": 135, "rt_sigtimedwait": 137},
    "riscv64": {"rt_sigprocmask": 135, "rt_sigtimedwait": 137},
}
SIG_BLOCK = 0
KERNEL_SIGSET_BYTES = 8  # the kernel's mask: bit N-1 for signal N, 1..64


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall_number(name: str) -> int:
    table = _SYSCALLS.get(platform.machine())
    if table is None:
        raise OSError(f"no system call numbers for {platform.machine()} in testing/hardening.py")
    return table[name]


def mask_of(signums: Iterable[int]) -> int:
    """The kernel's signal mask holding ``signums``."""
    mask = 0
    for signum in signums:
        mask |= 1 << (signum - 1)
    return mask


def block(signums: Iterable[int]) -> None:
    """Block ``signums`` in the calling thread, 32 and 33 included."""
    mask = ctypes.c_uint64(mask_of(signums))
    number = _syscall_number("rt_sigprocmask")
    if _libc.syscall(number, SIG_BLOCK, ctypes.byref(mask), None, KERNEL_SIGSET_BYTES) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"rt_sigprocmask: {os.strerror(error)}")


def take(signums: Iterable[int]) -> int:
    """Wait for one signal of ``signums`` (blocked first) and take it."""
    signum = _sigtimedwait(signums, None)
    assert signum is not None  # only a time limit ends the wait without one
    return signum


def take_pending(signums: Iterable[int]) -> int | None:
    """Take one signal of ``signums`` that is pending already; None if none is."""
    return _sigtimedwait(signums, _Timespec(0, 0))


class RoundRobin:
    """Takes the signals of a set one at a time, round-robin by number, as
    dumb-init does: after signal N, the lowest pending one above N, if any.

    The kernel hands out the lowest-numbered pending signal and finds its
    oldest instance by walking the queue. Taken in number order, a long queue
    of interleaved real-time signals costs quadratic time (each signal's next
    instance sits behind every other signal's by then): 40,000 take seconds.
    """

    def __init__(self, signums: Iterable[int]) -> None:
        self.signums = sorted(set(signums))
        self.last = 0

    def pending(self) -> int | None:
        """Take one that is pending already; None if none is."""
        above = [n for n in self.signums if n > self.last]
        signum = take_pending(above) or take_pending(self.signums)
        if signum is not None:
            self.last = signum
        return signum

    def wait(self) -> int:
        """Take the next one, waiting for it if none is pending."""
        signum = self.pending() or take(self.signums)
        self.last = signum
        return signum


def _sigtimedwait(signums: Iterable[int], limit: _Timespec | None) -> int | None:
    mask = ctypes.c_uint64(mask_of(signums))
    number = _syscall_number("rt_sigtimedwait")
    while True:
        signum = _libc.syscall(
            number,
            ctypes.byref(mask),
            None,
            None if limit is None else ctypes.byref(limit),
            KERNEL_SIGSET_BYTES,
        )
        if signum > 0:
            return int(signum)
        error = ctypes.get_errno()
        if error == errno.EAGAIN:  # the time limit passed
            return None
        if error != errno.EINTR:  # EINTR: a handled signal of another kind interrupted the wait
            raise OSError(error, f"rt_sigtimedwait: {os.strerror(error)}")


def build_tool(directory: Path) -> str | None:
    """Compile ``hardening_tool.c`` into ``directory``; None without gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    binary = directory / "hardening_tool"
    subprocess.run(
        [gcc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(TOOL_SOURCE)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )
    return str(binary)


def broken_pipe() -> int:
    """The write end of a pipe whose read end is closed: every write to it
    fails with ``EPIPE`` and raises ``SIGPIPE`` for the writer."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


def stderr_to(fd: int) -> Callable[[], None]:
    """A ``preexec`` that makes ``fd`` the new program's stderr.

    subprocess has set up descriptors 0 to 2 before a ``preexec`` runs, and
    closes the others after it, so this replaces the stderr pipe.
    """

    def preexec() -> None:
        os.dup2(fd, 2)

    return preexec


def cpu_ticks(pid: int) -> int:
    """User plus system CPU time of PID so far, in clock ticks."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat


def write_calls(pid: int) -> int:
    """How many ``write(2)`` calls PID has made, failed ones included (``syscw``)."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("syscw:"):
                return int(line.split()[1])
    raise AssertionError(f"no syscw in /proc/{pid}/io")


def rss_kb(pid: int) -> int:
    """Resident memory of PID in kB (``VmRSS``)."""
    return int(proc.status(pid)["VmRSS"].split()[0])


def fd_count(pid: int) -> int:
    """How many descriptors PID has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def asleep_with_nothing_pending(pid: int) -> bool:
    """PID sleeps (state S) and has no signal pending: one read of its status,
    so both hold at the same instant. A process that takes a signal it keeps
    raising again (the SIGPIPE loop) is never in that state."""
    fields = proc.status(pid)
    pending = proc.parse_sigset(fields["SigPnd"]) | proc.parse_sigset(fields["ShdPnd"])
    return fields["State"].startswith("S") and not pending
