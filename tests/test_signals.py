"""Signal forwarding: every catchable signal, rewrites, drops, suspend/resume,
group versus single child, and the SIGTERM sent when the child exits."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess

import pytest

from testing import proc
from testing.supervise import (
    ALL_MODES,
    MODES,
    Mode,
    debug_lines,
    mode_id,
    print_signals,
    signal_lines,
    spawn,
)

SIGKILL = int(signal.SIGKILL)
SIGTERM = int(signal.SIGTERM)
SIGCONT = int(signal.SIGCONT)
SIGUSR1 = int(signal.SIGUSR1)
SIGSTOP = int(signal.SIGSTOP)
TTY_STOPS = [int(signal.SIGTSTP), int(signal.SIGTTIN), int(signal.SIGTTOU)]
UNCATCHABLE_OR_SPECIAL = {SIGKILL, SIGSTOP, int(signal.SIGCHLD), *TTY_STOPS}
STANDARD = [s for s in range(1, 32) if s not in UNCATCHABLE_OR_SPECIAL]
"""1..31 but KILL, STOP (uncatchable), CHLD (not forwarded), TSTP/TTIN/TTOU
(they suspend dumb-init: see test_tty_signal_suspends_and_sigcont_resumes)."""
REALTIME = [34, 40, 50, 64]  # SIGRTMIN, two in between, SIGRTMAX

GROUP = [
    "sh",
    "-c",
    f"{shlex.join(print_signals('g'))} & exec {shlex.join(print_signals())}",
]
"""A printer (dumb-init's child) with a printer child ("g") in its process group."""


def forwarded_lines(signum: int, target: int | None = None) -> list[str]:
    """The debug lines for forwarding ``signum`` (rewritten to ``target``)."""
    lines = [f"Received signal {signum}."]
    if target is not None:
        lines.append(f"Translating signal {signum} to {target}.")
    lines.append(f"Forwarded signal {signum if target is None else target} to children.")
    return lines


def dropped_lines(signum: int) -> list[str]:
    return [
        f"Received signal {signum}.",
        f"Translating signal {signum} to 0.",
        f"Not forwarding signal {signum} to children (ignored).",
    ]


def check_stderr(init_stderr_lines: list[str], mode: Mode, expected: list[str]) -> None:
    """Debug mode: the signal lines start with ``expected``; else no output."""
    if mode.debug:
        assert signal_lines(init_stderr_lines)[: len(expected)] == expected
    else:
        assert init_stderr_lines == []


@pytest.mark.parametrize("mode", ALL_MODES, ids=mode_id)
def test_forwards_every_catchable_signal(dumb_init_bin: str, mode: Mode) -> None:
    with spawn(dumb_init_bin, mode, print_signals()) as init:
        init.out.expect("ready")
        for signum in STANDARD:
            init.send(signum)
            init.out.expect(str(signum))
        os.kill(init.child(), SIGKILL)
        assert init.wait() == 128 + SIGKILL
        err = init.err.rest()
    check_stderr(err, mode, [line for s in STANDARD for line in forwarded_lines(s)])


@pytest.mark.parametrize("mode", ALL_MODES, ids=mode_id)
def test_forwards_real_time_signals(dumb_init_bin: str, mode: Mode) -> None:
    with spawn(dumb_init_bin, mode, print_signals()) as init:
        init.out.expect("ready")
        for signum in REALTIME:
            init.send(signum)
            init.out.expect(str(signum))
        os.kill(init.child(), SIGKILL)
        assert init.wait() == 128 + SIGKILL
        err = init.err.rest()
    check_stderr(err, mode, [line for s in REALTIME for line in forwarded_lines(s)])


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_sigchld_is_not_forwarded(dumb_init_bin: str, mode: Mode) -> None:
    with spawn(dumb_init_bin, mode, print_signals()) as init:
        init.out.expect("ready")
        child = init.child()
        init.send(signal.SIGCHLD)
        lines = init.settle({"": child}, sent=[signal.SIGCHLD])
        assert "17" not in lines
        assert proc.alive(init.pid)


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
@pytest.mark.parametrize("signum", TTY_STOPS)
def test_tty_signal_suspends_and_sigcont_resumes(
    dumb_init_bin: str, mode: Mode, signum: int
) -> None:
    """Ctrl-Z: in setsid mode the group gets SIGSTOP (an orphaned group would
    ignore SIGTSTP), in single-child mode the signal itself; either way
    dumb-init then stops itself, and SIGCONT resumes both."""
    with spawn(dumb_init_bin, mode, print_signals()) as init:
        init.out.expect("ready")
        child = init.child()
        init.send(signum)
        if mode.setsid:
            proc.wait_stopped(child)
        else:
            init.out.expect(str(signum))
        proc.wait_stopped(init.pid)
        init.send(SIGCONT)
        init.out.expect(str(SIGCONT))  # forwarded: dumb-init runs, the child too
        init.send(SIGUSR1)
        init.out.expect(str(SIGUSR1))
        assert proc.state(init.pid) != "T"
        assert proc.state(child) != "T"
        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL
        err = init.err.rest()
    expected = forwarded_lines(signum, SIGSTOP if mode.setsid else None)
    expected += ["Suspending self due to TTY signal."]
    expected += forwarded_lines(SIGCONT) + forwarded_lines(SIGUSR1)
    check_stderr(err, mode, expected)


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
@pytest.mark.parametrize("signum", TTY_STOPS)
def test_rewritten_tty_signal_still_suspends_dumb_init(
    dumb_init_bin: str, mode: Mode, signum: int
) -> None:
    with spawn(dumb_init_bin, mode, print_signals(), args=["-r", f"{signum}:{SIGUSR1}"]) as init:
        init.out.expect("ready")
        child = init.child()
        init.send(signum)
        init.out.expect(str(SIGUSR1))  # the child is not stopped
        proc.wait_stopped(init.pid)
        assert proc.state(child) != "T"
        init.send(SIGCONT)
        init.out.expect(str(SIGCONT))
        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL
        err = init.err.rest()
    expected = forwarded_lines(signum, SIGUSR1)
    expected += ["Suspending self due to TTY signal."] + forwarded_lines(SIGCONT)
    check_stderr(err, mode, expected)


REWRITES = ["-r", "10:1", "-r", "1:10", "-r", "3:14", "-r", "14:6", "-r", "6:0", "-r", "6:3"]


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_rewrites(dumb_init_bin: str, mode: Mode) -> None:
    """``-r s:r`` forwards r instead of s; the last rule for s wins; rules do
    not chain (14 becomes 6, 3 becomes 14, not 6)."""
    cases = [(10, 1), (1, 10), (3, 14), (14, 6), (6, 3), (15, None)]
    with spawn(dumb_init_bin, mode, print_signals(), args=REWRITES) as init:
        init.out.expect("ready")
        for sent, target in cases:
            init.send(sent)
            init.out.expect(str(sent if target is None else target))
        os.kill(init.child(), SIGKILL)
        assert init.wait() == 128 + SIGKILL
        err = init.err.rest()
    check_stderr(err, mode, [line for s, t in cases for line in forwarded_lines(s, t)])


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_rewrite_to_zero_drops(dumb_init_bin: str, mode: Mode) -> None:
    dropped = [SIGTERM, int(signal.SIGINT), int(signal.SIGHUP), SIGCONT]
    args = [arg for s in dropped for arg in ("-r", f"{s}:0")]
    with spawn(dumb_init_bin, mode, print_signals(), args=args) as init:
        init.out.expect("ready")
        child = init.child()
        for signum in dropped:
            init.send(signum)
            lines = init.settle({"": child}, sent=[signum])
            assert str(signum) not in lines, f"signal {signum} was forwarded"
        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL
        err = init.err.rest()
    expected = []
    for signum in dropped:  # each followed by the settle() barrier, forwarded
        expected += dropped_lines(signum) + forwarded_lines(12)
    check_stderr(err, mode, expected)


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_real_time_signals_can_be_rewritten(dumb_init_bin: str, mode: Mode) -> None:
    cases = [(34, 10), (10, 64), (64, 40), (50, 1)]
    args = ["-r", "34:10", "-r", "10:64", "-r", "64:40", "-r", "50:1", "-r", "40:0"]
    with spawn(dumb_init_bin, mode, print_signals(), args=args) as init:
        init.out.expect("ready")
        child = init.child()
        for sent, target in cases:
            init.send(sent)
            init.out.expect(str(target))
        init.send(40)
        assert "40" not in init.settle({"": child}, sent=[40])
        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL
        err = init.err.rest()
    expected = [line for s, t in cases for line in forwarded_lines(s, t)]
    check_stderr(err, mode, expected + dropped_lines(40))


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
@pytest.mark.parametrize("signum", [SIGTERM, int(signal.SIGHUP), SIGUSR1, int(signal.SIGINT), 40])
def test_group_gets_signals_only_in_setsid_mode(
    dumb_init_bin: str, mode: Mode, signum: int
) -> None:
    with spawn(dumb_init_bin, mode, GROUP) as init:
        init.out.until_all({"ready", "g ready"})
        child = init.child()
        grandchild = proc.only_child(child)
        assert proc.stat(grandchild).pgid == proc.stat(child).pgid
        init.send(signum)
        if mode.setsid:
            init.out.until_all({str(signum), f"g {signum}"})
        else:
            lines = init.out.until(str(signum))
            lines += init.settle({"": child, "g": grandchild}, sent=[signum])
            assert f"g {signum}" not in lines


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
@pytest.mark.parametrize("rewrite", [None, "15:10", "15:0"])
def test_child_exit_sends_sigterm_to_the_group_in_setsid_mode_only(
    dumb_init_bin: str, mode: Mode, rewrite: str | None
) -> None:
    """When its child exits, dumb-init sends SIGTERM (rewritten if asked) to
    the child's process group in setsid mode, to nothing in single-child mode,
    and exits at once with the child's status without waiting for the rest."""
    exiting = ["sh", "-c", f"{shlex.join(print_signals('g'))} & read line; exit 3"]
    args = ["-r", rewrite] if rewrite else []
    term = {None: SIGTERM, "15:10": SIGUSR1, "15:0": 0}[rewrite]
    with spawn(dumb_init_bin, mode, exiting, args=args, stdin=subprocess.PIPE) as init:
        init.out.expect("g ready")
        child = init.child()
        grandchild = proc.only_child(child)
        assert init.proc.stdin is not None
        init.proc.stdin.write(b"go\n")
        init.proc.stdin.flush()
        assert init.wait() == 3
        lines = init.settle({"g": grandchild}, via_init=False)
        got = [line for line in lines if line != f"g {signal.SIGWINCH}"]
        assert got == ([f"g {term}"] if mode.setsid and term else [])
        assert proc.alive(grandchild)
        os.kill(grandchild, SIGKILL)
        err = init.err.rest()
    if not mode.debug:
        assert err == []
        return
    debug = debug_lines(err)
    exit_line = f"A child with PID {child} exited with exit status 3."
    assert exit_line in debug
    after = debug[debug.index(exit_line) + 1 :]
    assert after[-1] == "Child exited with status 3. Goodbye."
    sent = [line for line in after if line.startswith(("Forwarded", "Not forwarding"))]
    if not mode.setsid:
        assert sent == []
    elif term:
        assert sent == [f"Forwarded signal {term} to children."]
    else:
        assert sent == ["Not forwarding signal 15 to children (ignored)."]
