"""`--wait-all` / `DUMB_INIT_WAIT_ALL=1`: when the direct child exits, dumb-init neither signals
what is left nor exits: it keeps reaping and forwarding signals (rewritten) to everything left, and
exits with the child's status (remapped) once no process is left. With a grace period, the first
SIGTERM or SIGINT it receives after the child's exit starts the period.

The behaviours run twice: with dumb-init as PID 1 of a new PID namespace and as a subreaper. The
child (testing/waitall_job.py) exits 3 and leaves one job behind that waits on a gate the test
opens, so the job outlives the child exactly as long as the test wants: no sleep anywhere.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from testing import proc
from testing.features_util import (
    NO_PROC,
    NOBODY,
    PROMPT,
    UNSHARE,
    WAITALL_JOB,
    Gate,
    Lines,
    env_for,
    gates,
    run,
    runnable_by_anyone,
    running,
    status_field,
)

PID1, SUBREAPER = "pid1", "subreaper"
WAITING = "[dumb-init] Child exited with status 3; waiting for the remaining processes"
WAITING_FOR_ONE = f"{WAITING} (1 children left)."
PAUSE_ERROR = (
    ": --wait-all waits for the processes a command leaves, and --pause runs none; "
    "use one of --wait-all (DUMB_INIT_WAIT_ALL) and --pause (DUMB_INIT_PAUSE)\n"
)


@pytest.fixture(params=[pytest.param(PID1, marks=pytest.mark.pid1), SUBREAPER])
def where(request: pytest.FixtureRequest) -> str:
    """Where dumb-init runs: as PID 1 of a new PID namespace, or as a subreaper."""
    if request.param == PID1:
        request.getfixturevalue("pid_namespace")
    return str(request.param)


@dataclass
class Run:
    """dumb-init over waitall_job.py, its output, and the job's gate."""

    where: str
    proc: subprocess.Popen[bytes]
    out: Lines
    err: Lines
    gate: Gate
    job: int = 0
    child: int = 0

    def read_started(self) -> None:
        """Reads the job's and the child's PIDs (as dumb-init sees them)."""
        for name in ("job", "child"):
            line = self.out.readline()
            assert line is not None and line.startswith(f"{name} "), (self.out.seen, self.stderr())
            setattr(self, name, int(line.split()[1]))

    @property
    def dumb_init(self) -> int:
        """dumb-init's PID on our side, to send it signals."""
        if self.where == SUBREAPER:
            return self.proc.pid
        return proc.only_child(self.proc.pid)

    @property
    def ppid_of_job(self) -> int:
        """The job's parent once the child is gone: dumb-init, as the job sees it."""
        return 1 if self.where == PID1 else self.proc.pid

    def expect(self, wanted: str) -> None:
        line = self.out.readline()
        assert line == wanted, f"expected {wanted!r}, got {line!r}; stdout {self.out.seen!r}"

    def stderr(self) -> str:
        return self.err.rest(1)

    def wait(self) -> int:
        try:
            return self.proc.wait(PROMPT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"dumb-init still running; stderr:\n{self.stderr()}") from None


@contextlib.contextmanager
def started(
    where: str,
    dumb_init_bin: str,
    options: list[str],
    job: Sequence[str] = (),
    env: dict[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> Iterator[Run]:
    """Starts dumb-init with `options` over a child that exits 3 and a job held by a gate."""
    prefix = UNSHARE if where == PID1 else list(wrapper)
    with gates(1) as (gate,):
        argv = [*prefix, dumb_init_bin, *options, *WAITALL_JOB, "--exit", "3"]
        argv += ["--release", str(gate.fd), *job]
        with running(argv, env=env, pass_fds=[gate.fd]) as (process, out, err):
            started_run = Run(where, process, out, err, gate)
            started_run.read_started()
            yield started_run


def dumb_init_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("[dumb-init] ")]


@pytest.mark.parametrize("variant", ["plain", "setsid-job", "grace-period"])
def test_waits_for_the_job_and_leaves_it_alone(
    where: str, dumb_init_bin: str, variant: str
) -> None:
    """The child exits 3; the job is not signalled, and dumb-init exits 3 once the job has ended.
    A job in a session of its own is waited for too; a grace period does not start by itself."""
    options = ["-v", "--wait-all"] + (["--grace-period=0.5"] if variant == "grace-period" else [])
    job = ["--setsid"] if variant == "setsid-job" else []
    with started(where, dumb_init_bin, options, job) as run:
        run.err.wait_for(WAITING_FOR_ONE)
        assert run.proc.poll() is None, "dumb-init exited while the job was running"
        run.gate.open()
        # Still dumb-init's child when it ends: dumb-init was there all along.
        run.expect(f"job done ppid={run.ppid_of_job}")
        assert run.wait() == 3
        stdout, stderr = run.out.rest(), run.stderr()
    assert "job got" not in stdout, "the job was signalled"
    assert "Grace period" not in stderr
    assert dumb_init_lines(stderr)[-3:] == [
        f"[dumb-init] A child with PID {run.job} exited with exit status 0.",
        "[dumb-init] All processes exited.",
        "[dumb-init] Child exited with status 3. Goodbye.",
    ], stderr


@pytest.mark.parametrize("variant", ["group", "setsid-job", "single-child"])
def test_signals_during_the_wait_reach_the_job_rewritten(
    where: str, dumb_init_bin: str, variant: str
) -> None:
    """Every signal dumb-init receives after the child's exit goes, rewritten, to the job, once
    each: in the child's group, in a session of its own (as PID 1 by kill(-1), as a subreaper
    because the job is now dumb-init's own child), and in single-child mode."""
    options = ["-v", "--wait-all", "-r", "USR1:USR2"]
    options += ["-c"] if variant == "single-child" else []
    job = ["--setsid"] if variant == "setsid-job" else []
    with started(where, dumb_init_bin, options, job) as run:
        run.err.wait_for(WAITING_FOR_ONE)
        # One at a time, each line read before the next signal: a signal sent twice would show
        # up as an unexpected line.
        for sent, got in [(signal.SIGTERM, 15), (signal.SIGUSR1, 12), (signal.SIGHUP, 1)]:
            os.kill(run.dumb_init, sent)
            run.expect(f"job got {got}")
        assert run.proc.poll() is None, "a forwarded SIGTERM ended the wait"
        run.gate.open()
        run.expect(f"job done ppid={run.ppid_of_job}")
        assert run.wait() == 3
        seen = len(run.out.seen)
        run.out.rest()
        assert run.out.seen[seen:] == [], "signalled after the last signal sent"
        assert "Grace period" not in run.stderr()


def test_each_signal_reaches_the_job_once(where: str, dumb_init_bin: str) -> None:
    """Real-time signals queue: a job that two of dumb-init's kill() calls reach (its group, then
    everyone or each child) gets two and reports both. Each is followed by a higher one, which
    the kernel delivers after any copy of the first: its line closes the count."""
    first, barrier = signal.SIGRTMIN + 1, signal.SIGRTMIN + 2
    with started(where, dumb_init_bin, ["-v", "--wait-all"]) as run:
        run.err.wait_for(WAITING_FOR_ONE)
        for _ in range(3):
            os.kill(run.dumb_init, first)
            run.expect(f"job got {first}")
            os.kill(run.dumb_init, barrier)
            run.expect(f"job got {barrier}")
        run.gate.open()
        run.expect(f"job done ppid={run.ppid_of_job}")
        assert run.wait() == 3


@pytest.mark.parametrize(
    ("starter", "rules", "forwarded"),
    [
        (signal.SIGTERM, [], 15),
        (signal.SIGINT, [], 2),
        (signal.SIGTERM, ["-r", "TERM:USR1"], 10),
    ],
    ids=["TERM", "INT", "TERM-rewritten"],
)
def test_grace_period_starts_at_the_first_term_or_int(
    where: str, dumb_init_bin: str, starter: int, rules: list[str], forwarded: int
) -> None:
    """With a grace period, SIGTERM or SIGINT (as received, before rewriting) after the child's
    exit is forwarded (rewritten) with SIGCONT and starts the period; a job that stays is
    SIGKILLed at the deadline, and dumb-init still exits with the child's status."""
    grace = 1.0
    options = ["-v", "--wait-all", f"--grace-period={grace:g}", *rules]
    with started(where, dumb_init_bin, options) as run:
        run.err.wait_for(WAITING_FOR_ONE)
        # SIGUSR2 neither starts the period nor is taken for a stop request.
        os.kill(run.dumb_init, signal.SIGUSR2)
        run.expect("job got 12")
        sent = time.monotonic()
        os.kill(run.dumb_init, starter)
        run.expect(f"job got {forwarded}")
        run.expect("job got 18")
        assert run.wait() == 3
        elapsed = time.monotonic() - sent
        stderr = run.stderr()
    assert elapsed >= grace, f"SIGKILL {elapsed:.2f}s after the period started"
    assert "[dumb-init] Grace period: waiting up to 1 seconds for remaining processes." in stderr
    assert "[dumb-init] Grace period over: sending SIGKILL to remaining processes." in stderr
    assert f"[dumb-init] A child with PID {run.job} was terminated by signal 9." in stderr
    assert stderr.count("Grace period: waiting") == 1, stderr


def test_grace_period_ends_early_when_the_job_exits_on_term(dumb_init_bin: str) -> None:
    options = ["-v", "--wait-all", "--grace-period=30"]
    with started(SUBREAPER, dumb_init_bin, options, ["--term", "exit"]) as run:
        run.err.wait_for(WAITING_FOR_ONE)
        os.kill(run.dumb_init, signal.SIGTERM)
        run.expect("job got 15")
        # Well within the 30 s period, or the wait below fails.
        assert run.wait() == 3
        stderr = run.stderr()
    assert "[dumb-init] All processes exited." in stderr
    assert "Grace period over" not in stderr


def waits_for_the_job(dumb_init_bin: str, options: list[str], env: dict[str, str]) -> bool:
    """Whether dumb-init with these options and variables waits for the job. Either way, checks
    that it ends as it should: after the job (exit 3), or at once with 1.2.5's SIGTERM to the
    child's group (exit 3, the job reports the SIGTERM)."""
    with started(SUBREAPER, dumb_init_bin, ["-v", *options], env=env) as run:
        line = run.err.wait_for("[dumb-init] Child exited with status 3")
        if line == WAITING_FOR_ONE:
            run.gate.open()
            run.expect(f"job done ppid={run.proc.pid}")
            assert run.wait() == 3
            return True
        assert line == "[dumb-init] Child exited with status 3. Goodbye.", line
        assert run.wait() == 3
        run.expect("job got 15")
        return False


@pytest.mark.parametrize(
    ("options", "variable", "waits"),
    [
        (["--wait-all"], None, True),
        ([], "1", True),
        (["--wait-all"], "0", True),
        (["--wait-all"], "", True),
        ([], "0", False),
        ([], "yes", False),
        ([], "", False),
        ([], None, False),
        (["--w"], None, True),
        (["--wait"], None, True),
        (["--wait-a"], None, True),
    ],
    ids=[
        "flag",
        "variable",
        "flag-over-variable-0",
        "flag-over-empty-variable",
        "variable-0",
        "variable-yes",
        "variable-empty",
        "neither",
        "prefix-w",
        "prefix-wait",
        "prefix-wait-a",
    ],
)
def test_flag_variable_and_prefixes(
    dumb_init_bin: str, options: list[str], variable: str | None, waits: bool
) -> None:
    """The flag wins (it is there, so it is on); the variable only switches on, with `1`."""
    env = env_for() if variable is None else env_for(DUMB_INIT_WAIT_ALL=variable)
    assert waits_for_the_job(dumb_init_bin, options, env) == waits


@pytest.mark.parametrize(
    ("options", "variables"),
    [
        (["--wait-all", "--pause"], {}),
        (["--pause", "--wait-all"], {}),
        (["--w", "--pa"], {}),
        (["--pause"], {"DUMB_INIT_WAIT_ALL": "1"}),
        (["--wait-all"], {"DUMB_INIT_PAUSE": "1"}),
        ([], {"DUMB_INIT_WAIT_ALL": "1", "DUMB_INIT_PAUSE": "1"}),
    ],
    ids=["flags", "flags-reversed", "prefixes", "pause-flag", "wait-all-flag", "variables"],
)
def test_with_pause_is_an_error(
    dumb_init_bin: str, options: list[str], variables: dict[str, str]
) -> None:
    done = run([dumb_init_bin, *options], env=env_for(**variables))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == dumb_init_bin + PAUSE_ERROR


def test_needs_a_command(dumb_init_bin: str) -> None:
    done = run([dumb_init_bin, "--wait-all"])
    assert done.returncode == 1
    assert done.stderr.startswith(f"Usage: {dumb_init_bin} [option] program [args]\n")


def test_remap_exit_applies_to_the_final_status(where: str, dumb_init_bin: str) -> None:
    options = ["-v", "--wait-all", "--remap-exit=3:0"]
    with started(where, dumb_init_bin, options) as run:
        run.err.wait_for(WAITING_FOR_ONE)
        run.gate.open()
        run.expect(f"job done ppid={run.ppid_of_job}")
        assert run.wait() == 0
        stderr = run.stderr()
    assert dumb_init_lines(stderr)[-3:] == [
        "[dumb-init] All processes exited.",
        "[dumb-init] Remapping exit status 3 to 0.",
        "[dumb-init] Child exited with status 3. Goodbye.",
    ], stderr


def test_waits_without_proc(dumb_init_bin: str) -> None:
    """Without /proc dumb-init cannot count what is left, but still waits for it: it is done when
    waitpid() says no child is left."""
    options = ["-v", "--wait-all"]
    with started(SUBREAPER, dumb_init_bin, options, wrapper=NO_PROC) as run:
        line = run.err.wait_for(WAITING)
        assert line == f"{WAITING}.", "a count without /proc?"
        assert run.proc.poll() is None
        run.gate.open()
        run.expect(f"job done ppid={run.proc.pid}")
        assert run.wait() == 3
        assert dumb_init_lines(run.stderr())[-2:] == [
            "[dumb-init] All processes exited.",
            "[dumb-init] Child exited with status 3. Goodbye.",
        ]


def test_as_nobody(dumb_init_bin: str) -> None:
    """Not root (setpriv to nobody): dumb-init registers as subreaper, waits for the orphaned
    job, forwards SIGTERM to it, reaps it, and exits with the child's status."""
    job = "sh -c 'echo job $$; exec sleep 50' </dev/null"
    child = ["sh", "-c", f"{job} & exit 3"]
    with runnable_by_anyone(dumb_init_bin) as copy:
        argv = [*NOBODY, copy, "-v", "--wait-all", *child]
        with running(argv) as (process, out, err):
            line = out.readline()
            assert line is not None and line.startswith("job "), out.seen
            job_pid = int(line.split()[1])
            assert (status_field(process.pid, "Uid") or "").split() == ["65534"] * 4
            err.wait_for("[dumb-init] Registered as child subreaper (not PID 1).")
            err.wait_for(WAITING_FOR_ONE)
            os.kill(process.pid, signal.SIGTERM)
            assert process.wait(PROMPT) == 3
            stderr = err.rest()
    assert f"[dumb-init] A child with PID {job_pid} was terminated by signal 15." in stderr
    assert "[dumb-init] All processes exited." in stderr
