"""Signal names wherever a signal is taken: `-r`, `DUMB_INIT_REWRITE`, `--list-signals`."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from testing.features_util import (
    PRINT_SIGNALS,
    Lines,
    assert_clean_error,
    env_for,
    run,
    running,
    signal_table,
)

# A signal numbered above every dropped one: the printer handles signals that arrive together in
# increasing order, so a dropped signal forwarded by mistake would be printed before this one.
SENTINEL = signal.SIGWINCH

RT_NAME = re.compile(r"SIGRT(MIN|MAX)(?:([+-])(\d+))?")


def list_signals(dumb_init_bin: str) -> list[tuple[int, str]]:
    done = run([dumb_init_bin, "--list-signals"])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    pairs: list[tuple[int, str]] = []
    for line in done.stdout.splitlines():
        match = re.fullmatch(r"(\d+) (SIG[A-Z0-9]+(?:[+-]\d+)?)", line)
        assert match, f"not a `NUMBER NAME` line: {line!r}"
        pairs.append((int(match[1]), match[2]))
    assert done.stdout.endswith("\n")
    return pairs


def test_list_signals_prints_number_name_lines(dumb_init_bin: str) -> None:
    pairs = list_signals(dumb_init_bin)
    numbers = [n for n, _ in pairs]
    names = dict(pairs)
    assert numbers == sorted(set(numbers)), "one line per signal, in order"
    assert (1, "SIGHUP") in pairs
    assert (9, "SIGKILL") in pairs
    assert (15, "SIGTERM") in pairs
    assert (31, "SIGSYS") in pairs
    assert 32 not in names and 33 not in names, "glibc's reserved signals have no names"
    assert names[64] == "SIGRTMAX"
    rtmin = min(n for n in numbers if n > 31)
    assert rtmin == 34, "glibc's numbering, whatever the C library (musl's SIGRTMIN is 35)"
    assert names[rtmin] == "SIGRTMIN"
    assert numbers == [*range(1, 32), *range(rtmin, 65)]
    for number, name in pairs:
        rt = RT_NAME.fullmatch(name)
        if number <= 31:
            assert rt is None
            assert getattr(signal, name) == number, name
        else:
            assert rt, name
            base = rtmin if rt[1] == "MIN" else 64
            offset = int(rt[3] or 0) * (-1 if rt[2] == "-" else 1)
            assert base + offset == number, name


def test_every_listed_name_is_accepted_by_rewrite(dumb_init_bin: str) -> None:
    pairs = list_signals(dumb_init_bin)
    sources = [name for _, name in pairs if name not in ("SIGKILL", "SIGSTOP", "SIGCHLD")]
    args: list[str] = []
    for name in sources:
        # With and without SIG, any case, and as a number.
        args += ["-r", f"{name}:0", "-r", f"{name[3:].lower()}:0"]
    for number, name in pairs:
        args += ["-r", f"TERM:{name}", "-r", f"TERM:{name[3:]}"]
        if name in sources:
            args += ["-r", f"{number}:{number}"]
    done = run([dumb_init_bin, *args, "true"])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def expect(out: Lines, wanted: str) -> None:
    line = out.readline()
    assert line == wanted, f"expected {wanted!r}, got {line!r} (seen {out.seen!r})"


@pytest.mark.parametrize(
    "option",
    [
        ["-r", "TERM:QUIT"],
        ["-r", "SIGTERM:SIGQUIT"],
        ["-r", "term:quit"],
        ["-r", "SigTerm:sigQUIT"],
        ["-r", "15:3"],
        ["-r", "15:QUIT"],
        ["-rTERM:QUIT"],
        ["--rewrite=TERM:QUIT"],
        ["--rewrite", "SIGTERM:3"],
    ],
)
def test_rewrite_accepts_names(dumb_init_bin: str, option: list[str]) -> None:
    with running([dumb_init_bin, *option, *PRINT_SIGNALS]) as (proc, out, _):
        expect(out, "ready")
        proc.send_signal(signal.SIGTERM)
        expect(out, str(int(signal.SIGQUIT)))
        # Other signals still pass unchanged.
        proc.send_signal(signal.SIGUSR1)
        expect(out, str(int(signal.SIGUSR1)))


@pytest.mark.parametrize("drop", ["TERM:0", "SIGTERM:0", "15:0", "term:00"])
def test_rewrite_to_zero_drops(dumb_init_bin: str, drop: str) -> None:
    with running([dumb_init_bin, "-r", drop, *PRINT_SIGNALS]) as (proc, out, _):
        expect(out, "ready")
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(SENTINEL)
        expect(out, str(int(SENTINEL)))


@pytest.mark.parametrize(
    ("source", "offset_from", "offset"),
    [
        ("RTMIN", "SIGRTMIN", 0),
        ("RTMIN+3", "SIGRTMIN", 3),
        ("SIGRTMIN+3", "SIGRTMIN", 3),
        ("rtmin+3", "SIGRTMIN", 3),
        ("RTMAX-1", "SIGRTMAX", -1),
        ("SIGRTMAX", "SIGRTMAX", 0),
        ("NUMBER", "SIGRTMIN", 2),
    ],
)
def test_rewrite_real_time_source_by_name(
    dumb_init_bin: str, source: str, offset_from: str, offset: int
) -> None:
    number = signal_table(dumb_init_bin)[offset_from] + offset
    if source == "NUMBER":
        source = str(number)
    with running([dumb_init_bin, "-r", f"{source}:USR2", *PRINT_SIGNALS]) as (proc, out, _):
        expect(out, "ready")
        os.kill(proc.pid, number)
        expect(out, str(int(signal.SIGUSR2)))


@pytest.mark.parametrize("target", ["RTMIN+3", "SIGRTMAX-1", "rtmax"])
def test_rewrite_to_real_time_signal_by_name(dumb_init_bin: str, target: str) -> None:
    table = signal_table(dumb_init_bin)
    wanted = {"RTMIN+3": table["SIGRTMIN+3"], "SIGRTMAX-1": table["SIGRTMAX-1"], "rtmax": 64}[
        target
    ]
    with running([dumb_init_bin, "-r", f"USR1:{target}", *PRINT_SIGNALS]) as (proc, out, _):
        expect(out, "ready")
        proc.send_signal(signal.SIGUSR1)
        expect(out, str(wanted))


@pytest.mark.parametrize(
    ("rule", "culprit"),
    [
        ("KILL:TERM", "KILL"),
        ("SIGKILL:1", "KILL"),
        ("kill:1", "kill"),
        ("9:1", "9"),
        ("STOP:TERM", "STOP"),
        ("SIGSTOP:0", "STOP"),
        ("19:1", "19"),
        ("NOPE:TERM", "NOPE"),
        ("TERM:NOPE", "NOPE"),
        ("SIGTERMX:1", "SIGTERMX"),
        ("65:1", "65"),
        ("1:65", "65"),
        ("CHLD:TERM", "CHLD"),
        ("SIGCLD:0", "CLD"),
        ("17:1", "17"),
        ("0:1", "0"),
        ("RTMIN+31:1", "RTMIN+31"),
        ("TERM:RTMAX+1", "RTMAX+1"),
        ("99999999999999999999:1", "99999999999999999999"),
        ("TERM", "TERM"),
        ("TERM:QUIT:INT", "TERM:QUIT:INT"),
    ],
)
def test_bad_rewrite_is_an_error_saying_what_is_accepted(
    dumb_init_bin: str, tmp_path: Path, rule: str, culprit: str
) -> None:
    marker = tmp_path / "ran"
    done = run([dumb_init_bin, "-r", rule, "touch", str(marker)])
    assert_clean_error(done, culprit, one_line=False)
    assert re.search(r"-r\b|--rewrite", done.stderr), done.stderr
    assert re.search(r"name|--list-signals", done.stderr), "says names are accepted"
    assert not marker.exists(), "the command must not run"


def test_rewrite_variable(dumb_init_bin: str) -> None:
    env = env_for(DUMB_INIT_REWRITE="TERM:QUIT,INT:0")
    with running([dumb_init_bin, *PRINT_SIGNALS], env=env) as (proc, out, _):
        expect(out, "ready")
        proc.send_signal(signal.SIGTERM)
        expect(out, str(int(signal.SIGQUIT)))
        proc.send_signal(signal.SIGINT)
        proc.send_signal(SENTINEL)
        expect(out, str(int(SENTINEL)))


def test_rewrite_flag_wins_over_variable_for_its_signal_only(dumb_init_bin: str) -> None:
    env = env_for(DUMB_INIT_REWRITE="TERM:QUIT,INT:USR2")
    argv = [dumb_init_bin, "-r", "SIGTERM:USR1", *PRINT_SIGNALS]
    with running(argv, env=env) as (proc, out, _):
        expect(out, "ready")
        proc.send_signal(signal.SIGTERM)
        expect(out, str(int(signal.SIGUSR1)))
        proc.send_signal(signal.SIGINT)
        expect(out, str(int(signal.SIGUSR2)))


@pytest.mark.parametrize(
    ("value", "culprit"),
    [
        ("TERM", "TERM"),
        ("KILL:1", "KILL:1"),
        ("TERM:QUIT,NOPE:1", "NOPE"),
        ("TERM:QUIT,,INT:0", "TERM:QUIT,,INT:0"),
        ("15:3x", "3x"),
        ("TERM:99", "99"),
    ],
)
def test_bad_rewrite_variable_is_an_error(
    dumb_init_bin: str, tmp_path: Path, value: str, culprit: str
) -> None:
    marker = tmp_path / "ran"
    done = run([dumb_init_bin, "touch", str(marker)], env=env_for(DUMB_INIT_REWRITE=value))
    assert_clean_error(done, "DUMB_INIT_REWRITE", value, culprit)
    assert not marker.exists(), "the command must not run"
