"""Report the file descriptors this process was started with.

Usage: ``python -m testing.hygiene_fds FILE STATUS``

Finds its open descriptors with ``fstat`` (which opens nothing, so a closed 0, 1 or 2 is not
filled by the search itself, as it would be by listing ``/proc/self/fd``), writes their numbers,
one line, space-separated, to FILE, and exits with STATUS. Works with stdin, stdout and stderr
closed, and without ``/proc``.
"""

from __future__ import annotations

import os
import sys

HIGHEST = 1024


def open_descriptors() -> list[int]:
    found = []
    for fd in range(HIGHEST):
        try:
            os.fstat(fd)
        except OSError:
            continue
        found.append(fd)
    return found


def main(argv: list[str]) -> int:
    found = open_descriptors()  # first, before this program opens anything
    report, status = argv[0], int(argv[1])
    with open(report, "w") as f:
        f.write(" ".join(map(str, found)) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
