"""Process state read from ``/proc``: tree, groups, state letter, signal sets."""

from __future__ import annotations

import os
import time
from typing import Callable, NamedTuple, TypeVar

from testing import TIMEOUT

T = TypeVar("T")


class Stat(NamedTuple):
    """The fields of ``/proc/PID/stat`` the tests use."""

    pid: int
    comm: str
    state: str  # R, S, D, T (stopped), t, Z (zombie), X, I
    ppid: int
    pgid: int
    sid: int
    tty_nr: int  # 0: no controlling terminal
    tpgid: int  # foreground process group of the controlling terminal, or -1


def stat(pid: int) -> Stat:
    """Read ``/proc/PID/stat``; raises ``FileNotFoundError`` once it is reaped."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    comm = data[data.index(b"(") + 1 : data.rindex(b")")].decode(errors="replace")
    fields = data[data.rindex(b")") + 2 :].split()
    state, ppid, pgid, sid, tty_nr, tpgid = fields[:6]
    return Stat(pid, comm, state.decode(), int(ppid), int(pgid), int(sid), int(tty_nr), int(tpgid))


def state(pid: int) -> str | None:
    """The state letter of PID, or None once it no longer exists."""
    try:
        return stat(pid).state
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    """True while PID exists and is not a zombie."""
    return state(pid) not in (None, "Z", "X")


def parents() -> dict[int, int]:
    """``{pid: ppid}`` for every process visible in this ``/proc``."""
    result = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                result[int(name)] = stat(int(name)).ppid
            except (OSError, ValueError):  # exited meanwhile
                pass
    return result


def children(pid: int) -> list[int]:
    """The children of PID, zombies included."""
    return sorted(p for p, ppid in parents().items() if ppid == pid)


def descendants(pid: int) -> list[int]:
    """Every process below PID in the tree (children, their children, ...)."""
    by_parent: dict[int, list[int]] = {}
    for p, ppid in parents().items():
        by_parent.setdefault(ppid, []).append(p)
    found: list[int] = []
    todo = list(by_parent.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(by_parent.get(p, []))
    return sorted(found)


def status(pid: int) -> dict[str, str]:
    """``/proc/PID/status`` as a dict (``{"SigBlk": "0000000000000000", ...}``)."""
    result = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            result[key] = value.strip()
    return result


def parse_sigset(hex_mask: str) -> set[int]:
    """The signal numbers in a ``SigBlk``/``SigIgn``-style hexadecimal mask."""
    mask = int(hex_mask, 16)
    return {bit + 1 for bit in range(64) if mask >> bit & 1}


def sigset(pid: int, field: str) -> set[int]:
    """Signals in ``SigBlk``, ``SigIgn``, ``SigCgt``, ``SigPnd`` or ``ShdPnd`` of PID."""
    return parse_sigset(status(pid)[field])


def pending(pid: int) -> set[int]:
    """Signals pending for PID (thread-directed and process-wide)."""
    fields = status(pid)
    return parse_sigset(fields["SigPnd"]) | parse_sigset(fields["ShdPnd"])


def cwd(pid: int) -> str:
    """The working directory of PID."""
    return os.readlink(f"/proc/{pid}/cwd")


def wait_until(probe: Callable[[], T | None], what: str, timeout: float = TIMEOUT) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout``.

    For state that has no readiness line (a process stopping, a PID appearing).
    """
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def only_child(pid: int, timeout: float = TIMEOUT) -> int:
    """Wait until PID has exactly one live child and return it."""

    def probe() -> int | None:
        kids = [c for c in children(pid) if alive(c)]
        return kids[0] if len(kids) == 1 else None

    return wait_until(probe, f"process {pid} to have exactly one child", timeout)


def wait_stopped(pid: int, timeout: float = TIMEOUT) -> None:
    """Wait until PID is stopped (state ``T``)."""
    wait_until(lambda: state(pid) == "T", f"process {pid} to stop", timeout)


def wait_not_pending(pid: int, signum: int, timeout: float = TIMEOUT) -> None:
    """Wait until PID has dequeued ``signum`` (or exited)."""

    def probe() -> bool:
        try:
            return signum not in pending(pid)
        except FileNotFoundError:
            return True

    wait_until(probe, f"process {pid} to take signal {signum}", timeout)
