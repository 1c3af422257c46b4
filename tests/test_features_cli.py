"""Command-line rules of the new options: long-option prefixes, `--opt value` forms, and bad values
of every new option and variable (exit 1, one line naming the option and the value, no panic)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from testing.features_util import PROMPT, TREE, assert_clean_error, env_for, run, running


def test_list_signals_by_prefix(dumb_init_bin: str) -> None:
    for prefix in ["--l", "--list", "--list-signals"]:
        done = run([dumb_init_bin, prefix])
        assert done.returncode == 0, (prefix, done.stderr)
        assert "15 SIGTERM" in done.stdout.splitlines(), prefix


def test_list_signals_ignores_what_follows(dumb_init_bin: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    done = run([dumb_init_bin, "--list-signals", "touch", str(marker)])
    assert done.returncode == 0
    assert "9 SIGKILL" in done.stdout.splitlines()
    assert not marker.exists()


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--rem=3:0", "sh", "-c", "exit 3"], 0),
        (["--remap=3:0", "sh", "-c", "exit 3"], 0),
        (["--rem", "3:0", "sh", "-c", "exit 3"], 0),
        # --re was --rewrite in 1.2.5 and still is: TERM:QUIT is no exit-status rule.
        (["--re=TERM:QUIT", "sh", "-c", "exit 3"], 3),
        (["--re", "15:3", "sh", "-c", "exit 3"], 3),
    ],
)
def test_value_option_prefixes(dumb_init_bin: str, argv: list[str], code: int) -> None:
    done = run([dumb_init_bin, *argv])
    assert done.returncode == code, done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize("option", [["--g=0.5"], ["--gr", "0.5"], ["--grace=0.5"]])
def test_grace_period_prefixes_start_a_period(dumb_init_bin: str, option: list[str]) -> None:
    """The period runs: a process that ignores SIGTERM is killed when it ends."""
    argv = [dumb_init_bin, "-v", *option, *TREE, "--exit", "3", "stubborn"]
    with running(argv) as (proc, out, err):
        stubborn = int(out.wait_for("spawned stubborn ").split()[2])
        assert proc.wait(PROMPT) == 3
        stderr = err.rest()
    assert "[dumb-init] Grace period: waiting up to 0.5 seconds for remaining processes." in stderr
    assert f"[dumb-init] A child with PID {stubborn} was terminated by signal 9." in stderr


def test_re_prefix_is_still_rewrite(dumb_init_bin: str) -> None:
    # As --remap-exit this would be a valid rule; as --rewrite signal 143 does not exist.
    done = run([dumb_init_bin, "--re=143:0", "true"])
    assert_clean_error(done, "143", one_line=False)
    assert "remap" not in done.stderr


@pytest.mark.parametrize(
    ("prefix", "option"), [("--g", "--grace-period"), ("--rem", "--remap-exit")]
)
def test_prefix_errors_name_the_full_option(dumb_init_bin: str, prefix: str, option: str) -> None:
    done = run([dumb_init_bin, f"{prefix}=bad", "true"])
    assert_clean_error(done, option, "'bad'")


def test_pd_prefix_is_pdeathsig(dumb_init_bin: str) -> None:
    done = run([dumb_init_bin, "-v", "--pd=TERM", "true"])
    assert done.returncode == 0, done.stderr
    assert "[dumb-init] Parent death signal set to 15 (watching parent process" in done.stderr
    done = run([dumb_init_bin, "-v", "--pd", "HUP", "true"])
    assert "[dumb-init] Parent death signal set to 1 (watching parent process" in done.stderr


@pytest.mark.parametrize("prefix", ["--pa", "--paus"])
def test_pa_prefix_is_pause(dumb_init_bin: str, prefix: str) -> None:
    with running([dumb_init_bin, "-v", prefix]) as (proc, _, err):
        err.wait_for("[dumb-init] Pausing: no child; waiting for SIGTERM or SIGINT.")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(PROMPT) == 0


def test_s_prefix_is_still_single_child(dumb_init_bin: str) -> None:
    grouped = run([dumb_init_bin, "-v", "true"])
    assert "[dumb-init] setsid complete." in grouped.stderr.splitlines()
    single = run([dumb_init_bin, "-v", "--s", "true"])
    assert single.returncode == 0, single.stderr
    assert "setsid complete." not in single.stderr


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("--p", "option '--p' is ambiguous; possibilities: '--pause' '--pdeathsig'"),
        ("--ver", "option '--ver' is ambiguous; possibilities: '--verbose' '--version'"),
    ],
)
def test_ambiguous_prefixes(dumb_init_bin: str, prefix: str, message: str) -> None:
    done = run([dumb_init_bin, prefix, "true"])
    assert done.returncode == 1
    assert done.stderr == f"{dumb_init_bin}: {message}\n"


@pytest.mark.parametrize("option", ["--grace-period", "--remap-exit", "--pdeathsig"])
def test_missing_value(dumb_init_bin: str, option: str) -> None:
    done = run([dumb_init_bin, option])
    assert done.returncode == 1
    assert done.stderr == f"{dumb_init_bin}: option '{option}' requires an argument\n"


@pytest.mark.parametrize("option", ["--list-signals", "--pause", "--wait-all"])
def test_flag_takes_no_value(dumb_init_bin: str, option: str) -> None:
    done = run([dumb_init_bin, f"{option}=1", "true"])
    assert done.returncode == 1
    assert done.stderr == f"{dumb_init_bin}: option '{option}' doesn't allow an argument\n"


BAD_GRACE = ["abc", "-1", "", "1s", "1,5", "nan", "inf", "1e3", "1.2.3", ".", " 1", "2 "]
BAD_SIGNAL = [
    "NOPE",
    "0",
    "65",
    "KILL",
    "SIGSTOP",
    "CHLD",
    "SIGCLD",
    "-15",
    "TERM+1",
    "RTMAX+1",
    "",
]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--grace-period", v) for v in BAD_GRACE] + [("--pdeathsig", v) for v in BAD_SIGNAL],
)
def test_bad_option_value(dumb_init_bin: str, tmp_path: Path, option: str, value: str) -> None:
    marker = tmp_path / "ran"
    done = run([dumb_init_bin, f"{option}={value}", "touch", str(marker)])
    assert_clean_error(done, option, f"'{value}'")
    assert not marker.exists(), "the command must not run"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DUMB_INIT_GRACE_PERIOD", v) for v in BAD_GRACE if v]
    + [("DUMB_INIT_PDEATHSIG", v) for v in BAD_SIGNAL if v],
)
def test_bad_variable_value(dumb_init_bin: str, tmp_path: Path, variable: str, value: str) -> None:
    marker = tmp_path / "ran"
    done = run([dumb_init_bin, "touch", str(marker)], env=env_for(**{variable: value}))
    assert_clean_error(done, variable, f"'{value}'")
    assert not marker.exists(), "the command must not run"


TAKEN = "taken by dumb-init itself (SIGCHLD makes it reap children), so never forwarded"


@pytest.mark.parametrize("value", ["CHLD", "SIGCHLD", "chld", "SIGCLD", "17"])
def test_pdeathsig_refuses_chld_saying_why(dumb_init_bin: str, value: str) -> None:
    """SIGCHLD is what dumb-init reaps on: as a parent-death signal it could never be forwarded."""
    for spelling in ([f"--pdeathsig={value}"], ["--pdeathsig", value], [f"--pd={value}"]):
        done = run([dumb_init_bin, *spelling, "true"])
        assert_clean_error(done)
        assert done.stderr == f"{dumb_init_bin}: invalid --pdeathsig value '{value}': {TAKEN}\n"
    done = run([dumb_init_bin, "true"], env=env_for(DUMB_INIT_PDEATHSIG=value))
    assert_clean_error(done)
    assert done.stderr == f"{dumb_init_bin}: invalid DUMB_INIT_PDEATHSIG value '{value}': {TAKEN}\n"


@pytest.mark.parametrize("value", ["KILL", "SIGSTOP", "9"])
def test_pdeathsig_refuses_uncatchable_signals_saying_why(dumb_init_bin: str, value: str) -> None:
    done = run([dumb_init_bin, f"--pdeathsig={value}", "true"])
    assert_clean_error(done)
    assert done.stderr == (
        f"{dumb_init_bin}: invalid --pdeathsig value '{value}': "
        "a signal that cannot be caught, so dumb-init never receives it\n"
    )


def test_bad_value_is_reported_before_a_later_help(dumb_init_bin: str) -> None:
    # Options act in order: the bad value is met first.
    done = run([dumb_init_bin, "--grace-period=x", "--help"])
    assert_clean_error(done, "--grace-period", "'x'")
    # --help met first wins.
    done = run([dumb_init_bin, "--help", "--grace-period=x"])
    assert done.returncode == 0
    assert "--grace-period" in done.stderr
