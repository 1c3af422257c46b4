"""Hardened signal handling: a broken stderr pipe, signals 32 to 34, floods.

- Broken stderr: ``dumb-init -v CHILD 2>&1 | head -1`` made dumb-init take its
  own SIGPIPE, forward it (killing the child), log that, fail again, for ever
  at 100% CPU, and never reap the child (SIGPIPE, 13, was always taken before
  SIGCHLD, 17). Now a signal dumb-init caused itself is not forwarded, stderr
  is not written again after EPIPE, and signals are taken round-robin, so
  that no stream of one signal starves the others (SIGCHLD above all).
- Signals 32 and 33 (glibc keeps them for its threads, and its functions leave
  them out of every signal set) killed dumb-init when it was not PID 1; now
  they are forwarded like any other, as are 34 and rewrites by number.
- Floods: 100,000 mixed signals, 20,000 orphans as PID 1.
"""

from __future__ import annotations

import os
import resource
import shlex
import signal
import subprocess
import time
from typing import Sequence

import pytest

from testing import TIMEOUT, base_env, hardening, proc, python_module
from testing.streams import LineReader
from testing.supervise import (
    ALL_MODES,
    MODES,
    Arg,
    Init,
    Mode,
    debug_lines,
    mode_id,
    print_signals,
    settle,
    spawn,
)

SIGHUP = int(signal.SIGHUP)
SIGKILL = int(signal.SIGKILL)
SIGPIPE = int(signal.SIGPIPE)
SIGUSR1 = int(signal.SIGUSR1)
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]

DEBUG_MODES = [mode for mode in MODES if mode.debug]
SETSID, SINGLE_CHILD = ALL_MODES[0], ALL_MODES[3]
RESERVED = [32, 33, 34]
"""32 and 33: glibc's own; 34: musl's third (SIGRTMIN of glibc)."""


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = hardening.build_tool(tmp_path_factory.mktemp("tool"))
    if path is None:
        pytest.skip("gcc is not installed: the flood sender and orphan maker are C programs")
    return path


# --- A stderr pipe nobody reads ---------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["-c"], ["-v"]], ids=["setsid", "single-child", "verbose"])
def test_exec_failure_with_stderr_broken_exits_2(dumb_init_bin: str, args: list[str]) -> None:
    """The command cannot be run and stderr is a pipe nobody reads: the child's message fails
    with EPIPE, and the SIGPIPE that raises must not kill it (its signals are open by then), so
    dumb-init still exits 2, as for any exec failure, not 141."""
    broken = hardening.broken_pipe()
    try:
        result = subprocess.run(
            [dumb_init_bin, *args, "/nonexistent/command"],
            env=base_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            preexec_fn=hardening.stderr_to(broken),
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(broken)
    assert result.returncode == 2


@pytest.mark.parametrize("mode", DEBUG_MODES, ids=mode_id)
@pytest.mark.parametrize("when", ["from-the-start", "reader-leaves"])
def test_broken_stderr_pipe_is_not_a_loop(dumb_init_bin: str, mode: Mode, when: str) -> None:
    """Debug lines to a pipe whose reader is gone: dumb-init forwards signals
    as before, never forwards the SIGPIPE it raised itself, then sleeps with
    nothing pending, makes no further write and uses next to no CPU; the child
    lives on, and its exit is noticed."""
    broken = hardening.broken_pipe()
    preexec = hardening.stderr_to(broken) if when == "from-the-start" else None
    try:
        init = spawn(dumb_init_bin, mode, print_signals(), preexec=preexec)
    finally:
        os.close(broken)
    with init:
        init.out.expect("ready")
        child = init.child()
        if when == "reader-leaves":
            init.err.until(lambda line: line.startswith("[dumb-init] Child spawned with PID"))
            assert init.proc.stderr is not None
            init.proc.stderr.close()  # the only read end: the next debug line fails with EPIPE
        init.send(SIGUSR1)
        lines = init.out.until(str(SIGUSR1))
        lines += init.settle({"": child}, sent=[SIGUSR1])
        proc.wait_until(
            lambda: hardening.asleep_with_nothing_pending(init.pid),
            "dumb-init to sleep with no signal pending",
        )
        writes = hardening.write_calls(init.pid)
        if when == "from-the-start":
            assert writes == 1  # the first debug line failed, and nothing was tried after it

        ticks, start = hardening.cpu_ticks(init.pid), time.monotonic()
        for _ in range(200):
            init.send(SIGUSR1)
            lines += init.out.until(str(SIGUSR1))
        lines += init.settle({"": child}, sent=[SIGUSR1])
        elapsed = time.monotonic() - start
        cpu = (hardening.cpu_ticks(init.pid) - ticks) / os.sysconf("SC_CLK_TCK")
        proc.wait_until(
            lambda: hardening.asleep_with_nothing_pending(init.pid),
            "dumb-init to sleep with no signal pending",
        )
        assert hardening.write_calls(init.pid) == writes
        # A generous limit: a loop that never sleeps uses its CPU for as long as it runs.
        assert cpu <= elapsed / 2 + 0.05, (cpu, elapsed)
        assert set(lines) == {"10", "12", "28"}  # SIGPIPE (13) never reached the child
        assert proc.alive(child)

        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL


def shell_pipe_to_head(dumb_init_bin: str) -> None:
    """The form from the issue, ``dumb-init -v CHILD 2>&1 | head -1``: once
    ``head`` is gone, the child still gets the signals sent to dumb-init and
    never a SIGPIPE, and when it ends, dumb-init exits with its status.

    The child writes to descriptor 3 (the shell's stdout, which the test reads):
    its own stdout is the pipe to ``head``, as dumb-init's is. ``head`` may
    leave before or after the child's own debug lines (``setsid complete.``,
    written between fork and exec), so each run differs a little."""
    child = shlex.join(["sh", "-c", 'exec "$@" >&3', "sh", *print_signals()])
    pipeline = f"{shlex.quote(dumb_init_bin)} -v {child} 2>&1 | head -1"
    script = f'{{ {pipeline}; }} 3>&1; echo "dumb-init exited ${{PIPESTATUS[0]}}"'
    first_line = "[dumb-init] Registered as child subreaper (not PID 1)."
    with Init(["bash", "-c", script]) as shell:
        shell.out.until_all({first_line, "ready"})  # head printed one line and exits

        def dumb_init() -> int | None:
            # The kernel keeps the first 15 bytes of the file's name as the command name.
            comm = os.path.basename(dumb_init_bin)[:15]
            found = [p for p in proc.children(shell.pid) if proc.stat(p).comm == comm]
            return found[0] if found else None

        def head_gone() -> bool:
            return not [p for p in proc.children(shell.pid) if proc.stat(p).comm == "head"]

        pid = proc.wait_until(dumb_init, "dumb-init to be a child of the shell")
        proc.wait_until(head_gone, "head to exit")
        printer = proc.only_child(pid)
        os.kill(pid, SIGUSR1)  # logged: the write fails with EPIPE, raising SIGPIPE
        lines = shell.out.until(str(SIGUSR1))
        lines += settle(shell.out, pid, {"": printer}, sent=[SIGUSR1])
        proc.wait_until(
            lambda: hardening.asleep_with_nothing_pending(pid),
            "dumb-init to sleep with no signal pending",
        )
        assert str(SIGPIPE) not in lines
        assert proc.alive(printer)
        os.kill(printer, SIGKILL)
        shell.out.expect(f"dumb-init exited {128 + SIGKILL}")
        assert shell.wait() == 0


def test_shell_pipe_to_head(dumb_init_bin: str) -> None:
    for _ in range(10):
        shell_pipe_to_head(dumb_init_bin)


@pytest.mark.long
@pytest.mark.timeout(600)
def test_shell_pipe_to_head_many_times(dumb_init_bin: str) -> None:
    for _ in range(300):
        shell_pipe_to_head(dumb_init_bin)


LOW_SIGNALS = [SIGHUP, SIGUSR1, int(signal.SIGUSR2), SIGPIPE, int(signal.SIGALRM)]
"""Numbered below SIGCHLD (17): the kernel hands out the lowest pending signal first."""


def test_flood_of_low_signals_does_not_hide_the_childs_exit(dumb_init_bin: str, tool: str) -> None:
    """With stderr broken, another process sends dumb-init signals numbered
    below SIGCHLD without pause (the child ignores them), so that one of them
    is nearly always pending; the child is killed meanwhile. dumb-init, taking
    signals round-robin, notices and exits with the child's status while the
    flood goes on. (How often one is pending at the moment dumb-init takes the
    next signal depends on how the two are scheduled: the next test checks the
    order deterministically.)"""
    broken = hardening.broken_pipe()
    numbers = [str(signum) for signum in LOW_SIGNALS]
    ignoring = ["sh", "-c", f"trap '' {' '.join(numbers)}; exec sleep 1000"]
    try:
        init = spawn(dumb_init_bin, ALL_MODES[1], ignoring, preexec=hardening.stderr_to(broken))
    finally:
        os.close(broken)
    with init:
        child = init.child()
        proc.wait_until(
            lambda: (
                proc.stat(child).comm == "sleep"
                and set(LOW_SIGNALS) <= proc.sigset(child, "SigIgn")
            ),
            "the child to exec sleep with the flood's signals ignored",
        )
        flooder = subprocess.Popen(
            [tool, "flood", str(init.pid), "0", *numbers],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        try:
            assert flooder.stdout is not None
            LineReader(flooder.stdout.fileno(), "flooder").expect("started")
            os.kill(child, SIGKILL)
            assert init.wait() == 128 + SIGKILL
            assert flooder.poll() is None  # the flood went on until dumb-init had exited
        finally:
            flooder.kill()
            flooder.wait()
            assert flooder.stdout is not None
            flooder.stdout.close()


def test_signals_are_taken_round_robin(dumb_init_bin: str) -> None:
    """dumb-init takes each pending signal at most once a round, so a signal
    that keeps coming cannot starve the others. Seen in the debug lines:
    with SIGCONT (18) and 34, 34, 40 queued while dumb-init is stopped, it
    takes 18, 34, 40, and only then the second 34 (lowest first would take
    both 34 before 40)."""
    with spawn(dumb_init_bin, ALL_MODES[1], print_signals()) as init:
        init.out.expect("ready")
        child = init.child()
        init.send(SIGUSR1)  # the last signal taken is now below all of these
        init.out.expect(str(SIGUSR1))
        init.err.until(f"[dumb-init] Forwarded signal {SIGUSR1} to children.")
        os.kill(init.pid, signal.SIGSTOP)
        proc.wait_stopped(init.pid)
        for signum in (34, 34, 40):  # real-time signals queue: two instances of 34
            init.send(signum)
        init.send(int(signal.SIGCONT))
        lines = init.err.until("[dumb-init] Forwarded signal 34 to children.")
        lines += init.err.until("[dumb-init] Forwarded signal 34 to children.")
        received = [line for line in debug_lines(lines) if line.startswith("Received signal ")]
        assert received == [f"Received signal {n}." for n in (18, 34, 40, 34)]
        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL


THREAD_BACKLOG = 1_000


def test_signals_sent_to_the_thread_do_not_starve_sigchld(dumb_init_bin: str, tool: str) -> None:
    """The kernel hands out signals sent to a thread (``tgkill``,
    ``rt_tgsigqueueinfo``) before those sent to the whole process, SIGCHLD
    among them, whatever their numbers. With 1,000 instances of signal 40
    queued at dumb-init's thread (a stream of one signal, caught while dumb-init
    was stopped) and the child's exit pending, dumb-init must notice the exit
    long before it has worked through them all."""
    with spawn(dumb_init_bin, ALL_MODES[1], print_signals()) as init:
        init.out.expect("ready")
        child = init.child()
        os.kill(init.pid, signal.SIGSTOP)
        proc.wait_stopped(init.pid)
        sender = subprocess.run(
            [tool, "flood-thread", str(init.pid), str(THREAD_BACKLOG), "40"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
        assert sender.stdout.splitlines()[1] == f"40 {THREAD_BACKLOG} 0"  # all of them queued
        os.kill(child, SIGKILL)
        proc.wait_until(
            lambda: int(signal.SIGCHLD) in proc.sigset(init.pid, "ShdPnd"),
            "the child's SIGCHLD to be pending at dumb-init",
        )
        init.send(int(signal.SIGCONT))
        lines = init.err.until(f"[dumb-init] A child with PID {child} was terminated by signal 9.")
        taken = debug_lines(lines).count("Received signal 40.")
        assert taken < THREAD_BACKLOG // 10, f"took {taken} of signal 40 before SIGCHLD"
        assert init.wait() == 128 + SIGKILL


# --- Signals 32, 33 and 34 ---------------------------------------------------------------------


WHERE = ["subreaper", pytest.param("pid1", marks=pytest.mark.pid1)]
SETSID_OR_SINGLE = [SETSID, SINGLE_CHILD]


def start_init(
    dumb_init_bin: str,
    request: pytest.FixtureRequest,
    where: str,
    mode: Mode,
    command: Sequence[str],
    args: Sequence[str] = (),
) -> tuple[Init, int]:
    """dumb-init as a subreaper, or as PID 1 under ``unshare``; returns it and
    its PID as the host sees it."""
    argv = [dumb_init_bin, *mode.args, *args, *command]
    if where == "pid1":
        request.getfixturevalue("pid_namespace")
        argv = [*UNSHARE, *argv]
    init = Init(argv, env=env_of(mode))
    try:
        pid = proc.only_child(init.pid) if where == "pid1" else init.pid
    except BaseException:
        init.__exit__()
        raise
    return init, pid


def env_of(mode: Mode) -> dict[Arg, Arg]:
    """The environment that sets ``mode``."""
    return {name: value for name, value in base_env(dict(mode.env)).items()}


def blocker(*blocked: int) -> list[str]:
    return python_module("hardening_blocker", *map(str, blocked))


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("mode", SETSID_OR_SINGLE, ids=mode_id)
@pytest.mark.parametrize("signum", RESERVED)
def test_reserved_signal_is_forwarded(
    dumb_init_bin: str, request: pytest.FixtureRequest, where: str, mode: Mode, signum: int
) -> None:
    """The child, which keeps 32 to 34 blocked, finds the signal pending;
    dumb-init is alive and forwards the next signal as before."""
    init, pid = start_init(dumb_init_bin, request, where, mode, blocker(*RESERVED))
    with init:
        init.out.expect("ready")
        child = proc.only_child(pid)
        os.kill(pid, signum)
        proc.wait_until(lambda: signum in proc.pending(child), f"signal {signum} at the child")
        lines = settle(init.out, pid, {"": child}, sent=[signum])
        assert set(lines) == {"12", "28"}
        assert proc.pending(child) & set(RESERVED) == {signum}
        assert proc.alive(pid)
        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("mode", SETSID_OR_SINGLE, ids=mode_id)
@pytest.mark.parametrize("signum", RESERVED)
def test_reserved_signal_kills_a_child_at_the_default_action(
    dumb_init_bin: str, request: pytest.FixtureRequest, where: str, mode: Mode, signum: int
) -> None:
    """Forwarded to a child that leaves it at its default action, the signal
    kills the child, and dumb-init exits 128 + N. Had the signal killed
    dumb-init itself, its status would be -N (a subreaper) or nothing at all
    (PID 1 would not be killed, so the signal would be lost: a hang)."""
    init, pid = start_init(dumb_init_bin, request, where, mode, ["sleep", "1000"])
    with init:
        proc.only_child(pid)  # dumb-init blocks every signal before it forks
        os.kill(pid, signum)
        assert init.wait() == 128 + signum


REWRITES = [
    pytest.param(32, 33, 32, id="32:33"),
    pytest.param(33, 34, 33, id="33:34"),
    pytest.param(SIGUSR1, 32, SIGUSR1, id="10:32"),
    pytest.param(33, SIGUSR1, 33, id="33:10"),
    pytest.param(32, 0, 32, id="32:0"),
]


@pytest.mark.parametrize(("source", "target", "sent"), REWRITES)
def test_rewrites_by_number(dumb_init_bin: str, source: int, target: int, sent: int) -> None:
    rule = f"{source}:{target}"
    with spawn(dumb_init_bin, ALL_MODES[1], blocker(*RESERVED), args=["-r", rule]) as init:
        init.out.expect("ready")
        child = init.child()
        init.send(sent)
        lines = init.settle({"": child}, sent=[sent])
        printed = {line for line in lines if line not in ("12", "28")}
        assert printed == ({str(target)} if target and target not in RESERVED else set())
        wanted_pending = {target} if target in RESERVED else set()
        assert proc.pending(child) & set(RESERVED) == wanted_pending
        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL
        err = debug_lines(init.err.rest())
    assert f"Translating signal {source} to {target}." in err


# --- Floods ------------------------------------------------------------------------------------

REPORT = SIGUSR1
FLOOD_STANDARD = [SIGHUP, int(signal.SIGUSR2), SIGPIPE, int(signal.SIGALRM), int(signal.SIGWINCH)]
FLOOD_REALTIME = [32, 33, 34, 40, 50, 64]
FLOOD = FLOOD_STANDARD + FLOOD_REALTIME
FLOOD_COUNT = 100_000
QUEUE_LIMIT = 10_000
RSS_SLACK_KB = 16
"""Four pages, for stack touched late; a leak of one byte per signal would be 100 kB."""


def small_signal_queue() -> None:
    """Lets few signals queue up for dumb-init, so that a flood fills its queue."""
    _, hard = resource.getrlimit(resource.RLIMIT_SIGPENDING)
    resource.setrlimit(resource.RLIMIT_SIGPENDING, (min(hard, QUEUE_LIMIT), hard))


def counter() -> list[str]:
    return python_module("hardening_counter", str(REPORT), *map(str, FLOOD))


def report(init: Init, timeout: float = TIMEOUT) -> dict[int, int]:
    """What the counter has received so far: once dumb-init has taken every
    flood signal, whatever it forwarded is queued at the counter before the
    REPORT it forwards next."""
    for signum in FLOOD:
        proc.wait_not_pending(init.pid, signum, timeout)
    init.send(REPORT)
    words = init.out.until(lambda line: line.startswith("counts "), timeout)[-1].split()[1:]
    return {int(n): int(count) for n, count in (word.split(":") for word in words)}


@pytest.mark.parametrize("mode", SETSID_OR_SINGLE, ids=mode_id)
def test_flood_of_mixed_signals(dumb_init_bin: str, tool: str, mode: Mode) -> None:
    """100,000 signals as fast as a C loop sends them: dumb-init stays up, its
    memory and descriptors do not grow, the child gets every real-time signal
    queued to dumb-init and at least one of each standard one (those merge),
    and a fresh signal afterwards still comes through.

    dumb-init may queue only 10,000 signals, so that the sender also meets a
    full queue (EAGAIN); the counter raises the limit back for itself (see
    ``testing/hardening_counter.py``)."""
    with spawn(dumb_init_bin, mode, counter(), preexec=small_signal_queue) as init:
        init.out.expect("ready")
        child = init.child()
        for signum in FLOOD:  # every path taken once before measuring
            init.send(signum)
        before = report(init)
        assert before == dict.fromkeys(FLOOD, 1)
        rss, fds = hardening.rss_kb(init.pid), hardening.fd_count(init.pid)

        sender = subprocess.run(
            [tool, "flood", str(init.pid), str(FLOOD_COUNT), *map(str, FLOOD)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        lines = sender.stdout.splitlines()
        assert lines[0] == "started"
        accepted = {int(s): int(a) for s, a, _ in (line.split() for line in lines[1:])}
        refused = sum(int(line.split()[2]) for line in lines[1:])
        assert refused + sum(accepted.values()) == FLOOD_COUNT
        after = report(init, timeout=60)  # a backlog may be left to work through
        got = {signum: after[signum] - before[signum] for signum in FLOOD}
        for signum in FLOOD_REALTIME:
            assert got[signum] == accepted[signum], (signum, got, accepted)
        for signum in FLOOD_STANDARD:
            assert 1 <= got[signum] <= accepted[signum], (signum, got, accepted)
        assert hardening.rss_kb(init.pid) <= rss + RSS_SLACK_KB
        assert hardening.fd_count(init.pid) == fds

        init.send(40)
        assert report(init)[40] == after[40] + 1
        assert proc.alive(child)
        os.kill(child, SIGKILL)
        assert init.wait() == 128 + SIGKILL


ORPHAN_MAKERS = 4
ORPHANS_EACH = 5_000


@pytest.mark.long
@pytest.mark.pid1
@pytest.mark.usefixtures("pid_namespace")
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", SETSID_OR_SINGLE, ids=mode_id)
def test_twenty_thousand_orphans_as_pid_1(dumb_init_bin: str, tool: str, mode: Mode) -> None:
    """Four processes make 5,000 orphans each at the same time; dumb-init, PID 1
    of the namespace, reaps them all, and exits with the child's status."""
    makers = " & ".join([f"{shlex.quote(tool)} orphans {ORPHANS_EACH}"] * ORPHAN_MAKERS)
    zombies = shlex.join(python_module("orphans", "0", str(TIMEOUT)))
    script = f"{makers} & wait; {zombies}; exit 7"
    argv = [*UNSHARE, dumb_init_bin, *mode.args, "sh", "-c", script]
    with Init(argv, env=env_of(mode)) as unshare:
        lines = unshare.out.until_all({f"made {ORPHANS_EACH}", "made 0"}, timeout=240)
        assert lines.count(f"made {ORPHANS_EACH}") == ORPHAN_MAKERS
        unshare.out.expect("zombies 0", timeout=TIMEOUT + 5)
        assert unshare.wait() == 7
        assert unshare.err.rest() == []
