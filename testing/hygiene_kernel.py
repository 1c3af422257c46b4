"""Hostile starting states for dumb-init, made with raw system calls (for ``preexec`` hooks).

The C library's ``sigprocmask`` and ``sigaction`` refuse signals 32 and 33 (glibc keeps them for
its threads), and Python's ``signal`` module cannot name them either, so the signal state is set
with the kernel's own ``rt_sigprocmask`` and ``rt_sigaction``. ``refuse_subreaper`` installs a
seccomp filter that makes ``prctl(PR_SET_CHILD_SUBREAPER, ...)`` fail with ``EPERM``, as it does
on AWS Lambda.

Every function raises ``OSError`` when the kernel refuses; ``SYSCALLS`` is None on an architecture
the table below does not know (the tests skip there). ``python -m testing.hygiene_kernel ARGV...``
runs ARGV with every signal blocked and ignored (for use after a program such as ``unshare``,
which unblocks 32 and 33 through the C library when it restores its signal mask).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
from typing import NamedTuple

KILL, STOP = 9, 19
HIGHEST_SIGNAL = 64
SIG_SETMASK = 2
SIG_IGN = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1


class Syscalls(NamedTuple):
    """The numbers of the calls made here, and seccomp's name for the architecture."""

    rt_sigaction: int
    rt_sigprocmask: int
    prctl: int
    seccomp: int
    audit_arch: int


SYSCALLS = {
    "x86_64": Syscalls(13, 14, 157, 317, 0xC000003E),
    "aarch64": Syscalls(134, 135, 167, 277, 0xC00000B7),
}.get(platform.machine())

COMPAT_PRCTL = {"x86_64": (0x40000003, 172)}.get(platform.machine(), (0, 0))
"""seccomp's name and prctl's number for the 32-bit ABI the host also runs (an i686 dumb-init
on x86_64), or (0, 0)."""

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _call(number: int, *args: object) -> None:
    # Plain ints would go to the variadic syscall() as 32-bit ints; it reads longs.
    wide = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    if _libc.syscall(ctypes.c_long(number), *wide) == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _numbers() -> Syscalls:
    if SYSCALLS is None:
        raise OSError(errno.ENOSYS, f"no system call table for {platform.machine()}")
    return SYSCALLS


def block_all_signals() -> None:
    """Block signals 1 to 64 (the kernel silently leaves SIGKILL and SIGSTOP out)."""
    mask = ctypes.c_uint64(2**64 - 1)
    _call(_numbers().rt_sigprocmask, SIG_SETMASK, ctypes.byref(mask), None, 8)


def ignore_all_signals() -> None:
    """Set every signal but SIGKILL and SIGSTOP to SIG_IGN, 32 and 33 included."""
    # The kernel's struct sigaction begins with the handler on every architecture; the rest
    # (flags, restorer, mask) all zero is valid whatever its layout.
    action = (ctypes.c_uint64 * 4)(SIG_IGN, 0, 0, 0)
    for signum in range(1, HIGHEST_SIGNAL + 1):
        if signum not in (KILL, STOP):
            _call(_numbers().rt_sigaction, signum, ctypes.byref(action), None, 8)


def hostile_signals() -> None:
    """Start with every signal blocked and ignored: the worst a caller can hand down."""
    ignore_all_signals()
    block_all_signals()


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


# Classic BPF opcodes.
_LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = the 32-bit word at offset k
_JUMP_IF_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K: skip jt if A == k, else jf
_RETURN = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
_FAIL_WITH = 0x00050000  # SECCOMP_RET_ERRNO: fail the call with errno (the low 16 bits)

# Offsets in struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
_NR, _ARCH, _ARG0_LOW_WORD = 0, 4, 16  # the low word of args[0] on little-endian machines


def _install(program: list[tuple[int, int, int, int]]) -> None:
    """Install a seccomp filter of classic BPF instructions for this process, for good."""
    numbers = _numbers()
    filters = (_SockFilter * len(program))(*(_SockFilter(*insn) for insn in program))
    fprog = _SockFprog(len(program), filters)
    # Without privileges a filter needs no_new_privs; as root it is harmless (dumb-init runs
    # no setuid program).
    _call(numbers.prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _call(numbers.seccomp, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(fprog))


def refuse_subreaper() -> None:
    """From now on (inherited across fork and exec, for good) PR_SET_CHILD_SUBREAPER fails
    with EPERM; every other call is allowed."""
    numbers = _numbers()
    compat_arch, compat_prctl = COMPAT_PRCTL
    # Jumps skip jt or jf instructions; the comments name where each lands.
    program = [
        (_LOAD_WORD, 0, 0, _ARCH),  # 0
        (_JUMP_IF_EQUAL, 0, 2, numbers.audit_arch),  # 1: native ABI -> 2, else -> 4
        (_LOAD_WORD, 0, 0, _NR),  # 2
        (_JUMP_IF_EQUAL, 3, 6, numbers.prctl),  # 3: prctl -> 7, else allow
        (_JUMP_IF_EQUAL, 0, 5, compat_arch),  # 4: 32-bit ABI -> 5, else allow
        (_LOAD_WORD, 0, 0, _NR),  # 5
        (_JUMP_IF_EQUAL, 0, 3, compat_prctl),  # 6: prctl -> 7, else allow
        (_LOAD_WORD, 0, 0, _ARG0_LOW_WORD),  # 7
        (_JUMP_IF_EQUAL, 0, 1, PR_SET_CHILD_SUBREAPER),  # 8: -> fail, else allow
        (_RETURN, 0, 0, _FAIL_WITH | errno.EPERM),  # 9
        (_RETURN, 0, 0, _ALLOW),  # 10
    ]
    _install(program)


SIGNALFD4 = {"x86_64": (289, 327), "aarch64": (74, 0)}.get(platform.machine())
"""signalfd4's number on the native ABI and on the 32-bit one the host also runs (0: none)."""


def refuse_signalfd() -> None:
    """From now on (inherited across fork and exec, for good) signalfd4 fails with EMFILE, as
    it does when no descriptor is left; every other call is allowed."""
    numbers = _numbers()
    if SIGNALFD4 is None:
        raise OSError(errno.ENOSYS, f"no signalfd4 number for {platform.machine()}")
    native, compat = SIGNALFD4
    compat_arch = COMPAT_PRCTL[0]
    program = [
        (_LOAD_WORD, 0, 0, _ARCH),  # 0
        (_JUMP_IF_EQUAL, 0, 2, numbers.audit_arch),  # 1: native ABI -> 2, else -> 4
        (_LOAD_WORD, 0, 0, _NR),  # 2
        (_JUMP_IF_EQUAL, 3, 4, native),  # 3: signalfd4 -> 7, else allow
        (_JUMP_IF_EQUAL, 0, 3, compat_arch),  # 4: 32-bit ABI -> 5, else allow
        (_LOAD_WORD, 0, 0, _NR),  # 5
        (_JUMP_IF_EQUAL, 0, 1, compat),  # 6: signalfd4 -> 7, else allow
        (_RETURN, 0, 0, _FAIL_WITH | errno.EMFILE),  # 7
        (_RETURN, 0, 0, _ALLOW),  # 8
    ]
    _install(program)


def try_subreaper() -> int:
    """0 if this process may become a child subreaper, else the errno (for premise checks)."""
    try:
        _call(_numbers().prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError as e:
        return e.errno or -1
    return 0


def main(argv: list[str]) -> int:
    """``python -m testing.hygiene_kernel ARGV...``: exec ARGV with ``hostile_signals``."""
    hostile_signals()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
