"""A signal printer that keeps some signals blocked, so that they stay pending.

Usage: ``python -m testing.hardening_blocker SIG...``

Blocks each SIG with the kernel's own ``rt_sigprocmask`` (Python cannot
install a handler for 32 or 33, and glibc's calls leave them out of every
mask), then behaves as ``testing.print_signals``: prints ``ready``, then the
number of each other signal it receives. A blocked signal that reaches it
stays in ``/proc/PID/status`` (``ShdPnd`` when sent to the process or its
group), which is how a test sees that it arrived.
"""

from __future__ import annotations

import sys

from testing import hardening, print_signals


def main(argv: list[str]) -> int:
    hardening.block(int(word) for word in argv)
    return print_signals.main([])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
