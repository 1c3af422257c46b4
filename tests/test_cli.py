"""The command line: messages and exit codes of the 1.2.5 contract, GNU
getopt parsing (prefixes, clusters, attached values, ``--``, stopping at the
command) and the two environment variables."""

from __future__ import annotations

import os
import signal

import pytest

from testing import PYTHON, base_env, proc
from testing.supervise import Mode, debug_lines, print_signals, run, spawn

ECHO = ["sh", "-c", "echo ran"]
SHOW_SESSION = [PYTHON, "-c", "import os; print(os.getpid(), os.getsid(0))"]
OPTIONS = ["--single-child", "--rewrite", "--verbose", "--help", "--version"]


def check(
    dumb_init_bin: str, args: list[str], stderr: str, code: int = 1, prog: str | None = None
) -> None:
    """``PROG ARGS`` prints exactly ``stderr`` (PROG replaced) and exits ``code``."""
    argv0 = prog or dumb_init_bin
    result = run([argv0, *args], executable=dumb_init_bin)
    expected = stderr.replace("PROG", argv0).encode()
    assert (result.returncode, result.stdout, result.stderr) == (code, b"", expected)


def test_no_command(dumb_init_bin: str) -> None:
    usage = "Usage: PROG [option] program [args]\nTry PROG --help for full usage.\n"
    check(dumb_init_bin, [], usage)
    check(dumb_init_bin, ["-c", "-v", "-r", "1:2"], usage)
    check(dumb_init_bin, ["--"], usage)
    check(dumb_init_bin, [], usage, prog="my-init")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--yolo", *ECHO], "PROG: unrecognized option '--yolo'\n"),
        (["--yolo=1", *ECHO], "PROG: unrecognized option '--yolo=1'\n"),
        (["-x", *ECHO], "PROG: invalid option -- 'x'\n"),
        (["-cx", *ECHO], "PROG: invalid option -- 'x'\n"),
        (["-r"], "PROG: option requires an argument -- 'r'\n"),
        (["-c", "-r"], "PROG: option requires an argument -- 'r'\n"),
        (["--rewrite"], "PROG: option '--rewrite' requires an argument\n"),
        (["--help=x", *ECHO], "PROG: option '--help' doesn't allow an argument\n"),
        (["--hel=x", *ECHO], "PROG: option '--help' doesn't allow an argument\n"),
        (["--verbose=1", *ECHO], "PROG: option '--verbose' doesn't allow an argument\n"),
        (["--version=1", *ECHO], "PROG: option '--version' doesn't allow an argument\n"),
        (
            ["--single-child=yes", *ECHO],
            "PROG: option '--single-child' doesn't allow an argument\n",
        ),
        (
            ["--ver", *ECHO],
            "PROG: option '--ver' is ambiguous; possibilities: '--verbose' '--version'\n",
        ),
        (
            ["--ve", *ECHO],
            "PROG: option '--ve' is ambiguous; possibilities: '--verbose' '--version'\n",
        ),
    ],
)
def test_usage_errors(dumb_init_bin: str, args: list[str], message: str) -> None:
    check(dumb_init_bin, args, message)
    check(dumb_init_bin, args, message, prog="my-init")


BAD_REWRITES = ["15:3x", "15", "15::3", ":3", "a:b", "1:99", "15:", "0:1", "99:1", "15:-1"]


@pytest.mark.parametrize(
    "args",
    [["-r", v] for v in BAD_REWRITES + [""]]
    + [[f"-r{v}"] for v in BAD_REWRITES]
    + [[f"--rewrite={v}"] for v in BAD_REWRITES + [""]]
    + [["--rewrite", v] for v in BAD_REWRITES],
    ids=repr,
)
def test_bad_rewrite_value(dumb_init_bin: str, args: list[str]) -> None:
    result = run([dumb_init_bin, *args, *ECHO])
    assert result.returncode == 1
    assert result.stdout == b""  # the command did not run
    assert b"-r" in result.stderr  # names the option (-r or --rewrite)
    assert not result.stderr.startswith(b"[dumb-init]")


def test_help(dumb_init_bin: str) -> None:
    result = run([dumb_init_bin, "--help"])
    assert (result.returncode, result.stdout) == (0, b"")
    text = result.stderr.decode()
    assert "Usage: " in text and dumb_init_bin in text
    for option in OPTIONS:
        assert option in text
    for short in ("-c", "-r", "-v", "-h", "-V"):
        assert f"{short}," in text
    for args in (["-h"], ["--h"], ["--he", *ECHO], ["-h", "--yolo"], ["-ch"], ["-h", "-V"]):
        other = run([dumb_init_bin, *args])
        assert (other.returncode, other.stdout, other.stderr) == (0, b"", result.stderr), args


def test_version(dumb_init_bin: str) -> None:
    for args in (["--version"], ["-V"], ["--vers"], ["-V", *ECHO], ["-cV"], ["-V", "-h"]):
        result = run([dumb_init_bin, *args])
        assert (result.returncode, result.stdout, result.stderr) == (
            0,
            b"",
            b"dumb-init v1.3.0\n",
        ), args


def test_options_act_in_order(dumb_init_bin: str) -> None:
    """-h and -V exit when reached; a bad -r or unknown option exits when reached."""
    assert run([dumb_init_bin, "-V", "-r", "15:x", *ECHO]).returncode == 0
    assert run([dumb_init_bin, "-r", "15:x", "-V", *ECHO]).returncode == 1
    assert run([dumb_init_bin, "--yolo", "-V"]).returncode == 1
    assert run([dumb_init_bin, "-V", "--yolo"]).returncode == 0
    assert run([dumb_init_bin, "-r", "15:x", "--yolo"]).returncode == 1
    result = run([dumb_init_bin, "--yolo", "-r", "15:x"])
    assert result.stderr == f"{dumb_init_bin}: unrecognized option '--yolo'\n".encode()


def test_options_stop_at_the_command(dumb_init_bin: str) -> None:
    args = ["-v", "--version", "-r", "1:2", "--", "-c", "--yolo"]
    show = ["sh", "-c", 'printf "%s\\n" "$@"', "sh", *args]
    result = run([dumb_init_bin, *show])
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.decode().splitlines() == args
    result = run([dumb_init_bin, "-v", *show])  # the first -v is dumb-init's
    assert result.returncode == 0
    assert result.stdout.decode().splitlines() == args
    assert "Child exited with status 0. Goodbye." in debug_lines(
        result.stderr.decode().splitlines()
    )


def test_double_dash_ends_options(dumb_init_bin: str) -> None:
    result = run([dumb_init_bin, "-c", "--", *ECHO])
    assert (result.returncode, result.stdout, result.stderr) == (0, b"ran\n", b"")
    result = run([dumb_init_bin, "--", "--version"])
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == b"[dumb-init] --version: No such file or directory\n"
    result = run([dumb_init_bin, "--", "-v", "x"])
    assert result.stderr == b"[dumb-init] -v: No such file or directory\n"


def session(dumb_init_bin: str, args: list[str], env: dict[str, str]) -> tuple[bool, bool]:
    """Run the session printer; return (setsid mode?, debug output?)."""
    result = run([dumb_init_bin, *args, *SHOW_SESSION], env=base_env(env))
    assert result.returncode == 0, result.stderr
    pid, sid = map(int, result.stdout.split())
    debug = debug_lines(result.stderr.decode().splitlines())
    assert len(debug) == len(result.stderr.decode().splitlines())
    return pid == sid, bool(debug)


@pytest.mark.parametrize(
    ("args", "env", "setsid", "debug"),
    [
        ([], {}, True, False),
        (["-c"], {}, False, False),
        (["--single-child"], {}, False, False),
        (["--single"], {}, False, False),
        (["--s"], {}, False, False),
        (["-v"], {}, True, True),
        (["--verbose"], {}, True, True),
        (["--verb"], {}, True, True),
        (["-cv"], {}, False, True),
        (["-vc"], {}, False, True),
        (["-c", "-v"], {}, False, True),
        ([], {"DUMB_INIT_SETSID": "0"}, False, False),
        ([], {"DUMB_INIT_DEBUG": "1"}, True, True),
        ([], {"DUMB_INIT_SETSID": "0", "DUMB_INIT_DEBUG": "1"}, False, True),
        # The variables only switch things on, and only with the exact value.
        (["-c"], {"DUMB_INIT_SETSID": "1"}, False, False),
        (["-v"], {"DUMB_INIT_DEBUG": "0"}, True, True),
        ([], {"DUMB_INIT_SETSID": "1", "DUMB_INIT_DEBUG": "0"}, True, False),
        ([], {"DUMB_INIT_SETSID": "", "DUMB_INIT_DEBUG": ""}, True, False),
        ([], {"DUMB_INIT_SETSID": "00", "DUMB_INIT_DEBUG": "1 "}, True, False),
        ([], {"DUMB_INIT_SETSID": "false", "DUMB_INIT_DEBUG": "true"}, True, False),
    ],
)
def test_mode_selection(
    dumb_init_bin: str, args: list[str], env: dict[str, str], setsid: bool, debug: bool
) -> None:
    assert session(dumb_init_bin, args, env) == (setsid, debug)


@pytest.mark.parametrize(
    "args",
    [
        ["-r15:12"],
        ["-r", "15:12"],
        ["--rewrite=15:12"],
        ["--rewrite", "15:12"],
        ["--rew=15:12"],
        ["--re", "15:12"],
        ["-cvr15:12"],
        ["-cvr", "15:12"],
        ["-r", "15:0", "-r", "15:12"],  # the last rule wins
    ],
)
def test_rewrite_value_forms(dumb_init_bin: str, args: list[str]) -> None:
    mode = Mode("given", setsid=True, debug=False)
    with spawn(dumb_init_bin, mode, print_signals(), args=args) as init:
        init.out.expect("ready")
        init.send(signal.SIGTERM)
        init.out.expect(str(int(signal.SIGUSR2)))
        child = proc.stat(init.child())
        single = any(arg.startswith("-c") for arg in args)
        assert (child.sid == child.pid) != single
        os.kill(child.pid, signal.SIGKILL)
        assert init.wait() == 128 + signal.SIGKILL
        has_debug = bool(init.err.rest())
        assert has_debug == any(arg.startswith("-cv") for arg in args)
