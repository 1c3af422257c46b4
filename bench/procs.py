"""Process plumbing for the benchmark: subreaper, bounded runs, /proc readers, clean-up.

The benchmark makes itself a child subreaper, so anything an init or a helper leaves
behind is re-parented to us; `kill_descendants` then finds and kills it by walking /proc.
Every wait here is bounded by a timeout.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import subprocess
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """prctl(PR_SET_CHILD_SUBREAPER, 1): orphans of our subtree come back to us."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run argv with stdin from /dev/null, capturing output. On time-out argv is killed and
    the result has returncode -9 and says so on stderr (what it started is left to
    `kill_descendants`)."""
    try:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        return subprocess.CompletedProcess(argv, -9, out, f"timed out after {timeout:.0f} s")


def spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start argv detached from our terminal: stdin /dev/null, output discarded."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, wait up to timeout, then SIGKILL and wait again."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def children_of(pid: int) -> list[int]:
    """Direct children of pid, from /proc/PID/task/*/children."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        kids.extend(int(x) for x in text.split())
    return kids


def exe_of(pid: int) -> str:
    """Resolved /proc/PID/exe, or "" when it cannot be read."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def wait_for_child(pid: int, exe: Path, timeout: float = 5.0) -> int:
    """Poll until pid has a child that runs exe; return the child's PID."""
    want = str(exe.resolve())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for kid in children_of(pid):
            if exe_of(kid) == want:
                return kid
        time.sleep(0.005)
    raise TimeoutError(f"no child running {exe.name} under PID {pid} after {timeout:.0f} s")


def status(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict of stripped values."""
    out: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def ctxt_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of pid, summed over its threads."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        st = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        for line in st.splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                total += int(line.split(":")[1])
    return total


def mapped_files(pid: int) -> list[Path]:
    """Distinct regular files mapped into pid (its binary and shared libraries)."""
    seen: dict[str, Path] = {}
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith("/") and not parts[5].endswith("(deleted)"):
            seen.setdefault(parts[5], Path(parts[5]))
    return [p for p in seen.values() if p.is_file()]


def descendants(root: int | None = None) -> list[int]:
    """Every live process below root (default: us), children before grandchildren."""
    root = os.getpid() if root is None else root
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parent[int(name)] = int(fields[1])
    kids: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        kids.setdefault(ppid, []).append(pid)
    out: list[int] = []
    queue = list(kids.get(root, []))
    while queue:
        pid = queue.pop(0)
        out.append(pid)
        queue.extend(kids.get(pid, []))
    return out


def reap_strays() -> int:
    """Reap every exited child (ours or re-parented to us) without blocking."""
    n = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


def kill_descendants(timeout: float = 10.0) -> int:
    """SIGKILL everything below us and reap it; returns how many were killed."""
    killed = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = descendants()
        live = [p for p in pids if not _is_zombie(p)]
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    raise
        reap_strays()
        if not pids:
            return killed
        time.sleep(0.02)
    return killed


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"
