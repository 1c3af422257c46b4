"""`--pdeathsig=SIGNAL` / `DUMB_INIT_PDEATHSIG`: when dumb-init's parent dies, act as if SIGNAL was
received (rewritten, forwarded).

The parent is the process that started dumb-init, watched through a pidfd: not the thread that
did (the kernel's PR_SET_PDEATHSIG fires when that thread ends, which is the fallback only where
the parent cannot be named, as PID 1 of a PID namespace)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from testing import proc
from testing.features_util import (
    KEEPER,
    PRINT_SIGNALS,
    PROMPT,
    UNSHARE,
    Lines,
    env_for,
    run,
    running,
)

SLEEPER = ["sh", "-c", "echo ready; exec sleep 50"]


class Tree:
    """What the keeper (testing/features_pdeath.py) reported."""

    def __init__(self, out: Lines) -> None:
        self.out = out
        self.parent = 0
        self.dumb_init = 0
        self.child = 0
        self.thread_gone = False
        self.ready = False
        self.signals: list[int] = []
        self.reaped: dict[int, int] = {}

    def read(self) -> str:
        line = self.out.readline()
        assert line is not None, f"end of output; read {self.out.seen!r}"
        if line.startswith("skip: "):
            pytest.skip(line[len("skip: ") :])
        words = line.split()
        if words[0] == "parent":
            self.parent = int(words[1])
        elif words[0] == "dumb-init":
            self.dumb_init = int(words[1])
        elif words[0] == "child":
            self.child = int(words[1])
        elif line == "thread gone":
            self.thread_gone = True
        elif words[0] == "reaped":
            self.reaped[int(words[1])] = int(words[2])
        elif line == "ready":
            self.ready = True
        elif line.isdigit():
            self.signals.append(int(line))
        return line

    def until(self, done: Callable[[], object]) -> None:
        while not done():
            self.read()

    def started(self) -> None:
        self.until(lambda: self.ready and self.dumb_init != 0)


def test_parent_death_signal_is_rewritten_and_forwarded(dumb_init_bin: str) -> None:
    argv = [*KEEPER, dumb_init_bin, "--pdeathsig=USR1", "-r", "USR1:USR2", *PRINT_SIGNALS]
    with running(argv) as (_, out, err):
        tree = Tree(out)
        tree.started()
        assert tree.signals == [], "nothing before the parent dies"
        os.kill(tree.parent, signal.SIGKILL)
        tree.until(lambda: tree.signals)
        assert tree.signals == [signal.SIGUSR2], err.rest(1)


@pytest.mark.parametrize(
    ("option", "variable", "status"),
    [
        (["--pdeathsig=TERM"], None, 143),
        (["--pdeathsig", "SIGTERM"], None, 143),
        (["--pdeathsig=15"], None, 143),
        (["--pdeathsig=int"], None, 130),
        ([], "TERM", 143),
        ([], "SIGUSR1", 128 + signal.SIGUSR1),
        (["--pdeathsig=TERM"], "USR1", 143),
        (["--pdeathsig=32"], None, 128 + 32),
        ([], "33", 128 + 33),
    ],
    ids=[
        "name",
        "separate-sig-name",
        "number",
        "lowercase",
        "variable",
        "variable-sig",
        "flag-wins",
        "signal-32",
        "variable-33",
    ],
)
def test_dumb_init_forwards_and_exits_when_its_parent_dies(
    dumb_init_bin: str, option: list[str], variable: str | None, status: int
) -> None:
    env = env_for(DUMB_INIT_PDEATHSIG=variable) if variable is not None else env_for()
    with running([*KEEPER, dumb_init_bin, *option, *SLEEPER], env=env) as (_, out, err):
        tree = Tree(out)
        tree.started()
        assert tree.reaped == {}
        os.kill(tree.parent, signal.SIGKILL)
        tree.until(lambda: tree.dumb_init in tree.reaped)
        assert tree.reaped[tree.dumb_init] == status, err.rest(1)


def test_verbose_says_parent_death_signal_set(dumb_init_bin: str) -> None:
    done = run([dumb_init_bin, "-v", "--pdeathsig=SIGRTMIN+1", "true"])
    assert done.returncode == 0, done.stderr
    # glibc's numbering, whatever the C library: SIGRTMIN is 34.
    assert "[dumb-init] Parent death signal set to 35 (watching parent process" in done.stderr


def test_no_parent_death_signal_without_the_option(dumb_init_bin: str) -> None:
    with running([*KEEPER, dumb_init_bin, *SLEEPER]) as (_, out, _err):
        tree = Tree(out)
        tree.started()
        os.kill(tree.parent, signal.SIGKILL)
        tree.until(lambda: tree.parent in tree.reaped)
        # dumb-init and its child live on under the keeper.
        assert tree.dumb_init not in tree.reaped
        os.kill(tree.dumb_init, signal.SIGTERM)
        tree.until(lambda: tree.dumb_init in tree.reaped)
        assert tree.reaped[tree.dumb_init] == 143


def test_parent_already_gone_acts_at_once(dumb_init_bin: str) -> None:
    """The parent dies after dumb-init started but before it asked for the signal (arranged by
    tracing dumb-init's system calls): the kernel will never send it, so dumb-init acts itself."""
    # A child that ends by itself soon: if the signal is lost, dumb-init exits 0 instead of 143.
    child = ["sh", "-c", "exec sleep 5"]
    argv = [*KEEPER, "--gone-before-prctl", dumb_init_bin, "-v", "--pdeathsig=TERM", *child]
    with running(argv) as (_, out, err):
        tree = Tree(out)
        tree.until(lambda: tree.dumb_init != 0)
        tree.until(lambda: tree.dumb_init in tree.reaped)
        status = tree.reaped[tree.dumb_init]
        stderr = err.rest(PROMPT)
    assert "[dumb-init] Parent already gone: acting on signal 15 now." in stderr.splitlines()
    assert status == 143, f"the child did not get the signal:\n{stderr}"


def test_verbose_names_the_parent_and_its_exit(dumb_init_bin: str) -> None:
    with running([*KEEPER, dumb_init_bin, "-v", "--pdeathsig=TERM", *SLEEPER]) as (_, out, err):
        tree = Tree(out)
        tree.started()
        err.wait_for(
            f"[dumb-init] Parent death signal set to 15 (watching parent process {tree.parent})."
        )
        os.kill(tree.parent, signal.SIGKILL)
        err.wait_for("[dumb-init] Parent process exited: acting on signal 15.")
        tree.until(lambda: tree.dumb_init in tree.reaped)
        assert tree.reaped[tree.dumb_init] == 143


def test_parent_thread_ending_is_not_the_parent_dying(dumb_init_bin: str) -> None:
    """The parent starts dumb-init from a worker thread that then ends, the parent living on (a
    Popen from a thread pool). dumb-init must not act; it does once the parent process exits."""
    argv = [*KEEPER, "--from-thread", dumb_init_bin, "-v", "--pdeathsig=TERM", *PRINT_SIGNALS]
    with running(argv) as (_, out, err):
        tree = Tree(out)
        tree.until(lambda: tree.thread_gone)
        try:
            tree.until(lambda: tree.ready)
        except TimeoutError:
            # The child was killed before it could print `ready`.
            raise AssertionError(f"dumb-init acted on the thread's end:\n{err.rest(1)}") from None
        # Any signal dumb-init took before this one was forwarded before it, and a SIGTERM, lower
        # in number, would be printed first anyway: the child's first line says it all.
        os.kill(tree.dumb_init, signal.SIGWINCH)
        tree.until(lambda: tree.signals)
        assert tree.signals == [signal.SIGWINCH], err.rest(1)
        assert tree.dumb_init not in tree.reaped
        os.kill(tree.parent, signal.SIGKILL)
        tree.until(lambda: len(tree.signals) > 1)
        assert tree.signals == [signal.SIGWINCH, signal.SIGTERM]
        err.wait_for("[dumb-init] Parent process exited: acting on signal 15.")


@pytest.mark.pid1
def test_as_pid_1_falls_back_on_the_kernels_parent_death_signal(
    pid_namespace: None, dumb_init_bin: str
) -> None:
    """As PID 1 of a namespace dumb-init sees no parent (getppid() is 0): the kernel's signal, when
    the thread that started it (here the single-threaded unshare) ends, still works."""
    argv = [*KEEPER, *UNSHARE, dumb_init_bin, "-v", "--pdeathsig=TERM", *SLEEPER]
    with running(argv) as (_, out, err):
        tree = Tree(out)
        tree.started()
        unshare = tree.dumb_init
        dumb_init = proc.only_child(unshare)
        err.wait_for(
            "[dumb-init] Parent death signal set to 15 "
            "(when the thread that started dumb-init exits)."
        )
        os.kill(unshare, signal.SIGKILL)
        tree.until(lambda: dumb_init in tree.reaped)
        assert tree.reaped[dumb_init] == 143, err.rest(1)


def test_parent_death_while_the_child_is_stopped_before_exec(dumb_init_bin: str) -> None:
    """The parent dies while the child is stopped before its setsid() and exec. dumb-init starts
    its child as vfork does, so it stays suspended until the child execs: the signal waits at
    dumb-init, is not lost, and reaches the child's new process group once the child runs on."""
    child_command = ["sh", "-c", "exec sleep 50"]
    argv = [*KEEPER, "--stop-child-at-fork", dumb_init_bin, "-v", "--pdeathsig=TERM"]
    with running([*argv, *child_command]) as (_, out, err):
        tree = Tree(out)
        tree.until(lambda: tree.child != 0)
        # Detached with SIGSTOP, the child stops as soon as it is scheduled, before running any
        # code of its own: whatever its state now, it has not called setsid().
        proc.wait_stopped(tree.child)
        assert proc.stat(tree.child).sid != tree.child, "the child had called setsid() already"
        # The keeper has exited; dumb-init waits for its child's exec (uninterruptibly, "D").
        proc.wait_until(
            lambda: proc.stat(tree.dumb_init).state == "D",
            "dumb-init to wait for its stopped child's exec",
        )
        os.kill(tree.child, signal.SIGCONT)
        err.wait_for(f"[dumb-init] Child spawned with PID {tree.child}.")
        err.wait_for("[dumb-init] Parent process exited: acting on signal 15.")
        err.wait_for("[dumb-init] Forwarded signal 15 to children.")
        tree.until(lambda: tree.dumb_init in tree.reaped)
        assert tree.reaped[tree.dumb_init] == 143, err.rest(1)
