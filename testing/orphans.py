"""Make orphans, then report the zombies left in this PID namespace.

Usage: ``python -m testing.orphans COUNT [SECONDS]``

Creates COUNT orphans: each is forked by a short-lived intermediate process
that exits at once, so the orphan is re-parented to the namespace's PID 1 (or
the nearest subreaper) and only that process can reap it. Prints
``made COUNT``, then waits up to SECONDS (default 10) for ``/proc`` to show no
process in state ``Z`` and prints ``zombies N`` with the number still left.
"""

from __future__ import annotations

import os
import sys
import time


def zombies() -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:  # it exited meanwhile
            continue
        if data[data.rindex(b")") + 2 :].split()[0] == b"Z":
            found.append(int(name))
    return found


def main(argv: list[str]) -> int:
    count = int(argv[0])
    seconds = float(argv[1]) if len(argv) > 1 else 10.0
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            if os.fork() == 0:
                os._exit(0)  # the orphan
            os._exit(0)  # the intermediate: leaves the orphan behind
        os.waitpid(pid, 0)
    print(f"made {count}", flush=True)
    deadline = time.monotonic() + seconds
    left = zombies()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = zombies()
    print(f"zombies {len(left)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
