"""Reaping when not PID 1 (child subreaper), and `--pause` / `DUMB_INIT_PAUSE=1`."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from testing.features_util import (
    PROMPT,
    TREE,
    UNSHARE,
    Lines,
    alive,
    assert_clean_error,
    children,
    env_for,
    kill_pid,
    run,
    running,
    status_field,
    wait_until,
)

SUBREAPER_LINE = "[dumb-init] Registered as child subreaper (not PID 1)."
PAUSING_LINE = "[dumb-init] Pausing: no child; waiting for SIGTERM or SIGINT."


def read_spawned(out: Lines) -> dict[str, int]:
    pids: dict[str, int] = {}
    while (line := out.readline()) != "ready":
        assert line is not None and line.startswith("spawned "), out.seen
        _, role, pid = line.split()
        pids[role] = int(pid)
    return pids


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_orphan_is_reparented_to_dumb_init_and_reaped(dumb_init_bin: str) -> None:
    argv = [dumb_init_bin, *TREE, "--wait-stdin", "orphan"]
    with running(argv, stdin=subprocess.PIPE) as (proc, out, err):
        orphan = read_spawned(out)["orphan"]
        try:
            assert status_field(orphan, "PPid") == str(proc.pid), "not re-parented to dumb-init"
            assert alive(orphan)
            # Only its parent can reap it; dumb-init's child is still running.
            kill_pid(orphan)
            assert wait_until(lambda: gone(orphan)), (
                f"orphan left as {status_field(orphan, 'State')}"
            )
            assert proc.poll() is None
        finally:
            kill_pid(orphan)
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(PROMPT) == 0, err.rest()


def test_verbose_says_subreaper_when_not_pid_1(dumb_init_bin: str) -> None:
    done = run([dumb_init_bin, "-v", "true"])
    assert done.returncode == 0
    assert SUBREAPER_LINE in done.stderr.splitlines()


@pytest.mark.pid1
def test_pid_1_does_not_register_as_subreaper(pid_namespace: None, dumb_init_bin: str) -> None:
    done = run([*UNSHARE, dumb_init_bin, "-v", "true"])
    assert done.returncode == 0, done.stderr
    assert "[dumb-init] Child spawned with PID 2." in done.stderr.splitlines()
    assert "subreaper" not in done.stderr


@pytest.mark.parametrize("how", ["flag", "variable"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_pause_exits_0_on_term_or_int(dumb_init_bin: str, how: str, signum: int) -> None:
    if how == "flag":
        argv, env = [dumb_init_bin, "-v", "--pause"], env_for()
    else:
        argv, env = [dumb_init_bin, "-v"], env_for(DUMB_INIT_PAUSE="1")
    with running(argv, env=env) as (proc, out, err):
        err.wait_for(PAUSING_LINE)
        proc.send_signal(signum)
        assert proc.wait(PROMPT) == 0, err.rest()
        assert out.rest() == ""


def test_pause_keeps_running_on_other_signals(dumb_init_bin: str) -> None:
    with running([dumb_init_bin, "-v", "--pause"]) as (proc, _, err):
        err.wait_for(PAUSING_LINE)
        for signum in (signal.SIGUSR1, signal.SIGHUP, signal.SIGQUIT):
            proc.send_signal(signum)
            err.wait_for(f"[dumb-init] Received signal {int(signum)}.")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(PROMPT) == 0


@pytest.mark.pid1
def test_pause_as_pid_1_reaps_orphans_then_exits_0(pid_namespace: None, dumb_init_bin: str) -> None:
    with running([*UNSHARE, dumb_init_bin, "-v", "--pause"]) as (proc, _, err):
        err.wait_for(PAUSING_LINE)
        (init,) = children(proc.pid)
        # A process entered into the namespace double-forks: the orphan's parent becomes PID 1.
        done = run(["nsenter", "--target", str(init), "--pid", "--", *TREE, "orphan"])
        assert done.returncode == 0, done.stderr
        orphan = int(done.stdout.split("spawned orphan ")[1].split()[0])
        try:
            assert status_field(orphan, "PPid") == str(init)
            assert alive(orphan)
            kill_pid(orphan)
            assert wait_until(lambda: gone(orphan)), (
                f"orphan left as {status_field(orphan, 'State')}"
            )
        finally:
            kill_pid(orphan)
        assert proc.poll() is None
        os.kill(init, signal.SIGTERM)
        assert proc.wait(PROMPT) == 0, err.rest()


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_pause_with_a_command_is_an_error(dumb_init_bin: str, tmp_path: Path, how: str) -> None:
    marker = tmp_path / "ran"
    if how == "flag":
        done = run([dumb_init_bin, "--pause", "touch", str(marker)])
    else:
        done = run([dumb_init_bin, "touch", str(marker)], env=env_for(DUMB_INIT_PAUSE="1"))
    assert_clean_error(done, "--pause")
    assert not marker.exists(), "the command must not run"


def test_pause_variable_other_than_1_does_not_pause(dumb_init_bin: str) -> None:
    done = run([dumb_init_bin], env=env_for(DUMB_INIT_PAUSE="0"))
    assert done.returncode == 1
    assert done.stderr.startswith(f"Usage: {dumb_init_bin} [option] program [args]\n")
