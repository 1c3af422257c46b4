"""A command for the environment tests: leaves an orphan, echoes signals, exits on SIGTERM.

Usage: ``python -m testing.hygiene_child STATUS``

Starts ``sleep 1000`` as an orphan (forked by an intermediate process that exits at once, so the
kernel re-parents it to the nearest subreaper, or to the PID namespace's init) and prints
``orphaned`` once that has happened; then prints ``ready``, one line with the number of each
signal it receives, and on ``SIGTERM`` exits with STATUS. Needs neither ``/proc`` nor root, and
runs under any Python 3.7+ (the tests run it as ``nobody`` with the system's Python).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from testing.print_signals import wait_for_signals


def make_orphan() -> None:
    intermediate = os.fork()
    if intermediate == 0:
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "1000"])
        os._exit(0)
    # Reaped: it has exited, so its child has been re-parented already.
    os.waitpid(intermediate, 0)


def main(argv: list[str]) -> int:
    status = int(argv[0])

    def echo(signum: int, frame: FrameType | None) -> None:
        os.write(1, b"%d\n" % signum)
        if signum == signal.SIGTERM:
            os._exit(status)

    make_orphan()
    os.write(1, b"orphaned\n")
    for signum in range(1, signal.NSIG):
        if signum not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            try:
                signal.signal(signum, echo)
            except (OSError, ValueError):  # 32 and 33 are glibc's
                pass
    os.write(1, b"ready\n")
    wait_for_signals()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
