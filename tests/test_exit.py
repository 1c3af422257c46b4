"""Exit status: the child's code, 128+N when killed by signal N, 2 when the
command cannot be executed; and the debug lines that report them."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from testing import base_env
from testing.supervise import MODES, Mode, debug_lines, mode_id, run

SETSID_AND_SINGLE = [m for m in MODES if not m.debug]
DEBUG_MODES = [m for m in MODES if m.debug]
FATAL = [
    s
    for s in range(1, 32)
    if s not in (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
    and s not in (signal.SIGCHLD, signal.SIGCONT, signal.SIGURG, signal.SIGWINCH)
] + [34, 40, 50, 64]
"""Signals whose default action ends the process (the rest stop it or do nothing)."""


def dumb_init(dumb_init_bin: str, mode: Mode, *command: str) -> list[str]:
    return [dumb_init_bin, *mode.args, *command]


@pytest.mark.parametrize("mode", SETSID_AND_SINGLE, ids=mode_id)
@pytest.mark.parametrize("first", range(0, 256, 32))
def test_exit_status_is_the_childs(dumb_init_bin: str, mode: Mode, first: int) -> None:
    env = base_env(dict(mode.env))
    for code in range(first, first + 32):
        result = run(dumb_init(dumb_init_bin, mode, "sh", "-c", f"exit {code}"), env=env)
        assert (result.returncode, result.stderr) == (code, b""), f"exit {code}"


@pytest.mark.parametrize("mode", SETSID_AND_SINGLE, ids=mode_id)
@pytest.mark.parametrize("signum", FATAL)
def test_killed_by_signal_exits_128_plus_n(dumb_init_bin: str, mode: Mode, signum: int) -> None:
    command = ["sh", "-c", f"ulimit -c 0; kill -{signum} $$"]
    result = run(dumb_init(dumb_init_bin, mode, *command), env=base_env(dict(mode.env)))
    assert (result.returncode, result.stderr) == (128 + signum, b"")


@pytest.mark.parametrize("mode", DEBUG_MODES, ids=mode_id)
@pytest.mark.parametrize("code", [0, 1, 77, 255])
def test_debug_lines_report_exit_status(dumb_init_bin: str, mode: Mode, code: int) -> None:
    command = ["sh", "-c", f"echo $$; exit {code}"]
    result = run(dumb_init(dumb_init_bin, mode, *command), env=base_env(dict(mode.env)))
    assert result.returncode == code
    child = int(result.stdout)
    debug = debug_lines(result.stderr.decode().splitlines())
    assert f"Child spawned with PID {child}." in debug
    assert f"A child with PID {child} exited with exit status {code}." in debug
    assert debug[-1] == f"Child exited with status {code}. Goodbye."


@pytest.mark.parametrize("mode", DEBUG_MODES, ids=mode_id)
@pytest.mark.parametrize("signum", [1, 9, 15, 40])
def test_debug_lines_report_killing_signal(dumb_init_bin: str, mode: Mode, signum: int) -> None:
    command = ["sh", "-c", f"echo $$; kill -{signum} $$"]
    result = run(dumb_init(dumb_init_bin, mode, *command), env=base_env(dict(mode.env)))
    assert result.returncode == 128 + signum
    child = int(result.stdout)
    debug = debug_lines(result.stderr.decode().splitlines())
    assert f"A child with PID {child} was terminated by signal {signum}." in debug
    assert debug[-1] == f"Child exited with status {128 + signum}. Goodbye."


def exec_failure(dumb_init_bin: str, mode: Mode, command: str, env: dict[str, str]) -> str:
    """Run a command that cannot be executed; return the error line."""
    result = run(dumb_init(dumb_init_bin, mode, command, "arg"), env=env)
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    errors = [line for line in lines if line.startswith(f"[dumb-init] {command}: ")]
    assert len(errors) == 1, lines
    if not mode.debug:
        assert result.stderr == (errors[0] + "\n").encode()
    return errors[0]


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_missing_command(dumb_init_bin: str, mode: Mode) -> None:
    line = exec_failure(dumb_init_bin, mode, "/nope", base_env(dict(mode.env)))
    assert line == "[dumb-init] /nope: No such file or directory"


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_command_not_on_path(dumb_init_bin: str, mode: Mode, tmp_path: Path) -> None:
    env = base_env({**mode.env, "PATH": str(tmp_path)})
    line = exec_failure(dumb_init_bin, mode, "no-such-command", env)
    assert line == "[dumb-init] no-such-command: No such file or directory"


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_command_not_executable(dumb_init_bin: str, mode: Mode, tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o644)
    env = base_env(dict(mode.env))
    line = exec_failure(dumb_init_bin, mode, str(script), env)
    assert line == f"[dumb-init] {script}: Permission denied"
    line = exec_failure(dumb_init_bin, mode, str(tmp_path), env)
    assert line == f"[dumb-init] {tmp_path}: Permission denied"
    env["PATH"] = str(tmp_path)  # found on PATH, but not executable
    line = exec_failure(dumb_init_bin, mode, "script", env)
    assert line == "[dumb-init] script: Permission denied"


@pytest.mark.parametrize("mode", SETSID_AND_SINGLE, ids=mode_id)
def test_command_is_searched_on_path(dumb_init_bin: str, mode: Mode, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory in (first, second):
        directory.mkdir()
        script = directory / "hello"
        script.write_text(f'#!/bin/sh\necho "{directory.name} $*"\n')
        script.chmod(0o755)
    env = base_env({**mode.env, "PATH": f"{tmp_path / 'missing'}:{first}:{second}"})
    result = run(dumb_init(dumb_init_bin, mode, "hello", "a", "b"), env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"first a b\n", b"")
    os.chmod(first / "hello", 0o644)  # execvp goes on to the next directory
    result = run(dumb_init(dumb_init_bin, mode, "hello"), env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"second \n", b"")
