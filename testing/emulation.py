"""The suite's behaviour tests against a binary of another architecture, under qemu-user.

    DUMB_INIT_BINARY=dist/dumb-init_VERSION_s390x DUMB_INIT_EMULATOR=qemu-s390x-static \\
        pytest -m emulated

``$DUMB_INIT_EMULATOR`` is a command prefix (``qemu-ARCH-static``, no binfmt_misc needed). The
tests take the binary as one path, so the suite hands them a two-line shell script that execs
the emulator on the binary, naming dumb-init's argv[0] after the script (``-0``): the process
the tests start, signal and wait for is the emulator running dumb-init, under the same PID.
The commands dumb-init starts (``sh``, the Python helpers) are this machine's programs: after
dumb-init's execve the kernel runs them natively.

``EMULATED`` lists the tests that run so, marked ``emulated``; with ``$DUMB_INIT_EMULATOR``
set, every other test is skipped. Left out, here and only here, is what belongs to the
emulator (qemu-user 7.2, Debian 12) rather than to dumb-init:

- real-time signals (32 and up): qemu-user keeps host real-time signals for itself and maps
  the guest's onto the others, so their numbers change between the host and dumb-init (a
  ``signum`` parameter of 32 or more is left out; the tests about them are not listed); and
  qemu leaves host signal 32 ignored in the programs the emulated dumb-init starts, so the
  test of the child's whole signal state (1 to 64) is not listed, only those of 1 to 31;
- the launcher: a shell script execs the emulator, and the shell hands on the environment in
  an order (and with variables) of its own, so the byte-for-byte argv and environment test is
  not listed;
- qemu's extra thread: the emulator process has a second thread, which takes PID 2 of a new
  PID namespace (the child is PID 3 there, so PID-1 tests in debug mode, which read "Child
  spawned with PID 2.", are left out), and tests about dumb-init's threads or its name in
  /proc are not listed;
- PR_SET_CHILD_SUBREAPER: qemu-user refuses that prctl (EINVAL), so dumb-init cannot be a
  subreaper under it: the ``subreaper`` variants are left out (the PID-1 ones run);
- the fault signals ILL, TRAP, BUS, FPE and SEGV sent from outside: qemu-user takes them as
  its own faults and now and then loses one (the same x86_64 binary forwards them every time
  natively and under qemu-x86_64-static stalls at SIGILL or SIGBUS), so the test that sends
  every signal is not listed; TERM, HUP, USR1 and INT are sent one by one instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

EMULATOR_VARIABLE = "DUMB_INIT_EMULATOR"

EMULATED = (
    # exit statuses: 0, N and 128+N
    "tests/test_exit.py::test_exit_status_is_the_childs",
    "tests/test_exit.py::test_killed_by_signal_exits_128_plus_n",
    "tests/test_pid1.py::test_exit_status_comes_out",
    # exec failures: missing, not executable, a script without #! run by /bin/sh
    "tests/test_exit.py::test_missing_command",
    "tests/test_exit.py::test_command_not_on_path",
    "tests/test_exit.py::test_command_not_executable",
    "tests/test_exec.py::test_script_without_shebang_runs_under_bin_sh",
    # forwarding (TERM, HUP, USR1 and INT among them) to the child and its process group
    "tests/test_signals.py::test_group_gets_signals_only_in_setsid_mode",
    "tests/test_pid1.py::test_sigterm_from_outside_stops_the_child",
    # rewrites, by number and by name; --remap-exit
    "tests/test_signals.py::test_rewrites",
    "tests/test_signals.py::test_rewrite_to_zero_drops",
    "tests/test_features_signals.py::test_rewrite_accepts_names",
    "tests/test_features_signals.py::test_rewrite_to_zero_drops",
    "tests/test_features_exit.py::test_remap_exit",
    "tests/test_features_exit.py::test_remap_exit_of_a_child_killed_by_a_signal",
    # --list-signals (byte for byte the same as x86_64's: tests/test_release.py)
    "tests/test_features_signals.py::test_list_signals_prints_number_name_lines",
    # orphans reaped as PID 1 of a PID namespace
    "tests/test_pid1.py::test_reaps_orphans",
    # the grace period's kill
    "tests/test_features_grace.py::test_grace_as_pid_1_flushes_then_kills_the_stubborn",
    # the child's start (clone with CLONE_VM | CLONE_VFORK natively; qemu-user makes it a
    # fork): its signal state (1 to 31), descriptors, session, the early SIGTERM, the terminal
    # hand-off
    "tests/test_hygiene.py::test_child_gets_exactly_the_callers_descriptors",
    "tests/test_process.py::test_session_and_process_group",
    "tests/test_process.py::test_child_starts_with_empty_signal_mask",
    "tests/test_process.py::test_child_starts_with_no_ignored_signal",
    "tests/test_races.py::test_sigterm_as_the_child_is_spawned",
    "tests/test_tty.py::test_hand_off_signals_are_not_forwarded",
    "tests/test_tty.py::test_interactive_shell_gets_job_control",
    # --wait-all
    "tests/test_wait_all.py::test_waits_for_the_job_and_leaves_it_alone",
    "tests/test_wait_all.py::test_signals_during_the_wait_reach_the_job_rewritten",
    "tests/test_wait_all.py::test_remap_exit_applies_to_the_final_status",
)
"""The tests run against an emulated binary, by ``file::function``."""

FIRST_REAL_TIME_SIGNAL = 32


def emulator() -> str | None:
    """``$DUMB_INIT_EMULATOR``: the command prefix that runs the binary under test, if any."""
    return os.environ.get(EMULATOR_VARIABLE) or None


def is_emulated(nodeid: str, params: dict[str, object]) -> bool:
    """Whether the test with this node ID and these parameters runs under emulation."""
    function = nodeid.split("[", 1)[0]
    if function not in EMULATED:
        return False
    signum = params.get("signum")
    if isinstance(signum, int) and signum >= FIRST_REAL_TIME_SIGNAL:
        return False  # a real-time signal
    if params.get("where") == "subreaper":
        return False  # PR_SET_CHILD_SUBREAPER
    debug = getattr(params.get("mode"), "debug", False)
    return not (function.startswith("tests/test_pid1.py::") and debug)  # the child is PID 3


def launcher(binary: str, prefix: str, directory: Path) -> str:
    """Write the script that runs ``binary`` under the emulator ``prefix``; returns its path.
    Raises ``LookupError`` if the emulator is not installed."""
    argv = shlex.split(prefix)
    found = shutil.which(argv[0]) if argv else None
    if found is None:
        raise LookupError(
            f"{EMULATOR_VARIABLE}={prefix!r}: not installed (Debian: apt-get install qemu-user-static)"
        )
    script = directory / "dumb-init"
    command = shlex.join([found, *argv[1:], "-0"]) + ' "$0" ' + shlex.quote(binary) + ' "$@"'
    script.write_text(f"#!/bin/sh\nexec {command}\n")
    script.chmod(0o755)
    return str(script)
