"""Count every instance of the signals it receives, queued ones included.

Usage: ``python -m testing.hardening_counter REPORT SIG...``

Raises its own ``RLIMIT_SIGPENDING`` to the hard limit, blocks REPORT and
each SIG with the kernel's own ``rt_sigprocmask`` and prints ``ready``; then
takes them one at a time with ``rt_sigtimedwait`` (round-robin, see
``hardening.RoundRobin``), counting each SIG. On
REPORT it first takes everything still pending, then prints
``counts SIG:N SIG:N ...`` (every SIG, in order).

A signal handler would not do: the kernel queues every instance of a
real-time signal, but Python's handlers run once for all the instances that
arrived since they last ran.

The raised limit keeps a flood through dumb-init exact when dumb-init runs
with a lower one (see ``test_flood_of_mixed_signals``): the kernel counts the
queued signals of all processes of a user together, and checks a new entry
against the *receiver's* limit. So a sender gets EAGAIN from dumb-init's full
queue long before dumb-init's own forwarding could find the count over this
process's limit (``kill(2)`` would then drop the instance silently).
"""

from __future__ import annotations

import os
import resource
import sys

from testing import hardening


def main(argv: list[str]) -> int:
    report, *counted = (int(word) for word in argv)
    _, hard = resource.getrlimit(resource.RLIMIT_SIGPENDING)
    resource.setrlimit(resource.RLIMIT_SIGPENDING, (hard, hard))
    wanted = {report, *counted}
    hardening.block(wanted)
    counts = dict.fromkeys(counted, 0)
    signals = hardening.RoundRobin(wanted)
    os.write(1, b"ready\n")
    while True:
        signum = signals.wait()
        if signum != report:
            counts[signum] += 1
            continue
        while (queued := signals.pending()) is not None:
            if queued != report:
                counts[queued] += 1
        text = " ".join(f"{n}:{count}" for n, count in sorted(counts.items()))
        os.write(1, f"counts {text}\n".encode())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
