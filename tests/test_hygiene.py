"""What the child inherits from dumb-init: exactly the caller's descriptors (a socket handed down
with ``LISTEN_FDS`` keeps working, none of dumb-init's own leaks), a clean signal state however
dumb-init was started (signals 32 and 33 included), and its arguments and environment byte for
byte. test_process.py covers the basics (a few ignored and blocked signals, odd arguments); this
file pushes each to its limit.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Sequence

import pytest

from testing import base_env, proc, python_module
from testing.hygiene_kernel import SYSCALLS
from testing.supervise import Arg, Init, run

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]

# The ways dumb-init is run here: each holds different descriptors and takes another path to the
# child's exec (--pdeathsig: a pidfd and a signalfd of its own).
VARIANTS = {
    "setsid": [],
    "single-child": ["-c"],
    "verbose": ["-v"],
    "pdeathsig": ["--pdeathsig=TERM"],
    "single-child,pdeathsig": ["-c", "--pdeathsig=HUP", "-v"],
}

# Hands the socket on stdin down as descriptor 3, with stdin back to /dev/null; the shell then
# becomes ARGV, with nothing else open (its own descriptors are close-on-exec).
AS_DESCRIPTOR_3 = ["sh", "-c", 'exec 3<&0 0</dev/null && exec "$@"', "sh"]


def descriptors(pid: int) -> dict[int, str]:
    """The open descriptors of PID and what each refers to."""
    found = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except FileNotFoundError:  # closed meanwhile
            pass
    return found


def serve_one(
    dumb_init_args: Sequence[str], tmp_path: Path
) -> tuple[dict[int, str], dict[int, str]]:
    """Starts ``[dumb-init ARGS] hygiene_listener`` with a listening socket as descriptor 3 and
    ``LISTEN_FDS=1``, and has it serve one connection. Returns the descriptors of the listener
    and those of its parent (dumb-init; the listener itself when run without dumb-init)."""
    tmp_path.mkdir(exist_ok=True)
    address = str(tmp_path / "socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listening:
        listening.bind(address)
        listening.listen(1)
        command = [*AS_DESCRIPTOR_3, *dumb_init_args, *python_module("hygiene_listener")]
        env: dict[Arg, Arg] = {k: v for k, v in base_env({"LISTEN_FDS": "1"}).items()}
        with Init(command, env=env, stdin=listening.fileno()) as init:
            init.out.expect("ready")
            listener = proc.only_child(init.pid) if dumb_init_args else init.pid
            held = descriptors(listener), descriptors(init.pid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(10)
                client.connect(address)
                assert client.makefile("rb").readline() == b"hello from %d\n" % listener
            init.out.expect("served")
            assert init.wait() == 0
            return held


@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_child_gets_exactly_the_callers_descriptors(
    dumb_init_bin: str, tmp_path: Path, args: list[str]
) -> None:
    """0, 1, 2 and the listening socket as 3, which still accepts connections: nothing else."""
    # The premise: run directly, the listener has exactly these.
    alone, _ = serve_one([], tmp_path / "alone")
    assert sorted(alone) == [0, 1, 2, 3]
    assert alone[3].startswith("socket:[")

    child, init = serve_one([dumb_init_bin, *args], tmp_path / "under-dumb-init")
    assert sorted(child) == [0, 1, 2, 3], child
    # The very socket and stdio dumb-init was given.
    assert {fd: init[fd] for fd in range(4)} == child
    assert child[3].startswith("socket:[")
    if "--pdeathsig" in " ".join(args):
        # What must not leak is really there to leak.
        assert {"anon_inode:[pidfd]", "anon_inode:[signalfd]"} <= set(init.values()), init


EVERY_SIGNAL = set(range(1, 65))
UNBLOCKABLE = {9, 19}  # SIGKILL, SIGSTOP: the kernel never blocks or ignores them


HOSTILE = python_module("hygiene_kernel")
"""Runs its arguments with every signal blocked and every one but KILL and STOP ignored."""


def signal_state(command: Sequence[str]) -> tuple[set[int], set[int]]:
    """Blocked and ignored signals of ``cat`` run by ``COMMAND cat /proc/self/status``."""
    result = run([*command, "cat", "/proc/self/status"])
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(":\t", 1) for line in result.stdout.decode().splitlines())
    return proc.parse_sigset(fields["SigBlk"]), proc.parse_sigset(fields["SigIgn"])


@pytest.mark.skipif(SYSCALLS is None, reason="no system call table for this architecture")
@pytest.mark.parametrize(
    "pid1", [False, pytest.param(True, marks=pytest.mark.pid1)], ids=["supervisor", "pid1"]
)
@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_child_signal_state_is_clean(
    dumb_init_bin: str, request: pytest.FixtureRequest, args: list[str], pid1: bool
) -> None:
    """Started with all 64 signals blocked and all but KILL and STOP ignored (32 and 33 too,
    which the C library's calls cannot touch), dumb-init's child starts with none of either."""
    prefix = [*UNSHARE, *HOSTILE] if pid1 else HOSTILE
    if pid1:
        request.getfixturevalue("pid_namespace")
    # The premise: without dumb-init, cat inherits it all.
    assert signal_state(prefix) == (EVERY_SIGNAL - UNBLOCKABLE, EVERY_SIGNAL - UNBLOCKABLE)
    assert signal_state([*prefix, dumb_init_bin, *args]) == (set(), set())


@pytest.mark.parametrize(
    "args_and_env",
    [([], {}), (["-c", "-v"], {}), ([], {"DUMB_INIT_DEBUG": "1", "DUMB_INIT_SETSID": "0"})],
    ids=["setsid", "-cv", "variables"],
)
def test_arguments_and_environment_arrive_byte_for_byte(
    dumb_init_bin: str, args_and_env: tuple[list[str], dict[str, str]]
) -> None:
    """2,000 arguments (empty ones, option-like ones, non-UTF-8 bytes, newlines) and an
    environment with a 100 KB variable and non-UTF-8 names and values: the child's argument and
    environment blocks, as the kernel keeps them in /proc, are exactly what dumb-init was given
    after the options (its ``DUMB_INIT_*`` variables included), in the same order."""
    args, variables = args_and_env
    odd = [b"", b"-v", b"--help", b"--", b"-", b"--pause", b"-cv", b"-r", b"1:2", b"--rewrite=1:2"]
    odd += [b"caf\xe9", b"\xff\xfe", b"a b", b"line\nbreak", b"tab\t", b"=", b"*", b"$HOME"]
    arguments = odd + [b"arg-%d" % i for i in range(2000 - len(odd))]
    env: dict[Arg, Arg] = {os.fsencode(k): os.fsencode(v) for k, v in base_env(variables).items()}
    env.update({b"BIG": b"x" * 100_000, b"T_\xff": b"\xfe\x80", b"EMPTY": b"", b"EQ": b"a=b=c"})
    show = b"cat /proc/$$/cmdline /proc/$$/environ"
    result = run([dumb_init_bin, *args, b"sh", b"-c", show, b"sh", *arguments], env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    cmdline = b"".join(word + b"\0" for word in [b"sh", b"-c", show, b"sh", *arguments])
    environ = b"".join(os.fsencode(k) + b"=" + os.fsencode(v) + b"\0" for k, v in env.items())
    assert result.stdout[: len(cmdline)] == cmdline
    assert result.stdout[len(cmdline) :] == environ
