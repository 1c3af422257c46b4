"""PID 1 of a fresh PID namespace in which dumb-init, not PID 1, is the subreaper of COUNT
orphans, with PIDs laid out so that a PID read cut short from dumb-init's ``/proc`` list of
children names a process that records what it is sent.

    python -m testing.many_children COUNT DUMB-INIT [OPTION...]

PIDs in a new namespace are handed out in order, after ``/proc/sys/kernel/ns_last_pid``, which
PID 1 may set. dumb-init is made PID 10000, its child (a shell) 10001, and the shell starts COUNT
``setsid sleep`` jobs, 10002 onwards, and exits: the jobs are re-parented to dumb-init in that
order, so its list of children reads ``10002 10003 ...``, 6 bytes a PID. Wherever that text is
cut at a multiple of 512 bytes (4096 included, the size dumb-init reads at once) in the middle of
a PID, the digits before the cut are a shorter PID: before anything else this process makes a
*recorder* at each of those PIDs. A recorder blocks every signal and sleeps, so whatever reaches
it stays pending, in ``/proc/PID/status`` for the test to read; nothing should. This process
blocks every signal too (a cut after one digit would name PID 1).

Prints ``recorders PID...`` once dumb-init is started, then exits with its status.
The jobs are in sessions of their own, so that only signals dumb-init sends each of them by PID
reach them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

FIRST = 10000
"""dumb-init's PID in the namespace."""
STEP = 512
"""The text is checked for cuts at every multiple of this many bytes."""
LIFETIME = 50
"""Seconds the jobs and the recorders live at most."""


def expected_children(count: int) -> str:
    """dumb-init's list of children once the shell is gone, as the kernel prints it."""
    return "".join(f"{pid} " for pid in range(FIRST + 2, FIRST + 2 + count))


def cut_prefixes(text: str) -> list[int]:
    """The PIDs a reader would take from the digits before each cut in the middle of a PID."""
    found = set()
    for cut in range(STEP, len(text), STEP):
        if text[cut - 1].isdigit() and text[cut].isdigit():
            start = text.rindex(" ", 0, cut) + 1
            found.add(int(text[start:cut]))
    return sorted(found)


def set_last_pid(pid: int) -> None:
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid))


def make_recorder(pid: int) -> None:
    """Forks a recorder that gets `pid` (every signal is blocked already, and stays so)."""
    set_last_pid(pid - 1)
    got = os.fork()
    if got == 0:
        time.sleep(LIFETIME)
        os._exit(0)
    if got != pid:
        raise SystemExit(f"a recorder got PID {got}, not {pid}: something else is forking here")


def main(argv: list[str]) -> int:
    count, dumb_init, options = int(argv[0]), argv[1], argv[2:]
    if os.getpid() != 1:
        raise SystemExit(
            "run me as PID 1 of a new PID namespace (unshare --pid --fork --mount-proc)"
        )
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    text = expected_children(count)
    recorders = [pid for pid in cut_prefixes(text) if pid != 1]
    for pid in recorders:
        make_recorder(pid)
    jobs = (
        f"i=0; while [ $i -lt {count} ]; do "
        f"setsid sleep {LIFETIME} </dev/null >/dev/null 2>&1 & i=$((i+1)); done"
    )
    set_last_pid(FIRST - 1)
    init = subprocess.Popen([dumb_init, *options, "sh", "-c", jobs], stdin=subprocess.DEVNULL)
    if init.pid != FIRST:
        raise SystemExit(f"dumb-init got PID {init.pid}, not {FIRST}")
    print("recorders", *recorders, flush=True)
    return init.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
