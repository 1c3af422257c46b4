"""A program with no signal handlers of its own, except a liveness probe.

Usage: ``python -m testing.sleeper``

Every signal keeps its default action (so ``SIGTERM`` kills it, unless it is
the PID 1 of a namespace, which the kernel protects), except ``SIGUSR1``,
answered with a ``usr1`` line: a test uses it to prove the process is still
alive and responsive. Prints ``ready`` first.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from testing.print_signals import wait_for_signals


def main() -> int:
    def probe(signum: int, frame: FrameType | None) -> None:
        os.write(1, b"usr1\n")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGUSR1, probe)
    os.write(1, b"ready\n")
    wait_for_signals()


if __name__ == "__main__":
    sys.exit(main())
