"""Read lines from a pipe or a pseudo-terminal with a deadline."""

from __future__ import annotations

import errno
import os
import select
import time
from typing import Callable

from testing import TIMEOUT


class LineReader:
    """Lines from a file descriptor, each wait bounded by a timeout.

    Every line read is kept in ``history`` for failure messages. Carriage
    returns are dropped (a terminal sends ``\\r\\n``). A pseudo-terminal
    master reports the end with ``EIO``, treated like end of file.
    """

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.history: list[str] = []
        self.eof = False
        self._buffer = b""
        os.set_blocking(fd, False)

    def _fill(self, deadline: float) -> bool:
        """Read what is available; False on timeout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], remaining)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            data = b""
        if data:
            self._buffer += data.replace(b"\r", b"")
        else:
            self.eof = True
        return True

    def _describe(self) -> str:
        return f"{self.name} so far: {self.history!r} + partial {self._buffer!r}"

    def readline(self, timeout: float = TIMEOUT) -> str | None:
        """The next line without its newline; None at end of file."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if self.eof:
                if not self._buffer:
                    return None
                line, self._buffer = self._buffer, b""
                break
            if not self._fill(deadline):
                raise AssertionError(
                    f"no complete line from {self.name} within {timeout:g}s; " + self._describe()
                )
        else:
            line, _, self._buffer = self._buffer.partition(b"\n")
        text = line.decode(errors="surrogateescape")
        self.history.append(text)
        return text

    def expect(self, wanted: str, timeout: float = TIMEOUT) -> None:
        """The next line must be ``wanted``."""
        line = self.readline(timeout)
        assert line == wanted, (
            f"expected {wanted!r} from {self.name}, got {line!r}; " + self._describe()
        )

    def until(self, match: str | Callable[[str], bool], timeout: float = TIMEOUT) -> list[str]:
        """Read lines up to and including the first matching one; return them all."""
        matches = (lambda s: s == match) if isinstance(match, str) else match
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            line = self.readline(max(deadline - time.monotonic(), 0.001))
            if line is None:
                raise AssertionError(
                    f"{self.name} ended before a line matching {match!r}; " + self._describe()
                )
            lines.append(line)
            if matches(line):
                return lines

    def until_all(self, wanted: set[str], timeout: float = TIMEOUT) -> list[str]:
        """Read lines until every line of ``wanted`` was seen (any order)."""
        missing = set(wanted)
        deadline = time.monotonic() + timeout
        lines = []
        while missing:
            line = self.readline(max(deadline - time.monotonic(), 0.001))
            if line is None:
                raise AssertionError(
                    f"{self.name} ended, still missing {sorted(missing)!r}; " + self._describe()
                )
            lines.append(line)
            missing.discard(line)
        return lines

    def rest(self, timeout: float = TIMEOUT) -> list[str]:
        """Every line up to end of file."""
        lines = []
        while True:
            line = self.readline(timeout)
            if line is None:
                return lines
            lines.append(line)
