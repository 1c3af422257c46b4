"""`--grace-period` / `DUMB_INIT_GRACE_PERIOD`: after the direct child exits, TERM what is left, wait
up to the period, then KILL the rest; exit with the direct child's status.

Also what can get in the period's way: dumb-init stopped and continued, signals during the period,
jobs that are stopped (they get SIGCONT after the SIGTERM), no /proc to list what is left, and
processes dumb-init may not signal when it is not root (the period still ends at its deadline).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing import proc as procfs
from testing.features_util import (
    NO_PROC,
    NOBODY,
    PROMPT,
    TREE,
    UNSHARE,
    WAITALL_JOB,
    Lines,
    alive,
    env_for,
    gates,
    host_pid,
    kill_pid,
    only_dumb_init_lines,
    runnable_by_anyone,
    running,
    status_field,
    wait_until,
)

# Upper bound on what dumb-init may add to the grace period on a loaded machine.
SLACK = 10.0
OVER = "[dumb-init] Grace period over: sending SIGKILL to remaining processes."
ALL_EXITED = "[dumb-init] All processes exited."
CANNOT_SIGNAL = (
    "[dumb-init] Leaving processes dumb-init cannot signal (no /proc, or no permission)."
)


@dataclass
class Outcome:
    code: int
    elapsed: float
    pids: dict[str, int]
    stderr: str

    @property
    def child(self) -> int:
        """The direct child's PID, from the debug line that announced it."""
        match = re.search(r"Child spawned with PID (\d+)\.", self.stderr)
        assert match, self.stderr
        return int(match[1])


def run_tree(argv: list[str], env: dict[str, str] | None = None, wait: float = PROMPT) -> Outcome:
    """Runs dumb-init over testing/features_tree.py; returns once dumb-init has exited. `elapsed`
    counts from before dumb-init started, so it is more than any period dumb-init waited out."""
    started = time.monotonic()
    with running(argv, env=env) as (proc, out, err):
        pids: dict[str, int] = {}
        while (line := out.readline()) != "ready":
            assert line is not None and line.startswith("spawned "), (out.seen, err.rest(1))
            _, role, pid = line.split()
            pids[role] = int(pid)
        try:
            code = proc.wait(wait)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"dumb-init still running after {wait:g}s:\n{err.rest(1)}"
            ) from None
        elapsed = time.monotonic() - started
        stderr = err.rest()
    return Outcome(code, elapsed, pids, stderr)


def reaped_line(pid: int, how: str) -> str:
    return f"[dumb-init] A child with PID {pid} {how}."


def expect(out: Lines, wanted: str) -> None:
    line = out.readline()
    assert line == wanted, f"expected {wanted!r}, got {line!r}; stdout {out.seen!r}"


def read_pid(out: Lines, name: str) -> int:
    """The PID of a `NAME PID` line (waitall_job.py's `job` and `child`)."""
    line = out.readline()
    assert line is not None and line.startswith(f"{name} "), out.seen
    return int(line.split()[1])


def exit_code(proc: subprocess.Popen[bytes], err: Lines, wait: float) -> int:
    try:
        return proc.wait(wait)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"dumb-init still running after {wait:g}s:\n{err.rest(1)}") from None


@pytest.mark.parametrize(
    ("option", "variable"),
    [([], None), (["--grace-period=0"], None), ([], "0"), (["--grace-period", "0"], "300")],
    ids=["default", "flag-0", "variable-0", "flag-0-over-variable-300"],
)
def test_grace_zero_exits_at_once_like_1_2_5(
    dumb_init_bin: str, option: list[str], variable: str | None
) -> None:
    env = env_for(DUMB_INIT_GRACE_PERIOD=variable) if variable is not None else None
    argv = [dumb_init_bin, "-v", *option, *TREE, "--exit", "5", "stubborn"]
    # Far less than the 300 s a period would last, and than forever (waiting for the stubborn one).
    outcome = run_tree(argv, env=env, wait=SLACK)
    stubborn = outcome.pids["stubborn"]
    try:
        assert outcome.code == 5
        # It neither waited for nor killed the process that outlives the child.
        assert alive(stubborn)
        assert "Grace period" not in outcome.stderr
        # 1.2.5's last steps: SIGTERM to the child's group, then exit.
        assert list(only_dumb_init_lines(outcome.stderr))[-3:] == [
            reaped_line(outcome.child, "exited with exit status 5"),
            "[dumb-init] Forwarded signal 15 to children.",
            "[dumb-init] Child exited with status 5. Goodbye.",
        ], outcome.stderr
    finally:
        kill_pid(stubborn)


@pytest.mark.pid1
def test_grace_zero_as_pid_1_exits_at_once(pid_namespace: None, dumb_init_bin: str) -> None:
    outcome = run_tree(
        [*UNSHARE, dumb_init_bin, "-v", *TREE, "--exit", "5", "stubborn"], wait=SLACK
    )
    assert outcome.code == 5
    assert "Grace period" not in outcome.stderr
    assert outcome.stderr.endswith("[dumb-init] Child exited with status 5. Goodbye.")


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
    assert outcome.elapsed >= grace, "killed before the grace period was over"
    assert outcome.elapsed <= grace + SLACK, "waited far beyond the grace period"
    assert "[dumb-init] Grace period: waiting up to 2 seconds for remaining processes." in (
        outcome.stderr
    )
    assert OVER in outcome.stderr
    # PIDs as seen inside the namespace, where dumb-init reaped them.
    assert reaped_line(outcome.pids["flush"], "exited with exit status 0") in outcome.stderr
    assert reaped_line(outcome.pids["stubborn"], "was terminated by signal 9") in outcome.stderr


@pytest.mark.pid1
def test_grace_as_pid_1_returns_early_when_all_exited(
    pid_namespace: None, dumb_init_bin: str, tmp_path: Path
) -> None:
    flushed = tmp_path / "flushed"
    argv = [*UNSHARE, dumb_init_bin, "-v", "--grace-period=300"]
    argv += [*TREE, "--exit", "7", f"flush:{flushed}", "plain"]
    # Returning early is returning within PROMPT of a 300 s period: run_tree fails otherwise.
    outcome = run_tree(argv, wait=PROMPT)

    assert outcome.code == 7, outcome.stderr
    assert flushed.read_text() == "flushed\n"
    assert ALL_EXITED in outcome.stderr
    assert "Grace period over" not in outcome.stderr
    assert reaped_line(outcome.pids["plain"], "was terminated by signal 15") in outcome.stderr


@pytest.mark.pid1
def test_grace_as_pid_1_signals_each_process_once(pid_namespace: None, dumb_init_bin: str) -> None:
    """The period's SIGTERM, rewritten to a real-time signal (which queues instead of merging),
    reaches a job in the child's group once, not once by the group and again by kill(-1)."""
    rtmin_1 = signal.SIGRTMIN + 1
    argv = [*UNSHARE, dumb_init_bin, "-v", "--grace-period=1", "-r", f"TERM:{rtmin_1}"]
    argv += [*WAITALL_JOB, "--exit", "3"]
    with running(argv) as (proc, out, err):
        job = read_pid(out, "job")
        assert exit_code(proc, err, 1 + PROMPT) == 3
        # The job was killed at the deadline; it reported every copy it was sent before that.
        out.rest()
        stderr = err.rest()
    assert reaped_line(job, "was terminated by signal 9") in stderr
    assert out.seen.count(f"job got {rtmin_1}") == 1, out.seen


def test_grace_as_subreaper_terms_and_reaps_remaining_children(
    dumb_init_bin: str, tmp_path: Path
) -> None:
    flushed = tmp_path / "flushed"
    argv = [dumb_init_bin, "-v", "--grace-period=300"]
    argv += [*TREE, "--exit", "7", f"flush:{flushed}", "plain", "orphan"]
    outcome = run_tree(argv, wait=PROMPT)

    assert outcome.code == 7, outcome.stderr
    assert flushed.read_text() == "flushed\n"
    assert ALL_EXITED in outcome.stderr
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
        assert grace <= outcome.elapsed <= grace + SLACK
        assert "[dumb-init] Grace period: waiting up to 1.5 seconds for remaining processes." in (
            outcome.stderr
        )
        assert reaped_line(stubborn, "was terminated by signal 9") in outcome.stderr
        assert not Path(f"/proc/{stubborn}").exists(), "the stubborn process was left behind"
    finally:
        kill_pid(stubborn)


@pytest.mark.parametrize(
    ("option", "variable"),
    [([], "0.5"), (["--grace-period=0.5"], "300"), (["--grace-period", "0.5"], "300")],
    ids=["variable", "flag-over-variable", "separate-value-over-variable"],
)
def test_grace_variable_and_flag_precedence(
    dumb_init_bin: str, option: list[str], variable: str
) -> None:
    argv = [dumb_init_bin, "-v", *option, *TREE, "--exit", "3", "stubborn"]
    outcome = run_tree(argv, env=env_for(DUMB_INIT_GRACE_PERIOD=variable), wait=0.5 + SLACK)
    stubborn = outcome.pids["stubborn"]
    try:
        assert outcome.code == 3, outcome.stderr
        assert "[dumb-init] Grace period: waiting up to 0.5 seconds for remaining processes." in (
            outcome.stderr
        )
        assert reaped_line(stubborn, "was terminated by signal 9") in outcome.stderr
        assert outcome.elapsed >= 0.5
    finally:
        kill_pid(stubborn)


def test_grace_term_goes_through_the_rewrite_rules(dumb_init_bin: str) -> None:
    argv = [dumb_init_bin, "-v", "-r", "TERM:USR1", "--grace-period=300", *TREE, "plain"]
    outcome = run_tree(argv)
    assert outcome.code == 0, outcome.stderr
    assert reaped_line(outcome.pids["plain"], "was terminated by signal 10") in outcome.stderr


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2", "2"),
        ("2.", "2"),
        ("1.25", "1.25"),
        ("0.5", "0.5"),
        (".5", "0.5"),
        ("0.000000001", "0.000000001"),
        ("0.0000000019", "0.000000001"),
    ],
)
@pytest.mark.parametrize("given_by", ["flag", "variable"])
def test_grace_accepts_decimal_seconds(
    dumb_init_bin: str, value: str, shown: str, given_by: str
) -> None:
    """The period runs for the value given. Short ones end with SIGKILL for a process that
    ignores SIGTERM, at the deadline; longer ones end early, when the SIGTERM has done its work."""
    short = float(value) <= 0.5
    option = [f"--grace-period={value}"] if given_by == "flag" else []
    env = env_for(DUMB_INIT_GRACE_PERIOD=value) if given_by == "variable" else None
    argv = [dumb_init_bin, "-v", *option, *TREE, "--exit", "4", "stubborn" if short else "plain"]
    outcome = run_tree(argv, env=env)
    assert outcome.code == 4, outcome.stderr
    assert f"[dumb-init] Grace period: waiting up to {shown} seconds for remaining processes." in (
        outcome.stderr
    )
    if short:
        assert outcome.elapsed >= float(value)
        assert OVER in outcome.stderr
        assert reaped_line(outcome.pids["stubborn"], "was terminated by signal 9") in (
            outcome.stderr
        )
    else:
        assert ALL_EXITED in outcome.stderr
        assert reaped_line(outcome.pids["plain"], "was terminated by signal 15") in outcome.stderr


@pytest.mark.parametrize("interruption", ["stop-continue", "signal"])
def test_only_the_deadline_ends_the_period(dumb_init_bin: str, interruption: str) -> None:
    """dumb-init stopped and continued during the period (which used to end it at once), or a
    signal received then (forwarded, rewritten): the period goes on to its deadline."""
    grace = 2.0
    argv = [dumb_init_bin, "-v", f"--grace-period={grace:g}", "-r", "USR1:USR2"]
    argv += [*WAITALL_JOB, "--exit", "3"]
    started = time.monotonic()
    with running(argv) as (proc, out, err):
        job = read_pid(out, "job")
        read_pid(out, "child")
        err.wait_for("[dumb-init] Grace period: waiting up to 2 seconds")
        # The period's SIGTERM, then SIGCONT; the job stays.
        expect(out, "job got 15")
        expect(out, "job got 18")
        if interruption == "stop-continue":
            os.kill(proc.pid, signal.SIGSTOP)
            procfs.wait_stopped(proc.pid)
            os.kill(proc.pid, signal.SIGCONT)
            # Our SIGCONT is forwarded like any other signal.
            expect(out, "job got 18")
        else:
            os.kill(proc.pid, signal.SIGUSR1)
            expect(out, "job got 12")
        assert exit_code(proc, err, grace + PROMPT) == 3
        elapsed = time.monotonic() - started
        stderr = err.rest()
    assert elapsed >= grace, f"the period ended after {elapsed:.2f}s of {grace:g}s:\n{stderr}"
    assert OVER in stderr
    assert reaped_line(job, "was terminated by signal 9") in stderr


@pytest.mark.parametrize("where", [pytest.param("pid1", marks=pytest.mark.pid1), "subreaper"])
def test_stopped_job_gets_sigcont_and_ends_gracefully(
    request: pytest.FixtureRequest, dumb_init_bin: str, where: str
) -> None:
    """A job stopped by SIGSTOP (state T) when the period starts could not act on its SIGTERM
    before the deadline; the SIGCONT that follows lets it end by itself, and the period early."""
    if where == "pid1":
        request.getfixturevalue("pid_namespace")
    prefix = UNSHARE if where == "pid1" else []
    with gates(1) as (hold,):
        argv = [*prefix, dumb_init_bin, "-v", "--grace-period=5"]
        argv += [*WAITALL_JOB, "--exit", "3", "--hold", str(hold.fd), "--term", "exit"]
        with running(argv, pass_fds=[hold.fd]) as (proc, out, err):
            job = read_pid(out, "job")
            read_pid(out, "child")
            stopped = job if where == "subreaper" else host_pid(proc.pid, job)
            os.kill(stopped, signal.SIGSTOP)
            procfs.wait_stopped(stopped)
            hold.open()  # the child exits 3
            expect(out, "job got 15")
            assert exit_code(proc, err, PROMPT) == 3
            stderr = err.rest()
    assert ALL_EXITED in stderr
    assert OVER not in stderr
    assert reaped_line(job, "exited with exit status 0") in stderr


def test_job_stopped_by_ctrl_z_ends_gracefully(dumb_init_bin: str) -> None:
    """Ctrl-Z: dumb-init gets SIGTSTP, stops the child's group (the job with it) and itself. It is
    continued alone (`-r CONT:0` keeps the group stopped, as a job stopped inside an interactive
    shell stays), and the child is killed: the period's SIGTERM and SIGCONT end the job gracefully."""
    with gates(1) as (hold,):
        argv = [dumb_init_bin, "-v", "--grace-period=5", "-r", "CONT:0"]
        argv += [*WAITALL_JOB, "--exit", "3", "--hold", str(hold.fd), "--term", "exit"]
        with running(argv, pass_fds=[hold.fd]) as (proc, out, err):
            job = read_pid(out, "job")
            child = read_pid(out, "child")
            os.kill(proc.pid, signal.SIGTSTP)
            for pid in (job, child, proc.pid):
                procfs.wait_stopped(pid)
            os.kill(proc.pid, signal.SIGCONT)
            err.wait_for("[dumb-init] Not forwarding signal 18 to children (ignored).")
            assert procfs.state(job) == "T"
            os.kill(child, signal.SIGKILL)
            expect(out, "job got 15")
            assert exit_code(proc, err, PROMPT) == 128 + signal.SIGKILL
            stderr = err.rest()
    assert ALL_EXITED in stderr
    assert OVER not in stderr
    assert reaped_line(job, "exited with exit status 0") in stderr


def test_without_proc_waits_then_kills_the_childs_group(dumb_init_bin: str) -> None:
    """No /proc (so no list of what is left): the period still lasts until its deadline, then
    SIGKILL goes to the child's process group, which dumb-init can name without /proc."""
    grace = 1.0
    argv = [*NO_PROC, dumb_init_bin, "-v", "--grace-period=1"]
    argv += [*WAITALL_JOB, "--exit", "3", "--term", "ignore"]
    started = time.monotonic()
    with running(argv) as (proc, out, err):
        job = read_pid(out, "job")
        assert exit_code(proc, err, grace + PROMPT) == 3
        elapsed = time.monotonic() - started
        stderr = err.rest()
    assert elapsed >= grace, f"the period ended after {elapsed:.2f}s:\n{stderr}"
    assert OVER in stderr
    assert wait_until(lambda: not alive(job)), "the job in the child's group was not killed"


def test_without_proc_returns_once_no_child_is_left(dumb_init_bin: str) -> None:
    argv = [*NO_PROC, dumb_init_bin, "-v", "--grace-period=300"]
    argv += [*WAITALL_JOB, "--exit", "3", "--term", "exit"]
    with running(argv) as (proc, out, err):
        job = read_pid(out, "job")
        read_pid(out, "child")
        expect(out, "job got 15")
        assert exit_code(proc, err, PROMPT) == 3
        stderr = err.rest()
    assert reaped_line(job, "exited with exit status 0") in stderr
    assert ALL_EXITED in stderr


def test_without_proc_leaves_what_it_cannot_name(dumb_init_bin: str) -> None:
    """A job in a session of its own is out of the child's group and, without /proc, out of
    sight: dumb-init waits out the period for it, then exits without it rather than wait for a
    process it cannot signal."""
    grace = 1.0
    argv = [*NO_PROC, dumb_init_bin, "-v", "--grace-period=1"]
    argv += [*WAITALL_JOB, "--exit", "3", "--setsid"]
    started = time.monotonic()
    with running(argv) as (proc, out, err):
        job = read_pid(out, "job")
        assert exit_code(proc, err, grace + PROMPT) == 3
        elapsed = time.monotonic() - started
        assert elapsed >= grace, f"the period ended after {elapsed:.2f}s"
        assert alive(job), "the job dumb-init could not name was signalled"
        # Not err.rest(): the job, still alive, holds stderr open.
        err.wait_for(CANNOT_SIGNAL)


def nobody_child(job: str) -> list[str]:
    """A child that starts `job` in the background, waits for a line on stdin, and exits 3. `job`
    prints `job PID` once ready."""
    return ["sh", "-c", f"{job} </dev/null & read line; exit 3"]


def test_as_nobody_kills_a_stubborn_job_at_the_deadline(dumb_init_bin: str) -> None:
    """Not root: dumb-init runs, forwards and kills what belongs to its user."""
    job = """sh -c 'trap "" TERM; echo job $$; exec sleep 50'"""
    with runnable_by_anyone(dumb_init_bin) as copy, gates(1) as (hold,):
        argv = [*NOBODY, copy, "-v", "--grace-period=1", *nobody_child(job)]
        with running(argv, stdin=hold.fd) as (proc, out, err):
            job_pid = read_pid(out, "job")
            assert (status_field(proc.pid, "Uid") or "").split() == ["65534"] * 4
            err.wait_for("[dumb-init] Registered as child subreaper (not PID 1).")
            opened = time.monotonic()
            hold.open()
            assert exit_code(proc, err, 1 + PROMPT) == 3
            elapsed = time.monotonic() - opened
            stderr = err.rest()
    assert elapsed >= 1.0
    assert reaped_line(job_pid, "was terminated by signal 9") in stderr


def test_as_nobody_the_period_ends_when_sigkill_is_refused(dumb_init_bin: str) -> None:
    """Not root, with a job that runs as another user (the child may change its user: dumb-init
    passes it CAP_SETUID): kill() fails with EPERM, and dumb-init exits at the deadline instead of
    waiting for a process that SIGKILL never reached."""
    caps = ["--inh-caps=+setuid,+setgid", "--ambient-caps=+setuid,+setgid"]
    job = """setpriv --reuid=1 --regid=1 --clear-groups sh -c 'trap "" TERM; echo job $$; exec sleep 50'"""
    with runnable_by_anyone(dumb_init_bin) as copy, gates(1) as (hold,):
        argv = [*NOBODY, *caps, copy, "-v", "--grace-period=1", *nobody_child(job)]
        with running(argv, stdin=hold.fd) as (proc, out, err):
            job_pid = read_pid(out, "job")
            assert (status_field(job_pid, "Uid") or "").split() == ["1"] * 4
            opened = time.monotonic()
            hold.open()
            assert exit_code(proc, err, 1 + PROMPT) == 3
            elapsed = time.monotonic() - opened
            # Not err.rest(): the job, still alive, holds stderr open.
            err.wait_for(CANNOT_SIGNAL)
    assert elapsed >= 1.0
    assert alive(job_pid), "a job dumb-init may not signal was killed"
