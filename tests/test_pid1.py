"""dumb-init as PID 1 of a fresh PID namespace (``unshare --pid --fork
--mount-proc``), as in a container: it turns a SIGTERM from outside into the
child's death, reaps every orphan, and passes the exit status out."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from testing import TIMEOUT, base_env, proc, python_module
from testing.supervise import MODES, Init, Mode, debug_lines, mode_id

pytestmark = [pytest.mark.pid1, pytest.mark.usefixtures("pid_namespace")]

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
ORPHANS = 1000


def namespace_init(unshare: Init) -> int:
    """The host PID of the namespace's PID 1 (the child of ``unshare``)."""
    pid = proc.only_child(unshare.pid)
    assert proc.status(pid)["NSpid"].split()[-1] == "1"
    return pid


def in_namespace(dumb_init_bin: str, mode: Mode, *command: str, **kwargs: object) -> Init:
    argv = [*UNSHARE, dumb_init_bin, *mode.args, *command]
    return Init(argv, env=base_env(dict(mode.env)), **kwargs)  # type: ignore[arg-type]


def test_without_dumb_init_pid_1_ignores_sigterm() -> None:
    """The problem dumb-init solves: as PID 1, a program without a SIGTERM
    handler is not stopped by SIGTERM (``docker stop`` waits, then kills)."""
    with Init([*UNSHARE, *python_module("sleeper")]) as unshare:
        unshare.out.expect("ready")
        pid1 = namespace_init(unshare)
        os.kill(pid1, signal.SIGTERM)
        for _ in range(2):  # the second probe runs after any pending signal
            os.kill(pid1, signal.SIGUSR1)
            unshare.out.expect("usr1")
        assert proc.alive(pid1)
        assert signal.SIGTERM not in proc.pending(pid1)
        assert unshare.proc.poll() is None


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_sigterm_from_outside_stops_the_child(dumb_init_bin: str, mode: Mode) -> None:
    with in_namespace(dumb_init_bin, mode, *python_module("sleeper")) as unshare:
        unshare.out.expect("ready")
        pid1 = namespace_init(unshare)
        child = proc.only_child(pid1)
        os.kill(pid1, signal.SIGTERM)
        assert unshare.wait() == 128 + signal.SIGTERM
        assert not proc.alive(child)
        err = unshare.err.rest()
    if mode.debug:
        lines = debug_lines(err)
        assert "Child spawned with PID 2." in lines  # PIDs as seen inside
        assert "A child with PID 2 was terminated by signal 15." in lines
        assert lines[-1] == "Child exited with status 143. Goodbye."
    else:
        assert err == []


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_reaps_orphans(dumb_init_bin: str, mode: Mode, tmp_path: Path) -> None:
    """The child makes 1,000 orphans; none is left a zombie in the namespace."""
    stderr = str(tmp_path / "stderr")
    command = python_module("orphans", str(ORPHANS), str(TIMEOUT))
    with in_namespace(dumb_init_bin, mode, *command, stderr_path=stderr) as unshare:
        unshare.out.expect(f"made {ORPHANS}", timeout=60)
        unshare.out.expect("zombies 0", timeout=TIMEOUT + 5)
        assert unshare.wait() == 0
        err = unshare.err.rest()
    if mode.debug:
        reaped = [line for line in debug_lines(err) if line.startswith("A child with PID")]
        assert len(reaped) == ORPHANS + 1  # the orphans and the child
        assert len(set(reaped)) == len(reaped)
    else:
        assert err == []


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
@pytest.mark.parametrize(
    ("script", "status"),
    [("exit 0", 0), ("exit 7", 7), ("exit 255", 255), ("kill -USR1 $$", 138)],
)
def test_exit_status_comes_out(dumb_init_bin: str, mode: Mode, script: str, status: int) -> None:
    with in_namespace(dumb_init_bin, mode, "sh", "-c", script) as unshare:
        assert unshare.wait() == status
