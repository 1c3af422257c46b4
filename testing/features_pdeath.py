"""Runs dumb-init under a parent that dies, for the --pdeathsig tests.

    features_pdeath.py [--gone-before-prctl | --from-thread | --stop-child-at-fork] DUMB_INIT_ARGV...

This process (the keeper) makes itself a child subreaper and forks the parent, which starts
DUMB_INIT_ARGV and prints `parent PID` and `dumb-init PID`. When the parent dies dumb-init is
re-parented to the keeper, which reaps every child, prints `reaped PID STATUS` for each (STATUS:
the exit code, or minus the signal number) and exits 0 once it has no children left. Everything
shares the keeper's stdout.

Without --gone-before-prctl the parent then sleeps until the test kills it (at most 50 s).

With --gone-before-prctl the parent traces dumb-init's system calls and exits as soon as dumb-init
has returned from its first getppid(), that is after dumb-init noted who its parent is and before
it asks the kernel for the parent-death signal: the "parent already gone" case. Where that cannot
be arranged it prints `skip: REASON` and kills dumb-init.

With --from-thread the parent starts dumb-init from a worker thread (subprocess.Popen, as a thread
pool would), lets that thread end, waits until the kernel has released it (its /proc/self/task
entry is gone: any parent-death signal tied to the thread has been sent by then), prints `thread
gone`, and then sleeps until the test kills it.

With --stop-child-at-fork the parent traces dumb-init until it starts its child, leaves that child
stopped (SIGSTOP, state T) before it has run a single instruction of its own, so before its
setsid() and its exec, prints `child PID` and exits at once. dumb-init, suspended until its
child execs (it starts the child as vfork does), can act on the parent's death only once the
test resumes the child with SIGCONT.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36

PTRACE_TRACEME = 0
PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GET_SYSCALL_INFO = 0x420E
PTRACE_O_TRACESYSGOOD = 1
PTRACE_O_TRACEFORK = 2
PTRACE_O_TRACEVFORK = 4
PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
FORK_EVENTS = (PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK)
WALL = 0x40000000  # waitpid's __WALL: also the traced child that is not ours
SYSCALL_INFO_ENTRY = 1
SYSCALL_INFO_EXIT = 2
# getppid's number by AUDIT_ARCH_* value.
GETPPID = {0xC000003E: 110, 0xC00000B7: 173}  # x86_64, aarch64

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


class SyscallInfo(ctypes.Structure):
    _fields_ = [
        ("op", ctypes.c_uint8),
        ("pad", ctypes.c_uint8 * 3),
        ("arch", ctypes.c_uint32),
        ("instruction_pointer", ctypes.c_uint64),
        ("stack_pointer", ctypes.c_uint64),
        ("nr", ctypes.c_uint64),
        ("args", ctypes.c_uint64 * 6),
        ("spare", ctypes.c_uint64 * 4),
    ]


def say(*words: object) -> None:
    """One line in one write(2): never mixed with the lines of the processes sharing stdout."""
    os.write(1, (" ".join(map(str, words)) + "\n").encode())


def skip(reason: str, pid: int) -> None:
    say("skip:", reason)
    os.kill(pid, signal.SIGKILL)
    os._exit(0)


def parent_that_dies_early(argv: list[str]) -> None:
    """The parent of --gone-before-prctl; never returns."""
    pid = os.fork()
    if pid == 0:
        if libc.ptrace(PTRACE_TRACEME, 0, None, None) != 0:
            os._exit(97)
        os.execvp(argv[0], argv)
    _, status = os.waitpid(pid, 0)
    if not os.WIFSTOPPED(status):
        say("skip: ptrace is not permitted here")
        os._exit(0)
    if libc.ptrace(PTRACE_SETOPTIONS, pid, None, PTRACE_O_TRACESYSGOOD) != 0:
        skip("PTRACE_SETOPTIONS failed", pid)
    in_getppid = False
    deliver = 0
    while True:
        libc.ptrace(PTRACE_SYSCALL, pid, None, deliver or None)
        deliver = 0
        _, status = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(status):
            say("skip: dumb-init ended while traced")
            os._exit(0)
        stop = os.WSTOPSIG(status)
        if stop != signal.SIGTRAP | 0x80:
            deliver = stop
            continue
        info = SyscallInfo()
        if libc.ptrace(PTRACE_GET_SYSCALL_INFO, pid, ctypes.sizeof(info), ctypes.byref(info)) <= 0:
            skip("PTRACE_GET_SYSCALL_INFO unsupported", pid)
        if info.op == SYSCALL_INFO_ENTRY:
            if info.arch not in GETPPID:
                skip(f"unknown architecture {info.arch:#x}", pid)
            in_getppid = info.nr == GETPPID[info.arch]
        elif info.op == SYSCALL_INFO_EXIT and in_getppid:
            break
    # dumb-init is stopped on its way out of getppid(): it resumes when we are gone.
    say("parent", os.getpid())
    say("dumb-init", pid)
    os._exit(0)


def parent_that_stops_the_child(argv: list[str]) -> None:
    """The parent of --stop-child-at-fork; never returns."""
    pid = os.fork()
    if pid == 0:
        if libc.ptrace(PTRACE_TRACEME, 0, None, None) != 0:
            os._exit(97)
        os.execvp(argv[0], argv)
    _, status = os.waitpid(pid, 0)  # stopped at its exec
    if not os.WIFSTOPPED(status):
        say("skip: ptrace is not permitted here")
        os._exit(0)
    # dumb-init starts its child with clone(CLONE_VM | CLONE_VFORK): a vfork to ptrace.
    if libc.ptrace(PTRACE_SETOPTIONS, pid, None, PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK) != 0:
        skip("PTRACE_SETOPTIONS failed", pid)
    deliver = 0
    while True:
        libc.ptrace(PTRACE_CONT, pid, None, deliver or None)
        deliver = 0
        _, status = os.waitpid(pid, WALL)
        if not os.WIFSTOPPED(status):
            say("skip: dumb-init ended before it forked")
            os._exit(0)
        if status >> 8 in (signal.SIGTRAP | event << 8 for event in FORK_EVENTS):
            break
        deliver = os.WSTOPSIG(status)
    child = ctypes.c_ulong()
    if libc.ptrace(PTRACE_GETEVENTMSG, pid, None, ctypes.byref(child)) != 0:
        skip("PTRACE_GETEVENTMSG failed", pid)
    # The new child starts traced, in a stop of its own; detached with SIGSTOP, it stays stopped
    # (state T) where it is: right after fork() returned, before anything else.
    os.waitpid(child.value, WALL)
    libc.ptrace(PTRACE_DETACH, child.value, None, signal.SIGSTOP)
    libc.ptrace(PTRACE_DETACH, pid, None, None)
    say("parent", os.getpid())
    say("dumb-init", pid)
    say("child", child.value)
    os._exit(0)


def parent_with_a_thread(argv: list[str]) -> None:
    """The parent of --from-thread; never returns."""
    started: list[subprocess.Popen[bytes]] = []
    thread_ids: list[int] = []

    def start_dumb_init() -> None:
        thread_ids.append(threading.get_native_id())
        started.append(subprocess.Popen(argv))

    try:
        worker = threading.Thread(target=start_dumb_init)
        worker.start()
        worker.join()
        say("parent", os.getpid())
        say("dumb-init", started[0].pid)
        # join() returns before the kernel is done with the thread; its task entry goes last.
        task = Path(f"/proc/self/task/{thread_ids[0]}")
        deadline = time.monotonic() + 10
        while task.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        say("thread gone" if not task.exists() else "thread still there")
        time.sleep(50)
    finally:
        os._exit(0)


def parent_that_waits(argv: list[str]) -> None:
    """The parent the test kills; never returns."""
    try:
        child = subprocess.Popen(argv)
        say("parent", os.getpid())
        say("dumb-init", child.pid)
        time.sleep(50)
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    parents = {
        "--gone-before-prctl": parent_that_dies_early,
        "--from-thread": parent_with_a_thread,
        "--stop-child-at-fork": parent_that_stops_the_child,
    }
    parent = parent_that_waits
    if argv and argv[0] in parents:
        parent = parents[argv.pop(0)]
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("prctl failed", ctypes.get_errno(), file=sys.stderr)
        return 98
    if os.fork() == 0:
        try:
            parent(argv)
        finally:
            os._exit(0)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        say("reaped", pid, os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
