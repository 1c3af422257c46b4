"""Helpers for the dumb-init test suite (standard library only).

``python -m testing.print_signals``, ``python -m testing.sleeper`` and
``python -m testing.orphans`` are small programs the tests run under dumb-init;
:mod:`testing.proc` reads process state from ``/proc``, :mod:`testing.streams`
reads lines with timeouts and :mod:`testing.supervise` starts dumb-init.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The source checkout: ``python -m testing.X`` works with it on ``PYTHONPATH``."""

PYTHON = sys.executable

TIMEOUT = 10.0
"""Seconds any single wait may take before a test fails (generous: loaded CI)."""


def cargo_version() -> str:
    """The version in Cargo.toml: the release artifacts' names carry it."""
    match = re.search(r'^version = "(.+)"$', (ROOT / "Cargo.toml").read_text(), re.MULTILINE)
    assert match, "no version in Cargo.toml"
    return match.group(1)


def python_module(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m testing.MODULE ARGS``."""
    return [PYTHON, "-m", f"testing.{module}", *args]


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any ``DUMB_INIT_*`` setting, plus ``extra``.

    ``PYTHONPATH`` points at the checkout so the helper programs are importable
    from any working directory.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUMB_INIT_")}
    pythonpath = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + pythonpath if pythonpath else "")
    env.pop("PYTHONSTARTUP", None)
    env.update(extra or {})
    return env
