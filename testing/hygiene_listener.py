"""Serve one connection on a socket handed down as descriptor 3 (systemd's ``LISTEN_FDS``).

Usage: ``LISTEN_FDS=1 python -m testing.hygiene_listener``

Prints ``ready``, accepts one connection on descriptor 3, sends ``hello from PID`` on it, prints
``served`` and exits 0. Exits 3 if ``LISTEN_FDS`` is not ``1``.
"""

from __future__ import annotations

import os
import socket
import sys

LISTEN_FDS_START = 3


def main() -> int:
    if os.environ.get("LISTEN_FDS") != "1":
        return 3
    listener = socket.socket(fileno=LISTEN_FDS_START)
    os.write(1, b"ready\n")
    connection, _ = listener.accept()
    with connection:
        connection.sendall(b"hello from %d\n" % os.getpid())
    os.write(1, b"served\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
