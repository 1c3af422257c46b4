"""Start a command whose parent exits at once.

Usage: ``python -m testing.hygiene_orphan [--before] ARGV...``

Forks; the fork runs ARGV; this process prints ``started PID`` (the fork's PID) and exits at
once. The kernel re-parents the fork to the nearest child subreaper (pytest, in the tests), which
collects its exit status. With ``--before`` the fork waits until this process has exited before
it execs, so ARGV starts as an orphan already; without it this process exits while ARGV starts up.
"""

from __future__ import annotations

import os
import select
import sys

TIMEOUT_MS = 10_000


def wait_until_orphaned(parent: int) -> None:
    """Return once ``parent`` has exited and this process has been re-parented."""
    if os.getppid() != parent:
        return
    pidfd = os.pidfd_open(parent)
    # Still our parent after the pidfd was made: it names the parent, not a reused PID.
    if os.getppid() == parent:
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        # A pidfd polls readable once the process has exited, which the kernel signals after it
        # has re-parented the process's children.
        if not poll.poll(TIMEOUT_MS):
            os.write(2, b"hygiene_orphan: the parent did not exit\n")
            os._exit(99)
    os.close(pidfd)


def main(argv: list[str]) -> int:
    before = argv[:1] == ["--before"]
    if before:
        argv = argv[1:]
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        if before:
            wait_until_orphaned(parent)
        os.execvp(argv[0], argv)
    os.write(1, b"started %d\n" % pid)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
