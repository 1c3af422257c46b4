"""Print each signal this process receives.

Usage: ``python -m testing.print_signals [--label LABEL]``

Installs a handler for every catchable signal (1..31 except SIGKILL and SIGSTOP,
and every real-time signal), prints ``ready``, then one line per signal received:
its number. With ``--label LABEL`` every line is prefixed with ``LABEL``
and a space, so that several printers can share one pipe. Each line is a single
``write(2)`` of less than ``PIPE_BUF`` bytes, hence never mixed with another.

Python runs the handlers of signals that arrived together in increasing
number order, so a test that needs "everything sent so far was printed"
must synchronise (see ``Init.settle``) rather than rely on arrival order.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def main(argv: list[str]) -> int:
    prefix = b""
    if argv[:1] == ["--label"] and len(argv) == 2:
        prefix = argv[1].encode() + b" "
    elif argv:
        print(__doc__, file=sys.stderr)
        return 2

    def handler(signum: int, frame: FrameType | None) -> None:
        os.write(1, prefix + b"%d\n" % signum)

    for signum in range(1, signal.NSIG):
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(signum, handler)
        except (OSError, ValueError):  # 32 and 33 are reserved by glibc
            pass
    os.write(1, prefix + b"ready\n")
    wait_for_signals()


def wait_for_signals() -> None:
    """Run the handlers of signals as they come, forever.

    Not ``signal.pause()``: a signal that arrives after Python last ran the
    handlers but before ``pause(2)`` starts would wait for the next one. The
    C-level handler also writes to the wake-up pipe, so ``read(2)`` returns
    even then, and Python runs the handlers right after it.
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    while True:
        os.read(wake_r, 4096)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
