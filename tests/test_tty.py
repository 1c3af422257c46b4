"""dumb-init on a real pseudo-terminal: the child takes the terminal over,
the kernel's hand-off SIGHUP/SIGCONT are not forwarded, later ones are, and
an interactive shell gets working job control."""

from __future__ import annotations

import errno
import os
import re
import shlex
import signal

import pytest

from testing import base_env, proc
from testing.supervise import PtyInit, print_signals, settle

pytestmark = pytest.mark.tty

SIGHUP = int(signal.SIGHUP)
SIGCONT = int(signal.SIGCONT)
DEBUG = pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])


def flags(debug: bool) -> list[str]:
    return ["-v"] if debug else []


def is_output(line: str) -> bool:
    """A line printed by the child, not a debug line."""
    return not line.startswith("[dumb-init] ")


def expect_forwarded(init: PtyInit, signum: int, debug: bool = False) -> None:
    """Send ``signum`` to dumb-init; the child must print it (and dumb-init
    say so, in debug mode: after the fact, so maybe after the child)."""
    init.send(signum)
    wanted = {str(signum)}
    if debug:
        wanted.add(f"[dumb-init] Forwarded signal {signum} to children.")
    init.out.until_all(wanted)


@DEBUG
def test_hand_off_signals_are_not_forwarded(dumb_init_bin: str, debug: bool) -> None:
    with PtyInit([dumb_init_bin, *flags(debug), *print_signals()]) as init:
        wanted = {"ready"}
        if debug:
            wanted |= {
                (
                    "[dumb-init] Detached from controlling tty, ignoring the first SIGHUP"
                    " and SIGCONT we receive."
                ),
                f"[dumb-init] Ignoring tty hand-off signal {SIGHUP}.",
                f"[dumb-init] Ignoring tty hand-off signal {SIGCONT}.",
            }
        lines = init.out.until_all(wanted)
        child = proc.only_child(init.pid)
        lines += settle(init.out, init.pid, {"": child}, sent=[SIGHUP, SIGCONT])
        assert [line for line in lines if is_output(line)] == ["ready", "12", "28", "28"]
        # The child took the terminal over, dumb-init has none.
        me, it = proc.stat(init.pid), proc.stat(child)
        assert me.tty_nr == 0
        assert it.tty_nr != 0 and it.tpgid == it.pgid == it.sid == child
        # Signals that come later are forwarded.
        expect_forwarded(init, SIGHUP, debug)
        expect_forwarded(init, SIGCONT, debug)
        expect_forwarded(init, SIGHUP, debug)
        os.kill(child, signal.SIGKILL)
        assert init.wait() == 128 + signal.SIGKILL
    assert not [line for line in init.out.history if "Ignoring" in line][2:]


def to_the_background() -> None:
    """Before the exec: put another process group of this session in the
    foreground of the terminal, so that giving up the terminal sends the
    kernel's SIGHUP and SIGCONT to that group instead of dumb-init."""
    # The hand-off's SIGHUP must end the group, even where pytest runs with SIGHUP ignored
    # (under nohup): dumb-init waits for it to go. Reset before the fork, so that no SIGHUP
    # can come while the fork still ignores it (an ignored signal is dropped, not kept).
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            os.execvp("sleep", ["sleep", "60"])
        finally:
            os._exit(127)
    # Both sides call setpgid, the shell's idiom, so the group exists before
    # either goes on. The parent's call fails with EACCES once the child has
    # exec'd, which it only does after its own call succeeded.
    try:
        os.setpgid(pid, pid)
    except PermissionError as e:
        if e.errno != errno.EACCES:
            raise
    os.tcsetpgrp(0, pid)


@DEBUG
def test_sighup_is_forwarded_when_the_hand_off_sent_none(dumb_init_bin: str, debug: bool) -> None:
    """A session leader in the background gets no hand-off SIGHUP: the first
    SIGHUP it receives comes from someone else and must be forwarded."""
    argv = [dumb_init_bin, *flags(debug), *print_signals()]
    with PtyInit(argv, preexec=to_the_background) as init:
        init.out.until("ready")
        assert proc.stat(init.pid).sid == init.pid
        child = proc.only_child(init.pid)
        init.send(SIGHUP)
        lines = settle(init.out, init.pid, {"": child}, sent=[SIGHUP])
        assert str(SIGHUP) in lines
        expect_forwarded(init, SIGCONT)
        os.kill(child, signal.SIGKILL)
        assert init.wait() == 128 + signal.SIGKILL
    assert not [line for line in init.out.history if "Ignoring tty hand-off" in line]


@DEBUG
def test_not_a_session_leader(dumb_init_bin: str, debug: bool) -> None:
    """Started by a shell on the terminal: nothing to hand off, nothing ignored."""
    command = shlex.join([dumb_init_bin, *flags(debug), *print_signals()])
    with PtyInit(["sh", "-c", f"{command}; echo exited $?"]) as init:
        wanted = {"ready"}
        if debug:
            wanted |= {
                "[dumb-init] Detached from controlling tty, but was not session leader.",
                # The terminal still belongs to the shell's session.
                "[dumb-init] Unable to attach to controlling tty (errno=1 Operation not permitted).",
            }
        init.out.until_all(wanted)
        me = proc.only_child(init.pid)
        child = proc.only_child(me)
        assert proc.stat(me).sid != me
        os.kill(me, SIGHUP)
        assert str(SIGHUP) in settle(init.out, me, {"": child}, sent=[SIGHUP])
        os.kill(child, signal.SIGKILL)
        init.out.until(f"exited {128 + signal.SIGKILL}")
        assert init.wait() == 0
    assert not [line for line in init.out.history if "Ignoring" in line]


@DEBUG
def test_single_child_mode_shares_the_terminal(dumb_init_bin: str, debug: bool) -> None:
    with PtyInit([dumb_init_bin, "-c", *flags(debug), *print_signals()]) as init:
        lines = init.out.until("ready")
        child = proc.only_child(init.pid)
        me, it = proc.stat(init.pid), proc.stat(child)
        assert me.tty_nr != 0
        assert (it.tty_nr, it.sid, it.pgid) == (me.tty_nr, me.sid, me.pgid)
        assert not [line for line in lines if "controlling tty" in line]
        expect_forwarded(init, SIGHUP)
        expect_forwarded(init, SIGCONT)
        os.kill(child, signal.SIGKILL)
        assert init.wait() == 128 + signal.SIGKILL


@DEBUG
def test_interactive_shell_gets_job_control(dumb_init_bin: str, debug: bool) -> None:
    """``dumb-init bash -m`` on a terminal: bash owns the terminal, Ctrl-Z
    stops a foreground job and gives the terminal back to bash, ``fg`` gives
    it to the job again."""
    env = base_env({"PS1": "$ ", "TERM": "dumb", "HISTFILE": "/dev/null"})
    bash = ["bash", "--norc", "--noprofile", "--noediting", "-m"]
    with PtyInit([dumb_init_bin, *flags(debug), *bash], env=env) as init:
        init.write(b'echo "flags=[[$-]]"\n')
        # The prompt may precede the output on its line; the echoed command
        # line differs from the output ($- and $((...)) are not expanded).
        line = init.out.until(lambda s: re.search(r"flags=\[\[\w+\]\]$", s) is not None)[-1]
        assert "m" in line.split("[[")[1]  # monitor mode: job control
        init.write(b'read -a f < /proc/$$/stat; echo "pgid=${f[4]}; tpgid=${f[7]}"\n')
        line = init.out.until(lambda s: re.search(r"pgid=\d", s) is not None)[-1]
        match = re.search(r"pgid=(\d+); tpgid=(\d+)$", line)
        assert match and match[1] == match[2], line  # bash is in the foreground
        # Ctrl-Z stops the foreground job; fg resumes it in the foreground.
        init.write(b"sh -c 'echo fg-$((40 + 2)); read x; echo got-$x'\n")
        init.out.until(lambda s: s.endswith("fg-42"))
        init.write(b"\x1a")
        init.out.until(lambda s: "Stopped" in s)
        init.write(b"fg\nabc\n")  # bash reads its input one byte at a time
        init.out.until(lambda s: s.endswith("got-abc"))
        init.write(b"exit 7\n")
        assert init.wait() == 7
    text = "\n".join(init.out.history)
    assert "no job control" not in text
    assert "cannot set terminal process group" not in text
