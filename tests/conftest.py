"""Fixtures shared by every test: the binary under test and leak prevention.

With ``$DUMB_INIT_EMULATOR`` set (a qemu-user command), the binary runs under that emulator and
only the tests testing/emulation.py lists run (``pytest -m emulated``).

The pytest process makes itself a child subreaper, so every process a test
starts stays its descendant even when orphaned; after each test all of them
are killed and reaped.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from typing import Iterator

import pytest

from testing import emulation, proc

PR_SET_CHILD_SUBREAPER = 36
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


def _binary_under_test() -> tuple[str, str]:
    """The binary the suite tests, and where it comes from: ``$DUMB_INIT_BINARY``, else the
    installed package's ``exec_path()``. Raises ``LookupError`` saying what is missing."""
    path = os.environ.get("DUMB_INIT_BINARY")
    if path:
        return os.path.abspath(path), "$DUMB_INIT_BINARY"
    try:
        import dumb_init
    except ImportError as e:
        raise LookupError(f"set DUMB_INIT_BINARY or install the dumb-init package ({e})") from e
    return os.path.abspath(dumb_init.exec_path()), "the installed package's exec_path()"


def pytest_report_header() -> str:
    """Says which binary this run tests, first thing in pytest's output."""
    try:
        path, source = _binary_under_test()
    except (LookupError, FileNotFoundError) as e:
        return f"dumb-init under test: none ({e})"
    prefix = emulation.emulator()
    under = f", run by {prefix} (testing/emulation.py)" if prefix else ""
    return f"dumb-init under test: {path} (from {source}){under}"


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the tests testing/emulation.py lists ``emulated``; under an emulator, skips the
    rest."""
    prefix = emulation.emulator()
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = dict(callspec.params) if callspec is not None else {}
        if emulation.is_emulated(item.nodeid, params):
            item.add_marker(pytest.mark.emulated)
        elif prefix:
            reason = f"not run under {emulation.EMULATOR_VARIABLE} (testing/emulation.py)"
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def dumb_init_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The binary under test: ``$DUMB_INIT_BINARY``, else the installed package's; under
    ``$DUMB_INIT_EMULATOR``, a script that runs it under the emulator."""
    try:
        path, _ = _binary_under_test()
    except LookupError as e:
        pytest.fail(str(e), pytrace=False)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"dumb-init binary {path!r} is not an executable file", pytrace=False)
    prefix = emulation.emulator()
    if prefix:
        try:
            return emulation.launcher(path, prefix, tmp_path_factory.mktemp("emulated"))
        except LookupError as e:
            pytest.fail(str(e), pytrace=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def _subreaper() -> None:
    """Orphans of the tests are re-parented to pytest (not to PID 1), so the
    per-test cleanup finds and reaps them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        pytest.fail(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(errno)}", pytrace=False)


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture(autouse=True)
def _kill_leftovers() -> Iterator[None]:
    """After each test, SIGKILL every descendant of pytest and reap them all."""
    yield
    deadline = time.monotonic() + 10
    while True:
        left = proc.descendants(os.getpid())
        for pid in left:
            if proc.alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        _reap_all()
        if not left:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"could not clean up processes {left}", pytrace=False)
        time.sleep(0.005)


def _not_here(reason: str) -> None:
    """Skips a PID-1 test where PID namespaces cannot be made; fails it where ``$CI`` is set, so
    that CI cannot pass without running them (the README's PID-1 claims rest on them)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: PID-1 tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pid_namespace() -> None:
    """Skip unless ``unshare --pid --fork --mount-proc`` works here (fail instead under CI)."""
    try:
        result = subprocess.run(
            [*UNSHARE, "true"],
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        _not_here("unshare(1) is not installed")
        return
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip()
        _not_here(f"cannot create a PID namespace: {reason or result.returncode}")
