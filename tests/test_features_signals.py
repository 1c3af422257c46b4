"""Signal names wherever a signal is taken: `-r`, `DUMB_INIT_REWRITE`, `--list-signals`."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from testing import proc as procfs
from testing.features_util import (
    PRINT_SIGNALS,
    PROMPT,
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


SAMPLE = ["SIGHUP", "SIGUSR1", "SIGWINCH", "SIGRTMIN", "SIGRTMIN+3", "SIGRTMAX-1", "SIGRTMAX"]


def test_listed_names_forward_the_signals_they_name(dumb_init_bin: str) -> None:
    """A sample of `--list-signals` names, real-time ones included, as sources and as targets:
    each source is rewritten to the next name's signal, which the child must receive."""
    table = signal_table(dumb_init_bin)
    targets = SAMPLE[1:] + SAMPLE[:1]
    rules = [arg for source, target in zip(SAMPLE, targets) for arg in ("-r", f"{source}:{target}")]
    with running([dumb_init_bin, *rules, *PRINT_SIGNALS]) as (proc, out, _):
        expect(out, "ready")
        for source, target in zip(SAMPLE, targets):
            os.kill(proc.pid, table[source])
            expect(out, str(table[target]))


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


UNCATCHABLE = "is a signal that cannot be caught, so dumb-init never receives it"
TAKEN = "is taken by dumb-init itself (SIGCHLD makes it reap children), so never forwarded"
NOT_A_SIGNAL = (
    "is not a signal; use a number (1-64) or a name such as TERM, SIGUSR1, RTMIN+3 "
    "(dumb-init --list-signals prints them all)"
)
NO_SUCH_SIGNAL = "is no such signal; signals are 1-64"
REWRITE_USAGE = (
    "Usage: -r, --rewrite FROM:TO forwards signal FROM as TO (TO = 0: not at all); signals are "
    "numbers or names such as 15, TERM, SIGUSR1, RTMIN+3; repeatable."
)


BAD_RULES = [
    ("KILL:TERM", f"'KILL' {UNCATCHABLE}"),
    ("SIGKILL:1", f"'SIGKILL' {UNCATCHABLE}"),
    ("kill:1", f"'kill' {UNCATCHABLE}"),
    ("9:1", f"'9' {UNCATCHABLE}"),
    ("STOP:TERM", f"'STOP' {UNCATCHABLE}"),
    ("SIGSTOP:0", f"'SIGSTOP' {UNCATCHABLE}"),
    ("19:1", f"'19' {UNCATCHABLE}"),
    ("CHLD:TERM", f"'CHLD' {TAKEN}"),
    ("SIGCHLD:0", f"'SIGCHLD' {TAKEN}"),
    ("SIGCLD:0", f"'SIGCLD' {TAKEN}"),
    ("17:1", f"'17' {TAKEN}"),
    ("17:0", f"'17' {TAKEN}"),
    ("NOPE:TERM", f"'NOPE' {NOT_A_SIGNAL}"),
    ("TERM:NOPE", f"'NOPE' {NOT_A_SIGNAL}"),
    ("SIGTERMX:1", f"'SIGTERMX' {NOT_A_SIGNAL}"),
    ("TERM:RTMAX+1", f"'RTMAX+1' {NOT_A_SIGNAL}"),
    ("TERM:QUIT:INT", f"'QUIT:INT' {NOT_A_SIGNAL}"),
    ("65:1", f"'65' {NO_SUCH_SIGNAL}"),
    ("1:65", f"'65' {NO_SUCH_SIGNAL}"),
    ("0:1", f"'0' {NO_SUCH_SIGNAL}"),
    ("RTMIN+31:1", f"'RTMIN+31' {NO_SUCH_SIGNAL}"),
    ("99999999999999999999:1", f"'99999999999999999999' {NO_SUCH_SIGNAL}"),
    ("TERM", "expected FROM:TO, two signals separated by a colon"),
]


@pytest.mark.parametrize(("rule", "why"), BAD_RULES, ids=[rule for rule, _ in BAD_RULES])
@pytest.mark.parametrize("spelling", ["-r", "--rewrite", "--re"])
def test_bad_rewrite_is_an_error_saying_why(
    dumb_init_bin: str, tmp_path: Path, rule: str, why: str, spelling: str
) -> None:
    """The first line names the option, the value and what is wrong with it; the second is the
    option's usage, which says that names are accepted."""
    marker = tmp_path / "ran"
    done = run([dumb_init_bin, spelling, rule, "touch", str(marker)])
    assert_clean_error(done, one_line=False)
    assert done.stderr.splitlines() == [
        f"{dumb_init_bin}: invalid -r/--rewrite value '{rule}': {why}",
        REWRITE_USAGE,
    ]
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
        ("KILL:1", f"'KILL' {UNCATCHABLE}"),
        ("TERM:QUIT,NOPE:1", f"'NOPE' {NOT_A_SIGNAL}"),
        ("TERM:QUIT,,INT:0", "TERM:QUIT,,INT:0"),
        ("15:3x", "3x"),
        ("TERM:99", "99"),
        ("CHLD:TERM", f"'CHLD' {TAKEN}"),
        ("TERM:QUIT,17:0", f"'17' {TAKEN}"),
    ],
    ids=["TERM", "KILL", "NOPE", "empty-rule", "3x", "99", "CHLD", "17"],
)
def test_bad_rewrite_variable_is_an_error(
    dumb_init_bin: str, tmp_path: Path, value: str, culprit: str
) -> None:
    marker = tmp_path / "ran"
    done = run([dumb_init_bin, "touch", str(marker)], env=env_for(DUMB_INIT_REWRITE=value))
    assert_clean_error(done, f"invalid DUMB_INIT_REWRITE value '{value}': ", culprit)
    assert not marker.exists(), "the command must not run"


@pytest.mark.parametrize(
    ("rules", "sent", "killed_by"),
    [
        ([], 32, 32),
        ([], 33, 33),
        (["-r", "32:33"], 32, 33),
        (["-r", "USR1:32"], signal.SIGUSR1, 32),
        (["--rewrite=33:USR2"], 33, signal.SIGUSR2),
    ],
    ids=["32", "33", "32-as-33", "USR1-as-32", "33-as-USR2"],
)
def test_signals_32_and_33_are_forwarded_and_rewritten(
    dumb_init_bin: str, rules: list[str], sent: int, killed_by: int
) -> None:
    """glibc keeps 32 and 33 for itself, so they have no names; they are signals all the same,
    forwarded and rewritten by number. `sleep` dies of each (its default action)."""
    with running([dumb_init_bin, *rules, "sleep", "50"]) as (proc, _, err):
        # Once the child exists, dumb-init has every signal blocked: none can kill it.
        procfs.only_child(proc.pid)
        os.kill(proc.pid, sent)
        assert proc.wait(PROMPT) == 128 + killed_by, err.rest(1)


def test_signal_33_can_be_dropped(dumb_init_bin: str) -> None:
    with running([dumb_init_bin, "-r", "33:0", "sleep", "50"]) as (proc, _, err):
        procfs.only_child(proc.pid)
        os.kill(proc.pid, 33)
        # dumb-init takes one signal at a time: 33 is done with before SIGTERM is looked at.
        procfs.wait_not_pending(proc.pid, 33)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(PROMPT) == 128 + signal.SIGTERM, err.rest(1)


@pytest.mark.parametrize("variable", ["32:33", "TERM:32,33:0"])
def test_signals_32_and_33_in_the_rewrite_variable(dumb_init_bin: str, variable: str) -> None:
    done = run([dumb_init_bin, "true"], env=env_for(DUMB_INIT_REWRITE=variable))
    assert (done.returncode, done.stderr) == (0, "")


def test_sigterm_reaches_a_child_stopped_by_ctrl_z(dumb_init_bin: str) -> None:
    """Ctrl-Z stops the child (dumb-init forwards SIGTSTP as SIGSTOP) and dumb-init; the shell's
    `kill %1` then sends SIGTERM and SIGCONT to dumb-init. The child, continued, gets the SIGTERM."""
    with running([dumb_init_bin, *PRINT_SIGNALS]) as (proc, out, _):
        expect(out, "ready")
        child = procfs.only_child(proc.pid)
        os.kill(proc.pid, signal.SIGTSTP)
        procfs.wait_stopped(child)
        procfs.wait_stopped(proc.pid)
        os.kill(proc.pid, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGCONT)
        # Handled in increasing order once the child runs again.
        expect(out, str(int(signal.SIGTERM)))
        expect(out, str(int(signal.SIGCONT)))
        assert procfs.state(child) != "T"
