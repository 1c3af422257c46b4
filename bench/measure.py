"""The measurements. Each one runs every init (and, where it makes sense, the program
run directly as a baseline) in interleaved rounds: round r visits the configurations in
an order rotated by r, so drift in machine load spreads evenly over them.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import procs
from helpers import Helpers
from inits import Init, linkage
from stats import Figure, quantile

T = TypeVar("T")
Argv = Callable[..., list[str]]
DIRECT = "direct"


@dataclass(frozen=True)
class Plan:
    """Repetition counts; FULL is sized for ~5 minutes on 2 shared cores, QUICK for ~1."""

    rss_rounds: int
    startup_rounds: int
    startup_runs: int
    siglat_rounds: int
    siglat_signals: int
    siglat_gap_us: int
    reap_rounds: int
    orphans: int
    exit_rounds: int
    exit_runs: int
    idle_rounds: int
    idle_seconds: float
    storm_rounds: int
    storm_signals: int


FULL = Plan(
    rss_rounds=11,
    startup_rounds=120,
    startup_runs=50,
    siglat_rounds=60,
    siglat_signals=250,
    siglat_gap_us=300,
    reap_rounds=21,
    orphans=10_000,
    exit_rounds=40,
    exit_runs=35,
    idle_rounds=6,
    idle_seconds=5.0,
    storm_rounds=13,
    storm_signals=100_000,
)

QUICK = Plan(
    rss_rounds=2,
    startup_rounds=3,
    startup_runs=40,
    siglat_rounds=2,
    siglat_signals=150,
    siglat_gap_us=300,
    reap_rounds=1,
    orphans=10_000,
    exit_rounds=2,
    exit_runs=20,
    idle_rounds=1,
    idle_seconds=5.0,
    storm_rounds=1,
    storm_signals=100_000,
)


@dataclass
class Results:
    """Figures per metric and configuration, plus details and notes for the report."""

    figures: dict[str, dict[str, Figure]] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, metric: str, config: str, value: float) -> None:
        self.figures.setdefault(metric, {}).setdefault(config, Figure()).rounds.append(value)

    def detail(self, what: str, config: str, value: Any) -> None:
        self.details.setdefault(what, {})[config] = value

    def fail(self, metric: str, config: str, why: str) -> None:
        tail = " ".join(why.strip().splitlines()[-3:])[:300]
        self.notes.append(f"{config}: {metric} failed: {tail}")


def rotate(xs: Sequence[T], r: int) -> list[T]:
    k = r % len(xs)
    return [*xs[k:], *xs[:k]]


def direct_argv(*cmd: str | Path) -> list[str]:
    return [str(c) for c in cmd]


def configs(inits: list[Init], baseline: bool) -> list[tuple[str, Argv]]:
    out: list[tuple[str, Argv]] = [(i.key, i.argv) for i in inits]
    return [(DIRECT, direct_argv), *out] if baseline else out


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split()]


def keyvals(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        k, _, v = line.partition("=")
        if v:
            out[k.strip()] = int(v)
    return out


def measure_size(inits: list[Init], res: Results) -> None:
    for i in inits:
        res.add("size", i.key, i.path.stat().st_size / 1024)
        res.detail("linkage", i.key, linkage(i.path))


def measure_rss(inits: list[Init], h: Helpers, plan: Plan, res: Results) -> None:
    """VmRSS of the init while its child (bench-sleeper) sleeps."""
    for r in range(plan.rss_rounds):
        for i in rotate(inits, r):
            p = procs.spawn(i.argv(h.sleeper))
            try:
                procs.wait_for_child(p.pid, h.sleeper)
                time.sleep(0.2)
                st = procs.status(p.pid)
                res.add("rss", i.key, int(st["VmRSS"].split()[0]))
                if r == 0:
                    files = procs.mapped_files(p.pid)
                    res.add("size_loaded", i.key, sum(f.stat().st_size for f in files) / 1024)
                    res.detail("mapped", i.key, [str(f) for f in files])
            except (OSError, TimeoutError, KeyError) as exc:
                res.fail("rss", i.key, str(exc))
            finally:
                procs.stop(p)
                procs.kill_descendants()


def measure_startup(inits: list[Init], h: Helpers, plan: Plan, res: Results) -> None:
    """Per round: median of `timerun` batches; overhead = init median − direct median."""
    for r in range(plan.startup_rounds):
        medians: dict[str, float] = {}
        for key, argv in rotate(configs(inits, True), r):
            cmd = [str(h.timerun), str(plan.startup_runs), *argv(h.truelike)]
            try:
                p = procs.run(cmd, timeout=120)
                if p.returncode != 0:
                    res.fail("startup", key, p.stderr)
                    continue
                medians[key] = statistics.median(ints(p.stdout)) / 1000
            finally:
                procs.kill_descendants()
        if DIRECT not in medians:
            continue
        res.add("startup_abs", DIRECT, medians[DIRECT])
        for i in inits:
            if i.key in medians:
                res.add("startup", i.key, medians[i.key] - medians[DIRECT])
                res.add("startup_abs", i.key, medians[i.key])


def measure_siglat(inits: list[Init], h: Helpers, plan: Plan, res: Results) -> None:
    """kill(target, SIGUSR1) until the child's handler wrote its byte, median and p99."""
    for r in range(plan.siglat_rounds):
        for key, argv in rotate(configs(inits, True), r):
            cmd = [
                str(h.siglat),
                str(plan.siglat_signals),
                str(plan.siglat_gap_us),
                *argv(h.sigchild, "echo"),
            ]
            try:
                p = procs.run(cmd, timeout=120)
                if p.returncode != 0:
                    res.fail("signal forwarding", key, p.stderr)
                    continue
                us = [x / 1000 for x in ints(p.stdout)]
                res.add("siglat_med", key, statistics.median(us))
                res.add("siglat_p99", key, quantile(us, 0.99))
            finally:
                procs.kill_descendants()


def measure_reap(inits: list[Init], h: Helpers, plan: Plan, res: Results) -> None:
    """Time for the init, PID 1 of a fresh PID namespace, to reap N re-parented zombies."""
    for r in range(plan.reap_rounds):
        for i in rotate(inits, r):
            cmd = [
                "unshare",
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                *i.argv(h.orphans, str(plan.orphans)),
            ]
            try:
                p = procs.run(cmd, timeout=90)
                kv = keyvals(p.stdout)
                if p.returncode != 0 or kv.get("left", 1) != 0 or "reaped_ns" not in kv:
                    res.fail("reaping", i.key, f"exit {p.returncode}: {p.stdout} {p.stderr}")
                    continue
                if kv["made"] != plan.orphans:
                    res.notes.append(f"{i.key}: only {kv['made']} orphans could be made")
                res.add("reap", i.key, kv["reaped_ns"] / 1e6)
            finally:
                procs.kill_descendants()


def measure_exitlat(inits: list[Init], h: Helpers, plan: Plan, res: Results) -> None:
    """From the child's last instant to the moment the init's exit wakes its parent."""
    for r in range(plan.exit_rounds):
        for key, argv in rotate(configs(inits, True), r):
            cmd = [str(h.exitlat), str(plan.exit_runs), *argv(h.exiter, "5000")]
            try:
                p = procs.run(cmd, timeout=120)
                if p.returncode != 0:
                    res.fail("exit latency", key, p.stderr)
                    continue
                res.add("exitlat", key, statistics.median(ints(p.stdout)) / 1000)
            finally:
                procs.kill_descendants()


def measure_idle(inits: list[Init], h: Helpers, plan: Plan, res: Results) -> None:
    """Context switches of each init over an idle window; all inits idle side by side."""
    for r in range(plan.idle_rounds):
        started: list[tuple[Init, subprocess.Popen[bytes]]] = []
        running: list[tuple[Init, subprocess.Popen[bytes]]] = []
        try:
            for i in rotate(inits, r):
                started.append((i, procs.spawn(i.argv(h.sleeper))))
            for i, p in started:
                try:
                    procs.wait_for_child(p.pid, h.sleeper)
                    running.append((i, p))
                except TimeoutError as exc:
                    res.fail("idle", i.key, str(exc))
            time.sleep(1.0)
            before = {i.key: procs.ctxt_switches(p.pid) for i, p in running}
            time.sleep(plan.idle_seconds)
            for i, p in running:
                res.add("idle", i.key, procs.ctxt_switches(p.pid) - before[i.key])
        except OSError as exc:
            res.fail("idle", "all", str(exc))
        finally:
            for _, p in started:
                procs.stop(p)
            procs.kill_descendants()


def measure_storm(inits: list[Init], h: Helpers, plan: Plan, res: Results) -> None:
    """N SIGUSR1 at the init as fast as possible; then is it alive, does the child answer?"""
    for r in range(plan.storm_rounds):
        for i in rotate(inits, r):
            cmd = [str(h.storm), str(plan.storm_signals), *i.argv(h.sigchild, "count")]
            try:
                p = procs.run(cmd, timeout=180)
                kv = keyvals(p.stdout)
                if p.returncode != 0 or "alive" not in kv:
                    res.fail("storm", i.key, p.stderr)
                    continue
                tick_ms = 1000 / kv["clk_tck"]
                res.add("storm_cpu", i.key, kv["cpu_ticks"] * tick_ms)
                res.add("storm_run", i.key, kv["run_ns"] / 1e6)
                rounds = res.details.setdefault("storm", {}).setdefault(i.key, [])
                rounds.append(kv)
            finally:
                procs.kill_descendants()


def signal_names(mask: int) -> list[str]:
    """Names of the signals whose bits are set in a /proc SigBlk/SigIgn mask."""
    names: list[str] = []
    rtmin, rtmax = signal.SIGRTMIN, signal.SIGRTMAX
    for n in range(1, 65):
        if not mask & (1 << (n - 1)):
            continue
        if rtmin <= n <= rtmax:
            names.append(f"RTMIN+{n - rtmin}" if n - rtmin <= rtmax - n else f"RTMAX-{rtmax - n}")
            continue
        try:
            names.append(signal.Signals(n).name.removeprefix("SIG"))
        except ValueError:
            names.append(str(n))
    return names


SIGSTATE_VARIANTS = {
    "ign": "SIGINT ignored",
    "ignblk": "SIGINT ignored, SIGTERM and SIGUSR2 blocked",
}


def measure_sigstate(inits: list[Init], h: Helpers, res: Results) -> None:
    """SigBlk/SigIgn of the child when the init itself was started with SIGINT ignored
    (and, in a second variant, also with SIGTERM and SIGUSR2 blocked)."""
    for variant in SIGSTATE_VARIANTS:
        for key, argv in configs(inits, True):
            p = procs.spawn([str(h.withsig), variant, *argv(h.sleeper)])
            try:
                if key == DIRECT:
                    child = p.pid
                    deadline = time.monotonic() + 5
                    while procs.exe_of(child) != str(h.sleeper.resolve()):
                        if time.monotonic() > deadline:
                            raise TimeoutError("sleeper did not start")
                        time.sleep(0.005)
                else:
                    child = procs.wait_for_child(p.pid, h.sleeper)
                st = procs.status(child)
                blk, ign = int(st["SigBlk"], 16), int(st["SigIgn"], 16)
                res.details.setdefault(f"sigstate-{variant}", {})[key] = {
                    "SigBlk": st["SigBlk"],
                    "SigIgn": st["SigIgn"],
                    "blocked": signal_names(blk),
                    "ignored": signal_names(ign),
                    "clean": blk == 0 and ign == 0,
                }
            except (OSError, TimeoutError, KeyError) as exc:
                res.fail("signal state", key, str(exc))
            finally:
                p.kill()  # SIGTERM may be blocked here
                p.wait(timeout=5)
                procs.kill_descendants()


def measure_all(
    inits: list[Init], h: Helpers, plan: Plan, res: Results, log: Callable[[str], None]
) -> None:
    """Every measurement in turn, logging progress with elapsed times."""
    steps: list[tuple[str, Callable[[], None]]] = [
        ("size", lambda: measure_size(inits, res)),
        ("signal state", lambda: measure_sigstate(inits, h, res)),
        ("resident memory", lambda: measure_rss(inits, h, plan, res)),
        ("start-up", lambda: measure_startup(inits, h, plan, res)),
        ("signal latency", lambda: measure_siglat(inits, h, plan, res)),
        ("exit latency", lambda: measure_exitlat(inits, h, plan, res)),
        ("reaping", lambda: measure_reap(inits, h, plan, res)),
        ("signal storm", lambda: measure_storm(inits, h, plan, res)),
        ("idle", lambda: measure_idle(inits, h, plan, res)),
    ]
    for name, step in steps:
        t0 = time.monotonic()
        step()
        log(f"{name}: {time.monotonic() - t0:.1f} s")
