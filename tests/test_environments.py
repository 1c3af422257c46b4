"""Where dumb-init may find itself started: without ``/proc`` (also as PID 1), with stdin, stdout
or stderr closed or not a terminal, as an unprivileged user, where the kernel will not make it a
child subreaper (AWS Lambda), and by a parent that exits at once. In each it runs its command,
forwards signals, reaps orphans and exits with the command's status, or says why it cannot; it
never hangs.

Most tests run ``testing.hygiene_child``, which leaves an orphan ``sleep``, echoes the signals it
receives and exits with a chosen status on ``SIGTERM``: one command that needs every part of the
job done.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from testing import PYTHON, TIMEOUT, base_env, proc, python_module
from testing.hygiene_kernel import SIGNALFD4, SYSCALLS, refuse_signalfd, refuse_subreaper
from testing.supervise import Init, debug_lines, run

STATUS = 7
"""The status hygiene_child exits with, and dumb-init must too."""

FORWARDED = [signal.SIGHUP, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, 40]

VARIANTS = {"setsid": [], "single-child": ["-c"], "verbose": ["-v"]}

UNMOUNT_PROC = ["sh", "-c", 'umount -l /proc && exec "$@"', "sh"]
"""Unmounts /proc (in a mount namespace of its own), then becomes its arguments."""
NO_PROC = ["unshare", "--mount", "--propagation", "private", *UNMOUNT_PROC]
NO_PROC_PID1 = ["unshare", "--pid", "--fork", "--mount", "--propagation", "private", *UNMOUNT_PROC]


def hygiene_child(python: str = PYTHON) -> list[str]:
    return [python, "-m", "testing.hygiene_child", str(STATUS)]


def sleepers(pid: int) -> list[int]:
    """The ``sleep`` processes among the children of PID."""
    found = []
    for child in proc.children(pid):
        try:
            if proc.stat(child).comm == "sleep":
                found.append(child)
        except FileNotFoundError:  # exited meanwhile
            pass
    return found


def started(init: Init) -> None:
    """Wait until hygiene_child, started by ``init``, has made its orphan and is ready."""
    init.out.expect("orphaned")
    init.out.expect("ready")


def supervises(init: Init, dumb_init: int, *, orphans_to: int | None = None) -> None:
    """dumb-init (PID ``dumb_init``, started by ``init``), running hygiene_child, does its job:
    the orphan is re-parented to ``orphans_to`` (dumb-init by default) and, once killed, reaped;
    signals reach the child; the child's exit status on SIGTERM becomes ``init``'s."""
    reaper = dumb_init if orphans_to is None else orphans_to
    (orphan,) = proc.wait_until(lambda: sleepers(reaper), f"the orphan to be a child of {reaper}")
    os.kill(orphan, signal.SIGKILL)
    if reaper == os.getpid():
        os.waitpid(orphan, 0)
    # Only its parent can make a killed process disappear from /proc, by reaping it.
    proc.wait_until(lambda: proc.state(orphan) is None, f"{reaper} to reap the orphan {orphan}")
    for signum in [*FORWARDED, signal.SIGTERM]:
        os.kill(dumb_init, signum)
        init.out.expect(str(int(signum)))
    assert init.wait() == STATUS


def mount_points(pid: int) -> set[str]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return {line.split()[4] for line in f}


def assert_quiet_unless_verbose(err: list[str], args: Sequence[str]) -> None:
    """Nothing on stderr without -v; with it, debug lines only, and no complaint but the
    expected one about the terminal (stdin is /dev/null)."""
    if "-v" not in args:
        assert err == []
        return
    assert len(debug_lines(err)) == len(err), err
    assert not [line for line in err if "Unable" in line and "controlling tty" not in line]


@pytest.mark.usefixtures("pid_namespace")
@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_without_proc(dumb_init_bin: str, args: list[str]) -> None:
    with Init([*NO_PROC, dumb_init_bin, *args, *hygiene_child()]) as init:
        started(init)
        assert "/proc" not in mount_points(init.pid)
        supervises(init, init.pid)
        assert_quiet_unless_verbose(init.err.rest(), args)


def namespace_init(unshare: Init) -> int:
    """The host PID of the namespace's PID 1 (the child of ``unshare``)."""
    pid = proc.only_child(unshare.pid)
    assert proc.status(pid)["NSpid"].split()[-1] == "1"
    return pid


@pytest.mark.pid1
@pytest.mark.usefixtures("pid_namespace")
@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_pid1_without_proc(dumb_init_bin: str, args: list[str]) -> None:
    with Init([*NO_PROC_PID1, dumb_init_bin, *args, *hygiene_child()]) as unshare:
        started(unshare)
        pid1 = namespace_init(unshare)
        assert "/proc" not in mount_points(pid1)
        supervises(unshare, pid1)
        assert_quiet_unless_verbose(unshare.err.rest(), args)


@pytest.mark.usefixtures("pid_namespace")
@pytest.mark.parametrize(
    "pid1", [False, pytest.param(True, marks=pytest.mark.pid1)], ids=["supervisor", "pid1"]
)
def test_grace_period_without_proc(dumb_init_bin: str, pid1: bool) -> None:
    """With the child gone, the orphan left in its process group (setsid mode) or, as PID 1, in
    the namespace still gets SIGTERM, and dumb-init exits once it is reaped, long before the
    grace period ends, /proc or not."""
    prefix = NO_PROC_PID1 if pid1 else NO_PROC
    with Init([*prefix, dumb_init_bin, "--grace-period=300", *hygiene_child()]) as init:
        started(init)
        dumb_init = namespace_init(init) if pid1 else init.pid
        (orphan,) = proc.wait_until(lambda: sleepers(dumb_init), "the orphan")
        os.kill(dumb_init, signal.SIGTERM)
        init.out.expect("15")
        assert init.wait() == STATUS
        assert proc.state(orphan) is None


CLOSED = {"stdin": [0], "stdout": [1], "stderr": [2], "stdout,stderr": [1, 2], "all": [0, 1, 2]}
CLOSED_VARIANTS = {
    **VARIANTS,
    "pdeathsig": ["-v", "--pdeathsig=TERM"],
    "single-child,pdeathsig": ["-c", "-v", "--pdeathsig=TERM"],
}


@pytest.mark.parametrize("args", CLOSED_VARIANTS.values(), ids=CLOSED_VARIANTS.keys())
@pytest.mark.parametrize("closed", CLOSED.values(), ids=CLOSED.keys())
def test_closed_standard_streams(
    dumb_init_bin: str, tmp_path: Path, closed: list[int], args: list[str]
) -> None:
    """dumb-init started with some of 0, 1, 2 closed runs the command with the same ones closed
    (the descriptors dumb-init opens for itself, which then take those numbers, are not passed
    on), and exits with its status. hygiene_fds reports the child's descriptors in a file."""
    report = tmp_path / "descriptors"
    command = [*python_module("hygiene_fds"), str(report), str(STATUS)]

    def close() -> None:
        for fd in closed:
            os.close(fd)

    expected = [str(fd) for fd in (0, 1, 2) if fd not in closed]
    # The premise: run directly, the command sees exactly the open ones.
    assert run(command, preexec=close).returncode == STATUS
    assert report.read_text().split() == expected
    report.unlink()
    result = run([dumb_init_bin, *args, *command], preexec=close)
    assert result.returncode == STATUS, result.stderr
    assert report.read_text().split() == expected
    assert result.stdout == b""
    if "-v" not in args or 2 in closed:
        assert result.stderr == b""


def cat(
    dumb_init_bin: str, args: list[str], stdin: int | None, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``dumb-init ARGS cat`` with ``stdin``, or ``data`` on a pipe."""
    return subprocess.run(
        [dumb_init_bin, *args, "cat"],
        stdin=stdin,
        input=data,
        capture_output=True,
        env=base_env(),
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_stdin_not_a_terminal(dumb_init_bin: str, args: list[str]) -> None:
    """stdin a pipe or /dev/null: the child reads it as it is (no terminal to hand over)."""
    data = bytes(range(256)) * 4096  # 1 MiB, more than a pipe holds
    piped = cat(dumb_init_bin, args, None, data)
    assert (piped.returncode, piped.stdout == data) == (0, True)
    nothing = cat(dumb_init_bin, args, subprocess.DEVNULL)
    assert (nothing.returncode, nothing.stdout) == (0, b"")


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def for_nobody(dumb_init_bin: str) -> Iterator[tuple[str, str]]:
    """A copy of dumb-init and a Python that user 65534 may run (the binary under test may sit
    in root's home, /root is not searchable by others)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv(1) is not installed")
    directory = tempfile.mkdtemp(prefix="dumb-init-nobody-")
    try:
        os.chmod(directory, 0o755)
        binary = os.path.join(directory, "dumb-init")
        shutil.copy(dumb_init_bin, binary)
        os.chmod(binary, 0o755)
        for python in (PYTHON, "/usr/bin/python3"):
            # Through a shell: setpriv itself execs before its capabilities are gone.
            check = ["sh", "-c", 'exec "$@"', "sh", python, "-c", "import testing.hygiene_child"]
            works = run([*NOBODY, *check])
            if works.returncode == 0:
                yield binary, python
                return
        pytest.skip("no Python that user 65534 may run")
    finally:
        shutil.rmtree(directory)


@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_as_unprivileged_user(for_nobody: tuple[str, str], args: list[str]) -> None:
    binary, python = for_nobody
    with Init([*NOBODY, binary, *args, *hygiene_child(python)]) as init:
        started(init)
        child = [pid for pid in proc.children(init.pid) if pid not in sleepers(init.pid)]
        for pid in (init.pid, *child):
            assert proc.status(pid)["Uid"].split() == ["65534"] * 4
        supervises(init, init.pid)
        err = init.err.rest()
    assert_quiet_unless_verbose(err, args)
    if "-v" in args:
        assert "Registered as child subreaper (not PID 1)." in debug_lines(err)


@pytest.mark.skipif(SIGNALFD4 is None, reason="no signalfd4 number for this architecture")
@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_no_signalfd(dumb_init_bin: str, args: list[str]) -> None:
    """Without a signalfd (no descriptor left: here a seccomp filter fails signalfd4 with EMFILE),
    dumb-init takes signals one at a time from the kernel instead: it still forwards them, reaps
    the orphan and exits with the status; with --pdeathsig it falls back on the kernel's
    parent-death signal and says why."""
    argv = [dumb_init_bin, *args, "--pdeathsig=TERM", *hygiene_child()]
    with Init(argv, preexec=refuse_signalfd) as init:
        started(init)
        assert sorted(os.listdir(f"/proc/{init.pid}/fd")) == ["0", "1", "2"]
        supervises(init, init.pid)
        err = init.err.rest()
    if "-v" in args:
        lines = debug_lines(err)
        assert "Unable to watch the parent process (errno=24 Too many open files)." in lines
        assert (
            "Parent death signal set to 15 (when the thread that started dumb-init exits)." in lines
        )
    else:
        assert err == []


SUBREAPER_REFUSED = "Unable to register as child subreaper (errno=1 Operation not permitted)."


@pytest.mark.skipif(SYSCALLS is None, reason="no system call table for this architecture")
@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_subreaper_refused(dumb_init_bin: str, args: list[str]) -> None:
    """As on AWS Lambda, prctl(PR_SET_CHILD_SUBREAPER) fails with EPERM (here through a seccomp
    filter): dumb-init says so in debug mode and otherwise works as usual; only the orphan
    escapes it, to the nearest subreaper (pytest)."""
    probe = "from testing.hygiene_kernel import try_subreaper; print(try_subreaper())"
    # The premise: the filter makes the call fail with EPERM.
    assert run([PYTHON, "-c", probe], preexec=refuse_subreaper).stdout == b"1\n"
    with Init([dumb_init_bin, *args, *hygiene_child()], preexec=refuse_subreaper) as init:
        started(init)
        supervises(init, init.pid, orphans_to=os.getpid())
        err = init.err.rest()
    if "-v" in args:
        assert SUBREAPER_REFUSED in debug_lines(err)
    assert_quiet_unless_verbose([line for line in err if SUBREAPER_REFUSED not in line], args)


def wait_for_exit(pid: int, timeout: float = TIMEOUT) -> int:
    """The exit status of PID, a child of this process (an orphan re-parented to pytest)."""
    pidfd = os.pidfd_open(pid)
    try:
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        assert poll.poll(timeout * 1000), f"process {pid} did not exit within {timeout:g}s"
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


GRANDPARENT = 'echo "grandparent $(cut -d" " -f4 /proc/$PPID/stat)"; exit 7'
"""Prints the parent of the shell's parent (dumb-init's parent), then exits 7."""


def orphaned_run(dumb_init_bin: str, before: bool) -> tuple[int, int]:
    """dumb-init started by a parent that exits at once (``before``: before dumb-init even
    starts). Returns dumb-init's parent while its child ran, and dumb-init's exit status."""
    options = ["--before"] if before else []
    argv = [*python_module("hygiene_orphan"), *options, dumb_init_bin, "sh", "-c", GRANDPARENT]
    with Init(argv) as helper:
        assert helper.wait() == 0
        # The helper's line and the child's may come in either order.
        words = [helper.out.readline() or "" for _ in range(2)]
        lines = dict(line.split() for line in words)
        return int(lines["grandparent"]), wait_for_exit(int(lines["started"]))


def test_parent_gone_before_start(dumb_init_bin: str) -> None:
    parent, status = orphaned_run(dumb_init_bin, before=True)
    assert parent == os.getpid()  # re-parented to pytest, the nearest subreaper
    assert status == STATUS


def test_parent_dies_while_starting(dumb_init_bin: str) -> None:
    """The parent exits while dumb-init starts up, at whatever moment: ten times."""
    for _ in range(10):
        _, status = orphaned_run(dumb_init_bin, before=False)
        assert status == STATUS
