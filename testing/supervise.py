"""Start dumb-init the way the tests need it: modes, pipes, pseudo-terminals."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import termios
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence, Union

from testing import TIMEOUT, base_env, proc, python_module
from testing.streams import LineReader

if TYPE_CHECKING:
    from typing_extensions import Self

Arg = Union[str, bytes]

BARRIER = int(signal.SIGUSR2)
"""Sent through dumb-init by ``Init.settle``: tests must not rewrite or drop it."""
DIRECT = int(signal.SIGWINCH)
"""Sent straight to each printer by ``Init.settle``."""


@dataclass(frozen=True)
class Mode:
    """How dumb-init is told about setsid and debug mode: flags or variables."""

    id: str
    setsid: bool
    debug: bool
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


ALL_MODES = (
    Mode("setsid", setsid=True, debug=False),
    Mode("setsid,-v", setsid=True, debug=True, args=("-v",)),
    Mode("setsid,DEBUG=1", setsid=True, debug=True, env={"DUMB_INIT_DEBUG": "1"}),
    Mode("-c", setsid=False, debug=False, args=("-c",)),
    Mode("SETSID=0", setsid=False, debug=False, env={"DUMB_INIT_SETSID": "0"}),
    Mode("-cv", setsid=False, debug=True, args=("-cv",)),
    Mode(
        "SETSID=0,DEBUG=1",
        setsid=False,
        debug=True,
        env={"DUMB_INIT_SETSID": "0", "DUMB_INIT_DEBUG": "1"},
    ),
)
"""Every way of choosing the two modes."""

MODES = (ALL_MODES[0], ALL_MODES[1], ALL_MODES[3], ALL_MODES[6])
"""One of each: setsid or single-child, debug on or off (flags and variables)."""


def mode_id(mode: Mode) -> str:
    return mode.id


def line_for(label: str, signum: int) -> str:
    """The line ``print_signals --label LABEL`` prints for ``signum``."""
    return f"{label} {signum}" if label else str(signum)


def debug_lines(lines: Sequence[str]) -> list[str]:
    """The ``[dumb-init] `` lines, without that prefix."""
    prefix = "[dumb-init] "
    return [line[len(prefix) :] for line in lines if line.startswith(prefix)]


SIGNAL_LINE_PREFIXES = (
    "Received signal ",
    "Forwarded signal ",
    "Translating signal ",
    "Not forwarding signal ",
    "Suspending self ",
    "Ignoring tty hand-off signal ",
)


def signal_lines(lines: Sequence[str]) -> list[str]:
    """The debug lines about handling a received signal, in order.

    ``Received signal 17.`` is left out: the kernel sends SIGCHLD whenever the
    child stops or continues, at times a test does not control.
    """
    return [
        line
        for line in debug_lines(lines)
        if line.startswith(SIGNAL_LINE_PREFIXES) and line != "Received signal 17."
    ]


def _new_group() -> None:
    # dumb-init gets its own process group, so that no mistake of its can
    # signal the pytest process.
    os.setpgid(0, 0)


def _finish(popen: subprocess.Popen[bytes]) -> None:
    """Kill dumb-init if it still runs, reap it and close its pipes.

    Its descendants are left to the per-test cleanup in ``conftest.py``.
    """
    if popen.poll() is None:
        popen.kill()
        popen.wait()
    for stream in (popen.stdin, popen.stdout, popen.stderr):
        if stream is not None:
            stream.close()


class Init:
    """A running dumb-init with its stdout and stderr on pipes.

    ``out`` reads the stdout it shares with its child, ``err`` its stderr.
    """

    def __init__(
        self,
        argv: Sequence[Arg],
        *,
        env: Mapping[Arg, Arg] | None = None,
        cwd: str | None = None,
        stdin: int = subprocess.DEVNULL,
        stderr_path: str | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        """``stderr_path``: a file for dumb-init's stderr instead of a pipe, for
        long output nobody reads while it is written; ``err`` then reads that
        file (its end counts as end of file: read it after dumb-init exited)."""

        def preexec_fn() -> None:
            _new_group()
            if preexec is not None:
                preexec()

        self.argv = list(argv)
        self._fds: list[int] = []
        if stderr_path is not None:
            self._fds.append(os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
        self.proc = subprocess.Popen(
            self.argv,
            env=base_env() if env is None else env,
            cwd=cwd,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=self._fds[0] if self._fds else subprocess.PIPE,
            preexec_fn=preexec_fn,  # noqa: PLW1509 (no threads here)
            bufsize=0,
        )
        assert self.proc.stdout is not None
        self.out = LineReader(self.proc.stdout.fileno(), "stdout")
        if stderr_path is None:
            assert self.proc.stderr is not None
            err_fd = self.proc.stderr.fileno()
        else:
            err_fd = os.open(stderr_path, os.O_RDONLY)
            self._fds.append(err_fd)
        self.err = LineReader(err_fd, "dumb-init's stderr")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        _finish(self.proc)
        for fd in self._fds:
            os.close(fd)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def child(self) -> int:
        """The PID of dumb-init's (only) child."""
        return proc.only_child(self.pid)

    def wait(self, timeout: float = TIMEOUT) -> int:
        """dumb-init's exit status; fails if it does not exit within ``timeout``."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"dumb-init did not exit within {timeout:g}s; "
                f"stdout {self.out.history!r}, stderr {self.err.history!r}"
            ) from None

    def settle(
        self, printers: Mapping[str, int], *, sent: Iterable[int] = (), via_init: bool = True
    ) -> list[str]:
        """See :func:`settle`."""
        return settle(self.out, self.pid, printers, sent=sent, via_init=via_init)


def settle(
    out: LineReader,
    init_pid: int,
    printers: Mapping[str, int],
    *,
    sent: Iterable[int] = (),
    via_init: bool = True,
) -> list[str]:
    """Read ``out`` until all that dumb-init forwarded so far has been printed.

    Proves a negative ("nothing forwarded") without sleeping. ``printers``
    maps the label of each ``print_signals`` process ("" for the unlabelled
    one, dumb-init's child) to its PID; ``sent`` are the signals last sent to
    dumb-init (``init_pid``). dumb-init handles one signal at a time, so once
    it has taken them and then forwarded ``BARRIER`` to its child, whatever it
    did for them is already queued at its targets. Then ``DIRECT`` goes
    twice to every printer: the second is sent after the first was printed,
    hence after every handler of the batch that held an earlier signal.
    Returns every line read.
    """
    lines: list[str] = []
    if via_init:
        for signum in sent:
            proc.wait_not_pending(init_pid, signum)
        os.kill(init_pid, BARRIER)
        lines += out.until(line_for("", BARRIER))
    for label, pid in printers.items():
        for _ in range(2):
            os.kill(pid, DIRECT)
            lines += out.until(line_for(label, DIRECT))
    return lines


def print_signals(label: str = "") -> list[str]:
    """The command of a signal printer."""
    return python_module("print_signals", *(["--label", label] if label else []))


def spawn(
    dumb_init: str,
    mode: Mode,
    command: Sequence[Arg],
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    **kwargs: object,
) -> Init:
    """Start ``dumb-init MODE-ARGS ARGS COMMAND`` with the mode's variables."""
    full_env = base_env({**mode.env, **(env or {})})
    return Init([dumb_init, *mode.args, *args, *command], env=full_env, **kwargs)  # type: ignore[arg-type]


def run(
    argv: Sequence[Arg],
    *,
    env: Mapping[Arg, Arg] | None = None,
    cwd: str | None = None,
    timeout: float = TIMEOUT,
    executable: str | None = None,
    preexec: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run to completion, capturing stdout and stderr as bytes."""

    def preexec_fn() -> None:
        _new_group()
        if preexec is not None:
            preexec()

    return subprocess.run(
        list(argv),
        executable=executable,
        env=base_env() if env is None else env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
        check=False,
    )


class PtyInit:
    """dumb-init started as a session leader on a new pseudo-terminal.

    Its stdin, stdout and stderr are the terminal, which is its controlling
    terminal and has its process group in the foreground (as in an interactive
    ``docker run -it``). ``out`` reads everything written to the terminal.
    ``preexec`` runs in the new process just before the exec.
    """

    def __init__(
        self,
        argv: Sequence[Arg],
        *,
        env: Mapping[Arg, Arg] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        master, slave = os.openpty()

        def preexec_fn() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            if preexec is not None:
                preexec()

        try:
            self.proc = subprocess.Popen(
                list(argv),
                env=base_env() if env is None else env,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                preexec_fn=preexec_fn,  # noqa: PLW1509 (no threads here)
            )
        finally:
            os.close(slave)
        self.master = master
        self.out = LineReader(master, "terminal")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        _finish(self.proc)
        os.close(self.master)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"dumb-init did not exit within {timeout:g}s; terminal {self.out.history!r}"
            ) from None
