"""dumb-init as PID 1 of real podman containers and pods, the way users run it: stopped and
signalled by the engine, configured with ``-e DUMB_INIT_*``, on a terminal, as another user, in
a read-only image or one without a shell, as the infra process of a pod.

Where a difference is the point, the same container also runs without dumb-init, and the test
asserts the difference. Images are made from a directory (Debian's static busybox, the binary
under test, small scripts) with ``podman import``: no registry. podman keeps everything in a
directory of its own (testing/podman.py), removed at the end with every container, pod and
image in it; each test removes its own containers and pods, even when it fails.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple, NoReturn

import pytest

from testing import ROOT, proc
from testing.podman import STOP_WARNING, Podman, is_static, start, tree_of_files
from testing.supervise import PtyInit

pytestmark = pytest.mark.container

DUMB_INIT = "/usr/bin/dumb-init"
STOP_TIMEOUT = 5
"""The engine's stop timeout in the tests that compare stops (seconds): dumb-init must end
well inside it; without dumb-init, podman kills at it."""
RTMIN_3 = 37  # RTMIN+3 as glibc numbers it, which busybox, podman and dumb-init all use

SCRIPTS = {
    # signals LABEL COUNT: reports HUP (1), INT (2), USR1 (10) and RTMIN+3 (37) on stderr as
    # "LABEL N"; exits once it has taken COUNT of them. The sleep it waits on ignores them, so
    # that only the script reacts, and the script's own trap interrupts its wait.
    "usr/local/bin/signals": """#!/bin/sh
label=$1 want=$2 n=0
trap '' 1 2 10 37
sleep 100000 &
sleeper=$!
for s in 1 2 10 37; do trap "echo '$label' $s >&2; n=\\$((n + 1))" "$s"; done
echo "$label ready" >&2
while [ "$n" -lt "$want" ]; do wait "$sleeper"; done
kill "$sleeper"
""",
    # stubborn LABEL: a job that SIGTERM does not end: it says "LABEL TERM" and goes on.
    "usr/local/bin/stubborn": """#!/bin/sh
trap "echo '$1' TERM" TERM
echo "$1 ready"
while :; do sleep 1 & wait $!; done
""",
    # worker N: "worker N ready", then blocks until something is written to the fifo
    # /tmp/go-N, then "worker N done".
    "usr/local/bin/worker": """#!/bin/sh
echo "worker $1 ready"
read -r _ < "/tmp/go-$1"
echo "worker $1 done"
""",
    # orphans COUNT WANT: orphans COUNT sleeping processes (each one's parent exits at once,
    # so the kernel re-parents it to PID 1), waits until PID 1 has all of them, kills them,
    # then waits (100 rounds of a count and 0.05 s at most) until the container has WANT
    # zombies. Prints what it counted, from /proc: "orphans N" (sleeps whose parent is PID 1)
    # and "zombies M".
    "usr/local/bin/orphans": """#!/bin/sh
count=$1 want=$2
census() {
    orphans=0 zombies=0 pids=
    for f in /proc/[0-9]*/stat; do
        # (2>/dev/null first: the process may have gone since the glob listed it.)
        read -r pid comm state ppid _ 2>/dev/null < "$f" || continue
        if [ "$state" = Z ]; then
            zombies=$((zombies + 1))
        elif [ "$comm" = "(sleep)" ] && [ "$ppid" = 1 ] && [ "$pid" != 1 ]; then
            orphans=$((orphans + 1)) pids="$pids $pid"
        fi
    done
}
i=0
while [ "$i" -lt "$count" ]; do (sleep 1000 &); i=$((i + 1)); done
tries=0
census
while [ "$orphans" -lt "$count" ] && [ "$tries" -lt 100 ]; do
    sleep 0.05; tries=$((tries + 1)); census
done
echo "orphans $orphans"
kill $pids
tries=0
census
while [ "$zombies" -ne "$want" ] && [ "$tries" -lt 100 ]; do
    sleep 0.05; tries=$((tries + 1)); census
done
echo "zombies $zombies"
""",
}


class Images(NamedTuple):
    shell: str
    """busybox (every applet linked in /bin), dumb-init and the scripts above."""
    bare: str
    """Only dumb-init and one static program, ``/child`` (testing/c/empty_root_child.c), with
    ``ENTRYPOINT ["/usr/bin/dumb-init", "--"]`` and ``CMD ["/child"]``."""


def _missing(reason: str) -> NoReturn:
    """Skip where the container engine cannot be had; fail where ``$CI`` is set, so that CI
    cannot pass without running these tests."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the container tests must run here)", pytrace=False)
    pytest.skip(reason)


TOKEN = uuid.uuid4().hex[:8]
"""In every name this run gives, so that names never meet those of another run."""
SERIAL = itertools.count()
"""Numbers the containers and pods of this run."""


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    """podman as root, with runc and storage of the tests' own; everything in it is removed at
    the end. Fails the module's teardown if a test left a container or pod behind."""
    exe = shutil.which("podman")
    if exe is None:
        _missing("podman is not installed (Debian: apt-get install podman runc busybox-static)")
    if shutil.which("runc") is None:
        _missing("runc is not installed (Debian: apt-get install runc)")
    if os.geteuid() != 0:
        _missing("the container tests run podman as root")
    base = Path(tempfile.mkdtemp(prefix="dumb-init-podman-"))
    engine = start(exe, base)
    if isinstance(engine, str):
        shutil.rmtree(base, ignore_errors=True)
        _missing(engine)
    try:
        yield engine
        left = engine.leftovers()
        assert not left["containers"] and not left["pods"], f"tests left behind {left}"
    finally:
        engine.remove_everything()


@pytest.fixture(scope="module")
def images(podman: Podman, dumb_init_bin: str) -> Iterator[Images]:
    """The two images, made for this module and removed after it."""
    if not is_static(dumb_init_bin):
        pytest.fail(f"{dumb_init_bin} is dynamically linked: an image has no libraries for it")
    busybox = shutil.which("busybox")
    if busybox is None or not is_static(busybox):
        _missing(
            "a static busybox is needed for the images (Debian: apt-get install busybox-static)"
        )
    applets = subprocess.run(
        [busybox, "--list"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    tags = []
    with tempfile.TemporaryDirectory(prefix="dumb-init-image-") as tmp:
        shell = Path(tmp) / "shell"
        tree_of_files(
            shell,
            {"bin/busybox": Path(busybox), DUMB_INIT[1:]: Path(dumb_init_bin), **SCRIPTS},
            {f"bin/{name}": "busybox" for name in applets if name != "busybox"},
        )
        for scratch in ("tmp", "data"):  # data: writable by anyone unless --read-only
            (shell / scratch).mkdir()
            os.chmod(shell / scratch, 0o1777)
        name = f"localhost/dumb-init-test-{TOKEN}:shell"
        podman.import_image(name, shell)
        tags.append(name)
        bare_name = f"localhost/dumb-init-test-{TOKEN}:bare"
        bare = Path(tmp) / "bare"
        bare.mkdir()
        if _static_program(ROOT / "testing" / "c" / "empty_root_child.c", bare / "child"):
            tree_of_files(bare, {DUMB_INIT[1:]: Path(dumb_init_bin)}, {})
            podman.import_image(
                bare_name,
                bare,
                [f'ENTRYPOINT ["{DUMB_INIT}", "--"]', 'CMD ["/child"]'],
            )
            tags.append(bare_name)
        else:
            bare_name = ""
    try:
        yield Images(name, bare_name)
    finally:
        podman.run("rmi", "--force", *tags, check=False)


def _static_program(source: Path, output: Path) -> bool:
    """Compile a C program with ``gcc -static``; False without gcc or a static C library."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return False
    result = subprocess.run(
        [gcc, "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(output), str(source)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    return result.returncode == 0


@dataclass
class Made:
    """The names of the containers and pods a test makes: unique, and removed after it."""

    containers: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)

    def container(self) -> str:
        self.containers.append(f"dumb-init-test-{TOKEN}-{next(SERIAL)}")
        return self.containers[-1]

    def pod(self) -> str:
        self.pods.append(f"dumb-init-test-{TOKEN}-pod-{next(SERIAL)}")
        return self.pods[-1]


@pytest.fixture
def made(podman: Podman) -> Iterator[Made]:
    names = Made()
    yield names
    podman.remove(names.containers, names.pods)


def run_args(name: str, *more: str) -> list[str]:
    """Options of every ``podman run`` here: a name to clean up by, and no network (none of the
    tests needs one, and it spares the network set-up)."""
    return ["--name", name, "--network", "none", *more]


def stop(podman: Podman, name: str, timeout: int = STOP_TIMEOUT) -> tuple[float, str]:
    """``podman stop -t TIMEOUT``: the seconds it took and what it printed on stderr."""
    elapsed, result = podman.timed("stop", "--time", str(timeout), name, timeout=timeout + 60)
    return elapsed, result.stderr


def test_stop_ends_the_command_on_sigterm(podman: Podman, images: Images, made: Made) -> None:
    """``podman stop`` sends SIGTERM to PID 1. dumb-init forwards it: the command dies of it at
    once and the container exits 143. Without dumb-init the command is PID 1, for which the
    kernel ignores SIGTERM it has no handler for: podman waits the whole timeout and kills (137)."""
    command = ["sh", "-c", "echo ready; sleep 100000"]
    results = {}
    for label, prefix in (("dumb-init", [DUMB_INIT, "--"]), ("baseline", [])):
        name = made.container()
        with podman.attached(*run_args(name), images.shell, *prefix, *command) as run:
            run.out.until("ready")
            elapsed, stderr = stop(podman, name)
            results[label] = (elapsed, run.wait(), STOP_WARNING in stderr)
    elapsed, status, killed = results["dumb-init"]
    assert (status, killed) == (128 + signal.SIGTERM, False), results
    assert elapsed < STOP_TIMEOUT / 2, results
    elapsed, status, killed = results["baseline"]
    assert (status, killed) == (128 + signal.SIGKILL, True), results
    assert elapsed >= STOP_TIMEOUT, results


def test_kill_signals_reach_the_pipeline(podman: Podman, images: Images, made: Made) -> None:
    """``podman kill -s`` signals PID 1; dumb-init forwards HUP, USR1, INT and a real-time
    signal to the command's whole process group: both stages of its pipeline take each one
    (they are not dumb-init's children), and the command (the shell running the pipeline)
    takes them too, running its traps once the pipeline is done."""
    name = made.container()
    traps = "; ".join(f"trap 'echo outer {s} >&2' {s}" for s in (1, 2, 10, RTMIN_3))
    script = f"{traps}; signals A 4 | signals B 4; echo outer done >&2"
    sent = {"HUP": 1, "USR1": 10, "INT": 2, "RTMIN+3": RTMIN_3}
    with podman.attached(*run_args(name), images.shell, DUMB_INIT, "sh", "-c", script) as run:
        run.out.until_all({"A ready", "B ready"})
        for sig, number in sent.items():
            podman.run("kill", "--signal", sig, name)
            run.out.until_all({f"A {number}", f"B {number}"})
        rest = run.rest()
        assert run.wait() == 0
    assert {"outer done"} | {f"outer {n}" for n in sent.values()} <= set(rest), rest


def test_rewrite_variable_changes_what_stop_delivers(
    podman: Podman, images: Images, made: Made
) -> None:
    """``-e DUMB_INIT_REWRITE=TERM:USR1``: ``podman stop``'s SIGTERM reaches the command as
    SIGUSR1; without the variable, as SIGTERM. The container exits with the command's status."""
    script = (
        "trap 'echo got TERM; exit 3' TERM; trap 'echo got USR1; exit 4' USR1;"
        " echo ready; sleep 100000 & wait"
    )
    outcome = {}
    for env in ([], ["--env", "DUMB_INIT_REWRITE=TERM:USR1"]):
        name = made.container()
        with podman.attached(
            *run_args(name, *env), images.shell, DUMB_INIT, "sh", "-c", script
        ) as run:
            run.out.until("ready")
            elapsed, _ = stop(podman, name)
            got = [line for line in run.rest() if line.startswith("got ")]
            outcome[bool(env)] = (got, run.wait(), elapsed < STOP_TIMEOUT / 2)
    assert outcome == {False: (["got TERM"], 3, True), True: (["got USR1"], 4, True)}


@pytest.mark.timeout(90)
def test_grace_period_variable_outlasts_a_term_ignoring_job(
    podman: Podman, images: Images, made: Made
) -> None:
    """``-e DUMB_INIT_GRACE_PERIOD=3``: on ``podman stop -t 10`` the command exits (status 5)
    while a job it started goes on despite SIGTERM; dumb-init gives the job its 3 s, then kills
    it and exits with the command's status, before the engine's 10 s. Without the variable the
    container stops at once."""
    grace, engine_timeout = 3, 10
    script = "stubborn job & trap 'echo main TERM; exit 5' TERM; echo main ready; wait"
    outcome = {}
    for env in ([], ["--env", f"DUMB_INIT_GRACE_PERIOD={grace}"]):
        name = made.container()
        with podman.attached(
            *run_args(name, *env), images.shell, DUMB_INIT, "sh", "-c", script
        ) as run:
            run.out.until_all({"main ready", "job ready"})
            elapsed, stderr = stop(podman, name, engine_timeout)
            lines = run.rest()
            outcome[bool(env)] = (elapsed, run.wait(), STOP_WARNING in stderr, lines)
    elapsed, status, killed, lines = outcome[True]
    assert (status, killed) == (5, False), outcome
    assert "job TERM" in lines and "main TERM" in lines, outcome
    assert grace <= elapsed < engine_timeout, outcome
    elapsed, status, killed, lines = outcome[False]
    assert (status, killed) == (5, False), outcome
    assert elapsed < grace, outcome


def test_orphans_leave_no_zombie(podman: Podman, images: Images, made: Made) -> None:
    """A command that orphans 300 processes, which then die, leaves no zombie in the container
    under dumb-init (counted inside it, from /proc). The baseline runs the same script in a
    container whose PID 1 is ``sleep``, which never reaps: all 300 stay zombies."""
    count = 300
    name = made.container()
    with podman.attached(
        *run_args(name), images.shell, DUMB_INIT, "orphans", str(count), "0"
    ) as run:
        lines = run.rest(timeout=60)
        assert run.wait() == 0, lines
    assert [f"orphans {count}", "zombies 0"] == [
        line for line in lines if line.split()[0] in ("orphans", "zombies")
    ]
    baseline = made.container()
    podman.run("run", "--detach", *run_args(baseline), images.shell, "sleep", "100000")
    result = podman.run("exec", baseline, "orphans", str(count), str(count))
    assert result.stdout.split("\n")[:2] == [f"orphans {count}", f"zombies {count}"]


@pytest.mark.parametrize(
    ("args", "env", "status"),
    [
        (["sh", "-c", "exit 3"], [], 3),
        (["sh", "-c", "kill -USR1 $$"], [], 128 + signal.SIGUSR1),
        (["--remap-exit=3:0", "sh", "-c", "exit 3"], [], 0),
        (["sh", "-c", "kill -USR1 $$"], ["--env", "DUMB_INIT_REMAP_EXIT=138:7"], 7),
    ],
    ids=["status", "signal", "--remap-exit", "DUMB_INIT_REMAP_EXIT"],
)
def test_exit_status_through_podman_run(
    podman: Podman, images: Images, made: Made, args: list[str], env: list[str], status: int
) -> None:
    """``podman run`` exits with dumb-init's status: the command's N, 128 + N when a signal
    killed it, remapped by ``--remap-exit`` or ``DUMB_INIT_REMAP_EXIT``."""
    result = podman.run(
        "run", *run_args(made.container(), *env), images.shell, DUMB_INIT, *args, check=False
    )
    assert result.returncode == status, result.stderr


WAIT_ALL_SCRIPT = "mkfifo /tmp/go-1 /tmp/go-2; worker 1 & worker 2 & echo started; exit 3"
"""A start script that backgrounds two workers and exits 3 at once."""


def running(podman: Podman, name: str) -> bool:
    return podman.inspect(name, "{{.State.Status}}") == "running"


def wait_for_workers_only(pid: int) -> None:
    """Wait until dumb-init (host ``pid``) has the two workers as its only children: the start
    script has exited and its workers were re-parented to it."""

    def probe() -> bool:
        live = [p for p in proc.children(pid) if proc.alive(p)]
        return sorted(proc.stat(p).comm for p in live) == ["worker", "worker"]

    proc.wait_until(probe, "the start script to exit, leaving its two workers")


def test_wait_all_keeps_the_container_up(podman: Podman, images: Images, made: Made) -> None:
    """``--wait-all``: the start script exits at once, the container runs on until both its
    workers end, then exits with the script's status (3). Without it the container exits
    with the script, and the workers never finish."""
    name = made.container()
    argv = [images.shell, DUMB_INIT, "--wait-all", "sh", "-c", WAIT_ALL_SCRIPT]
    with podman.attached(*run_args(name), *argv) as run:
        run.out.until_all({"started", "worker 1 ready", "worker 2 ready"})
        wait_for_workers_only(int(podman.inspect(name, "{{.State.Pid}}")))
        assert running(podman, name)
        podman.run("exec", name, "sh", "-c", "echo go > /tmp/go-1")
        run.out.until("worker 1 done")
        assert running(podman, name)
        podman.run("exec", name, "sh", "-c", "echo go > /tmp/go-2")
        run.out.until("worker 2 done")
        assert run.wait() == 3
    baseline = made.container()
    argv = [images.shell, DUMB_INIT, "sh", "-c", WAIT_ALL_SCRIPT]
    with podman.attached(*run_args(baseline), *argv) as run:
        assert run.wait() == 3
        lines = run.rest()
    assert "started" in lines and not [line for line in lines if "done" in line], lines


def test_wait_all_stop_ends_the_workers(podman: Podman, images: Images, made: Made) -> None:
    """``podman stop`` of a ``--wait-all`` container whose start script has exited: dumb-init
    forwards SIGTERM to the workers, they end, and the container exits with the script's
    status, well inside the stop timeout."""
    name = made.container()
    argv = [images.shell, DUMB_INIT, "--wait-all", "sh", "-c", WAIT_ALL_SCRIPT]
    with podman.attached(*run_args(name), *argv) as run:
        run.out.until_all({"started", "worker 1 ready", "worker 2 ready"})
        wait_for_workers_only(int(podman.inspect(name, "{{.State.Pid}}")))
        elapsed, stderr = stop(podman, name)
        assert run.wait() == 3
        assert STOP_WARNING not in stderr
        assert elapsed < STOP_TIMEOUT / 2
        assert not [line for line in run.rest() if "done" in line]


class PodOutcome(NamedTuple):
    pid1: list[str]  # the command line of PID 1, as another container of the pod reads it
    stop_seconds: float
    infra_status: int


def pod_with_an_orphan(
    podman: Podman, images: Images, made: Made, infra: str, reaps: bool
) -> PodOutcome:
    """A pod sharing one PID namespace, with ``infra`` as its infra command: another container
    of it orphans a ``sleep``, which the kernel re-parents to the pod's PID 1; the test kills
    the orphan and waits until PID 1 has reaped it (``reaps``) or until it is a zombie, then
    stops the pod."""
    pod = made.pod()
    podman.run(
        *("pod", "create", "--name", pod, "--network", "none", "--share", "pid,ipc,uts"),
        *("--infra-image", images.shell, "--infra-command", infra),
    )
    podman.run("pod", "start", pod)
    inspected = podman.run("pod", "inspect", pod, "--format", "{{.InfraContainerID}}")
    infra_id = inspected.stdout.strip()
    pid1 = int(podman.inspect(infra_id, "{{.State.Pid}}"))
    seen = podman.run("run", "--rm", "--pod", pod, images.shell, "cat", "/proc/1/cmdline")
    # The subshell that starts the orphan exits at once; the container runs on.
    podman.run(
        *("run", "--detach", "--pod", pod, "--name", made.container(), images.shell),
        *("sh", "-c", "(sleep 100000 &); exec sleep 100000"),
    )

    def orphan() -> int | None:
        kids = [p for p in proc.children(pid1) if proc.stat(p).comm == "sleep"]
        return kids[0] if kids else None

    orphan_pid = proc.wait_until(orphan, "an orphan re-parented to the pod's PID 1")
    os.kill(orphan_pid, signal.SIGKILL)
    if reaps:
        proc.wait_until(lambda: proc.state(orphan_pid) is None, "PID 1 to reap the orphan")
    else:
        proc.wait_until(lambda: proc.state(orphan_pid) == "Z", "the orphan to be a zombie")
    elapsed, _ = podman.timed("pod", "stop", "--time", str(STOP_TIMEOUT), pod, timeout=70)
    status = int(podman.inspect(infra_id, "{{.State.ExitCode}}"))
    return PodOutcome(seen.stdout.split("\0")[:-1], elapsed, status)


@pytest.mark.timeout(90)
def test_pause_is_pid_1_of_a_pod(podman: Podman, images: Images, made: Made) -> None:
    """``dumb-init --pause`` as a pod's infra command: it is PID 1 of the pod's shared PID
    namespace, an orphan of another container of the pod is re-parented to it and reaped when
    it dies, and ``podman pod stop`` ends it at once (exit 0). With ``sleep`` as the infra
    command instead, the orphan stays a zombie and the stop waits for the timeout (137)."""
    ours = pod_with_an_orphan(podman, images, made, f"{DUMB_INIT} --pause", reaps=True)
    assert (ours.pid1, ours.infra_status) == ([DUMB_INIT, "--pause"], 0), ours
    assert ours.stop_seconds < STOP_TIMEOUT / 2, ours
    baseline = pod_with_an_orphan(podman, images, made, "sleep 100000", reaps=False)
    assert baseline.pid1 == ["sleep", "100000"], baseline
    assert baseline.infra_status == 128 + signal.SIGKILL, baseline
    assert baseline.stop_seconds >= STOP_TIMEOUT, baseline


def _window_size() -> None:
    """Before podman starts: give its terminal a size (a new pseudo-terminal has 0 x 0), which
    podman copies to the container's terminal for the shell's line editor."""
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))


def test_terminal_job_control(podman: Podman, images: Images, made: Made) -> None:
    """``podman run -it ... dumb-init sh`` on a pseudo-terminal, as a user types into it: the
    shell has job control (monitor mode, it owns the container's terminal), Ctrl-Z stops the
    foreground job and ``fg`` continues it, Ctrl-C reaches the foreground job (which dies of
    SIGINT: status 130) and not the shell; ``exit 7`` ends the container with 7."""
    name = made.container()
    argv = [
        *(podman.exe, "run", "--interactive", "--tty"),
        *run_args(name, "--env", "PS1=$ ", "--env", "TERM=dumb"),
        *(images.shell, DUMB_INIT, "sh"),
    ]
    env: dict[str | bytes, str | bytes] = {k: v for k, v in podman.env.items()}
    with PtyInit(argv, env=env, preexec=_window_size) as term:

        def answer(pattern: str) -> str:
            """The first line matching ``pattern`` at its end: the command's output, which the
            echo of the command typed (``$-``, ``$((...))`` unexpanded) cannot match."""
            return term.out.until(lambda s: re.search(pattern + "$", s) is not None)[-1]

        def foreground(comm: str) -> int:
            """Wait until the shell's child COMM runs in the terminal's foreground: it has the
            terminal, so the line discipline sends Ctrl-Z's SIGTSTP or Ctrl-C's SIGINT to it."""
            shell = proc.only_child(int(podman.inspect(name, "{{.State.Pid}}")))

            def probe() -> int | None:
                for pid in proc.children(shell):
                    st = proc.stat(pid)
                    if st.comm == comm and st.state != "T" and st.pgid == st.tpgid:
                        return pid
                return None

            return proc.wait_until(probe, f"{comm} in the foreground")

        term.write(b'echo "flags=[[$-]]"\n')
        assert "m" in answer(r"flags=\[\[\w+\]\]").split("[[")[1]  # monitor mode: job control
        term.write(b'read -r _ _ _ _ pg _ _ tpg _ < /proc/$$/stat; echo "fg=$((pg == tpg))"\n')
        assert answer(r"fg=\d").endswith("fg=1")  # the shell's group has the terminal
        term.write(b"sh -c 'echo job-$((40 + 2)); read x; echo got-$x'\n")
        answer("job-42")
        job = foreground("sh")
        term.write(b"\x1a")  # Ctrl-Z
        term.out.until(lambda s: "Stopped" in s)
        assert proc.state(job) == "T"
        term.write(b"fg\n")
        assert foreground("sh") == job
        term.write(b"abc\n")
        answer("got-abc")
        term.write(b"sleep 100000\n")
        foreground("sleep")
        term.write(b"\x03")  # Ctrl-C
        # The shell survives it (an interactive shell ignores SIGINT while it waits for a job).
        term.write(b"echo status-$?\n")
        assert answer(r"status-\d+").endswith("status-130")
        term.write(b"exit 7\n")
        assert term.wait() == 7
    text = "\n".join(term.out.history)
    assert "job control turned off" not in text and "can't access tty" not in text, text


@pytest.mark.parametrize(
    "options",
    [["--user", "1000"], ["--read-only"], ["--user", "1000", "--read-only"]],
    ids=["--user", "--read-only", "both"],
)
def test_as_another_user_and_read_only(
    podman: Podman, images: Images, made: Made, options: list[str]
) -> None:
    """dumb-init as PID 1 of a container run as user 1000 and/or on a read-only root: it runs
    as that user, the root is read-only where asked, and ``podman stop`` still ends the
    command through it at once (143)."""
    name = made.container()
    script = (
        "echo uid $(id -u) pid1-uid $(awk '/^Uid:/ {print $2}' /proc/1/status);"
        " if touch /data/probe 2>/dev/null; then echo root rw; else echo root ro; fi;"
        " echo ready; sleep 100000"
    )
    with podman.attached(
        *run_args(name, *options), images.shell, DUMB_INIT, "sh", "-c", script
    ) as run:
        lines = run.out.until("ready")
        elapsed, stderr = stop(podman, name)
        assert run.wait() == 128 + signal.SIGTERM
    uid = "1000" if "--user" in options else "0"
    assert f"uid {uid} pid1-uid {uid}" in lines, lines
    assert ("root ro" if "--read-only" in options else "root rw") in lines, lines
    assert STOP_WARNING not in stderr and elapsed < STOP_TIMEOUT / 2


def test_image_without_a_shell(podman: Podman, images: Images, made: Made) -> None:
    """An image holding only dumb-init and one static program (no /bin/sh: running it fails),
    run through its ``ENTRYPOINT ["/usr/bin/dumb-init", "--"]``: dumb-init starts the program as its child
    (parent PID 1), and ``podman stop`` ends it at once (143)."""
    if not images.bare:
        _missing(
            "gcc -static cannot build the test program (Debian: apt-get install gcc libc6-dev)"
        )
    no_shell = podman.run(
        "run", *run_args(made.container(), "--entrypoint", "/bin/sh"), images.bare, check=False
    )
    assert no_shell.returncode == 127, no_shell.stderr  # podman: no such executable
    name = made.container()
    with podman.attached(*run_args(name), images.bare) as run:
        line = run.out.until(lambda s: s.endswith(" ready"))[-1]
        assert re.fullmatch(r"pid \d+ ppid 1 ready", line), line
        elapsed, stderr = stop(podman, name)
        assert run.wait() == 128 + signal.SIGTERM
    assert STOP_WARNING not in stderr and elapsed < STOP_TIMEOUT / 2
