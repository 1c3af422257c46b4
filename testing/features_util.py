"""Helpers shared by tests/test_features_*.py: running dumb-init, reading lines with deadlines,
walking and cleaning up process trees, and entering a fresh PID namespace."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from testing import proc as procfs

REPO = Path(__file__).resolve().parent.parent
TESTING = REPO / "testing"
PY = sys.executable
TREE = [PY, str(TESTING / "features_tree.py")]
KEEPER = [PY, str(TESTING / "features_pdeath.py")]
WAITALL_JOB = [PY, str(TESTING / "waitall_job.py")]
PRINT_SIGNALS = [PY, "-m", "testing.print_signals"]
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
# Runs the command in a new mount namespace whose /proc is an empty tmpfs: no /proc to read.
NO_PROC = [
    "unshare",
    "--mount",
    "sh",
    "-c",
    'mount -t tmpfs -o size=4k none /proc && exec "$@"',
    "sh",
]
# Runs the command as nobody, with no supplementary groups.
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

# Every test waits at most this long for a line or an exit that should come at once.
PROMPT = 15.0


def env_for(**extra: str) -> dict[str, str]:
    """The environment for dumb-init: ours without any DUMB_INIT_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUMB_INIT_")}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run(
    argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = PROMPT
) -> subprocess.CompletedProcess[str]:
    """Runs to completion with stdin closed and output captured; a hang fails the test."""
    return subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env if env is not None else env_for(),
        timeout=timeout,
        check=False,
    )


def start(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: int = subprocess.DEVNULL,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Starts `argv` with stdout and stderr piped; `pass_fds` are inherited at the same numbers."""
    return subprocess.Popen(
        list(argv),
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env if env is not None else env_for(),
        pass_fds=tuple(pass_fds),
    )


class Lines:
    """Reads lines from a pipe with a deadline, keeping everything read."""

    def __init__(self, stream: object) -> None:
        fileno = getattr(stream, "fileno")  # noqa: B009 - any object with a file descriptor
        self.fd: int = fileno()
        self.buf = b""
        self.seen: list[str] = []
        self.eof = False

    def readline(self, timeout: float = PROMPT) -> str | None:
        """The next line without its newline, or None at end of file; raises on timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"no line within {timeout}s; read so far: {self.seen!r} + {self.buf!r}"
                )
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if chunk:
                    self.buf += chunk
                else:
                    self.eof = True
        if b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
        elif self.buf:
            line, self.buf = self.buf, b""
        else:
            return None
        text = line.decode(errors="replace")
        self.seen.append(text)
        return text

    def wait_for(self, wanted: str, timeout: float = PROMPT) -> str:
        """Reads until a line containing `wanted`; returns it. Fails at end of file or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(
                    f"end of output before a line with {wanted!r}; got {self.seen!r}"
                )
            if wanted in line:
                return line

    def rest(self, timeout: float = PROMPT) -> str:
        """Everything until end of file (the writers must be gone), as one string; what was read
        by then if the end does not come within `timeout` (for failure messages)."""
        try:
            while self.readline(timeout) is not None:
                pass
        except TimeoutError:
            return "\n".join([*self.seen, f"<no end of output within {timeout}s>"])
        return "\n".join(self.seen)


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return found


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid`, parents before their children."""
    order: list[int] = []
    queue = children(pid)
    while queue:
        p = queue.pop(0)
        order.append(p)
        queue += children(p)
    return order


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILLs `proc` and all its descendants, deepest first, and reaps what becomes ours."""
    below = descendants(proc.pid)
    for p in reversed(below):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.returncode is None:
        proc.kill()
    proc.wait(PROMPT)
    for p in below:
        _reap(p)
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream is not None:
            stream.close()


def kill_pid(pid: int) -> None:
    """SIGKILLs a process left behind on purpose and reaps it if it was re-parented to us."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(pid)


def status_field(pid: int, field: str) -> str | None:
    """One field of /proc/PID/status, or None when the process is gone."""
    try:
        return procfs.status(pid).get(field)
    except OSError:
        return None


alive = procfs.alive


def wait_until(predicate: Callable[[], bool], timeout: float = PROMPT) -> bool:
    """Polls `predicate()` until true or the deadline; for states that announce nothing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def only_dumb_init_lines(stderr: str) -> Iterator[str]:
    return (line for line in stderr.splitlines() if line.startswith("[dumb-init] "))


def assert_clean_error(
    done: subprocess.CompletedProcess[str], *needles: str, one_line: bool = True
) -> None:
    """A refused command line: exit 1, a message (one line unless told otherwise) naming each of
    `needles` on stderr, nothing on stdout, no panic."""
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "panicked" not in done.stderr
    assert "RUST_BACKTRACE" not in done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines, "no message on stderr"
    if one_line:
        assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr)


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: int = subprocess.DEVNULL,
    pass_fds: Sequence[int] = (),
) -> Iterator[tuple[subprocess.Popen[bytes], Lines, Lines]]:
    """Starts `argv`; yields it with its stdout and stderr lines; kills what is left afterwards."""
    proc = start(argv, env=env, stdin=stdin, pass_fds=pass_fds)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        yield proc, Lines(proc.stdout), Lines(proc.stderr)
    finally:
        kill_tree(proc)


def signal_table(dumb_init_bin: str) -> dict[str, int]:
    """NAME -> NUMBER from `--list-signals`."""
    done = run([dumb_init_bin, "--list-signals"])
    assert done.returncode == 0, done.stderr
    table: dict[str, int] = {}
    for line in done.stdout.splitlines():
        number, name = line.split(" ")
        table[name] = int(number)
    return table


class Gate:
    """A pipe whose read end a process under test inherits (pass `gate.fd` in `pass_fds`) and waits
    on, as `waitall_job.py --hold/--release` do: `open()` lets it go. The test keeps the only write
    end, so nothing else can open the gate; `close()` opens it too (end of file)."""

    def __init__(self) -> None:
        self.fd, self._write = os.pipe()

    def open(self) -> None:
        os.write(self._write, b"go\n")

    def close(self) -> None:
        for fd in (self.fd, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


@contextlib.contextmanager
def gates(count: int) -> Iterator[list[Gate]]:
    """`count` gates, closed on the way out."""
    made = [Gate() for _ in range(count)]
    try:
        yield made
    finally:
        for gate in made:
            gate.close()


def host_pid(under: int, ns_pid: int) -> int:
    """The PID on our side of a process that a PID namespace below `under` calls `ns_pid`."""
    for pid in descendants(under):
        levels = (status_field(pid, "NSpid") or "").split()
        if len(levels) > 1 and levels[-1] == str(ns_pid):
            return pid
    raise AssertionError(f"no process below {under} is PID {ns_pid} of a namespace")


@contextlib.contextmanager
def runnable_by_anyone(path: str) -> Iterator[str]:
    """A copy of the executable `path` that any user can run, removed on the way out. For runs as
    nobody: the original may sit in a directory only root can enter (pytest's tmp_path too)."""
    directory = Path(tempfile.mkdtemp(prefix="dumb-init-"))
    try:
        directory.chmod(0o755)
        copy = directory / Path(path).name
        shutil.copyfile(path, copy)
        copy.chmod(0o755)
        yield str(copy)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
