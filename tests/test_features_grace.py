"""`--grace-period` / `DUMB_INIT_GRACE_PERIOD`: after the direct child exits, TERM what is left, wait
up to the period, then KILL the rest; exit with the direct child's status."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing.features_util import (
    PROMPT,
    TREE,
    UNSHARE,
    alive,
    env_for,
    kill_pid,
    run,
    running,
)

# Upper bound on what dumb-init may add to the grace period on a loaded machine.
SLACK = 10.0


@dataclass
class Outcome:
    code: int
    elapsed: float
    pids: dict[str, int]
    stderr: str


def run_tree(argv: list[str], env: dict[str, str] | None = None, wait: float = PROMPT) -> Outcome:
    """Runs dumb-init over testing/features_tree.py; returns once dumb-init has exited."""
    started = time.monotonic()
    with running(argv, env=env) as (proc, out, err):
        pids: dict[str, int] = {}
        while (line := out.readline()) != "ready":
            assert line is not None and line.startswith("spawned "), (out.seen, err.rest(1))
            _, role, pid = line.split()
            pids[role] = int(pid)
        code = proc.wait(wait)
        elapsed = time.monotonic() - started
        stderr = err.rest()
    return Outcome(code, elapsed, pids, stderr)


def reaped_line(pid: int, how: str) -> str:
    return f"[dumb-init] A child with PID {pid} {how}."


@pytest.mark.parametrize(
    ("option", "variable"),
    [([], None), (["--grace-period=0"], None), ([], "0"), (["--grace-period", "0"], "30")],
    ids=["default", "flag-0", "variable-0", "flag-0-over-variable-30"],
)
def test_grace_zero_exits_at_once_like_1_2_5(
    dumb_init_bin: str, option: list[str], variable: str | None
) -> None:
    env = env_for(DUMB_INIT_GRACE_PERIOD=variable) if variable is not None else None
    outcome = run_tree([dumb_init_bin, *option, *TREE, "--exit", "5", "stubborn"], env=env)
    stubborn = outcome.pids["stubborn"]
    try:
        assert outcome.code == 5
        # It did not wait for (nor kill) the process that outlives the child.
        assert alive(stubborn)
    finally:
        kill_pid(stubborn)


@pytest.mark.pid1
def test_grace_zero_as_pid_1_exits_at_once(pid_namespace: None, dumb_init_bin: str) -> None:
    outcome = run_tree([*UNSHARE, dumb_init_bin, *TREE, "--exit", "5", "stubborn"])
    assert outcome.code == 5


@pytest.mark.pid1
def test_grace_as_pid_1_flushes_then_kills_the_stubborn(
    pid_namespace: None, dumb_init_bin: str, tmp_path: Path
) -> None:
    """The direct child ignores TERM and exits 7; a process in another session flushes a file on
    TERM (only the namespace-wide TERM reaches it); another ignores TERM and must be killed."""
    flushed = tmp_path / "flushed"
    grace = 2.0
    argv = [*UNSHARE, dumb_init_bin, "-v", "--grace-period=2"]
    argv += [*TREE, "--ignore-term", "--exit", "7", f"flush:{flushed}", "stubborn"]
    outcome = run_tree(argv, wait=grace + SLACK + PROMPT)

    assert outcome.code == 7, outcome.stderr
    assert flushed.read_text() == "flushed\n"
    assert outcome.elapsed >= grace * 0.9, "killed before the grace period was over"
    assert outcome.elapsed <= grace + SLACK, "waited far beyond the grace period"
    assert "[dumb-init] Grace period: waiting up to 2 seconds for remaining processes." in (
        outcome.stderr
    )
    assert "[dumb-init] Grace period over: sending SIGKILL to remaining processes." in (
        outcome.stderr
    )
    # PIDs as seen inside the namespace, where dumb-init reaped them.
    assert reaped_line(outcome.pids["flush"], "exited with exit status 0") in outcome.stderr
    assert reaped_line(outcome.pids["stubborn"], "was terminated by signal 9") in outcome.stderr


@pytest.mark.pid1
def test_grace_as_pid_1_returns_early_when_all_exited(
    pid_namespace: None, dumb_init_bin: str, tmp_path: Path
) -> None:
    flushed = tmp_path / "flushed"
    argv = [*UNSHARE, dumb_init_bin, "-v", "--grace-period=30"]
    argv += [*TREE, "--exit", "7", f"flush:{flushed}", "plain"]
    outcome = run_tree(argv)

    assert outcome.code == 7, outcome.stderr
    assert flushed.read_text() == "flushed\n"
    assert outcome.elapsed < 30 - SLACK, "did not return early"
    assert "[dumb-init] All processes exited." in outcome.stderr
    assert "Grace period over" not in outcome.stderr
    assert reaped_line(outcome.pids["plain"], "was terminated by signal 15") in outcome.stderr


def test_grace_as_subreaper_terms_and_reaps_remaining_children(
    dumb_init_bin: str, tmp_path: Path
) -> None:
    flushed = tmp_path / "flushed"
    argv = [dumb_init_bin, "-v", "--grace-period=30"]
    argv += [*TREE, "--exit", "7", f"flush:{flushed}", "plain", "orphan"]
    outcome = run_tree(argv)

    assert outcome.code == 7, outcome.stderr
    assert flushed.read_text() == "flushed\n"
    assert outcome.elapsed < 30 - SLACK, "did not return early"
    assert "[dumb-init] All processes exited." in outcome.stderr
    for role, how in [
        ("flush", "exited with exit status 0"),
        ("plain", "was terminated by signal 15"),
        ("orphan", "was terminated by signal 15"),
    ]:
        assert reaped_line(outcome.pids[role], how) in outcome.stderr, role
        assert not Path(f"/proc/{outcome.pids[role]}").exists(), f"{role} left behind"


def test_grace_as_subreaper_kills_the_stubborn_at_the_deadline(
    dumb_init_bin: str, tmp_path: Path
) -> None:
    flushed = tmp_path / "flushed"
    grace = 1.5
    argv = [dumb_init_bin, "-v", "--grace-period=1.5"]
    argv += [*TREE, "--exit", "7", "stubborn", f"flush:{flushed}"]
    outcome = run_tree(argv, wait=grace + SLACK + PROMPT)
    stubborn = outcome.pids["stubborn"]
    try:
        assert outcome.code == 7, outcome.stderr
        assert flushed.read_text() == "flushed\n"
        assert grace * 0.9 <= outcome.elapsed <= grace + SLACK
        assert "[dumb-init] Grace period: waiting up to 1.5 seconds for remaining processes." in (
            outcome.stderr
        )
        assert reaped_line(stubborn, "was terminated by signal 9") in outcome.stderr
        assert not Path(f"/proc/{stubborn}").exists(), "the stubborn process was left behind"
    finally:
        kill_pid(stubborn)


@pytest.mark.parametrize(
    ("option", "variable"),
    [([], "0.5"), (["--grace-period=0.5"], "30"), (["--grace-period", "0.5"], "30")],
    ids=["variable", "flag-over-variable", "separate-value-over-variable"],
)
def test_grace_variable_and_flag_precedence(
    dumb_init_bin: str, option: list[str], variable: str
) -> None:
    argv = [dumb_init_bin, "-v", *option, *TREE, "--exit", "3", "stubborn"]
    outcome = run_tree(argv, env=env_for(DUMB_INIT_GRACE_PERIOD=variable))
    stubborn = outcome.pids["stubborn"]
    try:
        assert outcome.code == 3, outcome.stderr
        assert "[dumb-init] Grace period: waiting up to 0.5 seconds for remaining processes." in (
            outcome.stderr
        )
        assert reaped_line(stubborn, "was terminated by signal 9") in outcome.stderr
        assert outcome.elapsed < 0.5 + SLACK
    finally:
        kill_pid(stubborn)


def test_grace_term_goes_through_the_rewrite_rules(dumb_init_bin: str) -> None:
    argv = [dumb_init_bin, "-v", "-r", "TERM:USR1", "--grace-period=30", *TREE, "plain"]
    outcome = run_tree(argv)
    assert outcome.code == 0, outcome.stderr
    assert reaped_line(outcome.pids["plain"], "was terminated by signal 10") in outcome.stderr


@pytest.mark.parametrize("value", ["2", "0.5", "2.", ".5", "1.25", "0.000000001"])
def test_grace_accepts_decimal_seconds(dumb_init_bin: str, value: str) -> None:
    done = run([dumb_init_bin, f"--grace-period={value}", "sh", "-c", "exit 4"])
    assert done.returncode == 4, done.stderr
    assert done.stderr == ""
    done = run([dumb_init_bin, "sh", "-c", "exit 4"], env=env_for(DUMB_INIT_GRACE_PERIOD=value))
    assert done.returncode == 4, done.stderr
    assert done.stderr == ""
