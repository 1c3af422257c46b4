"""The child's process: its session and group, working directory, signal
state, arguments and environment; and the debug lines about starting it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from testing import PYTHON, base_env, proc
from testing.supervise import (
    ALL_MODES,
    MODES,
    Mode,
    debug_lines,
    mode_id,
    print_signals,
    run,
    spawn,
)

NOT_A_TTY = "(errno=25 Inappropriate ioctl for device)."


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_session_and_process_group(dumb_init_bin: str, mode: Mode) -> None:
    """setsid mode: the child leads a new session and group; single-child
    mode: it stays in dumb-init's."""
    with spawn(dumb_init_bin, mode, print_signals()) as init:
        init.out.expect("ready")
        child = proc.stat(init.child())
        me = proc.stat(init.pid)
        if mode.setsid:
            assert (child.sid, child.pgid) == (child.pid, child.pid)
            assert me.sid != child.sid
        else:
            assert (child.sid, child.pgid) == (me.sid, me.pgid)
        assert child.ppid == init.pid


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_working_directories(dumb_init_bin: str, mode: Mode, tmp_path: Path) -> None:
    """The child runs where dumb-init was started; dumb-init moves to /."""
    with spawn(dumb_init_bin, mode, print_signals(), cwd=str(tmp_path)) as init:
        init.out.expect("ready")
        assert proc.cwd(init.child()) == str(tmp_path.resolve())
        proc.wait_until(lambda: proc.cwd(init.pid) == "/", "dumb-init to chdir to /")


IGNORED = {1, 2, 3, 12, 35, 64}  # HUP, INT, QUIT, USR2 and real-time ones
BLOCKED = {10, 14, 15, 40}  # USR1, ALRM, TERM, a real-time one


def hostile_start() -> None:
    """Start dumb-init with signals ignored and blocked, as some callers do
    (``nohup``, a shell's background job, a supervisor's own mask)."""
    for signum in IGNORED:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)


def status_of_cat(prefix: list[str], env: dict[str, str]) -> dict[str, str]:
    """``/proc/self/status`` of ``cat`` run as ``PREFIX cat`` after hostile_start."""
    result = run([*prefix, "cat", "/proc/self/status"], env=env, preexec=hostile_start)
    assert result.returncode == 0, result.stderr
    fields = {}
    for line in result.stdout.decode().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def child_status(dumb_init_bin: str, mode: Mode) -> dict[str, str]:
    env = base_env(dict(mode.env))
    # The premise: without dumb-init, the state reaches cat.
    direct = status_of_cat([], env)
    assert proc.parse_sigset(direct["SigIgn"]) >= IGNORED
    assert proc.parse_sigset(direct["SigBlk"]) >= BLOCKED
    return status_of_cat([dumb_init_bin, *mode.args], env)


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_child_starts_with_empty_signal_mask(dumb_init_bin: str, mode: Mode) -> None:
    assert proc.parse_sigset(child_status(dumb_init_bin, mode)["SigBlk"]) == set()


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_child_starts_with_no_ignored_signal(dumb_init_bin: str, mode: Mode) -> None:
    assert proc.parse_sigset(child_status(dumb_init_bin, mode)["SigIgn"]) == set()


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_forwards_signals_it_was_started_with_ignored_or_blocked(
    dumb_init_bin: str, mode: Mode
) -> None:
    with spawn(dumb_init_bin, mode, print_signals(), preexec=hostile_start) as init:
        init.out.expect("ready")
        for signum in sorted(IGNORED | BLOCKED):
            init.send(signum)
            init.out.expect(str(signum))


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_arguments_and_environment_pass_through_unchanged(dumb_init_bin: str, mode: Mode) -> None:
    """Non-UTF-8 bytes, empty strings, and option-like words after the command
    all reach the child as they were."""
    show = (
        "import os, sys\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'\\0'.join(map(os.fsencode, sys.argv[1:])) + b'\\n')\n"
        "env = sorted(k + b'=' + v for k, v in os.environb.items() if k[:2] == b'T_')\n"
        "out.write(b'\\0'.join(env) + b'\\n')\n"
    )
    args = [b"caf\xe9", b"\xff\xfe", b"", b"-v", b"--help", b"-r", b"1:2", b"a b"]
    env: dict[str | bytes, str | bytes] = dict(base_env(dict(mode.env)))
    env.update({b"T_\xff": b"\xfe\x80", b"T_B": b"x\xffy", b"T_C": b""})
    result = run([dumb_init_bin, *mode.args, PYTHON, "-c", show, *args], env=env)
    assert result.returncode == 0, result.stderr
    argv_line, env_line = result.stdout.split(b"\n")[:2]
    assert argv_line.split(b"\0") == args
    assert env_line.split(b"\0") == [b"T_B=x\xffy", b"T_C=", b"T_\xff=\xfe\x80"]
    if not mode.debug:
        assert result.stderr == b""


def test_non_utf8_command_path(dumb_init_bin: str, tmp_path: Path) -> None:
    script = os.path.join(os.fsencode(tmp_path), b"run-\xff")
    with open(script, "w") as f:
        f.write('#!/bin/sh\necho "ran $1"\n')
    os.chmod(script, 0o755)
    result = run([dumb_init_bin, script, b"\xfe"])
    assert (result.returncode, result.stdout, result.stderr) == (0, b"ran \xfe\n", b"")
    result = run([dumb_init_bin, script + b"-missing"])
    assert result.returncode == 2
    message = b"[dumb-init] " + script + b"-missing: No such file or directory\n"
    assert result.stderr == message


def startup_lines(dumb_init_bin: str, mode: Mode) -> tuple[list[str], int]:
    """dumb-init's debug lines for running ``sh -c 'echo $$'``, and that PID."""
    command = [dumb_init_bin, *mode.args, "sh", "-c", "echo $$"]
    result = run(command, env=base_env(dict(mode.env)))
    assert result.returncode == 0
    return debug_lines(result.stderr.decode().splitlines()), int(result.stdout)


@pytest.mark.parametrize("mode", [m for m in ALL_MODES if m.debug], ids=mode_id)
def test_startup_debug_lines(dumb_init_bin: str, mode: Mode) -> None:
    lines, child = startup_lines(dumb_init_bin, mode)
    assert f"Child spawned with PID {child}." in lines
    env_debug = mode.env.get("DUMB_INIT_DEBUG") == "1"
    assert (lines[0] == "Running in debug mode.") == env_debug
    assert ("Running in debug mode." in lines) == env_debug
    env_single = mode.env.get("DUMB_INIT_SETSID") == "0"
    assert ("Not running in setsid mode." in lines) == env_single
    if mode.setsid:
        # stdin is /dev/null: no terminal to give up or to take.
        assert "setsid complete." in lines
        assert f"Unable to detach from controlling tty {NOT_A_TTY}" in lines
        assert f"Unable to attach to controlling tty {NOT_A_TTY}" in lines
    else:
        assert not [line for line in lines if "setsid" in line and "Not" not in line]
        assert not [line for line in lines if "controlling tty" in line]


@pytest.mark.parametrize("mode", [m for m in ALL_MODES if not m.debug], ids=mode_id)
def test_no_output_without_debug(dumb_init_bin: str, mode: Mode) -> None:
    lines, _ = startup_lines(dumb_init_bin, mode)
    assert lines == []
