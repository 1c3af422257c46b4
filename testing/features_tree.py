"""A direct child for dumb-init that leaves descendants behind, for the grace-period and reaping tests.

    features_tree.py [--ignore-term] [--exit CODE | --wait-stdin] ROLE...

ROLE is one of
  flush:PATH   own session; on SIGTERM writes "flushed" to PATH, fsyncs it and exits 0
  stubborn     own session; ignores SIGTERM
  plain        own session; SIGTERM at its default action (it dies)
  orphan       double-forked, so it is re-parented away from us; SIGTERM at its default action
Every descendant closes stdin/stdout/stderr (so nobody waits on our pipes for it) and lives at most
50 s. Once each has its signal handling in place (an orphan: once it has been re-parented), this
process prints `spawned ROLE PID` for each (PID as seen in /proc), then `ready`, and then exits with
CODE (default 0) or, with --wait-stdin, exits 0 when its stdin reaches end of file.
"""

from __future__ import annotations

import os
import signal
import sys
import time

LIFETIME = 50.0


def proc_pid() -> int:
    """Our PID as /proc shows it (the host's view after nsenter without --mount)."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def detach_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def on_term_flush(path: str) -> None:
    def handler(_signum: int, _frame: object) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"flushed\n")
        os.fsync(fd)
        os.close(fd)
        os._exit(0)

    signal.signal(signal.SIGTERM, handler)


def descendant(role: str, report: int) -> None:
    """Runs in the forked process; never returns."""
    try:
        detach_stdio()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        first_parent = os.getppid()
        if role == "orphan":
            if os.fork() != 0:
                os._exit(0)
            deadline = time.monotonic() + 10
            while os.getppid() == first_parent and time.monotonic() < deadline:
                time.sleep(0.005)
        else:
            os.setsid()
            if role.startswith("flush:"):
                on_term_flush(role.split(":", 1)[1])
            elif role == "stubborn":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            elif role != "plain":
                raise SystemExit(f"unknown role {role}")
        os.write(report, f"{role.split(':')[0]} {proc_pid()}\n".encode())
        os.close(report)
        deadline = time.monotonic() + LIFETIME
        while time.monotonic() < deadline:
            time.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    code = 0
    wait_stdin = False
    roles: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--ignore-term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif arg == "--exit":
            code = int(next(args))
        elif arg == "--wait-stdin":
            wait_stdin = True
        else:
            roles.append(arg)

    read_end, write_end = os.pipe()
    for role in roles:
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            descendant(role, write_end)
        if role == "orphan":
            os.waitpid(pid, 0)  # the intermediate exits at once
    os.close(write_end)
    with os.fdopen(read_end) as reports:
        lines = reports.read().splitlines()
    if len(lines) != len(roles):
        print(f"only {len(lines)} of {len(roles)} descendants reported", file=sys.stderr)
        return 99
    # One write: the lines arrive whole even if someone else shares our stdout.
    os.write(1, "".join(f"spawned {line}\n" for line in lines).encode() + b"ready\n")
    if wait_stdin:
        sys.stdin.read()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
