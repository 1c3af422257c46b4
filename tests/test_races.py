"""Races other inits shipped bugs for, each run many times under a timeout.

- The direct child exits in the same instant as a burst of orphans: their
  SIGCHLDs merge into one, and an init that reaps one child per SIGCHLD misses
  its child's exit and hangs (catatonit did, with ``exit 127``).
- The child exits, or fails to exec, before the supervisor loop starts.
- A signal arrives between fork and the child's ``setsid()``, when the
  child's process group does not exist yet (1.2.5 lost it).
- The terminal hand-off: the kernel's SIGHUP, sent when dumb-init gives up the
  terminal, never reaches the child.

Each test has a short version in the default run and a long one (``-m long``)
that runs it thousands of times (hundreds on a terminal). A hang fails the run
it happens in, after ``TIMEOUT``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Sequence

import pytest

from testing import TIMEOUT, base_env, hardening, proc
from testing.supervise import ALL_MODES, Init, Mode, PtyInit, mode_id, print_signals, settle

SIGHUP = int(signal.SIGHUP)
SIGCONT = int(signal.SIGCONT)
SIGKILL = int(signal.SIGKILL)
SIGTERM = int(signal.SIGTERM)
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
SETSID, SINGLE_CHILD = ALL_MODES[0], ALL_MODES[3]
SETSID_OR_SINGLE = [SETSID, SINGLE_CHILD]
WHERE = ["subreaper", pytest.param("pid1", marks=pytest.mark.pid1)]
LONG = [pytest.mark.long, pytest.mark.timeout(900)]


def repeated(short: int, long: int) -> pytest.MarkDecorator:
    """Parametrizes ``runs``: ``short`` in the default run, ``long`` with ``-m long``."""
    return pytest.mark.parametrize(
        "runs",
        [pytest.param(short, id=f"{short}x"), pytest.param(long, id=f"{long}x", marks=LONG)],
    )


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = hardening.build_tool(tmp_path_factory.mktemp("tool"))
    if path is None:
        pytest.skip("gcc is not installed: the orphan burst is a C program")
    return path


def command_line(
    request: pytest.FixtureRequest, where: str, dumb_init_bin: str, *args: str
) -> list[str]:
    """``dumb-init ARGS``, under ``unshare`` for PID 1."""
    if where == "pid1":
        request.getfixturevalue("pid_namespace")
        return [*UNSHARE, dumb_init_bin, *args]
    return [dumb_init_bin, *args]


def run_once(argv: Sequence[str], run: int) -> subprocess.CompletedProcess[bytes]:
    """Run to completion in a process group of its own; a hang fails the test."""
    try:
        return subprocess.run(
            argv,
            env=base_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
            process_group=0,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"run {run}: {argv} did not end within {TIMEOUT:g}s")


def reap_strays() -> None:
    """Reap what a subreaper dumb-init left behind when it exited: its orphans
    were re-parented to pytest (see conftest.py), and exit at once."""

    def all_reaped() -> bool:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] != 0:
                pass
        except ChildProcessError:  # no child left at all
            return True
        return False

    proc.wait_until(all_reaped, "the orphans left behind to exit")


# --- The child's exit merged with a burst of orphans' ------------------------------------------

BURST = 16
"""Children the direct child leaves behind, all exiting in the instant it does."""


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("mode", SETSID_OR_SINGLE, ids=mode_id)
@repeated(50, 2_000)
def test_child_exits_with_a_burst_of_orphans(
    dumb_init_bin: str, tool: str, request: pytest.FixtureRequest, where: str, mode: Mode, runs: int
) -> None:
    argv = command_line(request, where, dumb_init_bin, *mode.args, tool, "burst", str(BURST), "127")
    for run in range(runs):
        result = run_once(argv, run)
        assert result.returncode == 127, (run, result)
        reap_strays()


# --- The child gone before the supervisor loop starts ------------------------------------------

MISSING = "/nonexistent/h3a-command"
QUICK_ENDS = [
    (["true"], 0, b""),
    (["false"], 1, b""),
    (["sh", "-c", "exit 127"], 127, b""),
    ([MISSING], 2, f"[dumb-init] {MISSING}: No such file or directory\n".encode()),
    (["h3a-no-such-command"], 2, b"[dumb-init] h3a-no-such-command: No such file or directory\n"),
]
"""Commands that end at once, their status and dumb-init's stderr."""


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("mode", SETSID_OR_SINGLE, ids=mode_id)
@repeated(50, 2_000)
def test_child_ends_before_the_loop_starts(
    dumb_init_bin: str, request: pytest.FixtureRequest, where: str, mode: Mode, runs: int
) -> None:
    for run in range(runs):
        command, status, stderr = QUICK_ENDS[run % len(QUICK_ENDS)]
        result = run_once(command_line(request, where, dumb_init_bin, *mode.args, *command), run)
        assert (result.returncode, result.stderr, result.stdout) == (status, stderr, b""), run


# --- A signal before the child's setsid() ------------------------------------------------------


@repeated(50, 2_000)
def test_sigterm_as_the_child_is_spawned(dumb_init_bin: str, runs: int) -> None:
    """SIGTERM sent the moment dumb-init reports the fork (``-v``), often
    before the child's ``setsid()``: dumb-init then signals the child alone,
    which always ends, so dumb-init exits 143."""
    for run in range(runs):
        with Init([dumb_init_bin, "-v", "sleep", "1000"]) as init:
            init.err.until(lambda line: line.startswith("[dumb-init] Child spawned with PID "))
            init.send(SIGTERM)
            assert init.wait() == 128 + SIGTERM, (run, init.err.history)


SPREAD_US = 3_000
"""SIGTERM goes from 0 to this many microseconds after dumb-init's exec, in
steps: across dumb-init's start-up, its fork and the child's setsid()."""


@repeated(200, 5_000)
def test_sigterm_right_after_start(dumb_init_bin: str, runs: int) -> None:
    """One SIGTERM per run, a little later each time, from right after exec.

    Before dumb-init blocks its signals, SIGTERM kills it (status -15) before
    any child exists: pytest, a subreaper, would otherwise have inherited the
    child (alive, or a zombie nobody reaped). After that, the child always
    ends and dumb-init exits 143; it never hangs."""
    outcomes = {-SIGTERM: 0, 128 + SIGTERM: 0}
    for run in range(runs):
        # Steps of 5 µs in the long run; in the short one the 200 runs still cover the spread
        # twice (some runs on this machine take more than 1 ms to block dumb-init's signals).
        step_us = max(5, 2 * SPREAD_US // runs)
        delay_ns = (run * step_us % (SPREAD_US + step_us)) * 1000
        init = subprocess.Popen(
            [dumb_init_bin, "sleep", "1000"],
            env=base_env(),
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
        start = time.perf_counter_ns()
        while time.perf_counter_ns() - start < delay_ns:
            pass
        os.kill(init.pid, SIGTERM)
        try:
            status = init.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run {run}: dumb-init did not exit within {TIMEOUT:g}s")
        assert status in outcomes, (run, status)
        outcomes[status] += 1
        if status == -SIGTERM:
            assert proc.children(os.getpid()) == [], (run, "a child was created")
    assert outcomes[128 + SIGTERM] > 0  # the races after the fork were run at all


# --- The terminal hand-off ---------------------------------------------------------------------


@pytest.mark.tty
@repeated(10, 300)
def test_hand_off_sighup_never_reaches_the_child(dumb_init_bin: str, runs: int) -> None:
    """dumb-init, a session leader on a terminal, gives the terminal up; the
    kernel then sends SIGHUP and SIGCONT in dumb-init's name, which it does not
    forward. The child, which catches SIGHUP, never sees them."""
    for run in range(runs):
        with PtyInit([dumb_init_bin, "-v", *print_signals()]) as init:
            lines = init.out.until_all(
                {
                    "ready",
                    f"[dumb-init] Ignoring tty hand-off signal {SIGHUP}.",
                    f"[dumb-init] Ignoring tty hand-off signal {SIGCONT}.",
                }
            )
            child = proc.only_child(init.pid)
            lines += settle(init.out, init.pid, {"": child}, sent=[SIGHUP, SIGCONT])
            printed = [line for line in lines if not line.startswith("[dumb-init] ")]
            assert str(SIGHUP) not in printed and str(SIGCONT) not in printed, (run, lines)
            os.kill(child, SIGKILL)
            assert init.wait() == 128 + SIGKILL, run
