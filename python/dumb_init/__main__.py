"""``python -m dumb_init ARGS...``: replace this process with ``dumb-init ARGS...``.

``os.execv`` keeps the PID, so ``python -m dumb_init`` can itself be PID 1.
"""

from __future__ import annotations

import os
import sys

from dumb_init import exec_path


def main() -> None:
    try:
        path = exec_path()
    except FileNotFoundError as exc:
        sys.exit(f"dumb_init: {exc}")
    try:
        os.execv(path, [path, *sys.argv[1:]])
    except OSError as exc:
        sys.exit(f"dumb_init: cannot run {path}: {exc.strerror}")


if __name__ == "__main__":
    main()
