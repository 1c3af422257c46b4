"""`--pdeathsig=SIGNAL` / `DUMB_INIT_PDEATHSIG`: when dumb-init's parent dies, act as if SIGNAL was
received (rewritten, forwarded)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from testing.features_util import (
    KEEPER,
    PRINT_SIGNALS,
    PROMPT,
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
    ],
    ids=[
        "name",
        "separate-sig-name",
        "number",
        "lowercase",
        "variable",
        "variable-sig",
        "flag-wins",
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
