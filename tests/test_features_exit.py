"""`--remap-exit=FROM:TO` (repeatable) and `DUMB_INIT_REMAP_EXIT`."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.features_util import assert_clean_error, env_for, run

KILLED_BY_TERM = ["sh", "-c", "kill -TERM $$"]


def exits(code: int) -> list[str]:
    return ["sh", "-c", f"exit {code}"]


@pytest.mark.parametrize(
    ("options", "code", "expected"),
    [
        (["--remap-exit=3:0"], 3, 0),
        (["--remap-exit", "3:0"], 3, 0),
        (["--remap-exit=3:0"], 4, 4),
        (["--remap-exit=0:9"], 0, 9),
        (["--remap-exit=255:1"], 255, 1),
        (["--remap-exit=3:4", "--remap-exit=5:6"], 5, 6),
        (["--remap-exit=3:4", "--remap-exit=5:6"], 3, 4),
        # One remapping, not a chain.
        (["--remap-exit=3:4", "--remap-exit=4:5"], 3, 4),
    ],
)
def test_remap_exit(dumb_init_bin: str, options: list[str], code: int, expected: int) -> None:
    done = run([dumb_init_bin, *options, *exits(code)])
    assert done.returncode == expected, done.stderr


def test_remap_exit_of_a_child_killed_by_a_signal(dumb_init_bin: str) -> None:
    assert run([dumb_init_bin, *KILLED_BY_TERM]).returncode == 143
    done = run([dumb_init_bin, "--remap-exit=143:0", *KILLED_BY_TERM])
    assert done.returncode == 0, done.stderr


def test_remap_exit_verbose_line(dumb_init_bin: str) -> None:
    done = run([dumb_init_bin, "-v", "--remap-exit=3:0", *exits(3)])
    assert done.returncode == 0
    assert "[dumb-init] Remapping exit status 3 to 0." in done.stderr.splitlines()


@pytest.mark.parametrize(
    ("child", "expected"), [(KILLED_BY_TERM, 0), (exits(130), 0), (exits(7), 7)]
)
def test_remap_exit_variable(dumb_init_bin: str, child: list[str], expected: int) -> None:
    done = run([dumb_init_bin, *child], env=env_for(DUMB_INIT_REMAP_EXIT="143:0,130:0"))
    assert done.returncode == expected, done.stderr


def test_remap_exit_flag_wins_over_variable(dumb_init_bin: str) -> None:
    env = env_for(DUMB_INIT_REMAP_EXIT="3:5")
    assert run([dumb_init_bin, *exits(3)], env=env).returncode == 5
    assert run([dumb_init_bin, "--remap-exit=3:4", *exits(3)], env=env).returncode == 4


@pytest.mark.parametrize(
    "value", ["256:0", "3:256", "3", ":0", "3:", "a:b", "-1:0", "3:0x", "1:2:3", "TERM:0", " 3:0"]
)
def test_bad_remap_exit_value(dumb_init_bin: str, tmp_path: Path, value: str) -> None:
    marker = tmp_path / "ran"
    done = run([dumb_init_bin, f"--remap-exit={value}", "touch", str(marker)])
    assert_clean_error(done, "--remap-exit", f"'{value}'")
    assert not marker.exists(), "the command must not run"


@pytest.mark.parametrize("value", ["3", "143:0,999:1", "143:0,,130:0", "143:0;130:0", "x"])
def test_bad_remap_exit_variable(dumb_init_bin: str, tmp_path: Path, value: str) -> None:
    marker = tmp_path / "ran"
    env = env_for(DUMB_INIT_REMAP_EXIT=value)
    done = run([dumb_init_bin, "touch", str(marker)], env=env)
    assert_clean_error(done, "DUMB_INIT_REMAP_EXIT", value)
    assert not marker.exists(), "the command must not run"
